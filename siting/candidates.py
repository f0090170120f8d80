"""Candidate sites: one row per candidate with the features behind its score.

Candidates are the available cells of the grid (:func:`cells_to_candidates`), supply-curve
points of N x N cells in NREL reV's convention (:func:`aggregate_blocks`), or any polygons:
user parcels, counties or a hexagon tessellation (:func:`aggregate_polygons`,
:func:`hexagons`). Every extraction walks the grid a band or window at a time, so only part of
the stack is in memory at once even when the stack is lazy.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Literal, NamedTuple, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer

from siting._graph import call, shared
from siting._typing import CRSLike
from siting.errors import CRSError, GridError, InvalidLayerError, NoFeasibleSitesError
from siting.grid import Grid, as_crs

__all__ = [
    "AGGREGATIONS",
    "aggregate_blocks",
    "aggregate_polygons",
    "best_candidates",
    "candidates_to_raster",
    "cells_to_candidates",
    "hexagons",
    "score_raster",
]

_TILE = 2048


def cells_to_candidates(
    stack: xr.Dataset,
    availability: xr.DataArray,
    *,
    columns: Sequence[str] | None = None,
    min_availability: float = 1.0,
) -> gpd.GeoDataFrame:
    """Every cell with ``availability >= min_availability`` as a candidate point.

    Parameters
    ----------
    stack
        The layer stack (and derived features) on one grid.
    availability
        Share available per cell, on the same grid.
    columns
        Stack layers to copy onto each candidate (default: all).
    min_availability
        Smallest availability a cell needs to become a candidate (0 < value <= 1).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell_id`` (row * width + col, stable across runs), ``row``, ``col``,
        ``x``, ``y`` (cell centre in the grid CRS), ``lon``, ``lat`` (WGS84),
        ``availability`` and the requested layers; point geometry in the grid CRS;
        sorted by ``cell_id``.

    Raises
    ------
    NoFeasibleSitesError
        If no cell qualifies.
    """
    grid = Grid.from_xarray(stack)
    if Grid.from_xarray(availability) != grid:
        raise ValueError("availability is not on the stack's grid; align it first")
    names = [str(n) for n in (stack.data_vars if columns is None else columns)]
    pieces: list[pd.DataFrame] = []
    for tile in grid.tiles(_TILE):
        arrays = [availability.variable, *(stack[name].variable for name in names)]
        # One compute per tile: the layers of a lazy stack share reads and intermediates.
        computed = xr.Dataset(dict(enumerate(arrays))).isel(y=tile.rows, x=tile.cols).compute()
        avail, *layers = (computed[i].values for i in range(len(arrays)))
        piece = _cell_table(
            avail, layers, names, tile.rows.start, tile.cols.start, grid.width, min_availability
        )
        if piece is not None:
            pieces.append(piece)
    if not pieces:
        raise _none_available(min_availability)
    return _with_locations(pd.concat(pieces, ignore_index=True), grid)


def _none_available(min_availability: float) -> NoFeasibleSitesError:
    return NoFeasibleSitesError(
        f"no cell has availability >= {min_availability}; lower ranking.min_availability "
        "or relax the exclusion rules."
    )


class _Best(NamedTuple):
    """The best rows found so far and how many candidate cells were seen."""

    table: pd.DataFrame | None
    n_candidates: int


def _keep_best(table: pd.DataFrame | None, n: int) -> pd.DataFrame | None:
    """The ``n`` rows of best finite ``score``, ties to the smaller ``cell_id``."""
    if table is None:
        return None
    scores = table["score"].to_numpy(dtype="float64")
    kept = _best_positions(scores, table["cell_id"].to_numpy(), n)
    if kept is not None:
        table = table.iloc[kept]
    return table.reset_index(drop=True)


def _best_positions(scores: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray | None:
    """Positions, in order, of the ``n`` best finite scores (ties to the smaller id); None
    when that is every position."""
    finite = np.isfinite(scores)
    positions = None if finite.all() else np.flatnonzero(finite)
    if positions is not None:
        scores, ids = scores[positions], ids[positions]
    if len(scores) > n:
        # Partition rather than sort: only the n-th best key and its ties need ordering.
        keys = -scores
        kth = np.partition(keys, n - 1)[n - 1]
        chosen = keys < kth
        ties = np.flatnonzero(keys == kth)
        room = n - int(np.count_nonzero(chosen))
        if len(ties) > room:
            ties = ties[np.argsort(ids[ties], kind="stable")[:room]]
        chosen[ties] = True
        # A mask gives the positions in order without sorting them.
        kept = np.flatnonzero(chosen)
        positions = kept if positions is None else positions[kept]
    return positions


def _best_in_tile(
    avail: np.ndarray,
    layers: Sequence[np.ndarray],
    *,
    names: Sequence[str],
    row0: int,
    col0: int,
    width: int,
    min_availability: float,
    score: Any,
    n: int,
) -> _Best:
    table = _cell_table(avail, layers, names, row0, col0, width, min_availability)
    if table is None:
        return _Best(None, 0)
    count = len(table)
    table["score"] = np.asarray(score(table), dtype="float64")
    return _Best(_keep_best(table, n), count)


def _merge_best(parts: Sequence[_Best], n: int) -> _Best:
    tables = [p.table for p in parts if p.table is not None and len(p.table)]
    count = sum(p.n_candidates for p in parts)
    if len(tables) < 2:
        return _Best(_keep_best(tables[0], n) if tables else None, count)
    # Chosen on the scores alone, then only the chosen rows are copied out of each part:
    # concatenating whole tables first would copy every column of twice as many rows.
    kept = _best_positions(
        np.concatenate([t["score"].to_numpy(dtype="float64") for t in tables]),
        np.concatenate([t["cell_id"].to_numpy() for t in tables]),
        n,
    )
    if kept is None:
        return _Best(pd.concat(tables, ignore_index=True), count)
    starts = np.cumsum([0, *(len(t) for t in tables)])
    cuts = np.searchsorted(kept, starts)
    pieces = [t.iloc[kept[cuts[k] : cuts[k + 1]] - starts[k]] for k, t in enumerate(tables)]
    return _Best(pd.concat(pieces, ignore_index=True), count)


def best_candidates(
    stack: xr.Dataset,
    availability: xr.DataArray,
    *,
    score: Any,
    n: int,
    columns: Sequence[str] | None = None,
    min_availability: float = 1.0,
) -> gpd.GeoDataFrame:
    """The ``n`` best-scoring rows of :func:`cells_to_candidates`, without building the rest.

    The candidate table of a continental grid has hundreds of millions of rows. Here each
    tile is turned into its candidate rows, scored and cut to its ``n`` best at once, and
    tiles are merged pairwise keeping the ``n`` best, so memory holds a few tables of ``n``
    rows whatever the grid size. On a lazy (dask) stack every tile and merge is a task of
    the active scheduler (threads, processes or a ``dask.distributed`` cluster).

    Ranking by :func:`~siting.ranking.select_top` then gives exactly what it gives on the
    whole table whenever it stops within these rows: the greedy selection takes rows in
    order of score (ties to the smaller ``cell_id``) and never looks past the last one it
    takes.

    Parameters
    ----------
    stack, availability, columns, min_availability
        As in :func:`cells_to_candidates`.
    score
        ``score(table) -> array``: one score per row of a candidate table (higher is
        better; NaN is never kept), for example a fitted ``WeightedOverlay().predict``.
        It must score each row on its own values only.
    n
        How many rows to keep.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :func:`cells_to_candidates` then ``score``, sorted by ``cell_id``;
        ``attrs["n_candidates"]`` is the number of cells that qualified.

    Raises
    ------
    NoFeasibleSitesError
        If no cell qualifies.

    Examples
    --------
    >>> from siting.testing import coordinate_image, small_grid
    >>> grid = small_grid(shape=(4, 5))
    >>> east = coordinate_image(grid)
    >>> stack = east.to_dataset(name="east")
    >>> best = best_candidates(stack, east * 0 + 1, score=lambda t: t["east"], n=2)
    >>> best["col"].tolist(), best.attrs["n_candidates"]
    ([4, 4], 20)
    """

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    grid = Grid.from_xarray(stack)
    if Grid.from_xarray(availability) != grid:
        raise ValueError("availability is not on the stack's grid; align it first")
    names = [str(name) for name in (stack.data_vars if columns is None else columns)]
    arrays = [availability.data, *(stack[name].data for name in names)]
    tile = partial(
        _best_in_tile,
        names=names,
        width=grid.width,
        min_availability=min_availability,
        score=score,
        n=n,
    )
    best = _reduce_over_tiles(arrays, grid, tile, partial(_merge_best, n=n))
    if best.n_candidates == 0:
        raise _none_available(min_availability)
    kept = best.table
    if kept is None:  # cells qualified, but none has a score: no rows, for the caller to say
        dtypes: dict[str, Any] = {"cell_id": np.int64, "row": np.int64, "col": np.int64}
        dtypes |= {"availability": availability.dtype}
        dtypes |= {name: stack[name].dtype for name in names} | {"score": np.float64}
        kept = pd.DataFrame({name: np.empty(0, dtype) for name, dtype in dtypes.items()})
    table = _with_locations(kept, grid)
    table = table[[*(c for c in table.columns if c != "score"), "score"]]  # as after .assign
    table.attrs["n_candidates"] = int(best.n_candidates)
    return table


def _is_lazy(array: Any) -> bool:
    return type(array).__module__.startswith("dask")


def _reduce_over_tiles(
    arrays: Sequence[Any],
    grid: Grid,
    per_tile: Callable[..., Any],
    merge: Callable[[list[Any]], Any],
) -> Any:
    """``merge`` of ``per_tile(first, others, row0=, col0=)`` over every tile of ``arrays``.

    ``first`` is the tile of ``arrays[0]``, ``others`` those of the rest. Tiles are the
    dask chunks of ``arrays[0]``, else bands of :data:`_TILE` cells. On lazy arrays each
    tile is a task of the active scheduler and the partial results merge in a tree of
    pairs, so few are alive at once, in one compute; in memory they fold tile by tile.
    """
    import dask

    lazy = any(_is_lazy(a) for a in arrays)
    chunks = getattr(arrays[0], "chunks", None) if lazy else None
    if chunks is not None:
        row_chunks, col_chunks = chunks
    else:
        row_chunks = tuple(t.rows.stop - t.rows.start for t in grid.tiles((_TILE, grid.width)))
        col_chunks = tuple(t.cols.stop - t.cols.start for t in grid.tiles((grid.height, _TILE)))
    blocks = _tile_blocks(arrays, (row_chunks, col_chunks)) if lazy else []
    # What the tile function holds (a scorer, names) goes to each worker once.
    tile_task = shared(per_tile) if lazy else None
    parts: list[Any] = []
    for i, (r0, r1) in enumerate(itertools.pairwise(np.cumsum((0, *row_chunks)))):
        for j, (c0, c1) in enumerate(itertools.pairwise(np.cumsum((0, *col_chunks)))):
            where = {"row0": int(r0), "col0": int(c0)}
            if lazy:
                first, *others = (tile[i, j] for tile in blocks)
                parts.append(dask.delayed(call, pure=False)(tile_task, first, others, **where))
            else:
                first, *others = (a[r0:r1, c0:c1] for a in arrays)
                parts = [merge([*parts, per_tile(first, others, **where)])]
    if not lazy:
        return parts[0] if parts else merge([])
    lazy_merge = dask.delayed(merge, pure=False)
    while len(parts) > 1:
        parts = [lazy_merge(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    (total,) = dask.compute(parts[0])
    return total


def _tile_blocks(arrays: Sequence[Any], chunks: tuple[tuple[int, ...], ...]) -> list[Any]:
    """Each array's blocks on ``chunks``, as an object array of ``dask.delayed``.

    The arrays are optimised as one graph, so the layers they share stay shared and chains
    of elementwise steps fuse; each block is then handed to its tile's task as it is. Slicing
    a tile out of each array would cost three small tasks per array and tile (slice,
    reassemble, finalise), each a round trip to the scheduler.
    """
    import dask
    import dask.array as da

    tiled = [
        a.rechunk(chunks) if _is_lazy(a) else da.from_array(np.asarray(a), chunks=chunks)
        for a in arrays
    ]
    return [a.to_delayed(optimize_graph=False) for a in dask.optimize(*tiled)]


def _cell_table(
    avail: np.ndarray,
    layers: Sequence[np.ndarray],
    names: Sequence[str],
    row0: int,
    col0: int,
    width: int,
    min_availability: float,
) -> pd.DataFrame | None:
    """The candidate rows of one tile (cells at or above ``min_availability``), or None."""
    avail = np.asarray(avail)
    keep = np.nan_to_num(avail, nan=0.0) >= min_availability
    if not keep.any():
        return None
    r, c = np.nonzero(keep)
    rows, cols = r + row0, c + col0
    piece = {"cell_id": rows.astype(np.int64) * width + cols, "row": rows, "col": cols}
    piece["availability"] = avail[r, c]
    for name, values in zip(names, layers, strict=True):
        piece[name] = np.asarray(values)[r, c]
    # The columns are new arrays: kept as they are, not copied into one block per dtype.
    return pd.DataFrame(piece, copy=False)


def _with_locations(table: pd.DataFrame, grid: Grid) -> gpd.GeoDataFrame:
    """Sorted by ``cell_id``, with cell centres in the grid CRS and in WGS84, as points."""
    # A stable sort is quickest here: merged tiles come as a few runs already in order.
    order = np.argsort(table["cell_id"].to_numpy(), kind="stable")
    table = table.take(order).reset_index(drop=True)
    xs, ys = grid.xy(table["row"].to_numpy(), table["col"].to_numpy())
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    table.insert(3, "x", xs)
    table.insert(4, "y", ys)
    table.insert(5, "lon", lon)
    table.insert(6, "lat", lat)
    with _gc_paused():
        points = gpd.points_from_xy(xs, ys)
    return gpd.GeoDataFrame(table, geometry=points, crs=grid.crs)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection within: a million new points (each tracked by the
    collector) would otherwise set off collections of the whole heap again and again, which
    triples the time to make them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def candidates_to_raster(
    candidates: pd.DataFrame,
    grid: Grid,
    column: str = "score",
    *,
    fill_value: float = np.nan,
    dtype: Any = "float32",
) -> xr.DataArray:
    """A per-cell candidate column back on the grid: the inverse of :func:`cells_to_candidates`.

    Cells that are not candidates (excluded, or below the minimum availability) get
    ``fill_value``. The result is georeferenced for rioxarray, ready for a map overlay or a
    Cloud-Optimized GeoTIFF.

    Examples
    --------
    >>> from siting.testing import coordinate_image, small_grid
    >>> grid = small_grid(shape=(2, 3))
    >>> east = coordinate_image(grid)
    >>> avail = (east > east.min()).astype("float32")   # the first column is excluded
    >>> cells = cells_to_candidates(east.to_dataset(name="east"), avail)
    >>> raster = candidates_to_raster(cells, grid, "east")
    >>> raster.isnull().values.tolist()
    [[True, False, False], [True, False, False]]
    >>> bool((raster == east).sum() == len(cells))
    True
    """
    if column not in candidates.columns:
        raise KeyError(
            f"candidates have no column {column!r}; columns: {list(candidates.columns)}"
        )
    if "cell_id" not in candidates.columns:
        raise ValueError(
            "candidates have no 'cell_id' column; only cell candidates from "
            "cells_to_candidates() can be put back on the grid"
        )
    cell_id = candidates["cell_id"].to_numpy(np.int64)
    if cell_id.size and (cell_id.min() < 0 or cell_id.max() >= grid.size):
        raise GridError(
            f"candidate cell ids run to {int(cell_id.max())} but the grid has {grid.size} cells; "
            "pass the grid the candidates were taken from"
        )
    values = np.full(grid.size, fill_value, dtype=dtype)
    values[cell_id] = candidates[column].to_numpy(dtype=dtype, na_value=fill_value)
    array = grid.to_xarray(name=column, dtype=dtype, fill_value=fill_value)
    array.values[...] = values.reshape(grid.shape)
    return array


def score_raster(
    stack: xr.Dataset,
    availability: xr.DataArray,
    score: Any,
    *,
    columns: Sequence[str] | None = None,
    min_availability: float = 1.0,
    name: str = "score",
) -> xr.DataArray:
    """Every candidate cell scored on the grid, tile by tile, without the candidate table.

    The raster :func:`candidates_to_raster` gives for the scored table of
    :func:`cells_to_candidates`, for when that table is too large to hold (a chunked run
    keeps only the best candidates). On a lazy (dask) stack the result is lazy, one task per
    chunk; cells below ``min_availability`` are NaN.

    Parameters
    ----------
    stack, availability, columns, min_availability
        As in :func:`cells_to_candidates`.
    score
        ``score(table) -> array``: one score per row, from the row's own values only (as
        for :func:`best_candidates`).
    name
        The raster's name.

    Examples
    --------
    >>> from siting.testing import coordinate_image, small_grid
    >>> grid = small_grid(shape=(2, 3))
    >>> east = coordinate_image(grid)
    >>> avail = (east > east.min()).astype("float32")
    >>> scored = score_raster(east.to_dataset(name="east"), avail, lambda t: t["east"] * 2)
    >>> bool((scored == 2 * east).sum() == 4), bool(scored[:, 0].isnull().all())
    (True, True)
    """
    grid = Grid.from_xarray(stack)
    if Grid.from_xarray(availability) != grid:
        raise ValueError("availability is not on the stack's grid; align it first")
    names = [str(n) for n in (stack.data_vars if columns is None else columns)]

    def block(score: Any, avail: np.ndarray, *layers: np.ndarray) -> np.ndarray:
        out = np.full(avail.shape, np.nan, dtype="float32")
        table = _cell_table(avail, layers, names, 0, 0, avail.shape[1], min_availability)
        if table is not None:
            values = np.asarray(score(table), dtype="float32")
            out[table["row"].to_numpy(), table["col"].to_numpy()] = values
        return out

    arrays = [availability.data, *(stack[n].data for n in names)]
    if any(_is_lazy(a) for a in arrays):
        import dask.array as da

        # map_blocks pairs blocks by position: give every array the same chunks.
        chunks = next(a.chunks for a in arrays if _is_lazy(a))
        aligned = [da.asarray(a).rechunk(chunks) for a in arrays]
        # The scorer goes to each worker once, not with every tile.
        data: Any = da.map_blocks(
            block, shared(score), *aligned, dtype="float32", meta=np.array((), "float32")
        )
    else:
        data = block(score, *map(np.asarray, arrays))
    array = xr.DataArray(data, coords=grid.coords(), dims=("y", "x"), name=name)
    return grid.georeference(array)


# -- aggregation to analysis cells -------------------------------------------------------------

#: Statistics :func:`aggregate_blocks` and :func:`aggregate_polygons` compute per layer.
AGGREGATIONS: tuple[str, ...] = ("mean", "min", "max", "mode", "sum", "area_by_category")

# Cells of one band of whole blocks read at a time (bounds memory on lazy stacks).
_BAND_CELLS = 4 * 2**20

StatsSpec: TypeAlias = Mapping[str, str | Sequence[str]]


def _parse_stats(stats: StatsSpec | None, stack: xr.Dataset | None) -> list[tuple[str, str]]:
    """``{layer: stat or [stats]}`` -> ordered unique ``(layer, stat)`` pairs, validated."""
    if not stats:
        return []
    if stack is None:
        raise InvalidLayerError(
            f"stats={dict(stats)!r} name layers, but no stack was given; pass the stack "
            "holding those layers (built with siting.layers.build_stack)."
        )
    pairs: list[tuple[str, str]] = []
    for layer, wanted in stats.items():
        if layer not in stack:
            raise InvalidLayerError(
                f"stats names layer {layer!r}, which is not in the stack; layers present: "
                f"{sorted(map(str, stack.data_vars))}."
            )
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        if not names:
            raise InvalidLayerError(
                f"stats for layer {layer!r} is empty; give one of {AGGREGATIONS}"
            )
        for name in names:
            if name not in AGGREGATIONS:
                raise InvalidLayerError(
                    f"unknown statistic {name!r} for layer {layer!r}; use one of {AGGREGATIONS}."
                )
            if (layer, name) not in pairs:
                pairs.append((str(layer), name))
    return pairs


def _grid_and_check(availability: xr.DataArray, stack: xr.Dataset | None) -> Grid:
    grid = Grid.from_xarray(availability)
    if availability.dims != ("y", "x"):
        raise GridError(f"availability has dims {availability.dims}; expected ('y', 'x').")
    if stack is not None and Grid.from_xarray(stack) != grid:
        raise GridError(
            f"availability is on {grid!r} but the stack is on {Grid.from_xarray(stack)!r}; "
            "compute availability from the same stack (siting.constraints.availability)."
        )
    return grid


def _category_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _group_stats(
    group: np.ndarray,
    weight: np.ndarray,
    values: np.ndarray,
    n_groups: int,
    stat: str,
) -> np.ndarray | dict[float, np.ndarray]:
    """One statistic of ``values`` per group, over the entries with ``weight > 0``.

    ``group`` (int), ``weight`` (availability share, or coverage x availability) and
    ``values`` (float, NaN = nodata) are flat arrays of the same length. Returns an array of
    ``n_groups`` (NaN where a group has no valid entry), or, for ``area_by_category``, a dict
    ``value -> summed weight per group``.
    """
    keep = (weight > 0) & np.isfinite(values)
    g, w, v = group[keep], weight[keep], values[keep]
    if stat == "mean":
        total = np.bincount(g, weights=w, minlength=n_groups)
        weighted = np.bincount(g, weights=w * v, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, weighted / total, np.nan)
    if stat == "sum":
        counts = np.bincount(g, minlength=n_groups)
        sums = np.bincount(g, weights=w * v, minlength=n_groups)
        return np.where(counts > 0, sums, np.nan)
    if stat in ("min", "max"):
        out = np.full(n_groups, np.inf if stat == "min" else -np.inf)
        (np.minimum if stat == "min" else np.maximum).at(out, g, v)
        return np.where(np.isfinite(out), out, np.nan)
    # mode and area_by_category: runs of equal (group, value) after sorting
    order = np.lexsort((v, g))
    g, w, v = g[order], w[order], v[order]
    if g.size == 0:
        return {} if stat == "area_by_category" else np.full(n_groups, np.nan)
    change = np.empty(g.size, dtype=bool)
    change[0] = True
    change[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    starts = np.flatnonzero(change)
    run_group, run_value = g[starts], v[starts]
    if stat == "area_by_category":
        run_weight = np.add.reduceat(w, starts)
        categories, code = np.unique(run_value, return_inverse=True)
        table = np.zeros((categories.size, n_groups))
        np.add.at(table, (code, run_group), run_weight)
        return {float(c): table[i] for i, c in enumerate(categories)}
    # mode: most cells (unweighted, as reV); ties go to the smallest value
    counts = np.diff(np.append(starts, g.size))
    best = np.lexsort((run_value, -counts, run_group))
    first = np.ones(best.size, dtype=bool)
    first[1:] = run_group[best][1:] != run_group[best][:-1]
    out = np.full(n_groups, np.nan)
    out[run_group[best][first]] = run_value[best][first]
    return out


def _add_stat_columns(
    columns: dict[str, Any],
    pairs: Sequence[tuple[str, str]],
    results: Mapping[tuple[str, str], Any],
    cell_km2: float,
    n: int,
) -> None:
    for layer, stat in pairs:
        value = results[(layer, stat)]
        if stat == "area_by_category":
            for category in sorted(value):
                label = f"{layer}_{_category_label(category)}_km2"
                columns[label] = np.asarray(value[category]) * cell_km2
        else:
            columns[f"{layer}_{stat}"] = value if value is not None else np.full(n, np.nan)


def _merge_categories(
    parts: Sequence[dict[float, np.ndarray]], sizes: Sequence[int]
) -> dict[float, np.ndarray]:
    categories = sorted({c for part in parts for c in part})
    merged = {}
    for c in categories:
        merged[c] = np.concatenate(
            [part.get(c, np.zeros(size)) for part, size in zip(parts, sizes, strict=True)]
        )
    return merged


def _block_centres_lonlat(
    grid: Grid, x: np.ndarray, y: np.ndarray, nx: np.ndarray, ny: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean longitude and latitude of the cell centres of each block (as reV's SC points).

    Longitude and latitude are smooth over a block, so the mean over its regular lattice
    of cell centres is computed exactly up to fourth-order terms from five transformed
    points: the centre and the outermost centres along each axis (the exact lattice mean of
    the quadratic through them). On reV's 5.76 km blocks the remaining error is < 1e-9 deg.
    """
    xres, yres = grid.resolution
    hx, hy = xres * (nx - 1) / 2.0, yres * (ny - 1) / 2.0
    px = np.concatenate([x, x - hx, x + hx, x, x])
    py = np.concatenate([y, y, y, y - hy, y + hy])
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(px, py)
    n = x.size
    results = []
    for f in (np.asarray(lon), np.asarray(lat)):
        f0, fxm, fxp, fym, fyp = (f[i * n : (i + 1) * n] for i in range(5))
        # lattice mean of a quadratic: f0 + f_xx Var(x)/2 + f_yy Var(y)/2
        cx = np.where(nx > 1, (nx + 1) / (3.0 * np.maximum(nx - 1, 1)), 0.0)
        cy = np.where(ny > 1, (ny + 1) / (3.0 * np.maximum(ny - 1, 1)), 0.0)
        results.append(f0 + (fxp - 2 * f0 + fxm) / 2 * cx + (fyp - 2 * f0 + fym) / 2 * cy)
    return results[0], results[1]


