"""The :class:`Scenario`: everything one run needs, validated, from TOML or Python.

A scenario names the region, the analysis grid, the input layers and vectors, the exclusion
rules, the features, the scorer, the ranking and the outputs. Relative paths are resolved
against the scenario file's folder (or ``base_dir``), so a scenario folder can be moved.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from siting._typing import PathLike
from siting.errors import ScenarioError
from siting.grid import US_EQUAL_AREA, as_crs

__all__ = [
    "AHPJudgementSpec",
    "CleanEnergyFeatureSpec",
    "ConditionSpec",
    "ContiguitySpec",
    "CoolingFeatureSpec",
    "CriterionSpec",
    "DistanceFeatureSpec",
    "EnergySpec",
    "GridSpec",
    "LatencyFeatureSpec",
    "LayerSpec",
    "OutputSpec",
    "PermittingSpec",
    "PortfolioSpec",
    "ProjectFactsSpec",
    "RankingSpec",
    "RasterizeSpec",
    "RegionSpec",
    "RuleSpec",
    "Scenario",
    "ScorerSpec",
    "SetbackSpec",
    "VectorSpec",
    "load_scenario",
]


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise.
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A field path below a model: names of fields and keys, and list positions.
_Loc = tuple[str | int, ...]


class _Problems:
    """The problems a validator of several fields finds, each at the field it concerns.

    A plain ``ValueError`` raised in a model validator is reported at the model itself, with
    the whole model's input as the value given. Each problem added here keeps its own path
    (relative to the model) and the value given there; :meth:`raise_all` raises them
    together as one :class:`~pydantic.ValidationError`, which pydantic places under the
    model's own path as it does for any error of a field.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.errors: list[InitErrorDetails] = []

    def add(self, loc: _Loc, value: Any, message: str) -> None:
        """A problem with the value ``value`` given at ``loc`` (``None``: not given)."""
        self.errors.append(
            {"type": "value_error", "loc": loc, "input": value, "ctx": {"error": message}}
        )

    def raise_all(self) -> None:
        """Raise every problem added, if any."""
        if self.errors:
            raise ValidationError.from_exception_data(self.title, self.errors)


def _plain(value: Any) -> Any:
    """A validated value as it was given: a table for a section, a list for a pair."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_defaults=True)
    if isinstance(value, tuple):
        return list(value)
    return value


def _check_crs(value: str) -> str:
    as_crs(value)
    return value


def _check_source(value: str | None) -> str | None:
    if value is None:
        return value
    from siting.datasets.catalog import catalog

    known = sorted(catalog())
    if value not in known:
        raise ValueError(f"{value!r} is not a source of the dataset catalog; known: {known}")
    return value


class RegionSpec(_Model):
    """The study area: ``bounds`` in ``crs``, or a vector file whose features' union it is."""

    bounds: tuple[float, float, float, float] | None = None
    crs: str | None = None
    path: Path | None = None
    layer: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RegionSpec:
        if (self.bounds is None) == (self.path is None):
            raise ValueError("give either 'bounds' (with 'crs') or 'path', not both or neither")
        problems = _Problems(type(self).__name__)
        if self.bounds is not None:
            if self.crs is None:
                problems.add(
                    ("crs",),
                    None,
                    "'bounds' needs 'crs' (for example 'EPSG:4326'); a CRS is never guessed",
                )
            else:
                try:
                    _check_crs(self.crs)
                except ValueError as exc:
                    problems.add(("crs",), self.crs, str(exc))
            left, bottom, right, top = self.bounds
            if not (left < right and bottom < top):
                problems.add(
                    ("bounds",),
                    list(self.bounds),
                    f"bounds {list(self.bounds)} must be [left, bottom, right, top] with "
                    "left < right and bottom < top",
                )
        problems.raise_all()
        return self


class GridSpec(_Model):
    """The analysis grid: an equal-area CRS and a cell size in metres."""

    crs: str = US_EQUAL_AREA
    resolution_m: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 250.0

    _crs_ok = field_validator("crs")(_check_crs)


