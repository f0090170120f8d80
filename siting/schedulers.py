"""Where the tiles of a chunked run are computed: a dask scheduler, local or on a cluster.

Chunked (dask) raster stages run on whatever scheduler is active. :func:`use_scheduler`
activates one for the duration of a ``with`` block:

- ``"threads"`` (dask's default), ``"processes"``, ``"synchronous"`` (one thread, for
  debugging and profiling);
- ``"distributed"``: a ``dask.distributed`` cluster, either an existing one at ``address``
  (``tcp://host:port``, a ``dask scheduler`` with its ``dask worker``\\ s) or a
  ``LocalCluster`` of ``workers`` single-threaded worker processes started here and shut
  down at the end;
- a ``distributed.Client`` object already connected.

The tasks carry everything they need (file paths, not open files; vector features in
picklable indexes), so the workers of a cluster only need the input files at the same
paths.

Workers of the clusters started or joined here get :func:`malloc_tuning_plugin`: dask's nanny
sets ``MALLOC_TRIM_THRESHOLD_`` to 64 KiB, which also switches off glibc's adaptive
``mmap`` threshold, so every temporary array of a tile would be mapped afresh, or its heap
memory handed back, and its pages faulted in again. On raster tiles that made a worker
process up to several times slower than a thread doing the same work. The plugin restores
the thresholds glibc itself adapts to (:func:`tune_malloc`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from siting.errors import ClusterError, ScenarioError, missing_dependency

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DEFAULT_CHUNKS",
    "MMAP_THRESHOLD_BYTES",
    "SCHEDULERS",
    "TRIM_THRESHOLD_BYTES",
    "malloc_tuning_plugin",
    "on_cluster",
    "tune_malloc",
    "use_scheduler",
]

#: The schedulers a run can use, by name.
SCHEDULERS = ("threads", "processes", "synchronous", "distributed")

#: Tile edge (cells) of a run given a scheduler but no ``chunks``. A run costs some 40 dask
#: tasks per tile whatever its size, each a scheduler round trip: on a ``LocalCluster``,
#: tiles of 2,048² took an 8,000² run from 104 s to 60 s on one worker (benchmarks/README.md).
DEFAULT_CHUNKS = 2048

#: Seconds to wait for a cluster's scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5.0


#: Allocations below this come from the heap, not from a fresh ``mmap``: glibc's own
#: ceiling for its adaptive threshold on 64-bit systems (a 1,024² float64 tile is 8 MiB).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
#: Free memory at the top of the heap kept for the next tile rather than handed back to the
#: system: glibc's adaptive ceiling, twice the mmap threshold.
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES

# mallopt's parameter numbers, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc(
    mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES
) -> bool:
    """Set glibc's ``mmap`` and trim thresholds in this process (glibc only).

    Allocations below ``mmap_threshold`` bytes come from the heap, and up to
    ``trim_threshold`` bytes of free memory stay there for the next tile.

    Returns True when both settings took effect, False where there is no glibc (macOS,
    Windows, musl) and nothing changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mmap_set = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
        trim_set = libc.mallopt(_M_TRIM_THRESHOLD, int(trim_threshold))
    except (OSError, AttributeError):
        return False
    return bool(mmap_set and trim_set)


def malloc_tuning_plugin(
    mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES
) -> Any:
    """A ``distributed`` worker plugin applying :func:`tune_malloc` on every worker.

    Runs use it on the clusters they start or join; register it on your own client too,
    ``client.register_plugin(malloc_tuning_plugin())``, and workers that join later get it
    as they start.
    """
    from siting._worker_plugin import MallocTuning

    return MallocTuning(mmap_threshold, trim_threshold)


def on_cluster() -> bool:
    """True when dask work goes to a ``dask.distributed`` cluster now, whose workers may be
    on other machines (and see only the files they share with this one)."""
    import dask.base

    get = dask.base.get_scheduler()
    owner = getattr(get, "__self__", None)  # a Client's bound ``get``
    return owner is not None and type(owner).__module__.startswith("distributed")


