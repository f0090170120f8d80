"""Project facts, and the facts derived from a site's screening (federal land, FAA surfaces).

Rules test two kinds of facts:

- **given** facts, from :class:`ProjectFacts`: ``capacity_mw``, ``acres``,
  ``structure_height_ft``, ``federal_funding``, ``funding_agency``, ``federal_permit``,
  ``state``, and custom facts declared in a rules file (``ProjectFacts(extra=...)``);
- **derived** facts, computed per site from the screening:

  ``federal_land``
      the site intersects a ``land_manager`` feature whose ``manager_type`` is federal
      (``Federal``/``FED``) or whose ``manager`` is a federal agency code (``BLM``,
      ``USFS``, ...). No intersecting feature means not federal (PAD-US and BLM SMA map
      public land; private land is the gap). Unknown when the layer was not screened,
      unless ``ProjectFacts.federal_land`` says it;
  ``tribal_land``
      the site intersects a ``tribal_lands`` feature, or a ``land_manager`` feature that is
      tribal (``Tribal``/``TRIB``, ``BIA``). False when at least one of the two layers was
      screened and neither says so; unknown when neither was;
  ``federal_nexus``
      ``federal_land`` or ``tribal_land`` or ``federal_funding`` or ``federal_permit``
      (three-valued: unknown only when nothing is true and something is unknown);
  ``faa_slope_exceeded``
      the structure reaches above an imaginary surface of 14 CFR 77.9(b) around a nearby
      airport or heliport (see :func:`exceeds_notice_surface`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from siting.errors import ScenarioError
from siting.permitting.conditions import Evidence

__all__ = [
    "ACRE_M2",
    "BUILTIN_FACTS",
    "DERIVED_FACTS",
    "FEDERAL_MANAGERS",
    "FOOT_M",
    "FactSpec",
    "ProjectFacts",
    "derive_faa_slope",
    "derive_facts",
    "derive_federal_land",
    "derive_tribal_land",
    "exceeds_notice_surface",
    "notice_surface",
]

#: One international foot in metres.
FOOT_M = 0.3048
#: One acre in square metres.
ACRE_M2 = 4046.8564224

FactType = Literal["bool", "number", "string"]


@dataclass(frozen=True)
class FactSpec:
    """A fact rules may test: its name, type, meaning, and whether it is derived."""

    name: str
    type: FactType
    description: str = ""
    derived: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "derived": self.derived,
        }


_GIVEN = {
    "capacity_mw": ("number", "peak electrical load of the facility, MW"),
    "acres": ("number", "disturbed footprint in acres (or from footprint_m2)"),
    "structure_height_ft": ("number", "tallest structure above ground, feet (or from metres)"),
    "federal_funding": ("bool", "federal money (grant, loan, loan guarantee) goes into it"),
    "funding_agency": ("string", "the federal agency that funds it, e.g. 'DOE'"),
    "federal_permit": ("bool", "another federal permit or approval is known to be needed"),
    "state": ("string", "two-letter state code, e.g. 'NV'"),
}
_DERIVED = {
    "federal_land": ("bool", "the site is on federally managed land (land_manager layer)"),
    "tribal_land": ("bool", "the site is on tribal land (tribal_lands or land_manager layer)"),
    "federal_nexus": ("bool", "federal land, tribal land, federal funding or a federal permit"),
    "faa_slope_exceeded": (
        "bool",
        "the structure exceeds a 14 CFR 77.9(b) notice surface of a nearby airport",
    ),
}

#: Facts every rules file may test, by name.
BUILTIN_FACTS: dict[str, FactSpec] = {
    **{name: FactSpec(name, kind, text) for name, (kind, text) in _GIVEN.items()},  # type: ignore[arg-type]
    **{
        name: FactSpec(name, kind, text, derived=True)  # type: ignore[arg-type]
        for name, (kind, text) in _DERIVED.items()
    },
}

#: Names of the derived facts.
DERIVED_FACTS = tuple(_DERIVED)

#: Manager codes that are federal agencies (PAD-US ``Mang_Name`` and BLM SMA codes).
FEDERAL_MANAGERS = frozenset(
    {
        "BLM",
        "USFS",
        "FS",
        "NPS",
        "FWS",
        "USFWS",
        "DOD",
        "BOR",
        "DOE",
        "USACE",
        "TVA",
        "NOAA",
        "ARS",
        "NRCS",
        "OTHF",
        "OTHFE",
        "ARMY",
        "NAVY",
        "USAF",
        "USMC",
    }
)
_FEDERAL_TYPES = frozenset({"federal", "fed"})
_TRIBAL_MANAGERS = frozenset({"BIA", "TRIB", "TRIBAL"})
_TRIBAL_TYPES = frozenset({"tribal", "trib"})


def _positive(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"ProjectFacts.{name} must be a finite number, got {value!r}.")
    if value < 0:
        raise ScenarioError(f"ProjectFacts.{name} must be >= 0, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class ProjectFacts:
    """What the project is: the facts the permitting rules test besides the screening.

    Give ``acres`` or ``footprint_m2`` (the other is filled in), and
    ``structure_height_ft`` or ``structure_height_m`` (likewise). A fact left ``None`` is
    unknown, and rules that need it come out ``unknown``, never "not triggered".

    Parameters
    ----------
    capacity_mw
        Peak electrical load of the facility in MW (what the utility must serve).
    acres, footprint_m2
        Disturbed footprint.
    structure_height_ft, structure_height_m
        Height above ground of the tallest structure (building, stack, antenna, crane).
    federal_funding
        Federal money (grant, loan, loan guarantee) goes into the project.
    funding_agency
        The federal funding agency (e.g. ``"DOE"``), named as NEPA lead when it is.
    federal_permit
        Some other federal permit or approval is known to be needed.
    federal_land
        ``None`` (default) derives it from the ``land_manager`` screening layer; True or
        False overrides the screening (e.g. from a title search).
    state
        Two-letter state code.
    extra
        Values of custom facts declared in a rules file under ``[facts]``.

    Raises
    ------
    ScenarioError
        If a number is negative or not finite, or the two forms of a size disagree.

    Examples
    --------
    >>> facts = ProjectFacts(capacity_mw=5, footprint_m2=40468.564224, structure_height_m=15)
    >>> round(facts.acres, 6), round(facts.structure_height_ft, 2)
    (10.0, 49.21)
    """

    capacity_mw: float | None = None
    acres: float | None = None
    footprint_m2: float | None = None
    structure_height_ft: float | None = None
    structure_height_m: float | None = None
    federal_funding: bool = False
    funding_agency: str | None = None
    federal_permit: bool = False
    federal_land: bool | None = None
    state: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "capacity_mw",
            "acres",
            "footprint_m2",
            "structure_height_ft",
            "structure_height_m",
        ):
            object.__setattr__(self, name, _positive(getattr(self, name), name))
        for name in ("federal_funding", "federal_permit"):
            if not isinstance(getattr(self, name), bool):
                raise ScenarioError(
                    f"ProjectFacts.{name} must be True or False, got {getattr(self, name)!r}."
                )
        if self.federal_land is not None and not isinstance(self.federal_land, bool):
            raise ScenarioError(
                f"ProjectFacts.federal_land must be True, False or None (derive it from the "
                f"screening), got {self.federal_land!r}."
            )
        for name in ("funding_agency", "state"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ScenarioError(f"ProjectFacts.{name} must be a string, got {value!r}.")
        self._pair("acres", "footprint_m2", ACRE_M2)
        self._pair("structure_height_ft", "structure_height_m", FOOT_M)
        if not isinstance(self.extra, Mapping):
            raise ScenarioError(f"ProjectFacts.extra must be a mapping, got {self.extra!r}.")
        object.__setattr__(self, "extra", dict(self.extra))

    def _pair(self, imperial: str, metric: str, factor: float) -> None:
        a, b = getattr(self, imperial), getattr(self, metric)
        if a is None and b is not None:
            object.__setattr__(self, imperial, b / factor)
        elif b is None and a is not None:
            object.__setattr__(self, metric, a * factor)
        elif a is not None and b is not None and not math.isclose(a * factor, b, rel_tol=1e-3):
            raise ScenarioError(
                f"ProjectFacts: {imperial}={a} and {metric}={b} disagree "
                f"({a} x {factor} = {a * factor:g}); give one of them."
            )

    def value(self, name: str) -> Any:
        """A given fact by name (custom facts from ``extra``); None when not given."""
        if name in _GIVEN:
            return getattr(self, name)
        return self.extra.get(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["extra"] = dict(self.extra)
        return out


# -- FAA notice surfaces (14 CFR 77.9(b)) ------------------------------------------------

_NOT_COVERED = frozenset({"private", "private_use", "closed", "seaplane_private"})


def notice_surface(kind: str | None, runway_length_ft: float | None) -> tuple[float, float, str]:
    """The 14 CFR 77.9(b) surface around an airport: (slope run, reach in feet, basis).

    - a heliport: 25 to 1 for 5,000 ft (77.9(b)(3));
    - an airport with a runway longer than 3,200 ft: 100 to 1 for 20,000 ft (77.9(b)(1));
    - an airport whose longest runway is 3,200 ft or less: 50 to 1 for 10,000 ft
      (77.9(b)(2));
    - runway length unknown: 100 to 1 for 20,000 ft, the lower and wider surface, so the
      test errs towards filing.

    Examples
    --------
    >>> notice_surface("public", 5000)[:2]
    (100.0, 20000.0)
    >>> notice_surface("public", 3000)[:2]
    (50.0, 10000.0)
    >>> notice_surface("heliport", None)[:2]
    (25.0, 5000.0)
    """
    if kind is not None and kind.strip().lower() == "heliport":
        return 25.0, 5000.0, "heliport: 25:1 for 5,000 ft (14 CFR 77.9(b)(3))"
    if runway_length_ft is None or (
        isinstance(runway_length_ft, float) and math.isnan(runway_length_ft)
    ):
        return (
            100.0,
            20000.0,
            "runway length unknown, so the 100:1 surface for 20,000 ft is assumed "
            "(14 CFR 77.9(b)(1); the stricter case)",
        )
    if runway_length_ft > 3200.0:
        return 100.0, 20000.0, "runway over 3,200 ft: 100:1 for 20,000 ft (14 CFR 77.9(b)(1))"
    return 50.0, 10000.0, "runway of 3,200 ft or less: 50:1 for 10,000 ft (14 CFR 77.9(b)(2))"


def exceeds_notice_surface(
    height_ft: float,
    distance_m: float,
    *,
    kind: str | None = "public",
    runway_length_ft: float | None = None,
) -> bool:
    """Whether a structure reaches above the 14 CFR 77.9(b) notice surface of an airport.

    The surface rises from the airport at 1 foot per ``run`` feet out to its reach (see
    :func:`notice_surface`); a structure of ``height_ft`` at ``distance_m`` exceeds it when
    ``height_ft > distance_ft / run`` and ``distance_ft <= reach``. Private-use airports
    (``kind`` ``"private"``) are not among the airports of 77.9(d) and never count; public,
    military and unknown kinds do.

    Simplifications, on purpose: the site and the runway are taken to be at the same ground
    elevation, and the distance is to the airport geometry as given (77.9(b) measures from
    the nearest point of the nearest runway: give runway lines or airport polygons rather
    than reference points for that). The 77.9(c) allowances for traverse ways (roads,
    railways) are not applied.

    Parameters
    ----------
    height_ft
        Structure height above ground, feet.
    distance_m
        Horizontal distance from the structure to the airport, metres.
    kind
        ``"public"``, ``"military"``, ``"heliport"``, ``"private"`` ... (case-insensitive).
    runway_length_ft
        Longest runway, feet; None when unknown (the 100:1 surface is assumed).

    Examples
    --------
    A 50 ft building 2 km from an airport with a long runway stays under the surface
    (2,000 m is 6,562 ft, and 6,562 / 100 = 65.6 ft); a 250 ft one does not:

    >>> exceeds_notice_surface(50, 2000, runway_length_ft=6000)
    False
    >>> exceeds_notice_surface(250, 2000, runway_length_ft=6000)
    True
    >>> exceeds_notice_surface(250, 2000, kind="private")
    False
    """
    if kind is not None and kind.strip().lower() in _NOT_COVERED:
        return False
    run, reach_ft, _ = notice_surface(kind, runway_length_ft)
    distance_ft = distance_m / FOOT_M
    return distance_ft <= reach_ft and height_ft > distance_ft / run


# -- derived facts ------------------------------------------------------------------------

Derived = tuple[Any, tuple[Evidence, ...], str | None]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _feature(layer: str, hit: Any, text: str) -> Evidence:
    return Evidence(
        "screen",
        text,
        layer=layer,
        feature_id=hit.feature_id,
        distance_m=float(hit.distance_m),
        attributes=dict(hit.attributes),
    )


def _screened(screening: Any, layer: str) -> bool:
    return screening.status(layer) in ("ok", "empty")


def _land_class(hit: Any, managers: frozenset[str], types: frozenset[str]) -> bool | None:
    manager = _text(hit.attributes.get("manager"))
    kind = _text(hit.attributes.get("manager_type"))
    if manager is None and kind is None:
        return None
    return bool(
        (manager is not None and manager.upper() in managers)
        or (kind is not None and kind.lower() in types)
    )


def derive_federal_land(facts: ProjectFacts, screening: Any, site_id: Any) -> Derived:
    """``federal_land`` for one site: (value, evidence, reason when unknown)."""
    if facts.federal_land is not None:
        return facts.federal_land, (), None
    if not _screened(screening, "land_manager"):
        return (
            None,
            (),
            f"layer 'land_manager' {screening.status('land_manager').replace('_', ' ')}",
        )
    on = [h for h in screening.site_hits(site_id, "land_manager") if h.intersects]
    classes = [_land_class(h, FEDERAL_MANAGERS, _FEDERAL_TYPES) for h in on]
    federal = [h for h, c in zip(on, classes, strict=True) if c]
    if federal:
        evidence = tuple(
            _feature(
                "land_manager",
                h,
                f"on federal land: land_manager feature {h.feature_id!r} "
                f"(manager {h.attributes.get('manager')!r})",
            )
            for h in federal
        )
        return True, evidence, None
    if any(c is None for c in classes):
        return None, (), "a land_manager feature under the site has no manager or manager_type"
    if on:
        evidence = tuple(
            _feature(
                "land_manager",
                h,
                f"land_manager feature {h.feature_id!r} (manager {h.attributes.get('manager')!r}) "
                "is not federal",
            )
            for h in on
        )
        return False, evidence, None
    return (
        False,
        (
            Evidence(
                "screen",
                "no land_manager feature under the site (not federal land)",
                layer="land_manager",
            ),
        ),
        None,
    )


def derive_tribal_land(screening: Any, site_id: Any) -> Derived:
    """``tribal_land`` for one site: (value, evidence, reason when unknown)."""
    screened = []
    evidence: list[Evidence] = []
    if _screened(screening, "tribal_lands"):
        screened.append("tribal_lands")
        for h in screening.site_hits(site_id, "tribal_lands"):
            if h.intersects:
                evidence.append(
                    _feature("tribal_lands", h, f"on tribal land: feature {h.feature_id!r}")
                )
    if _screened(screening, "land_manager"):
        screened.append("land_manager")
        for h in screening.site_hits(site_id, "land_manager"):
            if h.intersects and _land_class(h, _TRIBAL_MANAGERS, _TRIBAL_TYPES):
                evidence.append(
                    _feature(
                        "land_manager",
                        h,
                        f"on tribal land: land_manager feature {h.feature_id!r} "
                        f"(manager {h.attributes.get('manager')!r})",
                    )
                )
    if evidence:
        return True, tuple(evidence), None
    if screened:
        return False, (), None
    return None, (), "neither 'tribal_lands' nor 'land_manager' was screened"


def derive_faa_slope(facts: ProjectFacts, screening: Any, site_id: Any) -> Derived:
    """``faa_slope_exceeded`` for one site: (value, evidence, reason when unknown)."""
    height = facts.structure_height_ft
    if height is None:
        return None, (), "structure height not given (ProjectFacts.structure_height_ft or _m)"
    status = screening.status("airports")
    if status not in ("ok", "empty"):
        return None, (), f"layer 'airports' {status.replace('_', ' ')}"
    evidence = []
    for h in screening.site_hits(site_id, "airports"):
        kind = _text(h.attributes.get("kind"))
        runway = _number_or_none(h.attributes.get("runway_length_ft"))
        if exceeds_notice_surface(height, h.distance_m, kind=kind, runway_length_ft=runway):
            run, _, basis = notice_surface(kind, runway)
            surface_ft = h.distance_m / FOOT_M / run
            evidence.append(
                _feature(
                    "airports",
                    h,
                    f"a {height:g} ft structure {h.distance_m:,.0f} m "
                    f"({h.distance_m / FOOT_M:,.0f} ft) from airport {h.feature_id!r} exceeds "
                    f"the notice surface there ({surface_ft:,.1f} ft); {basis}",
                )
            )
    if evidence:
        return True, tuple(evidence), None
    search_m = screening.layers["airports"].search_m
    reach_m = 20000.0 * FOOT_M
    if search_m is None or search_m < reach_m:
        return (
            None,
            (),
            (
                f"airports screened to {search_m} m only; the 14 CFR 77.9(b) surfaces reach "
                f"20,000 ft ({reach_m:,.0f} m)"
            ),
        )
    return False, (), None


def derive_facts(facts: ProjectFacts, screening: Any, site_id: Any) -> dict[str, Derived]:
    """Every derived fact for one site, by name: (value, evidence, reason when unknown)."""
    federal = derive_federal_land(facts, screening, site_id)
    tribal = derive_tribal_land(screening, site_id)
    parts = {
        "federal_land": federal,
        "tribal_land": tribal,
        "federal_funding": (facts.federal_funding, (), None),
        "federal_permit": (facts.federal_permit, (), None),
    }
    true = [(name, part) for name, part in parts.items() if part[0] is True]
    if true:
        evidence: tuple[Evidence, ...] = ()
        for name, (value, support, _) in true:
            evidence += (Evidence("fact", f"{name} = {value!r}", fact=name, value=value), *support)
        nexus: Derived = (True, evidence, None)
    else:
        unknown = [part[2] for part in parts.values() if part[0] is None]
        if unknown:
            nexus = (None, (), "; ".join(r for r in unknown if r))
        else:
            evidence = ()
            for name, (value, support, _) in parts.items():
                evidence += (Evidence("fact", f"{name} = {value!r}", fact=name, value=value),)
                evidence += support
            nexus = (False, evidence, None)
    return {
        "federal_land": federal,
        "tribal_land": tribal,
        "federal_nexus": nexus,
        "faa_slope_exceeded": derive_faa_slope(facts, screening, site_id),
    }
