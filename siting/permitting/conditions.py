"""Conditions of the permitting rules: structured data read by a small interpreter.

A condition is a TOML/JSON table with exactly one of these keys:

``all = [c, ...]`` / ``any = [c, ...]``
    every / at least one of the conditions holds (at least one item each);
``not = c``
    the condition does not hold;
``fact = "<name>"`` with one comparison
    a project fact (:data:`siting.permitting.facts.BUILTIN_FACTS` or one declared under
    ``[facts]``) compared with ``equals``, ``in``, ``gt``, ``ge``, ``lt`` or ``le``;
``screen = "<layer>"`` with one test
    a screening layer (declared under ``[layers]``) tested with ``hit = true|false`` (a
    feature within the layer's search distance), ``intersects = true|false``,
    ``within_m = <metres>`` (the nearest feature is that close), or ``attribute =
    "<name>"`` with one comparison (some intersecting feature's attribute matches; add
    ``within_m`` to look at the features within that distance instead).

Numbers in ``gt``, ``ge``, ``lt``, ``le`` and ``within_m`` may name a parameter of the rules
file instead: ``{param = "large_load_threshold_mw"}``.

Evaluation is three-valued (Kleene logic): a condition is ``True``, ``False`` or ``None``
(unknown: a layer that was not provided or failed, a fact that was not given). ``all`` is
False if any item is False, else unknown if any is unknown; ``any`` is True if any item is
True, else unknown if any is unknown; ``not`` keeps unknown. Values from a file are only
ever compared with ``==``, ``<`` and friends: nothing is evaluated as code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from siting.errors import ScenarioError
from siting.permitting.screening import Hit, _plain

__all__ = [
    "COMPARISONS",
    "AllOf",
    "AnyOf",
    "Condition",
    "Context",
    "Evidence",
    "FactTest",
    "Not",
    "Outcome",
    "Param",
    "ScreenTest",
    "condition_to_dict",
    "evaluate",
    "parse_condition",
]

#: Comparisons a ``fact`` or ``attribute`` test may use.
COMPARISONS = ("equals", "in", "gt", "ge", "lt", "le")
_ORDERED = ("gt", "ge", "lt", "le")
_SCREEN_TESTS = ("hit", "intersects", "within_m", "attribute")
#: Most features one test lists as evidence (the nearest ones); the count is always given.
MAX_EVIDENCE = 10

Scalar: TypeAlias = str | int | float | bool


@dataclass(frozen=True)
class Param:
    """A number taken from the rules file's ``[parameters]`` by name."""

    name: str


Value: TypeAlias = Scalar | tuple[Scalar, ...] | Param


@dataclass(frozen=True)
class FactTest:
    """``{fact = name, <op> = value}``."""

    fact: str
    op: str
    value: Value


@dataclass(frozen=True)
class ScreenTest:
    """``{screen = layer, ...}``: ``test`` is ``hit``, ``intersects``, ``within_m`` or
    ``attribute`` (then ``attribute``, ``op`` and ``value`` say the comparison and
    ``within_m`` the optional search scope)."""

    screen: str
    test: str
    value: Value | None = None
    attribute: str | None = None
    op: str | None = None
    within_m: float | Param | None = None


