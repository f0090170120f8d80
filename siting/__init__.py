"""siting: where to build edge compute next to clean energy.

The top level is small on purpose; everything else is imported from its module
(``siting.layers``, ``siting.constraints``, ``siting.scoring`` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from siting.grid import Grid

__version__ = "0.1.0"

__all__ = ["Grid", "Result", "Scenario", "__version__", "load_sample", "run"]

if TYPE_CHECKING:
    from siting.datasets import load_sample
    from siting.pipeline import Result, run
    from siting.scenario import Scenario

# Heavier parts load on first use, so `import siting` and the CLI start fast.
_LAZY = {
    "load_sample": "siting.datasets",
    "Result": "siting.pipeline",
    "run": "siting.pipeline",
    "Scenario": "siting.scenario",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'siting' has no attribute {name!r}")