class LayerSpec(_Model):
    """A raster input: a file, its kind (decides resampling) and optionally the resampling."""

    path: Path
    kind: Literal["continuous", "categorical"]
    resampling: Literal["nearest", "mode", "bilinear", "average", "cubic"] | None = None
    band: Annotated[int, Field(ge=1)] = 1
    #: The catalog source the file comes from (``siting datasets list``): the manifest
    #: records its licence and attribution.
    source: str | None = None

    _source_ok = field_validator("source")(_check_source)

    @model_validator(mode="after")
    def _resampling_fits_kind(self) -> LayerSpec:
        allowed = {
            "continuous": {"bilinear", "average", "cubic"},
            "categorical": {"nearest", "mode"},
        }
        if self.resampling is not None and self.resampling not in allowed[self.kind]:
            problems = _Problems(type(self).__name__)
            problems.add(
                ("resampling",),
                self.resampling,
                f"resampling {self.resampling!r} does not suit a {self.kind} layer; "
                f"use one of {sorted(allowed[self.kind])}",
            )
            problems.raise_all()
        return self


class VectorSpec(_Model):
    """A vector input (any OGR format); ``layer`` picks one layer of a multi-layer file."""

    path: Path
    layer: str | None = None
    #: The catalog source the file comes from, as for layers.
    source: str | None = None

    _source_ok = field_validator("source")(_check_source)


class RasterizeSpec(_Model):
    """Burn a column of a vector input into the stack as a layer."""

    vector: str
    column: str
    kind: Literal["continuous", "categorical"]


class ConditionSpec(_Model):
    """A condition on a layer (the ``where`` of a rule): exactly one form."""

    layer: str
    include_values: list[float] | None = None
    exclude_values: list[float] | None = None
    include_range: tuple[float, float] | None = None
    exclude_range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _valid(self) -> ConditionSpec:
        from siting.constraints import Condition
        from siting.errors import ConstraintError

        try:
            Condition.from_spec(self)
        except ConstraintError as exc:
            raise ValueError(str(exc)) from None
        return self


class SetbackSpec(_Model):
    """A setback that scales with the structure: multiplier x (hub height + rotor / 2)."""

    multiplier: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    hub_height_m: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    rotor_diameter_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


class RuleSpec(_Model):
    """An exclusion rule (see :mod:`siting.constraints` for the semantics).

    A *layer rule* names a stack ``layer``, a condition and what ``nodata`` means. A *vector
    rule* names a ``vector`` input and a setback (``setback_m`` or a parametric
    ``setback``; none means the features themselves, for polygons); ``partial = true``
    keeps the exact share of each cell outside it.
    """

    layer: str | None = None
    vector: str | None = None
    include_values: list[float] | None = None
    exclude_values: list[float] | None = None
    include_range: tuple[float, float] | None = None
    exclude_range: tuple[float, float] | None = None
    nodata: Literal["exclude", "include", "ignore"] | None = None
    use_as_weights: bool = False
    weight: Annotated[float, Field(ge=0, le=1)] = 1.0
    keep: Annotated[float, Field(ge=0, le=1)] = 0.0
    force_include: bool = False
    where: ConditionSpec | None = None
    exempt_from_contiguity: bool = False
    name: str | None = None
    setback_m: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    setback: SetbackSpec | None = None
    partial: bool = False

    @model_validator(mode="after")
    def _valid(self) -> RuleSpec:
        if (self.layer is None) == (self.vector is None):
            raise ValueError("a rule names either a 'layer' or a 'vector' (not both, not neither)")
        problems = _Problems(type(self).__name__)
        if self.vector is not None:
            conditions = ("include_values", "exclude_values", "include_range", "exclude_range")
            layer_only = [k for k in (*conditions, "nodata") if getattr(self, k) is not None]
            layer_only += [k for k in ("use_as_weights", "force_include") if getattr(self, k)]
            for key in layer_only:
                problems.add(
                    (key,),
                    _plain(getattr(self, key)),
                    "a vector rule excludes the features and their setback; it takes no "
                    "condition, nodata, use_as_weights or force_include",
                )
            if self.setback_m is not None and self.setback is not None:
                problems.add(
                    ("setback_m",),
                    self.setback_m,
                    "give 'setback_m' or a parametric 'setback', not both",
                )
            problems.raise_all()
            return self
        vector_only = [k for k in ("setback_m", "setback") if getattr(self, k) is not None]
        for key in [*vector_only, *(["partial"] if self.partial else [])]:
            problems.add(
                (key,),
                _plain(getattr(self, key)),
                "setback_m, setback and partial belong to vector rules",
            )
        if self.nodata is None:
            problems.add(
                ("nodata",),
                None,
                "say what a missing value means for this rule: nodata = 'exclude', "
                "'include' or 'ignore'",
            )
        problems.raise_all()
        from siting.constraints import Rule
        from siting.errors import ConstraintError

        try:
            Rule.from_spec(self)
        except ConstraintError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def setback_distance_m(self) -> float:
        """The setback of a vector rule in metres (0 when none is given)."""
        if self.setback is not None:
            from siting.constraints import ParametricSetback

            return ParametricSetback(**self.setback.model_dump()).distance_m
        return self.setback_m or 0.0

    @property
    def stack_layer(self) -> str:
        """The stack layer the rule reads (vector rules read the factor layer made for them)."""
        if self.layer is not None:
            return self.layer
        return self.name or f"setback_{self.vector}"


