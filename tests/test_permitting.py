"""Permitting: screening with evidence, rules as data, pathways, complexity feature."""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from siting.errors import CRSError, InvalidLayerError, ScenarioError
from siting.permitting import (
    ROLES,
    ProjectFacts,
    ScreeningLayer,
    exceeds_notice_surface,
    load_rules,
    permitting_complexity,
    permitting_pathway,
    permitting_pathways,
    read_screening_layer,
    screen,
)
from siting.permitting.facts import FOOT_M

CRS = "EPSG:5070"
PACKAGE = Path(__file__).resolve().parents[1] / "siting" / "permitting"


# -- builders --------------------------------------------------------------------------------


def _sites(*points: tuple[float, float], crs: str = CRS) -> gpd.GeoDataFrame:
    names = [f"s{i}" for i in range(len(points))]
    return gpd.GeoDataFrame({"name": names}, geometry=[Point(p) for p in points], crs=crs)


def _polygons(rows: list[dict], crs: str = CRS) -> gpd.GeoDataFrame:
    geometry = [r.pop("geometry") for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=crs)


def _empty(crs: str = CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"fid": []}, geometry=[], crs=crs)


def _land(manager: str, manager_type: str, designation: str = "Public Land") -> gpd.GeoDataFrame:
    return _polygons(
        [
            {
                "unit": f"{manager}-1",
                "manager": manager,
                "manager_type": manager_type,
                "designation": designation,
                "geometry": box(-1000, -1000, 1000, 1000),
            }
        ]
    )


def _layers(**given: object) -> dict[str, object]:
    """Every known role provided (empty unless given), so nothing is unknown by accident."""
    layers: dict[str, object] = {role: _empty() for role in ROLES}
    layers.update(given)
    return layers


def _airport(distance_m: float, *, kind: str = "public", runway_ft: float | None = 6000.0):
    return gpd.GeoDataFrame(
        {"code": ["AP1"], "kind": [kind], "runway_length_ft": [runway_ft]},
        geometry=[Point(distance_m, 0)],
        crs=CRS,
    )


def _pathway(layers: dict[str, object], facts: ProjectFacts | None = None, **kwargs):
    screening = screen(_sites((0, 0)), layers, id_column="name")
    facts = facts or ProjectFacts(capacity_mw=5, acres=4, structure_height_ft=40)
    return permitting_pathway(screening, facts, **kwargs)


@pytest.fixture(scope="module")
def rules():
    return load_rules()


# -- screening ---------------------------------------------------------------------------------


def test_screen__records_intersection_nearest_and_hits_with_attributes():
    sites = _sites((5, 5), (400, 5), (5000, 5))
    wetlands = _polygons(
        [
            {"wid": "W1", "ATTRIBUTE": "PEM1C", "geometry": box(0, 0, 10, 10)},
            {"wid": "W2", "ATTRIBUTE": "PFO1A", "geometry": box(100, 0, 110, 10)},
        ]
    )
    layer = ScreeningLayer("wetlands", wetlands, id_column="wid", search_m=500)
    result = screen(sites, {"wetlands": layer}, id_column="name")
    assert result.status("wetlands") == "ok"
    report = result.layers["wetlands"]
    assert (report.n_features, report.n_sites_hit, report.search_m) == (2, 2, 500.0)
    nearest = result.nearest.set_index("site_id")
    assert nearest.loc["s0", "intersects"]
    assert nearest.loc["s1", "nearest_id"] == "W2"
    assert nearest.loc["s1", "nearest_distance_m"] == pytest.approx(290.0)
    assert nearest.loc["s2", "nearest_distance_m"] == pytest.approx(4890.0)
    assert nearest.loc["s2", "n_hits"] == 0
    hits = result.site_hits("s0", "wetlands")
    assert [h.feature_id for h in hits] == ["W1", "W2"]  # nearest first
    assert hits[0].intersects
    assert hits[0].distance_m == 0.0
    # NWI's ATTRIBUTE column is kept under the evidence name "code"
    assert hits[0].attributes == {"code": "PEM1C"}
    assert result.site_nearest("s2", "wetlands").feature_id == "W2"
    json.dumps(result.to_dict())


def test_screen__layers_are_reprojected_to_the_sites_crs():
    sites = _sites((0, 0))
    land = _land("BLM", "Federal")
    in_degrees = land.to_crs("EPSG:4326")
    result = screen(sites, {"land_manager": in_degrees})
    assert result.site_hits(0, "land_manager")[0].intersects
    assert result.crs == "EPSG:5070"


def test_screen__distances_are_metres_in_a_crs_measured_in_feet():
    crs = "EPSG:2227"  # California zone 3, US survey feet
    sites = _sites((6_000_000.0, 2_000_000.0), crs=crs)
    airport = gpd.GeoDataFrame(geometry=[Point(6_000_000.0 + 10_000.0, 2_000_000.0)], crs=crs)
    result = screen(sites, {"airports": airport})
    assert result.site_hits(0, "airports")[0].distance_m == pytest.approx(10_000 * 1200 / 3937)


