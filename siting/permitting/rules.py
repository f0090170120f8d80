"""Permitting rules as data: the shipped ``rules.toml``, user overrides and extensions.

A rules file is TOML with these top-level keys (anything else is an error):

``version``
    integer format version (1);
``description``
    free text;
``[parameters]``
    named numbers that conditions use as ``{param = "<name>"}`` (thresholds such as
    ``large_load_threshold_mw``);
``[layers.<name>]``
    the screening layers conditions may test, each with a ``description``;
``[facts.<name>]``
    custom facts (``type`` = ``"bool"``, ``"number"`` or ``"string"``, ``description``),
    given through ``ProjectFacts(extra=...)``; the built-in facts need no declaration;
``[agencies.<name>]``
    a named lead-agency rule: ``rules = [{when = ..., agency = "..."}, ...]``, first match
    wins; an entry may take the agency from a fact or an attribute instead:
    ``agency_from = {fact = "funding_agency"}`` or ``agency_from = {screen = "land_manager",
    attribute = "manager"}``, with ``default`` when that is missing;
``[[permit]]``
    one review or permit each: ``id``, ``name``, ``kind`` (``review``, ``permit``,
    ``consultation``, ``notice``, ``study``), ``agency`` (text) or ``lead_agency`` (the
    name of an ``[agencies]`` rule), ``citation``, ``timeline_months = [low, high]``,
    ``timeline_source``, optional ``when`` (a condition, see
    :mod:`siting.permitting.conditions`; without it the permit always applies),
    ``context`` (conditions evaluated only to attach evidence), ``nepa_level`` (``CE``,
    ``EA``, ``EIS``), ``supersedes`` and ``after`` (permit ids), ``check_locally`` and
    ``notes``;
``disable``
    ids of permits to drop (useful in an extension file).

:func:`load_rules` reads the shipped file (or another one given as ``path``) and then each
``extend`` file in order: parameters, layers, facts and agencies are added or replaced by
name, permits by id, and ``disable`` drops permits. The merged rules are validated as a
whole; every problem is a :class:`~siting.errors.ScenarioError` that names the rule id and
the field.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from siting._typing import PathLike
from siting.errors import ScenarioError
from siting.permitting.conditions import (
    Condition,
    FactTest,
    ScreenTest,
    condition_to_dict,
    parse_condition,
)
from siting.permitting.facts import BUILTIN_FACTS, FactSpec

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "NEPA_LEVELS",
    "AgencyChoice",
    "PermitRule",
    "Rules",
    "layers_used",
    "load_rules",
]

#: File name of the shipped rules, inside ``siting.permitting``.
DEFAULT_RULES = "rules.toml"
#: Kinds of permit a rule may declare.
KINDS = ("review", "permit", "consultation", "notice", "study")
#: NEPA levels, lowest first.
NEPA_LEVELS = ("CE", "EA", "EIS")

_TOP = {"version", "description", "parameters", "layers", "facts", "agencies", "permit", "disable"}
_PERMIT_FIELDS = {
    "id",
    "name",
    "kind",
    "agency",
    "lead_agency",
    "citation",
    "timeline_months",
    "timeline_source",
    "when",
    "context",
    "nepa_level",
    "supersedes",
    "after",
    "check_locally",
    "notes",
}
_REQUIRED = ("id", "name", "kind", "citation", "timeline_months", "timeline_source")


@dataclass(frozen=True)
class AgencyChoice:
    """One entry of a lead-agency rule: when ``when`` holds, the agency is ``agency``, or
    the value of ``agency_from`` (a fact, or an attribute of the intersecting features of a
    screening layer), else ``default``."""

    when: Condition | None
    agency: str | None = None
    agency_from: tuple[str, str | None] | None = None  # (fact, None) or (layer, attribute)
    from_screen: bool = False
    default: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        out: dict[str, Any] = {}
        if self.when is not None:
            out["when"] = condition_to_dict(self.when)
        if self.agency is not None:
            out["agency"] = self.agency
        if self.agency_from is not None:
            source, attribute = self.agency_from
            out["agency_from"] = (
                {"screen": source, "attribute": attribute}
                if self.from_screen
                else {"fact": source}
            )
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class PermitRule:
    """One review or permit, when it applies, and what it typically takes.

    Attributes
    ----------
    id, name
        Identifier and plain name.
    kind
        ``review``, ``permit``, ``consultation``, ``notice`` or ``study``.
    citation
        The law and regulations (or ``check locally`` for generic state and local permits).
    timeline_months
        Typical (low, high) duration in months.
    timeline_source
        Where that range comes from, and whether it is a typical range or a deadline.
    when
        Condition that triggers it (``None``: always applies).
    agency
        Agency, as text; or ``None`` when ``lead_agency`` names an agency rule.
    lead_agency
        Name of the ``[agencies]`` rule that picks the agency per site.
    context
        Conditions evaluated only to attach evidence (e.g. historic places near a Section
        106 undertaking).
    nepa_level
        ``CE``, ``EA`` or ``EIS`` for NEPA reviews, else ``None``.
    supersedes
        Permits this one replaces when both are triggered (EIS supersedes EA and CE).
    after
        Permits that must finish before this one starts (when they are triggered).
    check_locally
        Generic state or local permit: the citation and timeline are placeholders to check
        with the jurisdiction.
    notes
        Anything else a reader should know.
    """

    id: str
    name: str
    kind: str
    citation: str
    timeline_months: tuple[float, float]
    timeline_source: str
    when: Condition | None = None
    agency: str | None = None
    lead_agency: str | None = None
    context: tuple[Condition, ...] = ()
    nepa_level: str | None = None
    supersedes: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    check_locally: bool = False
    notes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, in the rules-file layout."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "citation": self.citation,
            "timeline_months": list(self.timeline_months),
            "timeline_source": self.timeline_source,
        }
        if self.agency is not None:
            out["agency"] = self.agency
        if self.lead_agency is not None:
            out["lead_agency"] = self.lead_agency
        if self.when is not None:
            out["when"] = condition_to_dict(self.when)
        if self.context:
            out["context"] = [condition_to_dict(c) for c in self.context]
        if self.nepa_level is not None:
            out["nepa_level"] = self.nepa_level
        if self.supersedes:
            out["supersedes"] = list(self.supersedes)
        if self.after:
            out["after"] = list(self.after)
        out["check_locally"] = self.check_locally
        if self.notes is not None:
            out["notes"] = self.notes
        return out


@dataclass(frozen=True)
class Rules:
    """A validated set of permitting rules (see :func:`load_rules`).

    Attributes
    ----------
    permits
        The rules, in file order.
    parameters
        Named numbers used by conditions.
    layers
        Declared screening layers, name to description.
    facts
        Every fact rules may test (built-in and declared), by name.
    agencies
        Named lead-agency rules.
    sources
        Files the rules were read from, in order.
    version
        Format version.
    """

    permits: tuple[PermitRule, ...]
    parameters: Mapping[str, float] = field(default_factory=dict)
    layers: Mapping[str, str] = field(default_factory=dict)
    facts: Mapping[str, FactSpec] = field(default_factory=dict)
    agencies: Mapping[str, tuple[AgencyChoice, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    version: int = 1

    def permit(self, permit_id: str) -> PermitRule:
        """The rule with id ``permit_id``.

        Raises
        ------
        KeyError
            Naming the ids there are.
        """
        for rule in self.permits:
            if rule.id == permit_id:
                return rule
        raise KeyError(f"no permit {permit_id!r}; the ids are {[r.id for r in self.permits]}")

    def with_parameters(self, **values: float) -> Rules:
        """A copy with some parameters changed (e.g. ``large_load_threshold_mw=75``).

        Raises
        ------
        ScenarioError
            If a name is not a parameter or a value is not a finite number.

        Examples
        --------
        >>> rules = load_rules().with_parameters(large_load_threshold_mw=75)
        >>> rules.parameters["large_load_threshold_mw"]
        75.0
        """
        parameters = dict(self.parameters)
        for name, value in values.items():
            if name not in parameters:
                raise ScenarioError(
                    f"unknown parameter {name!r}; the parameters are {sorted(parameters)}."
                )
            parameters[name] = _parameter(name, value)
        return replace(self, parameters=parameters)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, in the rules-file layout (plus ``sources``)."""
        return {
            "version": self.version,
            "sources": list(self.sources),
            "parameters": dict(self.parameters),
            "layers": {name: {"description": text} for name, text in self.layers.items()},
            "facts": {
                name: spec.to_dict()
                for name, spec in self.facts.items()
                if name not in BUILTIN_FACTS
            },
            "agencies": {
                name: {"rules": [c.to_dict() for c in choices]}
                for name, choices in self.agencies.items()
            },
            "permit": [p.to_dict() for p in self.permits],
        }


