"""A lazy raster computed once, tile by tile, to scratch files, then read back lazily.

On a chunked run every consumer of a lazy raster computes its whole graph again: the
availability of a scenario (rules, setbacks, the contiguity filter) would be evaluated for
the exclusion report, for the statistics an overlay learns, for the candidates and for
each output raster. :func:`checkpoint` computes it once, each tile in its own task writing
its own file (no data passes through the calling process, no writer is shared between
tasks), and returns a dask array reading those files: each later pass reads a compressed
tile instead of evaluating the rules again. Totals wanted from the same cells (the
exclusion report's areas) are summed by the same tasks, in the same pass. :func:`store`
does the same for several rasters at once (the availability and the patches of the
contiguity filter) and also returns a small summary of each tile (its patches' labels along
the edges), made by the same tasks.

The files live as long as the folder given: the caller owns it, and
:func:`scratch_folder` makes one that is removed when the run ends. On a cluster of
several machines the workers must all see that folder, as they see the input files.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from siting._graph import shared

try:
    import fcntl
except ImportError:  # Windows: no flock, so abandoned folders are not found
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "Stored", "checkpoint", "remove_abandoned", "scratch_folder", "store"]

#: zlib level of the tile files: level 1 packs a mostly 0/1 availability tile some
#: twentyfold at several hundred MB/s, so the files cost little disk and little time.
_LEVEL = 1


#: In every scratch folder, locked for as long as the process that made it is alive.
LOCK_NAME = ".siting-scratch-lock"


@contextmanager
def scratch_folder(*, prefix: str, dir: Path | None = None) -> Iterator[Path]:
    """A new folder (in ``dir``, or the system's temporary folder) removed on exit.

    Removal holds even when the run ends early (an interrupt, a failed tile): tasks of
    the abandoned graph may still be writing tiles, so the folder is first renamed, which
    makes their next write fail (they name it by its old path), then removed. A failure
    to remove it never replaces the error that ended the run, but warns.

    A process killed outright (``SIGKILL``, the kernel's out-of-memory killer) cannot
    remove its folder. Each folder holds a file locked (``flock``) for as long as its
    process lives; a new folder is made only after removing the folders of the same
    ``prefix`` in ``dir`` whose lock is free, so the tiles of a killed run go with the
    next one. Folders without the lock file, or locked by a live process, are left alone.
    """
    remove_abandoned(prefix=prefix, dir=dir)
    # Absolute: tasks on other processes (cluster workers) have other working folders.
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=dir)).absolute()
    lock = _lock(folder)
    try:
        yield folder
    finally:
        _remove(folder)
        if lock is not None:
            lock.close()


def remove_abandoned(*, prefix: str, dir: Path | None = None) -> list[Path]:
    """Remove the scratch folders ``prefix*`` in ``dir`` of processes no longer alive.

    Returns the folders removed. Without ``fcntl`` (Windows) nothing is removed.
    """
    if fcntl is None:
        return []
    parent = Path(tempfile.gettempdir() if dir is None else dir)
    removed = []
    for folder in sorted(parent.glob(f"{glob.escape(prefix)}*")):
        try:
            handle = open(folder / LOCK_NAME, "rb")  # noqa: SIM115 (held while removing)
        except OSError:
            continue  # not a scratch folder, or not one to touch
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its run is alive
            _remove(folder)
            removed.append(folder)
    return removed


def _lock(folder: Path) -> Any:
    """Create the folder's lock file, already locked, and keep it open (or None)."""
    if fcntl is None:
        return None
    staged = folder / f"{LOCK_NAME}.part"
    handle = open(staged, "wb")  # noqa: SIM115 (held for the folder's lifetime)
    fcntl.flock(handle, fcntl.LOCK_EX)
    # Renamed once locked: a lock file that can be seen is never free while its run lives.
    os.replace(staged, folder / LOCK_NAME)
    return handle


def _remove(folder: Path, *, passes: int = 100) -> None:
    doomed = folder.with_name(f"{folder.name}-removed")
    try:
        folder.rename(doomed)
    except OSError:
        doomed = folder  # removed in place, pass after pass, while writes may still land
    for _ in range(passes):
        shutil.rmtree(doomed, ignore_errors=True)
        if not doomed.exists() and not folder.exists():
            return
        time.sleep(0.01)
    warnings.warn(
        f"could not remove the scratch folder {doomed}; it holds only intermediate tiles "
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
    stored = store([raster], folder, sums=sums)
    return stored.rasters[0], stored.totals


class Stored(NamedTuple):
    """What :func:`store` returns."""

    rasters: list[xr.DataArray]  # each reading its tile files back, lazily
    totals: np.ndarray  # float64, one per array summed
    summaries: np.ndarray | None  # object array, one per tile (rows, columns of tiles)
    files: list[list[Path]]  # the tile files of each raster

    def discard(self, rasters: Sequence[int] | None = None) -> None:
        """Remove the tile files of the rasters at these positions (default: all), once
        they are no longer read."""
        for k in range(len(self.files)) if rasters is None else rasters:
            for path in self.files[k]:
                path.unlink(missing_ok=True)


def store(
    rasters: Sequence[xr.DataArray],
    folder: Path,
    *,
    sums: Sequence[Any] = (),
    summarize: Callable[..., Any] | None = None,
    name: str = "tile",
) -> Stored:
    """Compute several dask-backed 2-D rasters of one grid and chunks once, in one pass.

    Like :func:`checkpoint`, for rasters computed by the same tasks: what they share is
    computed once per tile. ``summarize``, if given, is called in the same task with the
    tile of every raster, in order; what it returns (small, picklable) comes back per
    tile in :attr:`Stored.summaries`. ``name`` starts the tile files' names, so that
    several stores can share a folder.
    """
    import dask.array as da

    if not rasters:
        raise ValueError("store needs at least one raster")
    for raster in rasters:
        if raster.ndim != 2 or raster.chunks is None:
            raise ValueError(
                f"store needs 2-D dask-backed rasters, got dims {raster.dims} "
                f"({'dask' if raster.chunks is not None else 'in memory'})"
            )
    chunks = rasters[0].data.chunks
    folder = Path(folder).absolute()  # as the tasks, which may run elsewhere, must find it
    if any(r.data.chunks != chunks for r in rasters[1:]):
        raise ValueError(
            "the rasters to store together must have the same chunks, got "
            + ", ".join(str(r.data.chunks) for r in rasters)
        )
    # One array graph, optimised as a whole: the layers the rasters and the sums share
    # stay shared, so each tile's rules run once for all of them.
    tiles = da.map_blocks(
        partial(_store_tile, folder=str(folder), name=name, count=len(rasters)),
        *(r.data for r in rasters),
        *(da.asarray(s).rechunk(chunks) for s in sums),
        None if summarize is None else shared(summarize),
        chunks=tuple((1,) * len(axis) for axis in chunks),
        dtype=object,
        meta=np.empty((0, 0), dtype=object),
    ).compute()
    totals = np.zeros(len(sums), dtype=np.float64)
    for tile_totals, _ in tiles.ravel():
        totals += tile_totals
    summaries = None
    if summarize is not None:
        summaries = np.empty(tiles.shape, dtype=object)
        for index, (_, summary) in np.ndenumerate(tiles):
            summaries[index] = summary
    read = [
        raster.copy(
            data=da.map_blocks(
                partial(_load_tile, folder=str(folder), stem=f"{name}-{k}"),
                dtype=raster.dtype,
                chunks=chunks,
                meta=np.empty((0, 0), dtype=raster.dtype),
            )
        )
        for k, raster in enumerate(rasters)
    ]
    files = [
        [
            _tile_path(str(folder), f"{name}-{k}", (i, j))
            for i in range(len(chunks[0]))
            for j in range(len(chunks[1]))
        ]
        for k in range(len(rasters))
    ]
    return Stored(read, totals, summaries, files)


def _store_tile(
    *blocks: Any,
    folder: str,
    name: str,
    count: int,
    block_info: dict[Any, Any],
) -> np.ndarray:
    """Write the tiles of ``count`` rasters (each whole, then renamed into place).

    Returns a 1×1 object array holding the float64 sums of the other blocks but the last
    (the summary function, or None) and the summary of the rasters' tiles.
    """
    location = block_info[0]["chunk-location"]
    *arrays, summarize = blocks
    tiles, others = arrays[:count], arrays[count:]
    for k, tile in enumerate(tiles):
        path = _tile_path(folder, f"{name}-{k}", location)
        staged = path.with_suffix(".part")
        staged.write_bytes(_encode(np.asarray(tile)))
        os.replace(staged, path)
    totals = np.array([np.sum(values, dtype=np.float64) for values in others], np.float64)
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = (totals, None if summarize is None else summarize(*tiles))
    return out


def _load_tile(folder: str, stem: str, block_info: dict[Any, Any]) -> np.ndarray:
    info = block_info[None]
    encoded = _tile_path(folder, stem, info["chunk-location"]).read_bytes()
    return _decode(encoded, np.dtype(info["dtype"]), tuple(info["chunk-shape"]))


#: The first byte of a tile file: its cells' bytes as they are, or one bit per cell.
_BYTES, _BITS = b"B", b"b"


def _encode(tile: np.ndarray) -> bytes:
    """A tile's file: zlib-compressed cells, one bit each where every cell is 0 or 1.

    Masks and availabilities with no partial cell are most tiles: as bits they compress
    and decompress several times faster than as 4-byte floats. Exactly 0 and 1 only,
    bit for bit (a -0.0 keeps its bytes), so a tile reads back as it was written.
    """
    tile = np.ascontiguousarray(tile)
    if tile.size and tile.dtype.kind in "biuf":
        codes = tile.view(f"u{tile.dtype.itemsize}")
        one = np.ones(1, tile.dtype).view(codes.dtype)[0]
        if np.all((codes == 0) | (codes == one)):
            return _BITS + zlib.compress(np.packbits(codes != 0).tobytes(), _LEVEL)
    return _BYTES + zlib.compress(tile.tobytes(), _LEVEL)


def _decode(encoded: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    raw = zlib.decompress(encoded[1:])
    if encoded[:1] == _BYTES:
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=int(np.prod(shape)))
    return bits.view(bool).astype(dtype).reshape(shape)  # 0 and 1 of the dtype, exactly


def _tile_path(folder: str, stem: str, location: tuple[int, int]) -> Path:
    """The file of the tile at ``location`` (row and column of chunks)."""
    i, j = location
    return Path(folder) / f"{stem}-{i}-{j}.z"