@dataclass(frozen=True)
class AllOf:
    """``{all = [...]}``."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """``{any = [...]}``."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """``{not = ...}``."""

    item: Condition


Condition: TypeAlias = AllOf | AnyOf | Not | FactTest | ScreenTest


# -- parsing -----------------------------------------------------------------------------


def _fail(rule: str, where: str, message: str) -> ScenarioError:
    return ScenarioError(f"rule {rule!r}, field {where!r}: {message}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_number(
    value: object,
    rule: str,
    where: str,
    parameters: Mapping[str, object],
) -> float | Param:
    if isinstance(value, Mapping):
        keys = set(value)
        if keys != {"param"} or not isinstance(value["param"], str):
            raise _fail(
                rule, where, f"a number or {{param = '<name>'}} was expected, got {dict(value)!r}."
            )
        name = value["param"]
        if name not in parameters:
            raise _fail(
                rule,
                where,
                f"unknown parameter {name!r}; the parameters are {sorted(parameters)}. "
                "Declare it under [parameters].",
            )
        if not _is_number(parameters[name]):
            raise _fail(rule, where, f"parameter {name!r} is not a number.")
        return Param(name)
    if not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise _fail(rule, where, f"a finite number was expected, got {value!r}.")
    return float(value)  # type: ignore[arg-type]


def _parse_comparison(
    table: Mapping[str, Any],
    rule: str,
    where: str,
    value_type: str | None,
    parameters: Mapping[str, object],
) -> tuple[str, Value]:
    ops = [k for k in table if k in COMPARISONS]
    if len(ops) != 1:
        raise _fail(
            rule,
            where,
            f"exactly one comparison of {', '.join(COMPARISONS)} is needed, got {ops or 'none'}.",
        )
    op = ops[0]
    raw = table[op]
    if op in _ORDERED:
        if value_type not in (None, "number"):
            raise _fail(
                rule,
                f"{where}.{op}",
                f"{op!r} compares numbers, but this value is a {value_type}; use 'equals' "
                "or 'in'.",
            )
        return op, _parse_number(raw, rule, f"{where}.{op}", parameters)
    values = raw if op == "in" else [raw]
    if op == "in" and (not isinstance(raw, list) or not raw):
        raise _fail(rule, f"{where}.in", f"a non-empty list was expected, got {raw!r}.")
    for item in values:
        if not isinstance(item, str | int | float | bool):
            raise _fail(
                rule,
                f"{where}.{op}",
                f"values are strings, numbers or booleans, got {item!r}.",
            )
        if value_type is not None and _type_of(item) != value_type:
            raise _fail(
                rule,
                f"{where}.{op}",
                f"{item!r} is a {_type_of(item)}, but the fact is a {value_type}.",
            )
    return op, (tuple(values) if op == "in" else values[0])


def _type_of(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def parse_condition(
    data: object,
    *,
    rule: str,
    where: str = "when",
    facts: Mapping[str, str],
    layers: Sequence[str] | Mapping[str, Any],
    parameters: Mapping[str, object],
) -> Condition:
    """Validate a condition table and build its :data:`Condition`.

    Parameters
    ----------
    data
        The table as read from TOML or JSON.
    rule
        Id of the rule, named in error messages.
    where
        Path of the table inside the rule, named in error messages.
    facts
        Known facts, name to type (``bool``, ``number``, ``string``).
    layers
        Declared screening layers.
    parameters
        The rules' parameters, for ``{param = ...}`` values.

    Raises
    ------
    ScenarioError
        Naming the rule id and the field: an unknown key, a layer or fact that does not
        exist, a comparison that does not fit, or a value of the wrong type.

    Examples
    --------
    >>> parse_condition({"fact": "capacity_mw", "ge": 20}, rule="r", facts={"capacity_mw":
    ...                 "number"}, layers=[], parameters={})
    FactTest(fact='capacity_mw', op='ge', value=20.0)
    >>> parse_condition({"screen": "wetlands", "hit": "yes"}, rule="r", facts={},
    ...                 layers=["wetlands"], parameters={})
    Traceback (most recent call last):
    ...
    siting.errors.ScenarioError: rule 'r', field 'when.hit': true or false was expected, got 'yes'.
    """
    if not isinstance(data, Mapping):
        raise _fail(rule, where, f"a condition table was expected, got {data!r}.")
    heads = [k for k in ("all", "any", "not", "fact", "screen") if k in data]
    if len(heads) != 1:
        raise _fail(
            rule,
            where,
            "a condition has exactly one of 'all', 'any', 'not', 'fact', 'screen'; got "
            f"keys {sorted(data)}.",
        )
    head = heads[0]
    kwargs = {"rule": rule, "facts": facts, "layers": layers, "parameters": parameters}
    if head in ("all", "any"):
        extra = sorted(set(data) - {head})
        if extra:
            raise _fail(rule, where, f"unknown field(s) {extra} beside {head!r}.")
        items = data[head]
        if not isinstance(items, list) or not items:
            raise _fail(
                rule,
                f"{where}.{head}",
                f"a non-empty list of conditions was expected, got {items!r}.",
            )
        parsed = tuple(
            parse_condition(item, where=f"{where}.{head}[{i}]", **kwargs)  # type: ignore[arg-type]
            for i, item in enumerate(items)
        )
        return AllOf(parsed) if head == "all" else AnyOf(parsed)
    if head == "not":
        extra = sorted(set(data) - {"not"})
        if extra:
            raise _fail(rule, where, f"unknown field(s) {extra} beside 'not'.")
        return Not(parse_condition(data["not"], where=f"{where}.not", **kwargs))  # type: ignore[arg-type]
    if head == "fact":
        name = data["fact"]
        extra = sorted(set(data) - {"fact", *COMPARISONS})
        if extra:
            hint = " ('within_m' applies to screening layers only)" if "within_m" in extra else ""
            raise _fail(
                rule,
                where,
                f"unknown field(s) {extra} in a fact test{hint}; a fact test has 'fact' and "
                f"one of {', '.join(COMPARISONS)}.",
            )
        if not isinstance(name, str) or name not in facts:
            raise _fail(
                rule,
                f"{where}.fact",
                f"unknown fact {name!r}; the facts are {sorted(facts)}. Declare a custom fact "
                "under [facts.<name>] with its type.",
            )
        op, value = _parse_comparison(data, rule, where, facts[name], parameters)
        return FactTest(name, op, value)
    # screen
    layer = data["screen"]
    if not isinstance(layer, str) or layer not in layers:
        raise _fail(
            rule,
            f"{where}.screen",
            f"unknown screening layer {layer!r}; the layers are {sorted(layers)}. Declare a "
            "custom layer under [layers.<name>].",
        )
    allowed = {"screen", "hit", "intersects", "within_m", "attribute", *COMPARISONS}
    extra = sorted(set(data) - allowed)
    if extra:
        raise _fail(
            rule,
            where,
            f"unknown field(s) {extra} in a screen test; it has 'screen' and one of 'hit', "
            "'intersects', 'within_m', or 'attribute' with a comparison.",
        )
    if "attribute" in data:
        attribute = data["attribute"]
        if not isinstance(attribute, str) or not attribute:
            raise _fail(
                rule, f"{where}.attribute", f"an attribute name was expected, got {attribute!r}."
            )
        clash = [k for k in ("hit", "intersects") if k in data]
        if clash:
            raise _fail(rule, where, f"'attribute' cannot be combined with {clash}.")
        op, value = _parse_comparison(data, rule, where, None, parameters)
        within = (
            _parse_number(data["within_m"], rule, f"{where}.within_m", parameters)
            if "within_m" in data
            else None
        )
        if isinstance(within, float) and within < 0:
            raise _fail(rule, f"{where}.within_m", f"must be >= 0 metres, got {within}.")
        return ScreenTest(layer, "attribute", value, attribute=attribute, op=op, within_m=within)
    comparisons = [k for k in COMPARISONS if k in data]
    if comparisons:
        raise _fail(
            rule,
            where,
            f"comparison(s) {comparisons} need an 'attribute' to compare; use 'hit', "
            "'intersects' or 'within_m' to test the layer itself.",
        )
    tests = [k for k in ("hit", "intersects", "within_m") if k in data]
    if len(tests) != 1:
        raise _fail(
            rule,
            where,
            f"a screen test needs exactly one of 'hit', 'intersects', 'within_m' or "
            f"'attribute', got {tests or 'none'}.",
        )
    test = tests[0]
    if test == "within_m":
        within = _parse_number(data["within_m"], rule, f"{where}.within_m", parameters)
        if isinstance(within, float) and within < 0:
            raise _fail(rule, f"{where}.within_m", f"must be >= 0 metres, got {within}.")
        return ScreenTest(layer, "within_m", within)
    flag = data[test]
    if not isinstance(flag, bool):
        raise _fail(rule, f"{where}.{test}", f"true or false was expected, got {flag!r}.")
    return ScreenTest(layer, test, flag)


def _value_to_data(value: Value | None) -> Any:
    if isinstance(value, Param):
        return {"param": value.name}
    if isinstance(value, tuple):
        return list(value)
    return value


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    """The condition as the plain table it was read from (JSON-ready).

    Examples
    --------
    >>> condition_to_dict(AllOf((FactTest("federal_funding", "equals", True),
    ...                          ScreenTest("wetlands", "intersects", True))))["all"]
    [{'fact': 'federal_funding', 'equals': True}, {'screen': 'wetlands', 'intersects': True}]
    """
    if isinstance(condition, AllOf):
        return {"all": [condition_to_dict(c) for c in condition.items]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_to_dict(c) for c in condition.items]}
    if isinstance(condition, Not):
        return {"not": condition_to_dict(condition.item)}
    if isinstance(condition, FactTest):
        return {"fact": condition.fact, condition.op: _value_to_data(condition.value)}
    out: dict[str, Any] = {"screen": condition.screen}
    if condition.test == "attribute":
        out["attribute"] = condition.attribute
        out[str(condition.op)] = _value_to_data(condition.value)
        if condition.within_m is not None:
            out["within_m"] = _value_to_data(condition.within_m)
    else:
        out[condition.test] = _value_to_data(condition.value)
    return out


# -- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One observation behind a rule's outcome.

    Attributes
    ----------
    source
        ``"screen"`` (a screening layer) or ``"fact"`` (a project or derived fact).
    description
        One plain sentence saying what was observed.
    layer
        Screening layer (for ``screen`` evidence).
    feature_id
        The feature observed (``None`` when the layer had none).
    distance_m
        Distance from the site to that feature, metres.
    attributes
        The feature's evidence attributes.
    fact
        Fact name (for ``fact`` evidence).
    value
        The fact's value (for ``fact`` evidence).
    """

    source: Literal["screen", "fact"]
    description: str
    layer: str | None = None
    feature_id: Any = None
    distance_m: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    fact: str | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "source": self.source,
            "description": self.description,
            "layer": self.layer,
            "feature_id": _plain(self.feature_id),
            "distance_m": _plain(self.distance_m),
            "attributes": {k: _plain(v) for k, v in self.attributes.items()},
            "fact": self.fact,
            "value": _plain(self.value),
        }


