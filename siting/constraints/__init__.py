"""Exclusion rules → ``availability``: the share of each cell where building is allowed.

- :mod:`~siting.constraints.rules`: rules on stack layers (values, ranges, weights,
  nodata, force-include, conditional extents) and how they combine; per-rule attribution.
- :mod:`~siting.constraints.vector`: setbacks and partly covering polygons.
- :mod:`~siting.constraints.contiguity`: minimum contiguous area, tile by tile.
"""

from __future__ import annotations

from siting.constraints.contiguity import label_components, min_cell_count, min_contiguous_area
from siting.constraints.rules import (
    Condition,
    Contiguity,
    ExclusionTerms,
    Rule,
    StoredAvailability,
    availability,
    exclusion_report,
    exclusion_terms,
    require_available,
    stored_availability,
)
from siting.constraints.vector import ParametricSetback, setback_factor

__all__ = [
    "Condition",
    "Contiguity",
    "ExclusionTerms",
    "ParametricSetback",
    "Rule",
    "StoredAvailability",
    "availability",
    "exclusion_report",
    "exclusion_terms",
    "label_components",
    "min_cell_count",
    "min_contiguous_area",
    "require_available",
    "setback_factor",
    "stored_availability",
]
