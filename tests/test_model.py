"""SiteScorer (presence–background gradient boosting) and its training points."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from shapely.geometry import Point, box
from sklearn.utils.estimator_checks import parametrize_with_checks

from siting.errors import CRSError, InvalidLayerError, ScenarioError
from siting.grid import Grid
from siting.scoring import SiteScorer, label_presences, sample_background
from siting.scoring import background as background_module
from siting.testing import random_field, small_grid

FAST = {"n_estimators": 40}


def _logistic_data(n: int, seed: int, n_features: int = 3):
    """Features uniform on [-2, 2]; known P(y=1 | x) = expit(1.5 x0 - x1)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, n_features))
    p = expit(1.5 * X[:, 0] - X[:, 1])
    y = (rng.random(n) < p).astype(int)
    return X, y, p


def _frame(X: np.ndarray) -> pd.DataFrame:
    names = ["ghi_kwh_m2_day", "substation_distance_km", "slope_deg"][: X.shape[1]]
    return pd.DataFrame(X, columns=names, index=pd.RangeIndex(100, 100 + len(X)))


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = _logistic_data(300, seed=0)
    X = _frame(X)
    return X, SiteScorer(**FAST, n_bootstrap=4).fit(X, y)


# -- the scikit-learn contract ------------------------------------------------------------


@parametrize_with_checks([SiteScorer()])
def test_sklearn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few-presence and label warnings
        check(estimator)


def test_fit__keeps_dataframe_feature_names_and_returns_self():
    X, y, _ = _logistic_data(120, seed=1)
    model = SiteScorer(**FAST)
    assert model.fit(_frame(X), y) is model
    assert model.feature_names_in_.tolist() == list(_frame(X).columns)
    assert model.classes_.tolist() == [0, 1]
    assert (model.n_presence_, model.n_background_) == (int(y.sum()), int((y == 0).sum()))


# -- monotonic constraints ----------------------------------------------------------------


def test_monotonic__holds_against_a_reversed_noisy_trend():
    rng = np.random.default_rng(3)
    n = 600
    X = pd.DataFrame(
        {
            "ghi_kwh_m2_day": rng.uniform(4, 7, n),
            "substation_distance_km": rng.uniform(0, 50, n),
            "slope_deg": rng.uniform(0, 20, n),
        }
    )
    # The training data say the opposite of the constraints: presence falls with GHI and
    # rises with distance, plus noise.
    logit = -1.5 * (X["ghi_kwh_m2_day"] - 5.5) + 0.05 * (X["substation_distance_km"] - 25)
    y = (rng.random(n) < expit(logit + rng.normal(0, 1, n))).astype(int)
    model = SiteScorer(
        n_estimators=80,
        num_leaves=15,
        min_child_samples=5,
        monotonic={"ghi_kwh_m2_day": +1, "substation_distance_km": -1},
        calibration="isotonic",
        prevalence=0.1,
    ).fit(X, y)
    assert model.monotone_constraints_ == [1, -1, 0]

    ghi = np.linspace(3.5, 7.5, 41)
    distance = np.linspace(-5, 55, 41)
    for seed in range(5):
        others = np.random.default_rng(seed).uniform([4, 0, 0], [7, 50, 20])
        along_ghi = pd.DataFrame(
            {
                "ghi_kwh_m2_day": ghi,
                "substation_distance_km": others[1],
                "slope_deg": others[2],
            }
        )
        along_distance = pd.DataFrame(
            {
                "ghi_kwh_m2_day": others[0],
                "substation_distance_km": distance,
                "slope_deg": others[2],
            }
        )
        for method in ("raw_score", "decision_function"):
            assert np.all(np.diff(getattr(model, method)(along_ghi)) >= 0)
            assert np.all(np.diff(getattr(model, method)(along_distance)) <= 0)
        assert np.all(np.diff(model.predict_proba(along_ghi)[:, 1]) >= 0)
        assert np.all(np.diff(model.predict_proba(along_distance)[:, 1]) <= 0)
    # Without the constraint the model follows the (reversed) data.
    free = SiteScorer(n_estimators=80, min_child_samples=5).fit(X, y)
    assert free.raw_score(along_ghi)[0] > free.raw_score(along_ghi)[-1]


