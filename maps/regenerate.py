"""Regenerate the map gallery: each example's interactive map and its PNG preview.

Usage: python maps/regenerate.py [--out DIR]

Writes into this folder (or DIR) the maps listed in ``GALLERY``, each made the way its
example makes it, and prints their paths. Runs offline on the synthetic sample region in
about a minute. The previews are the static map of the same run (siting.maps.static_map_of)
at a lower resolution than a run's own map.png, to keep the gallery small.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import runpy
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import siting
from siting.datasets import write_demo_inputs
from siting.export import atomic_path
from siting.maps import save_static_map, static_map_of
from siting.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: Resolution of the PNG previews (a run's own map.png is 150 dpi).
PREVIEW_DPI = 100
#: Size limits that keep the repository small.
MAX_PNG_BYTES = 300_000
MAX_HTML_BYTES = 5_000_000


def _demo(work: Path) -> tuple[Path, Any]:
    """What ``siting demo`` writes: the demo scenario run on the sample region."""
    scenario = Scenario.from_toml(write_demo_inputs(work / "inputs"))
    result = siting.run(scenario, out_dir=work / "run")
    return result.files["html"], static_map_of(result)


def _publish_map_and_report(work: Path) -> tuple[Path, Any]:
    """The agency's offline map, made by the example's own functions."""
    example = runpy.run_path(str(ROOT / "examples" / "publish_map_and_report.py"))
    with contextlib.redirect_stdout(io.StringIO()):
        result, region = example["run_scenario"](work)
        html = example["publish_map"](result, region, work / "map.html")
    # The layers and title of the example's map.
    shown = ("federal_land", "transmission_lines", "substations", "towns")
    context = {name: result.context[name] for name in shown}
    title = "Candidate edge-compute sites, Sample Basin (SYNTHETIC DATA)"
    return html, static_map_of(result, region=region, title=title, context=context)


#: Gallery entry → how to make its HTML map and the figure of its preview.
GALLERY: dict[str, Callable[[Path], tuple[Path, Any]]] = {
    "demo": _demo,
    "publish_map_and_report": _publish_map_and_report,
}


def regenerate(out: Path) -> list[Path]:
    """Write every gallery entry's ``NAME.html`` and ``NAME.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in GALLERY.items():
        with tempfile.TemporaryDirectory(prefix=f"gallery-{name}-") as work:
            source, figure = make(Path(work))
            html = out / f"{name}.html"
            with atomic_path(html) as tmp:
                shutil.copyfile(source, tmp)
            png = save_static_map(figure, out / f"{name}.png", dpi=PREVIEW_DPI)
        for path, limit in ((html, MAX_HTML_BYTES), (png, MAX_PNG_BYTES)):
            size = path.stat().st_size
            if size > limit:
                raise SystemExit(f"{path} is {size:,} bytes, over the gallery's {limit:,}")
        written += [html, png]
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: maps/)")
    args = parser.parse_args(argv)
    for path in regenerate(args.out):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
