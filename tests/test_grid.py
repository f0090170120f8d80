"""Grid: constructors, snapping, coordinates, value semantics, xarray templates."""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from siting.errors import CRSError, GridError
from siting.grid import US_EQUAL_AREA, BoundingBox, Grid

coordinate = st.floats(min_value=-3e6, max_value=3e6, allow_nan=False)
extent = st.floats(min_value=1.0, max_value=1e3, allow_nan=False)
resolution = st.sampled_from([2.5, 30.0, 90.0, 250.0, 1000.0, 0.1])


@given(left=coordinate, bottom=coordinate, width=extent, height=extent, res=resolution)
@settings(max_examples=200, deadline=None)
def test_from_bounds__covers_input_and_snaps_edges_to_resolution(left, bottom, width, height, res):
    bounds = (left, bottom, left + width, bottom + height)
    grid = Grid.from_bounds(bounds, res)
    b = grid.bounds
    tol = 1e-6 * res
    assert b.left <= bounds[0] + tol
    assert b.bottom <= bounds[1] + tol
    assert b.right >= bounds[2] - tol
    assert b.top >= bounds[3] - tol
    # never more than one extra cell on each side
    assert bounds[0] - b.left < res + tol
    assert b.right - bounds[2] < res + tol
    for edge in b:
        assert abs(edge / res - round(edge / res)) < 1e-6


@given(left=coordinate, bottom=coordinate, width=extent, height=extent, res=resolution)
@settings(max_examples=200, deadline=None)
def test_from_bounds__snapping_is_idempotent(left, bottom, width, height, res):
    grid = Grid.from_bounds((left, bottom, left + width, bottom + height), res)
    assert Grid.from_bounds(grid.bounds, res) == grid


@given(
    rows=st.integers(1, 300),
    cols=st.integers(1, 300),
    r=st.integers(0, 299),
    c=st.integers(0, 299),
    res=resolution,
)
@settings(max_examples=200, deadline=None)
def test_xy_rowcol__round_trip(rows, cols, r, c, res):
    grid = Grid(US_EQUAL_AREA, Affine(res, 0, -1000 * res, 0, -res, 2000 * res), (rows, cols))
    r, c = r % rows, c % cols
    x, y = grid.xy(r, c)
    assert grid.rowcol(x, y) == (r, c)
    assert grid.contains(x, y)


@given(rows=st.integers(1, 50), cols=st.integers(1, 50), tile=st.integers(1, 20))
@settings(max_examples=100, deadline=None)
def test_tiles__partition_the_grid_and_keep_georeferencing(rows, cols, tile):
    grid = Grid(US_EQUAL_AREA, Affine(30, 0, 0, 0, -30, 0), (rows, cols))
    covered = np.zeros(grid.shape, dtype=int)
    for t in grid.tiles(tile):
        covered[t.rows, t.cols] += 1
        assert t.grid.is_aligned_with(grid)
        assert t.grid.xy(0, 0) == grid.xy(t.rows.start, t.cols.start)
    assert (covered == 1).all()


def test_from_bounds__exact_shape_and_area():
    grid = Grid.from_bounds((0, 0, 1000, 500), 100)
    assert grid.shape == (5, 10)
    assert grid.bounds == BoundingBox(0.0, 0.0, 1000.0, 500.0)
    assert grid.cell_area_m2 == 10_000.0
    assert grid.crs.to_epsg() == 5070


def test_from_bounds__snaps_outward():
    grid = Grid.from_bounds((15, 15, 185, 95), 50)
    assert grid.bounds == BoundingBox(0.0, 0.0, 200.0, 100.0)
    unsnapped = Grid.from_bounds((15, 15, 185, 95), 50, snap=False)
    assert unsnapped.bounds.left == 15
    assert unsnapped.bounds.top == 95
    assert unsnapped.shape == (2, 4)


def test_cell_area__converts_us_survey_feet():
    # EPSG:2263 (NY Long Island, US survey feet): a 100 ft cell is 929.03 m².
    grid = Grid.from_bounds((0, 0, 1000, 1000), 100, crs="EPSG:2263")
    assert grid.cell_area_m2 == pytest.approx((100 * 1200 / 3937) ** 2, rel=1e-9)


def test_cell_area__geographic_crs_is_refused():
    grid = Grid.from_bounds((-100, 40, -99, 41), 0.1, crs="EPSG:4326")
    with pytest.raises(CRSError, match="geographic"):
        _ = grid.cell_area_m2


def test_cell_centres_are_half_a_cell_in():
    grid = Grid.from_bounds((0, 0, 300, 200), 100)
    np.testing.assert_array_equal(grid.xs, [50, 150, 250])
    np.testing.assert_array_equal(grid.ys, [150, 50])


