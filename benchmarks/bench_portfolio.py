"""Portfolio selection (maximal covering): exact (PuLP + CBC) and greedy, time and gap.

Usage: python benchmarks/bench_portfolio.py [--repeats N] [--exact-repeats N]
       [--time-limit S] [--quick] [--out FILE]

A synthetic region (no data files needed), 1,000 km x 600 km in EPSG:5070:

- demand: 50,000 points, 80 % scattered around 400 towns whose sizes follow a Zipf law
  (spread grows with the town), 20 % uniform over the region; each point's population is
  log-normal (median about 150);
- candidates: 1,000 or 10,000 points, uniform over the region, with a capacity of 5 to
  59 MW, a region (the four quadrants) and a score;
- coverage radius 50 km: about 0.75 ms of round-trip propagation in fibre at two thirds
  of the speed of light with a route factor of 1.5; k = 20.

Two problems per size: ``plain`` (no side constraints) and ``constrained`` (25 km minimum
spacing, a 600 MW budget, 3 to 8 sites in each quadrant).

Timed, wall clock, medians of the runs:

- ``coverage``: :func:`siting.portfolio.coverage_matrix` (KD-tree pairs within 50 km);
- ``greedy``: :func:`select_portfolio` with ``method="greedy"`` on the precomputed matrix
  (grouping the demand, the constraints, the greedy loop and the online bound);
- ``greedy + LP``: the same with ``lp_bound=True`` (CBC's LP relaxation), run once;
- ``exact``: ``method="exact"`` on the precomputed matrix with ``--time-limit`` (default
  60 s): grouping, the greedy start, building the PuLP model, CBC, reading the answer.

The gap is greedy's shortfall against the exact objective, and each method's gap against
its own upper bound (CBC's best bound for exact; the online bound, or the LP relaxation,
for greedy). A second table splits one exact run into its parts (grouping, PuLP model
building, CBC wall time as measured around ``prob.solve``).

Writes a markdown report to ``--out`` (default ``benchmarks/results/portfolio.md``, or
``portfolio-quick.md`` with ``--quick``) and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH_M, HEIGHT_M = 1_000_000.0, 600_000.0
ORIGIN = (-1_500_000.0, 1_500_000.0)  # western US in EPSG:5070
N_TOWNS = 400
COVERAGE_M = 50_000.0
K = 20
CONSTRAINED = {
    "min_spacing_m": 25_000.0,
    "capacity_column": "capacity_mw",
    "mw_budget": 600.0,
    "region_column": "quadrant",
    "quotas": dict.fromkeys(("NW", "NE", "SW", "SE"), (3, 8)),
}


def make_region(n_candidates: int, n_demand: int = 50_000, seed: int = 0) -> tuple[Any, Any]:
    """Candidates and demand points of the synthetic region (see the module docstring)."""
    import geopandas as gpd
    import numpy as np

    rng = np.random.default_rng(seed)
    towns = rng.uniform([0, 0], [WIDTH_M, HEIGHT_M], (N_TOWNS, 2))
    size = np.minimum(rng.zipf(1.6, N_TOWNS), 2_000).astype(float)
    n_urban = int(0.8 * n_demand)
    home = rng.choice(N_TOWNS, n_urban, p=size / size.sum())
    spread = np.minimum(2_000.0 + 3_000.0 * np.sqrt(size[home]), 30_000.0)
    urban = towns[home] + rng.normal(0.0, 1.0, (n_urban, 2)) * spread[:, None]
    rural = rng.uniform([0, 0], [WIDTH_M, HEIGHT_M], (n_demand - n_urban, 2))
    xy = np.vstack([urban, rural])
    demand = gpd.GeoDataFrame(
        {"population": np.round(rng.lognormal(5.0, 1.0, n_demand))},
        geometry=gpd.points_from_xy(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1]),
        crs="EPSG:5070",
    )
    cxy = rng.uniform([0, 0], [WIDTH_M, HEIGHT_M], (n_candidates, 2))
    north = np.where(cxy[:, 1] >= HEIGHT_M / 2, "N", "S")
    east = np.where(cxy[:, 0] >= WIDTH_M / 2, "E", "W")
    candidates = gpd.GeoDataFrame(
        {
            "capacity_mw": rng.integers(5, 60, n_candidates).astype(float),
            "quadrant": np.char.add(north, east).astype(object),
            "score": rng.random(n_candidates),
        },
        geometry=gpd.points_from_xy(cxy[:, 0] + ORIGIN[0], cxy[:, 1] + ORIGIN[1]),
        crs="EPSG:5070",
    )
    return candidates, demand


def _timed(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _exact_parts(candidates: Any, demand: Any, coverage: Any, options: dict, limit: float) -> dict:
    """One exact run split into parts, by calling the module's steps one by one."""
    import pulp

    from siting import portfolio as pf

    out = {}
    t0 = time.perf_counter()
    problem = pf._prepare(
        candidates,
        demand,
        k=K,
        coverage_m=None,
        coverage=coverage,
        weight_column="population",
        min_spacing_m=options.get("min_spacing_m", 0.0),
        capacity_column=options.get("capacity_column"),
        mw_budget=options.get("mw_budget"),
        region_column=options.get("region_column"),
        quotas=options.get("quotas"),
        score_column="score",
    )
    out["prepare_s"] = time.perf_counter() - t0
    out["groups"] = problem.cover.shape[0]
    out["nnz"] = problem.cover.nnz
    t0 = time.perf_counter()
    model = pf._model(problem)
    prob, _ = pf._pulp_model(problem, model)
    out["build_s"] = time.perf_counter() - t0
    out["rows"], out["cols"], out["model_nnz"] = model.A.shape[0], model.A.shape[1], model.A.nnz
    t0 = time.perf_counter()
    prob.solve(pf._cbc(pulp, timeLimit=limit))
    out["cbc_s"] = time.perf_counter() - t0
    return out


