"""Scenario validation: field paths, allowed values, references, TOML loading."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from siting.errors import ScenarioError
from siting.scenario import CriterionSpec, LayerSpec, RuleSpec, Scenario, ScorerSpec

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
            r"rules\[0\]\.nodata: say what a missing value means for this rule: nodata",
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
            r"rules\[0\]\.weight",
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
        ({"outputs": {"formats": ["shp"]}}, r"outputs\.formats\[0\]"),
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


def _problems(data: dict) -> list[str]:
    """The problem lines of the error validating ``data`` (without the leading ``- ``)."""
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict(data)
    return [line.removeprefix("  - ") for line in str(caught.value).splitlines()[1:]]


VECTORS = {"roads": {"path": "roads.gpkg"}, "towns": {"path": "towns.gpkg"}}
RULE = {"layer": "ghi", "include_values": [1], "nodata": "ignore"}


@pytest.mark.parametrize(
    ("patch", "line"),
    [
        (
            {"rules": [RULE, {**RULE, "layer": "slope"}]},
            "rules[1].layer: rules[1].layer = 'slope' is not a layer of the stack; "
            "known layers: ['ghi'] (given: 'slope')",
        ),
        (
            {"rules": [{**RULE, "where": {"layer": "slope", "include_values": [1]}}]},
            "rules[0].where.layer: rules[0].where.layer = 'slope' is not a layer of the stack; "
            "known layers: ['ghi'] (given: 'slope')",
        ),
        (
            {"vectors": VECTORS, "rules": [{"vector": "road", "setback_m": 10}]},
            "rules[0].vector: rules[0].vector = 'road' is not one of the vectors "
            "['roads', 'towns'] (given: 'road')",
        ),
        (
            {"scorer": {"criteria": {"wind": {"weight": 1, "better": "higher"}}}},
            "scorer.criteria.wind: scorer.criteria: 'wind' is neither a layer nor a feature; "
            "known: ['ghi'] (given: 'wind')",
        ),
        (
            {"vectors": VECTORS, "features": {"d": {"vector": "subs"}}},
            "features.d.vector: features.d.vector = 'subs' is not one of the vectors "
            "['roads', 'towns'] (given: 'subs')",
        ),
        (
            {"features": {"hot": {"kind": "hours_above", "temperature_layer": "tmean"}}},
            "features.hot.temperature_layer: features.hot reads the layer 'tmean', which is "
            "not a layer of the stack; known layers: ['ghi'] (given: 'tmean')",
        ),
        (
            {
                "vectors": VECTORS,
                "rasterize": {"land": {"vector": "pad", "column": "c", "kind": "categorical"}},
            },
            "rasterize.land.vector: rasterize.land.vector = 'pad' is not one of the vectors "
            "['roads', 'towns'] (given: 'pad')",
        ),
        (
            {"energy": {"load_mw": 1, "wind_layer": "ghi"}},
            "energy.ghi_layer: energy.ghi_layer = 'ghi_kwh_m2_day' is neither a layer nor a "
            "feature; known: ['ghi'] (given: 'ghi_kwh_m2_day')",
        ),
        (
            {"vectors": VECTORS, "permitting": {"layers": {"wetlands": "nwi"}}},
            "permitting.layers.wetlands: permitting.layers.wetlands = 'nwi' is not one of the "
            "vectors ['roads', 'towns'] (given: 'nwi')",
        ),
        (
            {"vectors": VECTORS, "ranking": {"portfolio": {"demand": "people", "budget_ms": 2}}},
            "ranking.portfolio.demand: ranking.portfolio.demand = 'people' is not one of the "
            "vectors ['roads', 'towns'] (given: 'people')",
        ),
        (
            {"outputs": {"map_overlays": ["score", "wind"]}},
            "outputs.map_overlays[1]: outputs.map_overlays: ['wind'] are not overlays the map "
            "can draw; allowed: ['score', 'availability', 'ghi'] (given: 'wind')",
        ),
        (
            {
                "layers": {
                    "ghi": {"path": "g.tif", "kind": "categorical", "resampling": "bilinear"}
                }
            },
            "layers.ghi.resampling: resampling 'bilinear' does not suit a categorical layer; "
            "use one of ['mode', 'nearest'] (given: 'bilinear')",
        ),
        (
            {"region": {"bounds": [0, 0, 1, 1]}},
            "region.crs: 'bounds' needs 'crs' (for example 'EPSG:4326'); a CRS is never "
            "guessed (not given)",
        ),
        (
            {"rules": [{"layer": "ghi", "include_values": [1]}]},
            "rules[0].nodata: say what a missing value means for this rule: nodata = "
            "'exclude', 'include' or 'ignore' (not given)",
        ),
        (
            {"scorer": {"criteria": {"ghi": {"weight": 1, "better": "higher", "spread": 2}}}},
            "scorer.criteria.ghi.spread: ['spread'] do not apply to transform 'linear'; it "
            "takes ['better', 'range', 'thresholds'] (given: 2.0)",
        ),
        (
            {"scorer": {"criteria": {"ghi": {"transform": "near", "weight": 1, "spread": 2}}}},
            "scorer.criteria.ghi.midpoint: transform 'near' needs ['midpoint'] (not given)",
        ),
        (
            {
                "scorer": {
                    "criteria": {"ghi": {"better": "higher"}, "wind": {"better": "lower"}},
                    "ahp": [{"more": "ghi", "less": "sun", "intensity": 3}],
                }
            },
            "scorer.ahp[0].less: scorer.ahp names ['sun'], which are not criteria; "
            "criteria: ['ghi', 'wind'] (given: 'sun')",
        ),
        (
            {"vectors": VECTORS, "scorer": {"method": "site_scorer", "features": ["ghi"]}},
            "scorer.presences: method 'site_scorer' needs presences = the name of a vector "
            "input of existing facilities (the sites it learns from) (not given)",
        ),
        (
            {"features": {"c": {"kind": "cfe_share", "ghi_layer": None}}},
            "features.c.ghi_layer: solar_share > 0 needs ghi_layer (annual-mean GHI, "
            "kWh/m2/day) (not given)",
        ),
        (
            {"features": {"c": {"kind": "cfe", "ghi_layer": "ghi"}}},
            "features.c.kind: Input should be 'distance', 'population_within_latency', "
            "'cfe_share', 'cooling_degree_hours' or 'hours_above' (given: 'cfe')",
        ),
    ],
)
def test_cross_field_errors_name_the_field_the_value_and_the_allowed_values(patch, line):
    problems = _problems({**MINIMAL, **patch})
    assert problems == [line]


def test_a_feature_error_is_reported_at_the_feature_not_once_per_kind_of_feature():
    data = {**MINIMAL, "features": {"c": {"kind": "cfe_share", "overbuild": 50}}}
    assert _problems(data) == [
        "features.c.overbuild: Input should be less than or equal to 20 (given: 50)"
    ]


def test_every_broken_reference_is_reported():
    data = {
        **MINIMAL,
        "vectors": VECTORS,
        "rules": [RULE, {**RULE, "layer": "slope"}, {"vector": "road"}],
        "features": {"d": {"vector": "subs"}},
        "scorer": {"criteria": {"ghi": {"weight": 1, "better": "higher"},
                                "wind": {"weight": 1, "better": "higher"}}},
        "outputs": {"map_overlays": ["wind"]},
    }  # fmt: skip
    paths = [line.split(":")[0] for line in _problems(data)]
    assert paths == [
        "features.d.vector",
        "rules[1].layer",
        "rules[2].vector",
        "scorer.criteria.wind",
        "outputs.map_overlays[0]",
    ]


def test_weights_missing_from_several_criteria_are_each_reported():
    data = {**MINIMAL, "layers": {**MINIMAL["layers"], "wind": MINIMAL["layers"]["ghi"]}}
    data["scorer"] = {"criteria": {"ghi": {"better": "higher"}, "wind": {"better": "lower"}}}
    problems = _problems(data)
    assert [line.split(":")[0] for line in problems] == [
        "scorer.criteria.ghi.weight",
        "scorer.criteria.wind.weight",
    ]
    assert all("have no weight" in line and line.endswith("(not given)") for line in problems)


def test_cross_field_errors_carry_their_location_in_python_too():
    with pytest.raises(ValidationError) as caught:
        Scenario(
            layers={"ghi": LayerSpec(path=Path("ghi.tif"), kind="continuous")},
            rules=[RuleSpec(layer="slope", include_values=[1], nodata="ignore")],
            scorer=ScorerSpec(criteria={"ghi": CriterionSpec(weight=1, better="higher")}),
        )
    [error] = caught.value.errors()
    assert error["loc"] == ("rules", 0, "layer")
    assert error["input"] == "slope"
    assert "known layers: ['ghi']" in error["msg"]
