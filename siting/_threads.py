"""Values each thread builds for itself, for what must not be shared between threads.

GEOS prepared geometries build their indexes lazily and keep scratch state while a
predicate runs, so two threads using one prepared geometry can crash the process. Some
shapely functions (``contains_xy``, ``intersects_xy``) prepare their geometry in place,
so a geometry shared by the tiles of a threaded run must not reach them either: each
thread works on its own copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely


class PerThread:
    """A value built once per thread. Pickles empty: each process builds its own."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, build: Callable[[], Any]) -> Any:
        value = getattr(self._local, "value", None)
        if value is None:
            value = self._local.value = build()
        return value

    def __reduce__(self) -> tuple[type[PerThread], tuple[()]]:
        return (PerThread, ())


def prepared_copies(geometries: np.ndarray) -> np.ndarray:
    """New, prepared geometries equal to ``geometries`` coordinate for coordinate."""
    copies = np.asarray(shapely.from_wkb(shapely.to_wkb(geometries)))
    shapely.prepare(copies)
    return copies