@pytest.mark.parametrize("crs", [None, "EPSG:4326"])
def test_screen__refuses_sites_without_a_projected_crs(crs):
    sites = gpd.GeoDataFrame(geometry=[Point(-117.5, 39.5)], crs=crs)
    with pytest.raises(CRSError, match=r"projected CRS|no CRS"):
        screen(sites, {"wetlands": None})


def test_screen__a_site_without_coordinates_is_a_clear_error():
    sites = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Point(0, 0), None], crs=CRS)
    with pytest.raises(InvalidLayerError, match=r"no coordinates.*\['b'\]"):
        screen(sites, {"wetlands": None}, id_column="name")


def test_screen__duplicate_site_ids_are_refused():
    sites = _sites((0, 0), (1, 1))
    sites["name"] = "same"
    with pytest.raises(InvalidLayerError, match="unique"):
        screen(sites, {}, id_column="name")


def test_screen__layer_statuses_ok_empty_not_provided_failed():
    no_crs = _land("BLM", "Federal").set_crs(None, allow_override=True)
    far = _polygons([{"geometry": box(50_000, 0, 50_010, 10)}])
    result = screen(
        _sites((0, 0)),
        {
            "land_manager": no_crs,
            "wetlands": far,
            "flood_zones": _empty(),
            "critical_habitat": None,
            "historic_places": ScreeningLayer.failed("historic_places", "zip archive corrupt"),
            "airports": _airport(1000.0),
        },
    )
    statuses = {role: report.status for role, report in result.layers.items()}
    assert statuses == {
        "land_manager": "failed",
        "wetlands": "empty",
        "flood_zones": "empty",
        "critical_habitat": "not_provided",
        "historic_places": "failed",
        "airports": "ok",
    }
    assert "no CRS" in result.layers["land_manager"].message
    assert result.layers["historic_places"].message == "zip archive corrupt"
    assert "covers the area" in result.layers["wetlands"].message
    # the far feature is still the nearest, however far
    assert result.site_nearest(0, "wetlands").distance_m == pytest.approx(50_000.0)
    assert result.status("tribal_lands") == "not_provided"  # never given at all


def test_screen__missing_id_column_fails_that_layer_only():
    layer = ScreeningLayer("wetlands", _land("BLM", "Federal"), id_column="nope")
    result = screen(_sites((0, 0)), {"wetlands": layer, "land_manager": _land("BLM", "Federal")})
    assert result.status("wetlands") == "failed"
    assert "id column 'nope'" in result.layers["wetlands"].message
    assert result.status("land_manager") == "ok"


def test_read_screening_layer__missing_file_is_a_failed_layer(tmp_path):
    layer = read_screening_layer("flood_zones", tmp_path / "nfhl.gpkg")
    assert layer.error is not None
    assert "does not exist" in layer.error
    result = screen(_sites((0, 0)), [layer])
    assert result.status("flood_zones") == "failed"


def test_read_screening_layer__reads_a_file(tmp_path):
    path = tmp_path / "wetlands.gpkg"
    _polygons([{"wid": "W9", "geometry": box(-5, -5, 5, 5)}]).to_file(path, layer="nwi")
    layer = read_screening_layer("wetlands", path, layer="nwi", id_column="wid")
    result = screen(_sites((0, 0)), [layer])
    assert result.site_hits(0, "wetlands")[0].feature_id == "W9"
    assert "wetlands.gpkg" in result.layers["wetlands"].source


def test_screening_layer__role_and_key_must_agree():
    with pytest.raises(InvalidLayerError, match="key and the role"):
        screen(_sites((0, 0)), {"wetlands": ScreeningLayer("flood_zones", _empty())})


def test_screening__polygon_parcels_work_too():
    parcel = gpd.GeoDataFrame(geometry=[box(-50, -50, 50, 50)], crs=CRS)
    wetlands = _polygons([{"geometry": box(40, 40, 60, 60)}])
    result = screen(parcel, {"wetlands": wetlands})
    assert result.site_hits(0, "wetlands")[0].intersects


# -- rules: each permit ---------------------------------------------------------------------


