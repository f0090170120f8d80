"""How far a ``dask.distributed`` cluster is through a client's latest computation.

dask's local callbacks do not run on a distributed cluster, whose tasks run in other
processes: a scheduler plugin counts them instead, per client, and the client asks it.
Imported only where ``distributed`` is.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["PassProgress", "progress_of", "watch"]


class PassProgress(SchedulerPlugin):
    """Per client: its latest graph's tasks, and how many of them are done."""

    name = "siting-pass-progress"
    idempotent = True  # registered again by each run on a long-lived cluster: kept as it is

    def __init__(self) -> None:
        self._graphs: dict[str, tuple[int, int, set[Any]]] = {}  # generation, total, pending

    def update_graph(
        self, scheduler: Any, *, client: str, tasks: list[Any], **kwargs: Any
    ) -> None:
        generation = self._graphs.get(client, (0, 0, set()))[0] + 1
        pending = {
            key
            for key in tasks
            if (state := scheduler.tasks.get(key)) is None or state.state not in _DONE
        }
        self._graphs[client] = (generation, len(tasks), pending)

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish in _DONE:
            for _, _, pending in self._graphs.values():
                pending.discard(key)

    def remove_client(self, scheduler: Any, client: str) -> None:
        self._graphs.pop(client, None)

    def state(self, client: str) -> tuple[int, int, int] | None:
        """``(generation, done, total)`` of the client's latest graph, or None."""
        if client not in self._graphs:
            return None
        generation, total, pending = self._graphs[client]
        return generation, total - len(pending), total


_DONE = ("memory", "erred")


def _state_on_scheduler(dask_scheduler: Any, client: str) -> tuple[int, int, int] | None:
    plugin = dask_scheduler.plugins.get(PassProgress.name)
    return None if plugin is None else plugin.state(client)


def progress_of(client: Any) -> tuple[int, int, int] | None:
    """``(generation, done, total)`` of ``client``'s latest computation on its cluster,
    registering the counting plugin on first use; None before its first computation."""
    return client.run_on_scheduler(_state_on_scheduler, client=client.id)


def watch(client: Any) -> None:
    """Start counting ``client``'s tasks on its scheduler (idempotent)."""
    client.register_plugin(PassProgress(), name=PassProgress.name)
