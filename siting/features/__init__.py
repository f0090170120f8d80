"""Derived layers computed from the stack and its vector context.

One module per family: :mod:`~siting.features.distance` (distance to grid features) and
:mod:`~siting.features.interconnection` (connection cost, capacity-aware assignment, substation
load headroom), :mod:`~siting.features.latency` (people within a round-trip budget) and
:mod:`~siting.features.climate` (24/7 clean-energy fit and cooling load per cell).
"""

from __future__ import annotations

from siting.features.climate import cfe_share_layer, cooling_layer, grid_centre_lonlat
from siting.features.distance import (
    distance_by_voltage,
    distance_to_nearest,
    distances_to_features,
    nearest_feature,
)
from siting.features.interconnection import (
    CapacityAssignment,
    CostModel,
    assign_capacity,
    cost_regions,
    flag_candidates,
    line_rating_mw,
    substation_headroom,
)
from siting.features.latency import (
    LatencyModel,
    population_within_latency,
    population_within_latency_raster,
)

__all__ = [
    "CapacityAssignment",
    "CostModel",
    "LatencyModel",
    "assign_capacity",
    "cfe_share_layer",
    "cooling_layer",
    "cost_regions",
    "distance_by_voltage",
    "distance_to_nearest",
    "distances_to_features",
    "flag_candidates",
    "grid_centre_lonlat",
    "line_rating_mw",
    "nearest_feature",
    "population_within_latency",
    "population_within_latency_raster",
    "substation_headroom",
]
