"""Exclusion rules: conditions, nodata meanings, weights, force-include, extents, setbacks,
contiguity and attribution."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from shapely.geometry import LineString, Point, box

from siting.constraints import (
    Condition,
    Contiguity,
    ParametricSetback,
    Rule,
    availability,
    exclusion_report,
    require_available,
    setback_factor,
)
from siting.errors import ConstraintError, CRSError, GridError, NoFeasibleSitesError
from siting.grid import Grid

NAN = float("nan")


@pytest.fixture
def stack() -> xr.Dataset:
    grid = Grid.from_bounds((0, 0, 500, 100), 100)  # 1 x 5 cells of 0.01 km²
    gap = grid.to_xarray()
    gap[:] = [[1, 2, 3, 4, NAN]]
    gap.attrs["kind"] = "categorical"
    slope = grid.to_xarray()
    slope[:] = [[0.0, 5.0, 12.0, NAN, 3.0]]
    weights = grid.to_xarray()
    weights[:] = [[1.0, 0.5, 0.25, NAN, 0.0]]
    return grid.georeference(xr.Dataset({"gap_status": gap, "slope_pct": slope, "w": weights}))


def row(array: xr.DataArray) -> list:
    return np.asarray(array.values)[0].tolist()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule("gap_status", exclude_values=(1, 2), nodata="ignore"), [0, 0, 1, 1, 1]),
        (Rule("gap_status", exclude_values=(1, 2), nodata="exclude"), [0, 0, 1, 1, 0]),
        (Rule("gap_status", include_values=(3,), nodata="ignore"), [0, 0, 1, 0, 1]),
        (Rule("slope_pct", include_range=(0, 10), nodata="exclude"), [1, 1, 0, 0, 1]),
        (Rule("slope_pct", include_range=(0, 10), nodata="ignore"), [1, 1, 0, 1, 1]),
        (Rule("slope_pct", exclude_range=(5, math.inf), nodata="ignore"), [1, 0, 0, 1, 1]),
    ],
)
def test_rule__each_condition_and_nodata_meaning(stack, rule, expected):
    assert row(rule.factor(stack[rule.layer])) == expected


def test_rule__weight_keep_and_nodata_include_follow_rev():
    """reV's ``weight`` scales what a rule includes; nodata "include" counts as included."""
    data = xr.DataArray(np.array([[1.0, 2.0, NAN]]), dims=("y", "x"))
    weighted = Rule("padus", exclude_values=(1,), nodata="include", weight=0.5)
    assert row(weighted.factor(data)) == [0.0, 0.5, 0.5]
    assert row(Rule("padus", exclude_values=(1,), nodata="exclude", weight=0.5).factor(data)) == [
        0,
        0.5,
        0,
    ]
    partial = Rule("padus", exclude_values=(1,), nodata="ignore", keep=0.25)
    assert row(partial.factor(data)) == [0.25, 1.0, 1.0]


def test_rule__layer_as_weights(stack):
    assert row(Rule("w", use_as_weights=True, nodata="ignore").factor(stack["w"])) == [
        1,
        0.5,
        0.25,
        1,
        0,
    ]
    assert row(Rule("w", use_as_weights=True, nodata="exclude").factor(stack["w"]))[3] == 0


def test_force_include_overrides_other_exclusions(stack):
    rules = [
        Rule("slope_pct", include_range=(0, 4), nodata="exclude"),
        Rule("gap_status", include_values=(3,), nodata="ignore", force_include=True),
    ]
    assert row(availability(stack, rules)) == [1, 0, 1, 0, 1]


def test_where__rule_applies_only_inside_the_extent(stack):
    # steep ground is excluded only where GAP status is 3 or 4
    rule = Rule(
        "slope_pct",
        include_range=(0, 4),
        nodata="exclude",
        where=Condition("gap_status", include_values=(3, 4)),
    )
    assert row(availability(stack, [rule])) == [1, 1, 0, 0, 1]


def test_availability__product_of_factors_and_region(stack):
    rules = [
        Rule("gap_status", exclude_values=(1,), nodata="ignore", keep=0.5),
        Rule("w", use_as_weights=True, nodata="ignore"),
    ]
    avail = availability(stack, rules)
    assert row(avail) == [0.5, 0.5, 0.25, 1.0, 0.0]
    assert avail.dtype == np.float32
    assert Grid.from_xarray(avail) == Grid.from_xarray(stack)
    outside = xr.zeros_like(stack["gap_status"], dtype=bool)
    assert row(availability(stack, [], within=outside)) == [0] * 5


