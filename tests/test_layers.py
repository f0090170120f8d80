"""Tests of siting.layers: read, align, rasterize, coverage and the stack."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
import rasterio.warp
import xarray as xr
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from siting.errors import (
    CRSError,
    GridError,
    InvalidLayerError,
    LayerIOError,
    NoDataInRegionError,
    SitingError,
)
from siting.grid import Grid
from siting.layers import (
    WARP_TILE,
    LayerKind,
    align,
    build_stack,
    choose_resampling,
    coverage_fraction,
    grid_of,
    rasterize,
    read_raster,
    resolution_m,
)
from siting.testing import category_field, coordinate_image, random_field, small_grid

# A grid in Rhode Island state plane (EPSG:32130, metres) and one in CONUS Albers.
RI_ORIGIN = (100_000.0, 60_000.0)


def _write(array: xr.DataArray, path: Path, **kwargs: object) -> Path:
    array.rio.to_raster(path, **kwargs)
    return path


def _transform(src: str, dst: str, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
    t = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    return t.transform(xs, ys)


def _inner_grid(source: Grid, crs: str, resolution: float, shrink: float) -> Grid:
    """A grid in ``crs`` inside the footprint of ``source`` (shrunk by ``shrink`` metres)."""
    left, bottom, right, top = rasterio.warp.transform_bounds(
        source.crs.to_string(), crs, *source.bounds, densify_pts=21
    )
    return Grid.from_bounds(
        (left + shrink, bottom + shrink, right - shrink, top - shrink), resolution, crs
    )


# -- kinds and the resampling rule ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "source", "target", "expected"),
    [
        ("continuous", 90, 270, "average"),
        ("continuous", 90, 135, "average"),  # exactly 1.5 x coarser
        ("continuous", 90, 134, "bilinear"),
        ("continuous", 90, 30, "bilinear"),
        ("categorical", 30, 90, "mode"),
        ("categorical", 90, 90, "nearest"),
        (LayerKind.CATEGORICAL, (30, 30), (60, 30), "nearest"),  # sqrt(2) < 1.5
        ("CONTINUOUS", (30, 30), (60, 60), "average"),
    ],
)
def test_choose_resampling__documented_rule(kind, source, target, expected):
    assert choose_resampling(kind, source, target) == expected


@pytest.mark.parametrize("kind", [None, "", "discrete", 3])
def test_choose_resampling__unknown_kind_lists_allowed(kind):
    with pytest.raises(InvalidLayerError, match="'continuous', 'categorical'"):
        choose_resampling(kind, 90, 90)


@pytest.mark.parametrize("resolution", [0, -30, float("nan"), "abc"])
def test_choose_resampling__bad_resolution(resolution):
    with pytest.raises(GridError, match="resolution"):
        choose_resampling("continuous", resolution, 90)


def test_resolution_m__geographic_uses_centre_latitude():
    grid = small_grid("EPSG:4326", shape=(10, 10), resolution=0.01, origin=(-71.5, 60.05))
    x, y = resolution_m(grid)
    assert y == pytest.approx(1111.95, rel=1e-4)
    assert x == pytest.approx(1111.95 * np.cos(np.radians(60.0)), rel=1e-4)


def test_align__kind_is_required():
    grid = small_grid()
    with pytest.raises(TypeError, match="kind"):
        align(random_field(grid), grid)  # type: ignore[call-arg]


@pytest.mark.parametrize("kind", [None, "nominal"])
def test_align__invalid_kind_is_a_value_error(kind):
    grid = small_grid()
    with pytest.raises(ValueError, match="kind must be one of 'continuous', 'categorical'"):
        align(random_field(grid), grid, kind=kind)


@pytest.mark.parametrize(
    ("kind", "resampling"),
    [
        ("categorical", "bilinear"),
        ("categorical", "average"),
        ("categorical", "cubic"),
        ("continuous", "mode"),
        ("continuous", "nearest"),
        ("continuous", "no-such-method"),
    ],
)
def test_align__resampling_not_allowed_for_kind(kind, resampling):
    grid = small_grid()
    with pytest.raises(InvalidLayerError, match=f"not allowed for a {kind} layer"):
        align(category_field(grid), grid, kind=kind, resampling=resampling)


def test_align__records_kind_and_chosen_resampling():
    fine = small_grid(shape=(9, 9), resolution=30)
    coarse = small_grid(shape=(3, 3), resolution=90)
    out = align(random_field(fine), coarse, kind=LayerKind.CONTINUOUS)
    assert out.attrs["kind"] == "continuous"
    assert out.attrs["resampling"] == "average"
    explicit = align(random_field(fine), coarse, kind="continuous", resampling="cubic")
    assert explicit.attrs["resampling"] == "cubic"


# -- reprojection with coordinate images -------------------------------------------------------


@pytest.mark.parametrize("axis", ["x", "y"])
def _margin_masks(source: Grid, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Points at least half a cell inside the source, and at least a cell outside it."""
    left, bottom, right, top = source.bounds
    cell = source.resolution[0]

    def within(margin: float) -> np.ndarray:
        return (
            (xs > left + margin)
            & (xs < right - margin)
            & (ys > bottom + margin)
            & (ys < top - margin)
        )

    return within(cell / 2), ~within(-cell)


