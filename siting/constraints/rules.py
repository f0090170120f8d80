"""Exclusion rules on stack layers, and how they combine into ``availability``.

A :class:`Rule` reads one layer and turns it into a *factor* per cell: the share of the cell
the rule leaves available. Factors multiply (an "and" of all rules, as in NREL reV's
original ``ExclusionMask``; ``combine="minimum"`` takes the most restrictive rule instead,
as recent reV releases do), so ``availability`` is in 0..1: 1 available, 0 excluded, 0.5
half available.

A rule's condition (``include_values``, ``exclude_values``, ``include_range`` or
``exclude_range``) splits cells into those it *includes* and those it *excludes*:

- included cells get the factor ``weight`` (default 1; reV's ``weight``: a layer that
  keeps only part of every cell it allows);
- excluded cells get the factor ``keep`` (default 0; partial exclusion: a layer that
  keeps, say, 50 % of every cell it excludes);
- a cell where the layer has no value gets what ``nodata`` says: ``"exclude"`` (treated as
  excluded), ``"include"`` (treated as included) or ``"ignore"`` (factor 1: the rule has
  nothing to say there). There is no default: missing data is never silently zero.

With ``use_as_weights=True`` the layer's own values (0..1) are the factor. A rule with
``where=Condition(...)`` applies only inside the extent where another layer meets a
condition (factor 1 elsewhere). A ``force_include`` rule overrides every other exclusion
on the cells its condition includes. Rules marked ``exempt_from_contiguity`` still
exclude, but do not split land into separate patches for the minimum-area filter.

Everything is elementwise, so it runs unchanged, tile by tile, on chunked (dask) stacks.
The rules work on the layers' raw arrays (numpy or dask) and wrap the result once: the
layers of a stack share one grid, so xarray's alignment on every operation would only cost
time.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeGuard

import numpy as np
import pandas as pd
import xarray as xr

from siting.errors import ConstraintError, GridError, NoFeasibleSitesError
from siting.grid import Grid

if TYPE_CHECKING:
    from siting.scenario import ConditionSpec, RuleSpec

__all__ = [
    "Condition",
    "Contiguity",
    "ExclusionTerms",
    "Rule",
    "StoredAvailability",
    "availability",
    "exclusion_report",
    "exclusion_terms",
    "require_available",
    "stored_availability",
]

NodataMeaning = Literal["exclude", "include", "ignore"]
_CONDITIONS = ("include_values", "exclude_values", "include_range", "exclude_range")


def _as_tuple(values: Iterable[float] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def _namespace(values: Any) -> Any:
    """``dask.array`` for a dask array, else ``numpy``: the functions that fit ``values``."""
    if type(values).__module__.startswith("dask"):
        import dask.array as da

        return da
    return np


def _missing(values: Any) -> Any:
    xp = _namespace(values)
    if np.dtype(values.dtype).kind != "f":
        return xp.zeros(values.shape, dtype=bool)  # integers cannot hold NaN
    return xp.isnan(values)


def _isin(values: Any, listed: tuple[float, ...]) -> Any:
    """``isin`` for a rule's value list: a few equality tests beat a general set lookup."""
    if len(listed) > 8:
        return _namespace(values).isin(values, list(listed))
    hit = values == listed[0]
    for value in listed[1:]:
        hit |= values == value
    return hit


def _like(values: Any, template: xr.DataArray) -> xr.DataArray:
    """``values`` (an array shaped like ``template``) as a DataArray with its coordinates."""
    return xr.DataArray(values, coords=template.coords, dims=template.dims)