def run(
    sizes: list[int], repeats: int, exact_repeats: int, limit: float, long_limit: float
) -> str:
    from siting.portfolio import coverage_matrix, select_portfolio

    rows, parts, longer = [], [], []
    for n in sizes:
        candidates, demand = make_region(n)
        cov_s, coverage = _timed(
            lambda c=candidates, d=demand: coverage_matrix(c, d, coverage_m=COVERAGE_M), repeats
        )
        for name, options in (("plain", {}), ("constrained", CONSTRAINED)):
            common = {"k": K, "coverage": coverage, "score_column": "score", **options}
            print(f"n={n} {name}: greedy", file=sys.stderr, flush=True)
            g_s, greedy = _timed(
                lambda c=candidates, d=demand, o=common: select_portfolio(
                    c, d, method="greedy", **o
                ),
                repeats,
            )
            print(f"n={n} {name}: greedy + LP bound", file=sys.stderr, flush=True)
            lp_s, greedy_lp = _timed(
                lambda c=candidates, d=demand, o=common: select_portfolio(
                    c, d, method="greedy", lp_bound=True, **o
                ),
                1,
            )
            print(f"n={n} {name}: exact", file=sys.stderr, flush=True)
            runs = []
            for _ in range(exact_repeats):
                t0 = time.perf_counter()
                res = select_portfolio(
                    candidates, demand, method="exact", time_limit_s=limit, **common
                )
                runs.append((time.perf_counter() - t0, res))
            ex_s = statistics.median(t for t, _ in runs)
            exact = runs[-1][1]
            hit = sum(r.status == "time limit" for _, r in runs)
            start_only = sum(any("greedy start" in x for x in r.notes) for _, r in runs)
            rows.append(
                {
                    "n": n,
                    "problem": name,
                    "coverage_s": cov_s,
                    "greedy_s": g_s,
                    "greedy_lp_s": lp_s,
                    "exact_s": ex_s,
                    "exact_runs": len(runs),
                    "time_limit_hit": hit,
                    "start_only": start_only,
                    "greedy": greedy.objective,
                    "exact": exact.objective,
                    "share_exact": exact.coverage_share,
                    "gap_vs_exact": (exact.objective - greedy.objective) / exact.objective,
                    "greedy_gap_online": greedy.gap,
                    "greedy_gap_lp": greedy_lp.gap,
                    "exact_gap": exact.gap,
                    "exact_status": exact.status,
                }
            )
            print(f"n={n} {name}: exact, in parts", file=sys.stderr, flush=True)
            parts.append(
                {
                    "n": n,
                    "problem": name,
                    **_exact_parts(candidates, demand, coverage, options, limit),
                }
            )
            if long_limit > 0 and n == max(sizes):
                print(f"n={n} {name}: exact, {long_limit:g} s", file=sys.stderr, flush=True)
                t0 = time.perf_counter()
                res = select_portfolio(
                    candidates, demand, method="exact", time_limit_s=long_limit, **common
                )
                longer.append(
                    {
                        "n": n,
                        "problem": name,
                        "seconds": time.perf_counter() - t0,
                        "status": res.status,
                        "exact": res.objective,
                        "bound": res.upper_bound,
                        "gap": res.gap,
                        "greedy_gap": (res.objective - greedy.objective) / res.objective,
                        "notes": "; ".join(res.notes),
                    }
                )
    return _report(rows, parts, longer, limit, long_limit, repeats, exact_repeats)