@dataclass(frozen=True)
class Outcome:
    """Value of a condition (True, False, or None for unknown) with what supports it."""

    value: bool | None
    evidence: tuple[Evidence, ...] = ()
    unknown: tuple[str, ...] = ()


class Context(Protocol):
    """What the interpreter needs from one site's screening and facts."""

    def fact(self, name: str) -> tuple[Any, tuple[Evidence, ...], str | None]:
        """(value or None, supporting evidence, reason when unknown)."""
        ...

    def layer(self, name: str) -> tuple[str, str | None, float | None, tuple[str, ...]]:
        """(status, message, search distance in metres, evidence attribute names)."""
        ...

    def hits(self, name: str) -> Sequence[Hit]:
        """Features of the layer within its search distance, nearest first."""
        ...

    def nearest(self, name: str) -> Hit | None:
        """The nearest feature of the layer, however far; None if it has none."""
        ...

    def parameter(self, name: str) -> float:
        """A numeric parameter of the rules."""
        ...


def _number(value: float | Param | Scalar | tuple[Scalar, ...] | None, ctx: Context) -> float:
    if isinstance(value, Param):
        return float(ctx.parameter(value.name))
    assert isinstance(value, int | float)
    return float(value)


def _same(a: object, b: object) -> bool:
    # A bool only equals a bool (True == 1 in Python is not what a rule means).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)  # type: ignore[arg-type]
    return type(a) is type(b) and a == b