def test_blm_land__sf299_nepa_with_blm_lead_and_section_106():
    pathway = _pathway(_layers(land_manager=_land("BLM", "Federal")))
    row = pathway.permit("blm_right_of_way")
    assert row.status == "triggered"
    assert "SF-299" in row.name
    assert "43 CFR part 2800" in row.citation
    evidence = row.evidence[0]
    assert (evidence.layer, evidence.feature_id, evidence.distance_m) == ("land_manager", 0, 0.0)
    assert evidence.attributes["manager"] == "BLM"
    assert pathway.nepa_level == "EA"
    assert pathway.lead_agency == "Bureau of Land Management (BLM)"
    assert pathway.status("nepa_ce") == "superseded"
    assert pathway.permit("nepa_ce").superseded_by == "nepa_ea"
    assert pathway.status("nhpa_section_106") == "triggered"
    assert pathway.status("usfs_special_use") == "not_triggered"
    assert pathway.status("local_land_use") == "not_triggered"  # federal land
    assert pathway.facts["federal_land"] is True


def test_blm_land__critical_path_runs_the_grant_after_nepa():
    pathway = _pathway(_layers(land_manager=_land("BLM", "Federal")))
    # EA (6-18) then the right-of-way steps (3-12); section 106 (3-12) runs beside them.
    assert pathway.likely_timeline_months == (9.0, 30.0)
    assert pathway.critical_path == ("nepa_ea", "blm_right_of_way")
    assert pathway.n_reviews == 3
    assert pathway.timeline_complete


def test_usfs_land__special_use_with_usfs_lead():
    pathway = _pathway(_layers(land_manager=_land("USFS", "Federal", "National Forest")))
    assert pathway.status("usfs_special_use") == "triggered"
    assert pathway.status("blm_right_of_way") == "not_triggered"
    assert pathway.lead_agency == "USDA Forest Service (USFS)"
    assert pathway.nepa_level == "EA"


def test_other_federal_land__lead_agency_is_the_manager():
    pathway = _pathway(_layers(land_manager=_land("NPS", "FED")))
    assert pathway.lead_agency == "NPS"


def test_wetland__cwa_404_and_section_106_without_nepa():
    wetlands = _polygons([{"wid": "NWI-7", "geometry": box(-20, -20, 20, 20)}])
    layer = ScreeningLayer("wetlands", wetlands, id_column="wid")
    pathway = _pathway(_layers(wetlands=layer))
    row = pathway.permit("cwa_section_404")
    assert row.status == "triggered"
    assert row.agency == "U.S. Army Corps of Engineers (USACE)"
    assert "33 U.S.C. 1344" in row.citation
    assert [(e.layer, e.feature_id, e.distance_m) for e in row.evidence] == [
        ("wetlands", "NWI-7", 0.0)
    ]
    assert pathway.status("nhpa_section_106") == "triggered"  # the 404 permit is federal
    assert pathway.nepa_level == "none"


def test_wetland_nearby_but_not_under_the_site__no_404():
    wetlands = _polygons([{"geometry": box(300, 300, 320, 320)}])
    pathway = _pathway(_layers(wetlands=wetlands))
    assert pathway.status("cwa_section_404") == "not_triggered"
    assert "nearest feature" in pathway.permit("cwa_section_404").evidence[0].description


def test_airport_2km_250ft_structure__faa_notice_by_height_and_by_slope():
    facts = ProjectFacts(capacity_mw=5, acres=4, structure_height_ft=250)
    pathway = _pathway(
        _layers(airports=ScreeningLayer("airports", _airport(2000.0), id_column="code")), facts
    )
    row = pathway.permit("faa_form_7460_1")
    assert row.status == "triggered"
    assert "14 CFR 77.9" in row.citation
    facts_seen = {e.fact for e in row.evidence if e.source == "fact"}
    assert {"structure_height_ft", "faa_slope_exceeded"} <= facts_seen
    airport = [e for e in row.evidence if e.layer == "airports"]
    assert airport[0].feature_id == "AP1"
    assert airport[0].distance_m == pytest.approx(2000.0)
    assert "65.6 ft" in airport[0].description  # the surface height at 2 km


def test_airport_2km_50ft_structure_long_runway__slope_test_not_triggered():
    # 2,000 m is 6,562 ft; the 100:1 surface is 65.6 ft up there, above a 50 ft building.
    assert 2000 / FOOT_M / 100 > 50
    facts = ProjectFacts(capacity_mw=5, acres=4, structure_height_ft=50)
    pathway = _pathway(_layers(airports=_airport(2000.0, runway_ft=8000)), facts)
    assert pathway.status("faa_form_7460_1") == "not_triggered"
    assert pathway.facts["faa_slope_exceeded"] is False


def test_airport_far_away_250ft_structure__faa_notice_by_height_only():
    facts = ProjectFacts(structure_height_m=80)  # 262 ft
    pathway = _pathway(_layers(airports=_airport(30_000.0)), facts)
    row = pathway.permit("faa_form_7460_1")
    assert row.status == "triggered"
    assert pathway.facts["faa_slope_exceeded"] is False
    assert {e.fact for e in row.evidence} == {"structure_height_ft"}