def test_monotonic__accepts_positions_and_default_names_for_arrays():
    X, y, _ = _logistic_data(150, seed=2)
    by_position = SiteScorer(**FAST, monotonic={0: 1, 1: -1}).fit(X, y)
    by_name = SiteScorer(**FAST, monotonic={"x0": 1, "x1": -1}).fit(X, y)
    assert by_position.monotone_constraints_ == by_name.monotone_constraints_ == [1, -1, 0]
    np.testing.assert_array_equal(by_position.predict_proba(X), by_name.predict_proba(X))


# -- explanations -------------------------------------------------------------------------


def test_contributions__sum_to_the_raw_score(fitted):
    X, model = fitted
    parts = model.contributions(X)
    assert list(parts.columns) == [*X.columns, "bias"]
    assert parts.index.equals(X.index)
    np.testing.assert_allclose(parts.sum(axis=1), model.raw_score(X), rtol=0, atol=1e-9)
    # The probability is a non-decreasing map of that sum.
    order = np.argsort(model.raw_score(X), kind="stable")
    assert np.all(np.diff(model.predict_proba(X)[order, 1]) >= 0)


def test_global_importance__ranks_the_informative_features_first(fitted):
    X, model = fitted
    importance = model.global_importance()
    assert importance.name == "mean_abs_contribution"
    assert importance.index.tolist()[:2] == ["ghi_kwh_m2_day", "substation_distance_km"]
    assert importance.is_monotonic_decreasing
    np.testing.assert_allclose(
        model.global_importance(X).sort_index(), importance.sort_index(), rtol=1e-12
    )
    np.testing.assert_allclose(
        model.feature_importances_, model.contributions(X).drop(columns="bias").abs().mean()
    )


# -- calibration and the prevalence correction -------------------------------------------


def _ece(p: np.ndarray, target: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error against the true probabilities, equal-width bins."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(p[inside].mean() - target[inside].mean())
    return total


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_calibration__beats_the_raw_trees_on_known_probabilities(calibration):
    X, y, _ = _logistic_data(800, seed=4)
    X_test, _, p_true = _logistic_data(4000, seed=5)
    # Deep, many trees: the raw probabilities are overconfident.
    model = SiteScorer(
        n_estimators=200,
        learning_rate=0.1,
        num_leaves=31,
        min_child_samples=5,
        calibration=calibration,
    ).fit(X, y)
    calibrated = model.predict_proba(X_test)[:, 1]
    raw = expit(model.raw_score(X_test))
    brier = lambda p: np.mean((p - p_true) ** 2)  # noqa: E731
    assert brier(calibrated) < 0.7 * brier(raw)
    assert _ece(calibrated, p_true) < _ece(raw, p_true)


def test_calibration__none_returns_the_trees_own_probability():
    X, y, _ = _logistic_data(200, seed=6)
    model = SiteScorer(**FAST, calibration=None).fit(X, y)
    assert model.calibrator_ is None
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expit(model.raw_score(X)))
    np.testing.assert_allclose(model.decision_function(X), model.raw_score(X))


def test_prevalence__recovers_the_probability_of_presence():
    rng = np.random.default_rng(7)
    land = rng.uniform(0, 1, size=(60_000, 2))
    p_land = 0.02 + 0.3 * land[:, 0]  # true P(presence | x) on the land
    prevalence = float(p_land.mean())
    is_site = rng.random(len(land)) < p_land
    presences = land[is_site][:500]
    background = land[rng.choice(len(land), 1000, replace=False)]  # unlabelled: has sites
    X = np.vstack([presences, background])
    y = np.r_[np.ones(len(presences)), np.zeros(len(background))].astype(int)
    X_test = rng.uniform(0, 1, size=(2000, 2))
    truth = 0.02 + 0.3 * X_test[:, 0]

    options = {"n_estimators": 60, "monotonic": {0: 1}}
    relative = SiteScorer(**options).fit(X, y)
    corrected = SiteScorer(**options, prevalence=prevalence).fit(X, y)
    assert corrected.prevalence_scale_ == pytest.approx(prevalence * 1000 / 500)
    error_relative = np.abs(relative.predict_proba(X_test)[:, 1] - truth).mean()
    error_corrected = np.abs(corrected.predict_proba(X_test)[:, 1] - truth).mean()
    assert error_corrected < 0.08
    assert error_corrected < 0.5 * error_relative
    # The correction never changes the ranking.
    order = np.argsort(relative.predict_proba(X_test)[:, 1], kind="stable")
    assert np.all(np.diff(corrected.predict_proba(X_test)[order, 1]) >= 0)
    # predict agrees with decision_function and predict_proba under the correction too.
    proba = corrected.predict_proba(X_test)
    assert np.array_equal(corrected.predict(X_test) == 1, proba[:, 1] > 0.5)
    assert np.array_equal(corrected.decision_function(X_test) > 0, proba[:, 1] > 0.5)


