"""Spatial validation: block and buffered folds, block size from the variogram, metrics."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.model_selection import cross_val_score, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.validation import check_is_fitted

from siting.errors import CRSError, ScenarioError
from siting.scoring import validation as v
from siting.scoring.validation import (
    BufferedKFold,
    SpatialBlockKFold,
    SpatialFoldWarning,
    boyce_curve,
    boyce_index,
    compare_validation,
    positive_scores,
    pr_auc,
    precision_at_k,
    roc_auc,
    suggest_block_size,
    validation_scorers,
)

EXTENT_M = 10_000.0


def uniform_points(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, EXTENT_M, size=(n, 2))


def smooth_field(seed: int, sigma_cells: float, size: int = 100) -> np.ndarray:
    """White noise smoothed by a Gaussian kernel: a stationary random field, unit variance."""
    field = gaussian_filter(np.random.default_rng(seed).normal(size=(size, size)), sigma_cells)
    return (field - field.mean()) / field.std()


def sample_field(field: np.ndarray, xy: np.ndarray, cell_m: float) -> np.ndarray:
    cols = np.minimum((xy[:, 0] // cell_m).astype(int), field.shape[1] - 1)
    rows = np.minimum((xy[:, 1] // cell_m).astype(int), field.shape[0] - 1)
    return field[rows, cols]


def nuisance_labels(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Points whose labels depend on location only through a smooth nuisance field."""
    xy = uniform_points(n, seed)
    rng = np.random.default_rng(seed + 100)
    nuisance = sample_field(smooth_field(seed, 3), xy, EXTENT_M / 100)
    y = (nuisance + 0.5 * rng.normal(size=n) > 1.0).astype(int)
    return xy, y


def own_block_ids(xy: np.ndarray, size: float) -> np.ndarray:
    """Block of each point, computed here independently of the module."""
    cells = np.floor((xy - xy.min(axis=0)) / size).astype(int)
    return cells[:, 0] * 1_000_003 + cells[:, 1]


# --------------------------------------------------------------------------------------
# folds
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size_m", [900.0, 2_000.0, 3_000.0])
@pytest.mark.parametrize("n_splits", [2, 5])
def test_block_folds__partition_the_sample_and_keep_blocks_whole(block_size_m, n_splits):
    xy = uniform_points()
    y = (np.random.default_rng(1).random(len(xy)) < 0.3).astype(int)
    cv = SpatialBlockKFold(block_size_m, n_splits, coords=xy, random_state=1)
    folds = list(cv.split(xy, y))
    assert len(folds) == cv.get_n_splits() == n_splits
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(xy)))  # each sample tested once
    for train, test in folds:
        assert len(test) > 0
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(xy)))
    blocks = own_block_ids(xy, block_size_m)
    fold_of = np.empty(len(xy), dtype=int)
    for fold, (_, test) in enumerate(folds):
        fold_of[test] = fold
    for block in np.unique(blocks):
        assert len(np.unique(fold_of[blocks == block])) == 1  # no block straddles folds


def test_block_folds__are_balanced_by_sample_count_and_presences():
    xy = uniform_points(600)
    y = (np.random.default_rng(3).random(600) < 0.2).astype(int)
    cv = SpatialBlockKFold(1_000, 5, coords=xy, random_state=0)
    sizes = [len(test) for _, test in cv.split(xy, y)]
    positives = [int(y[test].sum()) for _, test in cv.split(xy, y)]
    assert max(sizes) - min(sizes) <= 0.1 * np.mean(sizes)
    assert max(positives) - min(positives) <= 0.2 * np.mean(positives)


def test_block_folds__same_random_state_same_folds_other_states_differ():
    xy = uniform_points()

    def folds(seed):
        cv = SpatialBlockKFold(1_000, 5, coords=xy, random_state=seed)
        return [test.tolist() for _, test in cv.split(xy)]

    assert folds(7) == folds(7)
    assert any(folds(7) != folds(seed) for seed in range(8, 12))


def test_block_folds__block_labels_match_an_independent_grid():
    xy = uniform_points()
    labels = SpatialBlockKFold(1_500, coords=xy).block_labels()
    ours = own_block_ids(xy, 1_500)
    # the same partition of the points, whatever the numbering
    assert len(np.unique(labels)) == len(np.unique(ours))
    assert len(np.unique(np.c_[labels, ours], axis=0)) == len(np.unique(ours))


