"""Exclusion rules → ``availability``: the share of each cell where building is allowed.

- :mod:`~siting.constraints.rules`: rules on stack layers (values, ranges, weights, nodata)
  and how they combine.
"""

from __future__ import annotations

from siting.constraints.rules import Rule, availability, exclusion_report, require_available

__all__ = ["Rule", "availability", "exclusion_report", "require_available"]
