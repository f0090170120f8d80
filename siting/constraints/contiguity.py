"""Minimum contiguous area: drop patches of available land that are too small, tile by tile.

Exclusion engines (NREL reV, GLAES) label the connected patches of ``availability > 0``
with rook (4-neighbour) or queen (8-neighbour) adjacency and exclude every patch smaller
than a minimum area. Like reV, a patch survives when its number of *cells* is at least
``ceil(min_area_km2 / cell_area_km2)`` (partial availability does not shrink a patch).

In-memory arrays are labelled whole with :func:`scipy.ndimage.label`. Chunked (dask)
arrays are labelled in two passes so that no more than a few chunks are ever in memory:

1. each chunk is labelled on its own; only the labels along its four edges and the cell
   counts of the labels that touch an edge are kept. Labels of neighbouring chunks that
   touch across a chunk border (facing cells; for queen also diagonal neighbours and
   chunk corners) are merged with a union-find (connected components of a sparse graph),
   giving the size of every patch that crosses a chunk border;
2. lazily, chunk by chunk, each chunk is labelled again (the same labels as in pass 1),
   patches inside the chunk are measured locally and patches crossing a border look up
   their merged size.

The result is exactly what :func:`scipy.ndimage.label` on the whole array gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from numbers import Real
from typing import Any, Literal, NamedTuple

import numpy as np
import xarray as xr
from scipy import ndimage

from siting._graph import map_blocks_each, shared
from siting.errors import ConstraintError, CRSError, GridError
from siting.grid import Grid

__all__ = ["Components", "label_components", "min_cell_count", "min_contiguous_area"]

Connectivity = Literal["rook", "queen"]

_STRUCTURES: dict[str, np.ndarray] = {
    "rook": ndimage.generate_binary_structure(2, 1),
    "queen": ndimage.generate_binary_structure(2, 2),
}

# A ratio within this relative distance of a whole number is that number: float noise in
# min_area / cell_area (0.0729 / 0.0081 = 9.000000000000002) must not add a cell.
_RATIO_TOLERANCE = 1e-9


# -- arguments --------------------------------------------------------------------------


def _check_connectivity(connectivity: object) -> np.ndarray:
    if connectivity not in _STRUCTURES:
        raise ConstraintError(
            f"connectivity={connectivity!r} is not known; use 'rook' (4 neighbours: cells "
            "sharing a side) or 'queen' (8 neighbours: sides and corners, reV's default)."
        )
    return _STRUCTURES[str(connectivity)]


def min_cell_count(min_area_km2: float, *, cell_area_km2: float) -> int:
    """Fewest cells a patch needs to reach ``min_area_km2``: reV's ``ceil(min / cell)``.

    The ceiling is guarded against floating-point noise: a ratio within ``1e-9`` (relative)
    of a whole number counts as that number. reV takes a plain ``np.ceil``, so for the rare
    areas that are a whole number of cells *and* divide with noise (0.0729 km² of 90 m cells)
    reV asks for one cell more; everywhere else the two agree.

    Parameters
    ----------
    min_area_km2
        Minimum patch area in km² (>= 0).
    cell_area_km2
        Area of one cell in km² (> 0).

    Returns
    -------
    int
        The number of cells; 0 when ``min_area_km2`` is 0.

    Raises
    ------
    ConstraintError
        If ``min_area_km2`` is negative or not a finite number, or ``cell_area_km2`` is not
        a positive finite number.

    Examples
    --------
    >>> min_cell_count(1.0, cell_area_km2=0.0081)  # 90 m cells
    124
    >>> min_cell_count(0.018, cell_area_km2=0.0081)
    3
    >>> min_cell_count(0.0729, cell_area_km2=0.0081)  # 9.000000000000002 cells
    9
    """
    _check_min_area(min_area_km2)
    if not (_is_number(cell_area_km2) and math.isfinite(cell_area_km2) and cell_area_km2 > 0):
        raise ConstraintError(
            f"cell_area_km2={cell_area_km2!r} must be a positive finite area in km²"
        )
    ratio = float(min_area_km2) / float(cell_area_km2)
    nearest = round(ratio)
    if abs(ratio - nearest) <= _RATIO_TOLERANCE * max(1.0, ratio):
        return int(nearest)
    return math.ceil(ratio)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_min_area(min_area_km2: object) -> None:
    if not (
        _is_number(min_area_km2)
        and math.isfinite(float(min_area_km2))  # type: ignore[arg-type]
        and float(min_area_km2) >= 0  # type: ignore[arg-type]
    ):
        raise ConstraintError(
            f"min_area_km2={min_area_km2!r} must be a finite area in km² >= 0, for example "
            "1.0 (reV's rural PV setting); use 0 to keep every patch."
        )


def _check_raster(data: object, what: str) -> xr.DataArray:
    if not isinstance(data, xr.DataArray):
        raise GridError(
            f"{what} must be an xarray.DataArray on a Grid, got {type(data).__name__}. "
            "Build one with Grid.to_xarray() or read it with siting.layers."
        )
    if data.ndim != 2:
        raise GridError(
            f"{what} must be 2-D with dims (y, x), got dims {data.dims}. "
            "Select one band first, for example data.squeeze('band', drop=True)."
        )
    return data


def _is_dask(data: xr.DataArray) -> bool:
    return data.chunks is not None


# -- public API -------------------------------------------------------------------------


def min_contiguous_area(
    availability: xr.DataArray,
    *,
    min_area_km2: float,
    connectivity: Connectivity = "queen",
    connect: xr.DataArray | None = None,
) -> xr.DataArray:
    """Exclude patches of available land smaller than a minimum area (reV's area filter).

    Patches are the connected components of ``connect > 0`` (by default ``availability``
    itself) under ``connectivity``. A patch survives when it has at least
    ``ceil(min_area_km2 / cell area)`` cells (see :func:`min_cell_count`); cells of smaller
    patches become 0. Kept cells keep their value, so partial availability (0.5) counts
    as available for connectivity and is preserved.

    Dask-backed inputs stay lazy: the patch sizes are worked out from small per-chunk
    summaries (see the module notes), and the result is a dask array with the chunks of
    ``availability``, computed chunk by chunk. Its chunks are computed twice (once for the
    summaries, once for the result): persist an expensive input first if memory allows,
    or let :func:`siting.constraints.stored_availability` label the tiles as it stores
    them.

    Parameters
    ----------
    availability
        Share of each cell available (float 0..1) on a projected grid (CRS written the
        rioxarray way). NaN counts as not available and is 0 in the result.
    min_area_km2
        Minimum patch area in km² (>= 0; 0 keeps every patch).
    connectivity
        ``"queen"`` (8 neighbours, reV's default) or ``"rook"`` (4 neighbours).
    connect
        Optional layer, on the same grid, whose cells > 0 define the patches. Pass the
        availability *without* the rules that should not split patches (for example a
        thin road): patches are measured on ``connect`` and the result is
        ``availability`` where the patch is kept, 0 elsewhere (also where ``connect`` is
        not > 0).

    Returns
    -------
    xarray.DataArray
        float32 on the same grid, lazy if an input is; attrs record the filter.

    Raises
    ------
    ConstraintError
        If ``min_area_km2`` is negative or not a finite number, or ``connectivity`` is not
        ``"rook"`` or ``"queen"``.
    CRSError
        If the grid has no CRS or a geographic one (cell areas are undefined in degrees).
    GridError
        If an input is not a 2-D DataArray, or ``connect`` is on a different grid.

    Examples
    --------
    >>> import numpy as np
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(3, 5), resolution=100)  # cells of 0.01 km²
    >>> values = np.array([[1, 1, 0, 0, 1],
    ...                    [1, 0, 0, 0, 0],
    ...                    [0, 0, 0, 0.5, 0.5]], dtype="float32")
    >>> avail = grid.georeference(grid.to_xarray().copy(data=values))
    >>> kept = min_contiguous_area(avail, min_area_km2=0.02)  # 2 cells or more
    >>> kept.values.tolist()
    [[1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.5]]
    >>> kept.attrs["contiguity_min_cells"]
    2
    """
    return _min_contiguous_area(
        availability, min_area_km2=min_area_km2, connectivity=connectivity, connect=connect
    )


def _min_contiguous_area(
    availability: xr.DataArray,
    *,
    min_area_km2: float,
    connectivity: Connectivity = "queen",
    connect: xr.DataArray | None = None,
    summaries: np.ndarray | None = None,
) -> xr.DataArray:
    """:func:`min_contiguous_area`, given pass 1's tile summaries if already made.

    ``summaries`` are :func:`_tile_summarizer`'s, one per tile of the (dask) inputs' chunks,
    made by the tasks that computed the tiles (:func:`siting.checkpoint.store`).
    """
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    _check_min_area(min_area_km2)
    structure = _check_connectivity(connectivity)
    availability = _check_raster(availability, "availability")
    grid = Grid.from_xarray(availability)
    try:
        cell_area_m2 = grid.cell_area_m2
    except CRSError as exc:
        raise CRSError(f"min_contiguous_area: {exc}") from None
    if connect is None:
        connect = availability
    else:
        connect = _check_raster(connect, "connect")
        connect_grid = Grid.from_xarray(connect)
        if connect_grid != grid:
            raise GridError(
                f"connect is on {connect_grid!r} but availability is on {grid!r}; "
                "give connect on the same grid (align it with siting.layers first)."
            )
        connect = connect.transpose(*availability.dims)
    needed = min_cell_count(min_area_km2, cell_area_km2=cell_area_m2 / 1e6)

    if _is_dask(availability) or _is_dask(connect):
        data: Any = _filter_dask(availability, connect, structure, needed, summaries)
    else:
        values = np.asarray(availability)
        patches = values if connect is availability else np.asarray(connect)
        data = _filter_numpy(values, patches, structure, needed)

    attrs = dict(availability.attrs)
    attrs.update(
        contiguity_min_area_km2=float(min_area_km2),
        contiguity_connectivity=str(connectivity),
        contiguity_min_cells=needed,
    )
    result = xr.DataArray(
        data, coords=availability.coords, dims=availability.dims, name=availability.name
    )
    result.attrs = attrs
    return grid.georeference(result)


class Components(NamedTuple):
    """Connected components of a mask: global ``labels`` (0 = background) and ``sizes``.

    ``sizes[k]`` is the number of cells of component ``k`` (``sizes[0]`` is 0).
    """

    labels: Any
    sizes: np.ndarray


def label_components(
    mask: xr.DataArray | np.ndarray | Any,
    *,
    connectivity: Connectivity = "queen",
    chunks: int | tuple[int, int] | None = None,
) -> Components:
    """Label the connected components of ``mask > 0``, tile by tile for chunked input.

    The labels are exactly those of :func:`scipy.ndimage.label` on the whole array
    (components numbered 1, 2, … in the raster order of their first cell), also for
    dask-backed input, whose labels stay a lazy dask array. Unlike
    :func:`min_contiguous_area`, this keeps one number per component in memory
    (``sizes`` and the per-chunk lookup tables).

    Parameters
    ----------
    mask
        2-D numpy array, dask array or DataArray; cells > 0 (not NaN) are foreground.
    connectivity
        ``"queen"`` (8 neighbours) or ``"rook"`` (4 neighbours).
    chunks
        Optional chunk shape: label an in-memory array tile by tile (or rechunk).

    Returns
    -------
    Components
        ``labels`` (int64; a DataArray like ``mask`` if ``mask`` is one, else a numpy or
        dask array) and ``sizes`` (numpy int64, one per label, ``sizes[0] == 0``).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.array([[1, 0, 0],
    ...                  [0, 1, 0],
    ...                  [0, 0, 0],
    ...                  [1, 1, 0]])
    >>> label_components(mask, connectivity="queen").labels.tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 0], [2, 2, 0]]
    >>> label_components(mask, connectivity="rook", chunks=2).sizes.tolist()
    [0, 1, 1, 2]
    """
    structure = _check_connectivity(connectivity)
    data: Any = mask.data if isinstance(mask, xr.DataArray) else mask
    if getattr(data, "ndim", None) != 2:
        raise GridError(f"mask must be 2-D, got shape {getattr(data, 'shape', None)}")
    if chunks is not None:
        import dask.array as da

        data = data.rechunk(chunks) if _is_dask_array(data) else da.from_array(data, chunks)
    if _is_dask_array(data):
        labels, sizes = _label_dask((data > 0).rechunk(_nonempty(data.chunks)), structure)
    else:
        labels, n = ndimage.label(np.asarray(data) > 0, structure=structure)
        sizes = _count_cells(labels, n)
        sizes[0] = 0
        labels = labels.astype(np.int64)
    if isinstance(mask, xr.DataArray):
        labels = mask.copy(data=labels)
        labels.name = "component"
        labels.attrs = {"long_name": "connected component label (0 = background)"}
    return Components(labels, sizes)


# -- in memory ---------------------------------------------------------------------------


_COUNT_STEP = 1 << 22


def _count_cells(labels: np.ndarray, n: int) -> np.ndarray:
    """Cells of each label 0..n (int64), counted in slices.

    ``np.bincount`` casts its input to int64: on a whole grid of int32 labels that is a
    temporary twice the size of the labels, and slower than counting slice by slice.
    """
    flat = labels.ravel()
    counts = np.zeros(n + 1, dtype=np.int64)
    for start in range(0, flat.size, _COUNT_STEP):
        counts += np.bincount(flat[start : start + _COUNT_STEP], minlength=n + 1)
    return counts


def _keep_from_labels(labels: np.ndarray, n: int, needed: int) -> np.ndarray:
    """Per-label keep flags (index 0 = background, never kept) from local cell counts."""
    sizes = _count_cells(labels, n)
    keep = sizes >= needed
    keep[0] = False
    return keep


def _apply(
    availability: np.ndarray, keep_cells: np.ndarray, *, nan_possible: bool = True
) -> np.ndarray:
    """``availability`` (float32) where ``keep_cells``, 0 elsewhere and where NaN."""
    out = np.where(keep_cells, np.asarray(availability, dtype=np.float32), np.float32(0))
    if nan_possible:
        out[np.isnan(out)] = 0
    return out


def _filter_numpy(
    availability: np.ndarray, connect: np.ndarray, structure: np.ndarray, needed: int
) -> np.ndarray:
    mask = connect > 0
    # Kept cells are > 0 in ``connect``, so never NaN when it is the availability itself.
    nan_possible = connect is not availability and availability.dtype.kind == "f"
    if needed <= 1:  # every patch has at least one cell
        return _apply(availability, mask, nan_possible=nan_possible)
    labels, n = ndimage.label(mask, structure=structure)
    keep = _keep_from_labels(labels, n, needed)
    if keep[1:].all():  # no patch is too small
        return _apply(availability, mask, nan_possible=nan_possible)
    del mask
    keep_cells = np.take(keep, labels)
    del labels
    return _apply(availability, keep_cells, nan_possible=nan_possible)


# -- tile by tile -------------------------------------------------------------------------


def _is_dask_array(data: object) -> bool:
    import dask.array as da

    return isinstance(data, da.Array)


def _nonempty(chunks: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """Chunks without empty ones: a 0-row chunk would hide that its neighbours touch."""
    return tuple(tuple(c for c in axis if c) or axis for axis in chunks)


@dataclass(frozen=True)
class _Summary:
    """What pass 1 keeps of one chunk: O(perimeter) numbers unless ``detail``."""

    top: np.ndarray  # labels of the first row
    bottom: np.ndarray  # labels of the last row
    left: np.ndarray  # labels of the first column
    right: np.ndarray  # labels of the last column
    edge_labels: np.ndarray  # sorted unique labels (> 0) on any edge
    edge_sizes: np.ndarray  # cells of each edge label (int64)
    n_labels: int
    sizes: np.ndarray | None = None  # detail: cells of every label (index 0 unused)
    first: np.ndarray | None = None  # detail: flat index of every label's first cell


def _summarize(block: np.ndarray, structure: np.ndarray, detail: bool) -> _Summary:
    labels, n = ndimage.label(np.asarray(block, dtype=bool), structure=structure)
    top, bottom = labels[0, :].copy(), labels[-1, :].copy()
    left, right = labels[:, 0].copy(), labels[:, -1].copy()
    edge_labels = np.unique(np.concatenate([top, bottom, left, right]))
    edge_labels = edge_labels[edge_labels > 0]
    sizes = _count_cells(labels, n)
    first = None
    if detail:
        flat = labels.ravel()
        where = np.flatnonzero(flat)
        first = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, flat[where], where)
        first[0] = 0  # the background has no first cell
    return _Summary(
        top,
        bottom,
        left,
        right,
        edge_labels,
        sizes[edge_labels],
        int(n),
        sizes if detail else None,
        first,
    )


def _pairs(a: np.ndarray, b: np.ndarray, queen: bool) -> tuple[np.ndarray, np.ndarray]:
    """Label pairs of facing cells of two edges (a[k] touches b[k], and b[k±1] for queen)."""
    pairs_a, pairs_b = [a], [b]
    if queen and a.size > 1:
        pairs_a += [a[:-1], a[1:]]
        pairs_b += [b[1:], b[:-1]]
    left, right = np.concatenate(pairs_a), np.concatenate(pairs_b)
    both = (left > 0) & (right > 0)
    return left[both], right[both]


class _Merged(NamedTuple):
    offsets: np.ndarray  # first node of each chunk (row-major), plus the total
    component: np.ndarray  # merged component of every node (edge label of a chunk)
    n_components: int


def _merge(summaries: Sequence[Sequence[_Summary]], queen: bool) -> _Merged:
    """Union-find over the edge labels of all chunks, across chunk borders and corners."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nby, nbx = len(summaries), len(summaries[0])
    counts = [s.edge_labels.size for row in summaries for s in row]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_nodes = int(offsets[-1])

    def node(i: int, j: int, labels: np.ndarray) -> np.ndarray:
        summary = summaries[i][j]
        return offsets[i * nbx + j] + np.searchsorted(summary.edge_labels, labels)

    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []

    def connect(i: int, j: int, a: np.ndarray, k: int, m: int, b: np.ndarray) -> None:
        la, lb = _pairs(a, b, queen)
        src.append(node(i, j, la))
        dst.append(node(k, m, lb))

    for i in range(nby):
        for j in range(nbx):
            here = summaries[i][j]
            if j + 1 < nbx:
                connect(i, j, here.right, i, j + 1, summaries[i][j + 1].left)
            if i + 1 < nby:
                connect(i, j, here.bottom, i + 1, j, summaries[i + 1][j].top)
                if queen and j + 1 < nbx:  # across the corner, down and right
                    connect(i, j, here.bottom[-1:], i + 1, j + 1, summaries[i + 1][j + 1].top[:1])
                if queen and j > 0:  # across the corner, down and left
                    connect(i, j, here.bottom[:1], i + 1, j - 1, summaries[i + 1][j - 1].top[-1:])
    if n_nodes == 0:
        return _Merged(offsets, np.zeros(0, dtype=np.int64), 0)
    rows = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), (n_nodes, n_nodes))
    n_components, component = connected_components(graph, directed=False)
    return _Merged(offsets, component.astype(np.int64), int(n_components))