@pytest.mark.parametrize("axis", ["x", "y"])
def test_align__coordinate_image_state_plane_to_albers(axis):
    source = small_grid("EPSG:32130", shape=(80, 80), resolution=100, origin=RI_ORIGIN)
    target = _inner_grid(source, "EPSG:5070", 120, shrink=0)
    out = align(coordinate_image(source, axis=axis), target, kind="continuous")
    assert out.attrs["resampling"] == "bilinear"
    assert out.dtype == np.float64
    xs, ys = np.meshgrid(target.xs, target.ys)
    ex, ey = _transform("EPSG:5070", "EPSG:32130", xs, ys)
    expected = ex if axis == "x" else ey
    inside, outside = _margin_masks(source, ex, ey)
    assert inside.sum() > 0.5 * target.size
    assert not np.isnan(out.values[inside]).any()
    assert np.isnan(out.values[outside]).all()
    # Bilinear is exact on a linear field; what is left is GDAL's approximate transformer
    # (at most 1/8 of a source cell): allow 0.15 of a 100 m cell. Within half a cell of the
    # footprint's edge bilinear has no neighbour to interpolate with, so those are skipped.
    assert np.abs(out.values - expected)[inside].max() < 15.0


def test_align__coordinate_image_lonlat_to_albers():
    source = small_grid("EPSG:4326", shape=(100, 120), resolution=0.005, origin=(-71.9, 41.9))
    target = _inner_grid(source, "EPSG:5070", 300, shrink=0)
    lon = align(coordinate_image(source, axis="x"), target, kind="continuous")
    lat = align(coordinate_image(source, axis="y"), target, kind="continuous")
    assert lon.attrs["resampling"] == "bilinear"
    xs, ys = np.meshgrid(target.xs, target.ys)
    elon, elat = _transform("EPSG:5070", "EPSG:4326", xs, ys)
    inside, outside = _margin_masks(source, elon, elat)
    assert inside.sum() > 0.5 * target.size
    assert not np.isnan(lon.values[inside]).any()
    assert np.isnan(lon.values[outside]).all()
    tolerance = 0.15 * 0.005
    assert np.abs(lon.values - elon)[inside].max() < tolerance
    assert np.abs(lat.values - elat)[inside].max() < tolerance


def test_align__result_is_on_the_grid():
    source = small_grid("EPSG:32130", shape=(40, 40), resolution=100, origin=RI_ORIGIN)
    target = _inner_grid(source, "EPSG:5070", 250, shrink=0)
    out = align(random_field(source), target, kind="continuous", name="ghi")
    assert Grid.from_xarray(out) == target
    assert grid_of(out) == target
    assert out.dims == ("y", "x")
    assert out.name == "ghi"
    np.testing.assert_array_equal(out.x.values, target.xs)
    np.testing.assert_array_equal(out.y.values, target.ys)
    assert out.rio.crs is not None


# -- categorical stays categorical, continuous averages ---------------------------------------


@pytest.mark.parametrize(("resolution", "expected"), [(100, "nearest"), (300, "mode")])
def test_align__categorical_values_stay_in_the_input_set(resolution, expected):
    source = small_grid("EPSG:32130", shape=(90, 90), resolution=100, origin=RI_ORIGIN)
    codes = category_field(source, seed=5, categories=(11, 21, 41, 82, 90), block=3)
    target = _inner_grid(source, "EPSG:5070", resolution, shrink=0)
    out = align(codes, target, kind="categorical")
    assert out.attrs["resampling"] == expected
    values = set(np.unique(out.values[~np.isnan(out.values)]).tolist())
    assert values
    assert values <= {11.0, 21.0, 41.0, 82.0, 90.0}


def test_align__average_downsampling_equals_block_mean():
    fine = small_grid(shape=(12, 15), resolution=30)
    coarse = small_grid(shape=(4, 5), resolution=90)
    field = random_field(fine, seed=7, low=0, high=100)
    out = align(field, coarse, kind="continuous")
    assert out.attrs["resampling"] == "average"
    by_hand = field.values.astype("float64").reshape(4, 3, 5, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out.values, by_hand, rtol=1e-6)


def test_align__average_ignores_nodata_cells():
    fine = small_grid(shape=(12, 12), resolution=30)
    coarse = small_grid(shape=(4, 4), resolution=90)
    field = random_field(fine, seed=3, nodata_fraction=0.4)
    field.values[:3, :3] = np.nan  # one whole coarse cell without data
    out = align(field, coarse, kind="continuous")
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        by_hand = np.nanmean(field.values.astype("float64").reshape(4, 3, 4, 3), axis=(1, 3))
    assert np.isnan(out.values[0, 0])
    np.testing.assert_allclose(out.values, by_hand, rtol=1e-6)


