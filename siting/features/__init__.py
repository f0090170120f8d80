"""Derived layers computed from the stack and its vector context.

One module per family: :mod:`~siting.features.distance` (distance to grid features) for now;
interconnection cost, terrain and latency to population grow here.
"""

from __future__ import annotations

from siting.features.distance import distance_to_nearest

__all__ = ["distance_to_nearest"]