def _tile_summarizer(connectivity: Connectivity, *, position: int) -> Callable[..., _Summary]:
    """Pass 1 for one tile, as :func:`siting.checkpoint.store` calls it.

    The summary is of the tile at ``position`` among those it is given: the patches
    (``> 0``) of ``connect``, or of the availability itself when it has no ``connect``.
    """
    return partial(_summarize_at, position=position, structure=_check_connectivity(connectivity))


def _summarize_at(*tiles: np.ndarray, position: int, structure: np.ndarray) -> _Summary:
    return _summarize(np.asarray(tiles[position]) > 0, structure, detail=False)


def _pass1(mask: Any, structure: np.ndarray, *, detail: bool) -> list[list[_Summary]]:
    import dask

    blocks = mask.to_delayed()
    summarize = dask.delayed(_summarize, pure=True)
    tasks = [[summarize(block, structure, detail) for block in row] for row in blocks]
    (summaries,) = dask.compute(tasks)
    return summaries


def _filter_block(
    connect: np.ndarray,
    availability: np.ndarray,
    lookups: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    *,
    structure: np.ndarray,
    needed: int,
    block_id: tuple[int, int],
) -> np.ndarray:
    labels, n = ndimage.label(np.asarray(connect, dtype=bool), structure=structure)
    keep = _keep_from_labels(labels, n, needed)
    edge_labels, edge_keep = lookups[block_id]
    keep[edge_labels] = edge_keep  # patches crossing a chunk border: their merged size
    return _apply(availability, keep[labels])