@pytest.mark.parametrize(
    ("height_ft", "distance_m", "kind", "runway_ft", "expected"),
    [
        (50, 2000, "public", 6000, False),  # 100:1 -> 65.6 ft
        (70, 2000, "public", 6000, True),
        (70, 2000, "military", 6000, True),
        (70, 7000, "public", 6000, False),  # beyond 20,000 ft
        (100, 2000, "public", 3000, False),  # 50:1 -> 131 ft
        (140, 2000, "public", 3000, True),
        (140, 3500, "public", 3000, False),  # beyond 10,000 ft
        (140, 1000, "heliport", None, True),  # 25:1 -> 131 ft
        (140, 2000, "heliport", None, False),  # beyond 5,000 ft
        (70, 2000, None, None, True),  # unknown kind and runway: the stricter 100:1
        (250, 2000, "private", 6000, False),  # private-use airports are not in 77.9(d)
    ],
)
def test_faa_notice_surface(height_ft, distance_m, kind, runway_ft, expected):
    got = exceeds_notice_surface(height_ft, distance_m, kind=kind, runway_length_ft=runway_ft)
    assert got is expected


def test_airports_screened_too_close__slope_fact_is_unknown():
    facts = ProjectFacts(structure_height_ft=100)
    layer = ScreeningLayer("airports", _airport(5000.0), search_m=1000)
    pathway = _pathway(_layers(airports=layer), facts)
    assert pathway.status("faa_form_7460_1") == "unknown"
    assert "6,096 m" in pathway.permit("faa_form_7460_1").unknown[0]


def test_no_structure_height__faa_notice_is_unknown():
    pathway = _pathway(_layers(airports=_airport(2000.0)), ProjectFacts(capacity_mw=5))
    assert pathway.status("faa_form_7460_1") == "unknown"


def test_private_land_no_federal_nexus__no_nepa_no_106_no_section_7():
    land = _land("PRIVATE", "Private", "Private Land")
    habitat = _polygons([{"geometry": box(-50, -50, 50, 50)}])
    pathway = _pathway(_layers(land_manager=land, critical_habitat=habitat))
    assert pathway.facts["federal_nexus"] is False
    assert pathway.nepa_level == "none"
    assert pathway.lead_agency is None
    for permit_id in ("nepa_ce", "nepa_ea", "nepa_eis", "nhpa_section_106", "esa_section_7"):
        assert pathway.status(permit_id) == "not_triggered", permit_id
    assert pathway.status("local_land_use") == "triggered"
    assert pathway.permit("local_land_use").check_locally
    assert pathway.critical_path == ("local_land_use", "building_permit")
    assert pathway.likely_timeline_months == (4.0, 16.0)


def test_private_land_with_federal_funding__nepa_with_the_funding_agency():
    land = _land("PRIVATE", "Private", "Private Land")
    facts = ProjectFacts(capacity_mw=5, acres=4, federal_funding=True, funding_agency="DOE")
    pathway = _pathway(_layers(land_manager=land), facts)
    assert pathway.nepa_level == "CE"
    assert pathway.lead_agency == "DOE"
    assert pathway.status("nhpa_section_106") == "triggered"
    assert pathway.status("blm_right_of_way") == "not_triggered"
    bigger = ProjectFacts(capacity_mw=5, acres=40, federal_funding=True)
    pathway = _pathway(_layers(land_manager=land), bigger)
    assert pathway.nepa_level == "EA"
    assert pathway.lead_agency == "the federal funding agency (e.g. DOE)"


def test_very_large_footprint_with_nexus__eis():
    facts = ProjectFacts(capacity_mw=5, acres=2000, federal_funding=True, funding_agency="DOE")
    pathway = _pathway(_layers(), facts)
    assert pathway.nepa_level == "EIS"
    assert pathway.permit("nepa_ea").superseded_by == "nepa_eis"
    assert pathway.permit("nepa_ce").superseded_by == "nepa_eis"


def test_critical_habitat_with_federal_nexus__section_7():
    habitat = _polygons([{"species": "desert tortoise", "geometry": box(100, -50, 200, 50)}])
    pathway = _pathway(_layers(land_manager=_land("BLM", "Federal"), critical_habitat=habitat))
    row = pathway.permit("esa_section_7")
    assert row.status == "triggered"
    assert "16 U.S.C. 1536" in row.citation
    assert "50 CFR part 402" in row.citation
    habitat_evidence = [e for e in row.evidence if e.layer == "critical_habitat"]
    assert habitat_evidence[0].distance_m == pytest.approx(100.0)
    assert habitat_evidence[0].attributes["species"] == "desert tortoise"


def test_tribal_land__bia_approval_and_nepa_with_bia_lead():
    tribal = _polygons([{"name": "Example Reservation", "geometry": box(-10, -10, 10, 10)}])
    pathway = _pathway(_layers(tribal_lands=tribal))
    assert pathway.status("tribal_land_approval") == "triggered"
    assert pathway.lead_agency == "Bureau of Indian Affairs (BIA)"