# -- uncertainty ---------------------------------------------------------------------------


def test_predict_interval__contains_the_median_and_widens_with_less_data():
    X_test, _, _ = _logistic_data(300, seed=8)
    widths = {}
    for n in (150, 1500):
        X, y, _ = _logistic_data(n, seed=9)
        model = SiteScorer(n_estimators=50, n_bootstrap=8).fit(X, y)
        interval = model.predict_interval(X_test, alpha=0.2)
        assert list(interval.columns) == ["lower", "median", "upper"]
        assert (interval["lower"] <= interval["median"]).all()
        assert (interval["median"] <= interval["upper"]).all()
        assert interval.to_numpy().min() >= 0
        assert interval.to_numpy().max() <= 1
        widths[n] = float((interval["upper"] - interval["lower"]).mean())
        narrower = model.predict_interval(X_test, alpha=0.5)
        assert (narrower["upper"] - narrower["lower"]).mean() <= widths[n]
    assert widths[150] > 1.3 * widths[1500]


# -- batches and determinism ---------------------------------------------------------------


def test_batches__chunked_predictions_equal_unchunked_bit_for_bit(fitted):
    X, model = fitted
    X = X.copy()
    X.iloc[::7, 1] = np.nan
    whole = model.set_params(batch_size=100_000)
    outputs = [
        whole.predict_proba(X),
        whole.decision_function(X),
        whole.raw_score(X),
        whole.predict(X),
        whole.contributions(X),
        whole.predict_interval(X),
    ]
    chunked = model.set_params(batch_size=7)
    again = [
        chunked.predict_proba(X),
        chunked.decision_function(X),
        chunked.raw_score(X),
        chunked.predict(X),
        chunked.contributions(X),
        chunked.predict_interval(X),
    ]
    model.set_params(batch_size=100_000)
    for a, b in zip(outputs, again, strict=True):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        else:
            np.testing.assert_array_equal(a, b)


def test_determinism__same_random_state_gives_identical_outputs():
    X, y, _ = _logistic_data(200, seed=10)
    a = SiteScorer(**FAST, n_bootstrap=3, random_state=5).fit(X, y)
    b = SiteScorer(**FAST, n_bootstrap=3, random_state=5).fit(X, y)
    c = SiteScorer(**FAST, n_bootstrap=3, random_state=6).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    pd.testing.assert_frame_equal(a.predict_interval(X), b.predict_interval(X), check_exact=True)
    pd.testing.assert_frame_equal(a.contributions(X), b.contributions(X), check_exact=True)
    assert not a.predict_interval(X).equals(c.predict_interval(X))


# -- bad input -------------------------------------------------------------------------------


def test_bad_input__too_few_presences_raises_with_count_and_minimum():
    X, _, _ = _logistic_data(40, seed=11)
    y = np.zeros(40, dtype=int)
    y[:2] = 1
    with pytest.raises(ScenarioError, match=r"too few presences: got 2.*at least 3"):
        SiteScorer(**FAST).fit(X, y)
    with pytest.raises(ScenarioError, match=r"too few background points: got 2"):
        SiteScorer(**FAST).fit(X, 1 - y)


def test_bad_input__few_presences_warn_with_count_and_recommendation():
    X, _, _ = _logistic_data(40, seed=11)
    y = np.zeros(40, dtype=int)
    y[:6] = 1
    with pytest.warns(UserWarning, match=r"only 6 presences.*at least 10"):
        SiteScorer(**FAST).fit(X, y)


