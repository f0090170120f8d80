"""Weighted overlay and top-k selection with spacing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from siting.errors import CRSError, NoFeasibleSitesError, ScenarioError
from siting.ranking import select_top
from siting.scoring import WeightedOverlay

CRITERIA = {
    "ghi": {"weight": 3, "better": "higher", "range": (5.0, 7.0)},
    "dist_km": {"weight": 1, "better": "lower", "range": (0.0, 10.0)},
}


def test_overlay__hand_computed_scores_and_contributions_sum():
    X = pd.DataFrame({"ghi": [5.0, 6.0, 8.0], "dist_km": [10.0, 5.0, 0.0]})
    model = WeightedOverlay(CRITERIA).fit(X)
    # (3 * 0 + 1 * 0) / 4, (3 * 0.5 + 1 * 0.5) / 4, (3 * 1 (clipped) + 1 * 1) / 4
    np.testing.assert_allclose(model.predict(X), [0.0, 0.5, 1.0])
    contributions = model.contributions(X)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X))
    np.testing.assert_allclose(contributions["ghi"], [0.0, 0.375, 0.75])


def test_overlay__learns_missing_range_and_keeps_nan():
    X = pd.DataFrame({"ghi": [5.0, 7.0, np.nan], "dist_km": [1.0, 1.0, 1.0]})
    model = WeightedOverlay({"ghi": {"weight": 1, "better": "higher"}}).fit(X)
    assert model.ranges_["ghi"] == (5.0, 7.0)
    scores = model.predict(X)
    assert scores[:2].tolist() == [0.0, 1.0]
    assert np.isnan(scores[2])  # missing is never read as zero


def test_overlay__follows_the_estimator_contract():
    model = WeightedOverlay(CRITERIA)
    assert model.get_params() == {"criteria": CRITERIA}
    X = pd.DataFrame({"ghi": [6.0], "dist_km": [1.0]})
    assert model.fit(X) is model
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        WeightedOverlay(CRITERIA).predict(X)


@pytest.mark.parametrize(
    ("criteria", "match"),
    [
        ({"nope": {"weight": 1, "better": "higher"}}, "not columns"),
        ({"ghi": {"weight": 1, "better": "up"}}, "better="),
        ({"ghi": {"weight": 0, "better": "higher"}}, "positive weight"),
        ({}, "at least one"),
    ],
)
def test_overlay__bad_criteria(criteria, match):
    with pytest.raises(ScenarioError, match=match):
        WeightedOverlay(criteria).fit(pd.DataFrame({"ghi": [1.0]}))


def _candidates(xs, scores, crs="EPSG:5070"):
    return gpd.GeoDataFrame(
        {"cell_id": range(len(xs)), "score": scores},
        geometry=gpd.points_from_xy(xs, [0.0] * len(xs)),
        crs=crs,
    )


def test_select_top__spacing_is_respected_greedily():
    cands = _candidates([0, 3000, 6000, 20000], [0.9, 0.8, 0.7, 0.1])
    picked = select_top(cands, n=3, min_spacing_m=5000)
    assert picked["cell_id"].tolist() == [0, 2, 3]
    assert picked["rank"].tolist() == [1, 2, 3]
    assert select_top(cands, n=3, min_spacing_m=0)["cell_id"].tolist() == [0, 1, 2]


def test_select_top__ties_break_by_cell_id_and_nan_is_never_taken():
    cands = _candidates([0, 10000, 20000, 30000], [0.5, np.nan, 0.5, 0.5])
    cands["cell_id"] = [7, 1, 3, 2]
    assert select_top(cands, n=4)["cell_id"].tolist() == [2, 3, 7]


def test_select_top__metres_even_in_a_feet_crs():
    # EPSG:2263 is in US survey feet: 10,000 ft = 3,048 m apart, so a 3 km spacing keeps both.
    cands = _candidates([1_000_000, 1_010_000], [0.9, 0.8], crs="EPSG:2263")
    assert len(select_top(cands, n=2, min_spacing_m=3000)) == 2
    assert len(select_top(cands, n=2, min_spacing_m=3100)) == 1


def test_select_top__refuses_degrees_and_empty_scores():
    with pytest.raises(CRSError, match="projected"):
        select_top(_candidates([0, 1], [1, 2], crs="EPSG:4326"), n=1, min_spacing_m=10)
    with pytest.raises(NoFeasibleSitesError):
        select_top(_candidates([0], [np.nan]), n=1)


@pytest.mark.parametrize("seed", range(4))
def test_select_top__equals_the_one_by_one_greedy_on_clustered_candidates(seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 50_000, (6, 2))
    xy = centres[rng.integers(0, 6, 20_000)] + rng.normal(0, 3_000, (20_000, 2))
    score = np.round(-np.hypot(*(xy - centres[0]).T) / 1_000, 1)  # ties in score
    cands = gpd.GeoDataFrame(
        {"cell_id": rng.permutation(20_000), "score": score},
        geometry=gpd.points_from_xy(*xy.T),
        crs="EPSG:5070",
    )
    order = np.lexsort((cands["cell_id"], -cands["score"]))
    expected: list[int] = []
    for i in order:  # the definition: best first, skip any closer than the spacing
        if all(np.hypot(*(xy[i] - xy[j])) >= 4_000 for j in expected):
            expected.append(int(i))
        if len(expected) == 40:
            break
    chosen = select_top(cands, n=40, min_spacing_m=4_000)
    assert chosen["cell_id"].tolist() == cands["cell_id"].to_numpy()[expected].tolist()