def test_flood_zone_and_large_load_and_state_siting():
    flood = _polygons([{"FLD_ZONE": "AE", "geometry": box(-10, -10, 10, 10)}])
    pathway = _pathway(_layers(flood_zones=flood), ProjectFacts(capacity_mw=60, acres=4))
    assert pathway.status("floodplain_development") == "triggered"
    assert pathway.permit("floodplain_development").evidence[0].attributes == {"zone": "AE"}
    assert pathway.status("large_load_interconnection") == "triggered"
    assert pathway.status("state_siting") == "triggered"
    small = _pathway(_layers(), ProjectFacts(capacity_mw=5, acres=4))
    assert small.status("large_load_interconnection") == "not_triggered"


def test_large_load_threshold_is_a_parameter(rules):
    facts = ProjectFacts(capacity_mw=30, acres=4)
    assert _pathway(_layers(), facts, rules=rules).status("large_load_interconnection") == (
        "triggered"
    )
    ercot = rules.with_parameters(large_load_threshold_mw=75)
    assert _pathway(_layers(), facts, rules=ercot).status("large_load_interconnection") == (
        "not_triggered"
    )


# -- unknowns ------------------------------------------------------------------------------


def test_layer_not_provided__status_not_provided_and_rules_unknown():
    layers = _layers(wetlands=None)
    pathway = _pathway(layers)
    assert pathway.layer_status["wetlands"] == "not_provided"
    row = pathway.permit("cwa_section_404")
    assert row.status == "unknown"
    assert row.unknown == ("layer 'wetlands' not provided",)
    (gap,) = pathway.not_screened
    assert gap.layer == "wetlands"
    assert "cwa_section_404" in gap.permits
    assert not pathway.timeline_complete
    # private land without funding: section 106 hinges on the wetland too
    assert pathway.status("nhpa_section_106") == "unknown"


def test_land_manager_not_provided__nepa_unknown_unless_funding_decides():
    pathway = _pathway(_layers(land_manager=None))
    assert pathway.facts["federal_land"] is None
    assert pathway.nepa_level == "unknown"
    assert pathway.status("blm_right_of_way") == "unknown"
    assert pathway.status("local_land_use") == "unknown"
    funded = _pathway(_layers(land_manager=None), ProjectFacts(acres=4, federal_funding=True))
    assert funded.facts["federal_nexus"] is True
    assert funded.status("nepa_ce") in ("triggered", "superseded")
    # the EA could be needed because of federal land, which nobody checked
    assert funded.status("nepa_ea") == "unknown"


def test_failed_layer__rules_unknown_with_the_message():
    layers = _layers(wetlands=ScreeningLayer.failed("wetlands", "truncated file"))
    pathway = _pathway(layers)
    assert pathway.status("cwa_section_404") == "unknown"
    assert "truncated file" in pathway.permit("cwa_section_404").unknown[0]
    assert pathway.not_screened[0].status == "failed"


def test_empty_layer__screened_and_not_triggered():
    pathway = _pathway(_layers())
    assert pathway.layer_status["wetlands"] == "empty"
    assert pathway.status("cwa_section_404") == "not_triggered"
    assert pathway.not_screened == ()
    assert pathway.timeline_complete


def test_unknown_fact__rule_unknown_never_not_triggered():
    pathway = _pathway(_layers(), ProjectFacts(acres=4))  # capacity not given
    assert pathway.status("large_load_interconnection") == "unknown"
    assert "capacity_mw" in pathway.permit("large_load_interconnection").unknown[0]


# -- rules files ---------------------------------------------------------------------------


def test_shipped_rules_load_and_every_permit_has_a_citation_and_timeline(rules):
    ids = {p.id for p in rules.permits}
    assert {
        "nepa_ce",
        "nepa_ea",
        "nepa_eis",
        "blm_right_of_way",
        "usfs_special_use",
        "esa_section_7",
        "nhpa_section_106",
        "cwa_section_404",
        "faa_form_7460_1",
        "state_siting",
        "local_land_use",
        "building_permit",
        "large_load_interconnection",
    } <= ids
    for permit in rules.permits:
        assert permit.citation.strip(), permit.id
        low, high = permit.timeline_months
        assert 0 < low <= high, permit.id
        assert permit.timeline_source.strip(), permit.id
        assert permit.agency or permit.lead_agency, permit.id
    assert set(ROLES) <= set(rules.layers)
    assert "42 U.S.C. 4321" in rules.permit("nepa_ea").citation
    assert "54 U.S.C. 306108" in rules.permit("nhpa_section_106").citation
    assert "36 CFR part 251" in rules.permit("usfs_special_use").citation
    json.dumps(rules.to_dict())


