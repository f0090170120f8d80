"""Per-site permitting dossiers: schema, contents, escaped offline HTML, CSV and GeoPackage,
writing all or nothing, reading a run folder, and `siting dossier` on the command line."""

from __future__ import annotations

import copy
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import jsonschema
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

import siting
from siting.cli import main
from siting.datasets import load_sample, write_demo_inputs
from siting.errors import InvalidLayerError, LayerIOError, OutputError
from siting.export import write_json, write_sites
from siting.permitting import (
    DISCLAIMER,
    DossierError,
    ProjectFacts,
    build_dossiers,
    dossier_html,
    dossier_schema,
    dossiers_from_run,
    load_rules,
    permitting_complexity,
    permitting_pathways,
    screen,
    validate_dossier,
    write_dossiers,
)
from siting.permitting import dossier as dossier_module
from siting.permitting.dossier import SCHEMA_PATH, SUMMARY_COLUMNS, feature_units
from siting.scenario import Scenario

PAYLOAD = "<script>alert(1)</script>"
HOMEPAGE = "https://example.org/sample-region"
FACTS = ProjectFacts(capacity_mw=10, acres=8, structure_height_ft=250, state="NV")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A finished run of the demo scenario, screened for permits as the contract says."""
    scenario = Scenario.from_toml(write_demo_inputs(tmp_path_factory.mktemp("inputs")))
    ranking = scenario.ranking.model_copy(update={"top_n": 6})
    # Without the climate criteria, which favour windy, cool uplands far from the valley
    # airports that the airport tests below need near a ranked site.
    climate = {"cooling_degree_hours", "cfe_share_2x"}
    criteria = {k: v for k, v in scenario.scorer.criteria.items() if k not in climate}
    scorer = scenario.scorer.model_copy(update={"criteria": criteria})
    # The dossiers are made by the tests below, from a run without its own.
    outputs = scenario.outputs.model_copy(update={"formats": ["gpkg", "csv"]})
    scenario = scenario.model_copy(
        update={"ranking": ranking, "outputs": outputs, "scorer": scorer}
    )
    out = tmp_path_factory.mktemp("run") / "run"
    result = siting.run(scenario, out_dir=out)
    # A site name with markup in it, in a site column.
    sites = result.sites.copy()
    sites.insert(3, "name", [f"Site {rank}" for rank in sites["rank"]])
    sites.loc[sites.index[0], "name"] = PAYLOAD
    write_sites(sites, out, formats=("gpkg",))
    # ... and in a feature attribute that the screening keeps as evidence.
    sample = load_sample()
    land = sample.federal_land.copy()
    land["name"] = PAYLOAD
    screening = screen(
        sites,
        {"land_manager": land, "airports": sample.airports, "wetlands": None},
        id_column="cell_id",
    )
    pathways = permitting_pathways(screening, FACTS)
    document = {
        "rules_version": str(load_rules().version),
        "disclaimer": DISCLAIMER,
        "layers": {role: report.to_dict() for role, report in screening.layers.items()},
        "pathways": [dict(p.to_dict(), site_id=str(p.site_id)) for p in pathways],
    }
    write_json(document, out / "permitting.json")
    record = json.loads((out / "manifest.json").read_text())
    record["licences"] = [
        {
            "source": "sample_region",
            "title": "Sample Basin (synthetic)",
            "licence": "CC0-1.0",
            "attribution": "made by siting.datasets",
            "homepage": HOMEPAGE,
        }
    ]
    write_json(record, out / "manifest.json")
    return {"dir": out, "sites": sites, "pathways": pathways, "screening": screening}


@pytest.fixture(scope="module")
def dossiers(run: dict[str, Any]) -> list[dict[str, Any]]:
    return dossiers_from_run(run["dir"])


@pytest.fixture(scope="module")
def written(run: dict[str, Any], dossiers, tmp_path_factory) -> dict[str, Path]:
    return write_dossiers(
        dossiers, tmp_path_factory.mktemp("out") / "dossiers", sites=run["sites"]
    )


def _html(written: dict[str, Path], site_id: str) -> str:
    return written[f"html:{site_id}"].read_text("utf-8")


# -- schema and contents ---------------------------------------------------------------------


def test_schema__is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert dossier_schema() == schema


def test_every_dossier_validates_against_the_schema(run, dossiers, written):
    validator = jsonschema.Draft202012Validator(dossier_schema())
    assert len(dossiers) == len(run["sites"])
    for dossier in dossiers:
        validator.validate(dossier)
    for key, path in written.items():
        if key.startswith("json:"):
            validator.validate(json.loads(path.read_text("utf-8")))


def test_dossier__site_matches_its_row_and_its_pathway(run, dossiers):
    sites = run["sites"]
    by_id = {str(p.site_id): p for p in run["pathways"]}
    assert [d["site"]["id"] for d in dossiers] == [str(c) for c in sites["cell_id"]]
    for dossier, (_, row) in zip(dossiers, sites.iterrows(), strict=True):
        site = dossier["site"]
        assert site["rank"] == row["rank"]
        assert site["score"] == pytest.approx(row["score"])
        assert site["location"]["crs"] == "EPSG:5070"
        assert site["location"]["x"] == pytest.approx(row.geometry.x)
        assert site["location"]["lon"] == pytest.approx(row["lon"])
        assert site["p_top_k"] == pytest.approx(row["p_top_k"])
        assert site["scorer"] == "weighted_overlay"
        parts = site["top_contributions"]
        assert len(parts) == 5
        sizes = [abs(p["contribution"]) for p in parts]
        assert sizes == sorted(sizes, reverse=True)
        for part in parts:
            assert part["contribution"] == pytest.approx(row[f"contribution_{part['feature']}"])
            assert part["value"] == pytest.approx(row[part["feature"]])
        units = {f["name"]: f["units"] for f in site["features"]}
        assert units["distance_to_substation_km"] == "km"
        assert units["ghi_kwh_m2_day"] == "kWh/m²/day"
        assert not any(name.startswith(("contribution_", "cfe_")) for name in units)
        pathway = by_id[site["id"]]
        permitting = dossier["permitting"]
        assert permitting["nepa_level"] == pathway.nepa_level
        assert permitting["lead_agency"] == pathway.lead_agency
        assert [p["id"] for p in permitting["permits"]] == [p.id for p in pathway.permits]
        assert permitting["rules_version"] == "1"
        assert set(permitting["layers"]) == {"land_manager", "airports", "wetlands"}
        # energy fit from the cfe_* columns, with the scenario's assumptions
        assert set(dossier["energy"]["values"]) == {c for c in sites if c.startswith("cfe_")}
        assert dossier["energy"]["assumptions"]["load_mw"] == 10.0
        assert "not a legal determination" in dossier["disclaimer"]


def test_dossier__complexity_is_permitting_complexity(run, dossiers):
    table = permitting_complexity(run["pathways"])
    for dossier in dossiers:
        expected = table.loc[int(dossier["site"]["id"])]
        got = dossier["permitting"]["complexity"]
        for column in ("permits_triggered", "permits_unknown", "layers_not_screened"):
            assert got[column] == expected[column]
        assert got["timeline_months_high"] == expected["timeline_months_high"]
        assert got["nepa_rank"] == (
            None if pd.isna(expected["nepa_rank"]) else expected["nepa_rank"]
        )


def test_dossier__not_screened_layers_and_provenance(dossiers):
    dossier = dossiers[0]
    missing = {n["layer"]: n for n in dossier["permitting"]["not_screened"]}
    assert missing["wetlands"]["status"] == "not_provided"
    assert "cwa_section_404" in missing["wetlands"]["permits"]
    assert {p["id"]: p["status"] for p in dossier["permitting"]["permits"]}[
        "cwa_section_404"
    ] == "unknown"
    provenance = dossier["provenance"]
    assert provenance["siting_version"] == siting.__version__
    assert provenance["run_created_utc"]
    assert provenance["scenario_name"].startswith("Sample Basin")
    names = {i["name"] for i in provenance["inputs"]}
    assert "layer:ghi_kwh_m2_day" in names
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["sha256"]) for i in provenance["inputs"])
    assert provenance["licences"][0]["licence"] == "CC0-1.0"


def _break_disclaimer(d):
    del d["disclaimer"]


def _vague_disclaimer(d):
    d["disclaimer"] = "These are the permits you need."


def _bad_nepa_level(d):
    d["permitting"]["nepa_level"] = "maybe"


def _bad_permit_status(d):
    d["permitting"]["permits"][0]["status"] = "probably"


def _no_site_id(d):
    del d["site"]["id"]


@pytest.mark.parametrize(
    ("breaks", "field"),
    [
        (_break_disclaimer, "disclaimer"),
        (_vague_disclaimer, "disclaimer"),
        (_bad_nepa_level, "permitting.nepa_level"),
        (_bad_permit_status, "permitting.permits.0.status"),
        (_no_site_id, "site"),
    ],
)
def test_schema__rejects_broken_dossiers(dossiers, breaks, field):
    dossier = copy.deepcopy(dossiers[0])
    breaks(dossier)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dossier, dossier_schema(), cls=jsonschema.Draft202012Validator)
    with pytest.raises(DossierError, match=re.escape(field)):
        validate_dossier(dossier)


def test_build__site_without_pathway_is_refused(run):
    with pytest.raises(DossierError, match="no permitting pathway"):
        build_dossiers(run["sites"], run["pathways"][1:])


def test_build__takes_pathway_objects_and_extra_pathways(run, dossiers):
    top = run["sites"].iloc[:2]
    built = build_dossiers(top, run["pathways"], layers=run["screening"].layers)
    assert [d["site"]["id"] for d in built] == [d["site"]["id"] for d in dossiers[:2]]
    assert built[0]["permitting"]["permits"] == dossiers[0]["permitting"]["permits"]
    assert built[0]["provenance"]["siting_version"] is None  # no manifest given


def test_build__site_without_coordinates_is_refused(run):
    sites = pd.DataFrame(run["sites"].drop(columns=["geometry", "lon", "lat"]))
    with pytest.raises(InvalidLayerError, match="no coordinates"):
        build_dossiers(sites, run["pathways"])


@pytest.mark.parametrize(
    ("name", "units"),
    [
        ("distance_to_substation_km", "km"),
        ("wind_speed_100m_m_s", "m/s"),
        ("heat_flow_mw_m2", "mW/m²"),
        ("capacity_mw", "MW"),
        ("slope_pct", "%"),
        ("people_within_2ms", "people"),
        ("gap_status", None),
    ],
)
def test_feature_units__read_from_the_column_name(name, units):
    assert feature_units(name) == units


# -- HTML -----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((k, v or "") for k, v in attrs)


def test_html__markup_from_data_is_escaped(dossiers, written):
    first = dossiers[0]["site"]["id"]
    text = _html(written, first)
    assert PAYLOAD not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    parser = _Tags()
    parser.feed(text)
    assert "script" not in parser.tags
    assert not [k for k, _ in parser.attributes if k.startswith("on")]
    # the site name is in the title and heading; the land name came in as evidence
    assert text.count("&lt;script&gt;") >= 3
    for dossier in dossiers[1:]:
        assert "<script" not in _html(written, dossier["site"]["id"]).lower()


def test_html__is_self_contained_and_offline(dossiers, written):
    for dossier in dossiers:
        text = _html(written, dossier["site"]["id"])
        parser = _Tags()
        parser.feed(text)
        assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parser.tags)
        assert "svg" in parser.tags
        for name, value in parser.attributes:
            assert "//" not in value, (name, value)
        assert "@import" not in text
        assert "url(" not in text
        # the only URL is the licence's homepage, shown as text
        assert not re.search(r"https?:", text.replace(HOMEPAGE, ""))
        assert HOMEPAGE in text


def test_html__has_every_part(dossiers, written):
    dossier = next(d for d in dossiers if d["permitting"]["nepa_level"] == "EA")
    text = _html(written, dossier["site"]["id"])
    for heading in (
        "Permitting at a glance",
        "Map",
        "Score",
        "Permits checklist",
        "Screening layers",
        "Energy fit",
        "Data provenance",
        "Disclaimer",
    ):
        assert f"<h2>{heading}" in text
    assert "Bureau of Land Management (BLM)" in text
    assert "43 CFR part 2800" in text  # a citation
    assert "Could not be checked" in text
    assert "Not screened" in text
    assert "wetlands" in text
    assert "CC0-1.0" in text
    assert dossier["provenance"]["inputs"][0]["sha256"] in text
    assert text.count("not a legal determination") >= 2
    assert "kWh/m²/day" in text


def test_html__map_draws_the_airport_distance(dossiers):
    near = [
        d
        for d in dossiers
        if any(
            e.get("layer") == "airports" and e.get("distance_m")
            for p in d["permitting"]["permits"]
            for e in p["evidence"]
        )
    ]
    if not near:
        pytest.skip("no ranked site has an airport in its evidence")
    text = dossier_html(near[0], dossiers)
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert 'stroke-dasharray="5 3"' in svg
    assert "airports" in svg


# -- files ------------------------------------------------------------------------------------


def test_summary_csv_and_gpkg__one_row_per_site_with_matching_ids(dossiers, written):
    ids = [d["site"]["id"] for d in dossiers]
    table = pd.read_csv(written["csv"], dtype={"site_id": str})
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert table["site_id"].tolist() == ids
    assert table["rank"].tolist() == [d["site"]["rank"] for d in dossiers]
    assert table["nepa_level"].tolist() == [d["permitting"]["nepa_level"] for d in dossiers]
    info = pyogrio.read_info(written["gpkg"], layer="dossiers")
    assert info["crs"] == "EPSG:5070"
    assert info["geometry_type"] == "Point"
    layer = gpd.read_file(written["gpkg"], layer="dossiers")
    assert [str(v) for v in layer["site_id"]] == ids
    assert layer.geometry.x.tolist() == pytest.approx(
        [d["site"]["location"]["x"] for d in dossiers]
    )
    assert len(list(written["csv"].parent.glob("*.json"))) == len(ids)
    assert len(list(written["csv"].parent.glob("*.html"))) == len(ids)


def test_write__refuses_existing_output_unless_overwrite(run, dossiers, tmp_path):
    out = tmp_path / "d"
    write_dossiers(dossiers[:2], out, sites=run["sites"])
    with pytest.raises(OutputError, match="--force"):
        write_dossiers(dossiers, out, sites=run["sites"])
    files = write_dossiers(dossiers, out, sites=run["sites"], overwrite=True)
    assert len(pd.read_csv(files["csv"])) == len(dossiers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_write__will_not_replace_a_folder_with_other_files(run, dossiers, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"notes\.txt"):
        write_dossiers(dossiers, tmp_path, sites=run["sites"], overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_write__output_path_is_a_file(run, dossiers, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        write_dossiers(dossiers, blocker, sites=run["sites"])
    with pytest.raises(OutputError, match="cannot be created"):
        write_dossiers(dossiers, blocker / "out", sites=run["sites"])


@pytest.mark.parametrize("existing", [False, True])
def test_write__failure_midway_leaves_nothing_behind(
    run, dossiers, tmp_path, monkeypatch, existing
):
    out = tmp_path / "dossiers"
    if existing:
        write_dossiers(dossiers[:1], out, sites=run["sites"])
    before = {p.name: p.read_bytes() for p in out.iterdir()} if existing else None
    calls = []

    def failing(dossier, others=()):
        calls.append(dossier["site"]["id"])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return dossier_html(dossier, others)

    monkeypatch.setattr(dossier_module, "dossier_html", failing)
    with pytest.raises(OutputError, match="nothing was left behind"):
        write_dossiers(dossiers, out, sites=run["sites"], overwrite=True)
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == (["dossiers"] if existing else [])
    if existing:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_write__bad_dossier_writes_nothing(run, dossiers, tmp_path):
    broken = copy.deepcopy(dossiers)
    broken[-1]["permitting"]["nepa_level"] = "maybe"
    with pytest.raises(DossierError, match="nepa_level"):
        write_dossiers(broken, tmp_path / "d", sites=run["sites"])
    assert list(tmp_path.iterdir()) == []


# -- reading a run folder and the command line ---------------------------------------------


def _copy_run(run: dict[str, Any], tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run["dir"], target)
    return target


def test_dossiers_from_run__unreadable_permitting_json(run, tmp_path):
    folder = _copy_run(run, tmp_path)
    (folder / "permitting.json").write_text("{not json")
    with pytest.raises(LayerIOError, match="not readable JSON"):
        dossiers_from_run(folder)
    (folder / "permitting.json").write_text('{"layers": {}}')
    with pytest.raises(LayerIOError, match="'pathways'"):
        dossiers_from_run(folder)


def test_cli_dossier__writes_the_dossiers(run, dossiers, tmp_path):
    folder = _copy_run(run, tmp_path)
    result = CliRunner().invoke(main, ["dossier", str(folder)])
    assert result.exit_code == 0, result.output
    out = folder / "dossiers"
    assert f"Wrote {len(dossiers)} dossiers" in result.output
    assert str(out / "summary.csv") in result.output
    assert "not a legal determination" in result.output
    assert {p.name for p in out.glob("*.json")} == {f"{d['site']['id']}.json" for d in dossiers}
    assert (out / "dossiers.gpkg").is_file()
    assert json.loads((out / f"{dossiers[0]['site']['id']}.json").read_text()) == dossiers[0]

    again = CliRunner().invoke(main, ["dossier", str(folder)])
    assert again.exit_code == 5
    assert "--force" in again.output
    forced = CliRunner().invoke(main, ["dossier", str(folder), "--force", "--quiet"])
    assert forced.exit_code == 0, forced.output
    assert forced.output == ""

    elsewhere = tmp_path / "elsewhere"
    moved = CliRunner().invoke(main, ["dossier", str(folder), "--out", str(elsewhere), "-q"])
    assert moved.exit_code == 0, moved.output
    assert (elsewhere / "summary.csv").is_file()


def test_cli_dossier__run_folder_missing(tmp_path):
    result = CliRunner().invoke(main, ["dossier", str(tmp_path / "nowhere")])
    assert result.exit_code == 3
    assert "does not exist" in result.output


def test_cli_dossier__no_sites(tmp_path):
    result = CliRunner().invoke(main, ["dossier", str(tmp_path)])
    assert result.exit_code == 3
    assert "sites.gpkg" in result.output


def test_cli_dossier__no_permitting_json(run, tmp_path):
    folder = _copy_run(run, tmp_path)
    (folder / "permitting.json").unlink()
    result = CliRunner().invoke(main, ["dossier", str(folder)])
    assert result.exit_code == 3
    assert "permitting.json" in result.output
    assert "[permitting]" in result.output
    assert not (folder / "dossiers").exists()


def test_cli_dossier__pathways_for_other_sites(run, tmp_path):
    folder = _copy_run(run, tmp_path)
    document = json.loads((folder / "permitting.json").read_text())
    document["pathways"] = document["pathways"][:-1]
    (folder / "permitting.json").write_text(json.dumps(document))
    result = CliRunner().invoke(main, ["dossier", str(folder)])
    assert result.exit_code == 3
    assert "no permitting pathway" in result.output