def test_availability__lazy_stack_stays_lazy_and_equal(stack):
    rules = [
        Rule("slope_pct", include_range=(0, 10), nodata="exclude"),
        Rule("gap_status", include_values=(3,), nodata="ignore", force_include=True),
    ]
    lazy = availability(stack.chunk({"x": 2}), rules)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, availability(stack, rules).values)


def test_exclusion_report__alone_in_sequence_and_partial(stack):
    rules = [
        Rule("gap_status", exclude_values=(1, 2), nodata="ignore"),
        Rule("slope_pct", include_range=(0, 10), nodata="exclude"),
        Rule("w", use_as_weights=True, nodata="ignore"),
    ]
    report = exclusion_report(stack, rules)
    # cells: gap removes 0,1; slope removes 2,3 (alone) ; weights remove 0, .5, .75, 0, 1
    assert report["excluded_alone_km2"].tolist() == pytest.approx([0.02, 0.02, 0.0225])
    assert report["excluded_in_sequence_km2"].tolist() == pytest.approx([0.02, 0.02, 0.01])
    assert report["available_km2"].tolist() == pytest.approx([0.03, 0.01, 0.0])
    assert report["available_km2"].iloc[-1] == pytest.approx(
        float(availability(stack, rules).sum()) * 0.01
    )


def test_exclusion_report__force_include_adds_area_back(stack):
    rules = [
        Rule("gap_status", exclude_values=(3, 4), nodata="ignore"),
        Rule("gap_status", include_values=(3,), nodata="ignore", force_include=True),
    ]
    report = exclusion_report(stack, rules)
    assert report["excluded_in_sequence_km2"].tolist() == pytest.approx([0.02, -0.01])


def test_contiguity__small_patches_dropped_and_exempt_rules_do_not_split():
    grid = Grid.from_bounds((0, 0, 900, 100), 100)  # 1 x 9 cells, 0.01 km² each
    land = grid.to_xarray(fill_value=1.0)
    road = grid.to_xarray(fill_value=0.0)
    road[0, 4] = 1.0  # a road crosses the middle of the field
    stack = grid.georeference(xr.Dataset({"land": land, "road": road}))
    rule = Rule("road", exclude_values=(1,), nodata="ignore")
    need_5 = Contiguity(min_area_km2=0.05, connectivity="rook")
    # the road splits the field into two 4-cell patches, each below 5 cells
    assert row(availability(stack, [rule], contiguity=need_5)) == [0] * 9
    exempt = Rule("road", exclude_values=(1,), nodata="ignore", exempt_from_contiguity=True)
    assert row(availability(stack, [exempt], contiguity=need_5)) == [1, 1, 1, 1, 0, 1, 1, 1, 1]
    report = exclusion_report(stack, [rule], contiguity=need_5)
    assert report["rule"].iloc[-1].startswith("minimum contiguous area 0.05")
    assert report["excluded_in_sequence_km2"].iloc[-1] == pytest.approx(0.08)


def test_setback__exact_circle_not_a_diamond():
    grid = Grid.from_bounds((-1050, -1050, 1050, 1050), 100)
    tower = gpd.GeoSeries([Point(0, 0)], crs=grid.crs)
    factor = setback_factor(tower, grid, distance_m=1000).values
    xs, ys = np.meshgrid(grid.xs, grid.ys)
    np.testing.assert_array_equal(factor == 0, np.hypot(xs, ys) <= 1000)
    # a diamond (|x|+|y| <= r) would keep the cell at (700, 700), 990 m away: we exclude it
    r, c = grid.rowcol(700, 700)
    assert factor[r, c] == 0


def test_setback__parametric_distance_in_a_feet_crs():
    setback = ParametricSetback(multiplier=1.5, hub_height_m=100, rotor_diameter_m=100)
    assert setback.distance_m == 225
    grid = Grid.from_bounds((0, 0, 3000, 100), 100, crs="EPSG:2263")  # US survey feet
    line = gpd.GeoSeries([LineString([(50, 0), (50, 100)])], crs="EPSG:2263")
    factor = setback_factor(line, grid, distance_m=setback).values[0]
    feet = (grid.xs - 50) * 1200 / 3937  # distance of each centre from the line, in metres
    np.testing.assert_array_equal(factor == 0, feet <= 225)


def test_setback__partial_is_exact_area_share():
    grid = Grid.from_bounds((0, 0, 300, 100), 100)
    parcel = gpd.GeoSeries([box(0, 0, 150, 100)], crs=grid.crs)  # 1.5 cells covered
    assert row(setback_factor(parcel, grid, distance_m=0, partial=True)) == pytest.approx(
        [0, 0.5, 1]
    )
    dot = gpd.GeoSeries([Point(200, 50)], crs=grid.crs)  # on the edge between cells 1 and 2
    share = setback_factor(dot, grid, distance_m=40, partial=True).values[0]
    half_disc = math.pi * 40**2 / 2 / 100**2
    assert share.tolist() == pytest.approx([1, 1 - half_disc, 1 - half_disc], rel=1e-4)


