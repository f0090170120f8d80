"""The example scripts the tutorials are built on run, and write what the tutorials promise.

Each script runs in its own process, as a user would run it, into a fresh folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import jsonschema
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCHEMA = ROOT / "siting" / "permitting" / "dossier.schema.json"

pytestmark = pytest.mark.slow


def run_example(name: str, out: Path) -> str:
    """Run ``examples/<name>`` into ``out``; fail with its output if it fails."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def assert_ranked(sites: pd.DataFrame, n: int | None = None) -> None:
    ranks = sites["rank"].tolist()
    assert ranks == list(range(1, len(sites) + 1))
    if n is not None:
        assert len(sites) == n
    assert sites["score"].is_monotonic_decreasing
    assert sites[["lon", "lat"]].notna().all().all()


class _Tables(HTMLParser):
    """The text of every table cell of a page, table by table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_usage_is_printed_without_an_output_folder():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "permitting_workflow.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Usage: python examples/permitting_workflow.py OUTPUT_DIR" in proc.stderr


def test_planner__two_rankings_with_different_weights_and_their_comparison(tmp_path):
    stdout = run_example("rank_sample_sites.py", tmp_path)

    criteria = [
        "ghi_kwh_m2_day",
        "heat_flow_mw_m2",
        "distance_to_substation_km",
        "people_within_2ms",
        "slope_pct",
    ]
    runs = {}
    for name in ("baseline", "grid_first"):
        sites = pd.read_csv(tmp_path / name / "sites.csv")
        assert_ranked(sites, n=10)
        expected = {"rank", "score", "cell_id", "lon", "lat", "p_top_k", *criteria}
        expected |= {f"contribution_{c}" for c in criteria}
        assert expected <= set(sites.columns)
        # the overlay's contributions add up to its score
        total = sites[[f"contribution_{c}" for c in criteria]].sum(axis=1)
        assert total.to_numpy() == pytest.approx(sites["score"].to_numpy())
        assert (tmp_path / name / "sites.gpkg").is_file()
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        runs[name] = (sites, manifest)

    weights = {
        name: manifest["scenario"]["scorer"]["criteria"]["distance_to_substation_km"]["weight"]
        for name, (_, manifest) in runs.items()
    }
    assert weights == {"baseline": 3, "grid_first": 6}
    # doubling the weight of the grid connection raises its share of the score
    share = {
        name: (sites["contribution_distance_to_substation_km"] / sites["score"]).mean()
        for name, (sites, _) in runs.items()
    }
    assert share["grid_first"] > share["baseline"]
    assert (
        runs["grid_first"][0]["distance_to_substation_km"].mean()
        <= runs["baseline"][0]["distance_to_substation_km"].mean()
    )

    table = pd.read_csv(tmp_path / "comparison.csv")
    assert list(table.columns) == [
        "cell_id_a", "cell_id_b", "rank_a", "rank_b", "rank_change", "score_a", "score_b",
        "distance_m", "score_change",
    ]  # fmt: skip
    assert table["rank_a"].is_monotonic_increasing
    assert set(table["rank_a"]) <= set(range(1, 11))
    assert table["rank_b"].is_unique
    assert (table["distance_m"] <= 1_000).all()
    assert (table["rank_change"] == table["rank_b"] - table["rank_a"]).all()
    # paired sites are the sites of each run at those ranks
    for side, run in (("a", "baseline"), ("b", "grid_first")):
        sites = runs[run][0].set_index("rank")
        assert (
            sites.loc[table[f"rank_{side}"], "cell_id"].to_numpy()
            == table[f"cell_id_{side}"].to_numpy()
        ).all()
    assert f"{len(table)} of 10 sites are in both rankings" in stdout
    assert "scorer.criteria.distance_to_substation_km.weight: 3.0 -> 6.0" in stdout
    assert "grid first, rank 1: score" in stdout


def test_agency__publishes_an_offline_map_a_report_and_the_gis_files(tmp_path):
    run_example("publish_map_and_report.py", tmp_path)

    publish = tmp_path / "publish"
    names = {"map.html", "map.png", "map.pdf", "report.html", "sites.csv", "sites.gpkg"}
    names.add("manifest.json")
    assert {p.name for p in publish.iterdir()} == names
    with zipfile.ZipFile(tmp_path / "publish.zip") as archive:
        assert set(archive.namelist()) == names

    sites = pd.read_csv(publish / "sites.csv")
    assert_ranked(sites)
    layer = gpd.read_file(publish / "sites.gpkg")
    assert len(layer) == len(sites)
    assert layer.crs is not None

    page = (publish / "map.html").read_text(encoding="utf-8")
    assert not re.findall(r"""(?:src|href)=["']https?://""", page)
    assert "L.map(" in page  # Leaflet itself is inlined
    assert "Sample Basin (SYNTHETIC DATA)" in page

    assert (publish / "map.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (publish / "map.pdf").read_bytes().startswith(b"%PDF-")

    report = (publish / "report.html").read_text(encoding="utf-8")
    assert '<img src="map.png"' in report
    assert "SYNTHETIC DATA" in report
    assert not re.findall(r"""(?:src|href)=["']https?://""", report)
    for link in ("map.html", "map.pdf", "sites.gpkg", "sites.csv", "manifest.json"):
        assert f'href="{link}"' in report
    parser = _Tables()
    parser.feed(report)
    exclusions, ranked, sources = parser.tables
    assert len(exclusions) - 1 == len(pd.read_csv(tmp_path / "run" / "exclusions.csv"))
    assert ranked[0][:2] == ["Rank", "Score (0-1)"]
    assert [int(row[0]) for row in ranked[1:]] == sites["rank"].tolist()
    manifest = json.loads((publish / "manifest.json").read_text())
    checksums = {row[2] for row in sources[1:]}
    assert checksums == {entry["sha256"] for entry in manifest["inputs"].values()}


def test_permitting__dossiers_validate_and_feed_a_tracker(tmp_path):
    stdout = run_example("permitting_workflow.py", tmp_path)

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    sites = gpd.read_file(tmp_path / "run" / "sites.gpkg")
    ids = {str(i) for i in sites["cell_id"]}
    dossiers = {}
    for folder in ("dossiers", "dossiers_tall"):
        found = {}
        for path in (tmp_path / folder).glob("*.json"):
            dossier = json.loads(path.read_text())
            errors = [e.message for e in validator.iter_errors(dossier)]
            assert not errors, f"{path.name}: {errors[:3]}"
            found[dossier["site"]["id"]] = dossier
        assert set(found) == ids
        assert {p.stem for p in (tmp_path / folder).glob("*.html")} == ids
        summary = pd.read_csv(tmp_path / folder / "summary.csv", dtype={"site_id": str})
        assert set(summary["site_id"]) == ids
        dossiers[folder] = found

    levels = pd.read_csv(tmp_path / "by_nepa_level.csv", dtype={"site_id": str})
    assert set(levels["site_id"]) == ids
    order = ["none", "CE", "EA", "EIS"]
    positions = [order.index(level) for level in levels["nepa_level"]]
    assert positions == sorted(positions)
    for row in levels.itertuples():
        assert row.nepa_level == dossiers["dossiers"][row.site_id]["permitting"]["nepa_level"]

    tracker = pd.read_csv(tmp_path / "tracker.csv", dtype={"site_id": str})
    assert list(tracker.columns) == [
        "site_id", "rank", "lon", "lat", "permit_id", "permit", "kind", "status", "agency",
        "months_low", "months_high", "on_critical_path", "evidence", "citation",
    ]  # fmt: skip
    expected = Counter(
        (site_id, permit["id"], permit["status"])
        for site_id, dossier in dossiers["dossiers"].items()
        for permit in dossier["permitting"]["permits"]
        if permit["status"] in ("triggered", "unknown")
    )
    rows = zip(tracker["site_id"], tracker["permit_id"], tracker["status"], strict=True)
    assert Counter(rows) == expected
    assert tracker.loc[tracker["status"] == "triggered", "evidence"].notna().all()

    def faa(folder: str) -> int:
        return sum(
            any(
                p["id"] == "faa_form_7460_1" and p["status"] == "triggered"
                for p in d["permitting"]["permits"]
            )
            for d in dossiers[folder].values()
        )

    # any structure over 200 ft above ground needs FAA notice (14 CFR 77.9(a))
    assert faa("dossiers_tall") == len(ids)
    for dossier in dossiers["dossiers_tall"].values():
        assert dossier["permitting"]["facts"]["structure_height_ft"] == 210
    assert f"at {faa('dossiers')} of {len(ids)} sites for the 60 ft design" in stdout
