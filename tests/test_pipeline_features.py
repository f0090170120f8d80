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
