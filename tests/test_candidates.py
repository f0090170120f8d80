"""Candidate tables: cell centres, WGS84 locations and points of the best rows."""

from __future__ import annotations

import gc

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from siting.candidates import _with_locations, best_candidates, cells_to_candidates
from siting.grid import Grid
from siting.testing import random_field, small_grid


def _shuffled_cells(grid: Grid, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(rng.permutation(grid.size)[: grid.size // 2], grid.width)
    return pd.DataFrame(
        {
            "cell_id": rows * grid.width + cols,
            "row": rows,
            "col": cols,
            "availability": rng.random(len(rows)).astype("float32"),
            "a": rng.normal(size=len(rows)),
        }
    )


def _same_coordinates(left: gpd.GeoSeries, right: gpd.GeoSeries) -> bool:
    return bool(np.array_equal(left.get_coordinates(), right.get_coordinates()))


@pytest.mark.parametrize("gc_enabled", [True, False])
def test_with_locations__equals_sorting_then_locating_the_whole_table(gc_enabled):
    grid = Grid.from_bounds((-1_500_000, 2_000_000, -1_491_000, 2_009_000), 90, crs="EPSG:5070")
    table = _shuffled_cells(grid, seed=4)
    expected = table.sort_values("cell_id", ignore_index=True)
    xs, ys = grid.xy(expected["row"].to_numpy(), expected["col"].to_numpy())
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xs, ys)
    for position, (name, values) in enumerate({"x": xs, "y": ys, "lon": lon, "lat": lat}.items()):
        expected.insert(3 + position, name, values)
    expected = gpd.GeoDataFrame(expected, geometry=gpd.points_from_xy(xs, ys), crs=grid.crs)

    was_enabled = gc.isenabled()
    (gc.enable if gc_enabled else gc.disable)()
    try:
        located = _with_locations(table, grid)
        assert gc.isenabled() is gc_enabled  # the collector is left as it was found
    finally:
        (gc.enable if was_enabled else gc.disable)()
    pd.testing.assert_frame_equal(located, expected, check_exact=True)
    assert located.crs == grid.crs
    assert _same_coordinates(located.geometry, expected.geometry)


@pytest.mark.parametrize("chunks", [7, 16])
def test_best_candidates__lazy_tiles_give_the_in_memory_table_to_the_bit(chunks):
    grid = small_grid(shape=(45, 38))
    stack = random_field(grid, seed=5).to_dataset(name="a")
    stack["a"] = stack["a"].round(1)  # ties: the smaller cell_id wins
    avail = (random_field(grid, seed=6) > 0.25).astype("float32")
    whole = cells_to_candidates(stack, avail)
    whole = whole.assign(score=whole["a"].to_numpy(dtype="float64"))
    expected = whole.sort_values(["score", "cell_id"], ascending=[False, True]).head(300)
    expected = expected.sort_values("cell_id", ignore_index=True)
    best = best_candidates(stack.chunk(chunks), avail.chunk(chunks), score=lambda t: t["a"], n=300)
    pd.testing.assert_frame_equal(best, expected, check_exact=True)
    assert list(best.columns) == list(expected.columns)
    assert best.crs == expected.crs
    assert best.attrs == {"n_candidates": len(whole)}
    assert _same_coordinates(best.geometry, expected.geometry)


@pytest.mark.parametrize("n", [1, 7, 59, 60, 200])
def test_merge_best__equals_keeping_the_best_of_the_whole_table(n):
    from siting.candidates import _Best, _keep_best, _merge_best

    rng = np.random.default_rng(n)
    tables = []
    for start in (0, 100, 200):  # parts in cell_id order, as tiles come
        ids = np.sort(rng.choice(np.arange(start, start + 100), 20, replace=False))
        scores = rng.integers(0, 4, len(ids)).astype("float64")  # many ties across parts
        tables.append(pd.DataFrame({"cell_id": ids, "v": rng.random(len(ids)), "score": scores}))
    parts = [_Best(t, len(t) + 5) for t in tables] + [_Best(None, 3)]
    merged = _merge_best(parts, n)
    expected = _keep_best(pd.concat(tables, ignore_index=True), n)
    pd.testing.assert_frame_equal(merged.table, expected, check_exact=True)
    assert merged.n_candidates == 3 * 25 + 3
    assert len(merged.table) == min(n, 60)
    assert _merge_best([_Best(None, 0)], n) == _Best(None, 0)


@pytest.mark.parametrize("n", [1, 5, 33, 34, 90, 500])
def test_best_positions__the_n_best_finite_scores_ties_to_the_smaller_id(n):
    from siting.candidates import _best_positions

    rng = np.random.default_rng(n)
    scores = rng.integers(0, 6, 120).astype("float64")  # many ties
    scores[rng.choice(120, 15, replace=False)] = np.nan
    scores[rng.choice(120, 3, replace=False)] = -np.inf
    ids = rng.permutation(1000)[:120]
    # The reference: sort by score, best first, then by id; keep n; back in table order.
    finite = np.flatnonzero(np.isfinite(scores))
    order = finite[np.lexsort((ids[finite], -scores[finite]))]
    expected = np.sort(order[:n])
    positions = _best_positions(scores, ids, n)
    if positions is None:  # every position: only when all scores are finite and n covers them
        assert len(finite) == len(scores) <= n
    else:
        np.testing.assert_array_equal(positions, expected)


@pytest.mark.parametrize("chunks", [None, 4])
def test_best_candidates__no_score_anywhere_gives_no_rows_but_counts_the_cells(chunks):
    grid = small_grid(shape=(8, 9))
    stack = random_field(grid, seed=2).to_dataset(name="a")
    available = stack["a"] * 0 + 1
    if chunks:
        stack, available = stack.chunk({"y": chunks, "x": chunks}), available.chunk(chunks)
    best = best_candidates(stack, available, score=lambda t: np.full(len(t), np.nan), n=5)
    assert best.empty
    assert best.attrs["n_candidates"] == grid.size
    assert list(best.columns[:7]) == ["cell_id", "row", "col", "x", "y", "lon", "lat"]
    assert {"availability", "a", "score"} <= set(best.columns)
    assert best.crs == grid.crs
