"""Portfolio selection: k sites that together cover the most demand.

The maximal covering location problem (MCLP, Church & ReVelle 1974): choose at most ``k``
candidate sites so that the demand weight (population) lying within ``coverage_m`` of at
least one chosen site is as large as possible. Side constraints: a minimum spacing between
chosen sites, a total MW budget and per-region quotas.

Two methods solve it:

- ``"exact"``: an integer program solved by CBC through PuLP, started from the greedy
  answer; the result says whether optimality was proven or the time limit stopped it, and
  carries the solver's upper bound;
- ``"greedy"``: add the candidate with the largest marginal covered weight that keeps
  every constraint, until ``k`` sites are taken or none fits. For the plain problem (no
  spacing, budget or quota) greedy is within a factor ``1 - 1/e`` of the optimum
  (Nemhauser, Wolsey & Fisher 1978); with side constraints that guarantee does not hold.

Plain top-k by score with a minimum spacing is :func:`siting.ranking.select_top`. The
formulation, the reductions and the references are in ``docs/portfolio.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import re
import tempfile
import time
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from siting.errors import CRSError, NoFeasibleSitesError, ScenarioError
from siting.ranking import _best_first, _metres_xy

__all__ = [
    "PortfolioComparison",
    "PortfolioResult",
    "compare_methods",
    "coverage_matrix",
    "select_portfolio",
]

Method = Literal["exact", "greedy"]
Status = Literal["optimal", "time limit", "feasible"]
Quotas = Mapping[Hashable, tuple[int, int | None]]

_ONE_MINUS_INV_E = 1.0 - 1.0 / math.e


@dataclass(frozen=True)
class PortfolioResult:
    """A chosen portfolio and how good it is known to be.

    Attributes
    ----------
    sites : geopandas.GeoDataFrame
        The chosen candidates (their columns, in the candidates' CRS, index reset) with
        ``portfolio_rank`` first (1 = first taken), ``covered_alone`` (demand weight within
        reach of the site by itself) and ``covered_marginal`` (weight it adds to the sites
        ranked before it; these sum to ``covered_population``). Greedy ranks sites in the
        order it took them; exact ranks its sites by the same marginal rule afterwards.
    covered_population : float
        Demand weight within ``coverage_m`` of at least one chosen site.
    coverage_share : float
        ``covered_population`` over the total demand weight (demand out of reach of every
        candidate included); NaN when the total weight is 0.
    objective : float
        The maximised quantity, the covered demand weight (equal to
        ``covered_population``), so results of both methods compare directly.
    method : {"exact", "greedy"}
    status : {"optimal", "time limit", "feasible"}
        ``"optimal"``: the solver proved optimality; ``"time limit"``: the solver stopped
        at ``time_limit_s`` with the best portfolio found so far (never worse than
        greedy's); ``"feasible"``: a greedy portfolio that keeps every constraint, with no
        optimality claim.
    upper_bound : float
        No portfolio meeting the constraints covers more than this: the objective itself
        when optimal; otherwise the smallest of the bounds computed: the solver's best
        bound (exact), the LP relaxation (greedy with ``lp_bound=True``) and the greedy
        online bound (both methods; see ``docs/portfolio.md``).
    gap : float
        ``(reference - objective) / reference`` (0 when the reference is 0), where the
        reference is named by ``gap_to``.
    gap_to : {"upper bound", "exact optimum"}
        ``"exact optimum"`` only for a greedy result from :func:`compare_methods` whose
        exact solve was proven optimal.
    seconds : float
        Wall time of the selection, coverage matrix and model building included.
    notes : tuple of str
        Anything the numbers alone do not say: fewer than ``k`` sites and why, no demand
        in range, an untrustworthy solver status.
    """

    sites: gpd.GeoDataFrame
    covered_population: float
    coverage_share: float
    objective: float
    method: Method
    status: Status
    upper_bound: float
    gap: float
    gap_to: Literal["upper bound", "exact optimum"]
    seconds: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortfolioComparison:
    """Exact and greedy portfolios for the same problem.

    Attributes
    ----------
    exact, greedy : PortfolioResult
        The greedy result's ``gap`` is measured against the exact optimum when the exact
        solve proved optimality, else against the best upper bound of the two.
    gap : float
        ``(exact.objective - greedy.objective) / exact.objective`` (0 when both are 0):
        what greedy loses against the exact portfolio, proven optimal or not.
    """

    exact: PortfolioResult
    greedy: PortfolioResult
    gap: float

    def summary(self) -> pd.DataFrame:
        """One row per method: objective, share, status, bound, gap, seconds, sites."""
        rows = []
        for res in (self.exact, self.greedy):
            rows.append(
                {
                    "method": res.method,
                    "objective": res.objective,
                    "coverage_share": res.coverage_share,
                    "status": res.status,
                    "upper_bound": res.upper_bound,
                    "gap": res.gap,
                    "gap_to": res.gap_to,
                    "seconds": res.seconds,
                    "n_sites": len(res.sites),
                }
            )
        return pd.DataFrame(rows).set_index("method")


# --- public functions -------------------------------------------------------------------


def coverage_matrix(
    candidates: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *, coverage_m: float
) -> sparse.csr_array:
    """Which candidates cover which demand points, as a sparse boolean matrix.

    Entry ``(i, j)`` is True when demand point ``i`` lies within ``coverage_m`` metres
    (distance <= ``coverage_m``) of candidate ``j``. Distances are straight lines in the
    candidates' projected CRS; demand in another CRS is reprojected to it first. Pairs are
    found with a KD-tree, so memory grows with the number of covered pairs, not with
    ``len(demand) * len(candidates)``.

    Parameters
    ----------
    candidates
        Point geometries in a projected CRS.
    demand
        Point geometries with a CRS (any; reprojected to the candidates' CRS).
    coverage_m
        Coverage radius in metres, for example the distance reachable within a latency
        budget.

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, shape ``(len(demand), len(candidates))``, sorted indices.

    Raises
    ------
    siting.errors.CRSError
        Candidates not in a projected CRS, or demand without a CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> cands = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0, 10_000], [0, 0]),
    ...                          crs="EPSG:5070")
    >>> towns = gpd.GeoDataFrame({"population": [500, 800, 90]},
    ...     geometry=gpd.points_from_xy([1_000, 9_000, 50_000], [0, 0, 0]), crs="EPSG:5070")
    >>> coverage_matrix(cands, towns, coverage_m=5_000).toarray()
    array([[ True, False],
           [False,  True],
           [False, False]])
    """
    _check_radius(coverage_m, "coverage_m")
    _check_candidates(candidates, "coverage_matrix")
    cand_xy = _metres_xy(candidates)
    dem_xy = _metres_xy(_demand_in_crs(demand, candidates, "coverage_matrix"))
    return _coverage_from_xy(dem_xy, cand_xy, float(coverage_m))


def select_portfolio(
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame | pd.DataFrame | np.ndarray,
    *,
    k: int,
    coverage_m: float | None = None,
    coverage: Any = None,
    weight_column: str = "population",
    min_spacing_m: float = 0.0,
    capacity_column: str | None = None,
    mw_budget: float | None = None,
    region_column: str | None = None,
    quotas: Quotas | None = None,
    method: Method = "exact",
    time_limit_s: float = 60.0,
    score_column: str | None = None,
    lp_bound: bool = False,
) -> PortfolioResult:
    """At most ``k`` sites that together cover the most demand (maximal covering).

    Maximises the total weight of demand points within ``coverage_m`` of at least one
    chosen site (Church & ReVelle 1974), subject to the side constraints given:

    - ``min_spacing_m``: no two chosen sites closer than this (pairs closer are found with
      a KD-tree and forbidden together, as in :func:`siting.ranking.select_top`);
    - ``mw_budget``: the chosen sites' ``capacity_column`` sums to at most this;
    - ``quotas``: ``{region: (min, max)}`` on ``region_column``, the number of chosen
      sites in that region is between min and max (``max=None``: no maximum). Regions
      without a quota are unconstrained.

    ``k`` sites are returned whenever the constraints allow, even where extra sites add no
    coverage (they are then taken in ``score_column``, then candidate, order); ``notes``
    says why when fewer are returned.

    Parameters
    ----------
    candidates
        One row per candidate site, point geometries in a projected CRS (distances are
        measured in metres; a geographic CRS is refused).
    demand
        Demand points with a weight column (``weight_column``), in any CRS (reprojected to
        the candidates'). A population raster becomes demand points with one point per
        cell centre and the cell's population as weight (see ``docs/portfolio.md``). When
        ``coverage`` is given, geometry is not used and ``demand`` may also be a DataFrame
        or a 1-D array of weights.
    k
        Largest number of sites to choose (>= 1). More than the candidates is allowed.
    coverage_m
        Coverage radius in metres, e.g. the distance reachable within a latency budget.
        Give exactly one of ``coverage_m`` and ``coverage``.
    coverage
        A precomputed coverage matrix, boolean, shape ``(len(demand), len(candidates))``
        (sparse or dense), e.g. from :func:`coverage_matrix` to reuse it across runs.
    weight_column
        Demand weight column (finite, >= 0). Default ``"population"``.
    min_spacing_m
        Minimum distance between any two chosen sites, metres (0 = no spacing rule).
    capacity_column, mw_budget
        Candidate capacity column (MW, finite, >= 0) and the largest total capacity of the
        chosen sites. Both or neither.
    region_column, quotas
        Candidate region column and the per-region ``(min, max)`` counts.
    method
        ``"exact"`` (integer program, CBC) or ``"greedy"``.
    time_limit_s
        Time limit of the exact solver (CBC's own clock; building the model is extra).
    score_column
        Breaks ties between candidates of equal marginal coverage: higher score first, then
        candidate order. Default: candidate order alone.
    lp_bound
        Greedy only: also solve the LP relaxation (CBC's simplex) for a tighter upper
        bound and gap. It costs about as much as the root of the exact solve, far more than
        greedy itself; without it the bound is greedy's online bound, which is free but
        looser (see ``docs/portfolio.md``).

    Returns
    -------
    PortfolioResult

    Raises
    ------
    siting.errors.CRSError
        Candidates not in a projected CRS, or demand without a CRS.
    siting.errors.ScenarioError
        Inconsistent options (both or neither coverage options, a budget without a
        capacity column, ...) or constraints that no portfolio can meet: the message names
        the region and the counts.
    siting.errors.NoFeasibleSitesError
        No candidates.
    ValueError
        Invalid values (negative or missing weights or capacities, non-point geometry,
        ``k < 1``).

    Notes
    -----
    The exact solve is deterministic (one CBC thread) unless the time limit stops it, in
    which case the answer depends on the machine's speed. Greedy honours quota minima by
    first taking, greedily, sites in the regions still below their minimum, checking that
    the remaining budget can still meet the other minima (spacing is not looked ahead); it
    can therefore fail where the exact method succeeds, and says so.

    Examples
    --------
    Three candidates on a line and towns around them; two sites cover the most people:

    >>> import geopandas as gpd
    >>> cands = gpd.GeoDataFrame({"name": ["a", "b", "c"]},
    ...     geometry=gpd.points_from_xy([0, 6_000, 30_000], [0, 0, 0]), crs="EPSG:5070")
    >>> towns = gpd.GeoDataFrame({"population": [1_000, 2_000, 1_500, 400]},
    ...     geometry=gpd.points_from_xy([-2_000, 3_000, 31_000, 60_000], [0, 0, 0, 0]),
    ...     crs="EPSG:5070")
    >>> res = select_portfolio(cands, towns, k=2, coverage_m=4_000)
    >>> res.sites["name"].tolist(), res.covered_population, res.status
    (['a', 'c'], 4500.0, 'optimal')
    >>> res.sites[["portfolio_rank", "covered_alone", "covered_marginal"]].to_numpy().tolist()
    [[1.0, 3000.0, 3000.0], [2.0, 1500.0, 1500.0]]

    With 10 km spacing, greedy agrees:

    >>> greedy = select_portfolio(cands, towns, k=2, coverage_m=4_000, min_spacing_m=10_000,
    ...                           method="greedy")
    >>> greedy.sites["name"].tolist(), greedy.status
    (['a', 'c'], 'feasible')
    """
    started = time.perf_counter()
    problem = _prepare(
        candidates,
        demand,
        k=k,
        coverage_m=coverage_m,
        coverage=coverage,
        weight_column=weight_column,
        min_spacing_m=min_spacing_m,
        capacity_column=capacity_column,
        mw_budget=mw_budget,
        region_column=region_column,
        quotas=quotas,
        score_column=score_column,
    )
    if method == "exact":
        result = _run_exact(problem, candidates, time_limit_s=time_limit_s)
    elif method == "greedy":
        result = _run_greedy(problem, candidates, lp_bound=lp_bound)
    else:
        raise ScenarioError(f"method must be 'exact' or 'greedy', got {method!r}")
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def compare_methods(
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame | pd.DataFrame | np.ndarray,
    *,
    k: int,
    coverage_m: float | None = None,
    coverage: Any = None,
    weight_column: str = "population",
    min_spacing_m: float = 0.0,
    capacity_column: str | None = None,
    mw_budget: float | None = None,
    region_column: str | None = None,
    quotas: Quotas | None = None,
    time_limit_s: float = 60.0,
    score_column: str | None = None,
) -> PortfolioComparison:
    """Solve the same portfolio problem exactly and greedily, and report the gap.

    The coverage matrix and constraints are built once. Parameters are those of
    :func:`select_portfolio` (without ``method``).

    Returns
    -------
    PortfolioComparison

    Examples
    --------
    >>> import geopandas as gpd
    >>> cands = gpd.GeoDataFrame(
    ...     geometry=gpd.points_from_xy([0, 5_000, 10_000], [0, 0, 0]), crs="EPSG:5070")
    >>> towns = gpd.GeoDataFrame({"population": [10, 10, 10, 10]},
    ...     geometry=gpd.points_from_xy([-3_000, -1_000, 11_000, 13_000], [0, 0, 0, 0]),
    ...     crs="EPSG:5070")
    >>> cmp = compare_methods(cands, towns, k=1, coverage_m=6_000)
    >>> cmp.exact.objective, cmp.greedy.objective, cmp.gap
    (20.0, 20.0, 0.0)
    """
    started = time.perf_counter()
    problem = _prepare(
        candidates,
        demand,
        k=k,
        coverage_m=coverage_m,
        coverage=coverage,
        weight_column=weight_column,
        min_spacing_m=min_spacing_m,
        capacity_column=capacity_column,
        mw_budget=mw_budget,
        region_column=region_column,
        quotas=quotas,
        score_column=score_column,
    )
    prepared = time.perf_counter() - started
    t0 = time.perf_counter()
    greedy = _run_greedy(problem, candidates, lp_bound=False)
    greedy = dataclasses.replace(greedy, seconds=prepared + time.perf_counter() - t0)
    t0 = time.perf_counter()
    exact = _run_exact(problem, candidates, time_limit_s=time_limit_s)
    exact = dataclasses.replace(exact, seconds=prepared + time.perf_counter() - t0)
    if exact.status == "optimal":
        greedy = dataclasses.replace(
            greedy,
            upper_bound=exact.objective,
            gap=_rel_gap(exact.objective, greedy.objective),
            gap_to="exact optimum",
        )
    else:
        bound = min(exact.upper_bound, greedy.upper_bound)
        greedy = dataclasses.replace(
            greedy, upper_bound=bound, gap=_rel_gap(bound, greedy.objective)
        )
        exact = dataclasses.replace(exact, upper_bound=bound, gap=_rel_gap(bound, exact.objective))
    return PortfolioComparison(exact, greedy, _rel_gap(exact.objective, greedy.objective))


# --- the prepared problem ---------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Everything both methods need, in candidate positions ``0..n-1``.

    ``cover`` has one row per group of demand points with the same non-empty set of
    covering eligible candidates (``weight`` is the group's summed weight); demand that no
    eligible candidate reaches is dropped (it only counts in ``total_weight``).
    """

    n: int
    k: int
    cover: sparse.csr_array  # groups x candidates, float 0/1
    weight: np.ndarray  # per group
    total_weight: float
    eligible: np.ndarray  # bool per candidate: could be chosen at all
    conflicts: sparse.csr_array  # candidates x candidates, symmetric, True = too close
    capacity: np.ndarray | None
    mw_budget: float | None
    region: np.ndarray  # int code per candidate into region_names, -1 = no quota
    region_names: list[Hashable]
    q_min: np.ndarray
    q_max: np.ndarray  # float, inf = no maximum
    tie_rank: np.ndarray  # position of each candidate in the tie-break order
    min_spacing_m: float

    @property
    def constrained(self) -> bool:
        return bool(self.conflicts.nnz or self.mw_budget is not None or len(self.region_names) > 0)


def _prepare(
    candidates: gpd.GeoDataFrame,
    demand: Any,
    *,
    k: int,
    coverage_m: float | None,
    coverage: Any,
    weight_column: str,
    min_spacing_m: float,
    capacity_column: str | None,
    mw_budget: float | None,
    region_column: str | None,
    quotas: Quotas | None,
    score_column: str | None,
) -> _Problem:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    _check_radius(min_spacing_m, "min_spacing_m")
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise TypeError(f"candidates must be a GeoDataFrame, got {type(candidates).__name__}")
    n = len(candidates)
    if n == 0:
        raise NoFeasibleSitesError(
            "select_portfolio got no candidates; there is nothing to choose"
        )
    _check_candidates(candidates, "select_portfolio")
    cand_xy = _metres_xy(candidates)

    # demand and coverage
    if (coverage_m is None) == (coverage is None):
        raise ScenarioError(
            "give exactly one of coverage_m (a radius in metres) and coverage (a precomputed "
            f"matrix); got coverage_m={coverage_m!r} and coverage="
            f"{'None' if coverage is None else type(coverage).__name__}"
        )
    if coverage is None:
        assert coverage_m is not None
        _check_radius(coverage_m, "coverage_m")
        if not isinstance(demand, gpd.GeoDataFrame):
            raise TypeError(
                "demand must be a GeoDataFrame of points when coverage_m is given, got "
                f"{type(demand).__name__}; pass coverage= to use plain weights"
            )
        weights = _demand_weights(demand, weight_column)
        dem_xy = _metres_xy(_demand_in_crs(demand, candidates, "select_portfolio"))
        cover = _coverage_from_xy(dem_xy, cand_xy, float(coverage_m))
    else:
        weights = _demand_weights(demand, weight_column)
        cover = sparse.csr_array(coverage, dtype=bool)
        if cover.shape != (len(weights), n):
            raise ValueError(
                f"coverage has shape {cover.shape}, expected (len(demand), len(candidates)) = "
                f"({len(weights)}, {n})"
            )
        cover.sum_duplicates()
        cover.eliminate_zeros()
        cover.sort_indices()

    # constraints on single candidates
    eligible = np.ones(n, dtype=bool)
    capacity = None
    if (capacity_column is None) != (mw_budget is None):
        raise ScenarioError(
            "a MW budget needs both capacity_column (the candidates' MW column) and "
            f"mw_budget; got capacity_column={capacity_column!r}, mw_budget={mw_budget!r}"
        )
    if capacity_column is not None and mw_budget is not None:
        if not (np.isfinite(mw_budget) and mw_budget >= 0):
            raise ValueError(f"mw_budget must be a finite number >= 0 MW, got {mw_budget!r}")
        capacity = _column(candidates, capacity_column, "capacity_column")
        bad = ~np.isfinite(capacity) | (capacity < 0)
        if bad.any():
            raise ValueError(
                f"capacity_column {capacity_column!r} must be finite and >= 0 MW; "
                f"{int(bad.sum())} candidates are not (first at position "
                f"{int(np.flatnonzero(bad)[0])}). Drop them or fill their capacity first."
            )
        eligible &= capacity <= mw_budget + _budget_tol(mw_budget)

    region, names, q_min, q_max = _quotas(candidates, region_column, quotas)
    if names:
        eligible &= ~((region >= 0) & (q_max[np.maximum(region, 0)] < 1))
    if not eligible.any():
        raise NoFeasibleSitesError(
            f"none of the {n} candidates can be chosen: each is over the MW budget "
            f"({mw_budget!r} MW) on its own or in a region whose quota maximum is 0"
        )
    _check_quota_feasibility(
        k, region, names, q_min, q_max, eligible, capacity, mw_budget, region_column
    )

    conflicts = _conflicts(cand_xy, float(min_spacing_m), eligible)

    if score_column is None:
        tie_order = np.arange(n)
    else:
        scores = _column(candidates, score_column, "score_column")
        tie_order = _best_first(scores[np.newaxis, :])[0][0]
    tie_rank = np.empty(n, dtype=np.intp)
    tie_rank[tie_order] = np.arange(n)

    total = float(weights.sum())
    cover = cover[:, np.flatnonzero(eligible)] if not eligible.all() else cover
    groups, group_weight = _group_rows(cover, weights)
    if not eligible.all():
        # back to all candidate positions, ineligible columns empty
        cols = np.flatnonzero(eligible)
        groups = sparse.csr_array(
            (groups.data, cols[groups.indices], groups.indptr), shape=(groups.shape[0], n)
        )
    return _Problem(
        n=n,
        k=int(k),
        cover=groups,
        weight=group_weight,
        total_weight=total,
        eligible=eligible,
        conflicts=conflicts,
        capacity=capacity,
        mw_budget=None if mw_budget is None else float(mw_budget),
        region=region,
        region_names=names,
        q_min=q_min,
        q_max=q_max,
        tie_rank=tie_rank,
        min_spacing_m=float(min_spacing_m),
    )


def _check_radius(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a distance in metres, got {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite distance >= 0 m, got {value!r}")


def _check_candidates(candidates: gpd.GeoDataFrame, caller: str) -> None:
    crs = candidates.crs
    if crs is None or not crs.is_projected:
        got = "no CRS" if crs is None else f"{crs.to_string()} (not projected)"
        raise CRSError(
            f"{caller} measures coverage and spacing in metres and needs candidates in a "
            f"projected CRS; got {got}. Reproject with candidates.to_crs('EPSG:5070') (or "
            "another projected CRS for your region) first."
        )
    _check_points(candidates, "candidates")


def _check_points(frame: gpd.GeoDataFrame, what: str) -> None:
    geoms = frame.geometry
    ok = (geoms.geom_type == "Point").to_numpy() & ~geoms.is_empty.to_numpy()
    if not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"{what} must have point geometries; row {first} is "
            f"{geoms.iloc[first].geom_type if geoms.iloc[first] is not None else 'missing'}. "
            f"Use {what}.representative_point() or the centroids of polygons first."
        )


def _demand_in_crs(
    demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, caller: str
) -> gpd.GeoDataFrame:
    if demand.crs is None:
        raise CRSError(
            f"{caller}: demand has no CRS, so its distance to the candidates is unknown. "
            "Label it with demand.set_crs(...) (the CRS its coordinates are in)."
        )
    _check_points(demand, "demand")
    if demand.crs != candidates.crs:
        demand = demand.to_crs(candidates.crs)
    return demand


def _demand_weights(demand: Any, column: str) -> np.ndarray:
    if isinstance(demand, pd.DataFrame):
        if column not in demand.columns:
            raise ScenarioError(
                f"demand has no weight column {column!r}; columns are {list(demand.columns)}. "
                "Pass weight_column= to name it."
            )
        w = pd.to_numeric(demand[column], errors="coerce").to_numpy(dtype=float)
    else:
        w = np.asarray(demand, dtype=float)
        if w.ndim != 1:
            raise ValueError(f"demand weights must be 1-D, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(
            f"demand weights must be finite and >= 0; {int(bad.sum())} are not (first at "
            f"position {int(np.flatnonzero(bad)[0])}: {w[bad][0]!r}). A missing population "
            "is not zero: drop those points or fill them on purpose."
        )
    return w


def _column(frame: pd.DataFrame, column: str, option: str) -> np.ndarray:
    if column not in frame.columns:
        raise ScenarioError(
            f"{option}={column!r} is not a column of the candidates; columns are "
            f"{[c for c in frame.columns if c != frame.geometry.name]}"
        )
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _budget_tol(budget: float) -> float:
    return 1e-9 * max(1.0, abs(budget))


def _coverage_from_xy(dem_xy: np.ndarray, cand_xy: np.ndarray, radius: float) -> sparse.csr_array:
    n_dem, n_cand = len(dem_xy), len(cand_xy)
    if n_dem == 0:
        return sparse.csr_array((0, n_cand), dtype=bool)
    pairs = cKDTree(dem_xy).sparse_distance_matrix(cKDTree(cand_xy), radius, output_type="ndarray")
    data = np.ones(len(pairs), dtype=bool)
    matrix = sparse.csr_array((data, (pairs["i"], pairs["j"])), shape=(n_dem, n_cand))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def _group_rows(
    cover: sparse.csr_array, weights: np.ndarray
) -> tuple[sparse.csr_array, np.ndarray]:
    """Merge demand rows with the same covering set; drop rows nobody covers."""
    cover = sparse.csr_array(cover, dtype=bool)
    cover.sort_indices()
    indptr, indices = cover.indptr, cover.indices.astype(np.int64)
    first_of: dict[bytes, int] = {}
    group = np.full(cover.shape[0], -1, dtype=np.intp)
    reps: list[int] = []
    for i in np.flatnonzero(np.diff(indptr) > 0):
        key = indices[indptr[i] : indptr[i + 1]].tobytes()
        g = first_of.setdefault(key, len(reps))
        if g == len(reps):
            reps.append(int(i))
        group[i] = g
    kept = group >= 0
    summed = np.bincount(group[kept], weights=weights[kept], minlength=len(reps))
    grouped = sparse.csr_array(cover[np.asarray(reps, dtype=np.intp)], dtype=float)
    if not reps:
        grouped = sparse.csr_array((0, cover.shape[1]), dtype=float)
    return grouped, summed


def _quotas(
    candidates: gpd.GeoDataFrame, region_column: str | None, quotas: Quotas | None
) -> tuple[np.ndarray, list[Hashable], np.ndarray, np.ndarray]:
    n = len(candidates)
    if not quotas:
        if region_column is not None and region_column not in candidates.columns:
            raise ScenarioError(f"region_column={region_column!r} is not a column of candidates")
        return np.full(n, -1, dtype=np.intp), [], np.zeros(0, int), np.zeros(0)
    if region_column is None:
        raise ScenarioError(
            "quotas need region_column, the candidates' column holding each site's region; "
            f"got quotas for {list(quotas)} and region_column=None"
        )
    if region_column not in candidates.columns:
        raise ScenarioError(
            f"region_column={region_column!r} is not a column of candidates; columns are "
            f"{[c for c in candidates.columns if c != candidates.geometry.name]}"
        )
    names = list(quotas)
    q_min = np.zeros(len(names), dtype=int)
    q_max = np.full(len(names), np.inf)
    for r, name in enumerate(names):
        spec = quotas[name]
        if not isinstance(spec, tuple | list) or len(spec) != 2:
            raise ScenarioError(
                f"quota for region {name!r} must be (min, max) with max None for no maximum; "
                f"got {spec!r}"
            )
        lo, hi = spec
        if isinstance(lo, bool) or not isinstance(lo, int | np.integer) or lo < 0:
            raise ScenarioError(
                f"quota minimum for region {name!r} must be an int >= 0, got {lo!r}"
            )
        if hi is not None and (isinstance(hi, bool) or not isinstance(hi, int | np.integer)):
            raise ScenarioError(
                f"quota maximum for region {name!r} must be an int or None, got {hi!r}"
            )
        if hi is not None and hi < lo:
            raise ScenarioError(
                f"quota for region {name!r} has minimum {lo} above maximum {hi}; "
                "it can never be met"
            )
        q_min[r] = lo
        if hi is not None:
            q_max[r] = hi
    codes = pd.Index(names).get_indexer(candidates[region_column])  # -1: no quota
    return np.asarray(codes, dtype=np.intp), names, q_min, q_max


def _check_quota_feasibility(
    k: int,
    region: np.ndarray,
    names: list[Hashable],
    q_min: np.ndarray,
    q_max: np.ndarray,
    eligible: np.ndarray,
    capacity: np.ndarray | None,
    mw_budget: float | None,
    region_column: str | None,
) -> None:
    """Necessary conditions, checked before solving, with messages that name the region."""
    if not names:
        return
    for r, name in enumerate(names):
        in_region = region == r
        usable = int((in_region & eligible).sum())
        if q_min[r] > usable:
            over = int((in_region & ~eligible).sum())
            extra = f" ({over} more are over the MW budget on their own)" if over else ""
            raise ScenarioError(
                f"quota for region {name!r} asks for at least {q_min[r]} sites, but only "
                f"{usable} candidates have {region_column} == {name!r}{extra}. Lower that "
                "minimum or add candidates there."
            )
    if q_min.sum() > k:
        detail = ", ".join(f"{n!r}: {m}" for n, m in zip(names, q_min, strict=True) if m)
        raise ScenarioError(
            f"quota minima add up to {int(q_min.sum())} sites ({detail}) but k = {k}; raise k "
            "or lower the minima"
        )
    if capacity is not None and mw_budget is not None:
        need = 0.0
        parts = []
        for r, name in enumerate(names):
            if q_min[r]:
                caps = np.sort(capacity[(region == r) & eligible])[: q_min[r]]
                need += float(caps.sum())
                parts.append(f"{name!r}: {q_min[r]} sites, at least {caps.sum():g} MW")
        if need > mw_budget + _budget_tol(mw_budget):
            raise ScenarioError(
                f"quota minima need at least {need:g} MW even with the smallest sites "
                f"({'; '.join(parts)}) but mw_budget = {mw_budget:g} MW"
            )


def _conflicts(xy: np.ndarray, min_spacing_m: float, eligible: np.ndarray) -> sparse.csr_array:
    n = len(xy)
    if min_spacing_m <= 0:
        return sparse.csr_array((n, n), dtype=bool)
    idx = np.flatnonzero(eligible)
    pairs = cKDTree(xy[idx]).query_pairs(min_spacing_m, output_type="ndarray")
    if len(pairs):
        d = np.hypot(*(xy[idx[pairs[:, 0]]] - xy[idx[pairs[:, 1]]]).T)
        pairs = pairs[d < min_spacing_m]  # closer than the spacing, as select_top
    i, j = idx[pairs[:, 0]], idx[pairs[:, 1]]
    data = np.ones(2 * len(i), dtype=bool)
    m = sparse.csr_array(
        (data, (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n), dtype=bool
    )
    m.sort_indices()
    return m


# --- greedy -----------------------------------------------------------------------------


@dataclass
class _GreedyRun:
    chosen: list[int]
    covered: float
    online_bound: float
    unmet: dict[Hashable, tuple[int, int]]  # region -> (needed, got) when minima unmet
    blocked_by: dict[str, int]


def _greedy(p: _Problem, *, start: list[int] | None = None) -> _GreedyRun:
    """Greedy maximal covering under the constraints, optionally from a starting set."""
    n, k = p.n, p.k
    w = p.weight
    cover_csc = p.cover.tocsc()
    gains = np.asarray(p.cover.T @ w, dtype=float)
    uncovered = np.ones(len(w), dtype=bool)
    taken = np.zeros(n, dtype=bool)
    near = np.zeros(n, dtype=bool)  # within the spacing of a taken site
    counts = np.zeros(len(p.region_names), dtype=int)
    used = 0.0
    covered = 0.0
    chosen: list[int] = []
    tol = 1e-10 * max(float(w.sum()), 1.0)
    has_region = p.region >= 0
    region0 = np.maximum(p.region, 0)

    def take(j: int) -> None:
        nonlocal used, covered
        taken[j] = True
        chosen.append(j)
        col = cover_csc.indices[cover_csc.indptr[j] : cover_csc.indptr[j + 1]]
        new = col[uncovered[col]]
        if len(new):
            dw = w[new]
            covered += float(dw.sum())
            gains[:] -= p.cover[new].T @ dw
            uncovered[new] = False
        near[p.conflicts.indices[p.conflicts.indptr[j] : p.conflicts.indptr[j + 1]]] = True
        if p.region[j] >= 0:
            counts[p.region[j]] += 1
        if p.capacity is not None:
            used += float(p.capacity[j])

    def online_bound() -> float:
        g = np.clip(gains, 0.0, None)
        g[taken] = 0.0
        top = np.partition(g, n - k)[n - k :] if k < n else g
        return covered + float(top.sum())

    # Candidates ruled out by the sites taken so far: the selection step and the count of
    # what each rule blocked (when fewer than k sites are taken) both use these.
    def at_quota_max() -> np.ndarray:
        """Candidates in a region at its quota maximum (only when some region has one)."""
        return has_region & (counts[region0] >= p.q_max[region0])

    def over_budget() -> np.ndarray:
        """Candidates larger than the MW budget left (none without a budget)."""
        if p.capacity is None or p.mw_budget is None:
            return np.zeros(n, dtype=bool)
        return p.capacity > p.mw_budget - used + _budget_tol(p.mw_budget)

    for j in start or []:
        take(int(j))
    bound = online_bound()
    while len(chosen) < k:
        allowed = p.eligible & ~taken & ~near
        if has_region.any():
            allowed &= ~at_quota_max()
        remaining = math.inf
        if p.capacity is not None and p.mw_budget is not None:
            remaining = p.mw_budget - used
            allowed &= ~over_budget()
        need = np.maximum(p.q_min - counts, 0)
        if need.sum():
            # first meet the quota minima: only regions still short, keeping enough budget
            allowed &= has_region & (need[region0] > 0)
            if p.capacity is not None and math.isfinite(remaining):
                allowed &= _budget_keeps_minima(p, allowed, need, remaining)
        cand = np.flatnonzero(allowed)
        if len(cand) == 0:
            break
        g = gains[cand]
        tied = cand[g >= g.max() - tol]
        take(int(tied[np.argmin(p.tie_rank[tied])]))
        bound = min(bound, online_bound())

    need = np.maximum(p.q_min - counts, 0)
    unmet = {p.region_names[r]: (int(p.q_min[r]), int(counts[r])) for r in np.flatnonzero(need)}
    blocked_by = {}
    if len(chosen) < k:
        free = p.eligible & ~taken
        blocked_by["spacing"] = int((free & near).sum())
        if p.capacity is not None and p.mw_budget is not None:
            blocked_by["MW budget"] = int((free & ~near & over_budget()).sum())
        if has_region.any():
            blocked_by["quota maximum"] = int((free & ~near & at_quota_max()).sum())
        blocked_by["their own size or a zero quota maximum"] = int((~p.eligible).sum())
    return _GreedyRun(chosen, covered, bound, unmet, blocked_by)


def _budget_keeps_minima(
    p: _Problem, allowed: np.ndarray, need: np.ndarray, remaining: float
) -> np.ndarray:
    """Candidates whose capacity still leaves budget for the other unmet minima.

    The reserve is the capacity of the smallest usable sites that would meet each region's
    remaining minimum; spacing between them is not considered (a necessary check only).
    """
    assert p.capacity is not None
    assert p.mw_budget is not None
    cap = p.capacity
    ok = np.zeros(p.n, dtype=bool)
    sums = np.zeros(len(need))  # cheapest need[r] in r
    sums_less = np.zeros(len(need))  # cheapest need[r] - 1 in r
    nth = np.full(len(need), np.inf)  # the need[r]-th cheapest capacity in r
    for reg in np.flatnonzero(need):
        caps = np.sort(cap[allowed & (p.region == reg)])
        sums[reg] = caps[: need[reg]].sum()
        sums_less[reg] = caps[: need[reg] - 1].sum()
        if len(caps) >= need[reg]:
            nth[reg] = caps[need[reg] - 1]
    total = sums.sum()
    idx = np.flatnonzero(allowed)
    r = p.region[idx]
    # reserve for the rest after taking j: own region's cheapest need-1 excluding j
    own = np.where(cap[idx] <= nth[r], sums[r] - cap[idx], sums_less[r])
    reserve = total - sums[r] + own
    ok[idx] = cap[idx] + reserve <= remaining + _budget_tol(p.mw_budget)
    return ok


def _run_greedy(p: _Problem, candidates: gpd.GeoDataFrame, *, lp_bound: bool) -> PortfolioResult:
    run = _greedy(p)
    if run.unmet:
        detail = "; ".join(
            f"region {name!r} needs at least {need}, got {got}"
            for name, (need, got) in run.unmet.items()
        )
        raise ScenarioError(
            f"greedy selection could not meet the quota minima ({detail}): the sites it "
            "took leave no candidate there that keeps the spacing and MW budget. "
            "method='exact' decides whether any portfolio can meet them."
        )
    bound = run.online_bound
    notes = []
    if lp_bound and p.cover.shape[0]:
        lp = _lp_relaxation(p)
        if lp is not None:
            bound = min(bound, lp)
    bound = max(bound, run.covered)
    if not p.constrained:
        notes.append(
            "plain maximal covering: greedy covers at least (1 - 1/e) = 63.2 % of the optimum"
        )
    return _result(p, candidates, run.chosen, "greedy", "feasible", bound, notes, run)


# --- exact ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """``max c @ v`` s.t. ``A @ v <= b``, ``0 <= v <= 1``, the first ``n_x`` binary."""

    c: np.ndarray
    A: sparse.csr_array
    b: np.ndarray
    x_cand: np.ndarray  # candidate position of each x variable
    n_y: int


def _model(p: _Problem) -> _Model:
    x_cand = np.flatnonzero(p.eligible)
    n_x = len(x_cand)
    pos = np.full(p.n, -1, dtype=np.intp)
    pos[x_cand] = np.arange(n_x)
    cover = p.cover[:, x_cand].tocsr()
    nnz = np.diff(cover.indptr)
    # a group with one covering site adds its weight straight to that site's x
    single = nnz == 1
    c_x = np.bincount(
        cover.indices[cover.indptr[:-1][single]], weights=p.weight[single], minlength=n_x
    )
    multi = np.flatnonzero(~single)
    n_y = len(multi)
    c = np.concatenate([c_x, p.weight[multi]])
    blocks = []
    rhs = []
    if n_y:
        m = cover[multi]
        blocks.append(sparse.hstack([-m, sparse.eye_array(n_y)], format="csr"))
        rhs.append(np.zeros(n_y))

    def row_block(rows: list[np.ndarray], values: list[np.ndarray], b: list[float]) -> None:
        if not rows:
            return
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
        blocks.append(
            sparse.csr_array(
                (np.concatenate(values), np.concatenate(rows), indptr),
                shape=(len(rows), n_x + n_y),
            )
        )
        rhs.append(np.asarray(b, dtype=float))

    all_x = np.arange(n_x)
    row_block([all_x], [np.ones(n_x)], [min(p.k, n_x)])
    pairs = sparse.triu(p.conflicts, k=1, format="coo")
    if pairs.nnz:
        ij = np.column_stack([pos[pairs.row], pos[pairs.col]])
        ij = ij[(ij >= 0).all(axis=1)]
        blocks.append(
            sparse.csr_array(
                (np.ones(2 * len(ij)), ij.ravel(), np.arange(0, 2 * len(ij) + 1, 2)),
                shape=(len(ij), n_x + n_y),
            )
        )
        rhs.append(np.ones(len(ij)))
    if p.capacity is not None and p.mw_budget is not None:
        row_block([all_x], [p.capacity[x_cand]], [p.mw_budget])
    rows, vals, b = [], [], []
    for r in range(len(p.region_names)):
        members = pos[(p.region == r) & p.eligible]
        if math.isfinite(p.q_max[r]):
            rows.append(members)
            vals.append(np.ones(len(members)))
            b.append(float(p.q_max[r]))
        if p.q_min[r] > 0:
            rows.append(members)
            vals.append(-np.ones(len(members)))
            b.append(-float(p.q_min[r]))
    row_block(rows, vals, b)
    A = sparse.vstack(blocks, format="csr")
    return _Model(c=c, A=A, b=np.concatenate(rhs), x_cand=x_cand, n_y=n_y)


def _pulp_model(p: _Problem, model: _Model, *, relax: bool = False) -> tuple[Any, list[Any]]:
    """The model as a PuLP problem; returns it and the x variables.

    It minimises minus the covered weight: CBC 2.10 (bundled with PuLP) mixes up the sign
    of a MIP start's objective when it maximises, and then drops a better start.
    """
    pulp: Any = importlib.import_module("pulp")
    prob = pulp.LpProblem("maximal_covering", pulp.LpMinimize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    xs = [prob.add_variable(f"x{j}", lowBound=0, upBound=1, cat=cat) for j in model.x_cand]
    ys = [prob.add_variable(f"y{g}", lowBound=0, upBound=1) for g in range(model.n_y)]
    var = xs + ys
    prob += pulp.LpAffineExpression([(var[i], -float(model.c[i])) for i in range(len(var))])
    A = model.A
    for r in range(A.shape[0]):
        lo, hi = A.indptr[r], A.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(var[i], float(v)) for i, v in zip(A.indices[lo:hi], A.data[lo:hi], strict=True)]
        )
        prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"c{r}", float(model.b[r]))
    return prob, var


def _cbc(pulp: Any, **options: Any) -> Any:
    """PuLP's bundled CBC, one thread, wall-clock time limit.

    ``primalS`` solves the first LP with the primal simplex before anything else: on these
    models CBC's default dual simplex takes 20 to 50 times longer (measured on the
    benchmark's 1,000-candidate models: 0.6 s against 27 s) and does not stop at the time
    limit, while the primal simplex does.
    """
    with warnings.catch_warnings():
        # PuLP 3.3 announces that PuLP 4.0 drops the bundled CBC; it is what is used here
        warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
        return pulp.PULP_CBC_CMD(
            msg=False, threads=1, timeMode="elapsed", options=["primalS"], **options
        )


def _lp_relaxation(p: _Problem) -> float | None:
    """Optimal value of the LP relaxation (CBC's simplex), an upper bound; None if unsolved."""
    pulp: Any = importlib.import_module("pulp")
    if p.cover.shape[0] == 0:
        return 0.0
    prob, _ = _pulp_model(p, _model(p), relax=True)
    prob.solve(_cbc(pulp, mip=False))
    if prob.status != pulp.LpStatusOptimal:
        return None
    return -float(pulp.value(prob.objective)) * (1 + 1e-9) + 1e-9


# CBC's summary for a minimisation; the model minimises minus the covered weight
_BOUND_LINE = re.compile(r"^Lower bound:\s*(\S+)", re.MULTILINE)
_PREPROCESS_INFEASIBLE = "Pre-processing says infeasible"


def _run_exact(
    p: _Problem, candidates: gpd.GeoDataFrame, *, time_limit_s: float
) -> PortfolioResult:
    if not (isinstance(time_limit_s, int | float) and time_limit_s > 0):
        raise ValueError(f"time_limit_s must be a number of seconds > 0, got {time_limit_s!r}")
    pulp: Any = importlib.import_module("pulp")
    warm = _greedy(p)
    warm_ok = not warm.unmet
    model = _model(p)
    n_x = len(model.x_cand)
    notes: list[str] = []

    prob, var = _pulp_model(p, model)
    xs, ys = var[:n_x], var[n_x:]
    if warm_ok:
        start = np.zeros(p.n, dtype=bool)
        start[warm.chosen] = True
        for x, j in zip(xs, model.x_cand, strict=True):
            x.setInitialValue(1 if start[j] else 0)
        if model.n_y:
            # y = 1 where the warm start covers the group (multi-site groups only)
            multi = np.flatnonzero(np.diff(p.cover.indptr) != 1)
            hit = (p.cover[multi][:, np.flatnonzero(start)].sum(axis=1) > 0).astype(int)
            for y, h in zip(ys, hit, strict=True):
                y.setInitialValue(int(h))

    with tempfile.TemporaryDirectory(prefix="siting-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        solver = _cbc(
            pulp, timeLimit=float(time_limit_s), warmStart=warm_ok, logPath=str(log_path)
        )
        t0 = time.perf_counter()
        prob.solve(solver)
        solve_s = time.perf_counter() - t0
        log = log_path.read_text(errors="replace") if log_path.exists() else ""

    values = np.array([x.value() or 0.0 for x in xs]) if n_x else np.zeros(0)
    chosen = [int(j) for j in model.x_cand[values > 0.5]]
    # When CBC stops before its first integer solution, the solution file holds the LP
    # relaxation's fractional values: only an integral portfolio that keeps every
    # constraint is used.
    usable = bool(np.all(np.abs(values - np.round(values)) <= 1e-5)) and _feasible(p, chosen)
    if usable and prob.sol_status == pulp.LpSolutionOptimal:
        status: Status = "optimal"
    elif usable and prob.sol_status == pulp.LpSolutionIntegerFeasible:
        status = "time limit"
    elif warm_ok:
        # CBC also reports "infeasible" when its time limit ends pre-processing; the
        # greedy start proves a portfolio exists, so keep it.
        status = "time limit"
        chosen = list(warm.chosen)
        notes.append(
            f"the solver returned no integer portfolio after {solve_s:.0f} s (its time limit "
            "ended pre-processing or the first LP); this is the greedy start: raise "
            "time_limit_s"
        )
    else:
        hit_limit = solve_s >= 0.95 * time_limit_s or "Stopped on time" in log
        if hit_limit or (_PREPROCESS_INFEASIBLE in log and solve_s >= 0.5 * time_limit_s):
            raise ScenarioError(
                f"the exact solve reached its time limit ({time_limit_s:g} s) before finding "
                "any portfolio that meets the constraints; raise time_limit_s"
            )
        raise ScenarioError(_infeasible_message(p))

    if status == "optimal":
        bound = 0.0
    else:
        # CBC's best bound when its log has one (not when the limit ended the first LP);
        # the greedy start's online bound otherwise. No LP is solved after the time limit.
        bound = warm.online_bound if warm_ok else math.inf
        match = _BOUND_LINE.search(log)
        if match:
            with contextlib.suppress(ValueError):
                bound = min(bound, -float(match.group(1)) * (1 + 1e-6) + 1e-6)
        if not math.isfinite(bound):
            bound = float(p.weight.sum())  # all demand any usable candidate reaches
        note = f"the solver stopped at its time limit of {time_limit_s:g} s"
        if solve_s > 1.2 * time_limit_s + 1:
            note += (
                f" after {solve_s:.0f} s in CBC (writing, reading and pre-processing the "
                "model are not stopped by the limit)"
            )
        notes.append(note)
    # k sites whenever the constraints allow: top up with the greedy rule (adds nothing
    # when optimal, since a gain would contradict optimality)
    run = _greedy(p, start=chosen)
    if warm_ok and run.covered < warm.covered:
        # never report less than the start the solver was given
        run = _greedy(p, start=warm.chosen)
        notes.append("the solver returned less than its greedy start; this is the start")
    bound = max(bound, run.covered)
    return _result(p, candidates, run.chosen, "exact", status, bound, notes, run)


def _feasible(p: _Problem, chosen: list[int]) -> bool:
    """Whether a set of candidate positions keeps every constraint."""
    idx = np.asarray(chosen, dtype=np.intp)
    if len(idx) > p.k or not p.eligible[idx].all():
        return False
    if p.conflicts[idx][:, idx].nnz:
        return False
    if (
        p.capacity is not None
        and p.mw_budget is not None
        and p.capacity[idx].sum() > p.mw_budget + _budget_tol(p.mw_budget)
    ):
        return False
    if p.region_names:
        counts = np.bincount(p.region[idx][p.region[idx] >= 0], minlength=len(p.region_names))
        if (counts < p.q_min).any() or (counts > p.q_max).any():
            return False
    return True


def _infeasible_message(p: _Problem) -> str:
    parts = [f"k = {p.k}"]
    if p.min_spacing_m > 0:
        parts.append(f"min_spacing_m = {p.min_spacing_m:g}")
    if p.mw_budget is not None:
        parts.append(f"mw_budget = {p.mw_budget:g} MW")
    for r, name in enumerate(p.region_names):
        lo, hi = int(p.q_min[r]), p.q_max[r]
        usable = int(((p.region == r) & p.eligible).sum())
        hi_s = "no max" if not math.isfinite(hi) else f"max {int(hi)}"
        parts.append(f"region {name!r}: min {lo}, {hi_s}, {usable} usable candidates")
    return (
        "no portfolio meets all the constraints together ("
        + "; ".join(parts)
        + "): the quota minima cannot all be met with sites that keep the spacing and MW "
        "budget. Lower a minimum, the spacing, or raise the budget."
    )


# --- results ----------------------------------------------------------------------------


def _rank_by_marginal(p: _Problem, chosen: list[int]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Chosen sites in greedy marginal-coverage order; their alone and marginal weights."""
    idx = np.asarray(chosen, dtype=np.intp)
    if len(idx) == 0:
        return [], np.zeros(0), np.zeros(0)
    sub = p.cover[:, idx].tocsc()
    alone = np.asarray(sub.T @ p.weight, dtype=float)
    uncovered = np.ones(sub.shape[0], dtype=bool)
    left = list(range(len(idx)))
    order, marginal = [], []
    tol = 1e-10 * max(float(p.weight.sum()), 1.0)
    for _ in range(len(idx)):
        gains = np.asarray(sub[:, left].T @ (p.weight * uncovered), dtype=float)
        best = gains.max()
        tied = [left[i] for i in np.flatnonzero(gains >= best - tol)]
        pick = min(tied, key=lambda t: p.tie_rank[idx[t]])
        order.append(pick)
        marginal.append(gains[left.index(pick)])
        uncovered[sub.indices[sub.indptr[pick] : sub.indptr[pick + 1]]] = False
        left.remove(pick)
    return [int(idx[t]) for t in order], alone[order], np.asarray(marginal)


def _result(
    p: _Problem,
    candidates: gpd.GeoDataFrame,
    chosen: list[int],
    method: Method,
    status: Status,
    bound: float,
    notes: list[str],
    run: _GreedyRun,
) -> PortfolioResult:
    if method == "greedy":
        order = list(chosen)
        sub = p.cover[:, np.asarray(order, dtype=np.intp)].tocsc() if order else None
        alone = np.asarray(sub.T @ p.weight, dtype=float) if sub is not None else np.zeros(0)
        marginal = np.zeros(len(order))
        uncovered = np.ones(p.cover.shape[0], dtype=bool)
        for t in range(len(order)):
            assert sub is not None
            rows = sub.indices[sub.indptr[t] : sub.indptr[t + 1]]
            marginal[t] = p.weight[rows[uncovered[rows]]].sum()
            uncovered[rows] = False
    else:
        order, alone, marginal = _rank_by_marginal(p, chosen)
    covered = float(marginal.sum())
    sites = candidates.iloc[order].reset_index(drop=True)
    sites = sites.drop(
        columns=[c for c in ("portfolio_rank", "covered_alone", "covered_marginal") if c in sites]
    )
    sites.insert(0, "portfolio_rank", np.arange(1, len(order) + 1))
    sites.insert(1, "covered_alone", alone)
    sites.insert(2, "covered_marginal", marginal)

    if len(order) < p.k:
        if p.k > p.n:
            notes.append(f"k = {p.k} is more than the {p.n} candidates")
        reasons = ", ".join(f"{v} by {key}" for key, v in run.blocked_by.items() if v)
        notes.append(
            f"only {len(order)} of k = {p.k} sites could be chosen"
            + (f"; the other candidates are ruled out ({reasons})" if reasons else "")
        )
    if p.cover.shape[0] == 0:
        notes.append(
            "no demand lies within the coverage radius of any usable candidate: the objective "
            "is 0 and the sites are taken in score_column (then candidate) order"
        )
    elif covered == 0:
        notes.append("the chosen sites cover no demand")
    share = covered / p.total_weight if p.total_weight > 0 else math.nan
    return PortfolioResult(
        sites=sites,
        covered_population=covered,
        coverage_share=share,
        objective=covered,
        method=method,
        status=status,
        upper_bound=float(bound),
        gap=_rel_gap(bound, covered),
        gap_to="upper bound",
        seconds=0.0,
        notes=tuple(notes),
    )


def _rel_gap(reference: float, value: float) -> float:
    if reference <= 0 or not math.isfinite(reference):
        return 0.0 if reference == value else math.nan
    return max(0.0, (reference - value) / reference)