def test_align__mode_downsampling_picks_the_majority():
    fine = small_grid(shape=(3, 6), resolution=30)
    coarse = small_grid(shape=(1, 2), resolution=90)
    codes = category_field(fine, categories=(1,))
    codes.values[:] = [[1, 1, 2, 5, 5, 7], [1, 2, 2, 5, 7, 7], [2, 2, 9, 5, 7, 7]]
    out = align(codes, coarse, kind="categorical")
    assert out.values.tolist() == [[2.0, 7.0]]


# -- nodata ------------------------------------------------------------------------------------


def test_align__nodata_never_becomes_zero():
    grid = small_grid(shape=(10, 10))
    codes = category_field(grid, seed=1, categories=(1, 2), nodata=0, nodata_fraction=0.3)
    out = align(codes, grid, kind="categorical")
    source = codes.values
    assert np.isnan(out.values[source == 0]).all()
    np.testing.assert_array_equal(out.values[source != 0], source[source != 0])
    assert not (out.values == 0).any()
    assert out.attrs["nodata"] == 0


def test_read_raster__nodata_zero_in_file_is_nan(tmp_path):
    grid = small_grid(shape=(6, 7))
    codes = category_field(grid, seed=2, categories=(3, 4), nodata=0, nodata_fraction=0.3)
    layer = read_raster(_write(codes, tmp_path / "codes.tif"))
    assert layer.dtype == np.float32
    assert layer.attrs == {**layer.attrs, "nodata": 0.0, "source": str(tmp_path / "codes.tif")}
    assert np.isnan(layer.values[codes.values == 0]).all()
    assert not (layer.values == 0).any()
    assert Grid.from_xarray(layer) == grid


def test_read_raster__float64_stays_float64(tmp_path):
    grid = small_grid(shape=(4, 5))
    layer = read_raster(_write(coordinate_image(grid), tmp_path / "xy.tif"))
    assert layer.dtype == np.float64
    np.testing.assert_array_equal(layer.values, coordinate_image(grid).values)
    assert "nodata" not in layer.attrs


def test_align__outside_the_source_is_nan():
    source = small_grid(shape=(10, 10), resolution=100)
    target = small_grid(shape=(10, 20), resolution=100)  # right half has no source
    out = align(random_field(source), target, kind="continuous")
    assert np.isnan(out.values[:, 10:]).all()
    assert not np.isnan(out.values[:, :10]).any()


# -- chunked == in memory ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def warp_case(tmp_path_factory):
    source = small_grid("EPSG:32130", shape=(300, 280), resolution=30, origin=RI_ORIGIN)
    field = random_field(source, seed=11, low=0, high=50, nodata_fraction=0.05)
    target = _inner_grid(source, "EPSG:5070", 25, shrink=-200)  # larger than WARP_TILE
    path = _write(field, tmp_path_factory.mktemp("warp") / "field.tif")
    return field, target, path


@pytest.mark.parametrize("chunks", [(100, 70), WARP_TILE, (WARP_TILE, 2 * WARP_TILE)])
@pytest.mark.parametrize("use_file", [False, True])
def test_align__chunked_equals_in_memory(warp_case, chunks, use_file):
    field, target, path = warp_case
    assert max(target.shape) > WARP_TILE
    source = path if use_file else field
    eager = align(source, target, kind="continuous", resampling="bilinear")
    lazy = align(source, target, kind="continuous", resampling="bilinear", chunks=chunks)
    assert isinstance(lazy.data, da.Array)
    assert Grid.from_xarray(lazy) == target
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert {k: v for k, v in lazy.attrs.items() if k != "_FillValue"} == {
        k: v for k, v in eager.attrs.items() if k != "_FillValue"
    }


def test_align__dask_source_chunked_equals_in_memory(warp_case):
    field, target, _ = warp_case
    lazy_source = field.chunk({"y": 64, "x": 64})
    eager = align(field, target, kind="continuous", resampling="average")
    lazy = align(lazy_source, target, kind="continuous", resampling="average", chunks=128)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager.values)
    np.testing.assert_array_equal(
        align(lazy_source, target, kind="continuous", resampling="average").values,
        eager.values,
    )


def test_read_raster__chunked_is_lazy_and_equal(warp_case):
    _, _, path = warp_case
    eager = read_raster(path)
    lazy = read_raster(path, chunks=(64, 100))
    assert isinstance(lazy.data, da.Array)
    assert lazy.data.chunks[0][0] == 64
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert Grid.from_xarray(lazy) == Grid.from_xarray(eager)


# -- rasterize and coverage --------------------------------------------------------------------


@pytest.fixture
def strip_grid() -> Grid:
    """4 columns x 2 rows of 10 m cells with the origin at (0, 20)."""
    return small_grid(shape=(2, 4), resolution=10, origin=(0, 20))


