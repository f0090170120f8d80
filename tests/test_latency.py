"""Latency model and population within round-trip budgets (siting.features.latency)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from siting.errors import CRSError, GridError, InvalidLayerError, ScenarioError
from siting.features import (
    LatencyModel,
    nearest_feature,
    population_within_latency,
    population_within_latency_raster,
)
from siting.features.latency import FIBER_GROUP_INDEX, SPEED_OF_LIGHT_KM_PER_MS
from siting.grid import Grid

CRS = "EPSG:5070"
SIMPLE = LatencyModel(route_factor=1.5, fiber_km_per_ms=200.0, fixed_overhead_ms=1.0)


def _points(xy: np.ndarray, crs: str = CRS, **columns: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=shapely.points(xy), crs=crs)


def _brute_force(
    sites_xy: np.ndarray,
    pop_xy: np.ndarray,
    weights: np.ndarray,
    budgets: tuple[float, ...],
    model: LatencyModel,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts (sites x budgets) and mean RTT within the largest budget, all pairs at once."""
    d = np.sqrt(((sites_xy[:, None, :] - pop_xy[None, :, :]) ** 2).sum(axis=-1))
    rtt = model.rtt_ms(d)
    counts = np.stack([(rtt <= b) @ weights for b in budgets], axis=1)
    inside = rtt <= max(budgets)
    reached = inside @ weights
    with np.errstate(invalid="ignore"):
        mean = (np.where(inside, rtt, 0.0) @ weights) / reached
    return counts, mean


def _random_case(seed: int, n_sites: int, n_pop: int, extent: float = 400_000.0):
    rng = np.random.default_rng(seed)
    sites_xy = rng.uniform(0, extent, size=(n_sites, 2))
    pop_xy = rng.uniform(-extent / 4, extent * 1.25, size=(n_pop, 2))
    weights = rng.integers(0, 5000, size=n_pop).astype("float64")
    return sites_xy, pop_xy, weights


# -- the model ---------------------------------------------------------------------------


def test_rtt__hand_computed_100_km():
    model = LatencyModel(route_factor=1.5, fiber_km_per_ms=204.0, fixed_overhead_ms=1.0)
    assert model.rtt_ms(100_000) == pytest.approx(1.0 + 2 * 150 / 204, rel=1e-12)
    assert model.rtt_ms(0) == 1.0
    assert model.rtt_ms_per_km == pytest.approx(3 / 204)


def test_rtt__default_speed_is_light_in_standard_fiber():
    model = LatencyModel()
    assert model.fiber_km_per_ms == pytest.approx(299.792458 / 1.468)
    assert model.fiber_km_per_ms == pytest.approx(SPEED_OF_LIGHT_KM_PER_MS / FIBER_GROUP_INDEX)
    assert 204.0 < model.fiber_km_per_ms < 204.5
    assert model.route_factor == 1.5


def test_rtt__arrays_keep_their_shape_and_nan():
    out = SIMPLE.rtt_ms(np.array([[0.0, 100_000.0], [np.nan, 200_000.0]]))
    np.testing.assert_allclose(out, [[1.0, 2.5], [np.nan, 4.0]])


def test_radius__hand_computed():
    assert SIMPLE.radius_m(4.0) == pytest.approx(200_000.0)
    assert SIMPLE.radius_m(1.0) == 0.0
    np.testing.assert_allclose(SIMPLE.radius_m(np.array([2.5, 4.0])), [100_000.0, 200_000.0])


@settings(max_examples=200, deadline=None)
@given(
    distance=st.floats(0, 2e7),
    route=st.floats(1, 4),
    speed=st.floats(50, SPEED_OF_LIGHT_KM_PER_MS),
    overhead=st.floats(0, 20),
)
def test_radius__is_the_inverse_of_rtt(distance, route, speed, overhead):
    model = LatencyModel(route_factor=route, fiber_km_per_ms=speed, fixed_overhead_ms=overhead)
    back = model.radius_m(model.rtt_ms(distance))
    assert back == pytest.approx(distance, rel=1e-9, abs=1e-6)
    budget = overhead + distance / 1e5
    assert model.rtt_ms(model.radius_m(budget)) == pytest.approx(budget, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"route_factor": 0.9},
        {"route_factor": float("nan")},
        {"fiber_km_per_ms": 0.0},
        {"fiber_km_per_ms": 400.0},
        {"fixed_overhead_ms": -1.0},
        {"fixed_overhead_ms": float("inf")},
        {"route_factor": "1.5"},
    ],
)
def test_model__bad_parameters_are_refused(kwargs):
    with pytest.raises(ScenarioError, match="LatencyModel"):
        LatencyModel(**kwargs)