_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_SYMBOL = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "equals": "=", "in": "in"}


def _compare(observed: Any, op: str, value: Value | None, ctx: Context) -> bool | None:
    """observed <op> value, or None when the observation is missing or not comparable."""
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return None
    if op == "equals":
        return _same(observed, value)
    if op == "in":
        assert isinstance(value, tuple)
        return any(_same(observed, v) for v in value)
    if isinstance(observed, bool) or not _is_number(observed):
        try:
            observed = float(observed)
        except (TypeError, ValueError):
            return None
        if isinstance(observed, bool) or not math.isfinite(observed):
            return None
    return _OPS[op](float(observed), _number(value, ctx))


def _shown(value: Value | None, ctx: Context) -> str:
    if isinstance(value, Param):
        return f"{ctx.parameter(value.name):g} ({value.name})"
    if isinstance(value, tuple):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def _feature_evidence(layer: str, feature: Hit, description: str) -> Evidence:
    return Evidence(
        source="screen",
        description=description,
        layer=layer,
        feature_id=feature.feature_id,
        distance_m=float(feature.distance_m),
        attributes=dict(feature.attributes),
    )


def _describe(layer: str, feature: Hit) -> str:
    where = "intersects the site" if feature.intersects else f"{feature.distance_m:,.0f} m away"
    return f"{layer} feature {feature.feature_id!r} {where}"