def test_rasterize__column_values(strip_grid):
    zones = gpd.GeoDataFrame(
        {"code": [3, 7]}, geometry=[box(0, 0, 20, 10), box(20, 10, 40, 20)], crs="EPSG:5070"
    )
    out = rasterize(zones, strip_grid, column="code")
    assert out.dtype == np.float64  # int64 column
    np.testing.assert_array_equal(out.values, [[np.nan, np.nan, 7, 7], [3, 3, np.nan, np.nan]])
    assert Grid.from_xarray(out) == strip_grid


def test_rasterize__later_rows_win_overlaps(strip_grid):
    first = box(0, 0, 30, 20)
    second = box(10, 0, 40, 20)
    zones = gpd.GeoDataFrame({"v": [1.0, 2.0]}, geometry=[first, second], crs="EPSG:5070")
    assert rasterize(zones, strip_grid, column="v").values[0].tolist() == [1, 2, 2, 2]
    flipped = zones.iloc[::-1]
    assert rasterize(flipped, strip_grid, column="v").values[0].tolist() == [1, 1, 1, 2]


def test_rasterize__constant_value_and_fill(strip_grid):
    zones = gpd.GeoSeries([box(0, 0, 10, 20)], crs="EPSG:5070")
    out = rasterize(zones, strip_grid, value=5, fill=0)
    assert out.dtype == np.float32
    assert out.values.tolist() == [[5, 0, 0, 0], [5, 0, 0, 0]]


def test_rasterize__reprojects_from_lonlat():
    grid = small_grid(shape=(20, 20), resolution=100)
    # Cells 5..14 in both directions, with edges nudged inward by a fraction of a cell.
    left, top = grid.transform.c, grid.transform.f
    polygon = box(left + 510, top - 1490, left + 1490, top - 510)
    in_albers = gpd.GeoDataFrame({"v": [1]}, geometry=[polygon], crs="EPSG:5070")
    in_lonlat = in_albers.to_crs("EPSG:4326")
    np.testing.assert_array_equal(
        rasterize(in_lonlat, grid, column="v").values,
        rasterize(in_albers, grid, column="v").values,
    )
    assert np.nansum(rasterize(in_lonlat, grid, column="v").values) == 100


def test_rasterize__non_numeric_column(strip_grid):
    zones = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:5070")
    with pytest.raises(InvalidLayerError, match=r"column 'name' has dtype .*cat.codes"):
        rasterize(zones, strip_grid, column="name")
    with pytest.raises(ValueError, match=r"column 'nope' is not in the GeoDataFrame"):
        rasterize(zones, strip_grid, column="nope")


def test_rasterize__no_crs(strip_grid):
    zones = gpd.GeoDataFrame({"v": [1]}, geometry=[box(0, 0, 10, 10)])
    with pytest.raises(CRSError, match=r"has no CRS.*\.set_crs\("):
        rasterize(zones, strip_grid, column="v")


def test_coverage_fraction__hand_computed(strip_grid):
    # Half of cell (row 1, col 0); a quarter of cell (row 0, col 3); all of (row 1, col 1).
    polygons = gpd.GeoSeries([box(5, 0, 20, 10), box(35, 15, 40, 20)], crs="EPSG:5070")
    out = coverage_fraction(polygons, strip_grid)
    np.testing.assert_allclose(out.values, [[0, 0, 0, 0.25], [0.5, 1, 0, 0]], atol=1e-12)
    assert Grid.from_xarray(out) == strip_grid


def test_coverage_fraction__square_over_two_cells(strip_grid):
    # A square 5 m wide straddling two cells: half of one cell's width, times a half height.
    out = coverage_fraction(gpd.GeoSeries([box(7.5, 10, 12.5, 15)], crs="EPSG:5070"), strip_grid)
    np.testing.assert_allclose(out.values, [[0.125, 0.125, 0, 0], [0, 0, 0, 0]], atol=1e-12)


def test_coverage_fraction__overlaps_do_not_count_twice(strip_grid):
    polygons = gpd.GeoDataFrame(
        geometry=[box(0, 0, 10, 10), box(0, 0, 10, 10), box(5, 0, 15, 10)], crs="EPSG:5070"
    )
    out = coverage_fraction(polygons, strip_grid)
    np.testing.assert_allclose(out.values, [[0, 0, 0, 0], [1.0, 0.5, 0, 0]], atol=1e-12)
    assert out.values.max() <= 1.0


def test_coverage_fraction__reprojected_area_is_preserved():
    grid = small_grid(shape=(30, 30), resolution=100)
    left, top = grid.transform.c, grid.transform.f
    polygon = box(left + 333, top - 2222, left + 1777, top - 444)
    lonlat = gpd.GeoSeries([polygon], crs="EPSG:5070").to_crs("EPSG:4326")
    out = coverage_fraction(lonlat, grid)
    assert float(out.sum()) * grid.cell_area_m2 == pytest.approx(polygon.area, rel=1e-6)


