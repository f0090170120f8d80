"""Exclusion rules → ``availability``: the share of each cell where building is allowed.

Each :class:`Rule` looks at one layer of the stack and says which cells it excludes, and
what a missing value (nodata) means for it: ``"exclude"`` (unknown land is not buildable) or
``"ignore"`` (the rule has nothing to say there). Rules combine by intersection: a cell is
available only where no rule excludes it. Everything is elementwise on xarray, so it runs
unchanged on chunked (dask) stacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from siting.errors import ConstraintError, NoFeasibleSitesError
from siting.grid import Grid

if TYPE_CHECKING:
    from siting.scenario import RuleSpec

__all__ = ["Rule", "availability", "exclusion_report", "require_available"]

NodataMeaning = Literal["exclude", "ignore"]


@dataclass(frozen=True)
class Rule:
    """One exclusion rule on one layer.

    Exactly one of the four conditions is given. Ranges are inclusive ``(low, high)``; use
    ``float("inf")`` for an open end.

    Parameters
    ----------
    layer
        Name of the stack layer the rule reads.
    nodata
        What a missing value means here: ``"exclude"`` or ``"ignore"``. Required: the
        library never decides on its own what missing data means.
    include_values, exclude_values, include_range, exclude_range
        The condition. ``include_*`` keeps only matching cells; ``exclude_*`` removes them.

    Examples
    --------
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(1, 4))
    >>> slope = grid.to_xarray(fill_value=0.0)
    >>> slope[:] = [[1.0, 5.0, 20.0, float("nan")]]
    >>> Rule("slope", include_range=(0, 10), nodata="exclude").excludes(slope).values.tolist()
    [[False, False, True, True]]
    """

    layer: str
    nodata: NodataMeaning
    include_values: tuple[float, ...] | None = None
    exclude_values: tuple[float, ...] | None = None
    include_range: tuple[float, float] | None = None
    exclude_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        given = [
            name
            for name in ("include_values", "exclude_values", "include_range", "exclude_range")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ConstraintError(
                f"rule on {self.layer!r}: give exactly one of include_values, exclude_values, "
                f"include_range, exclude_range (got {given or 'none'})"
            )
        if self.nodata not in ("exclude", "ignore"):
            raise ConstraintError(
                f"rule on {self.layer!r}: nodata={self.nodata!r}; say what a missing value "
                "means with nodata='exclude' or nodata='ignore'"
            )
        for name in ("include_range", "exclude_range"):
            bounds = getattr(self, name)
            if bounds is not None and not (bounds[0] <= bounds[1]):
                raise ConstraintError(
                    f"rule on {self.layer!r}: {name}={bounds!r} must be (low, high), low <= high"
                )

    @classmethod
    def from_spec(cls, spec: RuleSpec) -> Rule:
        """Build a rule from its scenario form."""
        as_tuple = lambda v: None if v is None else tuple(v)  # noqa: E731
        return cls(
            layer=spec.layer,
            nodata=spec.nodata,
            include_values=as_tuple(spec.include_values),
            exclude_values=as_tuple(spec.exclude_values),
            include_range=as_tuple(spec.include_range),
            exclude_range=as_tuple(spec.exclude_range),
        )

    @property
    def description(self) -> str:
        """A short human-readable statement of the rule."""
        for name in ("include_values", "exclude_values", "include_range", "exclude_range"):
            value = getattr(self, name)
            if value is not None:
                shown = list(value)
                return f"{self.layer}: {name.replace('_', ' ')} {shown} (nodata: {self.nodata})"
        raise AssertionError("unreachable: __post_init__ guarantees one condition")

    def excludes(self, data: xr.DataArray) -> xr.DataArray:
        """Boolean layer, True where this rule excludes the cell."""
        missing = data.isnull()
        if self.include_values is not None:
            hit = ~data.isin(list(self.include_values))
        elif self.exclude_values is not None:
            hit = data.isin(list(self.exclude_values))
        elif self.include_range is not None:
            low, high = self.include_range
            hit = ~((data >= low) & (data <= high))
        else:
            low, high = self.exclude_range  # type: ignore[misc]
            hit = (data >= low) & (data <= high)
        # Comparisons with NaN are False, so the branch above never decides a missing cell.
        return xr.where(missing, self.nodata == "exclude", hit & ~missing)


def _layer(stack: xr.Dataset, rule: Rule) -> xr.DataArray:
    if rule.layer not in stack:
        raise ConstraintError(
            f"rule {rule.description!r} reads layer {rule.layer!r}, which is not in the stack; "
            f"layers present: {sorted(map(str, stack.data_vars))}"
        )
    return stack[rule.layer]


def availability(
    stack: xr.Dataset, rules: Iterable[Rule], *, within: xr.DataArray | None = None
) -> xr.DataArray:
    """Share of each cell available for building (float32; 1 available, 0 excluded).

    Parameters
    ----------
    stack
        The layer stack.
    rules
        Exclusion rules; a cell is available where no rule excludes it.
    within
        Optional boolean layer (True inside the study region); cells outside are excluded.

    Returns
    -------
    xarray.DataArray
        ``availability`` on the stack's grid, lazy if the stack is.
    """
    excluded: xr.DataArray | None = None
    for rule in rules:
        hit = rule.excludes(_layer(stack, rule))
        excluded = hit if excluded is None else excluded | hit
    template = next(iter(stack.data_vars.values()), None)
    if template is None:
        raise ConstraintError("the stack has no layers to apply rules to")
    result = xr.ones_like(template, dtype="float32")
    if excluded is not None:
        result = result.where(~excluded, np.float32(0))
    if within is not None:
        result = result.where(within.astype(bool), np.float32(0))
    result = result.astype("float32")
    result.name = "availability"
    result.attrs = {"long_name": "share of the cell available for building", "units": "1"}
    return Grid.from_xarray(stack).georeference(result)


def exclusion_report(
    stack: xr.Dataset, rules: Sequence[Rule], *, within: xr.DataArray | None = None
) -> pd.DataFrame:
    """How much each rule removes, alone and in sequence (in rule order).

    Returns a table with one row per rule: ``rule``, ``excluded_alone_km2`` (what the rule
    removes by itself from the region) and ``excluded_in_sequence_km2`` (what it adds after
    the rules before it), plus the cell counts.
    """
    grid = Grid.from_xarray(stack)
    cell_km2 = grid.cell_area_m2 / 1e6
    inside = np.ones(grid.shape, bool) if within is None else np.asarray(within.values, dtype=bool)
    removed = np.zeros(grid.shape, dtype=bool)
    rows = []
    for rule in rules:
        hit = np.asarray(rule.excludes(_layer(stack, rule)).values, dtype=bool) & inside
        new = hit & ~removed
        removed |= hit
        rows.append(
            {
                "rule": rule.description,
                "excluded_alone_cells": int(hit.sum()),
                "excluded_alone_km2": float(hit.sum() * cell_km2),
                "excluded_in_sequence_cells": int(new.sum()),
                "excluded_in_sequence_km2": float(new.sum() * cell_km2),
            }
        )
    return pd.DataFrame(rows)


def require_available(avail: xr.DataArray, *, rules: Sequence[Rule] = ()) -> None:
    """Raise :class:`NoFeasibleSitesError` when no cell is available at all."""
    if not bool((avail > 0).any()):
        listed = "; ".join(r.description for r in rules) or "(no rules)"
        raise NoFeasibleSitesError(
            f"every cell of the region is excluded, so there is nothing to rank. Rules: {listed}. "
            "Relax a rule, check each rule's nodata meaning, or enlarge the region."
        )