def test_equality_and_hash__all_three_parts_matter():
    a = Grid.from_bounds((0, 0, 1000, 1000), 100)
    assert a == Grid.from_bounds((0, 0, 1000, 1000), 100)
    assert hash(a) == hash(Grid.from_bounds((0, 0, 1000, 1000), 100))
    assert a != Grid.from_bounds((0, 0, 1000, 1000), 100, crs="EPSG:5071")
    assert a != Grid.from_bounds((0, 0, 1000, 1100), 100)
    assert a != Grid.from_bounds((0, 0, 1000, 1000), 50)
    assert len({a, Grid.from_bounds((0, 0, 1000, 1000), 100)}) == 1
    assert pickle.loads(pickle.dumps(a)) == a


def test_grid_is_immutable():
    grid = Grid.from_bounds((0, 0, 10, 10), 1)
    with pytest.raises(AttributeError):
        grid.shape = (1, 1)  # type: ignore[misc]


def test_from_geometry__reprojects_region_to_equal_area():
    region = gpd.GeoSeries([box(-117.0, 39.0, -116.0, 40.0)], crs="EPSG:4326")
    grid = Grid.from_geometry(region, 1000)
    assert grid.crs.to_epsg() == 5070
    projected = region.to_crs(5070).total_bounds
    b = grid.bounds
    assert b.left <= projected[0]
    assert b.right >= projected[2]
    assert b.bottom <= projected[1]
    assert b.top >= projected[3]
    assert grid.width == pytest.approx((projected[2] - projected[0]) / 1000, abs=2)


def test_from_geometry__bare_geometry_needs_its_crs():
    with pytest.raises(CRSError, match="geometry_crs"):
        Grid.from_geometry(box(0, 0, 1, 1), 100)
    grid = Grid.from_geometry(box(0, 0, 1000, 1000), 100, "EPSG:32611", geometry_crs="EPSG:32611")
    assert grid.shape == (10, 10)


def test_from_geometry__missing_crs_and_empty_region_are_refused():
    with pytest.raises(CRSError, match="set_crs"):
        Grid.from_geometry(gpd.GeoSeries([box(0, 0, 1, 1)]), 100)
    with pytest.raises(GridError, match="empty"):
        Grid.from_geometry(gpd.GeoSeries([Point(0, 0).buffer(0)], crs=4326), 100)


@pytest.mark.parametrize(
    ("bounds", "res", "match"),
    [
        ((0, 0, 0, 10), 1, "empty or inverted"),
        ((10, 0, 0, 10), 1, "empty or inverted"),
        ((0, 0, 10, 10), 0, "positive"),
        ((0, 0, 10, 10), -5, "positive"),
        ((0, 0, 10, 10), float("nan"), "positive"),
        ((0, 0, float("nan"), 10), 1, "finite"),
        ((-2e7, -2e7, 2e7, 2e7), 0.01, "too large"),
    ],
)
def test_from_bounds__bad_input(bounds, res, match):
    with pytest.raises(GridError, match=match):
        Grid.from_bounds(bounds, res)


@pytest.mark.parametrize("crs", [None, "EPSG:999999", "not a crs"])
def test_bad_crs_is_refused_with_a_fix(crs):
    with pytest.raises(CRSError, match="EPSG:5070"):
        Grid.from_bounds((0, 0, 10, 10), 1, crs=crs)


def test_rotated_transform_is_refused():
    with pytest.raises(GridError, match="north-up"):
        Grid(US_EQUAL_AREA, Affine(1, 0.5, 0, 0, -1, 0), (2, 2))


def test_to_xarray__template_is_georeferenced():
    grid = Grid.from_bounds((0, 0, 1000, 500), 100)
    array = grid.to_xarray(name="empty")
    assert array.dims == ("y", "x")
    assert array.name == "empty"
    assert np.isnan(array.values).all()
    assert array.rio.crs.to_epsg() == 5070
    assert Grid.from_xarray(array) == grid
    lazy = grid.to_xarray(chunks=2, dtype="uint8", fill_value=7)
    assert lazy.chunks == ((2, 2, 1), (2, 2, 2, 2, 2))
    assert int(lazy.sum()) == 7 * grid.size
    assert Grid.from_xarray(lazy) == grid


def test_from_xarray__needs_a_crs():
    import xarray as xr

    grid = Grid.from_bounds((0, 0, 10, 10), 1)
    bare = xr.DataArray(np.zeros(grid.shape), coords=grid.coords(), dims=("y", "x"))
    with pytest.raises(CRSError, match="write_crs"):
        Grid.from_xarray(bare)


def test_is_aligned_with():
    grid = Grid.from_bounds((0, 0, 1000, 1000), 100)
    assert grid.is_aligned_with(grid.window(slice(2, 5), slice(3, 9)))
    assert not grid.is_aligned_with(Grid.from_bounds((50, 0, 1050, 1000), 100, snap=False))
