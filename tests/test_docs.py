"""The documentation site builds in strict mode, offline, and says what the code does."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from siting.datasets.catalog import catalog

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Imported by path: docs/ is not a package.
_spec = importlib.util.spec_from_file_location("data_tables", DOCS / "_ext" / "data_tables.py")
assert _spec is not None
assert _spec.loader is not None
data_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(data_tables)

#: Loaded into the build's Python: any attempt to open a network connection is recorded
#: and refused, so a plugin or theme that fetches something fails the test.
NO_NETWORK = """
import os, socket

_LOG = os.environ["SITING_DOCS_NETWORK_LOG"]
open(_LOG + ".loaded", "w").close()  # proves the guard was installed

def _refuse(self, address, *args, **kwargs):
    with open(_LOG, "a") as log:
        log.write(repr(address) + "\\n")
    raise OSError("network access is not allowed while building the docs")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
_getaddrinfo = socket.getaddrinfo

def _no_lookup(host, *args, **kwargs):
    if host not in (None, "localhost", "127.0.0.1", "::1"):
        _refuse(None, host)
    return _getaddrinfo(host, *args, **kwargs)

socket.getaddrinfo = _no_lookup
"""


def _config() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use tags such as !!python/name; none are needed to read the nav.
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(value)
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str]:
    """Build the site once into a temporary folder; return it and mkdocs' output."""
    out = tmp_path_factory.mktemp("site")
    hooks = tmp_path_factory.mktemp("no_network")
    (hooks / "sitecustomize.py").write_text(NO_NETWORK)
    log = hooks / "connections.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]),
        "SITING_DOCS_NETWORK_LOG": str(log),
        "NO_MKDOCS_2_WARNING": "1",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert Path(f"{log}.loaded").exists(), "the network guard was not loaded"
    attempts = log.read_text() if log.exists() else ""
    assert not attempts, f"the docs build tried to reach the network: {attempts}\n{output}"
    return out, output


def test_docs_build__strict_no_warnings_no_network(site):
    _, output = site
    warnings = [line for line in output.splitlines() if re.match(r"\s*(WARNING|ERROR)", line)]
    assert not warnings, "\n".join(warnings)


def test_docs_build__pages_use_no_remote_assets(site):
    out, _ = site
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r"<(?:script|link|img)\b[^>]*(?:src|href)=\"https?://[^\"]+", text)
        assert not remote, f"{page.relative_to(out)} loads {remote[:3]}"
        assert "fonts.googleapis" not in text


def test_docs_build__every_nav_page_is_built(site):
    out, _ = site
    for page in _nav_pages(_config()["nav"]):
        stem = page.removesuffix(".md")
        built = out / (stem.removesuffix("index") if stem.endswith("index") else stem + "/")
        assert (built / "index.html").is_file(), page


@pytest.mark.parametrize(
    ("page", "anchors"),
    [
        ("api/grid", ["siting.grid.Grid", "siting.grid.Grid.from_bounds"]),
        ("api/scoring", ["siting.scoring.WeightedOverlay", "siting.scoring.SiteScorer"]),
        ("api/permitting", ["siting.permitting.build_dossiers", "siting.permitting.screen"]),
        ("api/maps", ["siting.maps.site_map", "siting.maps.save_map"]),
        ("api/datasets", ["siting.datasets.load_sample", "siting.datasets.catalog.fetch"]),
        ("api/scenario", ["siting.scenario.Scenario", "siting.scenario.RuleSpec"]),
        ("api/errors", ["siting.errors.SitingError", "siting.errors.ScenarioError"]),
    ],
)
def test_docs_build__api_reference_documents_the_public_objects(site, page, anchors):
    out, _ = site
    text = (out / page / "index.html").read_text(encoding="utf-8")
    for anchor in anchors:
        assert f'id="{anchor}"' in text, anchor
    # Sphinx roles of the docstrings are rewritten (docs/_ext/griffe_roles.py)
    assert not re.search(r":(func|class|meth|mod|attr|data|exc):<code>", text)


def test_docs_build__tutorials_include_the_example_scripts(site):
    out, _ = site
    for tutorial, script in [
        ("planner", "rank_sample_sites.py"),
        ("agency", "publish_map_and_report.py"),
        ("permitting", "permitting_workflow.py"),
    ]:
        page = (out / "tutorials" / tutorial / "index.html").read_text(encoding="utf-8")
        source = (ROOT / "examples" / script).read_text(encoding="utf-8")
        names = [n for n in re.findall(r"^def (\w+)\(", source, flags=re.M) if n != "main"]
        assert names
        sections = set(re.findall(r"# --8<-- \[start:([\w-]+)\]", source))
        included = set(
            re.findall(
                rf'--8<-- "examples/{re.escape(script)}:([\w-]+)"',
                (DOCS / "tutorials" / f"{tutorial}.md").read_text(encoding="utf-8"),
            )
        )
        assert sections, script
        assert included == sections, f"{tutorial}.md leaves out {sections - included}"
        for name in names:
            definition = (
                r'<span class="k">def</span>(<span class="w"> </span>| )'
                rf'<span class="nf">{name}</span>'
            )
            assert re.search(definition, page), (
                f"{tutorial}: {script}'s {name}() is not on the page"
            )


def test_nav_lists_every_page_and_every_public_module():
    pages = set(_nav_pages(_config()["nav"]))
    on_disk = {
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if p.name != "README.md" and not p.relative_to(DOCS).as_posix().startswith("_")
    }
    assert pages == on_disk
    api = set()
    for path in DOCS.glob("api/*.md"):
        api |= set(re.findall(r"^::: ([\w.]+)", path.read_text(), flags=re.M))
    assert {
        "siting", "siting.grid", "siting.layers", "siting.constraints", "siting.features",
        "siting.candidates", "siting.scoring", "siting.ranking", "siting.portfolio",
        "siting.energy", "siting.permitting", "siting.maps", "siting.export",
        "siting.scenario", "siting.pipeline", "siting.datasets",
    } <= api  # fmt: skip


def test_data_guide__generated_block_matches_the_catalog():
    page = (DOCS / "data.md").read_text(encoding="utf-8")
    assert data_tables.generated_block(page) == data_tables.render(), (
        "docs/data.md is out of date with siting/datasets/catalog.toml: "
        "run python docs/_ext/data_tables.py"
    )


def test_data_guide__every_source_with_licence_attribution_and_caveats():
    page = (DOCS / "data.md").read_text(encoding="utf-8")
    for name, source in catalog().items():
        assert f"### `{name}`" in page
        section = page.split(f"### `{name}`")[1].split("\n### ")[0]
        assert source.licence in section
        assert source.attribution in section
        assert f"siting datasets fetch {name}" in section
        assert "Caveats:" in section
        assert data_tables.CAVEATS[name][0] in section


def test_contributing__doctests_run_as_the_page_says():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in config["addopts"]
    assert "siting" in config["testpaths"]
    page = (DOCS / "contributing.md").read_text(encoding="utf-8")
    assert "--doctest-modules" in page
    assert "mkdocs build --strict" in page


def test_docs_tooling_is_installed_with_the_test_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "siting[docs]" in extras["test"]