def test_radius__budget_below_overhead_is_refused():
    with pytest.raises(ScenarioError, match="below the model's fixed overhead"):
        SIMPLE.radius_m(0.5)


def test_rtt__negative_distance_is_refused():
    with pytest.raises(InvalidLayerError, match=">= 0"):
        SIMPLE.rtt_ms(-1.0)


def test_model__is_frozen():
    with pytest.raises(AttributeError):
        SIMPLE.route_factor = 2.0  # type: ignore[misc]


# -- per site: exact counts ----------------------------------------------------------------


def test_population__hand_case():
    sites = _points(np.array([[0.0, 0.0], [300_000.0, 0.0]]))
    towns = _points(np.array([[50_000.0, 0.0], [400_000.0, 0.0]]), population=[1000, 250])
    out = population_within_latency(sites, towns, budgets_ms=(2, 5, 10), model=SIMPLE)
    assert list(out.columns) == [
        "population_within_2ms",
        "population_within_5ms",
        "population_within_10ms",
        "population_weighted_latency_ms",
    ]
    # site 0: 50 km -> 1.75 ms, 400 km -> 7 ms; site 1: 250 km -> 4.75 ms, 100 km -> 2.5 ms
    assert out["population_within_2ms"].tolist() == [1000.0, 0.0]
    assert out["population_within_5ms"].tolist() == [1000.0, 1250.0]
    assert out["population_within_10ms"].tolist() == [1250.0, 1250.0]
    expected = [(1000 * 1.75 + 250 * 7.0) / 1250, (1000 * 4.75 + 250 * 2.5) / 1250]
    np.testing.assert_allclose(out["population_weighted_latency_ms"], expected, rtol=1e-12)
    assert out.attrs["radius_m"] == pytest.approx(
        {"2": 66_666.67, "5": 266_666.67, "10": 600_000.0}, rel=1e-6
    )
    assert out.attrs["latency_model"]["route_factor"] == 1.5