def _cover_shapes(grid: Grid, seed: int) -> gpd.GeoSeries:
    """Discs, buffered lines, a holed square, a square over a whole corner and one off the
    grid's edge: boundaries crossing chunk edges everywhere, in CONUS Albers coordinates."""
    import shapely

    rng = np.random.default_rng(seed)
    left, bottom, right, top = grid.bounds
    res = grid.resolution[0]
    centres = shapely.points(rng.uniform(left, right, 25), rng.uniform(bottom, top, 25))
    discs = shapely.buffer(centres, rng.uniform(0.3, 9.0, 25) * res, quad_segs=64)
    paths = np.stack([rng.uniform(left, right, (4, 6)), rng.uniform(bottom, top, (4, 6))], -1)
    roads = shapely.buffer(shapely.linestrings(paths), 1.37 * res)
    holed = box(left + 40.3 * res, bottom + 10.2 * res, left + 70.6 * res, bottom + 41.9 * res)
    holed = holed.difference(
        box(left + 50 * res, bottom + 20 * res, left + 60 * res, bottom + 30 * res)
    )
    corner = box(left - 3 * res, top - 31.5 * res, left + 29.5 * res, top + 2 * res)
    edge = box(right - 4.25 * res, bottom - 9 * res, right + 20 * res, bottom + 33.3 * res)
    return gpd.GeoSeries([*discs, *roads, holed, corner, edge], crs=grid.crs)


@pytest.mark.parametrize("chunks", [7, (16, 23), (50, 13), (97, 131)])
def test_coverage_fraction__chunked_equals_in_memory(chunks):
    grid = small_grid(shape=(97, 131), resolution=90.0, origin=(-2_356_123.37, 3_172_000.91))
    shapes = _cover_shapes(grid, seed=5)
    whole = coverage_fraction(shapes, grid)
    lazy = coverage_fraction(shapes, grid, chunks=chunks, name="cover")
    assert isinstance(lazy.data, da.Array)
    rows, cols = (chunks, chunks) if isinstance(chunks, int) else chunks
    assert max(lazy.chunks[0]) == min(rows, 97)
    assert max(lazy.chunks[1]) == min(cols, 131)
    assert lazy.name == "cover"
    assert Grid.from_xarray(lazy) == grid
    values = lazy.values
    assert (values == 1).any()  # whole cells covered
    assert ((values > 0) & (values < 1)).any()
    np.testing.assert_array_equal(values, whole.values)


def test_coverage_fraction__threads_never_share_a_prepared_geometry():
    # GEOS prepared geometries keep scratch state while a predicate runs: tiles measured
    # on several threads with one shared prepared shell crashed the process now and then.
    import pickle
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import shapely

    from siting.layers import _CoverChunk

    grid = small_grid(shape=(97, 131), resolution=90.0, origin=(-2_356_123.37, 3_172_000.91))
    parts = shapely.get_parts(shapely.union_all(_cover_shapes(grid, seed=5).to_numpy()))
    task = _CoverChunk(parts[shapely.get_type_id(parts) == 3], grid)
    assert task._shells() is task._shells()  # built once per thread
    assert shapely.is_prepared(task._shells()).all()

    def in_a_new_thread(method):
        seen = []
        thread = threading.Thread(target=lambda: seen.append(method()))
        thread.start()
        thread.join()
        return seen[0]

    here, first, second = (
        task._shells(),
        in_a_new_thread(task._shells),
        in_a_new_thread(task._shells),
    )
    addresses = {id(shell) for shells in (here, first, second) for shell in shells}
    assert len(addresses) == 3 * len(task.parts)  # no shell object seen by two threads
    assert in_a_new_thread(task._holes) is task._holes()  # holes are only read: shared
    # a task that has measured tiles still pickles, and the copy measures the same
    window = (slice(0, 7), slice(7, 14))
    expected = task(*window)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(task))(*window), expected)
    slices = [
        (slice(r, r + 7), slice(c, c + 7)) for r in range(0, 97, 7) for c in range(0, 131, 7)
    ]
    with ThreadPoolExecutor(8) as pool:
        tiles = list(pool.map(lambda window: task(*window), slices))
    whole = coverage_fraction(_cover_shapes(grid, seed=5), grid).values
    for (rows, cols), tile in zip(slices, tiles, strict=True):
        np.testing.assert_array_equal(tile, whole[rows, cols])


def test_coverage_fraction__chunked_without_polygons_is_lazy_zero():
    grid = small_grid(shape=(9, 11))
    points = gpd.GeoSeries.from_xy([grid.xs[2]], [grid.ys[3]], crs=grid.crs)
    lazy = coverage_fraction(points, grid, chunks=4)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, np.zeros(grid.shape))
    with pytest.raises(InvalidLayerError, match="chunks must be positive"):
        coverage_fraction(_cover_shapes(grid, seed=1), grid, chunks=0)


