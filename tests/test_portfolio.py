"""Portfolio selection (maximal covering): exact and greedy against brute force."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from siting.errors import CRSError, NoFeasibleSitesError, ScenarioError
from siting.portfolio import (
    PortfolioResult,
    compare_methods,
    coverage_matrix,
    select_portfolio,
)

CRS = "EPSG:5070"
ORIGIN = (1_000_000.0, 2_000_000.0)  # inside the conterminous US in EPSG:5070
LOWER = 1.0 - 1.0 / math.e


# --- helpers ----------------------------------------------------------------------------


def _points(xy: np.ndarray, crs: str = CRS, **columns: object) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    return gpd.GeoDataFrame(
        dict(columns),
        geometry=gpd.points_from_xy(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1]),
        crs=crs,
    )


def _case(seed: int, n_cand: int = 10, n_dem: int = 30, size: float = 40_000.0):
    """Random candidates and demand in a square; integer weights, capacities, 3 regions."""
    rng = np.random.default_rng(seed)
    cand_xy = rng.uniform(0, size, (n_cand, 2))
    dem_xy = rng.uniform(0, size, (n_dem, 2))
    cands = _points(
        cand_xy,
        capacity_mw=rng.integers(5, 50, n_cand).astype(float),
        region=rng.choice(["north", "south", "west"], n_cand),
        score=rng.integers(0, 4, n_cand).astype(float),
    )
    demand = _points(dem_xy, population=rng.integers(0, 1000, n_dem).astype(float))
    return cands, demand


def _brute_force(
    cands: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    k: int,
    coverage_m: float,
    min_spacing_m: float = 0.0,
    mw_budget: float | None = None,
    quotas: dict | None = None,
) -> float | None:
    """Best covered weight over every subset of at most k sites that meets the rules.

    Distances are computed densely here, independently of the module's KD-tree code.
    Returns None when no subset meets the rules.
    """
    cxy = np.column_stack([cands.geometry.x, cands.geometry.y])
    dxy = np.column_stack([demand.geometry.x, demand.geometry.y])
    covers = np.hypot(*(dxy[:, None, :] - cxy[None, :, :]).transpose(2, 0, 1)) <= coverage_m
    between = np.hypot(*(cxy[:, None, :] - cxy[None, :, :]).transpose(2, 0, 1))
    w = demand["population"].to_numpy()
    best = None
    for size in range(min(k, len(cands)) + 1):
        for subset in itertools.combinations(range(len(cands)), size):
            if not _feasible(cands, list(subset), between, min_spacing_m, mw_budget, quotas):
                continue
            value = float(w[covers[:, list(subset)].any(axis=1)].sum()) if subset else 0.0
            best = value if best is None else max(best, value)
    return best


def _feasible(cands, subset, between, min_spacing_m, mw_budget, quotas) -> bool:
    for a, b in itertools.combinations(subset, 2):
        if between[a, b] < min_spacing_m:
            return False
    if mw_budget is not None and cands["capacity_mw"].to_numpy()[subset].sum() > mw_budget:
        return False
    if quotas:
        regions = cands["region"].to_numpy()[subset]
        for name, (lo, hi) in quotas.items():
            count = int((regions == name).sum())
            if count < lo or (hi is not None and count > hi):
                return False
    return True


def _positions(cands: gpd.GeoDataFrame, res: PortfolioResult) -> list[int]:
    lookup = {(g.x, g.y): i for i, g in enumerate(cands.geometry)}
    return [lookup[(g.x, g.y)] for g in res.sites.geometry]


def _assert_rules(cands, res, *, k, min_spacing_m=0.0, mw_budget=None, quotas=None):
    sites = res.sites
    assert len(sites) <= k
    assert sites["portfolio_rank"].tolist() == list(range(1, len(sites) + 1))
    assert sites["covered_marginal"].sum() == pytest.approx(res.covered_population)
    assert (sites["covered_alone"] >= sites["covered_marginal"] - 1e-9).all()
    pos = _positions(cands, res)
    assert len(set(pos)) == len(pos)
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    for a, b in itertools.combinations(range(len(xy)), 2):
        assert np.hypot(*(xy[a] - xy[b])) >= min_spacing_m
    if mw_budget is not None:
        assert sites["capacity_mw"].sum() <= mw_budget + 1e-9
    for name, (lo, hi) in (quotas or {}).items():
        count = int((sites["region"] == name).sum())
        assert count >= lo
        if hi is not None:
            assert count <= hi
    assert res.upper_bound >= res.objective - 1e-9
    assert 0.0 <= res.gap <= 1.0


# --- a hand case where greedy is not optimal --------------------------------------------


def _hand_case():
    # On a line, radius 10 km: B (x=10) reaches the two big towns X and Y; A (x=-5) reaches
    # Z and X; C (x=25) reaches Y and W. Greedy takes B (20) then A (+9) = 29; the optimum
    # is A + C = 38.
    cands = _points(np.array([[-5_000, 0], [10_000, 0], [25_000, 0]]), name=["A", "B", "C"])
    demand = _points(
        np.array([[-10_000, 0], [0, 0], [20_000, 0], [30_000, 0]]),
        population=[9.0, 10.0, 10.0, 9.0],
    )
    return cands, demand


def test_select_portfolio__hand_case_exact_beats_greedy():
    cands, demand = _hand_case()
    exact = select_portfolio(cands, demand, k=2, coverage_m=10_000)
    greedy = select_portfolio(cands, demand, k=2, coverage_m=10_000, method="greedy")
    assert sorted(exact.sites["name"]) == ["A", "C"]
    assert exact.objective == 38.0
    assert exact.status == "optimal"
    assert exact.upper_bound == 38.0
    assert exact.gap == 0.0
    assert exact.coverage_share == 1.0
    assert greedy.sites["name"].tolist() == ["B", "A"]  # A before C: candidate order
    assert greedy.objective == 29.0
    assert greedy.status == "feasible"
    assert greedy.upper_bound >= 38.0
    assert greedy.objective >= LOWER * exact.objective
    assert _brute_force(cands, demand, k=2, coverage_m=10_000) == 38.0


def test_compare_methods__hand_case_gap_against_the_optimum():
    cands, demand = _hand_case()
    cmp = compare_methods(cands, demand, k=2, coverage_m=10_000)
    assert cmp.gap == pytest.approx(9 / 38)
    assert cmp.greedy.gap_to == "exact optimum"
    assert cmp.greedy.gap == pytest.approx(9 / 38)
    assert cmp.greedy.upper_bound == 38.0
    table = cmp.summary()
    assert table.loc["exact", "objective"] == 38.0
    assert table.loc["greedy", "status"] == "feasible"


def test_select_portfolio__exact_ranks_by_marginal_coverage():
    cands, demand = _hand_case()
    demand.loc[3, "population"] = 12.0  # C now reaches 22 > A's 19
    res = select_portfolio(cands, demand, k=2, coverage_m=10_000)
    assert res.sites["name"].tolist() == ["C", "A"]
    assert res.sites["covered_alone"].tolist() == [22.0, 19.0]
    assert res.sites["covered_marginal"].tolist() == [22.0, 19.0]


# --- brute force on random small cases --------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_select_portfolio__plain_exact_equals_brute_force_and_greedy_bounded(seed):
    cands, demand = _case(seed, n_cand=9 + seed % 4, n_dem=20 + 4 * seed)
    k = 2 + seed % 3
    best = _brute_force(cands, demand, k=k, coverage_m=9_000)
    exact = select_portfolio(cands, demand, k=k, coverage_m=9_000)
    greedy = select_portfolio(cands, demand, k=k, coverage_m=9_000, method="greedy")
    assert exact.objective == pytest.approx(best)
    assert exact.status == "optimal"
    assert greedy.objective <= exact.objective + 1e-9
    assert greedy.objective >= LOWER * exact.objective - 1e-9
    assert greedy.upper_bound >= best - 1e-6  # a valid bound
    for res in (exact, greedy):
        _assert_rules(cands, res, k=k)
        assert len(res.sites) == k


RULES = {
    "spacing": {"min_spacing_m": 22_000.0},
    "budget": {"mw_budget": 60.0},
    "quotas": {"quotas": {"north": (1, 1), "south": (0, 1)}},
    "all": {
        "min_spacing_m": 16_000.0,
        "mw_budget": 90.0,
        "quotas": {"west": (1, None), "north": (0, 2)},
    },
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rules", list(RULES))
def test_select_portfolio__side_constraints_exact_equals_brute_force(seed, rules):
    cands, demand = _case(100 + seed, n_cand=10, n_dem=30)
    opts = RULES[rules]
    k = 3
    kwargs = dict(opts)
    if "mw_budget" in opts:
        kwargs["capacity_column"] = "capacity_mw"
    if "quotas" in opts:
        kwargs["region_column"] = "region"
    best = _brute_force(cands, demand, k=k, coverage_m=10_000, **opts)
    if best is None:
        with pytest.raises(ScenarioError):
            select_portfolio(cands, demand, k=k, coverage_m=10_000, **kwargs)
        return
    exact = select_portfolio(cands, demand, k=k, coverage_m=10_000, **kwargs)
    assert exact.objective == pytest.approx(best)
    assert exact.status == "optimal"
    _assert_rules(cands, exact, k=k, **opts)
    greedy = select_portfolio(cands, demand, k=k, coverage_m=10_000, method="greedy", **kwargs)
    assert greedy.objective <= exact.objective + 1e-9
    assert greedy.upper_bound >= best - 1e-6
    _assert_rules(cands, greedy, k=k, **opts)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cand=st.integers(1, 9),
    n_dem=st.integers(0, 25),
    k=st.integers(1, 4),
    radius=st.sampled_from([3_000.0, 8_000.0, 15_000.0]),
    spacing=st.sampled_from([0.0, 6_000.0, 15_000.0]),
)
def test_select_portfolio__random_exact_equals_brute_force(
    seed, n_cand, n_dem, k, radius, spacing
):
    cands, demand = _case(seed, n_cand=n_cand, n_dem=n_dem, size=30_000.0)
    best = _brute_force(cands, demand, k=k, coverage_m=radius, min_spacing_m=spacing)
    exact = select_portfolio(cands, demand, k=k, coverage_m=radius, min_spacing_m=spacing)
    greedy = select_portfolio(
        cands, demand, k=k, coverage_m=radius, min_spacing_m=spacing, method="greedy"
    )
    assert exact.objective == pytest.approx(best)
    assert greedy.objective <= exact.objective + 1e-9
    assert greedy.upper_bound >= best - 1e-6
    if spacing == 0:
        assert greedy.objective >= LOWER * exact.objective - 1e-9
    _assert_rules(cands, exact, k=k, min_spacing_m=spacing)
    _assert_rules(cands, greedy, k=k, min_spacing_m=spacing)


# --- quotas -----------------------------------------------------------------------------


def test_select_portfolio__greedy_meets_quota_minimum_first():
    # Everyone lives near the two "east" sites; a quota of one "west" site forces one there.
    cands = _points(np.array([[0, 0], [1_000, 0], [50_000, 0]]), region=["east", "east", "west"])
    demand = _points(np.array([[0, 500], [1_000, 500], [50_000, 500]]), population=[50.0, 40, 1])
    for method in ("exact", "greedy"):
        res = select_portfolio(
            cands,
            demand,
            k=2,
            coverage_m=600,
            region_column="region",
            quotas={"west": (1, None)},
            method=method,
        )
        assert sorted(res.sites["region"]) == ["east", "west"], method
        assert res.objective == 51.0


def test_select_portfolio__quota_maximum_respected():
    cands = _points(np.array([[0, 0], [5_000, 0], [10_000, 0]]), region=["a", "a", "b"])
    demand = _points(np.array([[0, 0], [5_000, 0], [10_000, 0]]), population=[10.0, 10, 1])
    for method in ("exact", "greedy"):
        res = select_portfolio(
            cands,
            demand,
            k=3,
            coverage_m=100,
            region_column="region",
            quotas={"a": (0, 1)},
            method=method,
        )
        assert (res.sites["region"] == "a").sum() == 1
        assert res.objective == 11.0
        assert len(res.sites) == 2
        assert any("only 2 of k = 3" in note for note in res.notes)


def test_select_portfolio__quota_too_many_for_region_names_region_and_counts():
    cands, demand = _case(1)
    n_north = int((cands["region"] == "north").sum())
    with pytest.raises(ScenarioError, match=rf"'north'.*at least {n_north + 1}.*only {n_north}"):
        select_portfolio(
            cands,
            demand,
            k=n_north + 2,
            coverage_m=5_000,
            region_column="region",
            quotas={"north": (n_north + 1, None)},
        )


def test_select_portfolio__quota_minima_above_k():
    cands, demand = _case(2)
    with pytest.raises(ScenarioError, match=r"add up to 3 sites.*'north': 2.*'south': 1.*k = 2"):
        select_portfolio(
            cands,
            demand,
            k=2,
            coverage_m=5_000,
            region_column="region",
            quotas={"north": (2, None), "south": (1, 3)},
        )


def test_select_portfolio__quota_region_absent_names_it():
    cands, demand = _case(3)
    with pytest.raises(ScenarioError, match=r"'east'.*at least 1.*only 0"):
        select_portfolio(
            cands,
            demand,
            k=3,
            coverage_m=5_000,
            region_column="region",
            quotas={"east": (1, None)},
        )
    # a quota with minimum 0 for an absent region is harmless
    res = select_portfolio(
        cands, demand, k=3, coverage_m=5_000, region_column="region", quotas={"east": (0, 2)}
    )
    assert len(res.sites) == 3


def test_select_portfolio__quota_minima_over_budget():
    cands = _points(
        np.array([[0, 0], [10_000, 0], [20_000, 0]]),
        region=["a", "b", "b"],
        capacity_mw=[30.0, 40.0, 50.0],
    )
    demand = _points(np.array([[0, 0]]), population=[1.0])
    with pytest.raises(ScenarioError, match=r"at least 70 MW.*'a': 1 sites.*'b': 1 sites.*60"):
        select_portfolio(
            cands,
            demand,
            k=2,
            coverage_m=100,
            capacity_column="capacity_mw",
            mw_budget=60.0,
            region_column="region",
            quotas={"a": (1, None), "b": (1, None)},
        )


def test_select_portfolio__quota_minimum_blocked_by_spacing():
    # Region "a" has 2 candidates 1 km apart: a minimum of 2 cannot keep a 5 km spacing.
    cands = _points(np.array([[0, 0], [1_000, 0], [20_000, 0]]), region=["a", "a", "b"])
    demand = _points(np.array([[0, 0]]), population=[1.0])
    kwargs = {
        "k": 3,
        "coverage_m": 100,
        "min_spacing_m": 5_000,
        "region_column": "region",
        "quotas": {"a": (2, None)},
    }
    with pytest.raises(ScenarioError, match=r"no portfolio meets.*region 'a': min 2"):
        select_portfolio(cands, demand, **kwargs)
    with pytest.raises(ScenarioError, match=r"region 'a' needs at least 2, got 1"):
        select_portfolio(cands, demand, method="greedy", **kwargs)


@pytest.mark.parametrize(
    ("quotas", "match"),
    [
        ({"north": (3, 1)}, "minimum 3 above maximum 1"),
        ({"north": (-1, None)}, "int >= 0"),
        ({"north": 2}, r"\(min, max\)"),
    ],
)
def test_select_portfolio__bad_quota_spec(quotas, match):
    cands, demand = _case(0)
    with pytest.raises(ScenarioError, match=match):
        select_portfolio(
            cands, demand, k=3, coverage_m=5_000, region_column="region", quotas=quotas
        )


def test_select_portfolio__quotas_need_region_column():
    cands, demand = _case(0)
    with pytest.raises(ScenarioError, match="region_column"):
        select_portfolio(cands, demand, k=3, coverage_m=5_000, quotas={"north": (1, None)})


# --- budget -----------------------------------------------------------------------------


def test_select_portfolio__budget_greedy_skips_a_site_that_does_not_fit():
    cands = _points(np.array([[0, 0], [10_000, 0], [20_000, 0]]), capacity_mw=[40.0, 30, 10])
    demand = _points(np.array([[0, 0], [10_000, 0], [20_000, 0]]), population=[9.0, 8, 1])
    for method in ("exact", "greedy"):
        res = select_portfolio(
            cands,
            demand,
            k=3,
            coverage_m=100,
            capacity_column="capacity_mw",
            mw_budget=50.0,
            method=method,
        )
        assert res.objective == 10.0  # 40 + 10 MW: the 9 and the 1 (the 8 would not fit)
        assert res.sites["capacity_mw"].sum() <= 50.0


def test_select_portfolio__budget_needs_capacity_column():
    cands, demand = _case(0)
    with pytest.raises(ScenarioError, match="capacity_column"):
        select_portfolio(cands, demand, k=3, coverage_m=5_000, mw_budget=100.0)


def test_select_portfolio__nothing_fits_the_budget():
    cands, demand = _case(0)
    with pytest.raises(NoFeasibleSitesError, match="over the MW budget"):
        select_portfolio(
            cands, demand, k=3, coverage_m=5_000, capacity_column="capacity_mw", mw_budget=1.0
        )


def test_select_portfolio__missing_capacity_is_refused():
    cands, demand = _case(0)
    cands.loc[2, "capacity_mw"] = np.nan
    with pytest.raises(ValueError, match="position 2"):
        select_portfolio(
            cands, demand, k=3, coverage_m=5_000, capacity_column="capacity_mw", mw_budget=99.0
        )


# --- edge cases -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_select_portfolio__k_larger_than_candidates(method):
    cands, demand = _case(4, n_cand=5)
    res = select_portfolio(cands, demand, k=12, coverage_m=8_000, method=method)
    assert len(res.sites) == 5
    assert res.objective == pytest.approx(_brute_force(cands, demand, k=5, coverage_m=8_000))
    assert any("more than the 5 candidates" in note for note in res.notes)


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_select_portfolio__no_demand_in_range_still_returns_k_sites(method):
    cands, demand = _case(5)
    far = demand.set_geometry(demand.geometry.translate(1e6, 1e6))
    res = select_portfolio(cands, far, k=3, coverage_m=5_000, method=method, score_column="score")
    assert res.objective == 0.0
    assert res.coverage_share == 0.0
    assert len(res.sites) == 3
    expected = cands.assign(pos=range(len(cands))).sort_values(
        ["score", "pos"], ascending=[False, True], kind="stable"
    )
    assert res.sites["score"].tolist() == expected["score"].head(3).tolist()
    assert any("no demand lies within" in note for note in res.notes)


def test_select_portfolio__empty_demand():
    cands, demand = _case(6)
    res = select_portfolio(cands, demand.iloc[:0], k=2, coverage_m=5_000)
    assert res.objective == 0.0
    assert math.isnan(res.coverage_share)
    assert len(res.sites) == 2


def test_select_portfolio__no_candidates():
    cands, demand = _case(6)
    with pytest.raises(NoFeasibleSitesError):
        select_portfolio(cands.iloc[:0], demand, k=2, coverage_m=5_000)


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_select_portfolio__deterministic(method):
    cands, demand = _case(7, n_cand=12, n_dem=40)
    kwargs = {"k": 4, "coverage_m": 9_000, "min_spacing_m": 5_000, "method": method}
    a = select_portfolio(cands, demand, **kwargs)
    b = select_portfolio(cands, demand, **kwargs)
    pd.testing.assert_frame_equal(a.sites, b.sites)
    assert (a.objective, a.upper_bound, a.status) == (b.objective, b.upper_bound, b.status)


def test_select_portfolio__ties_follow_score_then_order():
    # Four sites equally far from one town: greedy takes the best score, then the first.
    cands = _points(
        np.array([[0, 1_000], [1_000, 0], [0, -1_000], [-1_000, 0]]), score=[1.0, 3, 3, np.nan]
    )
    demand = _points(np.array([[0, 0]]), population=[5.0])
    res = select_portfolio(
        cands, demand, k=1, coverage_m=2_000, method="greedy", score_column="score"
    )
    assert res.sites["score"].tolist() == [3.0]
    assert res.sites.geometry.x.iloc[0] == ORIGIN[0] + 1_000  # the first of the tied two
    no_score = select_portfolio(cands, demand, k=1, coverage_m=2_000, method="greedy")
    assert no_score.sites.geometry.y.iloc[0] == ORIGIN[1] + 1_000  # candidate order


# --- CRS --------------------------------------------------------------------------------


def test_select_portfolio__geographic_candidates_refused():
    cands, demand = _case(0)
    with pytest.raises(CRSError, match=r"projected CRS.*to_crs"):
        select_portfolio(cands.to_crs("EPSG:4326"), demand, k=2, coverage_m=5_000)


def test_select_portfolio__candidates_without_crs_refused():
    cands, demand = _case(0)
    with pytest.raises(CRSError, match="no CRS"):
        select_portfolio(cands.set_crs(None, allow_override=True), demand, k=2, coverage_m=5_000)


def test_select_portfolio__demand_without_crs_refused():
    cands, demand = _case(0)
    with pytest.raises(CRSError, match="set_crs"):
        select_portfolio(cands, demand.set_crs(None, allow_override=True), k=2, coverage_m=5_000)


def test_select_portfolio__demand_reprojected_to_candidates_crs():
    cands, demand = _case(8, n_cand=12, n_dem=40)
    same = select_portfolio(cands, demand, k=3, coverage_m=9_000)
    other = select_portfolio(cands, demand.to_crs("EPSG:4326"), k=3, coverage_m=9_000)
    assert other.objective == pytest.approx(same.objective)
    assert other.sites.geometry.equals(same.sites.geometry)


def test_coverage_matrix__radius_is_inclusive_and_units_are_metres():
    cands = _points(np.array([[0, 0]]))
    demand = _points(np.array([[3_000, 4_000], [3_000, 4_001]]), population=[1.0, 1.0])
    m = coverage_matrix(cands, demand, coverage_m=5_000)
    assert m.shape == (2, 1)
    assert m.toarray()[:, 0].tolist() == [True, False]
    # California zone 3 is in US survey feet: 5 km is 16,404.2 ft
    feet = gpd.GeoDataFrame(geometry=gpd.points_from_xy([6e6], [2e6]), crs="EPSG:2227")
    towns = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([6e6 + 16_404, 6e6 + 16_420], [2e6, 2e6]), crs="EPSG:2227"
    )
    m = coverage_matrix(feet, towns, coverage_m=5_000)
    assert m.toarray()[:, 0].tolist() == [True, False]


# --- inputs -----------------------------------------------------------------------------


def test_select_portfolio__precomputed_coverage_matches_radius():
    cands, demand = _case(9, n_cand=12, n_dem=40)
    m = coverage_matrix(cands, demand, coverage_m=9_000)
    a = select_portfolio(cands, demand, k=3, coverage_m=9_000)
    b = select_portfolio(cands, demand, k=3, coverage=m)
    c = select_portfolio(cands, demand["population"].to_numpy(), k=3, coverage=m.toarray())
    assert a.objective == b.objective == c.objective
    pd.testing.assert_frame_equal(a.sites, b.sites)


def test_select_portfolio__precomputed_coverage_shape_checked():
    cands, demand = _case(9)
    with pytest.raises(ValueError, match="shape"):
        select_portfolio(cands, demand, k=3, coverage=sparse.csr_array((3, 3), dtype=bool))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ScenarioError, "exactly one of coverage_m"),
        ({"coverage_m": 1.0, "coverage": np.zeros((30, 10), bool)}, ScenarioError, "exactly one"),
        ({"coverage_m": -1.0}, ValueError, "coverage_m"),
        ({"coverage_m": 1.0, "k": 0}, ValueError, "k must be"),
        ({"coverage_m": 1.0, "min_spacing_m": np.nan}, ValueError, "min_spacing_m"),
        ({"coverage_m": 1.0, "weight_column": "people"}, ScenarioError, "'people'"),
        ({"coverage_m": 1.0, "method": "fast"}, ScenarioError, "'exact' or 'greedy'"),
        ({"coverage_m": 1.0, "score_column": "nope"}, ScenarioError, "'nope'"),
        ({"coverage_m": 1.0, "time_limit_s": 0}, ValueError, "time_limit_s"),
    ],
)
def test_select_portfolio__bad_options(kwargs, error, match):
    cands, demand = _case(0)
    kwargs = {"k": 2, **kwargs}
    with pytest.raises(error, match=match):
        select_portfolio(cands, demand, **kwargs)


def test_select_portfolio__missing_population_is_refused():
    cands, demand = _case(0)
    demand.loc[4, "population"] = np.nan
    with pytest.raises(ValueError, match="position 4"):
        select_portfolio(cands, demand, k=2, coverage_m=5_000)


def test_select_portfolio__polygon_candidates_refused():
    cands, demand = _case(0)
    with pytest.raises(ValueError, match="point geometries"):
        select_portfolio(cands.set_geometry(cands.buffer(10)), demand, k=2, coverage_m=5_000)


# --- the exact solver's time limit ------------------------------------------------------


def test_select_portfolio__time_limit_reported_honestly():
    # Random (non-geometric) coverage sets make a hard instance CBC cannot prove in 0.05 s.
    rng = np.random.default_rng(0)
    n, m = 60, 300
    cover = rng.random((m, n)) < 0.08
    weights = rng.integers(1, 100, m).astype(float)
    cands = _points(rng.uniform(0, 1e5, (n, 2)))
    res = select_portfolio(cands, weights, k=7, coverage=cover, time_limit_s=0.05)
    greedy = select_portfolio(cands, weights, k=7, coverage=cover, method="greedy")
    assert res.status == "time limit"
    assert res.objective >= greedy.objective  # started from the greedy answer
    assert res.upper_bound >= res.objective
    assert len(res.sites) == 7
    assert any("time limit" in note for note in res.notes)


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_select_portfolio__fewer_than_k_says_why(method):
    cands = _points(np.array([[0, 0], [1_000, 0], [2_000, 0], [9_000, 0]]), capacity_mw=[1.0] * 4)
    demand = _points(np.array([[0, 0], [9_000, 0]]), population=[5.0, 1.0])
    res = select_portfolio(
        cands,
        demand,
        k=3,
        coverage_m=500,
        min_spacing_m=5_000,
        capacity_column="capacity_mw",
        mw_budget=2.0,
        method=method,
    )
    assert res.objective == 6.0
    assert len(res.sites) == 2
    assert any("only 2 of k = 3" in note and "2 by spacing" in note for note in res.notes)


@pytest.mark.parametrize("seed", [0, 3])
def test_select_portfolio__greedy_lp_bound_is_tighter_and_valid(seed):
    cands, demand = _case(seed, n_cand=10, n_dem=30)
    best = _brute_force(cands, demand, k=3, coverage_m=9_000)
    online = select_portfolio(cands, demand, k=3, coverage_m=9_000, method="greedy")
    lp = select_portfolio(cands, demand, k=3, coverage_m=9_000, method="greedy", lp_bound=True)
    assert best - 1e-6 <= lp.upper_bound <= online.upper_bound + 1e-9
    assert lp.objective == online.objective
    assert lp.gap == pytest.approx((lp.upper_bound - lp.objective) / lp.upper_bound)


def test_select_portfolio__fractional_solver_answer_falls_back_to_greedy(monkeypatch):
    # A solver stopped before its first integer solution leaves LP values in its solution
    # file; they must never be read as a portfolio.
    import siting.portfolio as pf

    real_cbc = pf._cbc

    class StoppedEarly:
        def actualSolve(self, lp, **kwargs):
            for v in lp.variables():
                v.varValue = 0.5
            lp.assignStatus(1, 2)  # what PuLP reports for "Stopped on time" with values
            return 1

    def fake_cbc(pulp, **options):
        return StoppedEarly() if "timeLimit" in options else real_cbc(pulp, **options)

    monkeypatch.setattr(pf, "_cbc", fake_cbc)
    cands, demand = _case(11, n_cand=10, n_dem=30)
    res = select_portfolio(cands, demand, k=3, coverage_m=9_000)
    greedy = select_portfolio(cands, demand, k=3, coverage_m=9_000, method="greedy")
    assert res.status == "time limit"
    assert res.objective == greedy.objective
    assert len(res.sites) == 3
    assert res.upper_bound >= _brute_force(cands, demand, k=3, coverage_m=9_000) - 1e-6
    assert any("greedy start" in note for note in res.notes)