def test_population__weighted_latency_only_counts_people_within_the_largest_budget():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = _points(np.array([[100_000.0, 0.0], [2_000_000.0, 0.0]]), population=[10, 10**6])
    out = population_within_latency(sites, towns, budgets_ms=(5,), model=SIMPLE)
    assert out["population_within_5ms"].item() == 10.0
    assert out["population_weighted_latency_ms"].item() == pytest.approx(2.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_population__equals_brute_force(seed):
    sites_xy, pop_xy, weights = _random_case(seed, n_sites=300, n_pop=1500)
    budgets = (1.5, 2.0, 3.5)
    out = population_within_latency(
        _points(sites_xy),
        _points(pop_xy, population=weights),
        budgets_ms=budgets,
        model=SIMPLE,
    )
    counts, mean = _brute_force(sites_xy, pop_xy, weights, budgets, SIMPLE)
    for j, b in enumerate(budgets):
        np.testing.assert_allclose(
            out[f"population_within_{b:g}ms".replace(".", "p")], counts[:, j]
        )
    np.testing.assert_allclose(out["population_weighted_latency_ms"], mean, rtol=1e-10)
    assert counts[:, 0].min() < counts[:, -1].max()  # the case is not degenerate


def test_population__budgets_are_nested():
    sites_xy, pop_xy, weights = _random_case(7, n_sites=200, n_pop=800)
    out = population_within_latency(
        _points(sites_xy), _points(pop_xy, population=weights), budgets_ms=(5, 10, 20)
    )
    five, ten, twenty = (out[f"population_within_{b}ms"] for b in (5, 10, 20))
    assert (five <= ten).all()
    assert (ten <= twenty).all()


def test_population__budget_order_is_kept_in_the_columns():
    sites_xy, pop_xy, weights = _random_case(3, n_sites=20, n_pop=100)
    sites, pop = _points(sites_xy), _points(pop_xy, population=weights)
    shuffled = population_within_latency(sites, pop, budgets_ms=(3.5, 1.5, 2), model=SIMPLE)
    ordered = population_within_latency(sites, pop, budgets_ms=(1.5, 2, 3.5), model=SIMPLE)
    assert list(shuffled.columns[:3]) == [
        "population_within_3p5ms",
        "population_within_1p5ms",
        "population_within_2ms",
    ]
    pd.testing.assert_frame_equal(shuffled[ordered.columns], ordered)


@pytest.mark.parametrize("chunk_size", [1, 7, 256])
def test_population__chunked_equals_unchunked(chunk_size):
    # 600 sites spread over a large area: several site blocks and point blocks per chunk
    sites_xy, pop_xy, weights = _random_case(11, n_sites=600, n_pop=3000, extent=1e6)
    sites, pop = _points(sites_xy), _points(pop_xy, population=weights)
    whole = population_within_latency(sites, pop, model=SIMPLE, chunk_size=10**6)
    chunked = population_within_latency(sites, pop, model=SIMPLE, chunk_size=chunk_size)
    pd.testing.assert_frame_equal(chunked, whole, rtol=1e-12)


def test_population__index_and_missing_sites():
    sites = gpd.GeoDataFrame(
        geometry=[Point(0, 0), None, Point(10, 0)], index=["a", "b", "c"], crs=CRS
    )
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    out = population_within_latency(sites, towns, budgets_ms=(2,), model=SIMPLE)
    assert out.index.tolist() == ["a", "b", "c"]
    assert out["population_within_2ms"].tolist()[0] == 5.0
    assert np.isnan(out.loc["b"]).all()
    assert out.loc["c", "population_weighted_latency_ms"] == pytest.approx(SIMPLE.rtt_ms(10.0))


def test_population__sites_as_geoseries_and_points_counted_without_weights():
    sites = gpd.GeoSeries([Point(0, 0)], crs=CRS)
    pop = gpd.GeoSeries([Point(1, 0), Point(2, 0), Point(900_000, 0)], crs=CRS)
    out = population_within_latency(sites, pop, budgets_ms=(3,), model=SIMPLE, weight_column=None)
    assert out["population_within_3ms"].item() == 2.0


def test_population__reprojected_to_the_sites_crs():
    sites_xy, pop_xy, weights = _random_case(5, n_sites=50, n_pop=300)
    sites_xy, pop_xy = sites_xy + 1e6, pop_xy + 1e6  # inside CONUS in EPSG:5070
    pop = _points(pop_xy, population=weights)
    direct = population_within_latency(_points(sites_xy), pop, model=SIMPLE, budgets_ms=(2, 3))
    via_lonlat = population_within_latency(
        _points(sites_xy), pop.to_crs("EPSG:4326"), model=SIMPLE, budgets_ms=(2, 3)
    )
    pd.testing.assert_frame_equal(direct, via_lonlat, rtol=1e-9)


def test_population__crs_in_feet_gives_the_same_answer():
    utm = "+proj=utm +zone=11 +datum=WGS84 +units=m +no_defs"
    feet = "+proj=utm +zone=11 +datum=WGS84 +units=us-ft +no_defs"
    sites_xy, pop_xy, weights = _random_case(9, n_sites=80, n_pop=400)
    offset = np.array([300_000.0, 4_000_000.0])
    sites_xy, pop_xy = sites_xy + offset, pop_xy + offset
    pop = _points(pop_xy, crs=utm, population=weights)
    metres = population_within_latency(
        _points(sites_xy, crs=utm), pop, model=SIMPLE, budgets_ms=(2, 3)
    )
    in_feet = population_within_latency(
        _points(sites_xy, crs=utm).to_crs(feet), pop, model=SIMPLE, budgets_ms=(2, 3)
    )
    pd.testing.assert_frame_equal(metres, in_feet, rtol=1e-9)


def test_population__raster_cells_are_points_at_their_centres():
    grid = Grid(CRS, Affine(20_000.0, 0, 1e6, 0, -20_000.0, 2e6), (12, 15))
    rng = np.random.default_rng(4)
    values = rng.integers(0, 1000, size=grid.shape).astype("float64")
    values[rng.random(grid.shape) < 0.2] = np.nan
    values[0, :3] = -9999.0  # nodata: nobody
    raster = grid.to_xarray(dtype="float64").copy(data=values).rio.write_nodata(-9999.0)
    rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
    x, y = grid.xy(rows, cols)
    as_points = _points(np.column_stack([x, y]), population=values[rows, cols])
    sites = _points(rng.uniform([1e6, 1.76e6], [1.3e6, 2e6], size=(40, 2)))
    from_raster = population_within_latency(sites, raster, model=SIMPLE, budgets_ms=(1.5, 2))
    from_points = population_within_latency(sites, as_points, model=SIMPLE, budgets_ms=(1.5, 2))
    pd.testing.assert_frame_equal(from_raster, from_points, rtol=1e-12)


def test_population__raster_in_lonlat_is_reprojected():
    grid = Grid("EPSG:4326", Affine(0.1, 0, -100.0, 0, -0.1, 40.0), (5, 5))
    raster = grid.to_xarray(dtype="float64", fill_value=10.0)
    sites = gpd.GeoDataFrame(geometry=[Point(-99.75, 39.75)], crs="EPSG:4326").to_crs(CRS)
    out = population_within_latency(sites, raster, model=SIMPLE, budgets_ms=(10,))
    assert out["population_within_10ms"].item() == 250.0


def test_population__empty_population_gives_zeros_and_nan_latency():
    sites = _points(np.array([[0.0, 0.0], [1.0, 1.0]]))
    empty = gpd.GeoDataFrame({"population": []}, geometry=[], crs=CRS)
    out = population_within_latency(sites, empty, model=SIMPLE)
    assert (out.filter(like="population_within") == 0).all().all()
    assert out["population_weighted_latency_ms"].isna().all()
    zeros = _points(np.array([[0.0, 0.0]]), population=[0])
    out = population_within_latency(sites, zeros, model=SIMPLE)
    assert (out["population_within_5ms"] == 0).all()


def test_population__no_sites_gives_an_empty_table():
    sites = gpd.GeoDataFrame(geometry=[], crs=CRS)
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    out = population_within_latency(sites, towns, model=SIMPLE)
    assert len(out) == 0
    assert "population_weighted_latency_ms" in out.columns


# -- per site: errors ------------------------------------------------------------------------


def test_population__sites_without_crs_are_refused():
    sites = gpd.GeoDataFrame(geometry=[Point(0, 0)])
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    with pytest.raises(CRSError, match=r"no CRS.*set_crs"):
        population_within_latency(sites, towns)


def test_population__geographic_sites_are_refused():
    sites = gpd.GeoDataFrame(geometry=[Point(-117, 39)], crs="EPSG:4326")
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    with pytest.raises(CRSError, match=r"geographic.*to_crs"):
        population_within_latency(sites, towns)


def test_population__population_without_crs_is_refused():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = gpd.GeoDataFrame({"population": [5]}, geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match="population points have no CRS"):
        population_within_latency(sites, towns)


def test_population__raster_without_crs_is_refused():
    sites = _points(np.array([[0.0, 0.0]]))
    grid = Grid(CRS, Affine(1.0, 0, 0, 0, -1.0, 0), (2, 2))
    raster = grid.to_xarray(fill_value=1.0).drop_vars("spatial_ref")
    with pytest.raises(CRSError, match="write_crs"):
        population_within_latency(sites, raster)


def test_population__nan_weights_name_the_rows():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = gpd.GeoDataFrame(
        {"population": [5.0, np.nan, 3.0, np.nan]},
        geometry=[Point(0, 0)] * 4,
        index=["Ely", "Eureka", "Austin", "Tonopah"],
        crs=CRS,
    )
    with pytest.raises(InvalidLayerError, match=r"'Eureka', 'Tonopah'"):
        population_within_latency(sites, towns)


def test_population__negative_weights_are_refused():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = _points(np.array([[0.0, 0.0], [1.0, 0.0]]), population=[5, -1])
    with pytest.raises(InvalidLayerError, match=r"negative in the rows \[1\]"):
        population_within_latency(sites, towns)


def test_population__missing_weight_column_lists_the_columns():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = _points(np.array([[0.0, 0.0]]), pop2020=[5])
    with pytest.raises(InvalidLayerError, match=r"no column 'population'.*pop2020"):
        population_within_latency(sites, towns)


def test_population__non_point_geometries_are_refused():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = gpd.GeoDataFrame({"population": [5]}, geometry=[LineString([(0, 0), (1, 1)])], crs=CRS)
    with pytest.raises(InvalidLayerError, match="representative_point"):
        population_within_latency(sites, towns)
    polygon_sites = gpd.GeoDataFrame(geometry=[Point(0, 0).buffer(10)], crs=CRS)
    with pytest.raises(InvalidLayerError, match="sites must be points"):
        population_within_latency(polygon_sites, _points(np.zeros((1, 2)), population=[1]))


@pytest.mark.parametrize("budgets", [(), (0.5, 5), (5, 5), (5, float("nan"))])
def test_population__bad_budgets_are_refused(budgets):
    sites = _points(np.array([[0.0, 0.0]]))
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    with pytest.raises(ScenarioError):
        population_within_latency(sites, towns, budgets_ms=budgets, model=SIMPLE)


def test_population__bad_chunk_size_is_refused():
    sites = _points(np.array([[0.0, 0.0]]))
    towns = _points(np.array([[0.0, 0.0]]), population=[5])
    with pytest.raises(ScenarioError, match="chunk_size"):
        population_within_latency(sites, towns, chunk_size=0)


# -- the sample region ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    from siting.datasets import load_sample

    return load_sample()


def test_sample__sites_reach_their_nearest_town(sample):
    sites = sample.facilities.to_crs(32611)
    towns = sample.towns
    budgets = (1.5, 2, 3, 5)
    model = LatencyModel()
    out = population_within_latency(sites, towns, budgets_ms=budgets)
    nearest = nearest_feature(sites, towns.to_crs(32611), columns=["population"])
    rtt = model.rtt_ms(nearest["distance_m"].to_numpy())
    # The sample basin is about 120 x 90 km: every town is within 5 ms of every site
    # (at most about 1 + 2 x 1.5 x 150 / 204 = 3.2 ms).
    assert (out["population_within_5ms"] == towns["population"].sum()).all()
    assert rtt.max() < 3.0
    for b in budgets:
        reached = rtt <= b
        assert (
            out[f"population_within_{b:g}ms".replace(".", "p")][reached]
            >= nearest["population"][reached]
        ).all()
    mean = out["population_weighted_latency_ms"]
    assert ((mean > model.fixed_overhead_ms) & (mean < 3.3)).all()


# -- per cell --------------------------------------------------------------------------------


def _cell_sites(grid: Grid) -> gpd.GeoDataFrame:
    xx, yy = np.meshgrid(grid.xs, grid.ys)
    return _points(np.column_stack([xx.ravel(), yy.ravel()]), crs=grid.crs.to_string())


def test_raster__points_method_equals_the_site_version_at_cell_centres():
    grid = Grid(CRS, Affine(10_000.0, 0, 1e6, 0, -10_000.0, 2e6), (17, 23))
    rng = np.random.default_rng(2)
    pop = _points(
        rng.uniform([0.9e6, 1.75e6], [1.35e6, 2.1e6], size=(500, 2)),
        population=rng.integers(1, 100, 500),
    )
    raster = population_within_latency_raster(pop, grid, budget_ms=2.0, model=SIMPLE)
    table = population_within_latency(_cell_sites(grid), pop, budgets_ms=(2,), model=SIMPLE)
    assert raster.attrs["method"] == "points"
    assert raster.name == "population_within_2ms"
    assert raster.rio.crs.to_epsg() == 5070
    np.testing.assert_array_equal(raster.values.ravel(), table["population_within_2ms"])


def test_raster__convolution_equals_the_site_version_at_cell_centres():
    grid = Grid(CRS, Affine(10_000.0, 0, 1e6, 0, -10_000.0, 2e6), (17, 23))
    # population on the same cells, larger than the grid on three sides, smaller on one
    pgrid = Grid(CRS, Affine(10_000.0, 0, 0.8e6, 0, -10_000.0, 2.1e6), (40, 35))
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, size=pgrid.shape).astype("float64")
    values[rng.random(pgrid.shape) < 0.5] = 0.0
    values[rng.random(pgrid.shape) < 0.05] = np.nan
    people = pgrid.to_xarray(dtype="float64").copy(data=values)
    raster = population_within_latency_raster(people, grid, budget_ms=2.3, model=SIMPLE)
    table = population_within_latency(_cell_sites(grid), people, budgets_ms=(2.3,), model=SIMPLE)
    assert raster.attrs["method"] == "convolve"
    np.testing.assert_allclose(
        raster.values.ravel(), table["population_within_2p3ms"], rtol=1e-12, atol=1e-9
    )
    as_points = population_within_latency_raster(
        people, grid, budget_ms=2.3, model=SIMPLE, method="points"
    )
    np.testing.assert_array_equal(as_points.values.ravel(), table["population_within_2p3ms"])