@pytest.fixture
def crossing_features() -> tuple[Grid, gpd.GeoDataFrame]:
    """A 45 x 61 grid of 100 m cells (tiles of 10 x 16: the last ones partial) and features
    crossing tile edges: points, lines, polygons, one parcel covering whole tiles; the
    lower-right tiles stay clear of every setback."""
    grid = Grid.from_bounds((1_000_000, 2_000_000, 1_006_100, 2_004_500), 100)
    features = gpd.GeoDataFrame(
        {"kind": ["tower", "tower", "road", "river", "parcel", "lot"]},
        geometry=[
            Point(1_001_600, 2_003_000),  # on a tile edge
            Point(1_003_213.7, 2_001_987.1),
            LineString([(999_000, 2_004_020), (1_004_850, 2_003_310), (1_005_200, 2_001_600)]),
            LineString([(1_000_050, 1_999_000), (1_002_777, 2_002_222)]),
            box(999_500, 2_003_000, 1_003_250, 2_005_000),  # covers the top-left tiles
            box(1_004_010, 2_002_500, 1_004_590, 2_002_930),
        ],
        crs=grid.crs,
    )
    return grid, features


@pytest.mark.parametrize("distance_m", [0, 40, 175.5])
def test_setback__partial_tiled_lazily_equals_in_memory(crossing_features, distance_m):
    import dask.array as da

    grid, features = crossing_features
    whole = setback_factor(features, grid, distance_m=distance_m, partial=True, name="sb")
    tiled = setback_factor(
        features, grid, distance_m=distance_m, partial=True, name="sb", chunks=(10, 16)
    )
    assert isinstance(tiled.data, da.Array)
    assert tiled.chunks == ((10, 10, 10, 10, 5), (16, 16, 16, 13))
    assert tiled.dtype == np.float32
    assert tiled.attrs == whole.attrs
    assert tiled.name == "sb"
    assert Grid.from_xarray(tiled) == grid
    values = tiled.values
    np.testing.assert_array_equal(values, whole.values)
    assert (values[:10, :16] == 0).all()  # a tile inside the parcel
    assert (values[40:, 48:] == 1).all()  # a tile with no feature in reach
    assert ((values > 0) & (values < 1)).sum() > 20  # tile edges cut through partial cells


def test_setback__partial_tiled_measures_one_tile_at_a_time(crossing_features, monkeypatch):
    import dask
    import exactextract

    grid, features = crossing_features
    real = exactextract.exact_extract
    shapes: list[tuple[int, int]] = []

    def recording(raster, *args, **kwargs):
        left, bottom, right, top = raster.extent()
        xres, yres = raster.res()
        shapes.append((round((top - bottom) / yres), round((right - left) / xres)))
        return real(raster, *args, **kwargs)

    monkeypatch.setattr(exactextract, "exact_extract", recording)
    tiled = setback_factor(features, grid, distance_m=120, partial=True, chunks=(10, 16))
    assert shapes == []  # lazy: nothing measured yet
    with dask.config.set(scheduler="synchronous"):
        values = tiled.values
    assert shapes
    assert all(rows <= 10 and cols <= 16 for rows, cols in shapes)
    assert len(shapes) < 20  # the tile without features is not measured at all
    shapes.clear()
    whole = setback_factor(features, grid, distance_m=120, partial=True)
    assert shapes == [grid.shape]
    np.testing.assert_array_equal(values, whole.values)


def test_setback__bad_input():
    grid = Grid.from_bounds((0, 0, 300, 100), 100)
    with pytest.raises(CRSError, match="set_crs"):
        setback_factor(gpd.GeoSeries([Point(0, 0)]), grid, distance_m=10)
    with pytest.raises(ConstraintError, match="distance_m"):
        setback_factor(gpd.GeoSeries([Point(0, 0)], crs=grid.crs), grid, distance_m=-1)
    with pytest.raises(CRSError, match="geographic"):
        setback_factor(
            gpd.GeoSeries([Point(0, 0)], crs=4326),
            Grid.from_bounds((0, 0, 1, 1), 0.1, crs=4326),
            distance_m=1,
        )
    empty = setback_factor(gpd.GeoSeries([], crs=grid.crs), grid, distance_m=10)
    assert row(empty) == [1, 1, 1]


