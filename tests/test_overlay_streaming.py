"""Learning an overlay's ranges, means and standard deviations tile by tile."""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dask.callbacks import Callback

from siting.candidates import best_candidates, cells_to_candidates
from siting.errors import NoFeasibleSitesError, ScenarioError
from siting.scoring import WeightedOverlay, ahp_weights, learned_statistics
from siting.testing import category_field, coordinate_image, random_field, small_grid

MIN_AVAILABILITY = 0.7
SHAPE = (13, 17)
CHUNKS = {"y": 4, "x": 5}  # 4 x 4 tiles, the last row and column of tiles partial

CRITERIA: dict[str, dict] = {
    "ghi": {"better": "higher", "weight": 3},  # learns its range
    "wind": {"transform": "power", "better": "higher", "exponent": 2, "weight": 0.5},
    "slope": {"transform": "ms_small", "std_multiplier": 2.0, "thresholds": {"max": 30}},
    "heat": {"transform": "ms_large", "mean": 60.0},  # learns its std only
    "elev": {"transform": "symmetric_linear", "weight": 1},  # an integer layer
    "dist_km": {"better": "lower", "range": (0.0, 50.0), "weight": 2},  # learns nothing
    "land": {"transform": "categorical", "categories": {11: 1.0, 21: 0.5}, "default": 0.2},
    "availability": {"transform": "log", "better": "higher"},  # a column of every table
    "lat": {"better": "higher", "range": None},  # a location column; None is not given
}