def _report(
    rows: list[dict],
    parts: list[dict],
    longer: list[dict],
    limit: float,
    long_limit: float,
    repeats: int,
    ex: int,
) -> str:
    import numpy as np
    import pulp
    import scipy

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# Benchmark: portfolio selection (maximal covering), exact vs greedy",
        "",
        f"Synthetic region of {WIDTH_M / 1000:.0f} km x {HEIGHT_M / 1000:.0f} km, 50,000 "
        f"demand points, k = {K}, coverage radius {COVERAGE_M / 1000:.0f} km; exact time "
        f"limit {limit:g} s, one CBC thread. Medians of {repeats} runs (greedy, coverage) "
        f"and of {ex} runs (exact); greedy with the LP bound runs once. "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average before the report "
        f"{load}; Python {platform.python_version()}, PuLP {pulp.__version__} (bundled CBC), "
        f"scipy {scipy.__version__}, numpy {np.__version__}.",
        "",
        "`constrained`: 25 km minimum spacing, 600 MW budget, 3 to 8 sites per quadrant.",
        "",
        "| candidates | problem | coverage (s) | greedy (s) | greedy + LP bound (s) | "
        "exact (s) | exact hit time limit | exact returned the greedy start | "
        "greedy objective | exact objective | "
        "exact coverage share | greedy gap to exact | greedy gap to online bound | "
        "greedy gap to LP bound | exact gap to its bound | exact status |",
        "|" + "---|" * 16,
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['problem']} | {r['coverage_s']:.2f} | {r['greedy_s']:.2f} | "
            f"{r['greedy_lp_s']:.1f} | {r['exact_s']:.1f} | "
            f"{r['time_limit_hit']} of {r['exact_runs']} | "
            f"{r['start_only']} of {r['exact_runs']} | {r['greedy']:,.0f} | "
            f"{r['exact']:,.0f} | {r['share_exact']:.1%} | {r['gap_vs_exact']:.2%} | "
            f"{r['greedy_gap_online']:.2%} | {r['greedy_gap_lp']:.2%} | {r['exact_gap']:.2%} | "
            f"{r['exact_status']} |"
        )
    lines += [
        "",
        "One exact run in parts (grouped demand rows and coverage non-zeros after grouping; "
        "model rows x columns and non-zeros as given to CBC; CBC's wall time includes "
        "PuLP writing the MPS file):",
        "",
        "| candidates | problem | grouping (s) | demand groups | coverage nnz | "
        "model build (s) | model rows x cols | model nnz | CBC (s) |",
        "|" + "---|" * 9,
    ]
    for p in parts:
        lines.append(
            f"| {p['n']:,} | {p['problem']} | {p['prepare_s']:.2f} | {p['groups']:,} | "
            f"{p['nnz']:,} | {p['build_s']:.1f} | {p['rows']:,} x {p['cols']:,} | "
            f"{p['model_nnz']:,} | {p['cbc_s']:.1f} |"
        )
    if longer:
        lines += [
            "",
            f"The largest size once more with a {long_limit:g} s time limit (one run each):",
            "",
            "| candidates | problem | exact (s) | status | exact objective | upper bound | "
            "exact gap to its bound | greedy gap to exact | notes |",
            "|" + "---|" * 9,
        ]
        for r in longer:
            lines.append(
                f"| {r['n']:,} | {r['problem']} | {r['seconds']:.0f} | {r['status']} | "
                f"{r['exact']:,.0f} | {r['bound']:,.0f} | {r['gap']:.2%} | "
                f"{r['greedy_gap']:.2%} | {r['notes']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of coverage and greedy")
    parser.add_argument("--exact-repeats", type=int, default=3, help="runs of the exact solve")
    parser.add_argument("--time-limit", type=float, default=60.0, help="exact time limit, s")
    parser.add_argument(
        "--long-limit",
        type=float,
        default=600.0,
        help="one more exact run of the largest size with this limit, s (0: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 candidates, one run each")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        sizes, args.repeats, args.exact_repeats, args.long_limit = [1_000], 1, 1, 0.0
    else:
        sizes = [1_000, 10_000]
    out = args.out or ROOT / "benchmarks" / "results" / (
        "portfolio-quick.md" if args.quick else "portfolio.md"
    )
    report = run(sizes, args.repeats, args.exact_repeats, args.time_limit, args.long_limit)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(report)
    tmp.replace(out)
    print(report)


if __name__ == "__main__":
    main()
