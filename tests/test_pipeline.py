"""The pipeline end to end on the sample region: outputs, invariants, determinism, errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from pyproj import Geod

import siting
from siting.datasets import write_demo_inputs
from siting.errors import (
    CRSError,
    LayerIOError,
    NoDataInRegionError,
    NoFeasibleSitesError,
    OutputError,
    ScenarioError,
)
from siting.export import sha256_file
from siting.grid import Grid
from siting.scenario import Scenario


@pytest.fixture(scope="module")
def demo_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def scenario(demo_inputs: Path) -> Scenario:
    return Scenario.from_toml(demo_inputs)


@pytest.fixture(scope="module")
def result(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    return siting.run(scenario, out_dir=tmp_path_factory.mktemp("run"))


def test_outputs_open_with_gdal_in_the_grid_crs(result):
    info = pyogrio.read_info(result.files["gpkg"])
    assert info["crs"] == "EPSG:5070"
    assert info["features"] == len(result.sites) == result.scenario.ranking.top_n
    sites = gpd.read_file(result.files["gpkg"])
    csv = pd.read_csv(result.files["csv"])
    assert csv["rank"].tolist() == sites["rank"].tolist() == list(range(1, len(sites) + 1))
    assert set(csv["crs"]) == {"EPSG:5070"}
    for column in ["score", "lon", "lat", "x", "y", *result.scenario.scorer.criteria]:
        assert column in csv.columns
        np.testing.assert_allclose(csv[column], sites[column])
    assert (np.diff(csv["score"]) <= 0).all()
    # coordinates in the CSV agree with the GeoPackage geometry
    np.testing.assert_allclose(csv["x"], sites.geometry.x)
    wgs = sites.to_crs(4326)
    np.testing.assert_allclose(csv["lon"], wgs.geometry.x, atol=1e-9)


def test_sites_respect_the_rules_and_the_spacing(result):
    sites = result.sites
    assert not sites["gap_status"].isin([1, 2]).any()
    assert sites["slope_pct"].between(0, 10).all()
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= result.scenario.ranking.min_spacing_km * 1000


def test_sites_avoid_protected_land_polygons(result, demo_inputs):
    land = gpd.read_file(demo_inputs.parent / "sample_vectors.gpkg", layer="federal_land").to_crs(
        5070
    )
    protected = land[land["gap_status"].isin([1, 2])]
    hits = gpd.sjoin(result.sites, protected, predicate="within")
    assert hits.empty


def test_distance_to_substation_matches_geodesic_reference(result, demo_inputs):
    """The EPSG:5070 distance agrees with the ellipsoidal distance (Albers scale error < 1 %)."""
    subs = gpd.read_file(demo_inputs.parent / "sample_vectors.gpkg", layer="substations")
    geod = Geod(ellps="GRS80")
    for _, site in result.sites.iterrows():
        _, _, metres = geod.inv(
            np.full(len(subs), site["lon"]),
            np.full(len(subs), site["lat"]),
            subs.geometry.x,
            subs.geometry.y,
        )
        assert site["distance_to_substation_km"] == pytest.approx(
            metres.min() / 1000, rel=0.01, abs=0.001
        )


def test_score_is_the_weighted_sum_of_rescaled_criteria(result):
    criteria = result.scenario.scorer.criteria
    total = sum(c.weight for c in criteria.values())
    expected = np.zeros(len(result.sites))
    for name, c in criteria.items():
        low, high = c.range
        scaled = np.clip((result.sites[name] - low) / (high - low), 0, 1)
        expected += c.weight / total * (scaled if c.better == "higher" else 1 - scaled)
    np.testing.assert_allclose(result.sites["score"], expected, rtol=1e-6)
    parts = result.sites[[f"contribution_{n}" for n in criteria]].sum(axis=1)
    np.testing.assert_allclose(parts, result.sites["score"])


def test_best_site_is_the_best_candidate(result):
    assert result.sites["score"].iloc[0] == result.candidates["score"].max()
    assert len(result.candidates) == int((result.availability.values >= 1).sum())


def test_sites_are_the_greedy_selection_of_the_candidates(result):
    from siting.ranking import select_top

    ranking = result.scenario.ranking
    alone = select_top(
        result.candidates, n=ranking.top_n, min_spacing_m=ranking.min_spacing_km * 1000
    )
    assert len(result.sites) == ranking.top_n
    assert result.sites["cell_id"].tolist() == alone["cell_id"].tolist()
    assert result.sites["rank"].tolist() == alone["rank"].tolist()


def test_manifest_records_inputs_with_checksums(result):
    record = json.loads(result.files["manifest"].read_text())
    assert record["siting_version"] == siting.__version__
    assert record["summary"]["crs"] == "EPSG:5070"
    assert record["scenario"]["name"] == result.scenario.name
    assert set(record["timings_s"]) >= {"layers", "constraints", "ranking", "total"}
    for entry in record["inputs"].values():
        assert entry["sha256"] == sha256_file(entry["path"])
    assert {"layer:ghi_kwh_m2_day", "vector:substations", "region"} <= set(record["inputs"])


def test_exclusion_report_accounts_for_every_km2(result):
    report = result.exclusions
    cell_km2 = result.grid.cell_area_m2 / 1e6
    available = float(result.availability.sum()) * cell_km2
    assert report["available_km2"].iloc[-1] == pytest.approx(available)
    assert (report["excluded_in_sequence_km2"] <= report["excluded_alone_km2"] + 1e-9).all()
    inside_km2 = report["available_km2"].iloc[0] + report["excluded_in_sequence_km2"].iloc[0]
    assert inside_km2 == pytest.approx(report["excluded_in_sequence_km2"].sum() + available)


def test_rerun_is_byte_identical_and_chunked_run_agrees(scenario, result, tmp_path):
    again = siting.run(scenario, out_dir=tmp_path / "again")
    assert again.files["csv"].read_bytes() == result.files["csv"].read_bytes()
    assert again.files["exclusions"].read_bytes() == result.files["exclusions"].read_bytes()
    tiled = siting.run(scenario, out_dir=tmp_path / "tiled", chunks=96)
    assert tiled.stack["ghi_kwh_m2_day"].chunks is not None
    assert tiled.files["csv"].read_bytes() == result.files["csv"].read_bytes()


def test_existing_run_is_not_overwritten(scenario, result):
    before = result.files["csv"].read_bytes()
    with pytest.raises(OutputError, match="already holds a run"):
        siting.run(scenario, out_dir=result.files["csv"].parent)
    assert result.files["csv"].read_bytes() == before


def _with_outputs(scenario: Scenario, formats: list[str], top_n: int) -> Scenario:
    return scenario.model_copy(
        update={
            "outputs": scenario.outputs.model_copy(update={"formats": formats}),
            "ranking": scenario.ranking.model_copy(update={"top_n": top_n}),
        }
    )


def test_forced_run_replaces_every_output_of_the_earlier_run(scenario, tmp_path):
    from siting.runs import read_run

    folder = tmp_path / "run"
    siting.run(_with_outputs(scenario, ["gpkg", "csv", "cog"], 12), out_dir=folder)
    (folder / "notes.txt").write_text("kept beside the run")
    smaller = _with_outputs(scenario, ["csv"], 5)
    siting.run(smaller, out_dir=folder, overwrite=True)
    # Nothing of the earlier run is left to be taken for the new one's.
    assert not (folder / "sites.gpkg").exists()
    assert not (folder / "score.tif").exists()
    assert (folder / "notes.txt").read_text() == "kept beside the run"
    assert len(read_run(folder).sites) == 5
    listed = set(json.loads((folder / "manifest.json").read_text())["outputs"].values())
    assert {p.name for p in folder.iterdir()} == listed | {"manifest.json", "notes.txt"}


def test_forced_run_that_fails_keeps_or_unmarks_the_earlier_run(scenario, tmp_path, monkeypatch):
    import siting.pipeline

    folder = tmp_path / "run"
    siting.run(scenario, out_dir=folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    def fails(*args, **kwargs):
        raise RuntimeError("stopped")

    # Failing before the outputs: the earlier run is still there, whole.
    with monkeypatch.context() as patch:
        patch.setattr(siting.pipeline, "select_top", fails)
        with pytest.raises(RuntimeError, match="stopped"):
            siting.run(scenario, out_dir=folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    # Failing while writing them: no manifest, so nothing passes for a finished run.
    with monkeypatch.context() as patch:
        patch.setattr(siting.pipeline, "write_csv", fails)
        with pytest.raises(RuntimeError, match="stopped"):
            siting.run(scenario, out_dir=folder, overwrite=True)
    assert not (folder / "manifest.json").exists()
    with pytest.raises(LayerIOError, match="not a finished run"):
        siting.runs.read_run(folder)


def test_output_name_taken_by_a_folder_is_a_clear_error(scenario, tmp_path):
    folder = tmp_path / "run"
    (folder / "sites.csv").mkdir(parents=True)
    with pytest.raises(OutputError, match=r"sites\.csv.*a folder of that name is in the way"):
        siting.run(scenario, out_dir=folder)
    assert not (folder / "manifest.json").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_everything_excluded_is_a_clear_error(scenario, tmp_path):
    rules = [
        *scenario.rules,
        scenario.rules[1].model_copy(update={"include_range": (500.0, 600.0)}),
    ]
    with pytest.raises(NoFeasibleSitesError, match="every cell"):
        siting.run(scenario.model_copy(update={"rules": rules}), out_dir=tmp_path / "none")
    assert not (tmp_path / "none" / "manifest.json").exists()


def test_region_outside_the_data_is_a_clear_error(scenario):
    data = scenario.model_dump()
    data["region"] = {"bounds": (-80.0, 35.0, -79.5, 35.5), "crs": "EPSG:4326"}
    with pytest.raises(NoDataInRegionError, match="ghi_kwh_m2_day"):
        siting.run(Scenario.from_dict(data, base_dir=scenario.base_dir))


@pytest.mark.parametrize("chunks", [None, 96])
def test_criterion_with_no_data_in_the_region_is_named(scenario, tmp_path, chunks):
    import rasterio

    source = scenario.resolve(scenario.layers["ghi_kwh_m2_day"].path)
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    empty = tmp_path / "ghi_nodata.tif"
    with rasterio.open(empty, "w", **(profile | {"nodata": -9999.0})) as dst:
        dst.write(np.full_like(data, -9999.0), 1)
    layers = dict(scenario.layers)
    layers["ghi_kwh_m2_day"] = layers["ghi_kwh_m2_day"].model_copy(update={"path": empty})
    with pytest.raises(NoDataInRegionError, match=r"no available cell has data in \['ghi_kwh"):
        siting.run(
            scenario.model_copy(update={"layers": layers}), out_dir=tmp_path / "run", chunks=chunks
        )
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_region_in_the_wrong_crs_is_caught(scenario):
    # UTM metres labelled as degrees: a classic mistake.
    data = scenario.model_dump()
    data["region"] = {"bounds": (400000.0, 4300000.0, 450000.0, 4350000.0), "crs": "EPSG:4326"}
    with pytest.raises(CRSError, match="cannot be projected"):
        siting.run(Scenario.from_dict(data, base_dir=scenario.base_dir))


def test_corrupt_raster_is_named(scenario, demo_inputs, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(demo_inputs.parent, inputs)
    (inputs / "ghi_kwh_m2_day.tif").write_bytes(b"II*\x00 this is not a GeoTIFF")
    broken = Scenario.from_toml(inputs / "scenario.toml")
    with pytest.raises(LayerIOError, match=r"ghi_kwh_m2_day\.tif"):
        siting.run(broken, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_vector_without_crs_is_refused(scenario, demo_inputs, tmp_path):
    subs = gpd.read_file(demo_inputs.parent / "sample_vectors.gpkg", layer="substations")
    path = tmp_path / "subs.shp"
    subs.to_file(path)
    path.with_suffix(".prj").unlink()
    data = scenario.model_dump()
    data["vectors"]["substations"] = {"path": str(path)}
    with pytest.raises(CRSError, match=r"has no CRS.*set_crs"):
        siting.run(Scenario.from_dict(data, base_dir=scenario.base_dir))


def test_every_rule_kind_runs_from_toml(demo_inputs, tmp_path):
    """Setbacks (parametric, fractional), force-include, a conditional rule and contiguity,
    written as TOML, run end to end and do what they say."""
    demo = re.sub(r"\[contiguity\][^\[]*", "", demo_inputs.read_text())  # replaced below
    text = (
        demo
        + """