@pytest.mark.parametrize("buffer_m", [300.0, 800.0])
def test_buffered_folds__no_training_point_within_the_buffer(buffer_m):
    xy = uniform_points()
    y = (np.random.default_rng(1).random(len(xy)) < 0.3).astype(int)
    plain = list(SpatialBlockKFold(2_000, 4, coords=xy, random_state=2).split(xy, y))
    buffered = list(BufferedKFold(2_000, buffer_m, 4, coords=xy, random_state=2).split(xy, y))
    for (plain_train, plain_test), (train, test) in zip(plain, buffered, strict=True):
        assert np.array_equal(test, plain_test)  # the same test folds
        near = cKDTree(xy[train]).query_ball_point(xy[test], r=buffer_m)
        assert all(len(hits) == 0 for hits in near)
        # exactly the points within the buffer are dropped, no others
        dropped = np.setdiff1d(plain_train, train)
        assert len(dropped) > 0
        distance = cKDTree(xy[test]).query(xy[plain_train])[0]
        assert np.array_equal(np.sort(plain_train[distance <= buffer_m]), np.sort(dropped))


def test_buffered_folds__zero_buffer_equals_block_folds():
    xy = uniform_points()
    plain = SpatialBlockKFold(2_000, 4, coords=xy, random_state=0).split(xy)
    buffered = BufferedKFold(2_000, 0, 4, coords=xy, random_state=0).split(xy)
    for (a_train, a_test), (b_train, b_test) in zip(plain, buffered, strict=True):
        assert np.array_equal(a_train, b_train)
        assert np.array_equal(a_test, b_test)


def test_buffered_folds__buffer_covering_everything_is_an_error():
    xy = uniform_points(100)
    cv = BufferedKFold(5_000, 50_000, 2, coords=xy)
    with pytest.raises(ScenarioError, match="no training sample is left"):
        list(cv.split(xy))


def test_folds__warn_when_a_test_fold_has_no_presence():
    xy = uniform_points()
    y = ((xy[:, 0] < 2_000) & (xy[:, 1] < 2_000)).astype(int)  # presences in one block
    cv = SpatialBlockKFold(2_000, 5, coords=xy, random_state=0)
    with pytest.warns(SpatialFoldWarning) as record:
        list(cv.split(xy, y))
    messages = [str(w.message) for w in record]
    assert sum("test set has no presence" in m for m in messages) == 4
    assert sum("training set has no presence" in m for m in messages) == 1
    assert all("block_size_m" in m for m in messages)


def test_folds__no_warning_when_every_fold_has_both_classes():
    xy = uniform_points()
    y = (np.random.default_rng(0).random(len(xy)) < 0.3).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpatialFoldWarning)  # a warning fails the test
        folds = list(SpatialBlockKFold(2_000, 5, coords=xy, random_state=0).split(xy, y))
    assert len(folds) == 5
    assert all(0 < y[test].sum() < len(test) for _, test in folds)  # both classes in each


def test_folds__geoseries_in_feet_is_converted_to_metres():
    xy_m = uniform_points(200) + np.array([1_800_000.0, 550_000.0])  # CA zone 5 range
    feet = 0.3048006096012192  # US survey foot
    points = gpd.GeoSeries(gpd.points_from_xy(*(xy_m / feet).T), crs="EPSG:2229")
    from_geo = SpatialBlockKFold(1_500, coords=points).block_labels()
    from_array = SpatialBlockKFold(1_500, coords=xy_m).block_labels()
    assert len(np.unique(np.c_[from_geo, from_array], axis=0)) == len(np.unique(from_array))
    assert len(np.unique(from_geo)) == len(np.unique(from_array))


@pytest.mark.parametrize("crs", ["EPSG:4326", None])
def test_folds__geographic_or_missing_crs_is_refused_with_a_fix(crs):
    points = gpd.GeoSeries(gpd.points_from_xy([-105.0, -104.0], [39.0, 40.0]), crs=crs)
    with pytest.raises(CRSError, match=r"to_crs"):
        SpatialBlockKFold(1_000, 2, coords=points)


def test_folds__nan_coordinates_name_the_rows():
    xy = uniform_points(50)
    xy[[3, 17], 0] = np.nan
    with pytest.raises(ScenarioError, match=r"\[3, 17\]"):
        SpatialBlockKFold(1_000, coords=xy)
    frame = pd.DataFrame(xy, columns=["x", "y"], index=[f"site{i}" for i in range(50)])
    with pytest.raises(ValueError, match="site3"):
        SpatialBlockKFold(1_000, coords=frame)