def test_shipped_rules_file_is_package_data():
    from importlib import resources

    assert (resources.files("siting.permitting") / "rules.toml").is_file()


def _write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


_MINIMAL = """
[layers.wetlands]
description = "w"

[[permit]]
id = "p1"
name = "P1"
kind = "permit"
agency = "A"
citation = "33 U.S.C. 1344"
timeline_months = [1, 2]
timeline_source = "typical"
{when}
{extra}
"""


@pytest.mark.parametrize(
    ("when", "extra", "match"),
    [
        ("", 'colour = "red"', r"rule 'p1', field 'colour': unknown field"),
        ('when = { screen = "eagle_nests", hit = true }', "", r"field 'when.screen'.*eagle_nests"),
        ('when = { fact = "height_m", gt = 3 }', "", r"field 'when.fact'.*unknown fact"),
        ('when = { fact = "capacity_mw", within_m = 3 }', "", r"'within_m' applies to screening"),
        ('when = { fact = "state", gt = 3 }', "", r"field 'when.gt'.*compares numbers"),
        ('when = { fact = "capacity_mw", equals = "big" }', "", r"'big' is a string"),
        ('when = { fact = "capacity_mw", gt = 1, lt = 9 }', "", r"exactly one comparison"),
        ('when = { fact = "capacity_mw", contains = 3 }', "", r"field\(s\) \['contains'\]"),
        ('when = { screen = "wetlands", hit = "yes" }', "", r"field 'when.hit': true or false"),
        ('when = { screen = "wetlands", equals = 1 }', "", r"need an 'attribute'"),
        ("when = { any = [] }", "", r"field 'when.any': a non-empty list"),
        ('when = { all = [{ fact = "state", equals = "NV" }], any = [] }', "", "exactly one of"),
        ('when = { fact = "capacity_mw", ge = { param = "nope" } }', "", r"unknown parameter"),
        ('when = { not = { screen = "wetlands", within_m = -5 } }', "", r"'when.not.within_m'"),
        ("", 'after = ["p9"]', r"field 'after': names 'p9'"),
        ("", 'nepa_level = "FONSI"', r"field 'nepa_level'"),
    ],
)
def test_bad_rules_file__scenario_error_names_rule_and_field(tmp_path, when, extra, match):
    path = _write(tmp_path, _MINIMAL.format(when=when, extra=extra))
    with pytest.raises(ScenarioError, match=match):
        load_rules(path)


def test_bad_rules_file__unknown_top_level_field_and_missing_citation(tmp_path):
    with pytest.raises(ScenarioError, match=r"unknown top-level field\(s\) \['permits'\]"):
        load_rules(_write(tmp_path, "[[permits]]\nid = 'x'\n"))
    text = _MINIMAL.format(when="", extra="").replace('citation = "33 U.S.C. 1344"\n', "")
    with pytest.raises(ScenarioError, match=r"rule 'p1', field 'citation': is required"):
        load_rules(_write(tmp_path, text))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_rules(_write(tmp_path, "[[permit]\n"))


def test_bad_rules_file__after_loop_is_refused(tmp_path):
    first = _MINIMAL.format(when="", extra='after = ["p2"]')
    second = _MINIMAL.format(when="", extra='after = ["p1"]').replace('"p1"', '"p2"', 1)
    second = second.replace("[layers.wetlands]", "[layers.flood_zones]")
    with pytest.raises(ScenarioError, match=r"loop: p1 -> p2 -> p1|loop: p2 -> p1 -> p2"):
        load_rules(_write(tmp_path, first + second))