[[rules]]
vector = "transmission_lines"
setback = { multiplier = 1.5, hub_height_m = 120, rotor_diameter_m = 160 }   # 300 m
name = "line setback"
exempt_from_contiguity = true

[[rules]]
vector = "towns"
setback_m = 2000
partial = true

[[rules]]
layer = "wind_speed_100m_m_s"
include_range = [0, 7.5]
nodata = "ignore"
where = { layer = "gap_status", include_values = [3] }

[contiguity]
min_area_km2 = 1.0
connectivity = "rook"
"""
    )
    path = demo_inputs.parent / "all_rules.toml"
    path.write_text(text)
    scenario = Scenario.from_toml(path)
    result = siting.run(scenario, out_dir=tmp_path / "run")
    report = result.exclusions
    assert report["rule"].tolist()[3] == "line setback"
    assert report["rule"].iloc[-1].startswith("minimum contiguous area 1 km² (rook)")
    assert (report["excluded_alone_km2"] > 0).all()
    lines = result.context["transmission_lines"]
    for site in result.sites.geometry:
        assert lines.distance(site).min() > 300
    assert (result.sites["setback_towns"] > 0).all()
    windy_blm = (result.candidates["gap_status"] == 3) & (
        result.candidates["wind_speed_100m_m_s"] > 7.5
    )
    assert not windy_blm.any()


def test_distance_feature_by_voltage_class(scenario, demo_inputs):
    data = scenario.model_dump()
    data["features"]["distance_to_230kv_line_km"] = {
        "vector": "transmission_lines",
        "min_voltage_kv": 230,
    }
    data["features"]["distance_to_any_line_km"] = {"vector": "transmission_lines"}
    result = siting.run(Scenario.from_dict(data, base_dir=scenario.base_dir))
    high = result.candidates["distance_to_230kv_line_km"]
    anyline = result.candidates["distance_to_any_line_km"]
    assert (high >= anyline - 1e-9).all()
    assert (high > anyline + 1).any()  # lower-voltage lines exist and are nearer somewhere
    lines = gpd.read_file(
        demo_inputs.parent / "sample_vectors.gpkg", layer="transmission_lines"
    ).to_crs(5070)
    big = lines[lines["voltage_kv"] >= 230]
    site = result.candidates.iloc[len(result.candidates) // 2]
    assert site["distance_to_230kv_line_km"] == pytest.approx(
        big.distance(site.geometry).min() / 1000, abs=1e-6
    )
    data["features"]["distance_to_230kv_line_km"]["voltage_column"] = "kv"
    with pytest.raises(ScenarioError, match="voltage_column"):
        siting.run(Scenario.from_dict(data, base_dir=scenario.base_dir))


def test_result_raster_puts_scores_back_on_their_cells(result):
    score = result.raster("score")
    cands = result.candidates
    assert Grid.from_xarray(score) == result.grid
    assert int(score.notnull().sum()) == len(cands)
    rows, cols = cands["row"].to_numpy(), cands["col"].to_numpy()
    np.testing.assert_allclose(score.values[rows, cols], cands["score"].to_numpy(), rtol=1e-6)
    # Excluded cells stay empty.
    assert bool(score.where(result.availability == 0).isnull().all())


def test_run_writes_geoparquet_and_cloud_optimized_geotiffs(scenario, tmp_path):
    import rasterio

    data = scenario.model_dump()
    data["energy"] = data["permitting"] = None
    data["outputs"] = {"formats": ["csv", "parquet", "cog"]}
    data["layers"]["ghi_kwh_m2_day"]["source"] = "nsrdb"
    light = Scenario.from_dict(data, base_dir=scenario.base_dir)
    result = siting.run(light, out_dir=tmp_path / "a")
    files = result.files
    assert {"parquet", "score_cog", "availability_cog"} <= set(files)
    assert files["score_cog"].name == "score.tif"
    assert files["availability_cog"].name == "availability.tif"

    parquet = gpd.read_parquet(files["parquet"])
    csv = pd.read_csv(files["csv"])
    assert parquet.crs.to_epsg() == 5070
    assert parquet["cell_id"].tolist() == csv["cell_id"].tolist()
    np.testing.assert_array_equal(parquet["score"], csv["score"])
    np.testing.assert_array_equal(parquet.geometry.x, csv["x"])

    for path, expected in (
        (files["score_cog"], result.raster("score")),
        (files["availability_cog"], result.availability),
    ):
        with rasterio.open(path) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert src.profile["tiled"]
            assert src.overviews(1)
            assert src.crs.to_epsg() == 5070
            assert src.transform == result.grid.transform
            assert np.isnan(src.nodata)
            values = src.read(1)
        np.testing.assert_array_equal(values, np.asarray(expected.values))
    # Excluded cells have no score: they read back as nodata.
    with rasterio.open(files["score_cog"]) as src:
        masked = src.read(1, masked=True)
    assert int((~masked.mask).sum()) == len(result.candidates)

    record = json.loads(files["manifest"].read_text())
    assert record["outputs"]["parquet"] == "sites.parquet"
    assert record["outputs"]["score_cog"] == "score.tif"
    assert record["licences"]["layer:ghi_kwh_m2_day"]["catalog_source"] == "nsrdb"
    assert "NREL" in record["licences"]["layer:ghi_kwh_m2_day"]["attribution"]
    assert record["licences"]["layer:slope_pct"]["licence"] == "unknown — not from the catalog"

    again = siting.run(light, out_dir=tmp_path / "b")
    for name in ("csv", "parquet", "score_cog", "availability_cog", "exclusions"):
        assert again.files[name].read_bytes() == files[name].read_bytes(), name


def test_manifest_records_memory_command_licences_and_grid(result):
    record = json.loads(result.files["manifest"].read_text())
    assert record["peak_memory_mib"] > 10
    assert isinstance(record["command_line"], list)
    assert record["command_line"]
    assert set(record["licences"]) == set(record["inputs"])
    for entry in record["licences"].values():  # the demo's inputs are not from the catalog
        assert entry["licence"] == entry["attribution"] == "unknown — not from the catalog"
    summary = record["summary"]
    assert summary["grid_transform"] == list(result.grid.transform)[:6]
    assert summary["units"]["distance_to_substation_km"] == "km"
    assert summary["units"]["people_within_2ms"] == "people"
    assert set(record["timings_s"]) >= {*siting.pipeline.STAGES, "total"}


def test_chunked_run_that_keeps_few_candidates_still_writes_every_cells_score(scenario, tmp_path):
    import rasterio

    data = scenario.model_dump()
    data["energy"] = data["permitting"] = None
    data["ranking"].update(top_n=1, min_spacing_km=0)
    data["outputs"] = {"formats": ["csv", "cog"]}
    light = Scenario.from_dict(data, base_dir=scenario.base_dir)
    tiled = siting.run(light, out_dir=tmp_path / "tiled", chunks=128)
    assert len(tiled.candidates) < tiled.candidates.attrs["n_candidates"]
    whole = siting.run(light)
    np.testing.assert_array_equal(tiled.raster("score").values, whole.raster("score").values)
    with rasterio.open(tiled.files["score_cog"]) as src:
        assert int(np.isfinite(src.read(1)).sum()) == len(whole.candidates)