def test_coverage_fraction__chunked_measures_one_chunk_at_a_time(monkeypatch):
    import dask
    import exactextract

    grid = small_grid(shape=(97, 131), resolution=90.0)
    shapes = _cover_shapes(grid, seed=6)
    real = exactextract.exact_extract
    seen: list[tuple[int, int]] = []

    def recording(raster, *args, **kwargs):
        left, bottom, right, top = raster.extent()
        xres, yres = raster.res()
        seen.append((round((top - bottom) / yres), round((right - left) / xres)))
        return real(raster, *args, **kwargs)

    monkeypatch.setattr(exactextract, "exact_extract", recording)
    whole = coverage_fraction(shapes, grid)
    assert seen == [grid.shape]
    seen.clear()
    lazy = coverage_fraction(shapes, grid, chunks=(30, 40))
    assert seen == []  # nothing is measured before compute
    with dask.config.set(scheduler="synchronous"):
        values = lazy.values
    assert len(seen) > 4
    assert all(rows <= 30 and cols <= 40 for rows, cols in seen)
    np.testing.assert_array_equal(values, whole.values)


# -- the stack ---------------------------------------------------------------------------------


def test_build_stack__keeps_attrs_and_crs():
    grid = small_grid()
    slope = align(random_field(grid), grid, kind="continuous", name="slope")
    land = align(category_field(grid), grid, kind="categorical")
    stack = build_stack({"slope": slope, "land": land}, grid=grid)
    assert sorted(stack.data_vars) == ["land", "slope"]
    assert stack.rio.crs.to_epsg() == 5070
    assert Grid.from_xarray(stack) == grid
    assert stack["land"].attrs["kind"] == "categorical"
    assert stack["slope"].attrs["resampling"] == "bilinear"


def test_build_stack__names_the_misaligned_layer():
    grid = small_grid()
    shifted = small_grid(origin=(1_000_030.0, 2_000_000.0))
    with pytest.raises(GridError, match=r"layer 'wind' is on Grid\(.*but layer 'ghi' is on"):
        build_stack({"ghi": random_field(grid), "wind": random_field(shifted)})
    with pytest.raises(GridError, match=r"layer 'ghi' is on .*but the grid given is on"):
        build_stack({"ghi": random_field(grid)}, grid=shifted)


# -- bad inputs --------------------------------------------------------------------------------


def test_read_raster__missing_file(tmp_path):
    path = tmp_path / "nope.tif"
    with pytest.raises(LayerIOError, match=r"nope\.tif.*no such file"):
        read_raster(path)
    with pytest.raises(OSError, match="no such file"):
        align(path, small_grid(), kind="continuous")


def test_read_raster__corrupt_file(tmp_path):
    path = tmp_path / "bad.tif"
    path.write_bytes(b"this is not a GeoTIFF at all" * 50)
    with pytest.raises(LayerIOError, match=r"cannot open raster .*bad\.tif.*corrupt"):
        read_raster(path)
    with pytest.raises(OSError, match=r"bad\.tif"):
        align(path, small_grid(), kind="continuous")


def test_read_raster__truncated_file(tmp_path):
    grid = small_grid(shape=(200, 200))
    path = _write(random_field(grid, seed=4), tmp_path / "cut.tif", tiled=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerIOError, match=r"cut\.tif"):
        read_raster(path)
    lazy = read_raster(path, chunks=64)  # a lazy read finds the damage when computed
    with pytest.raises(OSError, match=r"cannot read raster .*cut\.tif"):
        lazy.compute()
    with pytest.raises(LayerIOError, match=r"cut\.tif"):
        align(path, grid, kind="continuous")


def test_read_raster__no_crs(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=3,
        count=1,
        dtype="float32",
        transform=Affine(10, 0, 0, 0, -10, 30),
    ) as dst:
        dst.write(np.ones((1, 3, 4), dtype="float32"))
    with pytest.raises(CRSError, match=r"nocrs\.tif.*has no CRS.*gdal_edit\.py -a_srs"):
        read_raster(path)
    with pytest.raises(ValueError, match="has no CRS"):
        align(path, small_grid(), kind="continuous")


def test_align__dataarray_without_crs():
    layer = xr.DataArray(np.zeros((3, 3)), dims=("y", "x"), name="ghi")
    with pytest.raises(CRSError, match=r"CRS not found on layer 'ghi'.*rio\.write_crs"):
        align(layer, small_grid(), kind="continuous")


def test_align__no_overlap():
    source = small_grid(shape=(10, 10))
    far = small_grid(shape=(10, 10), origin=(-2_000_000.0, 500_000.0))
    with pytest.raises(NoDataInRegionError, match=r"layer 'random_field' does not overlap"):
        align(random_field(source), far, kind="continuous")
    with pytest.raises(ValueError, match=r"grid's bounds are \(-2e\+06, 499000.*EPSG:5070"):
        align(random_field(source), far, kind="continuous")


