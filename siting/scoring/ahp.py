"""Criterion weights from pairwise comparisons: Saaty's analytic hierarchy process (AHP).

A planner compares criteria two at a time on Saaty's 1–9 scale ("solar resource is
moderately more important than distance to a substation": 3). The weights are the principal
eigenvector of the comparison matrix, normalised to sum to 1, and the consistency ratio
says how far the judgements contradict each other (above 0.1 they should be revisited).

References
----------
Saaty, T. L. (1980). *The Analytic Hierarchy Process*. McGraw-Hill, New York.
Saaty, T. L. (2005). *Theory and Applications of the Analytic Network Process*.
RWS Publications, Pittsburgh, p. 31 (the random index table used here).
Saaty, T. L. (2008). Decision making with the analytic hierarchy process.
*International Journal of Services Sciences* 1(1), 83–98.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from siting.errors import ScenarioError

__all__ = ["RANDOM_INDEX", "AHPResult", "InconsistentJudgementsWarning", "ahp_weights"]

#: Saaty's random consistency index by matrix size n (Saaty 2005, p. 31): the mean
#: consistency index of random reciprocal matrices filled from the 1–9 scale.
RANDOM_INDEX: Mapping[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.52,
    4: 0.89,
    5: 1.11,
    6: 1.25,
    7: 1.35,
    8: 1.40,
    9: 1.45,
    10: 1.49,
    11: 1.52,
    12: 1.54,
    13: 1.56,
    14: 1.58,
    15: 1.59,
}

# Published matrices often print reciprocals with two decimals (1/3 as 0.33, 1/7 as 0.14):
# a[i, j] * a[j, i] may differ from 1 by this much, and scale bounds by this factor.
_RECIPROCAL_ATOL = 0.05
_SCALE = (1 / 9, 9.0)


class InconsistentJudgementsWarning(UserWarning):
    """Pairwise judgements whose consistency ratio is above the accepted maximum."""


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency of one pairwise comparison matrix.

    Attributes
    ----------
    names : tuple of str
        Criteria, in matrix order.
    priorities : tuple of float
        Principal right eigenvector of the matrix, normalised to sum to 1, in ``names`` order.
    lambda_max : float
        Principal eigenvalue (``n`` for a perfectly consistent matrix).
    consistency_index : float
        CI = (lambda_max − n) / (n − 1); 0 for n ≤ 2.
    random_index : float
        Saaty's random index RI for ``n`` (:data:`RANDOM_INDEX`).
    consistency_ratio : float
        CR = CI / RI (0 when RI is 0, i.e. n ≤ 2). Saaty accepts CR ≤ 0.1.
    matrix : tuple of tuple of float
        The full reciprocal comparison matrix that was used.
    """

    names: tuple[str, ...]
    priorities: tuple[float, ...]
    lambda_max: float
    consistency_index: float
    random_index: float
    consistency_ratio: float
    matrix: tuple[tuple[float, ...], ...]

    @property
    def weights(self) -> dict[str, float]:
        """``{name: weight}``; the weights sum to 1."""
        return dict(zip(self.names, self.priorities, strict=True))

    def assign_weights(
        self, criteria: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Return a copy of overlay ``criteria`` whose ``"weight"`` entries are these weights.

        Parameters
        ----------
        criteria
            Criteria for :class:`~siting.scoring.WeightedOverlay`, named exactly as
            :attr:`names` (any order).

        Returns
        -------
        dict
            New criteria; the input is not modified.

        Raises
        ------
        ScenarioError
            When the criteria names and the compared names differ.

        Examples
        --------
        >>> result = ahp_weights([[1, 3], [1 / 3, 1]], ["ghi", "dist_km"])
        >>> criteria = {"ghi": {"better": "higher"}, "dist_km": {"better": "lower"}}
        >>> for name, spec in result.assign_weights(criteria).items():
        ...     print(name, spec)
        ghi {'better': 'higher', 'weight': 0.75}
        dist_km {'better': 'lower', 'weight': 0.25}
        """
        _check_same_names(list(criteria), self.names, what="criteria")
        weights = self.weights
        return {name: {**spec, "weight": weights[name]} for name, spec in criteria.items()}


def ahp_weights(
    matrix: ArrayLike | Mapping[tuple[str, str], float],
    names: Sequence[str] | None = None,
    *,
    max_cr: float = 0.1,
    on_inconsistent: Literal["warn", "raise", "ignore"] = "warn",
) -> AHPResult:
    """Criterion weights and consistency from Saaty's pairwise comparisons.

    Parameters
    ----------
    matrix
        Either a square reciprocal matrix ``a`` with ``a[i, j]`` = how much more important
        criterion ``i`` is than ``j`` on Saaty's scale (1 equal, 3 moderate, 5 strong,
        7 very strong, 9 extreme; 1/3, 1/5, … the reverse) and ``a[j, i] = 1 / a[i, j]``;
        or a dict of judgements ``{("ghi", "dist_km"): 3, ...}`` giving each pair once
        (either order), with the diagonal and the reciprocals filled in.
    names
        Criteria names in matrix order. Required with a matrix; with a dict, optional
        (default: order of first appearance) and, when given, must name exactly the
        compared criteria.
    max_cr
        Largest acceptable consistency ratio (Saaty: 0.1).
    on_inconsistent
        What to do when CR > ``max_cr``: ``"warn"`` (an
        :class:`InconsistentJudgementsWarning`), ``"raise"`` (a :class:`ScenarioError`) or
        ``"ignore"``. The message names the judgement most at odds with the others.

    Returns
    -------
    AHPResult
        Weights (normalised principal eigenvector), lambda_max, CI, RI and CR.

    Raises
    ------
    ScenarioError
        Non-square or non-numeric matrix, a value outside 1/9..9 or not positive, a diagonal
        other than 1, a pair that is not reciprocal, missing pairs, names that do not match,
        more than 15 criteria (no random index), or CR > ``max_cr`` with
        ``on_inconsistent="raise"``.

    Notes
    -----
    CI = (lambda_max − n) / (n − 1), CR = CI / RI with Saaty's random index
    (:data:`RANDOM_INDEX`). A perfectly consistent matrix (``a[i, k] = a[i, j] a[j, k]``)
    has lambda_max = n and CR = 0. CI is clamped at 0: reciprocals rounded to two decimals
    (0.33 for 1/3) can push lambda_max a hair below n.

    Examples
    --------
    >>> result = ahp_weights({("ghi", "dist_km"): 3, ("ghi", "slope"): 5, ("dist_km", "slope"): 2})
    >>> {name: round(w, 3) for name, w in result.weights.items()}
    {'ghi': 0.648, 'dist_km': 0.23, 'slope': 0.122}
    >>> round(result.consistency_ratio, 4)
    0.0036
    """
    if on_inconsistent not in ("warn", "raise", "ignore"):
        raise ScenarioError(
            f"on_inconsistent={on_inconsistent!r}; use 'warn', 'raise' or 'ignore'"
        )
    if not _is_real(max_cr) or not float(max_cr) >= 0:
        raise ScenarioError(f"max_cr={max_cr!r} must be a number >= 0 (Saaty: 0.1)")
    if isinstance(matrix, Mapping):
        labels, a = _from_judgements(matrix, names)
    else:
        labels, a = _from_matrix(matrix, names)
    n = len(labels)
    if n > max(RANDOM_INDEX):
        raise ScenarioError(
            f"{n} criteria compared; Saaty's random index, and so the consistency ratio, is "
            f"tabulated for at most {max(RANDOM_INDEX)}. Group the criteria into a hierarchy "
            "and compare at most 15 at a time"
        )

    eigenvalues, eigenvectors = np.linalg.eig(a)
    k = int(np.argmax(eigenvalues.real))
    lambda_max = float(eigenvalues[k].real)
    vector = np.abs(eigenvectors[:, k].real)
    priorities = vector / vector.sum()
    ci = max(0.0, (lambda_max - n) / (n - 1)) if n > 1 else 0.0
    if ci < 1e-12:  # rounding noise of an exactly consistent matrix
        ci = 0.0
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    result = AHPResult(
        names=tuple(labels),
        priorities=tuple(float(p) for p in priorities),
        lambda_max=lambda_max,
        consistency_index=ci,
        random_index=ri,
        consistency_ratio=cr,
        matrix=tuple(tuple(float(v) for v in row) for row in a),
    )
    if cr > float(max_cr) and on_inconsistent != "ignore":
        message = _inconsistency_message(result, a, priorities, float(max_cr))
        if on_inconsistent == "raise":
            raise ScenarioError(message)
        warnings.warn(message, InconsistentJudgementsWarning, stacklevel=2)
    return result


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _judgement(value: object, where: str) -> float:
    if not _is_real(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise ScenarioError(
            f"AHP judgement {where} = {value!r} is not a finite number; use a number on "
            "Saaty's scale 1/9..9 (e.g. 3 or 1/3)"
        )
    number = float(value)  # type: ignore[arg-type]
    low, high = _SCALE
    if not low / (1 + _RECIPROCAL_ATOL) <= number <= high * (1 + _RECIPROCAL_ATOL):
        raise ScenarioError(
            f"AHP judgement {where} = {value!r} is outside Saaty's scale 1/9..9 (1 equal, "
            "3 moderate, 5 strong, 7 very strong, 9 extreme importance; 1/3 … 1/9 the "
            "reverse); judgements must be positive"
        )
    return number


def _check_same_names(given: Sequence[str], expected: Sequence[str], *, what: str) -> None:
    missing = [name for name in expected if name not in given]
    extra = [name for name in given if name not in expected]
    if missing or extra:
        raise ScenarioError(
            f"{what} names {list(given)} do not match the compared names {list(expected)}: "
            f"missing {missing}, not compared {extra}; use the same names in both"
        )


def _check_names(names: Sequence[str], n: int | None) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ScenarioError(f"names={names!r}; give a list of criterion names in matrix order")
    labels = list(names)
    if n is not None and len(labels) != n:
        raise ScenarioError(
            f"{len(labels)} names {labels} for a {n}×{n} matrix; give one name per row"
        )
    if not all(isinstance(name, str) for name in labels):
        raise ScenarioError(f"names {labels} must all be strings (the criteria column names)")
    if len(set(labels)) != len(labels):
        duplicates = sorted({name for name in labels if labels.count(name) > 1})
        raise ScenarioError(f"names {labels} repeat {duplicates}; each criterion appears once")
    return labels


def _from_matrix(matrix: ArrayLike, names: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(
            f"the AHP matrix is not numeric ({exc}); give a square table of numbers on "
            "Saaty's scale 1/9..9, or a dict of judgements {('a', 'b'): 3, ...}"
        ) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ScenarioError(
            f"the AHP matrix has shape {a.shape}; it must be square n×n (n >= 1), one row "
            "and one column per criterion"
        )
    n = a.shape[0]
    if names is None:
        raise ScenarioError(
            f"names are required with a {n}×{n} matrix: give the criterion of each row"
        )
    labels = _check_names(names, n)
    for i in range(n):
        for j in range(n):
            _judgement(float(a[i, j]), f"[{labels[i]!r}, {labels[j]!r}]")
    diagonal = np.diag(a)
    if not np.allclose(diagonal, 1.0):
        bad = [labels[i] for i in range(n) if not math.isclose(diagonal[i], 1.0)]
        raise ScenarioError(
            f"the AHP matrix diagonal is {diagonal.tolist()}; a criterion compared with "
            f"itself is 1 (fix the rows of {bad})"
        )
    product = a * a.T
    off = np.argwhere(np.abs(product - 1.0) > _RECIPROCAL_ATOL)
    if off.size:
        i, j = (int(v) for v in off[0])
        raise ScenarioError(
            f"the AHP matrix is not reciprocal: a[{labels[i]!r}, {labels[j]!r}] = {a[i, j]:g} "
            f"but a[{labels[j]!r}, {labels[i]!r}] = {a[j, i]:g} (should be "
            f"{1 / a[i, j]:.4g}); fill the lower triangle with 1 / the upper one"
        )
    return labels, a


def _from_judgements(
    judgements: Mapping[tuple[str, str], float], names: Sequence[str] | None
) -> tuple[list[str], np.ndarray]:
    if not judgements:
        raise ScenarioError("no AHP judgements given; give {('a', 'b'): 3, ...}")
    pairs: dict[tuple[str, str], float] = {}
    seen: list[str] = []
    for key, value in judgements.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
            raise ScenarioError(
                f"AHP judgement key {key!r} must be a pair of criterion names, "
                "e.g. ('ghi', 'slope')"
            )
        first, second = key
        number = _judgement(value, repr(key))
        for name in key:
            if name not in seen:
                seen.append(name)
        if first == second:
            if not math.isclose(number, 1.0):
                raise ScenarioError(
                    f"AHP judgement {key!r} = {value!r}: a criterion compared with itself is 1"
                )
            continue
        if (second, first) in pairs:
            other = pairs[(second, first)]
            if abs(other * number - 1.0) > _RECIPROCAL_ATOL:
                raise ScenarioError(
                    f"AHP judgements {(second, first)!r} = {other:g} and {key!r} = {number:g} "
                    "contradict each other (they must be reciprocal); give each pair once"
                )
            continue
        pairs[key] = number
    if names is None:
        labels = seen
    else:
        labels = _check_names(names, None)
        not_judged = [name for name in labels if name not in seen]
        not_named = [name for name in seen if name not in labels]
        if not_judged or not_named:
            raise ScenarioError(
                f"names {labels} differ from the criteria in the judgements {seen}: "
                f"{not_judged} have no judgement, {not_named} are not in names; "
                "use the same criteria in both"
            )
    n = len(labels)
    index = {name: i for i, name in enumerate(labels)}
    a = np.ones((n, n))
    for (first, second), number in pairs.items():
        a[index[first], index[second]] = number
        a[index[second], index[first]] = 1.0 / number
    given = {frozenset(pair) for pair in pairs}
    missing = [
        (labels[i], labels[j])
        for i in range(n)
        for j in range(i + 1, n)
        if frozenset((labels[i], labels[j])) not in given
    ]
    if missing:
        raise ScenarioError(
            f"missing AHP judgements for {missing}: every pair of the {n} criteria needs one "
            f"({n * (n - 1) // 2} in all); use 1 for 'equally important'"
        )
    return labels, a


def _inconsistency_message(
    result: AHPResult, a: np.ndarray, priorities: np.ndarray, max_cr: float
) -> str:
    # The judgement furthest from the ratio the weights imply (Saaty's suggestion for revision).
    n = len(result.names)
    worst, worst_ratio = (0, 1), 1.0
    for i in range(n):
        for j in range(i + 1, n):
            ratio = a[i, j] * priorities[j] / priorities[i]
            ratio = max(ratio, 1.0 / ratio)
            if ratio > worst_ratio:
                worst, worst_ratio = (i, j), ratio
    i, j = worst
    return (
        f"AHP judgements are inconsistent: consistency ratio {result.consistency_ratio:.3f} > "
        f"{max_cr:g}. The judgement most at odds with the others is "
        f"({result.names[i]!r}, {result.names[j]!r}) = {a[i, j]:.3g}, where the weights imply "
        f"about {priorities[i] / priorities[j]:.3g}; revisit it (or pass "
        "on_inconsistent='ignore' to accept the weights)"
    )
