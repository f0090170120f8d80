"""The worker plugin of :func:`siting.schedulers.malloc_tuning_plugin` (needs ``distributed``)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from siting.schedulers import tune_malloc


class MallocTuning(WorkerPlugin):
    """Apply :func:`~siting.schedulers.tune_malloc` on each worker as it starts."""

    name = "siting-malloc-tuning"
    idempotent = True

    def __init__(self, threshold: int) -> None:
        self.threshold = int(threshold)

    def setup(self, worker: Any) -> None:
        tune_malloc(self.threshold)
