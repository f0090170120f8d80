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

import asyncio
import ctypes
import ctypes.util
import logging
import os
import sys
import threading
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
    "active_client",
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

#: The address schemes of dask's network transports.
_ADDRESS_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_ADDRESS_FORM = "tcp://host:port, such as tcp://10.0.0.5:8786"
_CLUSTER_FIX = (
    "Check the address (tcp://host:port, as `dask scheduler` prints it: port 8786 by "
    "default; the dashboard's http:// address is not it) and that `dask scheduler` is "
    "running there with its `dask worker`s, or start a local cluster instead "
    "(workers=N, --workers N on the command line)."
)


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
    return active_client() is not None


def active_client() -> Any:
    """The ``distributed.Client`` dask work goes to now, or None."""
    import dask.base

    get = dask.base.get_scheduler()
    owner = getattr(get, "__self__", None)  # a Client's bound ``get``
    return owner if type(owner).__module__.startswith("distributed") else None


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
    if address is not None:
        _check_address(address)
    return name


def _check_address(address: object) -> None:
    """Refuse an address that is not ``scheme://host:port`` before anything connects."""
    text = address.strip() if isinstance(address, str) else ""
    scheme, sep, location = text.rpartition("://")
    if not sep:
        scheme = "tcp"  # dask's default for a bare host:port
    if scheme.lower() == "inproc" and location.strip("/"):
        return  # a cluster in this process (LocalCluster(processes=False)): ip/pid/counter
    host, _, port = location.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # IPv6, tcp://[::1]:8786
        host = host[1:-1]
    if (
        scheme.lower() in _ADDRESS_SCHEMES
        and host
        and not any(c.isspace() or c in "/?#" for c in host)
        and port.isascii()
        and port.isdigit()
        and 1 <= int(port) <= 65535
    ):
        return
    hint = ""
    if scheme.lower() in ("http", "https"):
        hint = " An http:// address is a dashboard's, not the scheduler's."
    raise ScenarioError(
        f"address={address!r} is not the address of a dask scheduler: expected {_ADDRESS_FORM} "
        f"(the address `dask scheduler` prints when it starts).{hint}"
    )


async def _ask_identity(address: str, timeout_s: float) -> tuple[str, Any]:
    """Connect to ``address``, ask for its identity and hang up, all within ``timeout_s``.

    Returns how it went: ``("silent", None)`` when nothing completed the exchange in time,
    ``("garbled", exc)`` when the exchange failed otherwise, ``("answered", reply)``.
    """
    from distributed.comm import connect
    from distributed.security import Security

    comm = None
    deadline = asyncio.timeout(timeout_s)
    try:
        async with deadline:
            # dask retries a refused connection until its own timeout: past ours, so a
            # connection that never opens is the deadline's, like one that opens to silence.
            comm = await connect(
                address, timeout=timeout_s + 1, **Security().get_connection_args("client")
            )
            await comm.write({"op": "identity"})
            return "answered", await comm.read()
    except TimeoutError as exc:
        if deadline.expired():
            return "silent", None
        return "garbled", exc
    except Exception as exc:  # a reply that is not dask's: bytes of a web page, a reset, ...
        return "garbled", exc
    finally:
        if comm is not None:
            comm.abort()


def _probe_scheduler(address: str, timeout_s: float) -> None:
    """Raise :class:`ClusterError` unless a dask scheduler answers at ``address`` in time.

    ``distributed.Client`` bounds the opening of a connection but not dask's handshake on
    it, so an endpoint that accepts the connection and then says nothing would hold it
    forever. The exchange runs here on an event loop of its own, in a thread of its own
    (the caller may be running an event loop already), under one deadline, and every
    connection it opened is closed before this returns.
    """
    outcome: list[tuple[str, Any]] = []

    def attempt() -> None:
        try:
            outcome.append(asyncio.run(_ask_identity(address, timeout_s)))
        except BaseException as exc:
            outcome.append(("garbled", exc))

    thread = threading.Thread(target=attempt, name="siting-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 5)  # the deadline is inside; this only guards against a bug
    status, detail = outcome[0] if outcome else ("silent", None)
    where = f"cannot reach a dask scheduler at {address!r}"
    if status == "silent":
        raise ClusterError(
            f"{where}: nothing answered as a dask scheduler within {timeout_s:g} s. {_CLUSTER_FIX}"
        )
    if status == "garbled":
        why = f" ({type(detail).__name__}: {detail})" if isinstance(detail, OSError) else ""
        raise ClusterError(
            f"{where}: the endpoint there does not speak the dask protocol (a web server or "
            f"another service?){why}. {_CLUSTER_FIX}"
        ) from detail
    if not isinstance(detail, dict) or "n_workers" not in detail:
        kind = detail.get("type") if isinstance(detail, dict) else None
        raise ClusterError(
            f"{where}: the endpoint there speaks dask's protocol but is not a scheduler"
            f"{f' (it is a {kind})' if kind else ''}; give the scheduler's address, not a "
            f"worker's. {_CLUSTER_FIX}"
        )


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
        ``tcp://host:port`` of a running ``dask scheduler`` (``"distributed"`` only), as it
        prints it when it starts.
    workers
        Start a ``LocalCluster`` of this many single-threaded worker processes
        (``"distributed"`` only; default: one per core when no address is given).
    timeout_s
        Seconds to wait for a dask scheduler to answer at ``address``: one deadline for
        opening the connection, dask's handshake and a first exchange.

    Yields
    ------
    The ``distributed.Client`` in use, or None for the local schedulers.

    Raises
    ------
    ScenarioError
        An unknown scheduler, a combination that makes no sense, an ``address`` not of the
        form ``tcp://host:port`` or a ``timeout_s`` that is not a positive number.
    ClusterError
        Nothing answers as a dask scheduler at ``address`` within ``timeout_s``: nothing
        listens there, or what does stays silent, speaks another protocol (a web server)
        or is not the scheduler (a worker). Also a ``ConnectionError``. Or the local
        cluster cannot start.
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
    if address is not None and (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not 0 < timeout_s < float("inf")
    ):
        raise ScenarioError(f"timeout_s={timeout_s!r} must be a positive number of seconds")
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
    _quiet_abandoned_gathers()
    with ExitStack() as stack:
        if address is not None:
            address = address.strip()
            _probe_scheduler(address, timeout_s)
            try:
                client = Client(address, timeout=timeout_s, set_as_default=False)
            except Exception as exc:  # anything that fails while connecting: no usable cluster
                raise ClusterError(
                    f"cannot reach a dask scheduler at {address!r} within {timeout_s:g} s "
                    f"({type(exc).__name__}: {exc}). {_CLUSTER_FIX}"
                ) from exc
        else:
            try:
                cluster = LocalCluster(
                    n_workers=int(workers or os.cpu_count() or 1),
                    threads_per_worker=1,
                    processes=True,
                    # None still takes port 8787, and warns when it is in use: any free port.
                    dashboard_address=":0",
                    # A failure of the run reaches it as the client's exception; the
                    # workers' own logs repeat it, or are the cluster's teardown after an
                    # interrupt (tasks cancelled, transfers between workers cut).
                    silence_logs=logging.CRITICAL,
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


class _AbandonedGather(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for ``AllExit``: the client's
    signal to the gathers of a computation abandoned when it closes (an interrupted run),
    not an error of the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


def _quiet_abandoned_gathers() -> None:
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _AbandonedGather) for f in logger.filters):
        logger.addFilter(_AbandonedGather())