def test_errors__all_are_siting_errors():
    for cls in (InvalidLayerError, LayerIOError, NoDataInRegionError, CRSError, GridError):
        assert issubclass(cls, SitingError)


# -- properties --------------------------------------------------------------------------------

_CRS = st.sampled_from(["EPSG:5070", "EPSG:32130", "EPSG:4326"])


@st.composite
def _layers(draw: st.DrawFn) -> tuple[xr.DataArray, str]:
    crs = draw(_CRS)
    rows, cols = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 10_000))
    if crs == "EPSG:4326":
        grid = small_grid(crs, shape=(rows, cols), resolution=0.01, origin=(-71.8, 41.9))
    elif crs == "EPSG:32130":
        grid = small_grid(crs, shape=(rows, cols), resolution=90, origin=RI_ORIGIN)
    else:
        grid = small_grid(crs, shape=(rows, cols), resolution=30)
    kind = draw(st.sampled_from(["continuous", "categorical"]))
    if kind == "continuous":
        return random_field(grid, seed, nodata_fraction=draw(st.sampled_from([0, 0.2]))), kind
    return category_field(grid, seed, categories=(1, 2, 3), nodata=255, nodata_fraction=0.2), kind


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layers())
def test_align__onto_its_own_grid_is_identity(layer_and_kind):
    layer, kind = layer_and_kind
    resampling = "bilinear" if kind == "continuous" else "nearest"
    out = align(layer, grid_of(layer), kind=kind, resampling=resampling)
    expected = layer.values.astype("float32")
    if kind == "categorical":
        expected[layer.values == 255] = np.nan
    np.testing.assert_array_equal(out.values, expected)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layers(), st.sampled_from([40.0, 75.0, 200.0]))
def test_align__is_idempotent(layer_and_kind, resolution):
    layer, kind = layer_and_kind
    target = Grid.from_bounds(
        rasterio.warp.transform_bounds(
            layer.rio.crs, "EPSG:5070", *grid_of(layer).bounds, densify_pts=21
        ),
        resolution,
        "EPSG:5070",
    )
    once = align(layer, target, kind=kind)
    twice = align(once, target, kind=kind)
    np.testing.assert_array_equal(twice.values, once.values)


# -- real data ---------------------------------------------------------------------------------

NLCD_CODES = {0, 11, 21, 22, 23, 24, 31, 41, 42, 43, 52, 71, 81, 82, 90, 95}


@pytest.fixture(scope="module")
def ri(shared_data: Path) -> Path:
    folder = shared_data / "nrel_revx" / "ri_exclusions"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: the Rhode Island exclusion rasters are missing")
    return folder


@pytest.fixture(scope="module", params=[90, 270])
def ri_grid(request, ri: Path) -> Grid:
    with rasterio.open(ri / "ri_srtm_slope.tif") as src:
        bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:5070", *src.bounds)
    return Grid.from_bounds(bounds, request.param, "EPSG:5070")


@pytest.mark.realdata
def test_real__read_padus_nodata(ri: Path):
    layer = read_raster(ri / "ri_padus.tif")
    with rasterio.open(ri / "ri_padus.tif") as src:
        raw = src.read(1)
    assert layer.attrs["nodata"] == 255
    assert int(layer.notnull().sum()) == int((raw != 255).sum())
    assert set(np.unique(layer.values[layer.notnull().values]).tolist()) == {1.0, 2.0}
    assert layer.rio.crs.to_epsg() == 32130


@pytest.mark.realdata
def test_real__read_slope_range(ri: Path):
    layer = read_raster(ri / "ri_srtm_slope.tif")
    with rasterio.open(ri / "ri_srtm_slope.tif") as src:
        raw = src.read(1, masked=True)
    assert float(layer.min()) == pytest.approx(float(raw.min())) == 0.0
    assert float(layer.max()) == pytest.approx(float(raw.max()))
    assert 42.5 < float(layer.max()) < 42.7
    assert int(layer.isnull().sum()) == int(raw.mask.sum())


@pytest.mark.realdata
def test_real__read_nlcd_codes(ri: Path):
    layer = read_raster(ri / "ri_nlcd.tif")
    assert "nodata" not in layer.attrs
    assert not layer.isnull().any()
    assert set(np.unique(layer.values).astype(int).tolist()) <= NLCD_CODES
    assert layer.rio.crs.to_epsg() == 3653


@pytest.mark.realdata
def test_real__nlcd_stays_categorical(ri: Path, ri_grid: Grid):
    out = align(ri / "ri_nlcd.tif", ri_grid, kind="categorical")
    assert out.attrs["resampling"] == ("nearest" if ri_grid.resolution[0] == 90 else "mode")
    values = set(np.unique(out.values[~np.isnan(out.values)]).astype(int).tolist())
    assert len(values) > 10
    assert values <= NLCD_CODES