def _screen(test: ScreenTest, ctx: Context) -> Outcome:
    layer = test.screen
    status, message, search_m, attributes = ctx.layer(layer)
    if status not in ("ok", "empty"):
        reason = f"layer {layer!r} {status.replace('_', ' ')}" + (
            f": {message}" if message else ""
        )
        return Outcome(None, unknown=(reason,))
    hits = list(ctx.hits(layer))
    nearest = ctx.nearest(layer)

    def absent(what: str) -> Evidence:
        if nearest is None:
            return Evidence("screen", f"{layer}: no feature in the layer ({what})", layer=layer)
        return _feature_evidence(
            layer,
            nearest,
            f"{layer}: {what}; nearest feature {nearest.feature_id!r} is "
            f"{nearest.distance_m:,.0f} m away",
        )

    if test.test in ("hit", "intersects"):
        found = [h for h in hits if h.intersects] if test.test == "intersects" else hits
        observed = bool(found)
        if observed:
            evidence = tuple(
                _feature_evidence(layer, h, _describe(layer, h)) for h in found[:MAX_EVIDENCE]
            )
            if len(found) > MAX_EVIDENCE:
                evidence += (
                    Evidence("screen", f"{layer}: {len(found)} features in all", layer=layer),
                )
        else:
            what = (
                "no feature intersects the site"
                if test.test == "intersects"
                else (f"no feature within {search_m:g} m")
            )
            evidence = (absent(what),)
        return Outcome(observed is test.value, evidence)
    if test.test == "within_m":
        limit = _number(test.value, ctx)
        if nearest is None:
            return Outcome(False, (absent(f"nothing within {limit:g} m"),))
        close = nearest.distance_m <= limit
        text = (
            f"{_describe(layer, nearest)} (within {limit:g} m)"
            if close
            else f"{layer}: nearest feature {nearest.feature_id!r} is {nearest.distance_m:,.0f} m "
            f"away (beyond {limit:g} m)"
        )
        return Outcome(close, (_feature_evidence(layer, nearest, text),))
    # attribute test
    name = str(test.attribute)
    condition = f"{name} {_SYMBOL[str(test.op)]} {_shown(test.value, ctx)}"
    if test.within_m is None:
        scope = [h for h in hits if h.intersects]
        scope_text = "intersecting the site"
        complete = True
    else:
        limit = _number(test.within_m, ctx)
        scope = [h for h in hits if h.distance_m <= limit]
        scope_text = f"within {limit:g} m"
        complete = search_m is not None and limit <= search_m
    if scope and name not in attributes:
        return Outcome(
            None,
            unknown=(
                f"layer {layer!r} has no attribute {name!r} (its evidence attributes are "
                f"{list(attributes)})",
            ),
        )
    matched, missing = [], 0
    for hit in scope:
        result = _compare(hit.attributes.get(name), str(test.op), test.value, ctx)
        if result is None:
            missing += 1
        elif result:
            matched.append(hit)
    if matched:
        evidence = tuple(
            _feature_evidence(
                layer, h, f"{_describe(layer, h)} with {name} = {h.attributes.get(name)!r}"
            )
            for h in matched[:MAX_EVIDENCE]
        )
        return Outcome(True, evidence)
    if missing:
        return Outcome(
            None,
            unknown=(f"{missing} {layer} feature(s) {scope_text} have no usable {name!r}",),
        )
    if not complete:
        return Outcome(
            None,
            unknown=(
                f"layer {layer!r} was screened to {search_m:g} m only, but the rule looks "
                f"{scope_text}; screen it with a larger search_m",
            ),
        )
    if scope:
        evidence = tuple(
            _feature_evidence(
                layer,
                h,
                f"{_describe(layer, h)} with {name} = {h.attributes.get(name)!r} "
                f"(not {condition})",
            )
            for h in scope[:MAX_EVIDENCE]
        )
    else:
        evidence = (absent(f"no feature {scope_text}"),)
    return Outcome(False, evidence)