@pytest.mark.parametrize("chunks", [None, 37, (100, 45)])
def test_raster__convolution_leaves_no_rounding_noise_where_nobody_is_in_reach(chunks):
    grid = Grid(CRS, Affine(1000.0, 0, 0, 0, -1000.0, 0), (100, 100))
    people = grid.to_xarray(dtype="float64", fill_value=0.0)
    people[0, 0] = 1e7
    # radius 33.3 km: a 67 x 67 disk, large enough for an FFT (and a halo wider than a tile)
    out = population_within_latency_raster(
        people, grid, budget_ms=1.5, model=SIMPLE, chunks=chunks
    )
    assert (out.chunks is not None) == (chunks is not None)
    assert out.attrs["method"] == "convolve"
    assert out.values[0, 0] == pytest.approx(1e7, rel=1e-12)
    assert out.values[33, 0] == pytest.approx(1e7, rel=1e-12)  # 33 km
    assert out.values[23, 23] == pytest.approx(1e7, rel=1e-12)  # 32.5 km
    assert out.values[24, 24] == 0.0  # 33.9 km
    assert (out.values[:, 34:] == 0.0).all()
    within = np.hypot(*np.meshgrid(grid.xs - 500.0, grid.ys + 500.0)) <= 100_000 / 3
    assert ((out.values > 0) == within).all()