def test_folds__empty_geometry_counts_as_missing():
    points = gpd.GeoSeries(gpd.points_from_xy([0.0, 5_000.0, 9_000.0], [0.0, 10.0, 20.0]))
    points = points.set_crs("EPSG:5070")
    points.iloc[1] = None
    with pytest.raises(ScenarioError, match=r"\[1\]"):
        SpatialBlockKFold(1_000, 2, coords=points)


@pytest.mark.parametrize("size", [0, -10, np.nan, "big"])
def test_folds__block_size_must_be_positive(size):
    with pytest.raises(ScenarioError, match="block_size_m"):
        SpatialBlockKFold(size, coords=uniform_points(50))


def test_folds__block_larger_than_the_extent_names_the_extent():
    xy = uniform_points(50)
    with pytest.raises(ScenarioError, match=r"one block.*\d,\d{3} m × \d,\d{3} m"):
        SpatialBlockKFold(50_000, coords=xy)
    with pytest.raises(ScenarioError, match="fewer than n_splits=5"):
        SpatialBlockKFold(6_000, 5, coords=xy)  # 4 blocks at most


def test_folds__fewer_points_than_folds_and_bad_n_splits():
    with pytest.raises(ScenarioError, match="cannot be split"):
        SpatialBlockKFold(10, 5, coords=uniform_points(3))
    with pytest.raises(ScenarioError, match="n_splits"):
        SpatialBlockKFold(1_000, 1, coords=uniform_points(30))


def test_folds__coords_and_x_lengths_must_match():
    cv = SpatialBlockKFold(1_000, coords=uniform_points(50))
    with pytest.raises(ScenarioError, match="X has 40 rows but coords has 50"):
        list(cv.split(np.zeros((40, 2))))


def test_folds__labels_other_than_0_1_are_named():
    xy = uniform_points(50)
    cv = SpatialBlockKFold(1_000, coords=xy)
    y = np.zeros(50)
    y[:3] = [2, 2, -1]
    with pytest.raises(ScenarioError, match=r"'-1\.0', '2\.0'"):
        list(cv.split(xy, y))
    with pytest.raises(ValueError, match="'presence'"):
        list(cv.split(xy, np.array(["presence"] * 25 + ["background"] * 25)))


def test_folds__boolean_labels_are_accepted():
    xy = uniform_points(100)
    cv = SpatialBlockKFold(2_000, 2, coords=xy, random_state=0)
    y = xy[:, 0] < 5_000
    assert [t.tolist() for _, t in cv.split(xy, y)] == [
        t.tolist() for _, t in cv.split(xy, y.astype(int))
    ]


# --------------------------------------------------------------------------------------
# block size from the variogram
# --------------------------------------------------------------------------------------


def test_suggest_block_size__recovers_the_range_of_a_gaussian_random_field():
    # White noise smoothed with a Gaussian kernel of sigma s has correlation
    # exp(-h² / 4s²), which falls to 5% at h = 2·√3·s: the practical range.
    cell_m, sigmas = 50.0, (4.0, 8.0)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 160, size=(2, 3_000))
    xy = np.c_[(cols + 0.5) * cell_m, (rows + 0.5) * cell_m]
    values = {}
    for i, sigma in enumerate(sigmas):
        noise = np.random.default_rng(10 + i).normal(size=(160, 160))
        values[f"sigma{sigma:g}"] = gaussian_filter(noise, sigma, mode="wrap")[rows, cols]
    result = suggest_block_size(xy, pd.DataFrame(values), max_points=1_500, random_state=0)
    assert result.n_points == 1_500
    for sigma in sigmas:
        expected = 2 * np.sqrt(3) * sigma * cell_m
        assert expected / 2 < result.ranges_m[f"sigma{sigma:g}"] < expected * 2
    assert result.ranges_m["sigma4"] < result.ranges_m["sigma8"]
    assert result.block_size_m == pytest.approx(np.median(list(result.ranges_m.values())))
    assert set(result.variograms) == set(values)
    vg = result.variograms["sigma8"]
    assert vg["semivariance"].iloc[0] < vg["semivariance"].iloc[-1]  # rises with distance