def test_rule__bad_definitions_are_refused():
    with pytest.raises(ConstraintError, match="exactly one"):
        Rule("x", nodata="ignore")
    with pytest.raises(ConstraintError, match="exactly one"):
        Rule("x", include_values=(1,), exclude_values=(2,), nodata="ignore")
    with pytest.raises(ConstraintError, match="nodata"):
        Rule("x", include_values=(1,), nodata="zero")  # type: ignore[arg-type]
    with pytest.raises(ConstraintError, match="low <= high"):
        Rule("x", include_range=(5, 1), nodata="ignore")
    with pytest.raises(ConstraintError, match="between 0 and 1"):
        Rule("x", include_values=(1,), nodata="ignore", weight=1.5)
    with pytest.raises(ConstraintError, match="include_values or include_range"):
        Rule("x", exclude_values=(1,), nodata="ignore", force_include=True)
    with pytest.raises(ConstraintError, match="use_as_weights"):
        Rule("x", include_values=(1,), nodata="ignore", use_as_weights=True)
    with pytest.raises(ConstraintError, match="rook"):
        Contiguity(1.0, connectivity="king")  # type: ignore[arg-type]


def test_rule__unknown_layer_names_the_layers_present(stack):
    with pytest.raises(ConstraintError, match=r"'landcover'.*gap_status"):
        availability(stack, [Rule("landcover", include_values=(1,), nodata="ignore")])
    where = Condition("landcover", include_values=(1,))
    with pytest.raises(ConstraintError, match="where"):
        availability(
            stack, [Rule("gap_status", include_values=(1,), nodata="ignore", where=where)]
        )


def test_rule__categorical_value_that_never_occurs(stack):
    # Keeping only absent values leaves nothing: a typo in the legend's codes, an error.
    with pytest.raises(
        ConstraintError,
        match=r"none of the values \[7\].*values present: \[1, 2, 3, 4\].*leaves nothing",
    ):
        availability(stack, [Rule("gap_status", include_values=(7,), nodata="ignore")])
    # Excluding absent values is sound (a region with no protected land) and does nothing.
    with pytest.warns(UserWarning, match=r"none of the values \[7, 9\].*changes nothing"):
        excluded = availability(
            stack, [Rule("gap_status", exclude_values=(7, 9), nodata="ignore")]
        )
    np.testing.assert_array_equal(excluded.values, availability(stack, []).values)


def test_region_mask_on_another_grid_is_refused(stack):
    other = Grid.from_bounds((0, 0, 600, 100), 100).to_xarray(fill_value=1.0) > 0
    with pytest.raises(GridError, match="region mask"):
        availability(stack, [], within=other)


def test_require_available__everything_excluded(stack):
    rules = [Rule("slope_pct", include_range=(100, 200), nodata="exclude")]
    with pytest.raises(NoFeasibleSitesError, match="Relax a rule"):
        require_available(availability(stack, rules), rules=rules)


@pytest.mark.parametrize("area", [math.inf, -1.0, math.nan, True])
def test_contiguity__bad_areas(area):
    with pytest.raises(ConstraintError, match="min_area_km2"):
        Contiguity(area)


def test_combine__multiply_compounds_minimum_takes_the_strictest(stack):
    rules = [
        Rule("gap_status", exclude_values=(1,), nodata="ignore", keep=0.5),
        Rule("w", use_as_weights=True, nodata="ignore"),
    ]
    assert row(availability(stack, rules, combine="minimum")) == [0.5, 0.5, 0.25, 1.0, 0.0]
    both_half = [
        Rule("gap_status", include_values=(3,), nodata="ignore", keep=0.5),
        Rule("slope_pct", include_range=(0, 4), nodata="ignore", keep=0.5),
    ]
    assert row(availability(stack, both_half)) == [0.5, 0.25, 0.5, 0.5, 1.0]
    assert row(availability(stack, both_half, combine="minimum")) == [0.5, 0.5, 0.5, 0.5, 1.0]
    report = exclusion_report(stack, both_half, combine="minimum")
    assert report["available_km2"].iloc[-1] == pytest.approx(0.03)
    with pytest.raises(ConstraintError, match="minimum"):
        availability(stack, both_half, combine="max")  # type: ignore[arg-type]


def test_exclusion_report__reuses_a_computed_availability(stack):
    rules = [Rule("slope_pct", include_range=(0, 10), nodata="exclude")]
    contiguity = Contiguity(min_area_km2=0.02, connectivity="rook")
    avail = availability(stack, rules, contiguity=contiguity)
    fresh = exclusion_report(stack, rules, contiguity=contiguity)
    reused = exclusion_report(stack, rules, contiguity=contiguity, result=avail)
    assert reused.equals(fresh)