def test_raster__convolve_needs_an_aligned_raster():
    grid = Grid(CRS, Affine(1000.0, 0, 0, 0, -1000.0, 0), (3, 3))
    shifted = Grid(CRS, Affine(1000.0, 0, 500.0, 0, -1000.0, 0), (3, 3))
    people = shifted.to_xarray(fill_value=1.0)
    with pytest.raises(GridError, match="aligned"):
        population_within_latency_raster(
            people, grid, budget_ms=2, model=SIMPLE, method="convolve"
        )
    out = population_within_latency_raster(people, grid, budget_ms=2, model=SIMPLE)
    assert out.attrs["method"] == "points"


def test_raster__geographic_grid_is_refused():
    grid = Grid("EPSG:4326", Affine(0.1, 0, -100, 0, -0.1, 40), (3, 3))
    pop = _points(np.array([[0.0, 0.0]]), population=[1])
    with pytest.raises(CRSError, match="geographic"):
        population_within_latency_raster(pop, grid, budget_ms=5)


def test_raster__unknown_method_is_refused():
    grid = Grid(CRS, Affine(1000.0, 0, 0, 0, -1000.0, 0), (3, 3))
    pop = _points(np.array([[0.0, 0.0]]), population=[1])
    with pytest.raises(ScenarioError, match="method="):
        population_within_latency_raster(pop, grid, budget_ms=5, method="fft")  # type: ignore[arg-type]