def _filter_dask(
    availability: xr.DataArray,
    connect: xr.DataArray,
    structure: np.ndarray,
    needed: int,
    summaries: np.ndarray | None = None,
) -> Any:
    import dask.array as da

    reference = availability if _is_dask(availability) else connect
    chunks = _nonempty(reference.data.chunks)
    avail = availability.data
    avail = avail.rechunk(chunks) if _is_dask_array(avail) else da.from_array(avail, chunks)
    conn = connect.data
    conn = conn.rechunk(chunks) if _is_dask_array(conn) else da.from_array(conn, chunks)
    mask = conn > 0
    if needed <= 1:
        return da.map_blocks(_apply, avail, mask, dtype=np.float32)

    if summaries is not None and summaries.shape == mask.numblocks:
        tiles: list[list[_Summary]] = summaries.tolist()  # made as the tiles were computed
    else:
        tiles = _pass1(mask, structure, detail=False)
    merged = _merge(tiles, queen=bool(structure.all()))
    edge_sizes = np.concatenate([s.edge_sizes for row in tiles for s in row])
    component_sizes = np.bincount(
        merged.component, weights=edge_sizes, minlength=merged.n_components
    )
    keep_node = component_sizes[merged.component] >= needed
    nbx = len(tiles[0])
    lookups = {
        (i, j): (
            s.edge_labels,
            keep_node[merged.offsets[i * nbx + j] : merged.offsets[i * nbx + j + 1]],
        )
        for i, row in enumerate(tiles)
        for j, s in enumerate(row)
    }
    del tiles
    # The border tables (a few numbers per patch crossing a tile border) go to each worker
    # once; map_blocks keeps the filter fused with the rules that make its tile.
    block = partial(_filter_block, structure=structure, needed=needed)
    return da.map_blocks(
        block, mask, avail, shared(lookups), dtype=np.float32, meta=np.empty((0, 0), np.float32)
    )