@dataclass(frozen=True)
class Condition:
    """Which cells of a layer a condition includes.

    Exactly one of the four forms is given; ranges are inclusive ``(low, high)`` and may use
    ``float("inf")`` for an open end.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> data = xr.DataArray(np.array([[1.0, 5.0, 20.0, np.nan]]), dims=("y", "x"))
    >>> Condition("slope", include_range=(0, 10)).includes(data).values.tolist()
    [[True, True, False, False]]
    """

    layer: str
    include_values: tuple[float, ...] | None = None
    exclude_values: tuple[float, ...] | None = None
    include_range: tuple[float, float] | None = None
    exclude_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in _CONDITIONS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _as_tuple(value))
        given = self.given()
        if len(given) != 1:
            raise ConstraintError(
                f"condition on {self.layer!r}: give exactly one of include_values, "
                f"exclude_values, include_range, exclude_range (got {given or 'none'})"
            )
        for name in ("include_range", "exclude_range"):
            bounds = getattr(self, name)
            if bounds is None:
                continue
            if len(bounds) != 2 or any(math.isnan(b) for b in bounds) or bounds[0] > bounds[1]:
                raise ConstraintError(
                    f"condition on {self.layer!r}: {name}={list(bounds)} must be [low, high] "
                    "with low <= high (use inf or -inf for an open end)"
                )
        for name in ("include_values", "exclude_values"):
            values = getattr(self, name)
            if values is not None and not values:
                raise ConstraintError(f"condition on {self.layer!r}: {name} is empty")

    def given(self) -> list[str]:
        """Names of the condition forms that are set."""
        return [name for name in _CONDITIONS if getattr(self, name) is not None]

    @property
    def values(self) -> tuple[float, ...] | None:
        """The listed values of a value condition (None for ranges)."""
        return self.include_values if self.include_values is not None else self.exclude_values

    def includes(self, data: xr.DataArray) -> xr.DataArray:
        """True where the condition includes the cell (never on a missing value)."""
        return _like(self.includes_array(data.data), data)

    def includes_array(self, values: Any) -> Any:
        """:meth:`includes` on a plain numpy or dask array."""
        xp = _namespace(values)
        if self.include_values is not None:
            hit = _isin(values, self.include_values)
        elif self.exclude_values is not None:
            hit = ~_isin(values, self.exclude_values)
        elif self.include_range is not None:
            low, high = self.include_range
            hit = (values >= low) & (values <= high)
        else:
            low, high = self.exclude_range  # type: ignore[misc]
            hit = (values < low) | (values > high)
        # NaN compares False with everything, so only the negated forms can include it.
        if self.exclude_values is not None and np.dtype(values.dtype).kind == "f":
            hit &= ~xp.isnan(values)
        return hit

    def describe(self) -> str:
        name = self.given()[0]
        shown = [_number(v) for v in getattr(self, name)]
        return f"{self.layer} {name.replace('_', ' ')} {shown}"

    @classmethod
    def from_spec(cls, spec: ConditionSpec) -> Condition:
        return cls(
            layer=spec.layer,
            include_values=_as_tuple(spec.include_values),
            exclude_values=_as_tuple(spec.exclude_values),
            include_range=_as_tuple(spec.include_range),  # type: ignore[arg-type]
            exclude_range=_as_tuple(spec.exclude_range),  # type: ignore[arg-type]
        )