@pytest.mark.parametrize("model", ["spherical", "exponential", "gaussian"])
def test_suggest_block_size__every_model_finds_a_range_of_the_right_order(model):
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 120, size=(2, 1_200))
    field = gaussian_filter(rng.normal(size=(120, 120)), 5, mode="wrap")
    xy = np.c_[cols * 50.0, rows * 50.0]
    result = suggest_block_size(xy, field[rows, cols], model=model)
    expected = 2 * np.sqrt(3) * 5 * 50.0
    assert expected / 2 < result.block_size_m < expected * 2
    assert result.model == model


def test_suggest_block_size__is_deterministic_per_random_state():
    xy = uniform_points(800)
    values = sample_field(smooth_field(0, 4), xy, 100.0)
    a = suggest_block_size(xy, values, max_points=300, random_state=5)
    b = suggest_block_size(xy, values, max_points=300, random_state=5)
    c = suggest_block_size(xy, values, max_points=300, random_state=6)
    assert a.block_size_m == b.block_size_m
    assert a.block_size_m != c.block_size_m


def test_suggest_block_size__skips_constant_features_and_refuses_when_all_are():
    xy = uniform_points(300)
    smooth = sample_field(smooth_field(0, 4), xy, 100.0)
    result = suggest_block_size(xy, {"smooth": smooth, "flat": np.ones(300)})
    assert np.isnan(result.ranges_m["flat"])
    assert result.block_size_m == result.ranges_m["smooth"]
    with pytest.raises(ScenarioError, match="choose block_size_m yourself"):
        suggest_block_size(xy, {"flat": np.ones(300)})


def test_suggest_block_size__white_noise_has_no_range():
    xy = uniform_points(400)
    noise = np.random.default_rng(0).normal(size=400)
    with pytest.raises(ScenarioError, match="suggests no block size"):
        suggest_block_size(xy, noise)


def test_suggest_block_size__bad_inputs():
    xy = uniform_points(50)
    with pytest.raises(ScenarioError, match="values has 40 rows but coords has 50"):
        suggest_block_size(xy, np.zeros(40))
    with pytest.raises(ScenarioError, match="'cubic'"):
        suggest_block_size(xy, np.arange(50.0), model="cubic")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="no numeric feature"):
        suggest_block_size(xy, pd.DataFrame({"name": ["a"] * 50}))


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------


def test_boyce_curve__hand_computed_ratios():
    # background scores 0..8: windows [0, 2], [3, 5], [6, 8] hold 3 of 9 each (E = 1/3);
    # presences 1 | 3, 4, 5 | 7, 8 put 1/6, 3/6, 2/6 of the presences in them.
    background = np.arange(9.0)
    presence = np.array([1.0, 3, 4, 5, 7, 8])
    y = np.r_[np.zeros(9), np.ones(6)]
    scores = np.r_[background, presence]
    curve = boyce_curve(y, scores, window_width=2, n_windows=3)
    np.testing.assert_allclose(curve["lower"], [0, 3, 6])
    np.testing.assert_allclose(curve["n_background"], [3, 3, 3])
    np.testing.assert_allclose(curve["n_presence"], [1, 3, 2])
    np.testing.assert_allclose(curve["pe_ratio"], [0.5, 1.5, 1.0])
    # ranks of P/E (1, 3, 2) against mid-points (1, 2, 3): rho = 1 - 6·2 / (3·8) = 0.5
    assert boyce_index(y, scores, window_width=2, n_windows=3) == pytest.approx(0.5)
    # a model that puts presences at the low end is inverted
    assert boyce_index(y, -scores, window_width=2, n_windows=3) == pytest.approx(-0.5)


def test_boyce_index__repeated_ratios_are_dropped():
    # five windows of 3 background points each; P/E = 1, 1, 1, 0, 2
    y = np.r_[np.zeros(15), np.ones(5)]
    scores = np.r_[np.arange(15.0), [1.0, 4, 7, 13, 14]]
    curve = boyce_curve(y, scores, window_width=2, n_windows=5)
    np.testing.assert_allclose(curve["pe_ratio"], [1, 1, 1, 0, 2])
    # kept: 1, 0, 2 at mid 1, 10, 13: ranks (2, 1, 3) vs (1, 2, 3) → 1 - 6·2/24 = 0.5
    assert boyce_index(y, scores, window_width=2, n_windows=5) == pytest.approx(0.5)
    # all five: ranks (3, 3, 3, 1, 5) vs (1..5): cov 2 / sqrt(8 · 10)
    kept_all = boyce_index(y, scores, window_width=2, n_windows=5, drop_repeats=False)
    assert kept_all == pytest.approx(2 / np.sqrt(80))