class ContiguitySpec(_Model):
    """Minimum contiguous area of available land."""

    min_area_km2: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    connectivity: Literal["rook", "queen"] = "queen"


class DistanceFeatureSpec(_Model):
    """Distance in kilometres from each cell to the nearest feature of a vector input."""

    kind: Literal["distance"] = "distance"
    vector: str
    #: Only features whose ``voltage_column`` is at least this (e.g. lines of 230 kV and up);
    #: features of unknown voltage are left out.
    min_voltage_kv: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    voltage_column: str = "voltage_kv"


class LatencyFeatureSpec(_Model):
    """Population within a round-trip latency budget of each cell (edge-compute demand).

    ``vector`` holds population points (towns, Census places) with a ``weight_column``;
    the latency model is :class:`siting.features.LatencyModel` (fiber at ~204 km/ms, a
    ``route_factor`` for fiber paths longer than the straight line, ``fixed_overhead_ms``).
    """

    kind: Literal["population_within_latency"]
    vector: str
    budget_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    weight_column: str = "population"
    route_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 1.5
    fixed_overhead_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0


class CleanEnergyFeatureSpec(_Model):
    """24/7 carbon-free share of a flat load at every cell, from annual-mean resources.

    The plant has ``overbuild`` MW of nameplate per MW of load (``solar_share`` of it
    solar) and a ``battery_hours`` battery; hours are typical ones
    (:func:`siting.energy.typical_cfe_share`, ``docs/energy.md``). Higher is better.
    """

    kind: Literal["cfe_share"]
    ghi_layer: str | None = "ghi_kwh_m2_day"
    wind_layer: str | None = "wind_speed_100m_m_s"
    overbuild: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 2.0
    battery_hours: Annotated[float, Field(ge=0, le=48, allow_inf_nan=False)] = 4.0
    solar_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.5

    @model_validator(mode="after")
    def _layers_for_the_mix(self) -> CleanEnergyFeatureSpec:
        problems = _Problems(type(self).__name__)
        if self.solar_share > 0 and self.ghi_layer is None:
            problems.add(
                ("ghi_layer",),
                None,
                "solar_share > 0 needs ghi_layer (annual-mean GHI, kWh/m2/day)",
            )
        if self.solar_share < 1 and self.wind_layer is None:
            problems.add(
                ("wind_layer",),
                None,
                "solar_share < 1 needs wind_layer (hub-height mean speed, m/s)",
            )
        problems.raise_all()
        return self

    def layers(self) -> list[str]:
        """The stack layers it reads."""
        return list(self._layer_fields().values())

    def _layer_fields(self) -> dict[str, str]:
        """The stack layers it reads, by the field naming each."""
        used = {
            "ghi_layer": (self.ghi_layer, self.solar_share > 0),
            "wind_layer": (self.wind_layer, self.solar_share < 1),
        }
        return {key: name for key, (name, needed) in used.items() if name is not None and needed}


class CoolingFeatureSpec(_Model):
    """Cooling load of the climate at every cell, from an annual-mean air temperature layer.

    ``cooling_degree_hours``: degree-hours above ``base_c`` a year; ``hours_above``: hours
    a year above ``threshold_c`` (27 °C, ASHRAE's recommended inlet limit). A typical
    year around the annual mean (:func:`siting.energy.typical_cooling_degree_hours`);
    set the amplitudes for your climate. Lower is better.
    """

    kind: Literal["cooling_degree_hours", "hours_above"]
    temperature_layer: str
    base_c: Annotated[float, Field(ge=-50, le=60, allow_inf_nan=False)] = 18.3
    threshold_c: Annotated[float, Field(ge=-50, le=60, allow_inf_nan=False)] = 27.0
    seasonal_amplitude_c: Annotated[float, Field(ge=0, le=40, allow_inf_nan=False)] = 12.0
    diurnal_amplitude_c: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = 6.0
    weather_sd_c: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 3.0

    def layers(self) -> list[str]:
        """The stack layers it reads."""
        return [self.temperature_layer]

    def _layer_fields(self) -> dict[str, str]:
        """The stack layers it reads, by the field naming each."""
        return {"temperature_layer": self.temperature_layer}


