"""Minimum contiguous area (siting.constraints.contiguity), in memory and tile by tile."""

from __future__ import annotations

import math
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from siting.constraints.contiguity import label_components, min_cell_count, min_contiguous_area
from siting.errors import ConstraintError, CRSError, GridError
from siting.testing import small_grid

STRUCTURES = {
    "rook": ndimage.generate_binary_structure(2, 1),
    "queen": ndimage.generate_binary_structure(2, 2),
}


def raster(values, *, resolution=100.0, crs="EPSG:5070", chunks=None) -> xr.DataArray:
    """``values`` on a small grid (100 m cells = 0.01 km² by default), optionally chunked."""
    values = np.asarray(values, dtype="float32")
    grid = small_grid(crs, shape=values.shape, resolution=resolution)
    data = grid.georeference(xr.DataArray(values, coords=grid.coords(), dims=("y", "x")))
    return data if chunks is None else data.chunk(dict(zip(("y", "x"), chunks, strict=True)))


def reference(values: np.ndarray, connectivity: str, needed: int) -> np.ndarray:
    """What reV does on the whole array: scipy.ndimage.label, drop components < needed."""
    labels, _ = ndimage.label(values > 0, structure=STRUCTURES[connectivity])
    counts = np.bincount(labels.ravel())
    keep = counts >= needed
    keep[0] = False
    return np.where(keep[labels], np.nan_to_num(values), 0).astype("float32")


def cells(n: int) -> float:
    """min_area_km2 of exactly n cells of 100 m."""
    return n * 0.01


@pytest.fixture(autouse=True)
def _synchronous_dask():
    with dask.config.set(scheduler="synchronous"):
        yield


# -- the threshold ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_area_km2", "cell_area_km2", "expected"),
    [
        (1.0, 0.0081, 124),  # reV's rural PV, 90 m cells
        (0.018, 0.0081, 3),  # reV's urban PV
        (0.0243, 0.0081, 3),
        (0.0729, 0.0081, 9),  # 9.000000000000002 without the guard
        (0.0027, 0.0009, 3),  # 3.0000000000000004 without the guard (30 m cells)
        (0.02, 0.01, 2),
        (0.0200001, 0.01, 3),
        (0.0, 0.0081, 0),
    ],
)
def test_min_cell_count__ceil_guarded_against_float_noise(min_area_km2, cell_area_km2, expected):
    assert min_cell_count(min_area_km2, cell_area_km2=cell_area_km2) == expected


def test_min_cell_count__noise_case_really_is_noisy():
    assert math.ceil(0.0729 / 0.0081) == 10  # what an unguarded ceil would ask for


def test_min_contiguous_area__noisy_area_keeps_component_of_exactly_that_many_cells():
    values = np.zeros((3, 12), dtype="float32")
    values[1, :9] = 1  # 9 cells of 90 m = 0.0729 km²
    result = min_contiguous_area(raster(values, resolution=90), min_area_km2=0.0729)
    assert result.attrs["contiguity_min_cells"] == 9
    np.testing.assert_array_equal(result.values, values)


# -- hand-built cases ---------------------------------------------------------------------


def test_diagonal_pair__one_component_under_queen_two_under_rook():
    values = np.zeros((4, 4), dtype="float32")
    values[1, 1] = values[2, 2] = 1
    queen = min_contiguous_area(raster(values), min_area_km2=cells(2), connectivity="queen")
    rook = min_contiguous_area(raster(values), min_area_km2=cells(2), connectivity="rook")
    np.testing.assert_array_equal(queen.values, values)
    assert float(rook.sum()) == 0.0


@pytest.mark.parametrize("chunks", [None, (2, 2), (1, 3)])
def test_component_of_exactly_threshold_size_survives_one_below_is_removed(chunks):
    values = np.zeros((5, 9), dtype="float32")
    values[0, :4] = 1  # 4 cells: survives at a minimum of 4
    values[3, 2:5] = 1  # 3 cells: removed
    values[4, 8] = 1  # 1 cell: removed
    result = min_contiguous_area(raster(values, chunks=chunks), min_area_km2=cells(4))
    expected = np.zeros_like(values)
    expected[0, :4] = 1
    np.testing.assert_array_equal(result.values, expected)


def test_partial_availability__counts_for_connectivity_and_is_preserved():
    values = np.zeros((3, 6), dtype="float32")
    values[1, :] = [1, 0.5, 0.25, 0.5, 1, 0.75]  # 6 cells, but only 4.0 "available cells"
    result = min_contiguous_area(raster(values), min_area_km2=cells(6))
    np.testing.assert_array_equal(result.values, values)