def test_extend__custom_layer_fact_permit_override_and_disable(tmp_path, rules):
    extension = _write(
        tmp_path,
        """
disable = ["state_siting"]

[parameters]
large_load_threshold_mw = 75

[layers.eagle_nests]
description = "Golden eagle nests (state wildlife agency)"

[facts.uses_diesel_backup]
type = "bool"
description = "backup diesel generators on site"

[[permit]]
id = "eagle_take"
name = "Eagle incidental take permit"
kind = "permit"
agency = "U.S. Fish and Wildlife Service"
citation = "Bald and Golden Eagle Protection Act, 16 U.S.C. 668-668d; 50 CFR 22.200"
timeline_months = [3, 12]
timeline_source = "typical range"
when = { screen = "eagle_nests", within_m = 3200 }

[[permit]]
id = "state_air_permit"
name = "State air permit for backup generators"
kind = "permit"
agency = "state air agency"
citation = "state implementation plan rules (varies): check locally"
timeline_months = [3, 9]
timeline_source = "typical range; check locally"
check_locally = true
when = { fact = "uses_diesel_backup", equals = true }

[[permit]]
id = "cwa_section_404"
name = "Clean Water Act section 404 permit (USACE), any mapped water within 50 m"
kind = "permit"
agency = "U.S. Army Corps of Engineers (USACE)"
citation = "33 U.S.C. 1344; 33 CFR parts 320-332"
timeline_months = [2, 12]
timeline_source = "typical range"
when = { screen = "wetlands", within_m = 50 }
""",
        name="local.toml",
    )
    extended = load_rules(extend=[extension])
    ids = [p.id for p in extended.permits]
    assert "state_siting" not in ids
    assert "eagle_take" in ids
    assert "state_air_permit" in ids
    assert extended.parameters["large_load_threshold_mw"] == 75.0
    assert extended.sources[-1].endswith("local.toml")
    nests = _polygons([{"geometry": Point(2000, 0).buffer(5)}])
    wetland_40m = _polygons([{"geometry": box(40, -5, 60, 5)}])
    facts = ProjectFacts(capacity_mw=30, acres=4, extra={"uses_diesel_backup": True})
    layers = {**_layers(wetlands=wetland_40m), "eagle_nests": nests}
    pathway = _pathway(layers, facts, rules=extended)
    assert pathway.status("eagle_take") == "triggered"
    assert pathway.status("state_air_permit") == "triggered"
    assert pathway.status("cwa_section_404") == "triggered"  # the override's 50 m test
    assert pathway.status("large_load_interconnection") == "not_triggered"
    # without the custom layer, its rule is unknown
    assert _pathway(_layers(), facts, rules=extended).status("eagle_take") == "unknown"
    with pytest.raises(ScenarioError, match="do not declare"):
        _pathway(_layers(), ProjectFacts(extra={"mystery": 1}), rules=extended)
    with pytest.raises(ScenarioError, match="is a bool"):
        _pathway(_layers(), ProjectFacts(extra={"uses_diesel_backup": "yes"}), rules=extended)


def test_extend__disabling_an_unknown_permit_is_an_error(tmp_path):
    with pytest.raises(ScenarioError, match="'disable' names 'nope'"):
        load_rules(extend=[_write(tmp_path, 'disable = ["nope"]\n', "x.toml")])


def test_attribute_test_beyond_the_search_distance_is_unknown(tmp_path):
    text = _MINIMAL.format(
        when='when = { screen = "wetlands", attribute = "code", equals = "PEM1C", '
        "within_m = 5000 }",
        extra="",
    )
    rules = load_rules(_write(tmp_path, text))
    wetlands = _polygons([{"ATTRIBUTE": "PEM1C", "geometry": box(3000, 0, 3010, 10)}])
    near = ScreeningLayer("wetlands", wetlands, search_m=1000)
    far = ScreeningLayer("wetlands", wetlands, search_m=6000)
    assert _pathway({"wetlands": near}, rules=rules).status("p1") == "unknown"
    assert _pathway({"wetlands": far}, rules=rules).status("p1") == "triggered"


def test_interpreter_never_evaluates_strings(tmp_path, monkeypatch):
    payload = "__import__('os').system('echo pwned')"
    text = _MINIMAL.format(when=f'when = {{ fact = "state", equals = "{payload}" }}', extra="")
    rules = load_rules(_write(tmp_path, text))

    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec/compile must never be called")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    assert _pathway({}, ProjectFacts(state="NV"), rules=rules).status("p1") == "not_triggered"
    # the payload is a plain string: equal only to that same string
    assert _pathway({}, ProjectFacts(state=payload), rules=rules).status("p1") == "triggered"
    assert rules.permit("p1").to_dict()["when"] == {"fact": "state", "equals": payload}