# -- reading and merging -------------------------------------------------------------------


def _parameter(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"parameter {name!r} must be a finite number, got {value!r}.")
    return float(value)


def _read(path: PathLike) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(
            f"cannot read the rules file {str(p)!r}: {exc.strerror or exc}. Give the path of "
            "a TOML rules file."
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"the rules file {str(p)!r} is not valid TOML: {exc}.") from exc
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ScenarioError(
            f"the rules file {str(p)!r} has unknown top-level field(s) {unknown}; the fields "
            f"are {sorted(_TOP)}."
        )
    return data


def _table(data: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{source}: [{key}] must be a table, got {value!r}.")
    return dict(value)


@dataclass
class _Merged:
    version: int = 1
    parameters: dict[str, float] = field(default_factory=dict)
    layers: dict[str, str] = field(default_factory=dict)
    facts: dict[str, FactSpec] = field(default_factory=dict)
    agencies: dict[str, Any] = field(default_factory=dict)
    permits: dict[str, dict[str, Any]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def add(self, data: Mapping[str, Any], source: str) -> None:
        self.sources.append(source)
        version = data.get("version", self.version)
        if version != 1:
            raise ScenarioError(f"{source}: version must be 1, got {version!r}.")
        for name, value in _table(data, "parameters", source).items():
            self.parameters[name] = _parameter(name, value)
        for name, spec in _table(data, "layers", source).items():
            if not name.isidentifier():
                raise ScenarioError(f"{source}: layer name {name!r} must be an identifier.")
            if not isinstance(spec, Mapping) or set(spec) - {"description"}:
                raise ScenarioError(
                    f"{source}: [layers.{name}] takes only 'description', got {spec!r}."
                )
            self.layers[name] = str(spec.get("description", ""))
        for name, spec in _table(data, "facts", source).items():
            if name in BUILTIN_FACTS:
                raise ScenarioError(
                    f"{source}: [facts.{name}] redeclares a built-in fact; built-in facts "
                    "need no declaration."
                )
            if not isinstance(spec, Mapping) or set(spec) - {"type", "description"}:
                raise ScenarioError(
                    f"{source}: [facts.{name}] takes 'type' and 'description', got {spec!r}."
                )
            kind = spec.get("type")
            if kind not in ("bool", "number", "string"):
                raise ScenarioError(
                    f"{source}: [facts.{name}] field 'type' must be 'bool', 'number' or "
                    f"'string', got {kind!r}."
                )
            self.facts[name] = FactSpec(name, kind, str(spec.get("description", "")))
        for name, spec in _table(data, "agencies", source).items():
            if not isinstance(spec, Mapping) or set(spec) != {"rules"}:
                raise ScenarioError(
                    f"{source}: [agencies.{name}] takes one field, 'rules' (a list), got {spec!r}."
                )
            self.agencies[name] = spec["rules"]
        permits = data.get("permit", [])
        if not isinstance(permits, list):
            raise ScenarioError(f"{source}: 'permit' must be an array of tables ([[permit]]).")
        for i, permit in enumerate(permits):
            if not isinstance(permit, Mapping):
                raise ScenarioError(f"{source}: permit #{i + 1} must be a table.")
            permit_id = permit.get("id")
            if not isinstance(permit_id, str) or not permit_id.isidentifier():
                raise ScenarioError(
                    f"{source}: permit #{i + 1} needs an 'id' made of letters, digits and "
                    f"underscores, got {permit_id!r}."
                )
            self.permits[permit_id] = {**permit, "__source__": source}
            self.disabled.discard(permit_id)
        disable = data.get("disable", [])
        if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
            raise ScenarioError(f"{source}: 'disable' must be a list of permit ids.")
        for permit_id in disable:
            if permit_id not in self.permits:
                raise ScenarioError(
                    f"{source}: 'disable' names {permit_id!r}, which is not a permit; the ids "
                    f"are {sorted(self.permits)}."
                )
            del self.permits[permit_id]
            self.disabled.add(permit_id)


def _fail(rule: str, where: str, message: str) -> ScenarioError:
    return ScenarioError(f"rule {rule!r}, field {where!r}: {message}")


def _text_field(data: Mapping[str, Any], key: str, rule: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _fail(rule, key, "is required and missing.")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(rule, key, f"a non-empty string was expected, got {value!r}.")
    return value.strip()


def _ids(data: Mapping[str, Any], key: str, rule: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(rule, key, f"a list of permit ids was expected, got {value!r}.")
    return tuple(value)


def _agency_choices(
    name: str,
    entries: object,
    parse: Any,
    layers: Mapping[str, str],
    facts: Mapping[str, FactSpec],
) -> tuple[AgencyChoice, ...]:
    rule = f"agencies.{name}"
    if not isinstance(entries, list) or not entries:
        raise _fail(rule, "rules", f"a non-empty list was expected, got {entries!r}.")
    out = []
    for i, entry in enumerate(entries):
        where = f"rules[{i}]"
        if not isinstance(entry, Mapping):
            raise _fail(rule, where, f"a table was expected, got {entry!r}.")
        extra = sorted(set(entry) - {"when", "agency", "agency_from", "default"})
        if extra:
            raise _fail(
                rule,
                where,
                f"unknown field(s) {extra}; the fields are when, agency, agency_from, default.",
            )
        if ("agency" in entry) == ("agency_from" in entry):
            raise _fail(rule, where, "give exactly one of 'agency' and 'agency_from'.")
        when = parse(entry["when"], rule=rule, where=f"{where}.when") if "when" in entry else None
        agency = entry.get("agency")
        if agency is not None and (not isinstance(agency, str) or not agency.strip()):
            raise _fail(
                rule, f"{where}.agency", f"a non-empty string was expected, got {agency!r}."
            )
        source: tuple[str, str | None] | None = None
        from_screen = False
        if "agency_from" in entry:
            spec = entry["agency_from"]
            if isinstance(spec, Mapping) and set(spec) == {"fact"}:
                if spec["fact"] not in facts or facts[spec["fact"]].type != "string":
                    raise _fail(
                        rule,
                        f"{where}.agency_from.fact",
                        f"{spec['fact']!r} is not a string fact; string facts are "
                        f"{sorted(n for n, s in facts.items() if s.type == 'string')}.",
                    )
                source = (str(spec["fact"]), None)
            elif isinstance(spec, Mapping) and set(spec) == {"screen", "attribute"}:
                if spec["screen"] not in layers:
                    raise _fail(
                        rule,
                        f"{where}.agency_from.screen",
                        f"unknown screening layer {spec['screen']!r}; the layers are "
                        f"{sorted(layers)}.",
                    )
                source = (str(spec["screen"]), str(spec["attribute"]))
                from_screen = True
            else:
                raise _fail(
                    rule,
                    f"{where}.agency_from",
                    "expected {fact = '<name>'} or {screen = '<layer>', attribute = '<name>'}, "
                    f"got {spec!r}.",
                )
        default = entry.get("default")
        if default is not None and not isinstance(default, str):
            raise _fail(rule, f"{where}.default", f"a string was expected, got {default!r}.")
        out.append(AgencyChoice(when, agency, source, from_screen, default))
    return tuple(out)


def _permit(data: Mapping[str, Any], parse: Any, agencies: Mapping[str, Any]) -> PermitRule:
    rule = str(data["id"])
    extra = sorted(set(data) - _PERMIT_FIELDS - {"__source__"})
    if extra:
        raise _fail(
            rule,
            extra[0],
            f"unknown field(s) {extra} (in {data['__source__']}); the fields are "
            f"{sorted(_PERMIT_FIELDS)}.",
        )
    for key in _REQUIRED:
        if key not in data:
            raise _fail(rule, key, f"is required and missing (in {data['__source__']}).")
    kind = data["kind"]
    if kind not in KINDS:
        raise _fail(rule, "kind", f"must be one of {list(KINDS)}, got {kind!r}.")
    agency = _text_field(data, "agency", rule, required=False)
    lead = _text_field(data, "lead_agency", rule, required=False)
    if (agency is None) == (lead is None):
        raise _fail(
            rule,
            "agency",
            "give exactly one of 'agency' (text) and 'lead_agency' "
            "(the name of an [agencies] rule).",
        )
    if lead is not None and lead not in agencies:
        raise _fail(
            rule,
            "lead_agency",
            f"no [agencies.{lead}] rule; the agency rules are {sorted(agencies)}.",
        )
    timeline = data["timeline_months"]
    if (
        not isinstance(timeline, list)
        or len(timeline) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in timeline)
        or not all(math.isfinite(v) and v >= 0 for v in timeline)
        or timeline[0] > timeline[1]
    ):
        raise _fail(
            rule,
            "timeline_months",
            f"[low, high] months with 0 <= low <= high was expected, got {timeline!r}.",
        )
    level = data.get("nepa_level")
    if level is not None and level not in NEPA_LEVELS:
        raise _fail(rule, "nepa_level", f"must be one of {list(NEPA_LEVELS)}, got {level!r}.")
    check = data.get("check_locally", False)
    if not isinstance(check, bool):
        raise _fail(rule, "check_locally", f"true or false was expected, got {check!r}.")
    context = data.get("context", [])
    if not isinstance(context, list):
        raise _fail(rule, "context", f"a list of conditions was expected, got {context!r}.")
    return PermitRule(
        id=rule,
        name=str(_text_field(data, "name", rule, required=True)),
        kind=kind,
        citation=str(_text_field(data, "citation", rule, required=True)),
        timeline_months=(float(timeline[0]), float(timeline[1])),
        timeline_source=str(_text_field(data, "timeline_source", rule, required=True)),
        when=parse(data["when"], rule=rule, where="when") if "when" in data else None,
        agency=agency,
        lead_agency=lead,
        context=tuple(parse(c, rule=rule, where=f"context[{i}]") for i, c in enumerate(context)),
        nepa_level=level,
        supersedes=_ids(data, "supersedes", rule),
        after=_ids(data, "after", rule),
        check_locally=check,
        notes=_text_field(data, "notes", rule, required=False),
    )


def _check_references(permits: list[PermitRule], disabled: set[str]) -> list[PermitRule]:
    ids = {p.id for p in permits}
    out = []
    for permit in permits:
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("supersedes", "after"):
            kept = []
            for other in getattr(permit, key):
                if other == permit.id:
                    raise _fail(permit.id, key, "a permit cannot name itself.")
                if other in ids:
                    kept.append(other)
                elif other not in disabled:
                    raise _fail(
                        permit.id,
                        key,
                        f"names {other!r}, which is not a permit; the ids are {sorted(ids)}.",
                    )
            lists[key] = tuple(kept)
        out.append(replace(permit, supersedes=lists["supersedes"], after=lists["after"]))
    # `after` must not loop.
    after = {p.id: p.after for p in out}
    state: dict[str, int] = {}

    def visit(node: str, chain: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            loop = [*chain[chain.index(node) :], node]
            raise _fail(node, "after", f"the 'after' lists form a loop: {' -> '.join(loop)}.")
        state[node] = 1
        for nxt in after[node]:
            visit(nxt, [*chain, node])
        state[node] = 2

    for node in after:
        visit(node, [])
    return out


def _conditions(condition: Condition | None) -> Iterable[Condition]:
    if condition is None:
        return
    yield condition
    for child in getattr(condition, "items", ()):
        yield from _conditions(child)
    if hasattr(condition, "item"):
        yield from _conditions(condition.item)


def load_rules(
    path: PathLike | None = None,
    *,
    extend: Iterable[PathLike] = (),
    parameters: Mapping[str, float] | None = None,
) -> Rules:
    """Read and validate permitting rules: the shipped file, or yours, plus extensions.

    Parameters
    ----------
    path
        A rules file that replaces the shipped ``rules.toml``; ``None`` uses the shipped one.
    extend
        Files read after it, in order: their parameters, layers, facts and agencies are
        added or replace those of the same name, their permits add to or replace those of
        the same id, and their ``disable`` list drops permits.
    parameters
        Parameter values that override the files' (e.g. ``{"large_load_threshold_mw": 75}``).

    Returns
    -------
    Rules

    Raises
    ------
    ScenarioError
        If a file cannot be read or is not TOML, or a rule is invalid: an unknown field, a
        missing required field, a condition on a layer or fact that does not exist, a
        comparison that does not fit, an unknown parameter, ``after`` lists that loop. The
        message names the rule id and the field.

    Examples
    --------
    >>> rules = load_rules()
    >>> rules.permit("cwa_section_404").citation.split(";")[0]
    'Clean Water Act section 404, 33 U.S.C. 1344'
    >>> rules.parameters["large_load_threshold_mw"]
    20.0
    """
    merged = _Merged()
    if path is None:
        shipped = resources.files("siting.permitting").joinpath(DEFAULT_RULES)
        with resources.as_file(shipped) as real:
            merged.add(_read(real), f"siting/permitting/{DEFAULT_RULES}")
    else:
        merged.add(_read(path), str(path))
    if isinstance(extend, str | Path):
        extend = [extend]
    for extra in extend:
        merged.add(_read(extra), str(extra))
    for name, value in (parameters or {}).items():
        if name not in merged.parameters:
            raise ScenarioError(
                f"unknown parameter {name!r}; the parameters are {sorted(merged.parameters)}."
            )
        merged.parameters[name] = _parameter(name, value)
    facts: dict[str, FactSpec] = {**BUILTIN_FACTS, **merged.facts}
    fact_types = {name: spec.type for name, spec in facts.items()}

    def parse(data: object, *, rule: str, where: str) -> Condition:
        return parse_condition(
            data,
            rule=rule,
            where=where,
            facts=fact_types,
            layers=merged.layers,
            parameters=merged.parameters,
        )

    agencies = {
        name: _agency_choices(name, entries, parse, merged.layers, facts)
        for name, entries in merged.agencies.items()
    }
    permits = [_permit(data, parse, agencies) for data in merged.permits.values()]
    if not permits:
        raise ScenarioError(
            f"the rules ({', '.join(merged.sources)}) define no permit; add [[permit]] tables."
        )
    permits = _check_references(permits, merged.disabled)
    return Rules(
        permits=tuple(permits),
        parameters=dict(merged.parameters),
        layers=dict(merged.layers),
        facts=facts,
        agencies=agencies,
        sources=tuple(merged.sources),
        version=merged.version,
    )


def layers_used(rules: Rules) -> dict[str, list[str]]:
    """Screening layers each permit's conditions (``when`` and agency rules) depend on."""
    out: dict[str, list[str]] = {}
    for permit in rules.permits:
        conditions = [permit.when]
        if permit.lead_agency is not None:
            conditions += [c.when for c in rules.agencies[permit.lead_agency]]
        names: dict[str, None] = {}
        for condition in conditions:
            for node in _conditions(condition):
                if isinstance(node, ScreenTest):
                    names[node.screen] = None
                elif isinstance(node, FactTest) and node.fact in _FACT_LAYERS:
                    names.update(dict.fromkeys(_FACT_LAYERS[node.fact]))
        out[permit.id] = list(names)
    return out


# Layers each derived fact reads.
_FACT_LAYERS = {
    "federal_land": ("land_manager",),
    "tribal_land": ("tribal_lands", "land_manager"),
    "federal_nexus": ("land_manager", "tribal_lands"),
    "faa_slope_exceeded": ("airports",),
}