def _check(scheduler: object, address: str | None, workers: int | None) -> str | None:
    """The scheduler's name (None for a Client object), after checking the combination."""
    if scheduler is not None and not isinstance(scheduler, str):
        if address is not None or workers is not None:
            raise ScenarioError(
                "scheduler is a Client already: do not also give address or workers"
            )
        if not callable(getattr(scheduler, "get", None)):
            raise ScenarioError(
                f"scheduler={scheduler!r} is neither a scheduler name {list(SCHEDULERS)} "
                "nor a dask.distributed Client"
            )
        return None
    name = "distributed" if scheduler is None else scheduler.strip().lower()
    if name not in SCHEDULERS:
        raise ScenarioError(
            f"scheduler={scheduler!r} is not known; use one of {list(SCHEDULERS)} "
            "(or a dask.distributed Client)"
        )
    if name != "distributed" and (address is not None or workers is not None):
        raise ScenarioError(
            f"address and workers are for scheduler='distributed', not {name!r}; "
            "drop them or use scheduler='distributed'"
        )
    if address is not None and workers is not None:
        raise ScenarioError(
            "give either address (join a running cluster) or workers (start a local one), not both"
        )
    if workers is not None and (isinstance(workers, bool) or not 1 <= int(workers) <= 1024):
        raise ScenarioError(f"workers={workers!r} must be a whole number from 1 to 1024")
    return name


@contextmanager
def use_scheduler(
    scheduler: str | Any | None = "threads",
    *,
    address: str | None = None,
    workers: int | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> Iterator[Any]:
    """Compute dask work on this scheduler inside the ``with`` block.

    Parameters
    ----------
    scheduler
        A name from :data:`SCHEDULERS`, or a connected ``distributed.Client``. None with an
        ``address`` or ``workers`` means ``"distributed"``.
    address
        ``tcp://host:port`` of a running ``dask scheduler`` (``"distributed"`` only).
    workers
        Start a ``LocalCluster`` of this many single-threaded worker processes
        (``"distributed"`` only; default: one per core when no address is given).
    timeout_s
        How long to wait for the scheduler at ``address`` to answer.

    Yields
    ------
    The ``distributed.Client`` in use, or None for the local schedulers.

    Raises
    ------
    ScenarioError
        An unknown scheduler or a combination that makes no sense.
    ClusterError
        The scheduler at ``address`` does not answer within ``timeout_s`` (also a
        ``ConnectionError``), or the local cluster cannot start.
    MissingDependencyError
        ``"distributed"`` without ``dask[distributed]`` installed.

    Examples
    --------
    >>> import dask.array as da
    >>> with use_scheduler("synchronous"):
    ...     int(da.ones(10, chunks=5).sum().compute())
    10
    """
    import dask

    name = _check(scheduler, address, workers)
    if name is None:
        with dask.config.set(scheduler=scheduler):
            yield scheduler
        return
    if name != "distributed":
        with dask.config.set(scheduler=name):
            yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise missing_dependency("distributed", "distributed", "scheduler='distributed'") from None
    with ExitStack() as stack:
        if address is not None:
            try:
                client = Client(address, timeout=timeout_s, set_as_default=False)
            except Exception as exc:  # anything that fails while connecting: no usable cluster
                raise ClusterError(
                    f"cannot reach a dask scheduler at {address!r} within {timeout_s:g} s "
                    f"({type(exc).__name__}: {exc}). Check the address and that "
                    "`dask scheduler` is running there with its workers, or start a local "
                    "cluster instead (workers=N, --workers N on the command line)."
                ) from None
        else:
            try:
                cluster = LocalCluster(
                    n_workers=int(workers or os.cpu_count() or 1),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            except Exception as exc:
                raise ClusterError(
                    f"cannot start a local dask cluster ({type(exc).__name__}: {exc})"
                ) from exc
            stack.enter_context(cluster)
            client = Client(cluster, set_as_default=False)
        stack.enter_context(client)
        client.register_plugin(malloc_tuning_plugin())
        stack.enter_context(dask.config.set(scheduler=client))
        yield client
