"""Weighted overlay (multi-criteria decision analysis), as a scikit-learn estimator.

Each criterion is turned into a 0..1 suitability by a transform (a linear ramp over a value
range by default; fuzzy membership curves, a logistic, a power or log curve, or a table of
categories otherwise), optionally cut to 0 outside hard thresholds, then weighted; the score
is the weighted mean, so it is in 0..1 and the per-criterion contributions add up to it
exactly. The formulas are in the :class:`WeightedOverlay` docstring and ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from numbers import Real
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from siting.errors import ScenarioError

if TYPE_CHECKING:
    import xarray as xr

    from siting.grid import Grid

__all__ = ["TRANSFORMS", "WeightedOverlay", "learned_statistics", "suitability"]

#: Transform name → (required keys, optional keys) of a criterion using it. Every criterion
#: may also give ``transform`` (default ``"linear"``), ``weight`` (default 1) and, except
#: ``categorical``, ``thresholds``. A key whose value is ``None`` counts as not given.
TRANSFORMS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "linear": (("better",), ("range",)),
    "power": (("better", "exponent"), ("range",)),
    "log": (("better",), ("range", "base")),
    "symmetric_linear": ((), ("range", "midpoint")),
    "small": (("midpoint", "spread"), ("better",)),
    "large": (("midpoint", "spread"), ("better",)),
    "near": (("midpoint", "spread"), ()),
    "logistic_growth": (("midpoint", "steepness"), ("better",)),
    "logistic_decay": (("midpoint", "steepness"), ("better",)),
    "ms_small": ((), ("mean_multiplier", "std_multiplier", "mean", "std", "better")),
    "ms_large": ((), ("mean_multiplier", "std_multiplier", "mean", "std", "better")),
    "categorical": (("categories",), ("default",)),
}

_COMMON = ("transform", "weight", "thresholds")
# Transforms whose direction is built in: ``better``, if given, must agree.
_DIRECTION = {
    "large": "higher",
    "logistic_growth": "higher",
    "small": "lower",
    "logistic_decay": "lower",
    "ms_large": "higher",
    "ms_small": "lower",
}
_RANGED = ("linear", "power", "log", "symmetric_linear")
_DEFAULT_LOG_BASE = 10.0


class WeightedOverlay(BaseEstimator):
    """Weighted mean of criteria transformed to a common 0..1 suitability scale.

    Parameters
    ----------
    criteria
        ``{column: spec}``, one spec (a dict) per criterion column of the candidate table:

        - ``"transform"``: one of :data:`TRANSFORMS` (default ``"linear"``);
        - ``"weight"``: relative importance >= 0 (default 1); weights are normalised to sum
          to 1. :func:`~siting.scoring.ahp_weights` derives them from pairwise comparisons
          (``ahp_weights(...).assign_weights(criteria)``);
        - ``"thresholds"``: ``{"min": a, "max": b}`` (either or both): a hard floor and
          ceiling, values below ``a`` or above ``b`` get suitability 0 whatever the
          transform says (the bounds themselves are kept);
        - the transform's own parameters (required; optional with its default):

          - ``linear``: ``better``; ``range``;
          - ``power``: ``better``, ``exponent`` > 0; ``range``;
          - ``log``: ``better``; ``range``, ``base`` > 1 (10);
          - ``symmetric_linear``: ``range``, ``midpoint`` (middle of the range);
          - ``small`` and ``large``: ``midpoint`` > 0, ``spread`` > 0;
          - ``near``: ``midpoint``, ``spread`` > 0;
          - ``logistic_growth`` and ``logistic_decay``: ``midpoint``, ``steepness`` > 0;
          - ``ms_large`` and ``ms_small``: ``mean_multiplier`` (1), ``std_multiplier`` > 0
            (1), ``mean`` and ``std`` (learned from the column by :meth:`fit` if not given);
          - ``categorical``: ``categories``; ``default``.

        ``better`` is ``"higher"`` or ``"lower"``. ``range`` is ``(low, high)`` with
        low < high; without it the range is learned by :meth:`fit` as the column's finite
        min and max (scores are then relative to the candidates seen in ``fit``).
        ``categories`` maps category value → suitability in 0..1; ``default`` (0..1) is the
        suitability of any other category, without it an unmapped category is an error.

        With t = (x − low) / (high − low) clipped to 0..1 (and t → 1 − t when better is
        "lower"), m the midpoint, s the spread and k the steepness or exponent:

        - linear: t; power: t^k; log: log_b(1 + (b − 1) t);
        - symmetric_linear: 1 at m, falling linearly to 0 at low and at high, 0 outside;
        - large: 1 / (1 + (x / m)^−s), small: 1 / (1 + (x / m)^s) for x > 0 (ArcGIS fuzzy
          Large/Small; 0.5 at m, s the dimensionless steepness); x <= 0 gives 0 (large) or
          1 (small);
        - near: exp(−(x − m)² / (2 s²)) (a Gaussian, s in the column's units);
        - ms_large: 1 − b·σ / (x − a·μ + b·σ) for x > a·μ, else 0; ms_small: b·σ / (x −
          a·μ + b·σ) for x > a·μ, else 1 (ArcGIS fuzzy MS Large/Small, μ and σ the mean and
          standard deviation, a and b their multipliers);
        - logistic_growth: 1 / (1 + exp(−k (x − m))); logistic_decay: 1 / (1 + exp(k (x − m))).

        A criterion without ``transform`` is linear, e.g.
        ``{"weight": 3, "better": "higher", "range": (5, 7)}``.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The criteria, in order.
    n_features_in_ : int
    criteria_ : dict of column → dict
        Each criterion fully resolved: transform, defaults, learned range.
    ranges_ : dict of column → (low, high)
        The range of every criterion that uses one (linear, power, log, symmetric_linear).
    weights_ : dict of column → float
        Weights normalised to sum to 1.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ghi": [5.0, 6.0], "dist_km": [0.0, 10.0]})
    >>> model = WeightedOverlay({"ghi": {"weight": 3, "better": "higher", "range": (5, 6)},
    ...                          "dist_km": {"weight": 1, "better": "lower", "range": (0, 20)}})
    >>> model.fit(X).predict(X).round(3).tolist()
    [0.25, 0.875]

    Fuzzy membership, hard thresholds and categories:

    >>> X = pd.DataFrame({"ghi": [4.0, 5.0, 6.0], "slope_pct": [2.0, 4.0, 12.0],
    ...                   "manager": ["BLM", "private", "BLM"]})
    >>> model = WeightedOverlay({
    ...     "ghi": {"transform": "large", "midpoint": 5.0, "spread": 5},
    ...     "slope_pct": {"transform": "linear", "better": "lower", "range": (0, 20),
    ...                   "thresholds": {"max": 10}},
    ...     "manager": {"transform": "categorical", "categories": {"BLM": 1.0}, "default": 0.5},
    ... }).fit(X)
    >>> model.transform(X).round(3)
         ghi  slope_pct  manager
    0  0.247        0.9      1.0
    1  0.500        0.8      0.5
    2  0.713        0.0      1.0
    >>> model.predict(X).round(3).tolist()
    [0.716, 0.6, 0.571]
    """

    def __init__(self, criteria: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.criteria = criteria

    def fit(self, X: pd.DataFrame, y: Any = None) -> WeightedOverlay:
        """Check the criteria against ``X`` and learn missing ranges.

        Parameters
        ----------
        X
            Candidate table, one column per criterion (other columns are ignored).
        y
            Ignored.

        Returns
        -------
        WeightedOverlay
            ``self``, fitted.

        Raises
        ------
        ScenarioError
            A criterion that is not a column, an unknown transform, a missing or invalid
            parameter, a non-numeric column for a numeric transform, categories with no
            suitability and no default, or no positive weight.
        """
        if not self.criteria or not isinstance(self.criteria, Mapping):
            raise ScenarioError(
                "WeightedOverlay needs at least one criterion: "
                "{column: {'weight': w, 'better': 'higher', ...}}"
            )
        _check_table(X, list(self.criteria))
        resolved: dict[str, dict[str, Any]] = {}
        for name, spec in self.criteria.items():
            resolved[name] = _resolve(str(name), spec, X[name])
        weights = {name: spec["weight"] for name, spec in resolved.items()}
        total = sum(weights.values())
        if total <= 0:
            raise ScenarioError(f"at least one criterion needs a positive weight; got {weights}")
        self.criteria_ = resolved
        self.ranges_ = {name: spec["range"] for name, spec in resolved.items() if "range" in spec}
        self.weights_ = {name: w / total for name, w in weights.items()}
        self.feature_names_in_ = np.array(list(self.criteria), dtype=object)
        self.n_features_in_ = len(self.criteria)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Suitability 0..1 per criterion (NaN stays NaN: a missing value is never zero).

        Parameters
        ----------
        X
            Candidate table with every criterion column.

        Returns
        -------
        pandas.DataFrame
            One column per criterion, same index as ``X``.
        """
        check_is_fitted(self, "criteria_")
        _check_table(X, list(self.criteria_))
        out = {name: _apply(name, spec, X[name]) for name, spec in self.criteria_.items()}
        return pd.DataFrame(out, index=X.index)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-criterion share of the score: suitability × weight; rows sum to :meth:`predict`."""
        scaled = self.transform(X)
        return scaled * pd.Series(self.weights_)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Score in 0..1 per candidate (NaN where a criterion is missing)."""
        check_is_fitted(self, "criteria_")
        _check_table(X, list(self.criteria_))
        # The sum of :meth:`contributions` in column order, without building their table.
        score: np.ndarray | None = None
        for name, spec in self.criteria_.items():
            part = _apply(name, spec, X[name]) * np.float64(self.weights_[name])
            score = part if score is None else score + part
        assert score is not None  # fit requires a criterion
        return np.asarray(score, dtype=np.float64)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The score of :meth:`predict`, under the name validation tools look for.

        Lets :func:`~siting.scoring.compare_models` rank the overlay beside classifiers
        (``fit`` ignores the labels, so the overlay is validated exactly as it is set).
        """
        return self.predict(X)


def suitability(
    values: ArrayLike | pd.Series, spec: Mapping[str, Any], *, name: str = "values"
) -> np.ndarray:
    """Transform one criterion's values to 0..1 suitability (thresholds applied, no weight).

    Parameters
    ----------
    values
        The criterion's values (numbers, or categories for ``categorical``).
    spec
        One criterion spec as in :class:`WeightedOverlay`; a missing ``range`` is learned
        from ``values``; ``weight`` is checked but not used.
    name
        The criterion name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float suitability, NaN where a value is missing.

    Raises
    ------
    ScenarioError
        As :meth:`WeightedOverlay.fit`.

    Examples
    --------
    >>> suitability([4.0, 5.0, 6.0], {"transform": "near", "midpoint": 5.0, "spread": 1.0})
    array([0.60653066, 1.        , 0.60653066])
    >>> suitability([0.0, 5.0, 10.0], {"transform": "logistic_decay", "midpoint": 5.0,
    ...                                "steepness": 1.0}).round(4)
    array([0.9933, 0.5   , 0.0067])
    """
    column = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    return _apply(name, _resolve(name, spec, column), column)


def learned_statistics(
    criteria: Mapping[str, Mapping[str, Any]],
    stack: xr.Dataset,
    availability: xr.DataArray,
    *,
    min_availability: float = 1.0,
) -> dict[str, dict[str, Any]]:
    """The criteria with every parameter :meth:`WeightedOverlay.fit` would learn filled in.

    A criterion without ``range`` (``linear``, ``power``, ``log``, ``symmetric_linear``)
    gets the finite min and max of its column, and ``ms_small``/``ms_large`` without
    ``mean`` or ``std`` get the mean and population standard deviation (ddof 0), all over
    the candidate cells: exactly the rows
    :func:`~siting.candidates.cells_to_candidates` gives for the same ``stack``,
    ``availability`` and ``min_availability``, with the values converted as ``fit``
    converts them (to float, non-finite values ignored). So
    ``WeightedOverlay(learned_statistics(criteria, stack, availability))`` scores each cell
    on its own values, tile by tile, as ``WeightedOverlay(criteria)`` fitted on the whole
    candidate table does, without building that table.

    On a lazy (dask) stack all the statistics of all the criteria are one
    ``dask.compute`` of one pass over the tiles (the availability's chunks), so the data are
    read once: each tile gives the count, min, max, mean and sum of squared deviations from
    its own mean of every column, and tiles merge pairwise with the parallel update of
    Chan, Golub and LeVeque, means carried in double-double precision. Unlike a sum of
    squares minus the squared mean it does not lose the variance to cancellation when the
    mean is large beside the spread (coordinates, elevations); a second pass over the
    deviations from the mean would be as sound but read the data twice. Ranges are exact;
    means and standard deviations agree with NumPy's on the whole column to rounding. A
    numpy-backed stack is walked in tiles the same way, without dask.

    Parameters
    ----------
    criteria
        ``{column: spec}`` as in :class:`WeightedOverlay`. Only learned parameters are
        filled in: weights (normalised or from :func:`~siting.scoring.ahp_weights`),
        thresholds and every given parameter are kept as they are, and categorical criteria
        and criteria that learn nothing come back unchanged. Specs are validated by
        :meth:`WeightedOverlay.fit`, not here.
    stack
        The layer stack on one grid, numpy- or dask-backed.
    availability
        Share available per cell, on the stack's grid.
    min_availability
        As in :func:`~siting.candidates.cells_to_candidates`: cells with
        ``availability >= min_availability`` are candidates (NaN counts as 0).

    Returns
    -------
    dict of column → dict
        New specs (the input is not changed), learned values added: ``range`` as
        ``(min, max)``, ``mean`` and ``std`` as floats.

    Raises
    ------
    ScenarioError
        If a criterion names a column the candidate table would not have (the stack's
        layers, ``cell_id``, ``row``, ``col``, ``x``, ``y``, ``lon``, ``lat``,
        ``availability``), if a criterion to learn has no finite value among the candidates
        (the error ``fit`` gives), or a numeric transform meets a non-numeric column.
    NoFeasibleSitesError
        If a criterion learns from the data and no cell qualifies as a candidate.
    ValueError
        If the availability is not on the stack's grid.

    Examples
    --------
    >>> from siting.candidates import cells_to_candidates
    >>> from siting.testing import coordinate_image, small_grid
    >>> grid = small_grid(shape=(2, 3))
    >>> east = coordinate_image(grid)                    # the cell-centre x of each cell
    >>> stack = east.to_dataset(name="east").assign(north=coordinate_image(grid, axis="y"))
    >>> avail = (east > east.min()).astype("float32")    # the first column is excluded
    >>> criteria = {"east": {"better": "higher", "weight": 2},
    ...             "north": {"transform": "ms_large"}}
    >>> learned = learned_statistics(criteria, stack.chunk(x=2), avail.chunk(x=2))
    >>> learned["east"]
    {'better': 'higher', 'weight': 2, 'range': (1000150.0, 1000250.0)}
    >>> learned["north"]
    {'transform': 'ms_large', 'mean': 1999900.0, 'std': 50.0}

    The overlay fitted on the whole candidate table learns the same:

    >>> WeightedOverlay(criteria).fit(cells_to_candidates(stack, avail)).ranges_
    {'east': (1000150.0, 1000250.0)}
    """
    from siting.candidates import _none_available, _reduce_over_tiles
    from siting.grid import Grid

    grid = Grid.from_xarray(stack)
    if Grid.from_xarray(availability) != grid:
        raise ValueError("availability is not on the stack's grid; align it first")
    layers = [str(name) for name in stack.data_vars]
    columns = [*layers, *(c for c in _CELL_COLUMNS if c not in layers)]
    missing = [name for name in criteria if str(name) not in columns]
    if missing:
        raise ScenarioError(
            f"criteria {missing} are not columns of the candidate table: neither layers of "
            f"the stack nor columns every candidate table has; available columns: "
            f"{sorted(columns)}"
        )
    out: dict[str, dict[str, Any]] = {
        name: dict(spec) if isinstance(spec, Mapping) else spec  # fit says what is wrong
        for name, spec in criteria.items()
    }
    wanted = [(str(name), _transform(spec)) for name, spec in criteria.items() if _learns(spec)]
    if not wanted:
        return out

    needed = {name for name, _ in wanted}
    copied = [name for name in layers if name in needed]
    locate = any(name in _LOCATION_COLUMNS and name not in layers for name in needed)
    arrays = [availability.data, *(stack[name].data for name in copied)]
    tile = partial(
        _tile_moments,
        names=copied,
        wanted=wanted,
        width=grid.width,
        min_availability=min_availability,
        grid=grid if locate else None,
    )
    total = _reduce_over_tiles(arrays, grid, tile, _merge_moments)
    if total.n_candidates == 0:
        raise _none_available(min_availability)

    for name, spec in criteria.items():
        learn = _learns(spec)
        if not learn:
            continue
        moments = total.moments[str(name)]
        if moments.n == 0:
            raise _nothing_to_learn(str(name), learn[0])
        for key in learn:
            if key == "range":
                out[name]["range"] = (moments.low, moments.high)
            elif key == "mean":
                out[name]["mean"] = moments.shift + moments.offset
            else:
                out[name]["std"] = math.sqrt(moments.m2 / moments.n)
    return out


# --- learned statistics, streamed ------------------------------------------------------

#: The columns every candidate table of ``cells_to_candidates`` has besides the layers.
_CELL_COLUMNS = ("cell_id", "row", "col", "x", "y", "lon", "lat", "availability")
_LOCATION_COLUMNS = ("x", "y", "lon", "lat")


def _transform(spec: object) -> object:
    transform = spec.get("transform") if isinstance(spec, Mapping) else None
    return "linear" if transform is None else transform


def _learns(spec: object) -> tuple[str, ...]:
    """The parameters :meth:`WeightedOverlay.fit` would learn for a spec, in its order."""
    if not isinstance(spec, Mapping):
        return ()
    given = {key for key, value in spec.items() if value is not None}
    transform = _transform(spec)
    if transform in _RANGED:
        return () if "range" in given else ("range",)
    if transform in ("ms_small", "ms_large"):
        return tuple(key for key in ("mean", "std") if key not in given)
    return ()


class _Moments(NamedTuple):
    """Of the finite values: count, min, max, mean (as ``shift + offset``, a double-double
    number) and sum of squared deviations from the mean."""

    n: int
    low: float
    high: float
    shift: float
    offset: float
    m2: float


_NO_VALUES = _Moments(0, math.inf, -math.inf, 0.0, 0.0, 0.0)


def _two_sum(a: float, b: float) -> tuple[float, float]:
    """``a + b`` rounded, and the rounding error (Knuth's TwoSum), so a + b = sum + error."""
    total = a + b
    b_part = total - a
    return total, (a - (total - b_part)) + (b - b_part)


def _moments(values: np.ndarray) -> _Moments:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return _NO_VALUES
    shift = float(np.mean(finite))
    deviations = finite - shift
    offset = float(np.mean(deviations))  # the rounding error of the mean, mostly
    m2 = float(np.sum((deviations - offset) ** 2))
    low, high = float(finite.min()), float(finite.max())
    return _Moments(int(finite.size), low, high, *_two_sum(shift, offset), m2)


def _combine(a: _Moments, b: _Moments) -> _Moments:
    """The moments of two sets of values together (Chan, Golub and LeVeque, 1979).

    The means are carried as double-double numbers: the difference of two block means is
    then accurate even when the mean is large beside the spread (coordinates, elevations),
    where a plain difference of rounded means would lose digits to cancellation.
    """
    if b.n == 0:
        return a
    if a.n == 0:
        return b
    n = a.n + b.n
    delta = (b.shift - a.shift) + (b.offset - a.offset)
    shift, offset = _two_sum(a.shift, a.offset + delta * (b.n / n))
    m2 = a.m2 + b.m2 + delta * delta * (a.n * b.n / n)
    return _Moments(n, min(a.low, b.low), max(a.high, b.high), shift, offset, m2)


class _Partial(NamedTuple):
    """The candidate cells of some tiles and the moments of each learning criterion."""

    n_candidates: int
    moments: dict[str, _Moments]


def _tile_moments(
    avail: np.ndarray,
    values: Sequence[np.ndarray],
    *,
    names: Sequence[str],
    wanted: Sequence[tuple[str, Any]],
    row0: int,
    col0: int,
    width: int,
    min_availability: float,
    grid: Grid | None,
) -> _Partial:
    """The moments of one tile's candidate rows, built as ``cells_to_candidates`` builds them."""
    from siting.candidates import _cell_table

    table = _cell_table(avail, values, names, row0, col0, width, min_availability)
    if table is None:
        return _Partial(0, {name: _NO_VALUES for name, _ in wanted})
    if grid is not None:  # a criterion on a cell location that is not a layer
        from pyproj import Transformer

        xs, ys = grid.xy(table["row"].to_numpy(), table["col"].to_numpy())
        lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
        located = {"x": xs, "y": ys, "lon": lon, "lat": lat}
        table = table.assign(**{k: v for k, v in located.items() if k not in table.columns})
    moments = {
        name: _moments(_numeric(name, table[name], str(transform))) for name, transform in wanted
    }
    return _Partial(len(table), moments)


def _merge_moments(parts: Sequence[_Partial]) -> _Partial:
    merged = dict(parts[0].moments)
    for part in parts[1:]:
        merged = {name: _combine(m, part.moments[name]) for name, m in merged.items()}
    return _Partial(sum(p.n_candidates for p in parts), merged)


# --- validation ------------------------------------------------------------------------


def _check_table(X: Any, names: Sequence[str]) -> None:
    if not hasattr(X, "columns"):
        raise ScenarioError(
            f"WeightedOverlay takes a DataFrame with one column per criterion {list(names)}; "
            f"got {type(X).__name__}"
        )
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise ScenarioError(
            f"criteria {missing} are not columns of the candidate table; "
            f"available columns: {sorted(map(str, X.columns))}"
        )


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _number(name: str, key: str, value: object, *, hint: str = "") -> float:
    if not _is_real(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise ScenarioError(
            f"criterion {name!r}: {key}={value!r} is not a finite number; "
            f"give a number{hint or ' in the units of the column'}"
        )
    return float(value)  # type: ignore[arg-type]


def _positive(name: str, key: str, value: object, *, hint: str) -> float:
    number = _number(name, key, value, hint=hint)
    if number <= 0:
        raise ScenarioError(f"criterion {name!r}: {key}={value!r} must be > 0{hint}")
    return number


def _fraction(name: str, key: str, value: object) -> float:
    number = _number(name, key, value, hint=" between 0 and 1")
    if not 0.0 <= number <= 1.0:
        raise ScenarioError(
            f"criterion {name!r}: {key}={value!r} is not a suitability; use a number in 0..1"
        )
    return number


def _range(name: str, value: object) -> tuple[float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise ScenarioError(
            f"criterion {name!r}: range={value!r}; give two numbers (low, high) with low < high"
        )
    low = _number(name, "range low", value[0])
    high = _number(name, "range high", value[1])
    if not low < high:
        raise ScenarioError(
            f"criterion {name!r}: range={tuple(value)!r} needs low < high; "
            "to reverse the direction use better='lower'"
        )
    return low, high


def _nothing_to_learn(name: str, key: str) -> ScenarioError:
    """The error for a criterion whose ``key`` (range, mean or std) has no value to learn from."""
    if key == "range":
        return ScenarioError(
            f"criterion {name!r} has no finite value to learn a range from; "
            "give its range explicitly"
        )
    return ScenarioError(
        f"criterion {name!r} has no finite value to learn its {key} from; give {key} explicitly"
    )


def _learned_range(name: str, values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise _nothing_to_learn(name, "range")
    return float(finite.min()), float(finite.max())


def _numeric(name: str, column: pd.Series, transform: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column):
        present = column[column.notna()]
        bad = [v for v in present if not (_is_real(v) or isinstance(v, np.bool_ | bool))]
        if bad:
            raise ScenarioError(
                f"criterion {name!r}: transform={transform!r} needs numbers but the column "
                f"holds {bad[0]!r} (dtype {column.dtype}); use transform='categorical' with a "
                "'categories' mapping, or convert the column to numbers"
            )
    return column.to_numpy(dtype=float, na_value=np.nan)


def _resolve(name: str, spec: Mapping[str, Any], column: pd.Series) -> dict[str, Any]:
    """Validate one criterion spec against its column; fill defaults and a learned range."""
    if not isinstance(spec, Mapping):
        raise ScenarioError(
            f"criterion {name!r}: spec {spec!r} must be a dict such as "
            "{'weight': 1, 'better': 'higher'}"
        )
    given = {key: value for key, value in spec.items() if value is not None}
    transform = given.get("transform", "linear")
    if transform not in TRANSFORMS:
        raise ScenarioError(
            f"criterion {name!r}: transform={transform!r} is unknown; "
            f"use one of {list(TRANSFORMS)}"
        )
    required, optional = TRANSFORMS[transform]
    allowed = (*_COMMON, *required, *optional)
    if transform == "categorical":
        allowed = tuple(key for key in allowed if key != "thresholds")
    unknown = [key for key in given if key not in allowed]
    if unknown:
        extra = ""
        if "better" in unknown:
            extra = (
                "; the curve's direction is built in (for lower-is-better use 'small' or "
                "'logistic_decay')"
            )
        elif "thresholds" in unknown:
            extra = "; give unwanted categories suitability 0 instead of thresholds"
        raise ScenarioError(
            f"criterion {name!r}: {unknown} do not apply to transform={transform!r}; "
            f"allowed keys are {list(allowed)}{extra}"
        )
    missing = [key for key in required if key not in given]
    if missing:
        raise ScenarioError(
            f"criterion {name!r}: transform={transform!r} needs {missing}; "
            f"required keys are {list(required)}, optional {list(optional)}"
        )

    weight = _number(name, "weight", given.get("weight", 1.0), hint=" >= 0")
    if weight < 0:
        raise ScenarioError(f"criterion {name!r}: weight={weight!r} must be >= 0")
    out: dict[str, Any] = {"transform": transform, "weight": weight}

    if "better" in given:
        better = given["better"]
        if better not in ("higher", "lower"):
            raise ScenarioError(f"criterion {name!r}: better={better!r}; use 'higher' or 'lower'")
        built_in = _DIRECTION.get(transform)
        if built_in is not None and better != built_in:
            opposite = {
                "large": "small",
                "small": "large",
                "logistic_growth": "logistic_decay",
                "logistic_decay": "logistic_growth",
                "ms_large": "ms_small",
                "ms_small": "ms_large",
            }[transform]
            raise ScenarioError(
                f"criterion {name!r}: better={better!r} contradicts transform={transform!r}, "
                f"which favours {built_in} values; use transform={opposite!r} or drop 'better'"
            )
        out["better"] = better

    if transform == "categorical":
        out.update(_resolve_categories(name, given, column))
        return out

    values = _numeric(name, column, transform)
    if transform in _RANGED:
        if "range" in given:
            out["range"] = _range(name, given["range"])
        else:
            out["range"] = _learned_range(name, values)
    if transform == "power":
        out["exponent"] = _positive(
            name, "exponent", given["exponent"], hint=" (1 is linear, 2 convex, 0.5 concave)"
        )
    if transform == "log":
        base = _number(name, "base", given.get("base", _DEFAULT_LOG_BASE), hint=" > 1")
        if base <= 1:
            raise ScenarioError(
                f"criterion {name!r}: base={base!r} must be > 1 (larger is more concave; "
                "for a convex curve use transform='power' with exponent > 1)"
            )
        out["base"] = base
    if transform == "symmetric_linear":
        low, high = out["range"]
        midpoint = _number(name, "midpoint", given.get("midpoint", (low + high) / 2))
        if not low < midpoint < high:
            raise ScenarioError(
                f"criterion {name!r}: midpoint={midpoint!r} must lie strictly inside "
                f"range ({low!r}, {high!r}); give a range around it"
            )
        out["midpoint"] = midpoint
    if transform in ("small", "large"):
        out["midpoint"] = _positive(
            name,
            "midpoint",
            given["midpoint"],
            hint=" (the value with suitability 0.5; for values that can be zero or negative"
            " use logistic_growth or logistic_decay)",
        )
        out["spread"] = _positive(
            name, "spread", given["spread"], hint=" (a steepness; ArcGIS's default is 5)"
        )
    if transform == "near":
        out["midpoint"] = _number(name, "midpoint", given["midpoint"])
        out["spread"] = _positive(
            name, "spread", given["spread"], hint=" (the width, in the units of the column)"
        )
    if transform in ("logistic_growth", "logistic_decay"):
        out["midpoint"] = _number(name, "midpoint", given["midpoint"])
        out["steepness"] = _positive(
            name, "steepness", given["steepness"], hint=" (per unit of the column)"
        )
    if transform in ("ms_small", "ms_large"):
        out.update(_resolve_ms(name, given, values))
    if "thresholds" in given:
        out["thresholds"] = _thresholds(name, given["thresholds"])
    return out


def _resolve_ms(name: str, given: Mapping[str, Any], values: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation (given, or learned from the column) and multipliers."""
    finite = values[np.isfinite(values)]
    out = {
        "mean_multiplier": _number(name, "mean_multiplier", given.get("mean_multiplier", 1.0)),
        "std_multiplier": _positive(
            name, "std_multiplier", given.get("std_multiplier", 1.0), hint=" (default 1)"
        ),
    }
    for key, learn in (("mean", np.mean), ("std", np.std)):
        if key in given:
            out[key] = _number(name, key, given[key])
        elif finite.size:
            out[key] = float(learn(finite))
        else:
            raise _nothing_to_learn(name, key)
    if not out["std"] > 0:
        raise ScenarioError(
            f"criterion {name!r}: the standard deviation is {out['std']!r}; ms_small and "
            "ms_large need values that vary (or give std > 0 explicitly)"
        )
    return out


def _thresholds(name: str, value: object) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ScenarioError(
            f"criterion {name!r}: thresholds={value!r}; give {{'min': a, 'max': b}} "
            "(either or both)"
        )
    given = {key: v for key, v in value.items() if v is not None}
    unknown = [key for key in given if key not in ("min", "max")]
    if unknown or not given:
        raise ScenarioError(
            f"criterion {name!r}: thresholds={dict(value)!r}; the keys are 'min' and/or 'max'"
        )
    out = {key: _number(name, f"thresholds {key}", v) for key, v in given.items()}
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise ScenarioError(
            f"criterion {name!r}: thresholds min={out['min']!r} > max={out['max']!r}; "
            "every value would get suitability 0"
        )
    return out


def _category_key(value: object, numeric: bool) -> object:
    # Categories are matched by value: 1, 1.0 and (for a numeric column) "1" are the same
    # category; TOML table keys are always strings.
    if _is_real(value):
        return float(value)  # type: ignore[arg-type]
    if numeric and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _lookup(name: str, categories: Mapping[Any, float], numeric: bool) -> dict[object, float]:
    table: dict[object, float] = {}
    for key, score in categories.items():
        normal = _category_key(key, numeric)
        if normal in table and table[normal] != score:
            raise ScenarioError(
                f"criterion {name!r}: category {key!r} is given twice with different "
                f"suitability ({table[normal]!r} and {score!r}); keep one"
            )
        table[normal] = score
    return table


def _resolve_categories(name: str, given: Mapping[str, Any], column: pd.Series) -> dict[str, Any]:
    categories = given["categories"]
    if not isinstance(categories, Mapping) or not categories:
        raise ScenarioError(
            f"criterion {name!r}: categories={categories!r}; give a mapping "
            "{category value: suitability 0..1}, e.g. {'BLM': 1.0, 'USFS': 0.5}"
        )
    checked = {key: _fraction(name, f"categories[{key!r}]", v) for key, v in categories.items()}
    out: dict[str, Any] = {"categories": checked}
    if "default" in given:
        out["default"] = _fraction(name, "default", given["default"])
    _categorical(name, out, column)  # unmapped categories fail here, at fit
    return out


def _categorical(name: str, spec: Mapping[str, Any], column: pd.Series) -> np.ndarray:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    table = _lookup(name, spec["categories"], numeric)
    default = spec.get("default")
    out = np.full(len(column), np.nan)
    missing = column.isna().to_numpy()
    unmapped: list[object] = []
    scores: dict[object, float] = {}
    for value in pd.unique(column[~missing]):
        key = _category_key(value, numeric)
        if key in table:
            scores[value] = table[key]
        elif default is not None:
            scores[value] = default
        else:
            unmapped.append(value)
    if unmapped:
        shown = sorted(map(repr, unmapped))
        more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
        raise ScenarioError(
            f"criterion {name!r}: categories {', '.join(shown[:20])}{more} have no "
            f"suitability; add them to 'categories' (mapped: {list(spec['categories'])}) or "
            "give a 'default' suitability for every other category"
        )
    present = column[~missing]
    out[~missing] = present.map(scores).to_numpy(dtype=float)
    return out


# --- transforms ------------------------------------------------------------------------


def _ramp(values: np.ndarray, low: float, high: float, better: str) -> np.ndarray:
    """t in 0..1: 0 at the worse end of the range, 1 at the better end."""
    if high > low:
        scaled = np.clip((values - low) / (high - low), 0.0, 1.0)
        return 1.0 - scaled if better == "lower" else scaled
    # A range learned from identical values: that value, and anything better, gets 1.
    as_good = values >= low if better == "higher" else values <= low
    return np.where(as_good, 1.0, 0.0)


def _apply(name: str, spec: Mapping[str, Any], column: pd.Series) -> np.ndarray:
    transform = spec["transform"]
    if transform == "categorical":
        return _categorical(name, spec, column)
    x = _numeric(name, column, transform)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if transform in ("linear", "power", "log"):
            low, high = spec["range"]
            t = _ramp(x, low, high, spec["better"])
            if transform == "linear":
                out = t
            elif transform == "power":
                out = t ** spec["exponent"]
            else:
                base = spec["base"]
                out = np.log1p((base - 1.0) * t) / math.log(base)
        elif transform == "symmetric_linear":
            low, high = spec["range"]
            mid = spec["midpoint"]
            rising = (x - low) / (mid - low)
            falling = (high - x) / (high - mid)
            out = np.where(x <= mid, rising, falling)
        elif transform in ("large", "small"):
            # 1 / (1 + (x/m)^-s) == expit(s ln(x/m)); x <= 0 is the limit x -> 0+.
            z = spec["spread"] * (np.log(np.where(x > 0, x, 0.0)) - math.log(spec["midpoint"]))
            out = expit(z if transform == "large" else -z)
        elif transform == "near":
            out = np.exp(-0.5 * ((x - spec["midpoint"]) / spec["spread"]) ** 2)
        elif transform in ("ms_large", "ms_small"):
            # ArcGIS Fuzzy MS Large / MS Small: a = mean multiplier, b = std multiplier.
            start = spec["mean_multiplier"] * spec["mean"]
            bs = spec["std_multiplier"] * spec["std"]
            tail = bs / (x - start + bs)
            if transform == "ms_large":
                out = np.where(x > start, 1.0 - tail, 0.0)
            else:
                out = np.where(x > start, tail, 1.0)
        else:  # logistic_growth / logistic_decay
            z = spec["steepness"] * (x - spec["midpoint"])
            out = expit(z if transform == "logistic_growth" else -z)
        out = np.clip(np.asarray(out, dtype=float), 0.0, 1.0)
        thresholds = spec.get("thresholds", {})
        if "min" in thresholds:
            out = np.where(x < thresholds["min"], 0.0, out)
        if "max" in thresholds:
            out = np.where(x > thresholds["max"], 0.0, out)
    return np.where(np.isnan(x), np.nan, out)