def test_boyce_index__good_model_high_random_model_low():
    rng = np.random.default_rng(0)
    suitability = rng.random(3_000)
    y = (rng.random(3_000) < suitability**3).astype(int)
    assert boyce_index(y, suitability) > 0.9
    assert abs(boyce_index(y, rng.random(3_000))) < 0.5


def test_boyce_index__needs_both_classes():
    assert np.isnan(boyce_index([1, 1, 1], [0.1, 0.5, 0.9]))
    assert np.isnan(boyce_index([0, 0, 0], [0.1, 0.5, 0.9]))


def test_precision_at_k__hand_cases():
    y = [1, 0, 1, 1]
    scores = [0.9, 0.8, 0.7, 0.1]
    assert precision_at_k(y, scores, k=1) == 1.0
    assert precision_at_k(y, scores, k=2) == 0.5
    assert precision_at_k(y, scores, k=3) == pytest.approx(2 / 3)
    assert precision_at_k(y, scores, k=0.5) == 0.5  # half of 4 samples
    assert precision_at_k(y, scores, k=0.1) == 1.0  # rounded up to 1


def test_precision_at_k__ties_are_shared_out_whatever_the_order():
    # top 2 of scores 0.9, 0.5, 0.5, 0.5: the 0.9 presence + one of three tied (1 presence)
    y = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.5])
    expected = (1 + 1 / 3) / 2
    assert precision_at_k(y, scores, k=2) == pytest.approx(expected)
    order = [0, 3, 2, 1]
    assert precision_at_k(y[order], scores[order], k=2) == pytest.approx(expected)


@pytest.mark.parametrize("k", [0, 5, 1.0, -0.2, True])
def test_precision_at_k__bad_k(k):
    with pytest.raises(ScenarioError, match="k="):
        precision_at_k([1, 0, 1, 0], [0.4, 0.3, 0.2, 0.1], k=k)