def test_raster_points_method_tiled_lazily_equals_in_memory():
    from siting.testing import small_grid

    grid = small_grid(shape=(37, 53), resolution=1_000.0)
    rng = np.random.default_rng(4)
    left, bottom, right, top = grid.bounds
    towns = gpd.GeoDataFrame(
        {"population": rng.integers(100, 50_000, 40)},
        geometry=gpd.points_from_xy(
            rng.uniform(left - 5_000, right + 5_000, 40),
            rng.uniform(bottom - 5_000, top + 5_000, 40),
        ),
        crs=grid.crs,
    )
    whole = population_within_latency_raster(towns, grid, budget_ms=1.15)
    tiled = population_within_latency_raster(towns, grid, budget_ms=1.15, chunks=16)
    assert tiled.chunks is not None  # lazy: computed tile by tile
    assert whole.values.max() > 0
    np.testing.assert_array_equal(tiled.values, whole.values)


_ALBERS_KM = Grid(CRS, Affine(1000.0, 0, 1e6, 0, -1000.0, 2e6), (83, 101))


def _people(pgrid: Grid, seed: int):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 1000, size=pgrid.shape).astype("float64")
    values[rng.random(pgrid.shape) < 0.6] = 0.0
    values[rng.random(pgrid.shape) < 0.03] = np.nan
    # nobody in the south-west, so some cells of _ALBERS_KM have nobody in reach
    xx, yy = np.meshgrid(pgrid.xs, pgrid.ys)
    values[(xx < 1.05e6) & (yy < 1.96e6)] = 0.0
    return pgrid.to_xarray(dtype="float64").copy(data=values)