def test_bad_input__constant_feature_warns_naming_the_column():
    X, y, _ = _logistic_data(100, seed=12)
    X = _frame(X)
    X["slope_deg"] = 3.0
    with pytest.warns(UserWarning, match=r"constant.*\['slope_deg'\]"):
        SiteScorer(**FAST).fit(X, y)


def test_bad_input__nan_features_warn_with_columns_and_counts_and_still_fit():
    X, y, _ = _logistic_data(100, seed=13)
    X = _frame(X)
    X.iloc[:5, 0] = np.nan
    X.iloc[:2, 2] = np.nan
    with pytest.warns(
        UserWarning,
        match=r"'ghi_kwh_m2_day' \(5 of 100 rows\), 'slope_deg' \(2 of 100 rows\)",
    ):
        model = SiteScorer(**FAST).fit(X, y)
    assert np.isfinite(model.predict_proba(X)).all()


def test_bad_input__infinite_features_raise():
    X, y, _ = _logistic_data(100, seed=13)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        SiteScorer(**FAST).fit(X, y)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([0, 1, 2], r"3 distinct labels \[0, 1, 2\]"),
        ([-1, 0, 1], r"3 distinct labels \[-1, 0, 1\]"),
        ([0.0, 0.5, 1.0], r"Unknown label type: continuous.*\[0.5\]"),
        ([1, 1, 1], r"only one class \(1, 100 rows\)"),
    ],
)
def test_bad_input__labels_that_are_not_two_classes_raise_naming_the_values(labels, match):
    X, _, _ = _logistic_data(100, seed=14)
    y = np.resize(np.asarray(labels), 100)
    with pytest.raises(ScenarioError, match=match):
        SiteScorer(**FAST).fit(X, y)


def test_bad_input__two_labels_other_than_0_1_warn_which_is_presence():
    X, y, _ = _logistic_data(100, seed=15)
    with pytest.warns(UserWarning, match=r"labels \[1, 2\].*taking 2 .* as the presence"):
        model = SiteScorer(**FAST).fit(X, y + 1)
    assert model.classes_.tolist() == [1, 2]
    assert set(model.predict(X).tolist()) <= {1, 2}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"monotonic": {"ghi": 1}}, r"not in X: \['ghi'\]; the features are \['x0', 'x1', 'x2'\]"),
        ({"monotonic": {7: 1}}, r"not in X: \[7\]"),
        ({"monotonic": {"x0": 2}}, r"\+1 \(increasing\), -1 \(decreasing\) or 0, got \{'x0': 2\}"),
        ({"monotonic": [1, 0, 0]}, "monotonic=.*mapping"),
        ({"calibration": "platt"}, r"calibration='platt'; expected 'sigmoid', 'isotonic' or None"),
        ({"calibration_cv": 1}, "calibration_cv=1"),
        ({"prevalence": 1.5}, r"prevalence=1.5; expected None or the assumed share"),
        ({"n_bootstrap": 1}, r"n_bootstrap=1; expected 0 \(off\) or"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"n_estimators": 0}, "n_estimators=0"),
        ({"learning_rate": -0.1}, "learning_rate=-0.1"),
        ({"n_jobs": 0}, "n_jobs=0"),
    ],
)
def test_bad_input__parameters_are_named(params, match):
    X, y, _ = _logistic_data(60, seed=16)
    with pytest.raises(ScenarioError, match=match):
        SiteScorer(**{**FAST, **params}).fit(X, y)


def test_bad_input__interval_needs_bootstrap_and_a_valid_alpha(fitted):
    X, model = fitted
    with pytest.raises(ValueError, match=r"alpha=1\.5"):
        model.predict_interval(X, alpha=1.5)
    X_arr, y, _ = _logistic_data(60, seed=17)
    plain = SiteScorer(**FAST).fit(X_arr, y)
    with pytest.raises(ScenarioError, match="n_bootstrap=0; refit with n_bootstrap"):
        plain.predict_interval(X_arr)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
def test_bad_input__predicting_with_other_columns_raises(fitted):
    X, model = fitted
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.predict_proba(X.to_numpy()[:, :2])
    with pytest.raises(ValueError, match="feature names"):
        model.predict_proba(X.rename(columns={"slope_deg": "slope"}))


