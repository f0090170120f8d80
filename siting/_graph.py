"""Task graphs whose size does not grow with tiles times inputs.

A distributed scheduler pickles each task on its own as it sends it to a worker. An object
that a tile task captures, in a closure, a ``partial`` or an argument, therefore travels once
per tile: feature geometries, a fitted scorer, the tables of a contiguity pass. With
thousands of tiles and a national line layer that is gigabytes of pickling on the
scheduler, which then keeps the workers waiting. :func:`shared` makes such an object one
node of the graph that the tile tasks depend on: each worker receives it once, and its
threads share it (so prepared GEOS geometries in it are kept per thread, see
:mod:`siting._threads`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def shared(obj: Any) -> Any:
    """``obj`` as a node of its own in the task graph, for tile tasks to take as an argument.

    Pass the result to ``dask.delayed`` calls or to ``dask.array.map_blocks`` (with ``meta``,
    as dask cannot call the function on a placeholder of it).
    """
    import dask

    return dask.delayed(obj, pure=True, traverse=False)


def call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``: a task whose function is a :func:`shared` node."""
    return func(*args, **kwargs)


def map_blocks_each(
    func: Callable[..., Any],
    arrays: Sequence[Any],
    arguments: Mapping[tuple[int, int], Mapping[str, Any]],
    dtype: Any,
) -> Any:
    """``func(*blocks, **arguments[i, j])`` on each block ``(i, j)`` of 2-D dask ``arrays``.

    The arrays share their chunks. Each block's task carries only its own arguments, where
    ``map_blocks`` with a table of every block's arguments would send the whole table with
    each task. Unlike ``map_blocks``, the blocks of ``arrays`` stay tasks of their own
    rather than fusing into ``func``'s: for arguments too large to send whole to every
    worker (a relabelling table per block), where ``shared`` suits small ones.
    """
    import dask
    import dask.array as da

    row_chunks, col_chunks = arrays[0].chunks
    blocks = [a.to_delayed(optimize_graph=False) for a in arrays]
    task = dask.delayed(func, pure=True)
    return da.block(
        [
            [
                da.from_delayed(
                    task(*(b[i, j] for b in blocks), **arguments[i, j]),
                    shape=(rows, cols),
                    dtype=dtype,
                )
                for j, cols in enumerate(col_chunks)
            ]
            for i, rows in enumerate(row_chunks)
        ]
    )