def _relabel_block(mask: np.ndarray, *, structure: np.ndarray, table: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(np.asarray(mask, dtype=bool), structure=structure)
    return table[labels]


def _label_dask(mask: Any, structure: np.ndarray) -> tuple[Any, np.ndarray]:
    """Global labels numbered like scipy on the whole array, and sizes (O(components))."""
    summaries = _pass1(mask, structure, detail=True)
    merged = _merge(summaries, queen=bool(structure.all()))
    nby, nbx = len(summaries), len(summaries[0])
    row_starts = np.concatenate([[0], np.cumsum(mask.chunks[0])])
    col_starts = np.concatenate([[0], np.cumsum(mask.chunks[1])])
    width = int(col_starts[-1])

    # Provisional ids: merged border-crossing components first, then each chunk's
    # interior components in chunk order.
    sizes_parts = [
        np.bincount(
            merged.component,
            weights=np.concatenate([s.edge_sizes for row in summaries for s in row]),
            minlength=merged.n_components,
        ).astype(np.int64)
    ]
    first_parts = [np.full(merged.n_components, np.iinfo(np.int64).max, dtype=np.int64)]
    provisional: dict[tuple[int, int], np.ndarray] = {}
    next_id = merged.n_components
    for i in range(nby):
        for j in range(nbx):
            s = summaries[i][j]
            assert s.sizes is not None
            assert s.first is not None
            block_width = int(col_starts[j + 1] - col_starts[j])
            local = np.arange(s.n_labels + 1)
            rows, cols = np.divmod(s.first, block_width)
            first = (rows + row_starts[i]) * width + cols + col_starts[j]
            is_edge = np.zeros(s.n_labels + 1, dtype=bool)
            is_edge[s.edge_labels] = True
            interior = local[1:][~is_edge[1:]]
            table = np.full(s.n_labels + 1, -1, dtype=np.int64)
            nodes = merged.component[merged.offsets[i * nbx + j] : merged.offsets[i * nbx + j + 1]]
            table[s.edge_labels] = nodes
            np.minimum.at(first_parts[0], nodes, first[s.edge_labels])
            table[interior] = next_id + np.arange(interior.size)
            next_id += interior.size
            sizes_parts.append(s.sizes[interior])
            first_parts.append(first[interior])
            provisional[(i, j)] = table
    del summaries
    # Renumber in the raster order of each component's first cell, as scipy does.
    order = np.argsort(np.concatenate(first_parts), kind="stable")
    final = np.empty(next_id, dtype=np.int64)
    final[order] = np.arange(1, next_id + 1)
    sizes = np.zeros(next_id + 1, dtype=np.int64)
    sizes[final] = np.concatenate(sizes_parts)
    tables = {}
    for key, table in provisional.items():
        out = np.zeros(table.size, dtype=np.int64)
        out[1:] = final[table[1:]]
        tables[key] = {"table": out}
    relabel = partial(_relabel_block, structure=structure)
    return map_blocks_each(relabel, [mask], tables, np.int64), sizes
