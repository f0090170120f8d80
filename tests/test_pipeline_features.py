"""Edge-compute features inside a run: latency to people, 24/7 clean-energy fit, cooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import siting
from siting.datasets import write_demo_inputs
from siting.errors import ScenarioError
from siting.features import LatencyModel, population_within_latency
from siting.scenario import Scenario


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = write_demo_inputs(tmp_path_factory.mktemp("inputs"))
    return path.parent, Scenario.from_toml(path).to_toml_dict()


def _with_latency(demo, **feature) -> Scenario:
    folder, data = demo
    data = {**data, "features": {**data["features"]}, "scorer": {**data["scorer"]}}
    data["features"]["people_within_2ms"] = {
        "kind": "population_within_latency",
        "vector": "towns",
        "budget_ms": 2.0,
        **feature,
    }
    criteria = {**data["scorer"]["criteria"]}
    criteria["people_within_2ms"] = {"weight": 2, "better": "higher"}
    data["scorer"]["criteria"] = criteria
    return Scenario.from_dict(data, base_dir=folder)


def test_latency_feature__equals_the_per_site_computation(demo):
    result = siting.run(_with_latency(demo))
    sites = result.sites
    towns = result.context["towns"]
    reference = population_within_latency(
        sites, towns, budgets_ms=(2.0,), model=LatencyModel(route_factor=1.5)
    )["population_within_2ms"]
    np.testing.assert_allclose(sites["people_within_2ms"], reference.to_numpy())
    assert sites["people_within_2ms"].max() > 0  # some site reaches some town within 2 ms
    assert "contribution_people_within_2ms" in sites.columns
    layer = result.stack["people_within_2ms"]
    assert layer.attrs["units"] == "people"


def test_latency_feature__a_wider_route_reaches_fewer_people(demo):
    base = siting.run(_with_latency(demo)).stack["people_within_2ms"]
    winding = siting.run(_with_latency(demo, route_factor=2.5)).stack["people_within_2ms"]
    assert (winding.values <= base.values + 1e-9).all()
    assert winding.values.sum() < base.values.sum()


def test_latency_feature__bad_weight_column_is_named(demo):
    scenario = _with_latency(demo, weight_column="residents")
    with pytest.raises(ScenarioError, match=r"'residents' is not a column of vectors\.towns"):
        siting.run(scenario)


def test_latency_feature__budget_must_be_positive(demo):
    with pytest.raises(ScenarioError, match="budget_ms"):
        _with_latency(demo, budget_ms=0)


def test_energy_section__every_site_gets_its_24_7_fit(demo):
    folder, data = demo
    result = siting.run(Scenario.from_dict(data, base_dir=folder))
    sites = result.sites
    columns = ["cfe_overbuild", "cfe_reachable", "cfe_share_at_max", "cfe_curtailed_share"]
    assert all(c in sites.columns for c in columns)
    assert (sites["cfe_profile_source"] == "typical").all()
    assert sites["cfe_share_at_max"].between(0, 1).all()
    reachable = sites["cfe_reachable"].astype(bool)
    assert sites.loc[reachable, "cfe_overbuild"].between(0, 10).all()
    assert sites.loc[~reachable, "cfe_overbuild"].isna().all()


def test_energy_section__unknown_layer_is_named(demo):
    folder, data = demo
    data = {**data, "energy": {"load_mw": 10, "ghi_layer": "ghi"}}
    with pytest.raises(ScenarioError, match=r"energy\.ghi_layer = 'ghi'"):
        Scenario.from_dict(data, base_dir=folder)


@pytest.fixture(scope="module")
def demo_run(demo) -> siting.Result:
    folder, data = demo
    return siting.run(Scenario.from_dict(data, base_dir=folder), chunks=None)


def test_cfe_share_feature__every_cell_scored_and_equal_to_the_library_function(demo_run):
    from siting.energy import typical_cfe_share
    from siting.features import grid_centre_lonlat

    cands = demo_run.candidates
    assert cands["cfe_share_2x"].notna().all()
    assert cands["cfe_share_2x"].between(0, 1).all()
    lon, lat = grid_centre_lonlat(demo_run.grid)
    sample = cands.sample(50, random_state=0)
    expected = typical_cfe_share(
        sample["ghi_kwh_m2_day"].to_numpy(),
        sample["wind_speed_100m_m_s"].to_numpy(),
        latitude=lat,
        longitude=lon,
        overbuild=2.0,
        battery_hours=4.0,
    )
    np.testing.assert_allclose(sample["cfe_share_2x"], expected, rtol=1e-6)
    sites = demo_run.sites
    assert "contribution_cfe_share_2x" in sites.columns
    # A site that serves more of the load at 2x nameplate needs less overbuild for 90 %.
    reachable = sites["cfe_reachable"].astype(bool)
    rho = sites.loc[reachable, ["cfe_share_2x", "cfe_overbuild"]].corr("spearman").iloc[0, 1]
    assert rho < -0.8


def test_cooling_feature__lower_where_the_ground_is_higher(demo_run):
    cands = demo_run.candidates
    stack = demo_run.stack
    assert stack["cooling_degree_hours"].attrs["units"] == "degC h"
    # The sample's temperature falls with elevation, so cooling load does too.
    rho = cands[["air_temperature_c", "cooling_degree_hours"]].corr("spearman").iloc[0, 1]
    assert rho > 0.99
    assert "contribution_cooling_degree_hours" in demo_run.sites.columns


def test_climate_features__tiled_run_equals_in_memory(demo, demo_run):
    folder, data = demo
    tiled = siting.run(Scenario.from_dict(data, base_dir=folder), chunks=64)
    for name in ("cfe_share_2x", "cooling_degree_hours"):
        np.testing.assert_array_equal(tiled.candidates[name], demo_run.candidates[name])
    assert tiled.sites["cell_id"].tolist() == demo_run.sites["cell_id"].tolist()


def test_climate_features__a_layer_that_is_not_in_the_stack_is_named(demo):
    folder, data = demo
    features = {**data["features"], "hot": {"kind": "hours_above", "temperature_layer": "tmean"}}
    with pytest.raises(ScenarioError, match=r"features\.hot reads the layer 'tmean'"):
        Scenario.from_dict({**data, "features": features}, base_dir=folder)
    mix = {"kind": "cfe_share", "solar_share": 0.0, "wind_layer": None}
    with pytest.raises(ScenarioError, match="wind_layer"):
        Scenario.from_dict({**data, "features": {**data["features"], "x": mix}}, base_dir=folder)


def test_permitting_section__screens_sites_and_writes_permitting_json(demo, tmp_path):
    import json

    import geopandas as gpd

    folder, data = demo
    # Without the cooling criterion, whose cool uplands lie far from the valley airports.
    criteria = {k: v for k, v in data["scorer"]["criteria"].items() if k != "cooling_degree_hours"}
    data = {**data, "scorer": {**data["scorer"], "criteria": criteria}}
    result = siting.run(Scenario.from_dict(data, base_dir=folder), out_dir=tmp_path / "run")
    record = json.loads(result.files["permitting"].read_text())
    statuses = {role: layer["status"] for role, layer in record["layers"].items()}
    assert statuses["land_manager"] == statuses["airports"] == "ok"
    assert statuses["wetlands"] == "not_provided"  # never reported as "no concern"
    assert record["disclaimer"]
    sites = result.sites
    pathways = {p["site_id"]: p for p in record["pathways"]}
    assert set(pathways) == set(sites["cell_id"].astype(str))
    # Sites inside a BLM polygon need a BLM right-of-way; sites outside federal land do not.
    land = result.context["federal_land"].to_crs(sites.crs)
    on = gpd.sjoin(sites[["cell_id", "geometry"]], land[["manager", "geometry"]], how="left")
    managers = set()
    for cell_id, manager in zip(on["cell_id"], on["manager"], strict=True):
        permits = {p["id"]: p["status"] for p in pathways[str(cell_id)]["permits"]}
        managers.add(manager)
        if manager == "BLM":
            assert permits["blm_right_of_way"] == "triggered"
        else:
            assert permits["blm_right_of_way"] != "triggered"
    assert "BLM" in managers  # the check above ran on at least one BLM site
    # Complexity columns count the pathway's triggered permits.
    for _, site in sites.iterrows():
        permits = pathways[str(site["cell_id"])]["permits"]
        triggered = sum(p["status"] == "triggered" for p in permits)
        assert site["permits_triggered"] == triggered


def test_permitting_section__unknown_vector_is_named(demo):
    folder, data = demo
    data = {**data, "permitting": {"layers": {"wetlands": "nwi"}}}
    with pytest.raises(ScenarioError, match=r"permitting\.layers\.wetlands = 'nwi'"):
        Scenario.from_dict(data, base_dir=folder)


def test_dossier_format__the_run_writes_a_valid_dossier_per_site(demo, tmp_path):
    import json

    from siting.permitting import validate_dossier

    folder, data = demo
    assert "dossier" in data["outputs"]["formats"]  # the demo asks for them
    result = siting.run(Scenario.from_dict(data, base_dir=folder), out_dir=tmp_path / "run")
    folder_out = result.files["dossiers"]
    ids = sorted(result.sites["cell_id"].astype(str))
    assert sorted(p.stem for p in folder_out.glob("*.json")) == ids
    for path in folder_out.glob("*.json"):
        validate_dossier(json.loads(path.read_text()))
    manifest = json.loads(result.files["manifest"].read_text())
    assert manifest["outputs"]["dossiers"] == "dossiers"
    # A forced rerun into the same folder replaces the dossiers of the first run.
    fewer = {**data, "ranking": {**data["ranking"], "top_n": 3}}
    again = siting.run(
        Scenario.from_dict(fewer, base_dir=folder), out_dir=tmp_path / "run", overwrite=True
    )
    ids = sorted(again.sites["cell_id"].astype(str))
    assert sorted(p.stem for p in again.files["dossiers"].glob("*.json")) == ids


@pytest.mark.parametrize("solver", ["exact", "greedy"])
def test_portfolio_ranking__covers_at_least_as_many_people_as_top_k(demo, solver, tmp_path):
    folder, data = demo
    plain = siting.run(Scenario.from_dict(data, base_dir=folder))
    ranking = {
        **data["ranking"],
        "top_n": 5,
        "portfolio": {"demand": "towns", "budget_ms": 1.5, "solver": solver},
    }
    scenario = Scenario.from_dict({**data, "ranking": ranking}, base_dir=folder)
    result = siting.run(scenario, out_dir=tmp_path / "run")
    sites = result.sites
    assert len(sites) == 5
    assert sites["rank"].tolist() == [1, 2, 3, 4, 5]
    spacing = np.hypot(
        *(sites[["x", "y"]].to_numpy()[:, None, :] - sites[["x", "y"]].to_numpy()).T
    )
    assert spacing[np.triu_indices(5, 1)].min() >= data["ranking"]["min_spacing_km"] * 1000

    def covered(chosen):
        """People within the budget of at least one chosen site, each town counted once."""
        towns = result.context["towns"].to_crs(chosen.crs)
        xy = np.column_stack([towns.geometry.x, towns.geometry.y])
        radius = LatencyModel().radius_m(1.5)
        reach = np.zeros(len(towns), bool)
        for x, y in chosen[["x", "y"]].to_numpy():
            reach |= np.hypot(xy[:, 0] - x, xy[:, 1] - y) <= radius
        return towns["population"].to_numpy()[reach].sum()

    portfolio_people = covered(sites)
    assert portfolio_people == pytest.approx(sites.attrs["portfolio"]["covered_population"])
    assert portfolio_people >= covered(plain.sites.head(5)) - 1e-9
    import json

    summary = json.loads(result.files["manifest"].read_text())["summary"]["portfolio"]
    assert summary["method"] == solver
    assert summary["covered_population"] == pytest.approx(portfolio_people)


def test_climate_features__dossiers_carry_their_units(demo_run):
    from siting.permitting import build_dossiers

    permitting = demo_run.permitting
    assert permitting is not None
    assert demo_run.sites.attrs["units"]["cooling_degree_hours"] == "degC h"
    dossiers = build_dossiers(
        demo_run.sites,
        permitting["pathways"],
        layers=permitting["layers"],
        rules_version=permitting["rules_version"],
    )
    features = {f["name"]: f for f in dossiers[0]["site"]["features"]}
    assert features["cooling_degree_hours"]["units"] == "degC h"
    assert features["ghi_kwh_m2_day"]["units"] == "kWh/m²/day"  # from the column name
