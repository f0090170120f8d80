"""From a screening and the project facts to each site's likely permitting pathway.

For every site, each rule of the :class:`~siting.permitting.rules.Rules` comes out

``triggered``
    its condition holds; the evidence says why (layer, feature id, distance, facts);
``not_triggered``
    its condition does not hold, and everything it tests was screened or given;
``unknown``
    its condition depends on a layer that was not provided or failed, or on a fact that
    was not given: the pathway says what could not be checked. Never read as "not needed";
``superseded``
    triggered, but replaced by a heavier review that is also triggered (an EA supersedes a
    CE, an EIS both).

**Timeline.** Permits are separate tracks that run in parallel, except that a permit with
``after`` starts when those of the listed permits that are triggered are done. The likely
timeline is the critical path: the longest chain of triggered permits, computed once with
every permit's low estimate and once with its high estimate. Unknown and superseded permits
are left out (``timeline_complete`` is False when something is unknown).

Screening is not a legal determination: agencies decide which reviews apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from siting.errors import ScenarioError
from siting.permitting.conditions import Evidence, Outcome, evaluate
from siting.permitting.facts import BUILTIN_FACTS, ProjectFacts, derive_facts
from siting.permitting.rules import NEPA_LEVELS, PermitRule, Rules, layers_used, load_rules
from siting.permitting.screening import Hit, Screening, _plain

__all__ = [
    "DISCLAIMER",
    "NEPA_RANK",
    "NotScreened",
    "Pathway",
    "PermitOutcome",
    "PermitStatus",
    "permitting_complexity",
    "permitting_pathway",
    "permitting_pathways",
]

PermitStatus = Literal["triggered", "not_triggered", "unknown", "superseded"]

_GIVEN_OR_DERIVED = frozenset(BUILTIN_FACTS)

#: Said by every pathway.
DISCLAIMER = (
    "Screening only, not a legal determination: the reviews and permits listed are likely "
    "ones inferred from mapped data and stated project facts. Agencies decide which apply; "
    "layers that were not provided or failed could not be checked."
)

#: NEPA level as a number (for scoring): none 0, CE 1, EA 2, EIS 3.
NEPA_RANK = {"none": 0, "CE": 1, "EA": 2, "EIS": 3}


@dataclass(frozen=True)
class PermitOutcome:
    """One rule's result for one site.

    Attributes
    ----------
    id, name, kind, citation
        As in the rule.
    status
        ``triggered``, ``not_triggered``, ``unknown`` or ``superseded``.
    agency
        The agency (for a lead-agency rule, the one picked for this site; ``None`` when it
        could not be decided).
    timeline_months
        Typical (low, high) months, and ``timeline_source`` where that comes from.
    evidence
        What triggered it (or, for ``not_triggered``, what was observed).
    context
        Further evidence the rule asks for (e.g. historic places near a section 106 review).
    unknown
        Why it could not be decided (for ``unknown``), or what is unknown about its agency.
    superseded_by
        The permit that replaces it (for ``superseded``).
    nepa_level, check_locally, notes
        As in the rule.
    """

    id: str
    name: str
    kind: str
    status: PermitStatus
    citation: str
    agency: str | None
    timeline_months: tuple[float, float]
    timeline_source: str
    evidence: tuple[Evidence, ...] = ()
    context: tuple[Evidence, ...] = ()
    unknown: tuple[str, ...] = ()
    superseded_by: str | None = None
    nepa_level: str | None = None
    check_locally: bool = False
    notes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "citation": self.citation,
            "agency": self.agency,
            "timeline_months": list(self.timeline_months),
            "timeline_source": self.timeline_source,
            "evidence": [e.to_dict() for e in self.evidence],
            "context": [e.to_dict() for e in self.context],
            "unknown": list(self.unknown),
            "superseded_by": self.superseded_by,
            "nepa_level": self.nepa_level,
            "check_locally": self.check_locally,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class NotScreened:
    """A layer that could not be screened, and the permits that depend on it."""

    layer: str
    status: str
    message: str | None
    permits: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "layer": self.layer,
            "status": self.status,
            "message": self.message,
            "permits": list(self.permits),
        }


@dataclass(frozen=True)
class Pathway:
    """The likely permitting pathway of one site.

    Attributes
    ----------
    site_id
        The site.
    permits
        Every rule's outcome, in rules order (see :class:`PermitOutcome`).
    nepa_level
        ``none``, ``CE``, ``EA``, ``EIS`` (the heaviest triggered), or ``unknown`` (none
        triggered but one could not be decided).
    lead_agency
        Likely NEPA lead agency (``None`` without NEPA review or when undecided).
    likely_timeline_months
        (low, high) months along the critical path of the triggered permits.
    critical_path
        Permit ids along the longest chain (with the high estimates), in order.
    timeline_complete
        False when some permit is unknown, so the timeline may be longer.
    n_reviews
        Number of triggered reviews and permits (superseded ones not counted).
    not_screened
        Layers that were not provided or failed, with the permits they leave unknown.
    layer_status
        Status of every layer the rules know, by name.
    facts
        The facts used: given ones and derived ones (``None`` when unknown).
    disclaimer
        Screening is not a legal determination.
    """

    site_id: Any
    permits: tuple[PermitOutcome, ...]
    nepa_level: str
    lead_agency: str | None
    likely_timeline_months: tuple[float, float]
    critical_path: tuple[str, ...]
    timeline_complete: bool
    n_reviews: int
    not_screened: tuple[NotScreened, ...] = ()
    layer_status: Mapping[str, str] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER

    @property
    def triggered(self) -> tuple[PermitOutcome, ...]:
        """The triggered permits."""
        return tuple(p for p in self.permits if p.status == "triggered")

    @property
    def unknown(self) -> tuple[PermitOutcome, ...]:
        """The permits that could not be decided."""
        return tuple(p for p in self.permits if p.status == "unknown")

    def permit(self, permit_id: str) -> PermitOutcome:
        """The outcome of one rule, by id."""
        for p in self.permits:
            if p.id == permit_id:
                return p
        raise KeyError(f"no permit {permit_id!r}; the ids are {[p.id for p in self.permits]}")

    def status(self, permit_id: str) -> PermitStatus:
        """The status of one rule, by id."""
        return self.permit(permit_id).status

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "site_id": _plain(self.site_id),
            "nepa_level": self.nepa_level,
            "lead_agency": self.lead_agency,
            "likely_timeline_months": list(self.likely_timeline_months),
            "critical_path": list(self.critical_path),
            "timeline_complete": self.timeline_complete,
            "n_reviews": self.n_reviews,
            "permits": [p.to_dict() for p in self.permits],
            "not_screened": [n.to_dict() for n in self.not_screened],
            "layer_status": dict(self.layer_status),
            "facts": {k: _plain(v) for k, v in self.facts.items()},
            "disclaimer": self.disclaimer,
        }


class _SiteContext:
    """What the condition interpreter sees of one site."""

    def __init__(
        self, screening: Screening, site_id: Any, facts: ProjectFacts, rules: Rules
    ) -> None:
        self.screening = screening
        self.site_id = site_id
        self.given = facts
        self.rules = rules
        self.derived = derive_facts(facts, screening, site_id)
        self._hits: dict[str, list[Hit]] = {}

    def fact(self, name: str) -> tuple[Any, tuple[Evidence, ...], str | None]:
        if name in self.derived:
            return self.derived[name]
        value = self.given.value(name)
        if value is None:
            return None, (), f"fact {name!r} not given"
        return value, (), None

    def layer(self, name: str) -> tuple[str, str | None, float | None, tuple[str, ...]]:
        report = self.screening.layers.get(name)
        if report is None:
            return "not_provided", None, None, ()
        return report.status, report.message, report.search_m, report.attributes

    def hits(self, name: str) -> list[Hit]:
        if name not in self._hits:
            self._hits[name] = self.screening.site_hits(self.site_id, name)
        return self._hits[name]

    def nearest(self, name: str) -> Hit | None:
        return self.screening.site_nearest(self.site_id, name)

    def parameter(self, name: str) -> float:
        return float(self.rules.parameters[name])


def _agency(
    rule: PermitRule, rules: Rules, ctx: _SiteContext
) -> tuple[str | None, tuple[str, ...]]:
    if rule.agency is not None:
        return rule.agency, ()
    assert rule.lead_agency is not None
    reasons: list[str] = []
    for choice in rules.agencies[rule.lead_agency]:
        outcome = evaluate(choice.when, ctx)
        if outcome.value is None:
            reasons.extend(outcome.unknown)
            continue
        if not outcome.value:
            continue
        if choice.agency is not None:
            return choice.agency, ()
        assert choice.agency_from is not None
        source, attribute = choice.agency_from
        value: Any = None
        if choice.from_screen:
            for hit in ctx.hits(source):
                if hit.intersects and _plain(hit.attributes.get(str(attribute))) is not None:
                    value = hit.attributes[str(attribute)]
                    break
        else:
            value = ctx.given.value(source)
        return (str(value) if value not in (None, "") else choice.default), ()
    if reasons:
        return None, tuple(f"lead agency undecided: {r}" for r in dict.fromkeys(reasons))
    return None, ()


def _critical_path(
    permits: Sequence[PermitOutcome], after: Mapping[str, Sequence[str]]
) -> tuple[tuple[float, float], tuple[str, ...]]:
    """Longest chain of triggered permits, with low and with high months."""
    on = {p.id: p for p in permits if p.status == "triggered"}
    memo: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}

    def finish(pid: str, which: int) -> tuple[float, tuple[str, ...]]:
        key = (pid, which)
        if key not in memo:
            before = [finish(o, which) for o in after.get(pid, ()) if o in on]
            start, chain = max(before, key=lambda t: t[0], default=(0.0, ()))
            memo[key] = (start + on[pid].timeline_months[which], (*chain, pid))
        return memo[key]

    if not on:
        return (0.0, 0.0), ()
    low = max(finish(pid, 0)[0] for pid in on)
    high, path = max((finish(pid, 1) for pid in on), key=lambda t: t[0])
    return (low, high), path


def permitting_pathway(
    screening: Screening,
    facts: ProjectFacts,
    rules: Rules | None = None,
    *,
    site_id: Any = None,
) -> Pathway:
    """The likely permitting pathway of one site.

    Parameters
    ----------
    screening
        The result of :func:`~siting.permitting.screening.screen`.
    facts
        What the project is (size, height, funding ...).
    rules
        Permitting rules; ``None`` loads the shipped ones.
    site_id
        The site; may be omitted when the screening has a single site.

    Returns
    -------
    Pathway

    Raises
    ------
    KeyError
        If ``site_id`` is not in the screening.
    ScenarioError
        If ``site_id`` is omitted for a screening of several sites, or a custom fact the
        rules test is given with the wrong type.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> from siting.permitting import ProjectFacts, screen
    >>> site = gpd.GeoDataFrame(geometry=[Point(50, 50)], crs="EPSG:5070")
    >>> land = gpd.GeoDataFrame({"manager": ["BLM"], "manager_type": ["Federal"]},
    ...                         geometry=[box(0, 0, 100, 100)], crs="EPSG:5070")
    >>> screening = screen(site, {"land_manager": land, "wetlands": None})
    >>> pathway = permitting_pathway(screening, ProjectFacts(capacity_mw=5, acres=4))
    >>> pathway.status("blm_right_of_way"), pathway.nepa_level, pathway.lead_agency
    ('triggered', 'EA', 'Bureau of Land Management (BLM)')
    >>> pathway.status("cwa_section_404")
    'unknown'
    """
    rules = load_rules() if rules is None else rules
    if site_id is None:
        if len(screening.site_ids) != 1:
            raise ScenarioError(
                f"the screening has {len(screening.site_ids)} sites: pass site_id=..., or use "
                "permitting_pathways(...) for all of them."
            )
        site_id = screening.site_ids[0]
    if site_id not in screening.site_ids:
        raise KeyError(f"no site {site_id!r} in the screening")
    _check_custom_facts(facts, rules)
    ctx = _SiteContext(screening, site_id, facts, rules)
    outcomes: list[PermitOutcome] = []
    results: dict[str, Outcome] = {}
    for rule in rules.permits:
        outcome = evaluate(rule.when, ctx)
        results[rule.id] = outcome
    # Who supersedes whom: a triggered permit that is itself superseded passes its claim on
    # to the one above it, so an EA and a CE both name the EIS.
    by: dict[str, list[str]] = {}
    for rule in rules.permits:
        if results[rule.id].value is True:
            for other in rule.supersedes:
                if results[other].value is True:
                    by.setdefault(other, []).append(rule.id)
    superseded: dict[str, str] = {}
    for pid, claims in by.items():
        heaviest = [c for c in claims if c not in by]
        superseded[pid] = (heaviest or claims)[0]
    for rule in rules.permits:
        outcome = results[rule.id]
        status: PermitStatus = (
            "unknown"
            if outcome.value is None
            else "superseded"
            if rule.id in superseded
            else "triggered"
            if outcome.value
            else "not_triggered"
        )
        agency, agency_unknown = (
            _agency(rule, rules, ctx)
            if status in ("triggered", "superseded")
            else (rule.agency, ())
        )
        context: tuple[Evidence, ...] = ()
        if rule.context and status == "triggered":
            for condition in rule.context:
                extra = evaluate(condition, ctx)
                if extra.value:
                    context += extra.evidence
        outcomes.append(
            PermitOutcome(
                id=rule.id,
                name=rule.name,
                kind=rule.kind,
                status=status,
                citation=rule.citation,
                agency=agency,
                timeline_months=rule.timeline_months,
                timeline_source=rule.timeline_source,
                evidence=outcome.evidence if outcome.value is not None else (),
                context=context,
                unknown=outcome.unknown + agency_unknown,
                superseded_by=superseded.get(rule.id),
                nepa_level=rule.nepa_level,
                check_locally=rule.check_locally,
                notes=rule.notes,
            )
        )
    nepa = [p for p in outcomes if p.nepa_level is not None]
    triggered_nepa = [p for p in nepa if p.status == "triggered"]
    if triggered_nepa:
        top = max(triggered_nepa, key=lambda p: NEPA_LEVELS.index(str(p.nepa_level)))
        nepa_level, lead = str(top.nepa_level), top.agency
    else:
        nepa_level = "unknown" if any(p.status == "unknown" for p in nepa) else "none"
        lead = None
    after = {rule.id: rule.after for rule in rules.permits}
    timeline, path = _critical_path(outcomes, after)
    used = layers_used(rules)
    not_screened = []
    layer_status: dict[str, str] = {}
    for name in dict.fromkeys([*rules.layers, *screening.layers]):
        status_of = screening.status(name)
        layer_status[name] = status_of
        if status_of in ("not_provided", "failed"):
            report = screening.layers.get(name)
            affected = tuple(
                p.id for p in outcomes if name in used.get(p.id, ()) and p.status == "unknown"
            )
            not_screened.append(
                NotScreened(name, status_of, report.message if report else None, affected)
            )
    derived = {name: value for name, (value, _, _) in ctx.derived.items()}
    given = {k: v for k, v in facts.to_dict().items() if k != "extra"}
    return Pathway(
        site_id=site_id,
        permits=tuple(outcomes),
        nepa_level=nepa_level,
        lead_agency=lead,
        likely_timeline_months=timeline,
        critical_path=path,
        timeline_complete=not any(p.status == "unknown" for p in outcomes),
        n_reviews=sum(p.status == "triggered" for p in outcomes),
        not_screened=tuple(not_screened),
        layer_status=layer_status,
        facts={**given, **dict(facts.extra), **derived},
    )


def _check_custom_facts(facts: ProjectFacts, rules: Rules) -> None:
    python_types = {"bool": (bool,), "number": (int, float), "string": (str,)}
    for name, value in facts.extra.items():
        spec = rules.facts.get(name)
        if spec is None:
            raise ScenarioError(
                f"ProjectFacts.extra has {name!r}, which the rules do not declare; declare it "
                f"under [facts.{name}] in a rules file. Declared custom facts: "
                f"{sorted(n for n, s in rules.facts.items() if n not in _GIVEN_OR_DERIVED)}."
            )
        if spec.derived or name in _GIVEN_OR_DERIVED:
            raise ScenarioError(f"ProjectFacts.extra may not set the built-in fact {name!r}.")
        ok = isinstance(value, python_types[spec.type]) and not (
            spec.type == "number" and isinstance(value, bool)
        )
        if value is not None and not ok:
            raise ScenarioError(
                f"custom fact {name!r} is a {spec.type}, got {value!r} in ProjectFacts.extra."
            )


def permitting_pathways(
    screening: Screening,
    facts: ProjectFacts | Mapping[Any, ProjectFacts],
    rules: Rules | None = None,
) -> tuple[Pathway, ...]:
    """The pathway of every site of a screening, in its order.

    Parameters
    ----------
    screening
        The result of :func:`~siting.permitting.screening.screen`.
    facts
        One :class:`ProjectFacts` for every site, or a mapping of site id to facts (every
        site must have an entry).
    rules
        Permitting rules; ``None`` loads the shipped ones.

    Returns
    -------
    tuple of Pathway

    Raises
    ------
    ScenarioError
        If ``facts`` is a mapping that misses a site.
    """
    rules = load_rules() if rules is None else rules
    out = []
    for site_id in screening.site_ids:
        if isinstance(facts, ProjectFacts):
            site_facts = facts
        else:
            if site_id not in facts:
                raise ScenarioError(
                    f"facts has no entry for site {site_id!r}; give one ProjectFacts for all "
                    "sites or one per site id."
                )
            site_facts = facts[site_id]
        out.append(permitting_pathway(screening, site_facts, rules, site_id=site_id))
    return tuple(out)


def permitting_complexity(pathways: Iterable[Pathway] | Mapping[Any, Pathway]) -> pd.DataFrame:
    """Permitting complexity per site: a feature for scoring and ranking.

    Parameters
    ----------
    pathways
        Pathways (from :func:`permitting_pathways`), or a mapping whose values are
        pathways.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``site_id``, one row per pathway:

        ``permits_triggered``
            triggered reviews and permits (int);
        ``permits_unknown``
            permits that could not be decided (int);
        ``timeline_months_low``, ``timeline_months_high``
            the critical-path timeline of the triggered permits (float);
        ``nepa_level``
            ``none``, ``CE``, ``EA``, ``EIS`` or ``unknown``;
        ``nepa_rank``
            the same as a number (0 none .. 3 EIS; NaN when unknown);
        ``layers_not_screened``
            layers the rules use that were not provided or failed (int).

        Every column but ``nepa_level`` is numeric, and more means harder: join it to the
        candidates by site id and use ``timeline_months_high`` or ``permits_triggered`` as a
        criterion with ``better = "lower"`` in a weighted overlay, or as a feature of the
        ML scorer. ``permits_unknown`` > 0 means the timeline is a lower bound.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> from siting.permitting import ProjectFacts, permitting_pathways, screen
    >>> sites = gpd.GeoDataFrame(geometry=[Point(50, 50), Point(500, 50)], crs="EPSG:5070")
    >>> land = gpd.GeoDataFrame({"manager": ["BLM"], "manager_type": ["Federal"]},
    ...                         geometry=[box(0, 0, 100, 100)], crs="EPSG:5070")
    >>> empty = land.iloc[:0]
    >>> screening = screen(sites, {"land_manager": land, "wetlands": empty,
    ...                            "critical_habitat": empty, "historic_places": empty,
    ...                            "tribal_lands": empty, "flood_zones": empty,
    ...                            "airports": empty})
    >>> facts = ProjectFacts(capacity_mw=5, acres=4, structure_height_ft=40)
    >>> table = permitting_complexity(permitting_pathways(screening, facts))
    >>> columns = ["permits_triggered", "permits_unknown", "timeline_months_high", "nepa_level"]
    >>> table[columns]  # doctest: +NORMALIZE_WHITESPACE
             permits_triggered  permits_unknown  timeline_months_high nepa_level
    site_id
    0                        3                0                  30.0         EA
    1                        2                0                  16.0       none
    """
    items = list(pathways.values()) if isinstance(pathways, Mapping) else list(pathways)
    rows = []
    for p in items:
        if not isinstance(p, Pathway):
            raise TypeError(f"permitting_complexity takes Pathway objects, got {type(p).__name__}")
        rows.append(
            {
                "site_id": p.site_id,
                "permits_triggered": p.n_reviews,
                "permits_unknown": len(p.unknown),
                "timeline_months_low": float(p.likely_timeline_months[0]),
                "timeline_months_high": float(p.likely_timeline_months[1]),
                "nepa_level": p.nepa_level,
                "nepa_rank": float(NEPA_RANK.get(p.nepa_level, float("nan"))),
                "layers_not_screened": len(p.not_screened),
            }
        )
    columns = [
        "site_id",
        "permits_triggered",
        "permits_unknown",
        "timeline_months_low",
        "timeline_months_high",
        "nepa_level",
        "nepa_rank",
        "layers_not_screened",
    ]
    table = pd.DataFrame(rows, columns=columns).set_index("site_id")
    return table.astype(
        {"permits_triggered": "int64", "permits_unknown": "int64", "layers_not_screened": "int64"}
    )
