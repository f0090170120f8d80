"""Scenario validation: field paths, allowed values, references, TOML loading."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from siting.errors import ScenarioError
from siting.scenario import Scenario

MINIMAL = {
    "region": {"bounds": [-118, 39, -117, 40], "crs": "EPSG:4326"},
    "layers": {"ghi": {"path": "ghi.tif", "kind": "continuous"}},
    "scorer": {"criteria": {"ghi": {"weight": 1, "better": "higher"}}},
}


def test_minimal_scenario_has_documented_defaults():
    scenario = Scenario.from_dict(MINIMAL)
    assert scenario.grid.crs == "EPSG:5070"
    assert scenario.ranking.top_n == 20
    assert scenario.outputs.formats == ["gpkg", "csv", "html"]


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"grid": {"resolution_m": 0}}, r"grid\.resolution_m: Input should be greater than 0"),
        ({"grid": {"crs": "EPSG:999999"}}, r"grid\.crs: .*not a valid CRS"),
        (
            {"layers": {"ghi": {"path": "g.tif", "kind": "smooth"}}},
            r"layers\.ghi\.kind: .*'continuous' or 'categorical'.*'smooth'",
        ),
        (
            {
                "layers": {
                    "ghi": {"path": "g.tif", "kind": "categorical", "resampling": "bilinear"}
                }
            },
            "does not suit a categorical layer",
        ),
        ({"region": {"bounds": [0, 0, 1, 1]}}, "needs 'crs'"),
        ({"region": {"bounds": [1, 0, 0, 1], "crs": "EPSG:4326"}}, "left < right"),
        (
            {"rules": [{"layer": "ghi", "include_range": [0, 1]}]},
            r"rules\.0: say what a missing value means for this rule: nodata",
        ),
        (
            {"rules": [{"layer": "slope", "include_range": [0, 1], "nodata": "ignore"}]},
            "not a layer of the stack",
        ),
        ({"rules": [{"layer": "ghi", "nodata": "ignore"}]}, "exactly one of"),
        (
            {"scorer": {"criteria": {"wind": {"weight": 1, "better": "higher"}}}},
            "neither a layer nor a feature",
        ),
        ({"features": {"d": {"vector": "subs"}}}, "not one of the vectors"),
        ({"ranking": {"top_n": 0}}, r"ranking\.top_n"),
        (
            {"rules": [{"layer": "ghi", "include_values": [1], "nodata": "ignore", "weight": 2}]},
            r"rules\.0\.weight",
        ),
        ({"rules": [{"vector": "roads", "setback_m": 10}]}, "not one of the vectors"),
        (
            {"rules": [{"layer": "ghi", "vector": "roads", "nodata": "ignore"}]},
            "either a 'layer' or a 'vector'",
        ),
        (
            {
                "rules": [
                    {"layer": "ghi", "setback_m": 10, "include_values": [1], "nodata": "ignore"}
                ]
            },
            "belong to vector rules",
        ),
        (
            {
                "rules": [
                    {
                        "layer": "ghi",
                        "exclude_values": [1],
                        "nodata": "ignore",
                        "force_include": True,
                    }
                ]
            },
            "include_values or include_range",
        ),
        (
            {
                "rules": [
                    {
                        "layer": "ghi",
                        "include_values": [1],
                        "nodata": "ignore",
                        "where": {"layer": "slope", "include_values": [1]},
                    }
                ]
            },
            r"where\.layer",
        ),
        ({"contiguity": {"min_area_km2": 1, "connectivity": "king"}}, r"contiguity\.connectivity"),
        ({"ranking": {"top": 5}}, r"ranking\.top: unknown field"),
        ({"outputs": {"formats": ["shp"]}}, r"outputs\.formats\.0"),
    ],
)
def test_errors_name_the_field_and_the_allowed_values(patch, match):
    with pytest.raises(ScenarioError, match=match):
        Scenario.from_dict({**MINIMAL, **patch})


def test_scenario_error_is_a_value_error():
    with pytest.raises(ValueError, match="scorer"):
        Scenario.from_dict({"region": MINIMAL["region"]})


def test_from_toml__relative_paths_resolve_against_the_file(tmp_path: Path):
    (tmp_path / "s.toml").write_text(
        """
name = "t"
[region]
bounds = [-118, 39, -117, 40]
crs = "EPSG:4326"
[layers.ghi]
path = "data/ghi.tif"
kind = "continuous"
[scorer.criteria.ghi]
weight = 1
better = "higher"
"""
    )
    scenario = Scenario.from_toml(tmp_path / "s.toml")
    assert scenario.resolve(scenario.layers["ghi"].path) == tmp_path / "data" / "ghi.tif"
    assert scenario.resolve(Path("/abs/x.tif")) == Path("/abs/x.tif")


def test_from_toml__bad_files(tmp_path: Path):
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        Scenario.from_toml(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("name = [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        Scenario.from_toml(tmp_path / "broken.toml")


def test_demo_scenario_is_valid():
    with resources.as_file(resources.files("siting.datasets") / "demo.toml") as path:
        scenario = Scenario.from_toml(path)
    assert {r.stack_layer for r in scenario.rules} == {
        "gap_status",
        "slope_pct",
        "150 m from transmission lines",
    }
    assert scenario.contiguity is not None
    assert "distance_to_substation_km" in scenario.scorer.criteria


def test_inputs_may_name_their_catalog_source():
    data = {
        **MINIMAL,
        "layers": {"ghi": {"path": "ghi.tif", "kind": "continuous", "source": "nsrdb"}},
        "vectors": {"land": {"path": "padus.gpkg", "source": "padus"}},
    }
    scenario = Scenario.from_dict(data)
    assert scenario.layers["ghi"].source == "nsrdb"
    assert scenario.vectors["land"].source == "padus"
    data["vectors"]["land"]["source"] = "pad-us"
    with pytest.raises(
        ScenarioError, match=r"vectors\.land\.source: 'pad-us' is not a source.*'padus'"
    ):
        Scenario.from_dict(data)
