"""The map gallery in maps/: one command regenerates it, and its README points at real files."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "maps"


def _links(markdown: Path) -> list[str]:
    """Relative link and image targets of a markdown file."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown.read_text(encoding="utf-8"))
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_gallery_readme__every_linked_file_exists():
    links = _links(GALLERY / "README.md")
    assert {"demo.html", "demo.png"} <= set(links)
    missing = [t for t in links if not (GALLERY / t).is_file()]
    assert missing == []


def test_gallery_readme__lists_every_entry_the_script_makes():
    entries = runpy.run_path(str(GALLERY / "regenerate.py"))["GALLERY"]
    links = set(_links(GALLERY / "README.md"))
    for name in entries:
        assert {f"{name}.html", f"{name}.png"} <= links


def test_top_level_readme__shows_the_demo_preview():
    links = _links(ROOT / "README.md")
    assert "maps/demo.png" in links
    assert (ROOT / "maps" / "demo.png").is_file()


def test_gallery_is_never_a_package():
    assert not (GALLERY / "__init__.py").exists()


@pytest.mark.slow
def test_regenerate__writes_every_entry_into_out(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(GALLERY / "regenerate.py"), "--out", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = [Path(line) for line in proc.stdout.splitlines() if line.strip()]
    entries = runpy.run_path(str(GALLERY / "regenerate.py"))["GALLERY"]
    expected = {f"{name}.{kind}" for name in entries for kind in ("html", "png")}
    assert {p.name for p in printed} == expected
    assert {p.name for p in tmp_path.iterdir()} == expected  # nothing else, no temporaries
    for path in printed:
        assert path.parent == tmp_path
        assert path.is_file()
    for name in entries:
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(png) <= 300_000
        page = (tmp_path / f"{name}.html").read_text(encoding="utf-8")
        assert len(page.encode()) <= 5_000_000
        assert "leaflet" in page.lower()
        assert not re.search(r"""\b(?:src|href)=["']https?://""", page)
    # The repository's own gallery was not touched.
    assert not any(p.is_relative_to(GALLERY) for p in printed)