def _fact(test: FactTest, ctx: Context) -> Outcome:
    value, support, reason = ctx.fact(test.fact)
    result = _compare(value, test.op, test.value, ctx)
    if result is None:
        return Outcome(None, unknown=(reason or f"fact {test.fact!r} not given",))
    text = f"{test.fact} = {value!r}" + (
        "" if test.op == "equals" else f" ({_SYMBOL[test.op]} {_shown(test.value, ctx)}: {result})"
    )
    own = Evidence("fact", text, fact=test.fact, value=value)
    return Outcome(result, (own, *support))


def evaluate(condition: Condition | None, ctx: Context) -> Outcome:
    """Evaluate a condition for one site (three-valued; see the module docstring).

    ``None`` (a rule without ``when``) is always True.
    """
    if condition is None:
        return Outcome(True)
    if isinstance(condition, FactTest):
        return _fact(condition, ctx)
    if isinstance(condition, ScreenTest):
        return _screen(condition, ctx)
    if isinstance(condition, Not):
        inner = evaluate(condition.item, ctx)
        return Outcome(
            None if inner.value is None else not inner.value, inner.evidence, inner.unknown
        )
    outcomes = [evaluate(item, ctx) for item in condition.items]
    values = [o.value for o in outcomes]
    decisive = not isinstance(condition, AllOf)
    if decisive in values:
        chosen = [o for o in outcomes if o.value is decisive]
        return Outcome(decisive, _merge(o.evidence for o in chosen))
    if None in values:
        unknown = tuple(dict.fromkeys(r for o in outcomes if o.value is None for r in o.unknown))
        return Outcome(None, _merge(o.evidence for o in outcomes if o.value is not None), unknown)
    return Outcome(not decisive, _merge(o.evidence for o in outcomes))


def _merge(groups: Any) -> tuple[Evidence, ...]:
    seen: dict[tuple[Any, ...], Evidence] = {}
    for group in groups:
        for item in group:
            key = (item.source, item.description, item.layer, repr(item.feature_id), item.fact)
            seen.setdefault(key, item)
    return tuple(seen.values())
