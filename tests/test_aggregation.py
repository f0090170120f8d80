"""Aggregation to analysis cells: supply-curve blocks, polygons and hexagons."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from siting import candidates
from siting.candidates import aggregate_blocks, aggregate_polygons, hexagons
from siting.constraints import Rule, availability
from siting.errors import CRSError, GridError, InvalidLayerError
from siting.grid import Grid
from siting.layers import align, build_stack, read_raster
from siting.testing import category_field, random_field, small_grid

# -- fixtures -------------------------------------------------------------------------------


def _array(grid: Grid, values: np.ndarray | list[list[float]]):
    data = grid.to_xarray(fill_value=np.nan, dtype="float64")
    data.values[:] = np.asarray(values, dtype="float64")
    return data


@pytest.fixture
def tiny():
    """A 3 x 3 grid of 1 km cells: blocks of 2 give one full, two half and one single block."""
    grid = small_grid(shape=(3, 3), resolution=1000.0, origin=(0.0, 3000.0))
    avail = _array(grid, [[1.0, 0.5, 1.0], [0.0, 0.25, 0.0], [1.0, 1.0, 0.0]])
    value = _array(grid, [[2.0, 4.0, 7.0], [100.0, np.nan, 9.0], [1.0, 3.0, 5.0]])
    code = _array(grid, [[1.0, 2.0, 5.0], [1.0, 2.0, 5.0], [3.0, 3.0, 5.0]])
    return grid, avail, build_stack({"value": value, "code": code})


@pytest.fixture
def field():
    """A 37 x 29 grid with fractional availability, nodata and categories."""
    grid = small_grid(shape=(37, 29), resolution=90.0)
    avail = random_field(grid, seed=1).round(1)  # many exact zeros and partial cells
    ghi = random_field(grid, seed=2, low=3.0, high=6.0, nodata_fraction=0.1)
    land = category_field(grid, seed=3, categories=(11, 21, 41), block=3).astype("float32")
    stack = build_stack({"ghi": ghi, "land": land})
    return grid, avail, stack


STATS = {"ghi": ["mean", "min", "max", "sum"], "land": ["mode", "area_by_category"]}


# -- blocks: hand-computed ------------------------------------------------------------------


def test_aggregate_blocks__numbering_and_partial_edge_blocks(tiny):
    grid, avail, _ = tiny
    points = aggregate_blocks(avail, block=2, drop_empty=False)
    assert points["sc_point_gid"].tolist() == [0, 1, 2, 3]
    assert points["sc_row_ind"].tolist() == [0, 0, 1, 1]
    assert points["sc_col_ind"].tolist() == [0, 1, 0, 1]
    assert points["n_cells"].tolist() == [4, 2, 2, 1]
    assert points["n_available"].tolist() == [3, 1, 2, 0]
    np.testing.assert_allclose(points["area_km2"], [1.75, 1.0, 2.0, 0.0])
    assert points.crs == grid.crs
    assert [tuple(g.bounds) for g in points.geometry] == [
        (0.0, 1000.0, 2000.0, 3000.0),
        (2000.0, 1000.0, 3000.0, 3000.0),
        (0.0, 0.0, 2000.0, 1000.0),
        (2000.0, 0.0, 3000.0, 1000.0),
    ]
    np.testing.assert_allclose(points["x"], [1000, 2500, 1000, 2500])
    np.testing.assert_allclose(points["y"], [2000, 2000, 500, 500])


def test_aggregate_blocks__drops_empty_points_by_default_as_rev(tiny):
    _, avail, _ = tiny
    points = aggregate_blocks(avail, block=2)
    assert points["sc_point_gid"].tolist() == [0, 1, 2]  # gid kept, not renumbered


def test_aggregate_blocks__weighted_mean_min_max_sum_over_available_valid_cells(tiny):
    _, avail, stack = tiny
    stats = {"value": ["mean", "min", "max", "sum"]}
    points = aggregate_blocks(avail, stack, block=2, stats=stats, drop_empty=False)
    # block 0: value 2 (a=1), 4 (a=.5), 100 (a=0: excluded), NaN (a=.25: nodata)
    assert points.loc[0, "value_mean"] == pytest.approx((2 * 1 + 4 * 0.5) / 1.5)
    assert (points.loc[0, "value_min"], points.loc[0, "value_max"]) == (2.0, 4.0)
    assert points.loc[0, "value_sum"] == pytest.approx(2 * 1 + 4 * 0.5)
    # block 1: 7 (a=1), 9 (a=0)
    assert points.loc[1, ["value_mean", "value_min", "value_max"]].tolist() == [7.0, 7.0, 7.0]
    # block 3: nothing available -> NaN, never 0
    assert points.loc[3, ["value_mean", "value_min", "value_max", "value_sum"]].isna().all()


def test_aggregate_blocks__mode_counts_cells_and_ties_go_to_smallest_value():
    grid = small_grid(shape=(2, 4), resolution=1000.0)
    avail = _array(grid, [[1.0, 1.0, 0.1, 0.1], [1.0, 0.0, 0.1, 1.0]])
    code = _array(grid, [[7.0, 3.0, 8.0, 8.0], [np.nan, 7.0, 2.0, 2.0]])
    points = aggregate_blocks(avail, build_stack({"code": code}), block=2, stats={"code": "mode"})
    # block 0: 7 and 3 once each among available valid cells (NaN and a=0 skipped) -> 3
    # block 1: 8 twice (a=0.1 each) beats 2 twice? a tie in cells -> smallest value, 2
    assert points["code_mode"].tolist() == [3.0, 2.0]


def test_aggregate_blocks__area_by_category_sums_available_area(tiny):
    _, avail, stack = tiny
    points = aggregate_blocks(
        avail, stack, block=2, stats={"code": "area_by_category"}, drop_empty=False
    )
    columns = [c for c in points.columns if c.startswith("code_")]
    assert columns == ["code_1_km2", "code_2_km2", "code_3_km2", "code_5_km2"]
    np.testing.assert_allclose(points["code_1_km2"], [1.0, 0, 0, 0])
    np.testing.assert_allclose(points["code_2_km2"], [0.75, 0, 0, 0])
    np.testing.assert_allclose(points["code_3_km2"], [0, 0, 2.0, 0])
    np.testing.assert_allclose(points["code_5_km2"], [0, 1.0, 0, 0])
    total = points[columns].sum(axis=1)
    np.testing.assert_allclose(total, points["area_km2"])


def test_aggregate_blocks__capacity_from_power_density(tiny):
    _, avail, _ = tiny
    points = aggregate_blocks(avail, block=2, power_density_mw_km2=36.0)
    np.testing.assert_allclose(points["capacity_mw"], points["area_km2"] * 36.0)


def test_aggregate_blocks__lonlat_is_mean_of_cell_centres(field):
    grid, avail, _ = field
    points = aggregate_blocks(avail, block=8, drop_empty=False)
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    for _, point in points.iterrows():
        rows = np.arange(point.sc_row_ind * 8, min(grid.height, point.sc_row_ind * 8 + 8))
        cols = np.arange(point.sc_col_ind * 8, min(grid.width, point.sc_col_ind * 8 + 8))
        xs, ys = grid.xy(*np.meshgrid(rows, cols, indexing="ij"))
        lon, lat = to_wgs84.transform(xs, ys)
        assert point.lon == pytest.approx(lon.mean(), abs=1e-10)
        assert point.lat == pytest.approx(lat.mean(), abs=1e-10)


@pytest.mark.parametrize("band_cells", [64, 10**9])
@pytest.mark.parametrize("chunks", [(5, 7), (16, 29)])
def test_aggregate_blocks__chunked_equals_in_memory(field, monkeypatch, band_cells, chunks):
    _, avail, stack = field
    expected = aggregate_blocks(avail, stack, block=8, stats=STATS, drop_empty=False)
    monkeypatch.setattr(candidates, "_BAND_CELLS", band_cells)  # many bands of blocks
    sizes = {"y": chunks[0], "x": chunks[1]}
    lazy = aggregate_blocks(
        avail.chunk(sizes), stack.chunk(sizes), block=8, stats=STATS, drop_empty=False
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(lazy.drop(columns="geometry")),
        pd.DataFrame(expected.drop(columns="geometry")),
        rtol=1e-12,
    )
    assert lazy.geometry.equals(expected.geometry)


# -- polygons -------------------------------------------------------------------------------


@pytest.mark.parametrize("band_cells", [100, 10**9])
def test_aggregate_polygons__equal_blocks_when_polygons_are_the_blocks(
    field, monkeypatch, band_cells
):
    _, avail, stack = field
    monkeypatch.setattr(candidates, "_BAND_CELLS", band_cells)
    points = aggregate_blocks(avail, stack, block=8, stats=STATS, drop_empty=False)
    zones = points[["sc_point_gid", "geometry"]]
    zonal = aggregate_polygons(avail, zones, stack, stats=STATS, id_column="sc_point_gid")
    shared = [c for c in zonal.columns if c not in ("sc_point_gid", "geometry", "n_cells")]
    pd.testing.assert_frame_equal(
        pd.DataFrame(zonal[shared]), pd.DataFrame(points[shared]), rtol=1e-9
    )
    assert zonal["n_cells"].tolist() == points["n_cells"].tolist()
    lazy = aggregate_polygons(avail.chunk(7), zones, stack.chunk(7), stats=STATS)
    pd.testing.assert_frame_equal(pd.DataFrame(lazy[shared]), pd.DataFrame(zonal[shared]))


def test_aggregate_polygons__partial_coverage_weights_cells(tiny):
    _, avail, stack = tiny
    half = gpd.GeoDataFrame(geometry=[box(500, 2000, 2000, 3000)], crs="EPSG:5070")
    result = aggregate_polygons(avail, half, stack, stats={"value": "mean"})
    # half of cell (0,0) (a=1, v=2) and all of cell (0,1) (a=.5, v=4)
    assert result.loc[0, "area_km2"] == pytest.approx(0.5 + 0.5)
    assert result.loc[0, "value_mean"] == pytest.approx((0.5 * 2 + 0.5 * 4) / 1.0)
    assert result.loc[0, "n_cells"] == 2


def test_aggregate_polygons__reprojects_and_keeps_odd_ids_verbatim(tiny):
    grid, avail, stack = tiny
    ids = ['<script>alert("x")</script>', "Ünïcødé & 'quotes'"]
    parcels = gpd.GeoDataFrame(
        {"parcel": ids},
        geometry=[box(0, 1000, 2000, 3000), box(2000, 0, 3000, 1000)],
        crs=grid.crs,
    ).to_crs("EPSG:4326")
    result = aggregate_polygons(avail, parcels, stack, id_column="parcel")
    assert result["parcel"].tolist() == ids
    assert result.crs == parcels.crs  # the polygons keep their own CRS
    np.testing.assert_allclose(result["area_km2"], [1.75, 0.0], atol=1e-6)


def test_aggregate_polygons__outside_grid_gives_zero_area_and_nan_stats(tiny):
    _, avail, stack = tiny
    far = gpd.GeoDataFrame(
        {"id": [1, 2, 3]},
        geometry=[box(10**6, 10**6, 2 * 10**6, 2 * 10**6), shapely.Polygon(), None],
        crs="EPSG:5070",
    )
    result = aggregate_polygons(avail, far, stack, stats={"value": ["mean", "mode"]})
    assert result["area_km2"].tolist() == [0.0, 0.0, 0.0]
    assert result["n_cells"].tolist() == [0, 0, 0]
    assert result[["value_mean", "value_mode"]].isna().all().all()


def test_aggregate_polygons__without_crs_raises_with_the_fix(tiny):
    _, avail, _ = tiny
    bare = gpd.GeoDataFrame(geometry=[box(0, 0, 1000, 1000)])
    with pytest.raises(CRSError, match=r"set_crs"):
        aggregate_polygons(avail, bare)


def test_aggregate_polygons__bad_id_column_or_clashing_columns(tiny):
    _, avail, _ = tiny
    twice = gpd.GeoDataFrame(
        {"id": ["a", "a"], "area_km2": [1, 2]},
        geometry=[box(0, 0, 1000, 1000)] * 2,
        crs="EPSG:5070",
    )
    with pytest.raises(InvalidLayerError, match="repeated"):
        aggregate_polygons(avail, twice, id_column="id")
    with pytest.raises(InvalidLayerError, match="not a column"):
        aggregate_polygons(avail, twice, id_column="name")
    with pytest.raises(InvalidLayerError, match="already have"):
        aggregate_polygons(avail, twice)


# -- hexagons -------------------------------------------------------------------------------


@pytest.fixture
def region():
    return gpd.GeoDataFrame(
        geometry=[shapely.Polygon([(0, 0), (40_000, 5_000), (30_000, 30_000), (2_000, 20_000)])],
        crs="EPSG:5070",
    )


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
def test_hexagons__tessellate_without_gaps_or_overlaps(region, orientation):
    cells = hexagons(region, size_km=2.0, orientation=orientation)
    expected = 3 * math.sqrt(3) / 2 * 2.0**2
    np.testing.assert_allclose(cells.area / 1e6, expected, rtol=1e-12)
    np.testing.assert_allclose(cells["hex_area_km2"], expected, rtol=1e-12)
    union = shapely.union_all(cells.geometry.to_numpy())
    assert union.area == pytest.approx(cells.area.sum(), rel=1e-9)  # no overlaps
    assert union.buffer(1e-6).contains(region.geometry.iloc[0])  # covers the region
    assert cells.intersects(region.geometry.iloc[0]).all()
    assert cells["hex_id"].is_unique


def test_hexagons__ids_are_stable_across_regions(region):
    whole = hexagons(region, area_km2=5.0).set_index("hex_id")
    part = hexagons(region.clip(box(10_000, 5_000, 20_000, 15_000)), area_km2=5.0)
    assert set(part["hex_id"]) <= set(whole.index)
    for hex_id, geometry in zip(part["hex_id"], part.geometry, strict=True):
        assert geometry.equals(whole.loc[hex_id, "geometry"])


def test_hexagons__area_option_and_grid_input():
    grid = small_grid(shape=(20, 30), resolution=100.0)
    cells = hexagons(grid, area_km2=0.5)
    np.testing.assert_allclose(cells.area / 1e6, 0.5, rtol=1e-12)
    assert cells.crs == grid.crs
    assert shapely.union_all(cells.geometry.to_numpy()).buffer(1e-6).contains(box(*grid.bounds))


def test_hexagons__geographic_crs_needs_a_projected_one(region):
    lonlat = region.to_crs("EPSG:4326")
    with pytest.raises(CRSError, match="crs="):
        hexagons(lonlat, size_km=2.0)
    cells = hexagons(lonlat, size_km=2.0, crs="EPSG:5070")
    assert cells.crs.to_epsg() == 5070


@pytest.mark.parametrize(
    "kwargs", [{}, {"size_km": 1.0, "area_km2": 1.0}, {"size_km": 0}, {"area_km2": -2.0}]
)
def test_hexagons__exactly_one_positive_size(region, kwargs):
    with pytest.raises(GridError):
        hexagons(region, **kwargs)


def test_hexagons__feed_aggregate_polygons(field):
    grid, avail, stack = field
    cells = hexagons(grid, size_km=0.5)
    result = aggregate_polygons(avail, cells, stack, stats={"ghi": "mean"}, id_column="hex_id")
    total = float(avail.values.astype("float64").sum()) * grid.cell_area_m2 / 1e6
    assert result["area_km2"].sum() == pytest.approx(total, rel=1e-9)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [0, -2, 2.5, True])
def test_aggregate_blocks__block_must_be_a_positive_integer(tiny, block):
    _, avail, _ = tiny
    with pytest.raises(GridError, match="block"):
        aggregate_blocks(avail, block=block)


@pytest.mark.parametrize(
    ("stats", "match"),
    [
        ({"value": "median"}, "unknown statistic"),
        ({"slope": "mean"}, "not in the stack"),
        ({"value": []}, "empty"),
    ],
)
def test_aggregate_blocks__bad_stats(tiny, stats, match):
    _, avail, stack = tiny
    with pytest.raises(InvalidLayerError, match=match):
        aggregate_blocks(avail, stack, block=2, stats=stats)


def test_aggregate_blocks__stats_without_stack(tiny):
    _, avail, _ = tiny
    with pytest.raises(InvalidLayerError, match="no stack"):
        aggregate_blocks(avail, block=2, stats={"value": "mean"})


def test_aggregate_blocks__stack_on_another_grid(tiny, field):
    _, avail, _ = tiny
    _, _, other = field
    with pytest.raises(GridError, match="same stack"):
        aggregate_blocks(avail, other, block=2)


def test_aggregate_blocks__geographic_grid_has_no_cell_area():
    grid = small_grid("EPSG:4326", shape=(2, 2), resolution=0.01, origin=(-71.5, 41.5))
    with pytest.raises(CRSError, match="projected"):
        aggregate_blocks(grid.to_xarray(fill_value=1.0), block=2)


# -- real data: NREL reV's Rhode Island PV supply curve -------------------------------------


@pytest.mark.realdata
def test_aggregate_blocks__reproduces_rev_rhode_island_pv_supply_curve(shared_data):
    """Reproduce reV's ``sc_out/baseline_agg_summary.csv`` from the exclusion GeoTIFFs.

    reV (``tests/test_supply_curve_sc_aggregation.py``): resolution 64, ``EXCL_DICT`` keeps
    ``ri_srtm_slope`` in ``(None, 5]`` and drops ``ri_padus == 1``, both with
    ``exclude_nodata=True`` -- PAD-US nodata (255, i.e. unprotected land) is therefore
    *excluded*, so only ``padus == 2`` cells remain (hence ``padus`` mode 2 on every row).

    The CSV has 129 rows for 114 points: reV splits a point by resource class (GHI bins
    [0, 4, 100]) and only counts cells mapped to a generation site (techmap != -1); neither
    the techmap nor the generation file is available. So rows are summed per point, and:

    - ``sc_point_gid``, ``sc_row_ind``, ``sc_col_ind``: all equal;
    - latitude/longitude: reV (this baseline's vintage) rounds the mean lat/lon of all the
      block's cell centres to 3 decimals; ours rounded to 3 decimals is exactly equal on all
      points (so unrounded they differ by at most 5e-4 deg, the rounding);
    - area: ours is never smaller; it is exactly equal (to float32 precision) on the points
      where every included cell has resource (65 of 114 points, 72 of the 129 rows). On the
      others (coast, state border, Block Island) reV leaves out included cells without a
      generation site -- the CSV area is then still a whole number of 0.0081 km² cells;
    - on the exactly-equal points, ``pct_slope`` (mean of the class means weighted by their
      area) matches to 1e-6 relative (observed 1.7e-7: the CSV holds float32 values), and
      ``reeds_region`` (where all class modes agree, so the union's mode is that value)
      matches exactly (63 points).
    """
    folder = shared_data / "nrel_revx" / "ri_exclusions"
    baseline = shared_data / "nrel_rev" / "sc_out" / "baseline_agg_summary.csv"
    if not (folder / "ri_srtm_slope.tif").exists() or not baseline.exists():
        pytest.skip("the NREL reV/reVX Rhode Island files are not in shared data")
    slope = read_raster(folder / "ri_srtm_slope.tif")
    grid = Grid.from_xarray(slope)
    # ri_reeds_regions.tif is EPSG:32130 too, but its WKT lacks the TOWGS84[0,...] clause,
    # so its Grid is not equal: align (nearest on the identical lattice: a pure copy).
    reeds = align(folder / "ri_reeds_regions.tif", grid, kind="categorical")
    assert np.array_equal(reeds.values, read_raster(folder / "ri_reeds_regions.tif").values)
    stack = build_stack(
        {"slope": slope, "padus": read_raster(folder / "ri_padus.tif"), "reeds": reeds}
    )
    rules = [
        Rule("slope", include_range=(-math.inf, 5), nodata="exclude"),
        Rule("padus", exclude_values=(1,), nodata="exclude"),
    ]
    avail = availability(stack, rules)
    stats = {"slope": "mean", "reeds": "mode", "padus": "mode"}
    points = aggregate_blocks(avail, stack, block=64, stats=stats)
    assert grid.cell_area_m2 / 1e6 == pytest.approx(0.0081)  # reV's excl_area

    rev = pd.read_csv(baseline)
    assert len(rev) == 129
    rev["slope_x_area"] = rev["pct_slope"] * rev["area_sq_km"]
    per_point = rev.groupby("sc_point_gid").agg(
        sc_row_ind=("sc_row_ind", "first"),
        sc_col_ind=("sc_col_ind", "first"),
        latitude=("latitude", "first"),
        longitude=("longitude", "first"),
        area=("area_sq_km", "sum"),
        slope_x_area=("slope_x_area", "sum"),
        reeds=("reeds_region", lambda s: s.iloc[0] if s.nunique(dropna=False) == 1 else -1),
        padus=("padus", "max"),
    )
    both = (
        per_point.reset_index()
        .rename(columns={"sc_point_gid": "rev_gid"})
        .merge(points, on=["sc_row_ind", "sc_col_ind"], how="left", validate="one_to_one")
    )
    assert len(both) == 114
    assert (both["sc_point_gid"] == both["rev_gid"]).all()
    assert (both["sc_point_gid"] == both["sc_row_ind"] * 16 + both["sc_col_ind"]).all()
    assert both["area_km2"].notna().all()  # every reV point has available area here

    np.testing.assert_array_equal(both["lat"].round(3), both["latitude"])
    np.testing.assert_array_equal(both["lon"].round(3), both["longitude"])

    cells = both["area"] / 0.0081
    np.testing.assert_allclose(cells, cells.round(), atol=1e-6)
    assert (both["area"] <= both["area_km2"] + 1e-6).all()
    exact = np.isclose(both["area"], both["area_km2"], rtol=1e-6, atol=0)
    assert exact.sum() == 65

    same = both[exact]
    np.testing.assert_allclose(same["slope_mean"], same["slope_x_area"] / same["area"], rtol=1e-6)
    agreed = same[same["reeds"] >= 0]
    assert len(agreed) == 63
    np.testing.assert_array_equal(agreed["reeds_mode"], agreed["reeds"])
    assert (both["padus_mode"] == 2).all()
    assert (both["padus"] == 2).all()