def _stack() -> tuple[xr.Dataset, xr.DataArray]:
    """Layers with NaN and inf, and an availability whose excluded, NaN and just-too-low
    cells hold the extreme values of the layers, so a wrong row mask changes the result."""
    grid = small_grid(shape=SHAPE)
    ghi = random_field(grid, seed=1, low=4.0, high=7.0, nodata_fraction=0.1)  # float32
    wind = random_field(grid, seed=2, low=3.0, high=9.0, dtype="float64")
    slope = random_field(grid, seed=3, low=0.0, high=40.0, nodata_fraction=0.05, dtype="float64")
    heat = random_field(grid, seed=4, low=40.0, high=120.0, dtype="float64")
    elev = (random_field(grid, seed=5, low=0.0, high=3000.0, dtype="float64") // 1).astype("int32")
    dist = random_field(grid, seed=6, low=0.0, high=80.0, dtype="float64")
    land = category_field(grid, seed=7, categories=(11, 21, 41))
    stack = xr.Dataset(
        {
            "ghi": ghi,
            "wind": wind,
            "slope": slope,
            "heat": heat,
            "elev": elev,
            "dist_km": dist,
            "land": land,
        }
    )
    rng = np.random.default_rng(8)
    avail = rng.choice(
        np.array([0.0, 0.5, 0.69, 0.7, 0.85, 1.0, np.nan], dtype="float32"),
        size=SHAPE,
        p=[0.15, 0.05, 0.05, 0.1, 0.15, 0.45, 0.05],
    )
    # extremes outside the candidates: excluded, NaN, just below the minimum
    avail[0, 0], avail[0, 1], avail[0, 2] = 0.0, np.nan, np.float32(0.69)
    stack["ghi"][0, 0], stack["ghi"][0, 1] = 100.0, -100.0
    stack["slope"][0, 1], stack["heat"][0, 2] = 1e6, -1e6
    stack["wind"][0, 2] = np.inf
    stack["elev"][0, 0] = 99_999
    # a cell at exactly the minimum (float32 0.7 >= 0.7 in cells_to_candidates) is in
    avail[12, 16] = np.float32(0.7)
    stack["ghi"][12, 16] = 7.5
    # non-finite values among the candidates are ignored
    avail[5, 5] = avail[5, 6] = 1.0
    stack["slope"][5, 5], stack["heat"][5, 6] = np.inf, -np.inf
    availability = grid.georeference(xr.DataArray(avail, coords=grid.coords(), dims=("y", "x")))
    return grid.georeference(stack), availability.rename("availability")


@pytest.fixture(scope="module")
def data() -> tuple[xr.Dataset, xr.DataArray]:
    return _stack()


@pytest.fixture(scope="module")
def candidates(data):
    stack, avail = data
    return cells_to_candidates(stack, avail, min_availability=MIN_AVAILABILITY)


def _chunked(data, **chunks):
    stack, avail = data
    chunks = chunks or CHUNKS
    return stack.chunk(chunks), avail.chunk(chunks)


class _Computes(Callback):
    """Counts the computes dask's local schedulers run."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _start(self, dsk) -> None:
        self.count += 1


# --- the same overlay as fitting on the whole candidate table ---------------------------


@pytest.mark.parametrize(
    "backing", ["numpy", "dask", "dask, other availability chunks", "dask, numpy availability"]
)
def test_learned_statistics__score_as_the_overlay_fitted_on_the_candidates(
    data, candidates, backing
):
    stack, avail = data
    if backing == "dask":
        stack, avail = _chunked(data)
    elif backing == "dask, other availability chunks":
        stack, avail = stack.chunk({"y": 4, "x": 5}), avail.chunk({"y": 6, "x": 3})
    elif backing == "dask, numpy availability":
        stack = stack.chunk(CHUNKS)
    learned = learned_statistics(CRITERIA, stack, avail, min_availability=MIN_AVAILABILITY)

    reference = WeightedOverlay(CRITERIA).fit(candidates)
    streamed = WeightedOverlay(learned).fit(candidates.iloc[:0])  # learns nothing itself
    assert streamed.ranges_ == reference.ranges_  # exactly
    assert set(reference.ranges_) == {"ghi", "wind", "elev", "dist_km", "availability", "lat"}
    for name in ("slope", "heat"):
        for key in ("mean", "std"):
            assert learned[name][key] == pytest.approx(reference.criteria_[name][key], rel=1e-12)
    assert streamed.weights_ == reference.weights_
    np.testing.assert_allclose(
        streamed.predict(candidates), reference.predict(candidates), rtol=1e-12, atol=0
    )
    assert np.isfinite(reference.predict(candidates)).any()


def test_learned_statistics__best_candidates_tile_by_tile_are_the_in_memory_best(data, candidates):
    stack, avail = _chunked(data)
    # the tables best_candidates scores per tile have no x, y, lon, lat columns
    criteria = {name: spec for name, spec in CRITERIA.items() if name != "lat"}
    learned = learned_statistics(criteria, stack, avail, min_availability=MIN_AVAILABILITY)
    overlay = WeightedOverlay(learned).fit(candidates.iloc[:0])
    best = best_candidates(
        stack, avail, score=overlay.predict, n=10, min_availability=MIN_AVAILABILITY
    )
    scores = WeightedOverlay(criteria).fit(candidates).predict(candidates)
    ranked = candidates.assign(score=scores).dropna(subset=["score"])
    expected = ranked.sort_values(["score", "cell_id"], ascending=[False, True]).head(10)
    assert sorted(best["cell_id"]) == sorted(expected["cell_id"])
    assert best.attrs["n_candidates"] == len(candidates)


def test_learned_statistics__ignores_cells_that_are_not_candidates(data, candidates):
    learned = learned_statistics(CRITERIA, *_chunked(data), min_availability=MIN_AVAILABILITY)
    stack, _ = data
    # the extremes sit in excluded, NaN and below-minimum cells
    assert learned["ghi"]["range"] == (float(candidates["ghi"].min()), 7.5)
    assert float(stack["ghi"].max()) == 100.0
    assert learned["wind"]["range"][1] < np.inf
    assert learned["elev"]["range"][1] < 99_999
    assert learned["availability"]["range"] == (pytest.approx(0.7), 1.0)
    finite = candidates["slope"][np.isfinite(candidates["slope"])].to_numpy()
    assert learned["slope"]["mean"] == pytest.approx(np.mean(finite), rel=1e-12)
    assert learned["slope"]["std"] == pytest.approx(np.std(finite), rel=1e-12)


def test_learned_statistics__numpy_and_dask_backed_agree(data):
    from_numpy = learned_statistics(CRITERIA, *data, min_availability=MIN_AVAILABILITY)
    for chunks in ({"y": 4, "x": 5}, {"y": 1, "x": 17}, {"y": 13, "x": 2}):
        from_dask = learned_statistics(
            CRITERIA, *_chunked(data, **chunks), min_availability=MIN_AVAILABILITY
        )
        for name, spec in from_numpy.items():
            assert from_dask[name].keys() == spec.keys()
            for key, value in spec.items():
                if key in ("mean", "std"):
                    assert from_dask[name][key] == pytest.approx(value, rel=1e-12)
                else:
                    assert from_dask[name][key] == value


@pytest.mark.parametrize("min_availability", [0.5, 1.0])
def test_learned_statistics__follows_min_availability(data, min_availability):
    stack, avail = data
    candidates = cells_to_candidates(stack, avail, min_availability=min_availability)
    learned = learned_statistics(
        {"ghi": {"better": "higher"}}, *_chunked(data), min_availability=min_availability
    )
    expected = WeightedOverlay({"ghi": {"better": "higher"}}).fit(candidates).ranges_["ghi"]
    assert learned["ghi"]["range"] == expected


@pytest.mark.parametrize("base", [5.0, -3e4, 2e6, 1e9])
def test_learned_statistics__mean_and_std_stay_exact_when_the_mean_dwarfs_the_spread(base):
    # y coordinates in metres or elevations: a naive sum of squares loses every digit here
    grid = small_grid(shape=(30, 40))
    field = random_field(grid, seed=9, dtype="float64") + base
    values = field.values.ravel()
    exact_mean = sum(map(Fraction, values)) / values.size
    exact_std = math.sqrt(sum((Fraction(v) - exact_mean) ** 2 for v in values) / values.size)
    stack, avail = xr.Dataset({"v": field}), field * 0 + 1
    for chunks in (7, 3):
        tiles = {"y": chunks, "x": chunks}
        learned = learned_statistics(
            {"v": {"transform": "ms_large"}}, stack.chunk(tiles), avail.chunk(tiles)
        )
        assert learned["v"]["mean"] == pytest.approx(float(exact_mean), rel=1e-15)
        assert learned["v"]["std"] == pytest.approx(exact_std, rel=1e-14)
        assert learned["v"]["std"] == pytest.approx(np.std(values), rel=1e-12)


def test_learned_statistics__a_stack_of_one_value_learns_std_zero_and_fit_says_so(data):
    stack, avail = data
    flat = stack.assign(heat=stack["heat"] * 0 + 5.0)
    learned = learned_statistics({"heat": {"transform": "ms_large"}}, flat.chunk(CHUNKS), avail)
    assert learned["heat"]["mean"] == 5.0
    assert learned["heat"]["std"] == 0.0
    with pytest.raises(ScenarioError, match=r"standard deviation is 0\.0"):
        WeightedOverlay(learned).fit(pd.DataFrame({"heat": []}))


# --- only the learned parameters change -------------------------------------------------


def test_learned_statistics__keeps_given_parameters_and_the_input(data):
    before = copy.deepcopy(CRITERIA)
    learned = learned_statistics(CRITERIA, *_chunked(data), min_availability=MIN_AVAILABILITY)
    assert before == CRITERIA  # the input is not changed
    assert learned["dist_km"] == CRITERIA["dist_km"]  # an explicit range: untouched
    assert learned["land"] == CRITERIA["land"]  # categorical: untouched
    assert learned["heat"]["mean"] == 60.0  # given: kept; std learned
    for name, spec in CRITERIA.items():
        given = {key: value for key, value in spec.items() if value is not None}
        assert {key: learned[name][key] for key in given} == given
        assert set(learned[name]) - set(given) <= {"range", "mean", "std"}
    assert list(learned) == list(CRITERIA)


def test_learned_statistics__keeps_ahp_weights_as_given(data):
    criteria = {"ghi": {"better": "higher"}, "dist_km": {"better": "lower", "range": (0, 50)}}
    weighted = ahp_weights({("ghi", "dist_km"): 3}, list(criteria)).assign_weights(criteria)
    learned = learned_statistics(weighted, *_chunked(data))
    assert {name: spec["weight"] for name, spec in learned.items()} == {
        name: spec["weight"] for name, spec in weighted.items()
    }


def test_learned_statistics__nothing_to_learn_computes_nothing(data):
    criteria = {name: CRITERIA[name] for name in ("dist_km", "land")}
    with _Computes() as computes:
        learned = learned_statistics(criteria, *_chunked(data))
    assert learned == criteria
    assert computes.count == 0


# --- one pass -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_learned_statistics__is_one_compute_on_a_chunked_stack(data, scheduler):
    stack, avail = _chunked(data)
    assert stack["ghi"].data.npartitions == 16
    with dask.config.set(scheduler=scheduler), _Computes() as computes:
        learned_statistics(CRITERIA, stack, avail, min_availability=MIN_AVAILABILITY)
    assert computes.count == 1
    assert stack["ghi"].chunks is not None  # the stack stays lazy


def test_learned_statistics__numpy_backed_stack_needs_no_dask_compute(data):
    with _Computes() as computes:
        learned_statistics(CRITERIA, *data, min_availability=MIN_AVAILABILITY)
    assert computes.count == 0


# --- errors -------------------------------------------------------------------------------


def test_learned_statistics__a_criterion_that_is_no_column_is_a_scenario_error(data):
    criteria = {"ghi": {"better": "higher"}, "ghi_kwh": {"better": "higher", "range": (1, 2)}}
    with pytest.raises(ScenarioError, match=r"\['ghi_kwh'\] are not columns.*'ghi'"):
        learned_statistics(criteria, *_chunked(data))


@pytest.mark.parametrize(
    "spec",
    [
        {"better": "higher"},
        {"transform": "ms_small"},
        {"transform": "ms_large", "mean": 1.0},
    ],
)
def test_learned_statistics__no_finite_candidate_value_is_fits_error(data, spec):
    stack, avail = data
    # finite only where no cell is a candidate
    holes = stack.assign(ghi=stack["ghi"].where(avail.fillna(0) < MIN_AVAILABILITY))
    assert np.isfinite(holes["ghi"].values).any()
    candidates = cells_to_candidates(holes, avail, min_availability=MIN_AVAILABILITY)
    with pytest.raises(ScenarioError) as expected:
        WeightedOverlay({"ghi": spec}).fit(candidates)
    with pytest.raises(ScenarioError) as raised:
        learned_statistics(
            {"ghi": spec},
            holes.chunk(CHUNKS),
            avail.chunk(CHUNKS),
            min_availability=MIN_AVAILABILITY,
        )
    assert str(raised.value) == str(expected.value)
    assert "no finite value to learn" in str(raised.value)


def test_learned_statistics__a_numeric_transform_on_text_is_fits_error(data):
    stack, avail = data
    text = stack.assign(ghi=stack["ghi"].astype(str).astype(object))
    candidates = cells_to_candidates(text, avail, min_availability=MIN_AVAILABILITY)
    criteria = {"ghi": {"better": "higher"}}
    with pytest.raises(ScenarioError) as expected:
        WeightedOverlay(criteria).fit(candidates)
    with pytest.raises(ScenarioError) as raised:
        learned_statistics(criteria, text, avail, min_availability=MIN_AVAILABILITY)
    assert str(raised.value) == str(expected.value)


def test_learned_statistics__no_candidate_cell_is_no_feasible_sites(data):
    stack, avail = data
    with pytest.raises(NoFeasibleSitesError) as expected:
        cells_to_candidates(stack, avail * 0, min_availability=MIN_AVAILABILITY)
    with pytest.raises(NoFeasibleSitesError) as raised:
        learned_statistics(
            CRITERIA, *_chunked((stack, avail * 0)), min_availability=MIN_AVAILABILITY
        )
    assert str(raised.value) == str(expected.value)


def test_learned_statistics__availability_on_another_grid_is_refused(data):
    stack, avail = data
    other = coordinate_image(small_grid(shape=(3, 4)))
    with pytest.raises(ValueError, match="not on the stack's grid"):
        learned_statistics(CRITERIA, stack, other)
    assert avail.shape == SHAPE
