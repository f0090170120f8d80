"""A lazy raster computed once, tile by tile, to scratch files, then read back lazily.

On a chunked run every consumer of a lazy raster computes its whole graph again: the
availability of a scenario (rules, setbacks, the contiguity filter) would be evaluated for
the exclusion report, for the statistics an overlay learns, for the candidates and for
each output raster. :func:`checkpoint` computes it once, each tile in its own task writing
its own file (no data passes through the calling process, no writer is shared between
tasks), and returns a dask array reading those files: each later pass reads a compressed
tile instead of evaluating the rules again. Totals wanted from the same cells (the
exclusion report's areas) are summed by the same tasks, in the same pass.

The files live as long as the folder given: the caller owns it, and
:func:`scratch_folder` makes one that is removed when the run ends. On a cluster of
several machines the workers must all see that folder, as they see the input files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["checkpoint", "scratch_folder"]

#: zlib level of the tile files: level 1 packs a mostly 0/1 availability tile some
#: twentyfold at several hundred MB/s, so the files cost little disk and little time.
_LEVEL = 1


@contextmanager
def scratch_folder(*, prefix: str, dir: Path | None = None) -> Iterator[Path]:
    """A new folder (in ``dir``, or the system's temporary folder) removed on exit.

    Removal holds even when the run ends early (an interrupt, a failed tile): tasks of
    the abandoned graph may still be writing tiles, so the folder is removed pass after
    pass until it is gone; once it is, their next write fails instead of recreating it.
    A failure to remove it never replaces the error that ended the run, but warns.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    try:
        yield folder
    finally:
        _remove(folder)


def _remove(folder: Path, *, passes: int = 100) -> None:
    for _ in range(passes):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.01)
    warnings.warn(
        f"could not remove the scratch folder {folder}; it holds only intermediate tiles "
        "and can be deleted.",
        RuntimeWarning,
        stacklevel=3,
    )


def checkpoint(
    raster: xr.DataArray, folder: Path, *, sums: Sequence[Any] = ()
) -> tuple[xr.DataArray, np.ndarray]:
    """Compute a dask-backed 2-D ``raster`` once into ``folder``; read it back lazily.

    Parameters
    ----------
    raster
        A 2-D raster backed by a dask array.
    folder
        An existing folder for the tile files, kept for as long as the returned raster is
        used (the caller removes it).
    sums
        Arrays of the raster's shape (dask or numpy) whose totals are wanted; each is
        summed in float64 tile by tile by the tasks that compute the raster, so what they
        share with it is computed once.

    Returns
    -------
    raster, totals
        The raster reading the tile files (same coordinates, name, attributes, dtype and
        chunks) and the float64 totals of ``sums``, in order.
    """
    import dask.array as da

    if raster.ndim != 2 or raster.chunks is None:
        raise ValueError(
            f"checkpoint needs a 2-D dask-backed raster, got dims {raster.dims} "
            f"({'dask' if raster.chunks is not None else 'in memory'})"
        )
    data = raster.data
    chunks = data.chunks
    width = max(len(sums), 1)  # a tile's totals, one slot kept when none are asked for
    # One array graph, optimised as a whole: the layers the raster and the sums share stay
    # shared, so each tile's rules run once for both.
    parts = da.map_blocks(
        _store_tile,
        data,
        *(da.asarray(s).rechunk(chunks) for s in sums),
        folder=str(folder),
        width=width,
        new_axis=2,
        chunks=((1,) * len(chunks[0]), (1,) * len(chunks[1]), (width,)),
        dtype=np.float64,
        meta=np.empty((0, 0, 0), dtype=np.float64),
    ).compute()
    totals = parts.reshape(-1, width).sum(axis=0)[: len(sums)]
    read = da.map_blocks(
        _load_tile,
        folder=str(folder),
        dtype=data.dtype,
        chunks=chunks,
        meta=np.empty((0, 0), dtype=data.dtype),
    )
    return raster.copy(data=read), totals


def _store_tile(
    block: np.ndarray,
    *others: np.ndarray,
    folder: str,
    width: int,
    block_info: dict[Any, Any],
) -> np.ndarray:
    """Write one tile (whole, then renamed into place); return the float64 sums of ``others``."""
    path = _tile_path(folder, block_info[0]["chunk-location"])
    staged = path.with_suffix(".part")
    staged.write_bytes(zlib.compress(np.ascontiguousarray(block).tobytes(), _LEVEL))
    os.replace(staged, path)
    totals = np.zeros((1, 1, width), dtype=np.float64)
    for k, values in enumerate(others):
        totals[0, 0, k] = np.sum(values, dtype=np.float64)
    return totals


def _load_tile(folder: str, block_info: dict[Any, Any]) -> np.ndarray:
    info = block_info[None]
    raw = zlib.decompress(_tile_path(folder, info["chunk-location"]).read_bytes())
    return np.frombuffer(raw, dtype=info["dtype"]).reshape(info["chunk-shape"]).copy()


def _tile_path(folder: str, location: tuple[int, int]) -> Path:
    """The file of the tile at ``location`` (row and column of chunks)."""
    i, j = location
    return Path(folder) / f"tile-{i}-{j}.z"