def test_auc_metrics__match_hand_values_and_are_nan_with_one_class():
    y, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert roc_auc(y, scores) == 0.75  # 3 of 4 presence–background pairs ordered right
    assert pr_auc(y, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    assert np.isnan(pr_auc([0, 0], [0.2, 0.3]))
    with pytest.raises(ScenarioError, match="non-finite"):
        roc_auc(y, [0.1, np.nan, 0.3, 0.4])
    with pytest.raises(ScenarioError, match="'3'"):
        roc_auc([0, 3, 1, 1], scores)


def test_positive_scores__predict_proba_and_decision_function():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    proba = positive_scores(LogisticRegression().fit(X, y), X)
    assert np.all(np.diff(proba) > 0)
    assert np.all((proba > 0) & (proba < 1))
    decision = positive_scores(RidgeClassifier().fit(X, y), X)
    assert np.all(np.diff(decision) > 0)

    class NoScores(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.zeros(len(X))

    with pytest.raises(ScenarioError, match="neither predict_proba nor decision_function"):
        positive_scores(NoScores().fit(X, y), X)


# --------------------------------------------------------------------------------------
# scikit-learn integration and the leakage demonstration
# --------------------------------------------------------------------------------------


def test_cross_validate__accepts_the_splitter_and_the_scorers():
    xy, y = nuisance_labels(0, 300)
    X = np.c_[xy / 1_000, np.random.default_rng(0).normal(size=300)]
    cv = SpatialBlockKFold(2_500, 4, coords=xy, random_state=0)
    model = LogisticRegression()
    result = cross_validate(model, X, y, cv=cv, scoring=validation_scorers(k=0.2))
    expected = []
    for train, test in cv.split(X, y):
        scores = positive_scores(LogisticRegression().fit(X[train], y[train]), X[test])
        expected.append(
            (
                roc_auc(y[test], scores),
                boyce_index(y[test], scores),
                precision_at_k(y[test], scores, 0.2),
            )
        )
    expected_array = np.array(expected)
    np.testing.assert_allclose(result["test_roc_auc"], expected_array[:, 0])
    np.testing.assert_allclose(result["test_boyce"], expected_array[:, 1])
    np.testing.assert_allclose(result["test_precision_at_k"], expected_array[:, 2])
    assert len(cross_val_score(model, X, y, cv=cv, scoring="roc_auc")) == 4
    assert "coords=<300 points>" in repr(cv)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leakage__random_split_auc_is_clearly_higher_than_spatial(seed):
    xy, y = nuisance_labels(seed)
    table = compare_validation(
        KNeighborsClassifier(10), xy, y, xy, block_size_m=2_500, buffer_m=1_000,
        n_splits=5, random_state=seed,
    )  # fmt: skip
    auc = table[table["fold"] == "mean"].set_index("scheme")["roc_auc"]
    assert auc["random"] > 0.6  # neighbours carry the nuisance: looks skilful
    assert auc["random"] - auc["spatial_buffered"] > 0.1
    assert table.attrs["optimism"]["roc_auc"] == pytest.approx(
        auc["random"] - auc["spatial_buffered"]
    )


def test_compare_validation__table_layout_and_counts():
    xy, y = nuisance_labels(1, 300)
    X = pd.DataFrame({"x_km": xy[:, 0] / 1_000, "y_km": xy[:, 1] / 1_000})
    table = compare_validation(
        KNeighborsClassifier(5), X, y, xy, block_size_m=2_500, n_splits=4, k=10
    )
    assert list(table.columns) == [
        "scheme", "fold", "roc_auc", "pr_auc", "boyce", "precision_at_k",
        "n_train", "n_test", "n_positive_test",
    ]  # fmt: skip
    folds = table[~table["fold"].isin(["mean", "std"])]
    assert folds.groupby("scheme").size().to_dict() == {"random": 4, "spatial_block": 4}
    for _, part in folds.groupby("scheme"):
        assert part["n_test"].sum() == 300
        assert part["n_positive_test"].sum() == y.sum()
        assert (part["n_train"] + part["n_test"] == 300).all()
    means = table[table["fold"] == "mean"].set_index("scheme")
    for scheme, part in folds.groupby("scheme"):
        assert means.loc[scheme, "roc_auc"] == pytest.approx(part["roc_auc"].mean())
    assert table.attrs["block_size_from"] == "given"
    assert table.attrs["block_size_m"] == 2_500


def test_compare_validation__clones_the_estimator_for_every_fold():
    xy, y = nuisance_labels(2, 200)
    model = KNeighborsClassifier(5)
    compare_validation(model, xy, y, xy, block_size_m=3_000, n_splits=3)
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(model)


def test_compare_validation__buffer_shrinks_the_training_sets():
    xy, y = nuisance_labels(0, 300)
    table = compare_validation(
        RidgeClassifier(), xy, y, xy, block_size_m=2_500, buffer_m=500, n_splits=4
    )
    spatial = table[(table["scheme"] == "spatial_buffered") & ~table["fold"].isin(["mean", "std"])]
    assert ((spatial["n_train"] + spatial["n_test"]) < 300).all()
    assert table.attrs["buffer_m"] == 500


def test_compare_validation__block_size_from_the_variogram_by_default():
    xy = uniform_points(400)
    feature = sample_field(smooth_field(0, 3), xy, 100.0)
    y = (feature + 0.3 * np.random.default_rng(0).normal(size=400) > 0.8).astype(int)
    X = pd.DataFrame({"feature": feature, "noise": np.random.default_rng(1).normal(size=400)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpatialFoldWarning)
        table = compare_validation(LogisticRegression(), X, y, xy, n_splits=3)
    expected = suggest_block_size(xy, X, random_state=0).block_size_m
    assert table.attrs["block_size_from"] == "variogram"
    assert table.attrs["block_size_m"] == pytest.approx(expected)


def test_compare_validation__bad_inputs():
    xy, y = nuisance_labels(0, 100)
    model = KNeighborsClassifier(3)
    with pytest.raises(ScenarioError, match="coords has 90"):
        compare_validation(model, xy, y, xy[:90], block_size_m=2_000)
    with pytest.raises(ScenarioError, match="'7'"):
        compare_validation(model, xy, np.where(y == 1, 7, 0), xy, block_size_m=2_000)
    with pytest.raises(ScenarioError, match="stratified folds"):
        compare_validation(model, xy, np.r_[1, 1, np.zeros(98, int)], xy, block_size_m=2_000)
    with pytest.raises(ScenarioError, match="buffer_m"):
        compare_validation(model, xy, y, xy, block_size_m=2_000, buffer_m=-1)


def test_module_exports_are_reachable_from_the_scoring_package():
    import siting.scoring as scoring

    for name in v.__all__:
        assert getattr(scoring, name) is getattr(v, name)