@pytest.mark.realdata
def test_real__mean_slope_is_preserved(ri: Path, ri_grid: Grid):
    source = read_raster(ri / "ri_srtm_slope.tif")
    out = align(ri / "ri_srtm_slope.tif", ri_grid, kind="continuous")
    assert Grid.from_xarray(out) == ri_grid
    # Equal-area cells on both sides, so the area-weighted mean is the plain mean.
    assert float(out.mean()) == pytest.approx(float(source.mean()), rel=0.01)
    assert float(out.max()) <= float(source.max())


@pytest.mark.realdata
def test_real__protected_area_is_preserved(ri: Path):
    source = read_raster(ri / "ri_padus.tif")
    grid = Grid.from_bounds(
        rasterio.warp.transform_bounds("EPSG:32130", "EPSG:5070", *grid_of(source).bounds),
        90,
        "EPSG:5070",
    )
    out = align(ri / "ri_padus.tif", grid, kind="categorical")
    source_m2 = int((source == 1).sum()) * grid_of(source).cell_area_m2
    out_m2 = int((out == 1).sum()) * grid.cell_area_m2
    assert out_m2 == pytest.approx(source_m2, rel=0.03)


@pytest.mark.realdata
def test_real__chunked_equals_in_memory(ri: Path, ri_grid: Grid):
    eager = align(ri / "ri_srtm_slope.tif", ri_grid, kind="continuous")
    lazy = align(ri / "ri_srtm_slope.tif", ri_grid, kind="continuous", chunks=2 * WARP_TILE)
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager.values)


@pytest.mark.parametrize(
    ("dtype", "nodata", "values"),
    [
        ("float32", 1e20, [1.5, np.float32(1e20), 3.0]),  # nodata not exact in float32
        ("float32", float("nan"), [1.5, float("nan"), 3.0]),
        ("uint8", 255, [1, 255, 3]),
        ("int16", -9999, [1, -9999, 3]),
    ],
)
def test_read_raster__nodata_compared_in_the_band_type(tmp_path, dtype, nodata, values):
    import rasterio
    from affine import Affine

    path = tmp_path / "nd.tif"
    profile = {
        "driver": "GTiff", "height": 1, "width": 3, "count": 1, "dtype": dtype,
        "crs": "EPSG:5070", "transform": Affine(1, 0, 0, 0, -1, 1), "nodata": nodata,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.array([values], dtype=dtype), 1)
    read = read_raster(path).values[0]
    assert np.isnan(read[1])
    assert read[[0, 2]].tolist() == [float(values[0]), float(values[2])]


@pytest.mark.parametrize(
    ("kind", "resampling"),
    [("continuous", "bilinear"), ("continuous", "cubic"), ("categorical", "nearest")],
)
@pytest.mark.parametrize("chunks", [None, 7])
def test_align__source_on_the_grid_is_read_and_equals_the_warp(tmp_path, kind, resampling, chunks):
    from siting.testing import category_field, random_field, small_grid

    grid = small_grid(shape=(30, 40), resolution=90)
    if kind == "continuous":
        layer = random_field(grid, seed=4)
        layer = layer.where(random_field(grid, seed=5) > 0.1)  # scattered nodata
    else:
        layer = category_field(grid, categories=(1, 2, 3), nodata=255, nodata_fraction=0.1)
    path = tmp_path / "layer.tif"
    layer.rio.to_raster(path)
    # A grid shifted by whole cells, running past the source on two sides.
    target = Grid(grid.crs, grid.transform * Affine.translation(5, -3), (25, 50))
    read = align(path, target, kind=kind, resampling=resampling, chunks=chunks)
    warped = align(read_raster(path), target, kind=kind, resampling=resampling)
    np.testing.assert_array_equal(read.values, warped.values)
    assert np.isnan(read.values[:3]).all()
    assert np.isnan(read.values[:, 35:]).all()
    expected = read_raster(path).values[0:22, 5:40]
    np.testing.assert_array_equal(read.values[3:, :35], expected)


@pytest.mark.parametrize("all_touched", [False, True])
def test_rasterize__chunked_equals_in_memory(all_touched):
    from siting.testing import small_grid

    grid = small_grid(shape=(60, 70), resolution=90)
    left, bottom, right, top = grid.bounds
    rng = np.random.default_rng(3)
    corners = rng.uniform([left, bottom], [right, top], (40, 2))
    sizes = rng.uniform(50, 900, (40, 2))
    shapes = [box(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes, strict=True)]
    zones = gpd.GeoDataFrame({"code": np.arange(40) % 7}, geometry=shapes, crs=grid.crs)
    whole = rasterize(zones, grid, column="code", all_touched=all_touched)
    tiled = rasterize(zones, grid, column="code", all_touched=all_touched, chunks=16)
    assert tiled.chunks is not None
    np.testing.assert_array_equal(whole.values, tiled.values)
    assert Grid.from_xarray(tiled) == grid