def test_nan_counts_as_not_available_and_becomes_zero():
    values = np.ones((1, 7), dtype="float32")
    values[0, 3] = np.nan  # splits the row into 3 + 3 cells
    result = min_contiguous_area(raster(values), min_area_km2=cells(4))
    assert not np.isnan(result.values).any()
    assert float(result.sum()) == 0.0
    kept = min_contiguous_area(raster(values, chunks=(1, 2)), min_area_km2=cells(3))
    np.testing.assert_array_equal(kept.values, np.nan_to_num(values))


def test_zero_min_area_keeps_every_patch():
    values = np.random.default_rng(1).random((6, 7)).astype("float32")
    values[values < 0.5] = 0
    for chunks in (None, (2, 3)):
        result = min_contiguous_area(raster(values, chunks=chunks), min_area_km2=0)
        np.testing.assert_array_equal(result.values, values)


def test_result__float32_on_same_grid_with_attrs():
    source = raster(np.ones((4, 5)))
    source.attrs["units"] = "1"
    result = min_contiguous_area(source, min_area_km2=0.05, connectivity="rook")
    assert result.dtype == np.float32
    assert result.rio.crs == source.rio.crs
    assert result.rio.transform() == source.rio.transform()
    assert result.dims == ("y", "x")
    assert result.attrs == {
        "units": "1",
        "contiguity_min_area_km2": 0.05,
        "contiguity_connectivity": "rook",
        "contiguity_min_cells": 5,
    }


# -- chunked == in memory == scipy --------------------------------------------------------


@pytest.mark.parametrize("connectivity", ["rook", "queen"])
@pytest.mark.parametrize(
    "chunks", [(1, 50), (1, 7), (40, 1), (3, 4), (7, 5), (13, 17), (40, 50), (39, 49)]
)
def test_chunked_equals_in_memory_equals_scipy(connectivity, chunks):
    rng = np.random.default_rng(hash(chunks) % 2**32)
    values = (rng.random((40, 50)) < 0.55) * rng.choice([0.5, 1.0], (40, 50))
    values = values.astype("float32")
    expected = reference(values, connectivity, 6)
    in_memory = min_contiguous_area(
        raster(values), min_area_km2=cells(6), connectivity=connectivity
    )
    chunked = min_contiguous_area(
        raster(values, chunks=chunks), min_area_km2=cells(6), connectivity=connectivity
    )
    assert isinstance(chunked.data, da.Array)
    np.testing.assert_array_equal(in_memory.values, expected)
    np.testing.assert_array_equal(chunked.values, expected)


def u_shape() -> np.ndarray:
    """A U over 3 x 3 chunks of 4 cells whose arms meet only in the bottom chunk row."""
    values = np.zeros((12, 12), dtype="float32")
    values[:, 1] = 1  # left arm, through chunks (0,0), (1,0), (2,0)
    values[:, 10] = 1  # right arm, through chunks (0,2), (1,2), (2,2)
    values[11, 1:11] = 1  # the bottom, through (2,0), (2,1), (2,2)
    values[0:6, 5] = 1  # a separate bar of 6 cells in the middle column
    return values


@pytest.mark.parametrize("chunks", [(4, 4), (1, 12), (12, 1), (5, 3)])
def test_u_shape_spanning_chunks__merged_transitively(chunks):
    values = u_shape()
    u_cells = 12 + 12 + 8
    result = min_contiguous_area(raster(values, chunks=chunks), min_area_km2=cells(u_cells))
    expected = values.copy()
    expected[0:6, 5] = 0
    np.testing.assert_array_equal(result.values, expected)
    # one cell more and the whole U goes, in every chunk
    gone = min_contiguous_area(raster(values, chunks=chunks), min_area_km2=cells(u_cells + 1))
    assert float(gone.sum()) == 0.0


def test_c_shape__two_pieces_of_one_chunk_joined_through_another():
    values = np.zeros((6, 6), dtype="float32")
    values[0, 0:5] = values[5, 0:5] = 1  # two bars in the left chunk column...
    values[0:6, 4] = 1  # ...joined only by a bar in the right chunk column
    labels = label_components(values, chunks=(6, 3), connectivity="rook")
    assert labels.sizes.tolist() == [0, 14]
    result = min_contiguous_area(raster(values, chunks=(6, 3)), min_area_km2=cells(14))
    np.testing.assert_array_equal(result.values, values)