#: Features computed from vectors (distances, people within reach).
VectorFeatureSpec = DistanceFeatureSpec | LatencyFeatureSpec
#: Features computed cell by cell from layers of the stack.
LayerFeatureSpec = CleanEnergyFeatureSpec | CoolingFeatureSpec
FeatureSpec = VectorFeatureSpec | LayerFeatureSpec

#: Each feature ``kind`` and the spec it picks (no ``kind``: a distance).
_FEATURE_KINDS: dict[str, type[_Model]] = {
    "distance": DistanceFeatureSpec,
    "population_within_latency": LatencyFeatureSpec,
    "cfe_share": CleanEnergyFeatureSpec,
    "cooling_degree_hours": CoolingFeatureSpec,
    "hours_above": CoolingFeatureSpec,
}


def _one_feature(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # The ``kind`` picks the spec, so errors are reported at the feature's own fields, not
    # once for each spec of the union (under the spec's name).
    if not isinstance(value, dict):
        if isinstance(value, tuple(_FEATURE_KINDS.values())):
            return handler(value)
        problems = _Problems("feature")
        problems.add((), value, "a feature is a table (a [features.NAME] section)")
        problems.raise_all()
    kind = value.get("kind", "distance")
    if not (isinstance(kind, str) and kind in _FEATURE_KINDS):
        *head, last = [repr(k) for k in _FEATURE_KINDS]
        problems = _Problems("feature")
        problems.add(("kind",), kind, f"Input should be {', '.join(head)} or {last}")
        problems.raise_all()
    return _FEATURE_KINDS[kind].model_validate(value)


_Feature = Annotated[FeatureSpec, WrapValidator(_one_feature)]


class CriterionSpec(_Model):
    """One criterion of the weighted overlay: its transform to 0..1, and its weight.

    The keys are those of :class:`~siting.scoring.WeightedOverlay` (see its docs and
    ``docs/scoring.md`` for each transform's formula); which keys a transform needs is
    checked when the scenario is validated.
    """

    transform: Literal[
        "linear",
        "power",
        "log",
        "symmetric_linear",
        "small",
        "large",
        "near",
        "logistic_growth",
        "logistic_decay",
        "ms_small",
        "ms_large",
        "categorical",
    ] = "linear"
    #: Relative importance; required unless ``scorer.ahp`` derives the weights.
    weight: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    better: Literal["higher", "lower"] | None = None
    range: tuple[float, float] | None = None
    midpoint: Annotated[float, Field(allow_inf_nan=False)] | None = None
    spread: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    steepness: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    exponent: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    base: Annotated[float, Field(gt=1, allow_inf_nan=False)] | None = None
    mean_multiplier: Annotated[float, Field(allow_inf_nan=False)] | None = None
    std_multiplier: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    mean: Annotated[float, Field(allow_inf_nan=False)] | None = None
    std: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    categories: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    default: Annotated[float, Field(ge=0, le=1)] | None = None
    thresholds: dict[Literal["min", "max"], float] | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (
            math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] < value[1]
        ):
            raise ValueError(
                f"range {list(value)} must be two finite numbers [low, high] with low < high"
            )
        return value

    @model_validator(mode="after")
    def _keys_fit_the_transform(self) -> CriterionSpec:
        from siting.scoring.overlay import TRANSFORMS

        required, optional = TRANSFORMS[self.transform]
        spec = self.overlay_spec()
        given = {k for k, v in spec.items() if v is not None}
        problems = _Problems(type(self).__name__)
        missing = [k for k in required if k not in given]
        for key in missing:
            problems.add((key,), None, f"transform {self.transform!r} needs {missing}")
        allowed = {*required, *optional, "transform", "weight"}
        if self.transform != "categorical":
            allowed.add("thresholds")
        extra = sorted(given - allowed)
        for key in extra:
            problems.add(
                (key,),
                _plain(spec[key]),
                f"{extra} do not apply to transform {self.transform!r}; it takes "
                f"{sorted(allowed - {'transform', 'weight'})}",
            )
        problems.raise_all()
        return self

    def overlay_spec(self) -> dict[str, Any]:
        """The criterion as :class:`~siting.scoring.WeightedOverlay` takes it."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class AHPJudgementSpec(_Model):
    """One pairwise judgement: ``more`` is ``intensity`` times as important as ``less``."""

    more: str
    less: str
    intensity: Annotated[float, Field(ge=1 / 9, le=9, allow_inf_nan=False)]


class ScorerSpec(_Model):
    """How candidates are scored: a weighted overlay, or the ML site scorer.

    ``weighted_overlay`` uses ``criteria`` (weights given, or derived from ``ahp``
    judgements). ``site_scorer`` learns from ``presences`` (a vector input of existing
    facilities, optionally filtered by ``presence_filter``) against ``background_points``
    cells drawn from the available land, on the layers and features named in ``features``.
    """

    method: Literal["weighted_overlay", "site_scorer"] = "weighted_overlay"
    criteria: dict[str, CriterionSpec] = {}
    ahp: list[AHPJudgementSpec] | None = None
    #: Inconsistent AHP judgements (consistency ratio above 0.1): warn, or refuse.
    ahp_inconsistent: Literal["warn", "raise"] = "warn"
    features: list[str] = []
    presences: str | None = None
    presence_filter: dict[str, list[str | int | float]] | None = None
    background_points: Annotated[int, Field(ge=10, le=10_000_000)] = 5000
    monotonic: dict[str, Literal[-1, 0, 1]] = {}
    calibration: Literal["sigmoid", "isotonic", "none"] = "sigmoid"
    prevalence: Annotated[float, Field(gt=0, lt=1)] | None = None
    n_bootstrap: Annotated[int, Field(ge=0, le=1000)] = 20
    random_state: int = 0

    @model_validator(mode="after")
    def _method_has_what_it_needs(self) -> ScorerSpec:
        problems = _Problems(type(self).__name__)
        if self.method == "weighted_overlay":
            if not self.criteria:
                problems.add(
                    ("criteria",), {}, "give at least one criterion (scorer.criteria.NAME)"
                )
            elif self.ahp is None:
                unweighted = sorted(n for n, c in self.criteria.items() if c.weight is None)
                for name in unweighted:
                    problems.add(
                        ("criteria", name, "weight"),
                        None,
                        f"criteria {unweighted} have no weight; give each a weight, or give "
                        "scorer.ahp pairwise judgements to derive the weights",
                    )
                if not unweighted and sum(c.weight or 0.0 for c in self.criteria.values()) <= 0:
                    problems.add(
                        ("criteria",),
                        {name: c.weight for name, c in self.criteria.items()},
                        "at least one criterion needs a positive weight",
                    )
            else:
                named = {j.more for j in self.ahp} | {j.less for j in self.ahp}
                unknown = sorted(named - set(self.criteria))
                for i, judgement in enumerate(self.ahp):
                    for key in ("more", "less"):
                        if getattr(judgement, key) in unknown:
                            problems.add(
                                ("ahp", i, key),
                                getattr(judgement, key),
                                f"scorer.ahp names {unknown}, which are not criteria; "
                                f"criteria: {sorted(self.criteria)}",
                            )
        else:
            if not self.features:
                problems.add(
                    ("features",),
                    [],
                    "method 'site_scorer' needs features = [layer or feature names]",
                )
            if self.presences is None:
                problems.add(
                    ("presences",),
                    None,
                    "method 'site_scorer' needs presences = the name of a vector input of "
                    "existing facilities (the sites it learns from)",
                )
            unknown = sorted(set(self.monotonic) - set(self.features))
            for name in unknown:
                problems.add(
                    ("monotonic", name),
                    name,
                    f"monotonic names {unknown}, which are not in features {self.features}",
                )
            if self.criteria:
                problems.add(
                    ("criteria",),
                    sorted(self.criteria),
                    "criteria belong to method 'weighted_overlay'; the site scorer learns "
                    "its weights (remove scorer.criteria, or set method = 'weighted_overlay')",
                )
        problems.raise_all()
        return self

    def ahp_judgements(self) -> dict[tuple[str, str], float] | None:
        """The AHP judgements as :func:`~siting.scoring.ahp_weights` takes them."""
        if self.ahp is None:
            return None
        return {(j.more, j.less): j.intensity for j in self.ahp}

    def inputs(self) -> list[str]:
        """The layers and features the scorer reads."""
        return list(self.criteria) if self.method == "weighted_overlay" else list(self.features)


class PortfolioSpec(_Model):
    """Choose the sites that together serve the most people (maximal covering).

    ``demand`` is a ``[vectors.NAME]`` input of population points with ``weight_column``; a
    person is covered when within ``budget_ms`` round trip of a chosen site (the latency
    model of ``docs/latency.md``). The sites are chosen among the ``shortlist_factor`` ×
    ``top_n`` best-scoring candidates that keep the minimum spacing, by the exact
    integer program (``solver = "exact"``, CBC) or the greedy heuristic.
    """

    demand: str
    weight_column: str = "population"
    budget_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    route_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 1.5
    fixed_overhead_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    solver: Literal["exact", "greedy"] = "exact"
    time_limit_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    shortlist_factor: Annotated[int, Field(ge=1, le=1000)] = 10


class RankingSpec(_Model):
    """Top ``top_n`` sites, no two closer than ``min_spacing_km``; or, with ``portfolio``,
    the ``top_n`` sites that together cover the most demand."""

    top_n: Annotated[int, Field(ge=1, le=100_000)] = 20
    min_spacing_km: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 5.0
    min_availability: Annotated[float, Field(gt=0, le=1)] = 1.0
    portfolio: PortfolioSpec | None = None


class EnergySpec(_Model):
    """24/7 clean-energy fit of the ranked sites (see :func:`siting.energy.match_sites`).

    Each site's supply is ``solar_share`` solar and the rest wind nameplate, from typical
    hourly profiles scaled to the site's annual-mean resources (``ghi_layer`` in
    kWh/m²/day, ``wind_layer`` mean hub-height speed in m/s), sized to meet ``target_cfe``
    of a flat ``load_mw`` load hour by hour with a ``battery_hours`` battery.
    """

    load_mw: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    target_cfe: Annotated[float, Field(gt=0, le=1)] = 0.9
    battery_hours: Annotated[float, Field(ge=0, le=48, allow_inf_nan=False)] = 4.0
    solar_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    ghi_layer: str | None = "ghi_kwh_m2_day"
    wind_layer: str | None = "wind_speed_100m_m_s"
    max_overbuild: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 10.0


class ProjectFactsSpec(_Model):
    """What the project is, for the permitting rules (see ``siting.permitting.ProjectFacts``)."""

    capacity_mw: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    acres: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    structure_height_ft: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    federal_funding: bool = False
    funding_agency: str | None = None
    federal_permit: bool = False
    state: str | None = None


class PermittingSpec(_Model):
    """Screen the ranked sites for permits (see ``docs/permitting.md``).

    ``layers`` maps a screening role (``land_manager``, ``critical_habitat``, ``wetlands``,
    ``historic_places``, ``tribal_lands``, ``flood_zones``, ``airports`` or a role of a
    custom rules file) to a ``[vectors.NAME]`` input; roles the rules know but that are
    not given are reported as not screened, never as "no concern". ``rules`` and
    ``extend_rules`` replace or extend the shipped rules file.
    """

    layers: dict[str, str] = {}
    facts: ProjectFactsSpec = ProjectFactsSpec()
    rules: Path | None = None
    extend_rules: list[Path] = []


class OutputSpec(_Model):
    """Which files a run writes."""

    #: ``dossier`` writes a permitting dossier per site (needs a ``[permitting]`` section).
    #: ``parquet`` writes ``sites.parquet`` (GeoParquet); ``cog`` writes ``score.tif`` and
    #: ``availability.tif`` (Cloud-Optimized GeoTIFFs on the analysis grid). ``png`` and
    #: ``pdf`` write the static map (``map.png``, ``map.pdf``) for reports.
    formats: list[Literal["gpkg", "csv", "parquet", "html", "png", "pdf", "cog", "dossier"]] = [
        "gpkg",
        "csv",
        "html",
    ]
    #: Raster overlays of the interactive map (``html``), each a toggle with its own legend:
    #: ``score``, ``availability`` or any layer or feature of the stack. Unset: score,
    #: availability and the solar, wind and geothermal layers; ``[]``: none.
    map_overlays: list[str] | None = None


class Scenario(_Model):
    """A complete, validated description of one siting run.

    Build it in Python, or load a TOML file with :meth:`from_toml`. Field errors name the
    field path, the value given and what is allowed.
    """

    name: str = "scenario"
    base_dir: Path | None = None
    region: RegionSpec | None = None
    grid: GridSpec = GridSpec()
    layers: dict[str, LayerSpec] = {}
    vectors: dict[str, VectorSpec] = {}
    rasterize: dict[str, RasterizeSpec] = {}
    rules: list[RuleSpec] = []
    contiguity: ContiguitySpec | None = None
    combine_rules: Literal["multiply", "minimum"] = "multiply"
    features: dict[str, _Feature] = {}
    scorer: ScorerSpec
    ranking: RankingSpec = RankingSpec()
    energy: EnergySpec | None = None
    permitting: PermittingSpec | None = None
    outputs: OutputSpec = OutputSpec()

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        problems = _Problems(type(self).__name__)
        self._check_references(problems)
        self._check_map_overlays(problems)
        problems.raise_all()
        return self

    def _check_references(self, problems: _Problems) -> None:
        stack = set(self.layers) | set(self.rasterize)
        clash = set(self.layers) & set(self.rasterize) | (stack & set(self.features))
        for name in sorted(clash):
            section = "features" if name in self.features else "rasterize"
            problems.add(
                (section, name),
                name,
                f"names used twice among layers, rasterize and features: {sorted(clash)}",
            )
        for name, spec in self.rasterize.items():
            if spec.vector not in self.vectors:
                problems.add(
                    ("rasterize", name, "vector"),
                    spec.vector,
                    f"rasterize.{name}.vector = {spec.vector!r} is not one of the vectors "
                    f"{sorted(self.vectors)}",
                )
        for name, feature in self.features.items():
            if isinstance(feature, CleanEnergyFeatureSpec | CoolingFeatureSpec):
                for key, layer in feature._layer_fields().items():
                    if layer not in stack:
                        problems.add(
                            ("features", name, key),
                            layer,
                            f"features.{name} reads the layer {layer!r}, which is not a layer "
                            f"of the stack; known layers: {sorted(stack)}",
                        )
            elif feature.vector not in self.vectors:
                problems.add(
                    ("features", name, "vector"),
                    feature.vector,
                    f"features.{name}.vector = {feature.vector!r} is not one of the vectors "
                    f"{sorted(self.vectors)}",
                )
        for i, rule in enumerate(self.rules):
            if rule.vector is not None:
                if rule.stack_layer in stack:
                    problems.add(
                        ("rules", i, "name"),
                        rule.name,
                        f"rules[{i}] makes the layer {rule.stack_layer!r}, which already "
                        "exists; give the rule another name",
                    )
                if rule.vector not in self.vectors:
                    problems.add(
                        ("rules", i, "vector"),
                        rule.vector,
                        f"rules[{i}].vector = {rule.vector!r} is not one of the vectors "
                        f"{sorted(self.vectors)}",
                    )
            elif rule.layer not in stack:
                problems.add(
                    ("rules", i, "layer"),
                    rule.layer,
                    f"rules[{i}].layer = {rule.layer!r} is not a layer of the stack; "
                    f"known layers: {sorted(stack)}",
                )
            if rule.where is not None and rule.where.layer not in stack:
                problems.add(
                    ("rules", i, "where", "layer"),
                    rule.where.layer,
                    f"rules[{i}].where.layer = {rule.where.layer!r} is not a layer of the "
                    f"stack; known layers: {sorted(stack)}",
                )
        known = stack | set(self.features)
        where = "criteria" if self.scorer.method == "weighted_overlay" else "features"
        for i, name in enumerate(self.scorer.inputs()):
            if name not in known:
                problems.add(
                    ("scorer", where, name if where == "criteria" else i),
                    name,
                    f"scorer.{where}: {name!r} is neither a layer nor a feature; "
                    f"known: {sorted(known)}",
                )
        if self.energy is not None:
            for field_name in ("ghi_layer", "wind_layer"):
                layer = getattr(self.energy, field_name)
                if layer is not None and layer not in known:
                    problems.add(
                        ("energy", field_name),
                        layer,
                        f"energy.{field_name} = {layer!r} is neither a layer nor a feature; "
                        f"known: {sorted(known)}",
                    )
        portfolio = self.ranking.portfolio
        if portfolio is not None and portfolio.demand not in self.vectors:
            problems.add(
                ("ranking", "portfolio", "demand"),
                portfolio.demand,
                f"ranking.portfolio.demand = {portfolio.demand!r} is not one of the vectors "
                f"{sorted(self.vectors)}",
            )
        if self.permitting is not None:
            for role, vector in self.permitting.layers.items():
                if vector not in self.vectors:
                    problems.add(
                        ("permitting", "layers", role),
                        vector,
                        f"permitting.layers.{role} = {vector!r} is not one of the vectors "
                        f"{sorted(self.vectors)}",
                    )
        if self.scorer.presences is not None and self.scorer.presences not in self.vectors:
            problems.add(
                ("scorer", "presences"),
                self.scorer.presences,
                f"scorer.presences = {self.scorer.presences!r} is not one of the vectors "
                f"{sorted(self.vectors)}",
            )

    def _check_map_overlays(self, problems: _Problems) -> None:
        if self.outputs.map_overlays is None:
            return
        rules = {rule.stack_layer for rule in self.rules if rule.vector is not None}
        stack = set(self.layers) | set(self.rasterize) | set(self.features) | rules
        allowed = ["score", "availability", *sorted(stack)]
        unknown = [name for name in self.outputs.map_overlays if name not in allowed]
        for i, name in enumerate(self.outputs.map_overlays):
            if name not in allowed:
                problems.add(
                    ("outputs", "map_overlays", i),
                    name,
                    f"outputs.map_overlays: {unknown} are not overlays the map can draw; "
                    f"allowed: {allowed}",
                )

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: PathLike | None = None) -> Scenario:
        """Validate a plain dict (as parsed from TOML); errors become :class:`ScenarioError`."""
        if base_dir is not None:
            data = {**data, "base_dir": Path(base_dir)}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(_describe(exc, source=str(base_dir or "scenario"))) from None

    @classmethod
    def from_toml(cls, path: PathLike) -> Scenario:
        """Load and validate a TOML scenario file; relative paths resolve against its folder."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                f"cannot read scenario file {str(path)!r}: {exc.strerror or exc}"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
        if "base_dir" in data:
            raise ScenarioError(f"{path}: 'base_dir' is set from the file's location; remove it")
        try:
            return cls.model_validate({**data, "base_dir": path.resolve().parent})
        except ValidationError as exc:
            raise ScenarioError(_describe(exc, source=str(path))) from None

    def resolve(self, path: Path) -> Path:
        """An input path made absolute against the scenario's folder."""
        path = path.expanduser()
        return path if path.is_absolute() or self.base_dir is None else self.base_dir / path

    def input_paths(self) -> dict[str, Path]:
        """Every input file the scenario reads, resolved, by role (``layer:ghi``, ...)."""
        paths = {f"layer:{name}": self.resolve(s.path) for name, s in self.layers.items()}
        paths |= {f"vector:{name}": self.resolve(s.path) for name, s in self.vectors.items()}
        if self.region is not None and self.region.path is not None:
            paths["region"] = self.resolve(self.region.path)
        if self.permitting is not None:
            if self.permitting.rules is not None:
                paths["permitting:rules"] = self.resolve(self.permitting.rules)
            for i, extra in enumerate(self.permitting.extend_rules):
                paths[f"permitting:extend_rules:{i}"] = self.resolve(extra)
        return paths

    def to_toml_dict(self) -> dict[str, Any]:
        """The scenario as plain data (for the run manifest)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"base_dir"})


def load_scenario(path: PathLike) -> Scenario:
    """Load a TOML scenario file (same as :meth:`Scenario.from_toml`)."""
    return Scenario.from_toml(path)


def _describe(exc: ValidationError, *, source: str) -> str:
    lines = [f"{source}: invalid scenario ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        lines.append(f"  - {_field_path(err['loc'])}: {message} ({_given(err)})")
    return "\n".join(lines)


def _field_path(loc: _Loc) -> str:
    """``rules[1].where.layer`` for the location ``("rules", 1, "where", "layer")``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "(top level)"


def _given(err: ErrorDetails) -> str:
    """What was given at an error's field: its value, shortened, or that none was."""
    value = err.get("input")
    if err["type"] == "missing" or value is None:
        return "not given"
    shown = repr(value)
    if isinstance(value, dict) and value and len(shown) > 80:
        shown = "{...}"
    elif len(shown) > 80:
        shown = shown[:77] + "..."
    return f"given: {shown}"