# -- background points ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def availability():
    """40 x 50 cells: NaN outside the region, 0 on excluded land, 0.2..1 elsewhere."""
    grid = small_grid(shape=(40, 50))
    field = random_field(grid, seed=3, nodata_fraction=0.15)
    return field.where((field > 0.4) | field.isnull(), 0.0).where(
        (field <= 0.4) | field.isnull(), np.clip(field, 0.2, 1.0)
    )


def test_sample_background__returns_only_eligible_cell_centres(availability):
    grid = Grid.from_xarray(availability)
    points = sample_background(availability, 300, random_state=0)
    assert len(points) == 300
    assert points.crs == grid.crs
    assert list(points.columns) == ["row", "col", "availability", "presence", "geometry"]
    values = availability.values[points["row"], points["col"]]
    assert np.all(values > 0)  # NaN > 0 is False too
    np.testing.assert_array_equal(points["availability"], values)
    assert (points["presence"] == 0).all()
    assert not points[["row", "col"]].duplicated().any()  # without replacement
    xs, ys = grid.xy(points["row"], points["col"])
    np.testing.assert_array_equal(points.geometry.x, xs)
    np.testing.assert_array_equal(points.geometry.y, ys)


def test_sample_background__is_deterministic_and_prefix_consistent(availability, monkeypatch):
    a = sample_background(availability, 200, random_state=42)
    b = sample_background(availability, 200, random_state=42)
    c = sample_background(availability, 200, random_state=43)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["row", "col"]].equals(c[["row", "col"]])
    first = sample_background(availability, 20, random_state=42)
    pd.testing.assert_frame_equal(first, a.iloc[:20])
    # Reading the raster in smaller blocks does not change the draw.
    monkeypatch.setattr(background_module, "_BLOCK_CELLS", 120)
    pd.testing.assert_frame_equal(sample_background(availability, 200, random_state=42), a)


def test_sample_background__reads_dask_backed_rasters(availability):
    lazy = availability.chunk({"y": 7, "x": 50})
    pd.testing.assert_frame_equal(
        sample_background(lazy, 50, random_state=1),
        sample_background(availability, 50, random_state=1),
    )


def test_sample_background__weighting_by_availability_or_uniform():
    grid = small_grid(shape=(40, 50))
    values = np.full(grid.shape, 0.1)
    values[:, 25:] = 1.0  # right half fully available, left half barely
    raster = grid.to_xarray()
    raster.values[:] = values
    weighted = sample_background(raster, 400, random_state=0)
    uniform = sample_background(raster, 400, random_state=0, weighting="uniform")
    share_weighted = (weighted["col"] >= 25).mean()
    share_uniform = (uniform["col"] >= 25).mean()
    assert share_weighted > 0.75  # expected about 1 / 1.1 = 0.91 with replacement
    assert 0.4 < share_uniform < 0.6