@pytest.mark.parametrize("diagonal", ["main", "anti"])
def test_diagonal_across_chunk_corner__queen_only(diagonal):
    values = np.zeros((6, 6), dtype="float32")
    if diagonal == "main":
        values[0:3, 2] = 1  # ends at (2, 2), the bottom-right cell of chunk (0, 0)
        values[3:6, 3] = 1  # starts at (3, 3), the top-left cell of chunk (1, 1)
    else:
        values[0:3, 3] = 1  # ends at (2, 3), the bottom-left cell of chunk (0, 1)
        values[3:6, 2] = 1  # starts at (3, 2), the top-right cell of chunk (1, 0)
    for connectivity, expected in [("queen", values), ("rook", np.zeros_like(values))]:
        result = min_contiguous_area(
            raster(values, chunks=(3, 3)), min_area_km2=cells(6), connectivity=connectivity
        )
        np.testing.assert_array_equal(result.values, expected)
        np.testing.assert_array_equal(reference(values, connectivity, 6), expected)


def test_empty_chunks__do_not_hide_that_their_neighbours_touch():
    values = np.zeros((6, 6), dtype="float32")
    values[:, 2] = 1  # 6 cells across the empty chunk rows below
    source = raster(values).chunk({"y": (3, 0, 3), "x": 3})
    assert 0 in source.chunks[0]
    result = min_contiguous_area(source, min_area_km2=cells(6), connectivity="rook")
    np.testing.assert_array_equal(result.values, values)
    labels = label_components(source, connectivity="rook").labels
    np.testing.assert_array_equal(labels.values, values.astype(int))


@settings(max_examples=60, deadline=None)
@given(
    mask=arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))),
    chunk_rows=st.integers(1, 24),
    chunk_cols=st.integers(1, 24),
    connectivity=st.sampled_from(["rook", "queen"]),
    needed=st.integers(0, 12),
)
def test_property__chunked_equals_scipy(mask, chunk_rows, chunk_cols, connectivity, needed):
    values = mask.astype("float32")
    chunks = (min(chunk_rows, mask.shape[0]), min(chunk_cols, mask.shape[1]))
    expected = reference(values, connectivity, needed)
    for data in (raster(values), raster(values, chunks=chunks)):
        result = min_contiguous_area(data, min_area_km2=cells(needed), connectivity=connectivity)
        np.testing.assert_array_equal(result.values, expected)
    components = label_components(mask, connectivity=connectivity, chunks=chunks)
    labels, _ = ndimage.label(mask, structure=STRUCTURES[connectivity])
    np.testing.assert_array_equal(components.labels.compute(), labels)
    assert components.sizes.tolist() == [0, *np.bincount(labels.ravel())[1:].tolist()]


# -- connect: rules exempt from the contiguity filter -------------------------------------


@pytest.mark.parametrize("chunks", [None, (5, 3)])
def test_connect__exempt_road_does_not_split_the_field(chunks):
    field = np.ones((5, 9), dtype="float32")  # 45 cells
    availability = field.copy()
    availability[:, 4] = 0  # a one-cell-wide road: two halves of 20 cells
    not_exempt = min_contiguous_area(raster(availability, chunks=chunks), min_area_km2=cells(25))
    assert float(not_exempt.sum()) == 0.0
    exempt = min_contiguous_area(
        raster(availability, chunks=chunks),
        min_area_km2=cells(25),
        connect=raster(field, chunks=chunks),
    )
    np.testing.assert_array_equal(exempt.values, availability)  # the road stays excluded


def test_connect__chunked_differently_or_in_memory():
    rng = np.random.default_rng(5)
    field = (rng.random((20, 30)) < 0.6).astype("float32")
    availability = field * (rng.random((20, 30)) < 0.8)
    labels, _ = ndimage.label(field > 0, structure=STRUCTURES["queen"])
    keep = np.bincount(labels.ravel()) >= 8
    keep[0] = False
    expected = np.where(keep[labels], availability, 0)
    for avail_chunks, connect_chunks in [((7, 9), (4, 11)), ((7, 9), None), (None, (6, 6))]:
        result = min_contiguous_area(
            raster(availability, chunks=avail_chunks),
            min_area_km2=cells(8),
            connect=raster(field, chunks=connect_chunks),
        )
        assert isinstance(result.data, da.Array)
        np.testing.assert_array_equal(result.values, expected)


# -- laziness -----------------------------------------------------------------------------


def test_dask_input__result_stays_lazy_with_the_same_chunks():
    source = raster(u_shape(), chunks=(4, 4))
    result = min_contiguous_area(source, min_area_km2=cells(10))
    assert isinstance(result.data, da.Array)
    assert result.chunks == source.chunks
    assert result.dtype == np.float32
    assert result.rio.crs == source.rio.crs