def test_permitting_package_has_no_dynamic_code_execution():
    forbidden = {"eval", "exec", "compile", "__import__"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden, f"{path.name}: {node.func.id}()"


# -- facts ---------------------------------------------------------------------------------


def test_project_facts__unit_conversions_and_errors():
    facts = ProjectFacts(footprint_m2=8093.7128448, structure_height_m=61)
    assert facts.acres == pytest.approx(2.0)
    assert facts.structure_height_ft == pytest.approx(200.13, abs=0.01)
    with pytest.raises(ScenarioError, match="disagree"):
        ProjectFacts(acres=1, footprint_m2=100)
    with pytest.raises(ScenarioError, match="capacity_mw"):
        ProjectFacts(capacity_mw=-1)
    with pytest.raises(ScenarioError, match="federal_funding"):
        ProjectFacts(federal_funding="yes")  # type: ignore[arg-type]


def test_project_facts__federal_land_given_overrides_the_screening():
    facts = ProjectFacts(acres=4, federal_land=True, funding_agency="DOE")
    pathway = _pathway(_layers(land_manager=None), facts)
    assert pathway.facts["federal_land"] is True
    assert pathway.nepa_level == "EA"


# -- pathways and complexity ------------------------------------------------------------------


def test_pathways_and_complexity_per_site():
    sites = _sites((0, 0), (5000, 0))
    layers = _layers(land_manager=_land("BLM", "Federal"))
    screening = screen(sites, layers, id_column="name")
    per_site = {
        "s0": ProjectFacts(capacity_mw=5, acres=4),
        "s1": ProjectFacts(capacity_mw=50, acres=4),
    }
    pathways = permitting_pathways(screening, per_site)
    assert [p.site_id for p in pathways] == ["s0", "s1"]
    table = permitting_complexity(pathways)
    assert list(table.columns) == [
        "permits_triggered",
        "permits_unknown",
        "timeline_months_low",
        "timeline_months_high",
        "nepa_level",
        "nepa_rank",
        "layers_not_screened",
    ]
    assert table.index.name == "site_id"
    assert table.loc["s0", "nepa_level"] == "EA"
    assert table.loc["s0", "nepa_rank"] == 2
    assert table.loc["s1", "nepa_level"] == "none"
    # s1: local land use, building, large load (12-36), state siting -> the load study leads
    assert table.loc["s1", "timeline_months_high"] == 36.0
    assert table["permits_triggered"].dtype == np.int64
    with pytest.raises(ScenarioError, match="no entry for site 's1'"):
        permitting_pathways(screening, {"s0": per_site["s0"]})
    with pytest.raises(ScenarioError, match="pass site_id"):
        permitting_pathway(screening, per_site["s0"])


def test_pathway_to_dict_is_json_ready():
    land = _land("BLM", "Federal")
    land["gap_status"] = np.float64(3.0)
    pathway = _pathway(_layers(land_manager=land, wetlands=None))
    record = json.loads(json.dumps(pathway.to_dict()))
    assert record["nepa_level"] == "EA"
    assert "not a legal determination" in record["disclaimer"]
    row = next(p for p in record["permits"] if p["id"] == "blm_right_of_way")
    assert row["evidence"][0]["layer"] == "land_manager"
    assert record["not_screened"][0]["layer"] == "wetlands"


def test_lines_work_as_screening_features():
    runway = gpd.GeoDataFrame(
        {"kind": ["public"], "runway_length_ft": [6000.0]},
        geometry=[LineString([(1500, -500), (1500, 500)])],
        crs=CRS,
    )
    facts = ProjectFacts(structure_height_ft=60)  # 1,500 m is 4,921 ft: surface at 49 ft
    assert _pathway(_layers(airports=runway), facts).status("faa_form_7460_1") == "triggered"


# -- the sample region ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    import siting
    from siting.datasets import load_sample, write_demo_inputs
    from siting.scenario import Scenario

    inputs = write_demo_inputs(tmp_path_factory.mktemp("inputs"))
    result = siting.run(Scenario.from_toml(inputs))
    return result, load_sample()


def test_sample_region__top_sites_screened_against_land_and_airports(sample_run):
    result, sample = sample_run
    sites = result.sites
    screening = screen(
        sites,
        {"land_manager": sample.federal_land, "airports": sample.airports, "wetlands": None},
        id_column="rank",
    )
    assert screening.status("land_manager") == "ok"
    assert screening.status("airports") in ("ok", "empty")
    assert screening.status("wetlands") == "not_provided"
    facts = ProjectFacts(capacity_mw=10, acres=8, structure_height_ft=40)
    pathways = permitting_pathways(screening, facts)
    assert len(pathways) == len(sites)
    on_blm = sites.sjoin(
        sample.federal_land[sample.federal_land["manager"] == "BLM"].to_crs(sites.crs),
        predicate="intersects",
    )["rank"].unique()
    assert len(on_blm) > 0
    by_site = {p.site_id: p for p in pathways}
    for rank in sites["rank"]:
        pathway = by_site[int(rank)]
        if rank in on_blm:
            assert pathway.status("blm_right_of_way") == "triggered"
            assert pathway.lead_agency == "Bureau of Land Management (BLM)"
            assert pathway.nepa_level in ("EA", "EIS")
        else:
            assert pathway.status("blm_right_of_way") == "not_triggered"
        assert pathway.status("cwa_section_404") == "unknown"  # wetlands not provided
        assert any(n.layer == "wetlands" for n in pathway.not_screened)
    table = permitting_complexity(pathways)
    assert len(table) == len(sites)
    assert (table["permits_unknown"] > 0).all()
    assert isinstance(table, pd.DataFrame)
    json.dumps([p.to_dict() for p in pathways])


def test_screen__layer_without_active_geometry_fails_that_layer_only():
    frame = gpd.GeoDataFrame({"name": ["x"], "shape": [box(0, 0, 1, 1)]})  # geometry not set
    result = screen(_sites((0, 0)), {"wetlands": frame, "flood_zones": _empty()})
    assert result.status("wetlands") == "failed"
    assert "set_geometry" in result.layers["wetlands"].message
    assert result.status("flood_zones") == "empty"