def test_sample_background__keeps_away_from_excluded_points(availability):
    grid = Grid.from_xarray(availability)
    taken = sample_background(availability, 5, random_state=9)
    far = sample_background(availability, 100, random_state=1, exclude=taken, min_distance_m=250.0)
    distances = far.geometry.apply(lambda p: taken.distance(p).min())
    assert (distances > 250.0).all()
    # Without a distance, the cells holding the points themselves are still left out.
    near = sample_background(availability, 900, random_state=1, exclude=taken)
    cells = set(zip(near["row"], near["col"], strict=True))
    assert cells.isdisjoint(zip(taken["row"], taken["col"], strict=True))
    # Polygons work too, and exclude may be in another CRS.
    left, _, _, top = grid.bounds
    square = gpd.GeoDataFrame(
        geometry=[box(left, top - 1000, left + 1000, top)], crs=grid.crs
    ).to_crs("EPSG:4326")
    outside = sample_background(availability, 300, random_state=1, exclude=square)
    assert not ((outside["row"] < 10) & (outside["col"] < 10)).any()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 10_000}, ScenarioError, r"only \d+ cells are eligible"),
        ({"n": 0}, ScenarioError, "positive whole number"),
        ({"n": 5, "weighting": "area"}, ScenarioError, "weighting='area'"),
        ({"n": 5, "min_distance_m": 100.0}, ScenarioError, "needs exclude="),
        ({"n": 5, "min_distance_m": -1.0}, ScenarioError, "min_distance_m must be >= 0"),
    ],
)
def test_sample_background__bad_arguments(availability, kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_background(availability, random_state=0, **kwargs)


def test_sample_background__bad_rasters():
    grid = small_grid(shape=(4, 5))
    raster = grid.to_xarray()
    raster.values[:] = 2.0
    with pytest.raises(InvalidLayerError, match=r"between 0 and 1.*from 2 to 2"):
        sample_background(raster, 3)
    with pytest.raises(InvalidLayerError, match="dims"):
        sample_background(raster.transpose("x", "y"), 3)
    with pytest.raises(CRSError, match="CRS not found"):
        sample_background(raster.drop_vars("spatial_ref"), 3)
    raster.values[:] = 1.0
    with pytest.raises(CRSError, match="no CRS"):
        sample_background(raster, 3, exclude=gpd.GeoSeries([Point(0, 0)]))


# -- presences -----------------------------------------------------------------------------


def _presences(grid: Grid) -> gpd.GeoDataFrame:
    rows = [0, 0, 1, 1, 50]
    cols = [0, 1, 0, 1, 0]
    xs, ys = grid.xy(rows, cols)
    geometry = [Point(x, y) for x, y in zip(xs, ys, strict=True)]
    geometry[3] = None
    return gpd.GeoDataFrame(
        {"plant_id": ["ok", "excluded", "nodata", "missing", "far"]},
        geometry=geometry,
        crs=grid.crs,
    ).to_crs("EPSG:4326")


def _small_availability():
    grid = small_grid(shape=(2, 2))
    raster = grid.to_xarray()
    raster.values[:] = [[1.0, 0.0], [np.nan, 0.5]]
    return grid, raster


def test_label_presences__drops_with_a_warning_that_names_ids_and_counts():
    grid, raster = _small_availability()
    with pytest.warns(UserWarning, match="presences") as caught:
        labelled = label_presences(_presences(grid), raster, id_column="plant_id")
    message = str(caught[0].message)
    assert "1 of 5 presences have no geometry and were dropped: plant_id 'missing'" in message
    assert "1 of 5 presences are outside the grid and were dropped: plant_id 'far'" in message
    assert "outside the region (availability NaN) and were dropped: plant_id 'nodata'" in message
    assert "on excluded land (availability 0) and were dropped: plant_id 'excluded'" in message
    assert labelled["plant_id"].tolist() == ["ok"]
    assert labelled.crs == grid.crs  # reprojected from lon/lat to the raster's CRS
    assert labelled[["row", "col", "availability", "presence"]].iloc[0].tolist() == [0, 0, 1, 1]


def test_label_presences__keep_and_raise():
    grid, raster = _small_availability()
    with pytest.warns(UserWarning, match="were kept"):
        kept = label_presences(_presences(grid), raster, on_excluded="keep")
    assert len(kept) == 5
    assert kept["row"].tolist()[3:] == [-1, -1]
    with pytest.raises(ScenarioError, match=r"1 of 5 presences are outside the grid: index 4"):
        label_presences(_presences(grid), raster, on_excluded="raise")
    with pytest.raises(ScenarioError, match="on_excluded='skip'"):
        label_presences(_presences(grid), raster, on_excluded="skip")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="id_column='name'"):
        label_presences(_presences(grid), raster, id_column="name")


def test_label_presences__polygons_use_a_point_inside_and_join_the_background():
    grid, raster = _small_availability()
    left, _, _, top = grid.bounds
    parcels = gpd.GeoDataFrame(
        {"site": ["a"]}, geometry=[box(left + 10, top - 90, left + 90, top - 10)], crs=grid.crs
    )
    labelled = label_presences(parcels, raster)
    assert labelled.geometry.iloc[0].geom_type == "Point"
    assert (labelled["row"].iloc[0], labelled["col"].iloc[0]) == (0, 0)
    background = sample_background(raster, 1, random_state=0, exclude=labelled)
    table = pd.concat([labelled, background], ignore_index=True)
    assert table["presence"].tolist() == [1, 0]
    assert not table[["row", "col"]].duplicated().any()