def _number(value: float) -> float | int | str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class Rule:
    """One exclusion rule on one layer (see the module docstring for the semantics).

    Parameters
    ----------
    layer
        Name of the stack layer the rule reads.
    nodata
        What a missing value means here: ``"exclude"``, ``"include"`` or ``"ignore"``.
    include_values, exclude_values, include_range, exclude_range
        The condition (exactly one, unless ``use_as_weights``).
    use_as_weights
        Use the layer's values (0..1) as the factor instead of a condition.
    weight
        Factor of the cells the rule includes (0..1, default 1).
    keep
        Factor of the cells the rule excludes (0..1, default 0): partial exclusion.
    force_include
        The cells this rule includes are available whatever other rules say.
    where
        Apply the rule only where this condition on another layer holds.
    exempt_from_contiguity
        Exclude, but do not split patches for the minimum-area filter.
    name
        A label for reports (default: a description of the rule).

    Examples
    --------
    >>> from siting.testing import small_grid
    >>> slope = small_grid(shape=(1, 4)).to_xarray(fill_value=0.0)
    >>> slope[:] = [[1.0, 5.0, 20.0, float("nan")]]
    >>> rule = Rule("slope", include_range=(0, 10), nodata="exclude", keep=0.25)
    >>> rule.factor(slope).values.tolist()
    [[1.0, 1.0, 0.25, 0.25]]
    """

    layer: str
    nodata: NodataMeaning
    include_values: tuple[float, ...] | None = None
    exclude_values: tuple[float, ...] | None = None
    include_range: tuple[float, float] | None = None
    exclude_range: tuple[float, float] | None = None
    use_as_weights: bool = False
    weight: float = 1.0
    keep: float = 0.0
    force_include: bool = False
    where: Condition | None = None
    exempt_from_contiguity: bool = False
    name: str | None = None
    condition: Condition | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.nodata not in ("exclude", "include", "ignore"):
            raise ConstraintError(
                f"rule on {self.layer!r}: nodata={self.nodata!r}; say what a missing value "
                "means with nodata='exclude', 'include' or 'ignore'"
            )
        for name in ("weight", "keep"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ConstraintError(
                    f"rule on {self.layer!r}: {name}={value!r} must be a share between 0 and 1"
                )
        given = [n for n in _CONDITIONS if getattr(self, n) is not None]
        if self.use_as_weights:
            if given:
                raise ConstraintError(
                    f"rule on {self.layer!r}: use_as_weights takes the layer's values as the "
                    f"factor, so it cannot also have {given}; remove one of them"
                )
            if self.force_include:
                raise ConstraintError(
                    f"rule on {self.layer!r}: a weights layer cannot force-include"
                )
            condition = None
        else:
            condition = Condition(
                self.layer,
                include_values=self.include_values,
                exclude_values=self.exclude_values,
                include_range=self.include_range,
                exclude_range=self.exclude_range,
            )
            for n in _CONDITIONS:
                object.__setattr__(self, n, getattr(condition, n))
        if self.force_include and (
            self.exclude_values is not None or self.exclude_range is not None
        ):
            raise ConstraintError(
                f"rule on {self.layer!r}: a force_include rule names what to include; use "
                "include_values or include_range"
            )
        object.__setattr__(self, "condition", condition)

    @classmethod
    def from_spec(cls, spec: RuleSpec) -> Rule:
        """Build a rule from its scenario form.

        A vector rule becomes a weights rule on the factor layer made for it
        (``spec.stack_layer``, see :func:`~siting.constraints.setback_factor`).
        """
        where = None if spec.where is None else Condition.from_spec(spec.where)
        if spec.vector is not None:
            distance = spec.setback_distance_m
            how = "share outside" if spec.partial else "cell centres beyond"
            return cls(
                layer=spec.stack_layer,
                nodata="ignore",
                use_as_weights=True,
                weight=spec.weight,
                where=where,
                exempt_from_contiguity=spec.exempt_from_contiguity,
                name=spec.name or f"setback {distance:g} m from {spec.vector} ({how})",
            )
        return cls(
            layer=spec.layer or "",
            nodata=spec.nodata or "exclude",  # the scenario requires it for layer rules
            include_values=_as_tuple(spec.include_values),
            exclude_values=_as_tuple(spec.exclude_values),
            include_range=_as_tuple(spec.include_range),  # type: ignore[arg-type]
            exclude_range=_as_tuple(spec.exclude_range),  # type: ignore[arg-type]
            use_as_weights=spec.use_as_weights,
            weight=spec.weight,
            keep=spec.keep,
            force_include=spec.force_include,
            where=where,
            exempt_from_contiguity=spec.exempt_from_contiguity,
            name=spec.name,
        )

    @property
    def description(self) -> str:
        """A short human-readable statement of the rule."""
        if self.name:
            return self.name
        text = (
            f"{self.layer} used as weights"
            if self.condition is None
            else ("force include: " if self.force_include else "") + self.condition.describe()
        )
        extras = [f"nodata {self.nodata}"]
        if self.weight != 1.0:
            extras.append(f"weight {self.weight:g}")
        if self.keep:
            extras.append(f"keep {self.keep:g}")
        if self.where is not None:
            extras.append(f"only where {self.where.describe()}")
        return f"{text} ({', '.join(extras)})"

    def includes(self, data: xr.DataArray) -> xr.DataArray:
        """True where the rule's condition includes the cell (nodata as ``nodata`` says)."""
        return _like(self._includes(data.data), data)

    def excludes(self, data: xr.DataArray) -> xr.DataArray:
        """True where the rule removes any share of the cell."""
        return self.factor(data) < 1.0

    def factor(self, data: xr.DataArray, *, extent: xr.DataArray | None = None) -> xr.DataArray:
        """Share of each cell this rule leaves available (float32, 0..1).

        ``extent`` is the boolean layer of the ``where`` condition; outside it the factor is 1.
        """
        inside = None if extent is None else extent.data
        return _like(self.factor_array(data.data, extent=inside), data)

    def forced(self, data: xr.DataArray, *, extent: xr.DataArray | None = None) -> xr.DataArray:
        """For a force-include rule: the availability it guarantees (0 where it says nothing)."""
        inside = None if extent is None else extent.data
        return _like(self.forced_array(data.data, extent=inside), data)

    def _includes(self, values: Any) -> Any:
        xp = _namespace(values)
        if self.condition is None:
            filled = xp.where(_missing(values), 1.0 if self.nodata != "exclude" else 0.0, values)
            return filled > 0
        hit = self.condition.includes_array(values)
        return hit | _missing(values) if self.nodata == "include" else hit

    def factor_array(self, values: Any, *, extent: Any = None) -> Any:
        """:meth:`factor` on a plain numpy or dask array (``extent`` likewise)."""
        return self._factor(values, extent=extent).astype("float32", copy=False)

    def _factor(self, values: Any, *, extent: Any = None) -> Any:
        """The factor, as a boolean array when every cell gets 0 or 1 (a binary rule).

        Booleans combine with ``&`` at a quarter of the memory traffic of float32 products;
        :func:`availability` converts to float32 once, at the end.
        """
        xp = _namespace(values)
        if self.condition is not None and self.weight == 1 and self.keep == 0:
            hit = self.condition.includes_array(values)  # never includes a missing cell
            if self.nodata != "exclude":  # "include" and "ignore" both give a factor of 1
                hit = hit | _missing(values)
            return hit if extent is None else hit | ~extent
        weight, keep = np.float32(self.weight), np.float32(self.keep)
        if self.condition is None:
            scaled = xp.clip(values, 0.0, 1.0).astype("float32") * weight
            fill = np.float32(0.0 if self.nodata == "exclude" else 1.0)
            result = xp.where(_missing(values), fill, scaled)
        else:
            # The condition never includes a missing cell, so missing cells get ``keep``
            # here; a second pass is needed only when nodata means something else.
            hit = self.condition.includes_array(values)
            if weight == 1 and keep == 0:
                result = hit.astype("float32")
            else:
                result = xp.where(hit, weight, keep)
            nodata_factor = {"exclude": keep, "include": weight, "ignore": np.float32(1.0)}[
                self.nodata
            ]
            if nodata_factor != keep:
                result = xp.where(_missing(values), nodata_factor, result)
        if extent is not None:
            result = xp.where(extent, result, np.float32(1.0))
        return result.astype("float32", copy=False)

    def forced_array(self, values: Any, *, extent: Any = None) -> Any:
        """:meth:`forced` on a plain numpy or dask array (``extent`` likewise)."""
        xp = _namespace(values)
        guaranteed = xp.where(self._includes(values), np.float32(self.weight), np.float32(0.0))
        if extent is not None:
            guaranteed = xp.where(extent, guaranteed, np.float32(0.0))
        return guaranteed.astype("float32", copy=False)


@dataclass(frozen=True)
class Contiguity:
    """Minimum contiguous area: patches of available land smaller than this are dropped.

    A patch is a set of cells with availability > 0 connected by ``"rook"`` (4 neighbours)
    or ``"queen"`` (8 neighbours, NREL reV's default) adjacency. A patch survives if its
    number of cells is at least ``ceil(min_area_km2 / cell area)`` (reV counts cells).
    """

    min_area_km2: float
    connectivity: Literal["rook", "queen"] = "queen"

    def __post_init__(self) -> None:
        value = self.min_area_km2
        if isinstance(value, bool) or not (
            isinstance(value, int | float) and math.isfinite(value) and value >= 0
        ):
            raise ConstraintError(
                f"min_area_km2={self.min_area_km2!r} must be an area in km² >= 0"
            )
        if self.connectivity not in ("rook", "queen"):
            raise ConstraintError(
                f"connectivity={self.connectivity!r}; use 'rook' (4 neighbours) or 'queen' (8)"
            )


def _layer(stack: xr.Dataset, name: str, what: str) -> xr.DataArray:
    if name not in stack:
        raise ConstraintError(
            f"{what} reads layer {name!r}, which is not in the stack; layers present: "
            f"{sorted(map(str, stack.data_vars))}. Add the layer to the scenario or fix the name."
        )
    return stack[name]


def _values_to_check(rule: Rule, data: xr.DataArray) -> np.ndarray | None:
    """The values of a value rule on a categorical layer, which must occur in the layer."""
    condition = rule.condition
    if condition is None or condition.values is None or data.attrs.get("kind") != "categorical":
        return None
    return np.asarray(condition.values)


def _check_values_occur(rule: Rule, data: xr.DataArray) -> None:
    """Catch a value rule on a categorical layer none of whose values occurs: a typo, or a
    region without them.

    A rule keeping only those values would leave nothing, an error. A rule excluding (or
    forcing in) values a region lacks is sound, as protected land in a region with none,
    and it does nothing: a warning, for the typo it may be.
    """
    values = _values_to_check(rule, data)
    if values is None:
        return
    if _namespace(data.data) is np:
        present = np.unique(data.values)
    else:  # tile by tile: a lazy layer is never loaded whole
        import dask.array as da

        present = np.unique(da.unique(data.data).compute())
    present = present[np.isfinite(present)]
    if np.isin(values, present).any():
        return
    shown = [_number(v) for v in present[:20]]
    absent = (
        f"rule {rule.description!r}: none of the values {list(map(_number, values))} "
        f"occurs in the categorical layer {rule.layer!r} (values present: {shown})"
    )
    if rule.include_values is not None and not rule.force_include:
        raise ConstraintError(
            f"{absent}, so it leaves nothing available. Check the codes of the layer's legend."
        )
    warnings.warn(
        f"{absent}, so it changes nothing. If the region should hold them, check the codes "
        "of the layer's legend.",
        UserWarning,
        stacklevel=2,
    )


@dataclass(frozen=True)
class _Step:
    rule: Rule
    value: Any  # array: the factor, or for a force-include rule the guaranteed share

    @property
    def forces(self) -> bool:
        return self.rule.force_include


def _steps(stack: xr.Dataset, rules: Iterable[Rule], *, check: bool) -> Iterator[_Step]:
    for rule in rules:
        data = _layer(stack, rule.layer, f"rule {rule.description!r}")
        if check:
            _check_values_occur(rule, data)
        extent = None
        if rule.where is not None:
            where_data = _layer(
                stack, rule.where.layer, f"the 'where' of rule {rule.description!r}"
            )
            extent = rule.where.includes_array(where_data.data)
        if rule.force_include:
            yield _Step(rule, rule.forced_array(data.data, extent=extent))
        else:
            yield _Step(rule, rule._factor(data.data, extent=extent))


Combination = Literal["multiply", "minimum"]


def _combine(a: Any, b: Any, how: Combination) -> Any:
    if a.dtype == bool and b.dtype == bool:
        return a & b  # both binary: "multiply" and "minimum" agree
    return a * b if how == "multiply" else _namespace(a).minimum(a, b)


def _product(arrays: Sequence[Any], template: Any, how: Combination = "multiply") -> Any:
    if not arrays:
        return _namespace(template).ones_like(template, dtype=bool)
    result = arrays[0]
    for array in arrays[1:]:
        result = _combine(result, array, how)
    return result


def _at_least(array: Any, floor: Any) -> Any:
    return _namespace(array).maximum(array, floor)


def _check_within(stack: xr.Dataset, within: xr.DataArray | None) -> None:
    if within is not None and Grid.from_xarray(within) != Grid.from_xarray(stack):
        raise GridError(
            f"the region mask is on {Grid.from_xarray(within)!r} but the stack is on "
            f"{Grid.from_xarray(stack)!r}; rasterize the region onto the stack's grid"
        )


def availability(
    stack: xr.Dataset,
    rules: Iterable[Rule],
    *,
    within: xr.DataArray | None = None,
    contiguity: Contiguity | None = None,
    combine: Combination = "multiply",
    check: bool = True,
) -> xr.DataArray:
    """Share of each cell available for building (float32, 1 available, 0 excluded).

    Parameters
    ----------
    stack
        The layer stack (all layers on one grid).
    rules
        The rules; their factors multiply, then force-include rules raise cells to what
        they guarantee.
    within
        Optional boolean layer (True inside the study region); cells outside are excluded.
    contiguity
        Optional minimum contiguous area, applied last.
    combine
        How factors combine: ``"multiply"`` (independent partial exclusions compound; the
        original reV ``ExclusionMask``) or ``"minimum"`` (the most restrictive rule wins;
        recent reV releases). They agree whenever at most one factor of a cell is
        fractional, as in every binary mask.
    check
        Refuse a value rule on a categorical layer when none of its values occurs.

    Returns
    -------
    xarray.DataArray
        ``availability`` on the stack's grid, lazy if the stack is.
    """
    full, connect = _before_contiguity(stack, rules, within=within, combine=combine, check=check)
    result = full
    if _filters(contiguity):
        from siting.constraints.contiguity import min_contiguous_area

        result = min_contiguous_area(
            full,
            min_area_km2=contiguity.min_area_km2,
            connectivity=contiguity.connectivity,
            connect=connect,
        )
    return _as_availability(result)


def _filters(contiguity: Contiguity | None) -> TypeGuard[Contiguity]:
    return contiguity is not None and contiguity.min_area_km2 > 0


def _before_contiguity(
    stack: xr.Dataset,
    rules: Iterable[Rule],
    *,
    within: xr.DataArray | None,
    combine: Combination,
    check: bool,
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Every rule's availability, and what the contiguity filter's patches are made of.

    The second is None when no rule is exempt from contiguity (the patches are those of
    the first); otherwise it is the availability without the exempt rules.
    """
    template = next(iter(stack.data_vars.values()), None)
    if template is None:
        raise ConstraintError("the stack has no layers to apply rules to")
    _check_within(stack, within)
    steps = list(_steps(stack, rules, check=check))
    factors = [s for s in steps if not s.forces]
    if combine not in ("multiply", "minimum"):
        raise ConstraintError(f"combine={combine!r}; use 'multiply' or 'minimum'")
    base = _product(
        [s.value for s in factors if not s.rule.exempt_from_contiguity], template.data, combine
    )
    exempt = [s.value for s in factors if s.rule.exempt_from_contiguity]
    full = _product([base, *exempt], template.data, combine) if exempt else base
    for step in steps:
        if step.forces:
            base = _at_least(base, step.value)
            full = _at_least(full, step.value)
    grid = Grid.from_xarray(stack)
    if within is not None:
        inside = within.data.astype(bool)
        xp = _namespace(full)
        base = xp.where(inside, base, np.float32(0))
        full = xp.where(inside, full, np.float32(0))
    coords = {"y": template["y"], "x": template["x"]}

    def raster(data: Any) -> xr.DataArray:
        return grid.georeference(xr.DataArray(data, coords=coords, dims=("y", "x")))

    return raster(full), raster(base) if exempt else None


def _as_availability(result: xr.DataArray) -> xr.DataArray:
    grid = Grid.from_xarray(result)
    result = result.astype("float32", copy=False)
    result.name = "availability"
    result.attrs = {"long_name": "share of the cell available for building", "units": "1"}
    return grid.georeference(result)


def stored_availability(
    stack: xr.Dataset,
    rules: Sequence[Rule],
    folder: Path,
    *,
    within: xr.DataArray | None = None,
    contiguity: Contiguity | None = None,
    combine: Combination = "multiply",
    layers: Sequence[str] = (),
) -> StoredAvailability:
    """:func:`availability` and its :func:`exclusion_report`, computing each rule once.

    For a chunked (dask) stack. The availability is computed tile by tile into
    ``folder`` and read back lazily (:func:`siting.checkpoint.checkpoint`): later passes
    read compressed tiles instead of evaluating the rules again. The tasks that evaluate
    the rules also sum the report's areas and, with a contiguity filter, label each
    tile's patches, so the rules (setbacks included) run once per tile; the filter then
    reads those tiles back.

    Parameters
    ----------
    stack, rules, within, contiguity, combine
        As in :func:`availability`; the stack's layers are dask arrays.
    folder
        An existing folder for the tile files, kept for as long as the stored availability
        is read (the caller removes it, e.g. with :func:`siting.checkpoint.scratch_folder`).
    layers
        Names of stack layers to store as well, in the same pass: layers that cost more to
        compute than to read, such as the setback factors the rules read (a distance
        measured for each cell), which later passes then read instead.

    Returns
    -------
    StoredAvailability
        ``availability`` reading the tiles, the exclusion ``report``, ``from_inputs``:
        the same availability computed from the stack when read, for once the folder is
        gone, and the stored ``layers`` reading their tiles.

    Raises
    ------
    ConstraintError
        If the stack is in memory (use :func:`availability`), if a name of ``layers`` is
        not in the stack, or for the reasons :func:`availability` gives.
    GridError
        If ``within`` is on another grid than the stack.
    """
    from siting.checkpoint import checkpoint, store

    rules = list(rules)
    # The values of value rules are checked by the pass itself, not by passes of their own.
    full, connect = _before_contiguity(stack, rules, within=within, combine=combine, check=False)
    if full.chunks is None:
        raise ConstraintError(
            "stored_availability works on a chunked stack; use availability() in memory"
        )
    missing = [name for name in layers if name not in stack]
    if missing:
        raise ConstraintError(
            f"layers {missing} to store are not in the stack; its layers: "
            f"{sorted(map(str, stack.data_vars))}"
        )
    extra = [stack[name] for name in layers]
    terms = exclusion_terms(stack, rules, within=within, combine=combine)
    checks = _ValueChecks(stack, rules)
    sums = [*terms.terms, *checks.counts]
    if not _filters(contiguity):
        lazy = _as_availability(full)
        stored = store([lazy, *extra], folder, sums=sums)
        checks.verify(stored.totals[len(terms.terms) :])
        result, *read = stored.rasters
        totals = stored.totals[: len(terms.terms)]
        return StoredAvailability(result, terms.table(totals), lazy, _by_name(layers, read))

    from siting.constraints.contiguity import _min_contiguous_area, _tile_summarizer

    rasters = [full] if connect is None else [full, connect > 0]
    rules_pass = store(
        [*rasters, *extra],
        folder,
        sums=sums,
        summarize=_tile_summarizer(contiguity.connectivity, position=len(rasters) - 1),
        name="rules",
    )
    checks.verify(rules_pass.totals[len(terms.terms) :])
    rules_totals = rules_pass.totals[: len(terms.terms)]

    def filtered(availability: xr.DataArray, patches: xr.DataArray | None) -> xr.DataArray:
        kept = _min_contiguous_area(
            availability,
            min_area_km2=contiguity.min_area_km2,
            connectivity=contiguity.connectivity,
            connect=patches,
            summaries=rules_pass.summaries,
        )
        return _as_availability(kept)

    read_back = filtered(rules_pass.rasters[0], None if connect is None else rules_pass.rasters[1])
    result, (kept,) = checkpoint(read_back, folder, sums=[read_back.data])
    # What the later passes read is in the new tiles, and in the stored layers' own.
    rules_pass.discard(range(len(rasters)))
    before = rules_totals[-1]
    report = _with_contiguity(terms, contiguity, result.data).table(
        [*rules_totals, before - kept, kept]
    )
    stored_layers = _by_name(layers, rules_pass.rasters[len(rasters) :])
    return StoredAvailability(result, report, filtered(full, connect), stored_layers)


def _by_name(names: Sequence[str], rasters: Sequence[xr.DataArray]) -> dict[str, xr.DataArray]:
    return dict(zip(names, rasters, strict=True))


class _ValueChecks:
    """:func:`_check_values_occur` for every value rule on a categorical layer, from counts
    of the cells holding the rule's values that a pass over the tiles sums."""

    def __init__(self, stack: xr.Dataset, rules: Sequence[Rule]) -> None:
        self.checked: list[tuple[Rule, xr.DataArray]] = []
        self.counts: list[Any] = []
        for rule in rules:
            data = stack[rule.layer]
            values = _values_to_check(rule, data)
            if values is not None:
                self.checked.append((rule, data))
                self.counts.append(_namespace(data.data).isin(data.data, values))

    def verify(self, totals: Sequence[float] | np.ndarray) -> None:
        """Raise for the first rule none of whose values occurs (its count is 0)."""
        for (rule, data), total in zip(self.checked, totals, strict=True):
            if total == 0:
                _check_values_occur(rule, data)  # finds the values present, and raises


class StoredAvailability(NamedTuple):
    """What :func:`stored_availability` returns."""

    availability: xr.DataArray  #: read from the folder's tiles
    report: pd.DataFrame  #: as :func:`exclusion_report` makes it
    #: the same availability computed from the stack when read (rules included): for use
    #: after the folder is gone. The patch sizes are known, so it is one pass per read.
    from_inputs: xr.DataArray
    #: the stack layers asked for, each read from its own tiles in the folder
    layers: dict[str, xr.DataArray]


class ExclusionTerms(NamedTuple):
    """What :func:`exclusion_report` sums, to be summed alongside other work.

    ``terms`` are arrays on the stack's grid (lazy on a lazy stack); their float64 totals,
    in order, make the report through :meth:`table`.
    """

    labels: list[str]
    terms: list[Any]
    cell_km2: float

    def table(self, totals: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """The report from the totals of :attr:`terms`."""
        if len(totals) != len(self.terms):
            raise ValueError(f"{len(self.terms)} totals expected, got {len(totals)}")
        rows = []
        previous = float(totals[0])
        for i, label in enumerate(self.labels):
            removed_alone, available = float(totals[1 + 2 * i]), float(totals[2 + 2 * i])
            rows.append(
                {
                    "rule": label,
                    "excluded_alone_km2": removed_alone * self.cell_km2,
                    "excluded_in_sequence_km2": (previous - available) * self.cell_km2,
                    "available_km2": available * self.cell_km2,
                }
            )
            previous = available
        columns = ["rule", "excluded_alone_km2", "excluded_in_sequence_km2", "available_km2"]
        return pd.DataFrame(rows, columns=columns)


def exclusion_report(
    stack: xr.Dataset,
    rules: Sequence[Rule],
    *,
    within: xr.DataArray | None = None,
    contiguity: Contiguity | None = None,
    combine: Combination = "multiply",
    result: xr.DataArray | None = None,
) -> pd.DataFrame:
    """How much area each rule removes, alone and in sequence (in rule order).

    One row per rule, then one for the minimum-area filter when given: ``rule``,
    ``excluded_alone_km2`` (what the rule removes from the whole region by itself),
    ``excluded_in_sequence_km2`` (what it removes after the rules before it; negative for
    a force-include rule, which adds area back), and ``available_km2`` after the step.
    Partial factors count partially (a cell kept at 0.5 loses half its area).

    ``result`` is the availability already computed by :func:`availability` with the same
    arguments, so the minimum-area filter is not run a second time.
    """
    import dask

    report = exclusion_terms(
        stack, rules, within=within, contiguity=contiguity, combine=combine, result=result
    )
    # Sums in float64: float32 accumulators lose cells on large grids.
    totals = dask.compute(*(term.sum(dtype="float64") for term in report.terms))
    return report.table([float(v) for v in totals])


def exclusion_terms(
    stack: xr.Dataset,
    rules: Sequence[Rule],
    *,
    within: xr.DataArray | None = None,
    contiguity: Contiguity | None = None,
    combine: Combination = "multiply",
    result: xr.DataArray | None = None,
) -> ExclusionTerms:
    """The arrays :func:`exclusion_report` sums (same arguments), not yet summed.

    For a chunked run that sums them in the same pass as other work over the same tiles
    (:func:`siting.checkpoint.checkpoint`): ``terms.table(totals)`` is then the report.
    """
    grid = Grid.from_xarray(stack)
    _check_within(stack, within)
    template = next(iter(stack.data_vars.values())).data
    xp = _namespace(template)
    inside = (
        xp.ones_like(template, dtype="float32")
        if within is None
        else within.data.astype("float32")
    )
    running = inside
    terms: list[Any] = [inside]
    labels: list[str] = []
    for step in _steps(stack, rules, check=False):
        if step.forces:
            alone = inside * np.float32(0)  # adds back only what other rules removed
            after = _at_least(running, step.value * inside)
        else:
            factor = step.value.astype("float32", copy=False)
            alone = inside * (1 - factor)
            after = _combine(running, factor, combine)
        terms += [alone, after]
        running = after
        labels.append(step.rule.description)
    before = ExclusionTerms(labels, terms, grid.cell_area_m2 / 1e6)
    if not _filters(contiguity):
        return before
    final = result
    if final is None:
        final = availability(
            stack, rules, within=within, contiguity=contiguity, combine=combine, check=False
        )
    return _with_contiguity(before, contiguity, final.data)


def _with_contiguity(terms: ExclusionTerms, contiguity: Contiguity, final: Any) -> ExclusionTerms:
    """``terms`` and the contiguity filter's row, from the ``final`` availability."""
    running = terms.terms[-1]
    label = f"minimum contiguous area {contiguity.min_area_km2:g} km² ({contiguity.connectivity})"
    return ExclusionTerms(
        [*terms.labels, label], [*terms.terms, running - final, final], terms.cell_km2
    )


def require_available(avail: xr.DataArray, *, rules: Sequence[Rule] = ()) -> None:
    """Raise :class:`NoFeasibleSitesError` when no cell is available at all."""
    if not bool((avail > 0).any()):
        listed = "; ".join(r.description for r in rules) or "(no rules)"
        raise NoFeasibleSitesError(
            f"every cell of the region is excluded, so there is nothing to rank. Rules: {listed}. "
            "Relax a rule, check each rule's nodata meaning, or enlarge the region."
        )
