"""Weighted overlay transforms, thresholds, categories and AHP weights."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from siting.errors import ScenarioError
from siting.scoring import TRANSFORMS, AHPResult, WeightedOverlay, ahp_weights, suitability
from siting.scoring.ahp import RANDOM_INDEX, InconsistentJudgementsWarning

# --- transforms, hand-computed -----------------------------------------------------------

E = math.e


@pytest.mark.parametrize(
    ("spec", "x", "expected"),
    [
        # linear: t = (x - low) / (high - low), clipped; 1 - t when lower is better
        ({"better": "higher", "range": (0, 10)}, [-5, 0, 2.5, 10, 15], [0, 0, 0.25, 1, 1]),
        ({"better": "lower", "range": (0, 10)}, [-5, 0, 2.5, 10, 15], [1, 1, 0.75, 0, 0]),
        # power: t ** exponent
        (
            {"transform": "power", "better": "higher", "exponent": 2, "range": (0, 10)},
            [0, 5, 10, 20],
            [0, 0.25, 1, 1],
        ),
        (
            {"transform": "power", "better": "lower", "exponent": 0.5, "range": (0, 4)},
            [0, 3, 4],
            [1, 0.5, 0],
        ),
        # log: log_b(1 + (b - 1) t)
        (
            {"transform": "log", "better": "higher", "range": (0, 10)},  # base 10
            [0, 5, 10, 1],
            [0, math.log10(5.5), 1, math.log10(1.9)],
        ),
        (
            {"transform": "log", "better": "higher", "base": E, "range": (0, 1)},
            [0, 0.5, 1],
            [0, math.log(1 + (E - 1) / 2), 1],
        ),
        (
            {"transform": "log", "better": "lower", "base": 3, "range": (0, 1)},
            [0, 0.5, 1],
            [1, math.log(2, 3), 0],
        ),
        # symmetric_linear: 1 at the midpoint, 0 at low and high and outside
        (
            {"transform": "symmetric_linear", "range": (0, 10), "midpoint": 4},
            [-1, 0, 2, 4, 7, 10, 11],
            [0, 0, 0.5, 1, 0.5, 0, 0],
        ),
        (
            {"transform": "symmetric_linear", "range": (0, 10)},  # midpoint 5
            [2.5, 5, 7.5],
            [0.5, 1, 0.5],
        ),
        # large: 1 / (1 + (x/m)^-s); small: 1 / (1 + (x/m)^s); x <= 0 is the limit
        (
            {"transform": "large", "midpoint": 5, "spread": 2},
            [-3, 0, 2.5, 5, 10],
            [0, 0, 0.2, 0.5, 0.8],
        ),
        (
            {"transform": "small", "midpoint": 5, "spread": 2},
            [-3, 0, 2.5, 5, 10],
            [1, 1, 0.8, 0.5, 0.2],
        ),
        (
            {"transform": "large", "midpoint": 1, "spread": 1},
            [3, 1 / 3],
            [0.75, 0.25],
        ),
        # near: exp(-(x - m)^2 / (2 s^2)): 1 at m, e^-1/2 at m ± s, e^-2 at m ± 2s
        (
            {"transform": "near", "midpoint": 5, "spread": 2},
            [5, 3, 7, 1, 9],
            [1, math.exp(-0.5), math.exp(-0.5), math.exp(-2), math.exp(-2)],
        ),
        (
            {"transform": "near", "midpoint": -1, "spread": 0.5},
            [-1, -0.5, -2],
            [1, math.exp(-0.5), math.exp(-2)],
        ),
        # logistic: 0.5 at the midpoint, 0.75 at m + ln(3)/k
        (
            {"transform": "logistic_growth", "midpoint": 5, "steepness": 1},
            [5, 6, 4, 5 + math.log(3)],
            [0.5, 1 / (1 + math.exp(-1)), 1 / (1 + E), 0.75],
        ),
        (
            {"transform": "logistic_decay", "midpoint": 5, "steepness": 2},
            [5, 6, 4, 5 + math.log(3) / 2],
            [0.5, 1 / (1 + math.exp(2)), 1 / (1 + math.exp(-2)), 0.25],
        ),
    ],
)
def test_suitability__hand_computed_points(spec, x, expected):
    np.testing.assert_allclose(
        suitability(np.asarray(x, dtype=float), spec), expected, rtol=1e-12, atol=1e-12
    )


def test_suitability__spec_through_the_estimator_gives_the_same_values():
    x = np.array([0.0, 1.0, 2.5, 4.0])
    spec = {"transform": "near", "midpoint": 2.0, "spread": 1.0}
    model = WeightedOverlay({"x": spec}).fit(pd.DataFrame({"x": x}))
    np.testing.assert_allclose(model.transform(pd.DataFrame({"x": x}))["x"], suitability(x, spec))


def test_linear__is_the_default_and_learns_its_range():
    X = pd.DataFrame({"ghi": [5.0, 6.0, 7.0]})
    model = WeightedOverlay({"ghi": {"weight": 2, "better": "higher"}}).fit(X)
    assert model.criteria_["ghi"]["transform"] == "linear"
    assert model.ranges_ == {"ghi": (5.0, 7.0)}
    np.testing.assert_allclose(model.predict(X), [0.0, 0.5, 1.0])


def test_linear__range_is_learned_from_finite_values_only():
    X = pd.DataFrame({"ghi": [5.0, np.inf, 7.0, np.nan, -np.inf]})
    model = WeightedOverlay({"ghi": {"better": "higher"}}).fit(X)
    assert model.ranges_["ghi"] == (5.0, 7.0)
    np.testing.assert_allclose(model.predict(X), [0.0, 1.0, 1.0, np.nan, 0.0])


@pytest.mark.parametrize("better", ["higher", "lower"])
def test_linear__identical_values_all_get_one(better):
    # A range learned from one value cannot rank; every candidate gets full suitability,
    # and a new value on the worse side gets 0.
    model = WeightedOverlay({"x": {"better": better}}).fit(pd.DataFrame({"x": [3.0, 3.0]}))
    worse = 2.0 if better == "higher" else 4.0
    np.testing.assert_allclose(model.predict(pd.DataFrame({"x": [3.0, worse]})), [1.0, 0.0])


def test_large_and_small__are_complements():
    x = np.linspace(0.0, 20.0, 41)
    large = suitability(x, {"transform": "large", "midpoint": 7.0, "spread": 3.0})
    small = suitability(x, {"transform": "small", "midpoint": 7.0, "spread": 3.0})
    np.testing.assert_allclose(large + small, 1.0)


def test_better__may_repeat_the_built_in_direction():
    x = np.array([1.0, 5.0])
    spec = {"transform": "large", "midpoint": 2.0, "spread": 5.0}
    same = suitability(x, {**spec, "better": "higher"})
    np.testing.assert_array_equal(same, suitability(x, spec))


def test_none_values__count_as_not_given():
    # Scenario models dump unset fields as None.
    spec = {"weight": 1.0, "better": "higher", "range": None, "transform": None}
    np.testing.assert_allclose(suitability([1.0, 3.0], spec), [0.0, 1.0])


# --- properties ----------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive = st.floats(min_value=1e-3, max_value=1e3)
values = st.lists(finite, min_size=2, max_size=30).map(lambda v: np.sort(np.asarray(v)))


def _non_decreasing(y: np.ndarray) -> bool:
    return bool(np.all(np.diff(y) >= 0))


def _non_increasing(y: np.ndarray) -> bool:
    return bool(np.all(np.diff(y) <= 0))


@settings(max_examples=200, deadline=None)
@given(x=values, midpoint=positive, spread=positive)
def test_large__is_non_decreasing_and_small_non_increasing(x, midpoint, spread):
    large = suitability(x, {"transform": "large", "midpoint": midpoint, "spread": spread})
    small = suitability(x, {"transform": "small", "midpoint": midpoint, "spread": spread})
    assert _non_decreasing(large)
    assert _non_increasing(small)


@settings(max_examples=200, deadline=None)
@given(x=values, midpoint=finite, steepness=positive)
def test_logistic__growth_non_decreasing_and_decay_non_increasing(x, midpoint, steepness):
    spec = {"midpoint": midpoint, "steepness": steepness}
    assert _non_decreasing(suitability(x, {"transform": "logistic_growth", **spec}))
    assert _non_increasing(suitability(x, {"transform": "logistic_decay", **spec}))


@settings(max_examples=200, deadline=None)
@given(
    x=values,
    transform=st.sampled_from(["linear", "power", "log"]),
    low=finite,
    width=positive,
    shape=st.floats(min_value=1.01, max_value=50.0),
)
def test_ranged__follow_better(x, transform, low, width, shape):
    extra = {"power": {"exponent": shape}, "log": {"base": shape}}.get(transform, {})
    spec = {"transform": transform, "range": (low, low + width), **extra}
    assert _non_decreasing(suitability(x, {**spec, "better": "higher"}))
    assert _non_increasing(suitability(x, {**spec, "better": "lower"}))


def _spec_for(transform: str, midpoint: float, spread: float) -> dict:
    low, high = midpoint - spread, midpoint + 2 * spread
    return {
        "linear": {"better": "higher", "range": (low, high)},
        "power": {"better": "lower", "exponent": spread, "range": (low, high)},
        "log": {"better": "higher", "base": 1 + spread, "range": (low, high)},
        "symmetric_linear": {"range": (low, high), "midpoint": midpoint},
        "small": {"midpoint": abs(midpoint) + 1e-3, "spread": spread},
        "large": {"midpoint": abs(midpoint) + 1e-3, "spread": spread},
        "near": {"midpoint": midpoint, "spread": spread},
        "ms_small": {"mean": midpoint, "std": spread},
        "ms_large": {"mean": midpoint, "std": spread, "mean_multiplier": 1.5},
        "logistic_growth": {"midpoint": midpoint, "steepness": spread},
        "logistic_decay": {"midpoint": midpoint, "steepness": spread},
    }[transform]


numeric_transforms = [name for name in TRANSFORMS if name != "categorical"]


@settings(max_examples=300, deadline=None)
@given(
    x=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30),
    transform=st.sampled_from(numeric_transforms),
    midpoint=finite,
    spread=positive,
)
def test_every_transform__is_within_0_1_and_keeps_nan(x, transform, midpoint, spread):
    values = np.asarray(x, dtype=float)
    out = suitability(values, {"transform": transform, **_spec_for(transform, midpoint, spread)})
    assert np.array_equal(np.isnan(out), np.isnan(values))
    kept = out[~np.isnan(out)]
    assert np.all((kept >= 0.0) & (kept <= 1.0))


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=10) | st.just(float("nan")),
            st.floats(min_value=0, max_value=10),
            st.sampled_from(["a", "b", "c"]),
        ),
        min_size=1,
        max_size=20,
    ),
    weights=st.tuples(positive, positive, st.floats(min_value=0, max_value=5)),
)
def test_contributions__sum_exactly_to_predict(rows, weights):
    # float32 as raster layers come: the sum is of float64 contributions all the same.
    X = pd.DataFrame(rows, columns=["x", "y", "cat"]).astype({"y": "float32"})
    model = WeightedOverlay(
        {
            "x": {"weight": weights[0], "transform": "near", "midpoint": 5, "spread": 2},
            "y": {"weight": weights[1], "better": "lower", "range": (0, 10)},
            "cat": {
                "weight": weights[2],
                "transform": "categorical",
                "categories": {"a": 1.0, "b": 0.25},
                "default": 0.0,
            },
        }
    ).fit(X)
    scores = model.predict(X)
    np.testing.assert_array_equal(model.contributions(X).sum(axis=1, skipna=False), scores)
    assert np.array_equal(np.isnan(scores), X["x"].isna().to_numpy())
    kept = scores[~np.isnan(scores)]
    assert np.all((kept >= 0) & (kept <= 1 + 1e-12))


# --- thresholds -----------------------------------------------------------------------------


def test_thresholds__zero_outside_and_bounds_kept():
    spec = {"better": "higher", "range": (0, 10), "thresholds": {"min": 2, "max": 8}}
    np.testing.assert_allclose(
        suitability([1.0, 2.0, 5.0, 8.0, 9.0, np.nan], spec), [0, 0.2, 0.5, 0.8, 0, np.nan]
    )


def test_thresholds__apply_to_membership_transforms_with_one_side():
    spec = {"transform": "near", "midpoint": 5, "spread": 1, "thresholds": {"max": 5.5}}
    np.testing.assert_allclose(suitability([4.0, 5.0, 6.0], spec), [math.exp(-0.5), 1.0, 0.0])


def test_thresholds__overrule_the_weighted_mean():
    X = pd.DataFrame({"ghi": [6.0, 6.0], "slope_pct": [5.0, 15.0]})
    model = WeightedOverlay(
        {
            "ghi": {"better": "higher", "range": (5, 7)},
            "slope_pct": {"better": "lower", "range": (0, 20), "thresholds": {"max": 10}},
        }
    ).fit(X)
    np.testing.assert_allclose(model.transform(X)["slope_pct"], [0.75, 0.0])
    np.testing.assert_allclose(model.predict(X), [0.625, 0.25])


# --- categorical ----------------------------------------------------------------------------


def test_categorical__maps_values_and_keeps_missing():
    X = pd.DataFrame({"manager": ["BLM", "USFS", None, "BLM"]})
    model = WeightedOverlay(
        {"manager": {"transform": "categorical", "categories": {"BLM": 1.0, "USFS": 0.4}}}
    ).fit(X)
    np.testing.assert_allclose(model.predict(X), [1.0, 0.4, np.nan, 1.0])


def test_categorical__unmapped_categories_fail_at_fit_listing_them():
    X = pd.DataFrame({"manager": ["BLM", "NPS", "DOD", "BLM"]})
    spec = {"transform": "categorical", "categories": {"BLM": 1.0}}
    with pytest.raises(ScenarioError, match=r"'DOD', 'NPS' have no suitability.*'default'"):
        WeightedOverlay({"manager": spec}).fit(X)


def test_categorical__default_covers_other_categories_at_fit_and_later():
    spec = {"transform": "categorical", "categories": {"BLM": 1.0}, "default": 0.1}
    model = WeightedOverlay({"manager": spec}).fit(pd.DataFrame({"manager": ["BLM", "NPS"]}))
    later = pd.DataFrame({"manager": ["DOD", "BLM"]})
    np.testing.assert_allclose(model.predict(later), [0.1, 1.0])


def test_categorical__a_new_category_after_fit_is_an_error_without_default():
    spec = {"transform": "categorical", "categories": {"BLM": 1.0}}
    model = WeightedOverlay({"manager": spec}).fit(pd.DataFrame({"manager": ["BLM"]}))
    with pytest.raises(ScenarioError, match="'NPS' have no suitability"):
        model.predict(pd.DataFrame({"manager": ["NPS"]}))


def test_categorical__numeric_codes_match_numbers_and_numeric_string_keys():
    # Raster codes arrive as floats; TOML table keys are strings.
    X = pd.DataFrame({"gap_status": [1.0, 2.0, 3.0, np.nan]})
    spec = {"transform": "categorical", "categories": {"1": 0.0, 2: 0.5, 3.0: 1.0}}
    np.testing.assert_allclose(suitability(X["gap_status"], spec), [0.0, 0.5, 1.0, np.nan])


def test_categorical__rejects_suitability_outside_0_1_and_duplicates():
    with pytest.raises(ScenarioError, match=r"categories\['BLM'\]=2.*0\.\.1"):
        suitability(["BLM"], {"transform": "categorical", "categories": {"BLM": 2}})
    with pytest.raises(ScenarioError, match="given twice"):
        suitability([1.0], {"transform": "categorical", "categories": {1: 0.5, "1": 0.7}})


# --- NaN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transform", numeric_transforms)
def test_nan__stays_nan_for_every_transform_and_in_the_score(transform):
    X = pd.DataFrame({"x": [1.0, np.nan, 3.0], "y": [1.0, 1.0, 1.0]})
    model = WeightedOverlay(
        {
            "x": {"transform": transform, **_spec_for(transform, 2.0, 1.0)},
            "y": {"better": "higher", "range": (0, 1)},
        }
    ).fit(X)
    assert np.isnan(model.transform(X)["x"].iloc[1])
    scores = model.predict(X)
    assert np.isnan(scores[1])
    assert not np.isnan(scores[[0, 2]]).any()
    assert np.isnan(model.contributions(X)["x"].iloc[1])


def test_nan__nullable_and_object_columns_are_numbers():
    X = pd.DataFrame(
        {
            "a": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.Series([1.0, None, 3.0], dtype=object),
        }
    )
    model = WeightedOverlay(
        {"a": {"better": "higher", "range": (1, 3)}, "b": {"better": "lower", "range": (1, 3)}}
    ).fit(X)
    np.testing.assert_allclose(model.transform(X), [[0, 1], [np.nan, np.nan], [1, 0]])


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            {"transform": "gauss", "midpoint": 5, "spread": 1},
            r"'ghi': transform='gauss' is unknown; use one of \['linear', 'power', 'log'",
        ),
        ({"transform": "near", "midpoint": 5}, r"'ghi': transform='near' needs \['spread'\]"),
        ({"transform": "power", "better": "higher"}, r"needs \['exponent'\]"),
        ({"transform": "categorical"}, r"needs \['categories'\]"),
        ({"transform": "near", "midpoint": 5, "spread": 0}, r"'ghi': spread=0 must be > 0"),
        ({"transform": "large", "midpoint": 5, "spread": -1}, "spread=-1 must be > 0"),
        (
            {"transform": "logistic_growth", "midpoint": 5, "steepness": 0},
            "steepness=0 must be > 0",
        ),
        ({"transform": "large", "midpoint": 0, "spread": 5}, "midpoint=0 must be > 0.*logistic"),
        (
            {"transform": "power", "better": "higher", "exponent": -2},
            "exponent=-2 must be > 0",
        ),
        ({"transform": "log", "better": "higher", "base": 0.5}, "base=0.5 must be > 1"),
        (
            {"transform": "near", "midpoint": "five", "spread": 1},
            "midpoint='five' is not a finite number",
        ),
        ({"transform": "near", "midpoint": math.nan, "spread": 1}, "midpoint=nan is not a finite"),
        ({"better": "higher", "range": (7, 5)}, r"range=\(7, 5\) needs low < high.*'lower'"),
        ({"better": "higher", "range": (5,)}, r"range=\(5,\); give two numbers"),
        ({"better": "higher", "midpiont": 5}, r"\['midpiont'\] do not apply.*allowed keys"),
        (
            {"transform": "near", "midpoint": 5, "spread": 1, "better": "lower"},
            r"\['better'\] do not apply to transform='near'",
        ),
        (
            {"transform": "large", "midpoint": 5, "spread": 1, "better": "lower"},
            "better='lower' contradicts transform='large'.*'small'",
        ),
        (
            {"transform": "symmetric_linear", "range": (5, 6), "midpoint": 7},
            r"midpoint=7.0 must lie strictly inside range \(5.0, 6.0\)",
        ),
        ({"better": "higher", "thresholds": {"min": 7, "max": 3}}, "min=7.0 > max=3.0"),
        ({"better": "higher", "thresholds": {"low": 3}}, "'min' and/or 'max'"),
        ({"better": "higher", "thresholds": (1, 2)}, r"give \{'min': a, 'max': b\}"),
        (
            {"transform": "categorical", "categories": {}},
            r"categories=\{\}; give a mapping",
        ),
        (
            {"transform": "categorical", "categories": {5.0: 1}, "thresholds": {"min": 1}},
            r"\['thresholds'\] do not apply.*suitability 0",
        ),
        ({"transform": "categorical", "categories": {5.0: 1}, "default": 3}, "default=3 is not"),
        ({"weight": -1, "better": "higher"}, "weight=-1.0 must be >= 0"),
        ({"weight": "heavy", "better": "higher"}, "weight='heavy' is not a finite number"),
        ("higher", "must be a dict"),
    ],
)
def test_bad_criterion__names_criterion_value_and_fix(spec, match):
    X = pd.DataFrame({"ghi": [5.0, 6.0]})
    with pytest.raises(ScenarioError, match=match):
        WeightedOverlay({"ghi": spec}).fit(X)


def test_bad_input__non_numeric_column_suggests_categorical():
    X = pd.DataFrame({"manager": ["BLM", "USFS"]})
    with pytest.raises(ScenarioError, match=r"'manager'.*holds 'BLM'.*transform='categorical'"):
        WeightedOverlay({"manager": {"better": "higher"}}).fit(X)


def test_bad_input__not_a_dataframe_or_missing_column():
    model = WeightedOverlay({"ghi": {"better": "higher"}})
    with pytest.raises(ScenarioError, match="takes a DataFrame"):
        model.fit(np.array([[1.0]]))
    fitted = model.fit(pd.DataFrame({"ghi": [1.0, 2.0]}))
    with pytest.raises(ScenarioError, match=r"\['ghi'\] are not columns"):
        fitted.predict(pd.DataFrame({"dni": [1.0]}))


def test_bad_input__no_finite_value_to_learn_a_range():
    with pytest.raises(ScenarioError, match=r"no finite value.*give its range"):
        WeightedOverlay({"ghi": {"better": "higher"}}).fit(pd.DataFrame({"ghi": [np.nan]}))


# --- estimator contract ---------------------------------------------------------------------

CRITERIA = {
    "ghi": {"weight": 3, "transform": "large", "midpoint": 5.5, "spread": 5},
    "dist_km": {"weight": 1, "better": "lower", "range": (0.0, 10.0)},
}


def test_contract__params_round_trip_and_clone():
    model = WeightedOverlay(CRITERIA)
    assert model.get_params() == {"criteria": CRITERIA}
    other = {"ghi": {"better": "higher"}}
    assert model.set_params(criteria=other) is model
    assert model.get_params()["criteria"] is other
    copy = clone(WeightedOverlay(CRITERIA))
    assert copy.get_params() == {"criteria": CRITERIA}
    assert copy.criteria is not CRITERIA  # deep-copied


def test_contract__fit_returns_self_learns_underscore_attributes_and_copies_nothing_in():
    X = pd.DataFrame({"ghi": [5.0, 6.0], "dist_km": [1.0, 2.0], "other": [0, 0]})
    model = WeightedOverlay(CRITERIA)
    assert not hasattr(model, "criteria_")
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert model.fit(X) is model
    assert model.criteria == CRITERIA  # fit does not modify its parameters
    assert list(model.feature_names_in_) == ["ghi", "dist_km"]
    assert model.n_features_in_ == 2
    assert model.weights_ == {"ghi": 0.75, "dist_km": 0.25}
    assert model.ranges_ == {"dist_km": (0.0, 10.0)}
    assert model.criteria_["ghi"] == {
        "transform": "large",
        "weight": 3.0,
        "midpoint": 5.5,
        "spread": 5.0,
    }
    refitted = clone(model)
    assert not hasattr(refitted, "criteria_")
    np.testing.assert_array_equal(refitted.fit(X).predict(X), model.predict(X))


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimator_repr,
    ],
    ids=lambda check: check.__name__,
)
def test_contract__sklearn_parameter_checks(check):
    # The full check_estimator feeds bare arrays; the overlay needs named columns, so only
    # the checks about parameters and cloning apply.
    check("WeightedOverlay", WeightedOverlay(CRITERIA))


# --- AHP ------------------------------------------------------------------------------------

# Saaty, T. L. (2008), "Decision making with the analytic hierarchy process",
# International Journal of Services Sciences 1(1), 83-98: the relative consumption of drinks
# in the U.S. Published derived scale: coffee .177, wine .019, tea .042, beer .116,
# sodas .190, milk .129, water .327. The consistency ratio of this matrix with Saaty's random
# index (1.35 for n = 7) is .022, the value the independent AHPy package also asserts for it
# (github.com/PhilipGriffith/AHPy, tests/test_ahp.py).
DRINKS = {
    ("coffee", "wine"): 9,
    ("coffee", "tea"): 5,
    ("coffee", "beer"): 2,
    ("coffee", "soda"): 1,
    ("coffee", "milk"): 1,
    ("coffee", "water"): 1 / 2,
    ("wine", "tea"): 1 / 3,
    ("wine", "beer"): 1 / 9,
    ("wine", "soda"): 1 / 9,
    ("wine", "milk"): 1 / 9,
    ("wine", "water"): 1 / 9,
    ("tea", "beer"): 1 / 3,
    ("tea", "soda"): 1 / 4,
    ("tea", "milk"): 1 / 3,
    ("tea", "water"): 1 / 9,
    ("beer", "soda"): 1 / 2,
    ("beer", "milk"): 1,
    ("beer", "water"): 1 / 3,
    ("soda", "milk"): 2,
    ("soda", "water"): 1 / 2,
    ("milk", "water"): 1 / 3,
}
DRINKS_PUBLISHED = {
    "coffee": 0.177,
    "wine": 0.019,
    "tea": 0.042,
    "beer": 0.116,
    "soda": 0.190,
    "milk": 0.129,
    "water": 0.327,
}


def test_ahp__saaty_drinks_example_matches_published_weights_and_cr():
    result = ahp_weights(DRINKS)
    assert result.names == tuple(DRINKS_PUBLISHED)
    assert {name: round(w, 3) for name, w in result.weights.items()} == DRINKS_PUBLISHED
    assert round(result.consistency_ratio, 3) == 0.022
    assert result.random_index == 1.35
    assert result.lambda_max == pytest.approx(7 + 6 * result.consistency_index)
    assert sum(result.weights.values()) == pytest.approx(1.0)


def test_ahp__matrix_and_judgements_give_the_same_result():
    from_dict = ahp_weights(DRINKS)
    matrix = np.array(from_dict.matrix)
    from_matrix = ahp_weights(matrix, list(from_dict.names))
    np.testing.assert_allclose(from_matrix.priorities, from_dict.priorities, rtol=1e-12)
    reversed_pairs = {(b, a): 1 / v for (a, b), v in DRINKS.items()}
    np.testing.assert_allclose(
        ahp_weights(reversed_pairs, list(from_dict.names)).priorities,
        from_dict.priorities,
        rtol=1e-12,
    )


def test_ahp__perfectly_consistent_matrix_has_cr_zero():
    w = np.array([0.5, 0.25, 0.125, 0.125])
    result = ahp_weights(w[:, None] / w[None, :], ["a", "b", "c", "d"])
    assert result.consistency_ratio == 0.0
    assert result.consistency_index == 0.0
    assert result.lambda_max == pytest.approx(4.0)
    np.testing.assert_allclose(result.priorities, w)


def test_ahp__sizes_one_and_two_are_consistent():
    one = ahp_weights([[1]], ["only"])
    assert one.weights == {"only": 1.0}
    assert one.consistency_ratio == 0.0
    two = ahp_weights({("a", "b"): 4})
    assert two.weights == pytest.approx({"a": 0.8, "b": 0.2})
    assert (two.random_index, two.consistency_ratio) == (0.0, 0.0)


def test_ahp__two_decimal_reciprocals_are_accepted():
    a = [[1, 3, 7], [0.33, 1, 5], [0.14, 0.2, 1]]
    result = ahp_weights(a, ["x", "y", "z"])
    assert result.priorities[0] > result.priorities[1] > result.priorities[2]


def test_ahp__random_index_is_saatys_table():
    assert [RANDOM_INDEX[n] for n in range(1, 11)] == [
        0.0, 0.0, 0.52, 0.89, 1.11, 1.25, 1.35, 1.40, 1.45, 1.49,
    ]  # fmt: skip


def test_ahp__inconsistent_judgements_warn_raise_or_pass():
    # Every judgement agrees except c vs d, which says the opposite of the rest.
    judgements = {
        ("a", "b"): 3,
        ("a", "c"): 3,
        ("a", "d"): 3,
        ("b", "c"): 3,
        ("b", "d"): 3,
        ("c", "d"): 1 / 9,
    }
    pattern = r"consistency ratio 0\.305 > 0\.1.*\('c', 'd'\) = 0\.111"
    with pytest.warns(InconsistentJudgementsWarning, match=pattern):
        warned = ahp_weights(judgements)
    assert warned.consistency_ratio > 0.1
    with pytest.raises(ScenarioError, match=r"inconsistent.*revisit"):
        ahp_weights(judgements, on_inconsistent="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ahp_weights(judgements, on_inconsistent="ignore").consistency_ratio > 0.1
        ahp_weights(judgements, max_cr=100)  # a looser limit passes silently


def test_ahp__result_is_frozen_and_hashable():
    result = ahp_weights({("a", "b"): 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.consistency_ratio = 0.5  # type: ignore[misc]
    assert hash(result) == hash(ahp_weights({("a", "b"): 3}))
    assert isinstance(result, AHPResult)


def _matrix(n: int) -> list[list[float]]:
    return np.ones((n, n)).tolist()


@pytest.mark.parametrize(
    ("matrix", "names", "match"),
    [
        ([[1, 3], [3, 1]], ["a", "b"], r"not reciprocal: a\['a', 'b'\] = 3 but a\['b', 'a'\] = 3"),
        ([[1, -3], [-1 / 3, 1]], ["a", "b"], r"\['a', 'b'\] = -3.0 is outside Saaty's scale"),
        ([[1, 0], [0, 1]], ["a", "b"], "= 0.0 is outside Saaty's scale.*positive"),
        ([[1, 12], [1 / 12, 1]], ["a", "b"], "= 12.0 is outside Saaty's scale"),
        ([[2, 1], [1, 1]], ["a", "b"], r"diagonal is \[2.0, 1.0\].*\['a'\]"),
        ([[1, 3, 1]], ["a"], r"shape \(1, 3\); it must be square"),
        ([[1, 3], [1 / 3, 1]], ["a"], r"1 names \['a'\] for a 2×2 matrix"),
        ([[1, 3], [1 / 3, 1]], None, "names are required"),
        ([[1, 3], [1 / 3, 1]], ["a", "a"], r"repeat \['a'\]"),
        ([["x", 1], [1, 1]], ["a", "b"], "not numeric"),
        ([[1, math.nan], [1, 1]], ["a", "b"], "nan is not a finite number"),
        (_matrix(16), [f"c{i}" for i in range(16)], "at most 15"),
        ({("a", "b"): 3, ("b", "c"): 2}, None, r"missing AHP judgements for \[\('a', 'c'\)\]"),
        ({("a", "b"): 3, ("b", "a"): 3}, None, "contradict each other"),
        ({("a", "b"): "strong"}, None, "'strong' is not a finite number"),
        ({("a", "a"): 3}, None, "compared with itself is 1"),
        ({"a": 3}, None, "must be a pair of criterion names"),
        ({("a", "b"): 3}, ["a", "c"], r"\['c'\] have no judgement, \['b'\] are not in names"),
        ({}, None, "no AHP judgements"),
    ],
)
def test_ahp__bad_input_says_what_and_how_to_fix(matrix, names, match):
    with pytest.raises(ScenarioError, match=match):
        ahp_weights(matrix, names)


def test_ahp__bad_options():
    with pytest.raises(ScenarioError, match="on_inconsistent='loud'"):
        ahp_weights({("a", "b"): 3}, on_inconsistent="loud")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="max_cr=-1"):
        ahp_weights({("a", "b"): 3}, max_cr=-1)


def test_ahp__weights_feed_the_overlay():
    result = ahp_weights({("ghi", "dist_km"): 3})
    criteria = {
        "ghi": {"weight": 1, "better": "higher", "range": (5, 7)},
        "dist_km": {"better": "lower", "range": (0, 10)},
    }
    weighted = result.assign_weights(criteria)
    assert criteria["ghi"]["weight"] == 1  # the input is not modified
    X = pd.DataFrame({"ghi": [7.0], "dist_km": [10.0]})
    model = WeightedOverlay(weighted).fit(X)
    assert model.weights_ == pytest.approx({"ghi": 0.75, "dist_km": 0.25})
    np.testing.assert_allclose(model.predict(X), 0.75)
    with pytest.raises(ScenarioError, match=r"missing \['dist_km'\], not compared \['slope'\]"):
        result.assign_weights({"ghi": {}, "slope": {}})


# -- ArcGIS fuzzy MS Large / MS Small -----------------------------------------------------


def test_ms_large_and_small__hand_values_with_given_mean_and_std() -> None:
    x = np.array([0.0, 10.0, 12.0, 14.0, 30.0])
    spec = {"transform": "ms_large", "mean": 5.0, "std": 2.0, "mean_multiplier": 2.0}
    # a·m = 10, b·s = 2: 0 up to 10, then 1 - 2 / (x - 10 + 2)
    expected = [0.0, 0.0, 1 - 2 / 4, 1 - 2 / 6, 1 - 2 / 22]
    np.testing.assert_allclose(suitability(x, spec), expected)
    small = suitability(x, {**spec, "transform": "ms_small"})
    np.testing.assert_allclose(small, [1.0, 1.0, 2 / 4, 2 / 6, 2 / 22])


def test_ms_large__learns_mean_and_std_in_fit() -> None:
    X = pd.DataFrame({"ghi": [4.0, 5.0, 6.0, 7.0]})
    model = WeightedOverlay({"ghi": {"transform": "ms_large"}}).fit(X)
    mean, std = 5.5, float(np.std([4.0, 5.0, 6.0, 7.0]))
    assert model.criteria_["ghi"]["mean"] == pytest.approx(mean)
    assert model.criteria_["ghi"]["std"] == pytest.approx(std)
    expected = np.where(X["ghi"] > mean, 1 - std / (X["ghi"] - mean + std), 0.0)
    np.testing.assert_allclose(model.predict(X), expected)


def test_ms_large__constant_column_is_refused() -> None:
    X = pd.DataFrame({"ghi": [5.0, 5.0, 5.0]})
    with pytest.raises(ScenarioError, match=r"standard deviation is 0\.0"):
        WeightedOverlay({"ghi": {"transform": "ms_large"}}).fit(X)
    with pytest.raises(ScenarioError, match="contradicts"):
        WeightedOverlay({"ghi": {"transform": "ms_small", "better": "higher"}}).fit(X)