def test_dask_input__only_summaries_computed_before_the_result_is_asked_for():
    calls = []

    def count(block):
        if block.size:  # not dask's probe of the output type
            calls.append(block.shape)
        return block

    source = raster(u_shape(), chunks=(4, 4))
    source = source.copy(data=source.data.map_blocks(count, dtype="float32"))
    result = min_contiguous_area(source, min_area_km2=cells(10))
    assert len(calls) == 9  # pass 1: each chunk once, for its summary
    result.compute()
    assert len(calls) == 18  # pass 2: each chunk once more, for the result


# -- label_components ---------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [None, (3, 3), (1, 5)])
def test_label_components__numbered_like_scipy(chunks):
    mask = np.random.default_rng(2).random((15, 20)) < 0.5
    expected, n = ndimage.label(mask, structure=STRUCTURES["queen"])
    components = label_components(raster(mask), chunks=chunks)
    assert isinstance(components.labels, xr.DataArray)
    np.testing.assert_array_equal(components.labels.values, expected)
    assert components.sizes.sum() == mask.sum()
    assert components.sizes.size == n + 1


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("min_area_km2", [-1.0, float("nan"), float("inf"), "1", None, True])
def test_bad_min_area__constraint_error_names_value(min_area_km2):
    with pytest.raises(ConstraintError, match=r"min_area_km2=.* must be a finite area"):
        min_contiguous_area(raster(np.ones((2, 2))), min_area_km2=min_area_km2)


def test_unknown_connectivity__constraint_error_lists_choices():
    with pytest.raises(ConstraintError, match=r"connectivity='bishop'.*'rook'.*'queen'"):
        min_contiguous_area(raster(np.ones((2, 2))), min_area_km2=1, connectivity="bishop")
    with pytest.raises(ConstraintError, match="connectivity"):
        label_components(np.ones((2, 2)), connectivity="hex")


def test_geographic_crs__crs_error_says_reproject():
    data = raster(np.ones((2, 2)), resolution=0.01, crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"min_contiguous_area.*geographic.*EPSG:5070"):
        min_contiguous_area(data, min_area_km2=1)


def test_missing_crs__crs_error():
    data = xr.DataArray(np.ones((2, 2)), dims=("y", "x"))
    with pytest.raises(CRSError, match="write_crs"):
        min_contiguous_area(data, min_area_km2=1)


def test_connect_on_other_grid__grid_error_names_both():
    availability = raster(np.ones((4, 4)))
    other = raster(np.ones((4, 5)))
    with pytest.raises(GridError, match=r"connect is on Grid.*availability is on Grid"):
        min_contiguous_area(availability, min_area_km2=1, connect=other)


@pytest.mark.parametrize("bad", [np.ones((3, 3)), xr.DataArray(np.ones((2, 3, 3)))])
def test_not_a_2d_dataarray__grid_error(bad):
    with pytest.raises(GridError, match="availability must be"):
        min_contiguous_area(bad, min_area_km2=1)


# -- real data: reV's reference masks -----------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize(("scenario", "min_area_km2"), [("urban_pv", 0.018), ("rural_pv", 1.0)])
@pytest.mark.parametrize("chunks", [None, (256, 200)])
def test_real_data__reproduces_rev_reference_masks(shared_data, scenario, min_area_km2, chunks):
    """reV's tests/test_supply_curve_exclusions.py: smod and slope rules, then the filter."""
    import rioxarray

    folder = shared_data / "nrel_revx" / "ri_exclusions"
    truth_path: Path = shared_data / "nrel_rev" / "ri_exclusions" / f"{scenario}.npy"
    if not (folder / "ri_smod.tif").is_file() or not truth_path.is_file():
        pytest.skip(f"reV exclusion layers or {truth_path.name} not in {shared_data}")
    smod = rioxarray.open_rasterio(folder / "ri_smod.tif").squeeze("band", drop=True)
    slope = rioxarray.open_rasterio(folder / "ri_srtm_slope.tif").squeeze("band", drop=True)
    s, sl = smod.values, slope.values
    slope_ok = (sl >= 0) & (sl <= 5) & (sl != slope.rio.nodata)
    smod_ok = (s == 1) if scenario == "rural_pv" else (s != 1) & (s != smod.rio.nodata)
    availability = slope.copy(data=(slope_ok & smod_ok).astype("float32"))
    if chunks is not None:
        availability = availability.chunk({"y": chunks[0], "x": chunks[1]})
    result = min_contiguous_area(availability, min_area_km2=min_area_km2)
    truth = np.load(truth_path).astype("float32")
    assert int((availability.values != truth).sum()) > 0  # the filter really removes cells
    np.testing.assert_array_equal(result.values, truth)
