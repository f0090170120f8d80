"""Edge-compute features inside a run: population within a latency budget."""

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


def test_permitting_section__screens_sites_and_writes_permitting_json(demo, tmp_path):
    import json

    import geopandas as gpd

    folder, data = demo
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
