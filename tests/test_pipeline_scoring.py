"""Scoring inside a run: overlay transforms and AHP weights from TOML, the ML site scorer,
explanations, intervals and rank stability in the ranked-site table."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import siting
from siting.datasets import write_demo_inputs
from siting.errors import ScenarioError
from siting.scenario import Scenario
from siting.scoring import ahp_weights, suitability

FEATURES = [
    "ghi_kwh_m2_day",
    "wind_speed_100m_m_s",
    "heat_flow_mw_m2",
    "distance_to_substation_km",
    "slope_pct",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = write_demo_inputs(tmp_path_factory.mktemp("inputs"))
    return path.parent, Scenario.from_toml(path).to_toml_dict()


def _scenario(demo, **scorer) -> Scenario:
    folder, data = demo
    data = {**data, "vectors": {**data["vectors"]}}
    data["vectors"]["facilities"] = {"path": "sample_vectors.gpkg", "layer": "facilities"}
    data["scorer"] = scorer
    return Scenario.from_dict(data, base_dir=folder)


@pytest.fixture(scope="module")
def ml_result(demo) -> siting.Result:
    scenario = _scenario(
        demo,
        method="site_scorer",
        presences="facilities",
        features=FEATURES,
        monotonic={"ghi_kwh_m2_day": 1, "distance_to_substation_km": -1},
        background_points=2000,
        n_bootstrap=8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # presences on excluded land: dropped
        return siting.run(scenario)


def test_site_scorer__sites_carry_score_explanation_interval_and_stability(ml_result):
    sites = ml_result.sites
    assert len(sites) == ml_result.scenario.ranking.top_n
    assert (np.diff(sites["score"]) <= 0).all()
    parts = sites[[f"contribution_{f}" for f in FEATURES] + ["contribution_bias"]]
    raw = ml_result.scorer.raw_score(sites[FEATURES])
    np.testing.assert_allclose(parts.sum(axis=1), raw, rtol=1e-9, atol=1e-9)
    assert (sites["score_lower"] <= sites["score_upper"]).all()
    assert sites["p_top_k"].between(0, 1).all()
    assert sites["p_top_k"].iloc[0] > 0  # the best site survives some perturbations


def test_site_scorer__learns_only_from_available_land(ml_result):
    model = ml_result.scorer
    facilities = ml_result.context["facilities"]
    assert 0 < model.n_presence_ <= len(facilities)
    assert model.n_background_ == 2000
    # the monotonic constraint holds in the fitted run: more sun never lowers the score
    row = ml_result.candidates[FEATURES].iloc[[0] * 5].copy()
    row["ghi_kwh_m2_day"] = np.linspace(4.5, 7.0, 5)
    assert (np.diff(model.predict_proba(row)[:, 1]) >= 0).all()


def test_site_scorer__manifest_records_what_it_learned(ml_result, tmp_path):
    import json

    result = siting.run(ml_result.scenario, out_dir=tmp_path / "run")
    summary = json.loads(result.files["manifest"].read_text())["summary"]["scorer"]
    assert summary["method"] == "site_scorer"
    assert summary["presences"] == ml_result.scorer.n_presence_
    assert set(summary["global_importance_log_odds"]) == set(FEATURES)


def test_site_scorer__is_deterministic(demo, ml_result):
    again = siting.run(ml_result.scenario)
    np.testing.assert_array_equal(again.sites["cell_id"], ml_result.sites["cell_id"])
    np.testing.assert_array_equal(again.sites["score"], ml_result.sites["score"])


def test_overlay__transforms_and_ahp_weights_from_the_scenario(demo):
    criteria = {
        "ghi_kwh_m2_day": {"transform": "large", "midpoint": 5.8, "spread": 6},
        "distance_to_substation_km": {
            "transform": "logistic_decay",
            "midpoint": 10,
            "steepness": 0.4,
            "thresholds": {"max": 40},
        },
        "slope_pct": {"transform": "linear", "better": "lower", "range": [0, 10]},
    }
    ahp = [
        {"more": "ghi_kwh_m2_day", "less": "distance_to_substation_km", "intensity": 2},
        {"more": "ghi_kwh_m2_day", "less": "slope_pct", "intensity": 4},
        {"more": "distance_to_substation_km", "less": "slope_pct", "intensity": 2},
    ]
    result = siting.run(_scenario(demo, criteria=criteria, ahp=ahp))
    expected = ahp_weights(
        {(j["more"], j["less"]): j["intensity"] for j in ahp}, list(criteria)
    ).weights
    assert expected == pytest.approx(
        {"ghi_kwh_m2_day": 4 / 7, "distance_to_substation_km": 2 / 7, "slope_pct": 1 / 7}
    )
    sites = result.sites
    recomputed = sum(
        expected[name] * suitability(sites[name].to_numpy(), spec)
        for name, spec in criteria.items()
    )
    np.testing.assert_allclose(sites["score"], recomputed, rtol=1e-12)
    assert sites["p_top_k"].between(0, 1).all()


@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        ({"method": "site_scorer", "features": FEATURES}, "needs presences"),
        ({"method": "site_scorer", "presences": "facilities"}, "needs features"),
        (
            {"method": "site_scorer", "presences": "nope", "features": FEATURES},
            "not one of the vectors",
        ),
        (
            {"method": "site_scorer", "presences": "facilities", "features": ["ghi"]},
            "neither a layer nor a feature",
        ),
        (
            {
                "method": "site_scorer",
                "presences": "facilities",
                "features": FEATURES,
                "monotonic": {"elevation": 1},
            },
            "not in features",
        ),
        (
            {"criteria": {"slope_pct": {"transform": "near", "midpoint": 3}}},
            r"needs \['spread'\]",
        ),
        ({"criteria": {"slope_pct": {"better": "lower"}}}, "have no weight"),
        (
            {"criteria": {"slope_pct": {"weight": 1, "transform": "wiggle"}}},
            "transform",
        ),
        (
            {
                "criteria": {"slope_pct": {"weight": 1, "better": "lower"}},
                "ahp": [{"more": "slope_pct", "less": "ghi", "intensity": 3}],
            },
            "not criteria",
        ),
    ],
)
def test_bad_scorer_sections_name_the_field(demo, scorer, message):
    with pytest.raises(ScenarioError, match=message):
        _scenario(demo, **scorer)


def test_presence_filter_on_a_missing_column_is_named(demo):
    scenario = _scenario(
        demo,
        method="site_scorer",
        presences="facilities",
        features=FEATURES,
        presence_filter={"technology": ["solar"]},
    )
    with pytest.raises(ScenarioError, match="'technology' is not a column"):
        siting.run(scenario)


def test_site_scorer__chunked_run_scores_tile_by_tile_and_ranks_the_same(ml_result):
    # Sites 1 km apart, so the rows the ranking can reach are a small part of the table.
    ranking = ml_result.scenario.ranking.model_copy(update={"min_spacing_km": 1.0})
    scenario = ml_result.scenario.model_copy(update={"ranking": ranking})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # presences on excluded land: dropped
        whole = siting.run(scenario)
        tiled = siting.run(scenario, chunks=128)
    # Only the best rows are kept, yet the ranking and its scores are those of the whole table.
    assert len(tiled.candidates) < len(whole.candidates) / 2
    assert tiled.candidates.attrs["n_candidates"] == len(whole.candidates)
    np.testing.assert_array_equal(tiled.sites["cell_id"], whole.sites["cell_id"])
    np.testing.assert_allclose(tiled.sites["score"], whole.sites["score"], rtol=1e-12)
    np.testing.assert_allclose(tiled.sites["p_top_k"], whole.sites["p_top_k"])