def _band_arrays(
    availability: xr.DataArray, stack: xr.Dataset | None, layers: Sequence[str], rows: slice
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Availability and layers of a band of rows, computed together (one dask graph)."""
    arrays = {"__availability__": availability.variable}
    for name in layers:
        assert stack is not None
        arrays[name] = stack[name].variable
    band = xr.Dataset(arrays).isel(y=rows).compute()
    avail = np.nan_to_num(np.asarray(band["__availability__"].values, dtype="float64"), nan=0.0)
    return avail, {n: np.asarray(band[n].values, dtype="float64") for n in layers}


def _to_blocks(array: np.ndarray, block: int, nbx: int, fill: float) -> np.ndarray:
    """``(rows, cols)`` -> ``(nby * nbx, block * block)``, padding partial edge blocks."""
    rows, cols = array.shape
    nby = -(-rows // block)
    padded = np.full((nby * block, nbx * block), fill, dtype="float64")
    padded[:rows, :cols] = array
    return padded.reshape(nby, block, nbx, block).transpose(0, 2, 1, 3).reshape(nby * nbx, -1)


def aggregate_blocks(
    availability: xr.DataArray,
    stack: xr.Dataset | None = None,
    *,
    block: int,
    stats: StatsSpec | None = None,
    power_density_mw_km2: float | None = None,
    drop_empty: bool = True,
) -> gpd.GeoDataFrame:
    """Aggregate availability and layers to supply-curve points: blocks of N x N cells.

    This is NREL reV's supply-curve aggregation: the grid is cut into ``block`` x ``block``
    cell blocks from its top-left corner; blocks at the right and bottom edges may be partial.
    Points are numbered row-major (``sc_point_gid = sc_row_ind * n_block_cols +
    sc_col_ind``). The grid is read one band of whole block rows at a time, so a lazy (dask)
    stack is never computed whole.

    Parameters
    ----------
    availability
        Share of each cell available (0..1; NaN counts as 0), on the stack's grid.
    stack
        Layers to aggregate (needed when ``stats`` is given).
    block
        Side of a block in cells (reV's ``resolution``, 64 for its 5.76 km points at 90 m).
    stats
        ``{layer: stat or [stats]}`` with stats from :data:`AGGREGATIONS`, computed over the
        cells with availability > 0 and a value (NaN is nodata):

        - ``mean``: availability-weighted mean, ``sum(a * v) / sum(a)``. With 0/1
          availability this equals reV's data-layer mean; with fractional availability reV
          computes ``sum(a * v) / n`` (its ``np.mean(data * incl_mult)``), which is not a mean
          of the values, so this function deliberately differs there;
        - ``min``, ``max``: of the values;
        - ``sum``: ``sum(a * v)``, an availability-weighted total (reV's ``sum``);
        - ``mode``: the most frequent value, counting cells (not weighted), ties to the
          smallest value (as reV's ``pd.Series.mode().values[0]`` / ``scipy.stats.mode``);
        - ``area_by_category``: available area per value, ``<layer>_<value>_km2`` columns
          (reV's ``category`` as columns instead of a JSON string), 0 where absent.

        Columns are named ``<layer>_<stat>``.
    power_density_mw_km2
        If given, adds ``capacity_mw = area_km2 * power_density_mw_km2``.
    drop_empty
        Drop points with no available area (default, as reV, which skips them as
        ``EmptySupplyCurvePointError``). With False every block is returned, area 0, NaN stats.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per point: ``sc_point_gid``, ``sc_row_ind``, ``sc_col_ind``, ``n_cells``
        (cells in the block), ``n_available`` (cells with availability > 0), ``area_km2``
        (sum of availability x cell area), ``capacity_mw`` (with a power density), ``x``,
        ``y`` (block centre, grid CRS), ``lon``, ``lat`` (mean WGS84 coordinates of the
        block's cell centres, as reV's SC point latitude/longitude), the statistics, and the
        block polygon as geometry in the grid CRS.

    Raises
    ------
    GridError
        If ``block`` is not a positive integer or the stack is on another grid.
    InvalidLayerError
        If ``stats`` names a missing layer or an unknown statistic, or has no stack.
    CRSError
        If the grid's CRS is geographic (cell areas need metres).

    Examples
    --------
    >>> import numpy as np
    >>> from siting.layers import build_stack
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(3, 3), resolution=1000)
    >>> avail = grid.to_xarray(fill_value=1.0)
    >>> avail[0, 0] = 0.5
    >>> slope = grid.to_xarray(fill_value=2.0)
    >>> slope[0, 0] = 8.0
    >>> points = aggregate_blocks(avail, build_stack({"slope": slope}), block=2,
    ...                           stats={"slope": ["mean", "max"]})
    >>> points[["sc_point_gid", "n_cells", "area_km2"]].values.tolist()
    [[0.0, 4.0, 3.5], [1.0, 2.0, 2.0], [2.0, 2.0, 2.0], [3.0, 1.0, 1.0]]
    >>> points[["slope_mean", "slope_max"]].round(4).values.tolist()
    [[2.8571, 8.0], [2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]
    """
    import shapely

    grid = _grid_and_check(availability, stack)
    if isinstance(block, bool) or not isinstance(block, int | np.integer) or block < 1:
        raise GridError(f"block must be a positive whole number of cells, got {block!r}")
    block = int(block)
    pairs = _parse_stats(stats, stack)
    layers = list(dict.fromkeys(layer for layer, _ in pairs))
    cell_km2 = grid.cell_area_m2 / 1e6
    height, width = grid.shape
    nby, nbx = -(-height // block), -(-width // block)
    band_block_rows = max(1, _BAND_CELLS // (block * block * nbx))

    pieces: dict[str, list[np.ndarray]] = {"area": [], "n_available": []}
    stat_parts: dict[tuple[str, str], list[Any]] = {pair: [] for pair in pairs}
    sizes: list[int] = []
    for b0 in range(0, nby, band_block_rows):
        b1 = min(nby, b0 + band_block_rows)
        rows = slice(b0 * block, min(height, b1 * block))
        avail, data = _band_arrays(availability, stack, layers, rows)
        a = _to_blocks(avail, block, nbx, 0.0)
        n = a.shape[0]
        sizes.append(n)
        pieces["area"].append(a.sum(axis=1) * cell_km2)
        pieces["n_available"].append((a > 0).sum(axis=1))
        group = np.repeat(np.arange(n), a.shape[1])
        flat_a = a.ravel()
        for layer, stat in pairs:
            values = _to_blocks(data[layer], block, nbx, np.nan).ravel()
            stat_parts[(layer, stat)].append(_group_stats(group, flat_a, values, n, stat))

    row_ind, col_ind = np.divmod(np.arange(nby * nbx), nbx)
    ny = np.minimum(block, height - row_ind * block)
    nx = np.minimum(block, width - col_ind * block)
    t = grid.transform
    left = t.c + col_ind * block * t.a
    right = left + nx * t.a
    top = t.f + row_ind * block * t.e
    bottom = top + ny * t.e
    x, y = (left + right) / 2, (top + bottom) / 2
    lon, lat = _block_centres_lonlat(grid, x, y, nx, ny)
    area = np.concatenate(pieces["area"])
    columns: dict[str, Any] = {
        "sc_point_gid": np.arange(nby * nbx),
        "sc_row_ind": row_ind,
        "sc_col_ind": col_ind,
        "n_cells": nx * ny,
        "n_available": np.concatenate(pieces["n_available"]),
        "area_km2": area,
    }
    if power_density_mw_km2 is not None:
        columns["capacity_mw"] = area * float(power_density_mw_km2)
    columns.update({"x": x, "y": y, "lon": lon, "lat": lat})
    results: dict[tuple[str, str], Any] = {}
    for pair, parts in stat_parts.items():
        results[pair] = (
            _merge_categories(parts, sizes)
            if pair[1] == "area_by_category"
            else np.concatenate(parts)
        )
    _add_stat_columns(columns, pairs, results, cell_km2, nby * nbx)
    table = gpd.GeoDataFrame(
        pd.DataFrame(columns),
        geometry=shapely.box(left, bottom, right, top),
        crs=grid.crs,
    )
    if drop_empty:
        table = table[table["area_km2"] > 0].reset_index(drop=True)
    return table


def _polygons_in_grid_crs(polygons: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid) -> gpd.GeoSeries:
    if not isinstance(polygons, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InvalidLayerError(
            f"polygons must be a GeoDataFrame or GeoSeries, got {type(polygons).__name__}"
        )
    if polygons.crs is None:
        raise CRSError(
            "the polygons have no CRS. Set the CRS they are in with "
            ".set_crs('EPSG:4326') (or whatever it really is); a CRS is never guessed."
        )
    series = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    return series.to_crs(grid.crs)


def aggregate_polygons(
    availability: xr.DataArray,
    polygons: gpd.GeoDataFrame,
    stack: xr.Dataset | None = None,
    *,
    stats: StatsSpec | None = None,
    power_density_mw_km2: float | None = None,
    id_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Aggregate availability and layers to polygons (parcels, counties, hexagons).

    Each cell counts with weight ``coverage x availability``, where ``coverage`` is the
    exact fraction of the cell inside the polygon (computed by ``exactextract``), so the
    statistics are those of :func:`aggregate_blocks` with that weight: a polygon that is
    exactly a block gives exactly the block's numbers. Polygons are processed in groups
    whose bounding window of the grid has a bounded number of cells, so a lazy stack is read
    window by window.

    Parameters
    ----------
    availability
        Share of each cell available (0..1; NaN counts as 0).
    polygons
        GeoDataFrame (or GeoSeries) of polygons with a CRS; reprojected to the grid's CRS.
    stack
        Layers to aggregate (needed when ``stats`` is given), on the availability's grid.
    stats
        As in :func:`aggregate_blocks`; a cell is used when its weight is > 0.
    power_density_mw_km2
        If given, adds ``capacity_mw``.
    id_column
        Column of unique polygon ids to check and put first (kept verbatim: escaping for
        HTML is the maps' job).

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons' columns and geometry (in their own CRS), in their order, plus
        ``n_cells`` (cells touched), ``n_available`` (cells with weight > 0), ``area_km2``
        (sum of coverage x availability x cell area), ``capacity_mw`` and the statistics.
        A polygon outside the grid gets area 0 and NaN statistics.

    Raises
    ------
    CRSError
        If the polygons have no CRS, or the grid's CRS is geographic.
    InvalidLayerError
        If ``id_column`` is missing or not unique, a result column would overwrite a column
        of the polygons, or ``stats`` is invalid.
    GridError
        If the stack is on another grid.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(2, 2), resolution=1000, origin=(0, 2000))
    >>> avail = grid.to_xarray(fill_value=1.0)
    >>> parcel = gpd.GeoDataFrame({"name": ["<b>lot 1</b>"]},
    ...                           geometry=[box(500, 0, 2000, 2000)], crs=grid.crs)
    >>> aggregate_polygons(avail, parcel, id_column="name")[["name", "area_km2"]].values.tolist()
    [['<b>lot 1</b>', 3.0]]
    """
    import shapely
    from exactextract import exact_extract  # type: ignore[import-untyped]
    from exactextract.raster import NumPyRasterSource  # type: ignore[import-untyped]

    grid = _grid_and_check(availability, stack)
    pairs = _parse_stats(stats, stack)
    layers = list(dict.fromkeys(layer for layer, _ in pairs))
    cell_km2 = grid.cell_area_m2 / 1e6
    frame = (
        polygons if isinstance(polygons, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=polygons)
    )
    if id_column is not None:
        if id_column not in frame.columns:
            raise InvalidLayerError(
                f"id_column {id_column!r} is not a column of the polygons; columns: "
                f"{[str(c) for c in frame.columns]}"
            )
        if not frame[id_column].is_unique:
            dupes = frame[id_column][frame[id_column].duplicated()].unique()[:5].tolist()
            raise InvalidLayerError(f"id_column {id_column!r} has repeated ids, e.g. {dupes}")
    geoms = _polygons_in_grid_crs(polygons, grid)
    n = len(geoms)

    weight_sum = np.zeros(n)
    n_cells = np.zeros(n, dtype=np.int64)
    n_available = np.zeros(n, dtype=np.int64)
    results: dict[tuple[str, str], Any] = {
        pair: ({} if pair[1] == "area_by_category" else np.full(n, np.nan)) for pair in pairs
    }

    # window (row0, row1, col0, col1) of each polygon on the grid, clipped
    valid = ~(geoms.isna() | geoms.is_empty).to_numpy()
    valid &= np.isin(shapely.get_type_id(geoms.to_numpy()), (3, 6))  # Polygon, MultiPolygon
    bounds = np.asarray(geoms.bounds, dtype="float64")
    t = grid.transform
    col0 = np.floor((bounds[:, 0] - t.c) / t.a)
    col1 = np.ceil((bounds[:, 2] - t.c) / t.a)
    row0 = np.floor((bounds[:, 3] - t.f) / t.e)
    row1 = np.ceil((bounds[:, 1] - t.f) / t.e)
    col0, row0 = np.clip(col0, 0, grid.width), np.clip(row0, 0, grid.height)
    col1, row1 = np.clip(col1, 0, grid.width), np.clip(row1, 0, grid.height)
    valid &= (col1 > col0) & (row1 > row0) & np.isfinite(bounds).all(axis=1)
    order = [i for i in np.argsort(row0, kind="stable") if valid[i]]

    groups: list[list[int]] = []
    window = None
    for i in order:
        box_i = (row0[i], row1[i], col0[i], col1[i])
        if window is not None:
            merged = (
                min(window[0], box_i[0]),
                max(window[1], box_i[1]),
                min(window[2], box_i[2]),
                max(window[3], box_i[3]),
            )
            if (merged[1] - merged[0]) * (merged[3] - merged[2]) <= _BAND_CELLS:
                groups[-1].append(i)
                window = merged
                continue
        groups.append([i])
        window = box_i

    for members in groups:
        r0, r1 = int(row0[members].min()), int(row1[members].max())
        c0, c1 = int(col0[members].min()), int(col1[members].max())
        sub = grid.window(slice(r0, r1), slice(c0, c1))
        avail, data = _band_arrays(
            availability.isel(x=slice(c0, c1)),
            None if stack is None else stack.isel(x=slice(c0, c1)),
            layers,
            slice(r0, r1),
        )
        raster = NumPyRasterSource(
            np.broadcast_to(np.float64(0.0), sub.shape), *sub.bounds, srs_wkt=grid.crs.to_wkt()
        )
        zones = gpd.GeoDataFrame(geometry=geoms.iloc[members].to_numpy(), crs=grid.crs)
        extracted = exact_extract(raster, zones, ["cell_id", "coverage"], output="pandas")
        ids = [np.asarray(v, dtype=np.int64) for v in extracted["cell_id"]]
        cover = [np.minimum(np.asarray(v, dtype="float64"), 1.0) for v in extracted["coverage"]]
        sizes = np.array([v.size for v in ids])
        local = np.repeat(np.arange(len(members)), sizes)
        flat_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        w = (np.concatenate(cover) if cover else np.zeros(0)) * avail.ravel()[flat_ids]
        target = np.asarray(members)
        n_cells[target] = sizes
        n_available[target] = np.bincount(local[w > 0], minlength=len(members))
        weight_sum[target] = np.bincount(local, weights=w, minlength=len(members))
        for layer, stat in pairs:
            out = _group_stats(local, w, data[layer].ravel()[flat_ids], len(members), stat)
            if isinstance(out, dict):
                table = results[(layer, stat)]
                for category, per_member in out.items():
                    table.setdefault(category, np.zeros(n))[target] = per_member
            else:
                results[(layer, stat)][target] = out

    area = weight_sum * cell_km2
    columns: dict[str, Any] = {"n_cells": n_cells, "n_available": n_available, "area_km2": area}
    if power_density_mw_km2 is not None:
        columns["capacity_mw"] = area * float(power_density_mw_km2)
    _add_stat_columns(columns, pairs, results, cell_km2, n)
    clash = [c for c in columns if c in frame.columns]
    if clash:
        raise InvalidLayerError(
            f"the polygons already have column(s) {clash}, which the aggregation writes; "
            "rename or drop them first."
        )
    added = pd.DataFrame(columns, index=frame.index)
    result = pd.concat([frame, added], axis=1)
    if id_column is not None:
        result = result[[id_column, *[c for c in result.columns if c != id_column]]]
    return gpd.GeoDataFrame(result, geometry=frame.geometry.name, crs=frame.crs)


def hexagons(
    region_or_grid: gpd.GeoDataFrame | gpd.GeoSeries | Grid,
    *,
    size_km: float | None = None,
    area_km2: float | None = None,
    crs: CRSLike | None = None,
    orientation: Literal["pointy", "flat"] = "pointy",
) -> gpd.GeoDataFrame:
    """Regular hexagons tessellating a region, in a projected CRS.

    The hexagons sit on a fixed lattice anchored at the CRS origin, so a hexagon's
    ``hex_id`` (from its lattice row and column) is the same whatever region it was made
    for. Every full hexagon that intersects the region is returned (not clipped), so the
    hexagons cover the region without gaps or overlaps and each has area exactly
    ``3 * sqrt(3) / 2 * side**2``.

    Parameters
    ----------
    region_or_grid
        A GeoDataFrame/GeoSeries with a CRS (its union is the region), or a
        :class:`~siting.grid.Grid` (its bounds are the region).
    size_km
        Side length of a hexagon (= centre-to-corner distance), in km.
    area_km2
        Area of a hexagon, in km²; give exactly one of ``size_km`` and ``area_km2``.
    crs
        Projected CRS to build the hexagons in (default: the region's, which must then be
        projected).
    orientation
        ``"pointy"`` (a corner at the top, rows of hexagons) or ``"flat"`` (an edge at the
        top, columns of hexagons).

    Returns
    -------
    geopandas.GeoDataFrame
        ``hex_id`` (``"r<row>_c<col>"``), ``hex_row``, ``hex_col``, ``hex_area_km2``, hexagon
        geometry; ordered north to south, then west to east.

    Raises
    ------
    CRSError
        If the region has no CRS, or the CRS is geographic (give a projected ``crs=``).
    GridError
        If not exactly one of ``size_km`` and ``area_km2`` is a positive number, or the
        region is empty.

    Examples
    --------
    >>> from siting.testing import small_grid
    >>> cells = hexagons(small_grid(shape=(10, 10), resolution=1000), area_km2=5.0)
    >>> round(float(cells["hex_area_km2"].iloc[0]), 9), cells["hex_id"].is_unique
    (5.0, True)
    """
    import shapely

    if (size_km is None) == (area_km2 is None):
        raise GridError(
            f"give exactly one of size_km (side length) and area_km2, got size_km={size_km!r}, "
            f"area_km2={area_km2!r}"
        )
    given = size_km if size_km is not None else area_km2
    if isinstance(given, bool) or not isinstance(given, int | float) or not 0 < given < math.inf:
        raise GridError(f"hexagon size must be a positive number, got {given!r}")
    if orientation not in ("pointy", "flat"):
        raise GridError(f"orientation={orientation!r}; use 'pointy' or 'flat'")

    if isinstance(region_or_grid, Grid):
        region = gpd.GeoSeries([shapely.box(*region_or_grid.bounds)], crs=region_or_grid.crs)
    elif isinstance(region_or_grid, gpd.GeoDataFrame | gpd.GeoSeries):
        if region_or_grid.crs is None:
            raise CRSError(
                "the region has no CRS. Set the CRS it is in with .set_crs('EPSG:4326') "
                "(or whatever it really is); a CRS is never guessed."
            )
        region = (
            region_or_grid.geometry
            if isinstance(region_or_grid, gpd.GeoDataFrame)
            else region_or_grid
        )
    else:
        raise GridError(
            f"region_or_grid must be a GeoDataFrame, GeoSeries or Grid, got "
            f"{type(region_or_grid).__name__}"
        )
    target = as_crs(crs, what="hexagons crs") if crs is not None else region.crs
    if not target.is_projected:
        raise CRSError(
            f"hexagons need a projected CRS in metres, but {target.to_string()!r} is "
            "geographic (degrees). Pass crs= a projected CRS, for example crs='EPSG:5070' "
            "(US equal-area)."
        )
    region = region.to_crs(target)
    region = region[~(region.isna() | region.is_empty)]
    if region.empty:
        raise GridError("the region is empty; give a region with a non-zero area")
    unit_m = float(target.axis_info[0].unit_conversion_factor)
    side_km = float(given) if size_km is not None else math.sqrt(2 * given / (3 * math.sqrt(3)))
    s = side_km * 1000.0 / unit_m

    # lattice: pointy rows are 1.5 s apart, centres sqrt(3) s apart, odd rows shifted half
    step_major, step_minor = 1.5 * s, math.sqrt(3) * s
    left, bottom, right, top = region.total_bounds
    if orientation == "pointy":
        lo_a, hi_a, lo_b, hi_b = bottom, top, left, right  # a: rows along y, b: along x
    else:
        lo_a, hi_a, lo_b, hi_b = left, right, bottom, top  # a: columns along x, b: along y
    a_idx = np.arange(math.floor(lo_a / step_major) - 1, math.ceil(hi_a / step_major) + 2)
    b_idx = np.arange(math.floor(lo_b / step_minor) - 1, math.ceil(hi_b / step_minor) + 2)
    ia, ib = (m.ravel() for m in np.meshgrid(a_idx, b_idx, indexing="ij"))
    ca = ia * step_major
    cb = (ib + 0.5 * (ia % 2)) * step_minor
    angles = np.deg2rad(np.arange(6) * 60.0 + (30.0 if orientation == "pointy" else 0.0))
    if orientation == "pointy":
        cx, cy, hex_row, hex_col = cb, ca, ia, ib
    else:
        cx, cy, hex_row, hex_col = ca, cb, ib, ia
    ring = np.stack([cx[:, None] + s * np.cos(angles), cy[:, None] + s * np.sin(angles)], axis=-1)
    cells = np.asarray(shapely.polygons(ring))
    union = shapely.union_all(region.to_numpy())
    shapely.prepare(union)
    hit = shapely.intersects(union, cells) & ~shapely.touches(union, cells)
    order = np.lexsort((hex_col[hit], -hex_row[hit]))
    rows_, cols_ = hex_row[hit][order], hex_col[hit][order]
    area = 3 * math.sqrt(3) / 2 * s * s * unit_m * unit_m / 1e6
    return gpd.GeoDataFrame(
        {
            "hex_id": [f"r{r}_c{c}" for r, c in zip(rows_.tolist(), cols_.tolist(), strict=True)],
            "hex_row": rows_,
            "hex_col": cols_,
            "hex_area_km2": np.full(rows_.size, area),
        },
        geometry=cells[hit][order],
        crs=target,
    )
