"""The worker plugin of :func:`siting.schedulers.malloc_tuning_plugin` (needs ``distributed``)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from siting.schedulers import tune_malloc


class MallocTuning(WorkerPlugin):
    """Apply :func:`~siting.schedulers.tune_malloc` on each worker as it starts."""

    name = "siting-malloc-tuning"
    idempotent = True

    def __init__(self, mmap_threshold: int, trim_threshold: int) -> None:
        self.mmap_threshold = int(mmap_threshold)
        self.trim_threshold = int(trim_threshold)

    def setup(self, worker: Any) -> None:
        tune_malloc(self.mmap_threshold, self.trim_threshold)
