"""Rank stability under perturbed overlay weights and bootstrap refits of the ML scorer."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.exceptions import NotFittedError

from siting.errors import CRSError, ScenarioError
from siting.ranking import select_top
from siting.scoring import (
    SiteScorer,
    WeightedOverlay,
    rank_stability,
    score_replicates_model,
    score_replicates_overlay,
)


def _overlay(X: pd.DataFrame, weights: dict[str, float]) -> WeightedOverlay:
    criteria = {
        name: {"weight": w, "better": "higher", "range": (0.0, 1.0)} for name, w in weights.items()
    }
    return WeightedOverlay(criteria).fit(X)


def _candidates(xs, crs="EPSG:5070", cell_id=None):
    return gpd.GeoDataFrame(
        {"cell_id": range(len(xs)) if cell_id is None else cell_id},
        geometry=gpd.points_from_xy(xs, [0.0] * len(xs)),
        crs=crs,
    )


# -- score_replicates_overlay ---------------------------------------------------------------


def test_overlay__a_site_best_on_every_criterion_is_always_first():
    X = pd.DataFrame(
        {"a": [1.0, 0.9, 0.2, 0.5], "b": [1.0, 0.1, 0.95, 0.5], "c": [1.0, 0.3, 0.3, 0.99]}
    )
    overlay = _overlay(X, {"a": 3, "b": 2, "c": 1})
    # A low concentration lets the weights roam over the whole simplex.
    reps = score_replicates_overlay(overlay, X, n_replicates=500, concentration=1.0)
    table = rank_stability(reps, k=1)
    assert table.loc[0, "p_top_k"] == 1.0
    assert table.loc[0, ["rank_median", "rank_p05", "rank_p95"]].tolist() == [1.0, 1.0, 1.0]
    assert table["p_top_k"].sum() == 1.0


def test_overlay__two_sites_tied_in_expectation_split_the_top_spot():
    # Site 0 is perfect on a, site 1 on b, the weights are equal: their scores are w_a and
    # w_b = 1 - w_a, and the symmetric Dirichlet puts each ahead half of the time.
    X = pd.DataFrame({"a": [1.0, 0.0, 0.2], "b": [0.0, 1.0, 0.2]})
    overlay = _overlay(X, {"a": 1, "b": 1})
    n = 4000
    reps = score_replicates_overlay(overlay, X, n_replicates=n, concentration=20.0)
    table = rank_stability(reps, k=1)
    tolerance = 4.5 * math.sqrt(0.25 / n)  # binomial standard error at p = 0.5
    assert abs(table.loc[0, "p_top_k"] - 0.5) < tolerance
    assert table.loc[0, "p_top_k"] + table.loc[1, "p_top_k"] == pytest.approx(1.0)
    assert table.loc[2, "p_top_k"] == 0.0
    assert table.loc[2, "rank_median"] == 3.0


def test_overlay__infinite_concentration_is_the_unperturbed_overlay():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.random((60, 3)), columns=["a", "b", "c"])
    overlay = _overlay(X, {"a": 5, "b": 2, "c": 1})
    expected = overlay.predict(X)
    top = set(np.argsort(-expected)[:7].tolist())

    exact = score_replicates_overlay(overlay, X, n_replicates=3, concentration=math.inf)
    np.testing.assert_allclose(exact, np.tile(expected, (3, 1)), rtol=0, atol=1e-15)
    for reps in (exact, score_replicates_overlay(overlay, X, concentration=1e12)):
        table = rank_stability(reps, k=7)
        assert set(np.flatnonzero(table["p_top_k"] == 1.0).tolist()) == top
        assert set(table["p_top_k"].unique().tolist()) == {0.0, 1.0}
        np.testing.assert_array_equal(table["rank_median"], rankdata(-expected))


def test_overlay__weights_are_dirichlet_centred_on_the_given_ones():
    # Site i is perfect on criterion i only, so its score is the weight drawn for i.
    X = pd.DataFrame(np.eye(3), columns=["a", "b", "c"])
    overlay = _overlay(X, {"a": 2, "b": 1, "c": 1})
    w = np.array([0.5, 0.25, 0.25])
    spreads = []
    for concentration in (5.0, 50.0, 500.0):
        draws = score_replicates_overlay(
            overlay, X, n_replicates=4000, concentration=concentration, random_state=7
        )
        np.testing.assert_allclose(draws.sum(axis=1), 1.0)
        np.testing.assert_allclose(draws.mean(axis=0), w, atol=0.01)
        expected_sd = np.sqrt(w * (1 - w) / (concentration + 1))
        np.testing.assert_allclose(draws.std(axis=0), expected_sd, rtol=0.06)
        spreads.append(draws.std(axis=0)[0])
    assert spreads[0] > spreads[1] > spreads[2]  # larger concentration, closer weights


def test_overlay__zero_weights_stay_zero():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.random((20, 3)), columns=["a", "b", "ignored"])
    with_zero = score_replicates_overlay(_overlay(X, {"a": 1, "b": 3, "ignored": 0}), X)
    without = score_replicates_overlay(_overlay(X, {"a": 1, "b": 3}), X)
    np.testing.assert_allclose(with_zero, without, rtol=0, atol=1e-15)


def test_overlay__a_missing_criterion_is_nan_in_every_replicate_and_never_ranked():
    X = pd.DataFrame({"a": [0.9, np.nan, 0.1], "b": [0.5, 0.5, 0.5]})
    reps = score_replicates_overlay(_overlay(X, {"a": 1, "b": 1}), X, n_replicates=10)
    assert np.isnan(reps[:, 1]).all()
    assert np.isfinite(reps[:, [0, 2]]).all()
    table = rank_stability(reps, k=3)
    assert table.loc[1, "p_top_k"] == 0.0
    assert table.loc[1, ["rank_median", "rank_p05", "rank_p95"]].isna().all()
    assert table.loc[[0, 2], "p_top_k"].tolist() == [1.0, 1.0]


def test_overlay__same_random_state_gives_identical_replicates():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((30, 2)), columns=["a", "b"])
    overlay = _overlay(X, {"a": 1, "b": 2})
    first = score_replicates_overlay(overlay, X, n_replicates=50, random_state=11)
    again = score_replicates_overlay(overlay, X, n_replicates=50, random_state=11)
    other = score_replicates_overlay(overlay, X, n_replicates=50, random_state=12)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    pd.testing.assert_frame_equal(rank_stability(first, k=5), rank_stability(again, k=5))


# -- score_replicates_model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def scorer_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-2, 2, size=(200, 2)), columns=["ghi", "dist_km"])
    y = (rng.random(200) < 1 / (1 + np.exp(-(1.5 * X["ghi"] - X["dist_km"])))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def bootstrapped(scorer_data):
    X, y = scorer_data
    return SiteScorer(n_estimators=20, n_bootstrap=5, batch_size=64).fit(X, y)


def test_model__one_row_per_refit_as_predict_interval_sees_them(scorer_data, bootstrapped):
    X, _ = scorer_data
    reps = score_replicates_model(bootstrapped, X)
    assert reps.shape == (5, len(X))
    assert ((reps >= 0) & (reps <= 1)).all()
    assert not np.allclose(reps[0], reps[1])  # the refits differ
    interval = bootstrapped.predict_interval(X, alpha=0.2)
    quantiles = np.quantile(reps, [0.1, 0.5, 0.9], axis=0).T
    np.testing.assert_allclose(interval.to_numpy(), quantiles, rtol=0, atol=1e-12)
    table = rank_stability(reps, k=10)
    assert table["p_top_k"].sum() == pytest.approx(10)


def test_model__same_random_state_gives_identical_replicates(scorer_data, bootstrapped):
    X, y = scorer_data
    again = SiteScorer(n_estimators=20, n_bootstrap=5, batch_size=64).fit(X, y)
    np.testing.assert_array_equal(
        score_replicates_model(bootstrapped, X), score_replicates_model(again, X)
    )


def test_model__without_bootstrap_or_unfitted_raises(scorer_data):
    X, y = scorer_data
    with pytest.raises(NotFittedError):
        score_replicates_model(SiteScorer(n_bootstrap=3), X)
    plain = SiteScorer(n_estimators=10).fit(X, y)
    with pytest.raises(ScenarioError, match="n_bootstrap=0; refit with n_bootstrap"):
        score_replicates_model(plain, X)
    with pytest.raises(ScenarioError, match="score_replicates_model"):
        score_replicates_overlay(plain, X)  # type: ignore[arg-type]


# -- rank_stability ---------------------------------------------------------------------------


def test_rank_stability__ranks_are_best_first_ties_by_position_nan_unranked():
    reps = np.array([[0.5, 0.9, np.nan, 0.5, np.inf], [0.1, 0.2, 0.3, 0.4, 0.5]])
    table = rank_stability(reps, k=2)
    # Replicate 0: 0.9 first, then the tied 0.5s by position; NaN and inf are not ranked.
    # Replicate 1: reversed.
    assert table["p_top_k"].tolist() == [0.5, 0.5, 0.0, 0.5, 0.5]
    # Ranks: site 0 (2, 5), 1 (1, 4), 2 (-, 3), 3 (3, 2), 4 (-, 1).
    np.testing.assert_array_equal(table["rank_median"], [3.5, 2.5, 3.0, 2.5, 1.0])
    np.testing.assert_allclose(table["rank_p05"], [2.15, 1.15, 3.0, 2.05, 1.0])
    np.testing.assert_allclose(table["rank_p95"], [4.85, 3.85, 3.0, 2.95, 1.0])


def test_rank_stability__tie_breaker_column_orders_equal_scores():
    reps = np.array([[0.5, 0.5, 0.5]])
    cands = _candidates([0.0, 1.0, 2.0], cell_id=[30, 10, 20])
    table = rank_stability(reps, k=1, candidates=cands)
    assert table["rank_median"].tolist() == [3.0, 1.0, 2.0]
    assert table["p_top_k"].tolist() == [0.0, 1.0, 0.0]
    by_position = rank_stability(reps, k=1, candidates=cands, tie_breaker=None)
    assert by_position["rank_median"].tolist() == [1.0, 2.0, 3.0]


def test_rank_stability__matches_a_replicate_by_replicate_reference():
    rng = np.random.default_rng(5)
    reps = rng.random((40, 25)).round(1)  # rounding makes ties
    reps[rng.random(reps.shape) < 0.1] = np.nan
    reps[:, 3] = np.nan  # never scored
    k = 4
    ranks = np.full(reps.shape, np.nan)
    for i, row in enumerate(reps):
        ok = np.isfinite(row)
        ranks[i, ok] = rankdata(-row[ok], method="ordinal")  # ties by position
    table = rank_stability(reps, k=k)
    np.testing.assert_allclose(table["p_top_k"], (ranks <= k).mean(axis=0))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="All-NaN"):
        expected = np.nanquantile(ranks, [0.5, 0.05, 0.95], axis=0)
    got = table[["rank_median", "rank_p05", "rank_p95"]].to_numpy().T
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert table.loc[3].drop("p_top_k").isna().all()


def test_rank_stability__spacing_agrees_with_select_top():
    rng = np.random.default_rng(2)
    xs = rng.uniform(0, 30_000, 40)
    cands = _candidates(xs)
    cands.index = pd.RangeIndex(100, 140)
    scores = rng.random(40)
    k, spacing = 6, 4_000.0

    # Unperturbed: exactly select_top's choice, with probability 1.
    picked = select_top(cands.assign(score=scores), n=k, min_spacing_m=spacing)
    table = rank_stability(scores[np.newaxis, :], k=k, candidates=cands, min_spacing_m=spacing)
    chosen = table.index[table["p_top_k"] == 1.0]
    assert sorted(chosen - 100) == sorted(picked["cell_id"])
    assert table["p_top_k"].isin([0.0, 1.0]).all()
    assert table.index.equals(cands.index)

    # Perturbed: the share of replicates in which select_top picks each site.
    reps = scores + rng.normal(0, 0.1, size=(30, 40))
    counts = np.zeros(40)
    for row in reps:
        counts[select_top(cands.assign(score=row), n=k, min_spacing_m=spacing)["cell_id"]] += 1
    table = rank_stability(reps, k=k, candidates=cands, min_spacing_m=spacing)
    np.testing.assert_allclose(table["p_top_k"], counts / len(reps))
    # Spacing changes who is chosen, not the ranks by score.
    plain = rank_stability(reps, k=k, candidates=cands)
    pd.testing.assert_frame_equal(
        table.drop(columns="p_top_k"), plain.drop(columns="p_top_k"), check_like=True
    )
    assert not np.allclose(table["p_top_k"], plain["p_top_k"])


def test_rank_stability__spacing_is_in_metres_in_a_feet_crs():
    # EPSG:2263 is in US survey feet: 10,000 ft = 3,048 m apart.
    cands = _candidates([1_000_000.0, 1_010_000.0], crs="EPSG:2263")
    reps = np.array([[0.9, 0.8]])
    assert rank_stability(reps, k=2, candidates=cands, min_spacing_m=3000)["p_top_k"].sum() == 2
    assert rank_stability(reps, k=2, candidates=cands, min_spacing_m=3100)["p_top_k"].sum() == 1


def test_rank_stability__records_its_settings_in_attrs():
    table = rank_stability(np.ones((3, 4)), k=2)
    assert table.attrs == {"k": 2, "n_replicates": 3, "min_spacing_m": 0.0}


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicates", "options", "match"),
    [
        (np.ones((2, 3)), {"k": 0}, "k=0"),
        (np.ones((2, 3)), {"k": 1.5}, "k=1.5"),
        (np.ones((2, 3)), {"k": True}, "k=True"),
        (np.ones(3), {"k": 1}, r"2-D .*shape \(3,\).*np.newaxis"),
        (np.ones((2, 3, 1)), {"k": 1}, r"2-D .*shape \(2, 3, 1\)"),
        (np.ones((0, 3)), {"k": 1}, "non-empty"),
        ([["a", "b"]], {"k": 1}, "numbers"),
        (np.ones((2, 3)), {"k": 1, "min_spacing_m": -1.0}, "min_spacing_m=-1.0"),
        (np.ones((2, 3)), {"k": 1, "min_spacing_m": math.inf}, "finite distance"),
        (np.ones((2, 3)), {"k": 1, "min_spacing_m": 100.0}, "needs the candidates"),
    ],
)
def test_bad_input__rank_stability_names_the_problem(replicates, options, match):
    with pytest.raises(ScenarioError, match=match):
        rank_stability(replicates, **options)


def test_bad_input__candidates_that_do_not_fit_the_replicates():
    reps = np.ones((2, 3))
    with pytest.raises(ScenarioError, match="candidates has 2 rows but replicates score 3"):
        rank_stability(reps, k=1, candidates=_candidates([0.0, 1.0]))
    with pytest.raises(ScenarioError, match=r"tie_breaker='site'.*tie_breaker=None"):
        rank_stability(reps, k=1, candidates=_candidates([0.0, 1.0, 2.0]), tie_breaker="site")
    with pytest.raises(CRSError, match="projected"):
        rank_stability(
            reps, k=1, candidates=_candidates([0.0, 1.0, 2.0], crs="EPSG:4326"), min_spacing_m=1
        )
    plain = pd.DataFrame({"cell_id": [0, 1, 2]})
    with pytest.raises(ScenarioError, match="GeoDataFrame"):
        rank_stability(reps, k=1, candidates=plain, min_spacing_m=1)
    assert rank_stability(reps, k=1, candidates=plain)["p_top_k"].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"concentration": 0.0}, "concentration=0.0"),
        ({"concentration": -2.0}, "concentration=-2.0"),
        ({"concentration": math.nan}, "concentration=nan"),
        ({"n_replicates": 0}, "n_replicates=0"),
        ({"n_replicates": 2.5}, "n_replicates=2.5"),
    ],
)
def test_bad_input__overlay_options_name_the_problem(options, match):
    X = pd.DataFrame({"a": [0.1, 0.9]})
    with pytest.raises(ScenarioError, match=match):
        score_replicates_overlay(_overlay(X, {"a": 1}), X, **options)


def test_bad_input__overlay_must_be_a_fitted_overlay_with_its_columns():
    X = pd.DataFrame({"a": [0.1, 0.9]})
    with pytest.raises(NotFittedError):
        score_replicates_overlay(WeightedOverlay({"a": {"better": "higher"}}), X)
    with pytest.raises(ScenarioError, match="score_replicates_overlay"):
        score_replicates_model(_overlay(X, {"a": 1}), X)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="not columns"):
        score_replicates_overlay(_overlay(X, {"a": 1}), X.rename(columns={"a": "b"}))