@pytest.mark.parametrize(
    "pgrid",
    [
        # 30 km beyond the grid on every side, wider than the 16.7 km radius
        Grid(CRS, Affine(1000.0, 0, 0.97e6, 0, -1000.0, 2.03e6), (143, 161)),
        # inside the grid: the halo of most tiles reaches off the raster's edge
        Grid(CRS, Affine(1000.0, 0, 1.01e6, 0, -1000.0, 1.99e6), (50, 60)),
        # overlapping the grid's lower-right corner only
        Grid(CRS, Affine(1000.0, 0, 1.08e6, 0, -1000.0, 1.94e6), (40, 50)),
    ],
    ids=["larger", "smaller", "corner"],
)
@pytest.mark.parametrize("chunks", [17, (30, 41)])
@pytest.mark.parametrize("dask_population", [False, True])
def test_raster__convolution_tiled_lazily_equals_in_memory(pgrid, chunks, dask_population):
    import dask.array as da

    people = _people(pgrid, seed=7)
    whole = population_within_latency_raster(people, _ALBERS_KM, budget_ms=1.25, model=SIMPLE)
    if dask_population:
        people = people.chunk(23)
    tiled = population_within_latency_raster(
        people, _ALBERS_KM, budget_ms=1.25, model=SIMPLE, chunks=chunks
    )
    assert isinstance(tiled.data, da.Array)
    rows, cols = (chunks, chunks) if isinstance(chunks, int) else chunks
    assert tiled.chunks[0][0] == rows
    assert tiled.chunks[1][0] == cols
    assert tiled.attrs == whole.attrs
    assert tiled.attrs["method"] == "convolve"
    assert tiled.name == whole.name
    assert Grid.from_xarray(tiled) == _ALBERS_KM
    values = tiled.values
    assert whole.values.max() > 0
    assert (whole.values == 0).any()
    # FFT or direct sums can differ with the tile size: rounding of ~1e-15 of the people
    # in reach, never a changed zero
    np.testing.assert_allclose(values, whole.values, rtol=0, atol=1e-12 * np.nansum(people))
    np.testing.assert_array_equal(values == 0, whole.values == 0)


def test_raster__convolution_tiled_with_nobody_in_reach_is_lazy_zero():
    far = _people(Grid(CRS, Affine(1000.0, 0, 0.5e6, 0, -1000.0, 2.5e6), (10, 10)), seed=9)
    tiled = population_within_latency_raster(
        far, _ALBERS_KM, budget_ms=1.25, model=SIMPLE, chunks=40
    )
    assert tiled.chunks == ((40, 40, 3), (40, 40, 21))
    assert tiled.attrs["method"] == "convolve"
    np.testing.assert_array_equal(tiled.values, np.zeros(_ALBERS_KM.shape))


def test_raster__convolution_tiled_reads_one_window_at_a_time(monkeypatch):
    import dask

    from siting.features import latency

    people = _people(Grid(CRS, Affine(1000.0, 0, 0.97e6, 0, -1000.0, 2.03e6), (143, 161)), 8)
    real = latency._convolve_window
    windows: list[tuple[int, int]] = []
    read: list[tuple[int, int]] = []

    def recording(values, window_shape, *args, **kwargs):
        windows.append(window_shape)
        read.append((0, 0) if values is None else values.shape)
        return real(values, window_shape, *args, **kwargs)

    monkeypatch.setattr(latency, "_convolve_window", recording)
    whole = population_within_latency_raster(people, _ALBERS_KM, budget_ms=1.25, model=SIMPLE)
    assert windows == [(83 + 32, 101 + 32)]  # the whole grid, halo of 16 cells (16.7 km)
    windows.clear()
    read.clear()
    tiled = population_within_latency_raster(
        people, _ALBERS_KM, budget_ms=1.25, model=SIMPLE, chunks=(20, 30)
    )
    assert windows == []  # lazy: nothing convolved yet
    with dask.config.set(scheduler="synchronous"):
        values = tiled.values
    assert len(windows) == 5 * 4
    assert all(r <= 20 + 32 and c <= 30 + 32 for r, c in windows)
    assert all(r <= 20 + 32 and c <= 30 + 32 for r, c in read)
    np.testing.assert_allclose(values, whole.values, rtol=0, atol=1e-12 * np.nansum(people))
