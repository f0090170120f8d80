"""24/7 clean-energy matching: candidates per second for 8,760-hour years.

Usage: python benchmarks/bench_matching.py [--repeats N] [--out FILE]

Cases:

- ``match_load`` on an 8,760 × N matrix of hourly generation (N = 1,000 and 10,000
  candidates), without and with a 4-hour battery (the battery needs the hour loop; without
  one the matching is a few whole-matrix operations);
- ``match_sites`` for 20 and 200 ranked sites (typical profiles built, then one bisection
  of 30 matching steps for all sites together), as a run with an ``[energy]`` section does;
- the per-cell features of a scenario's ``cfe_share`` and ``cooling_degree_hours`` kinds
  (``typical_cfe_share``, ``typical_cooling_degree_hours``) on 10^6 cells: the lattice of
  exact values around the data, then interpolation per cell (floor: one numpy pass that
  reads the same inputs and writes one output).

A plain numpy pass over the same bytes (``np.minimum(generation, load).sum(axis=0)``, the
no-battery CFE in one line) is timed in the same run as the floor. Medians of the repeats;
writes a markdown table to ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(repeats: int) -> list[dict[str, object]]:
    from siting.energy import (
        match_load,
        match_sites,
        typical_cfe_share,
        typical_cooling_degree_hours,
    )

    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for n in (1_000, 10_000):
        hours = np.arange(8760)
        daily = np.clip(np.sin((hours % 24 - 6) / 12 * np.pi), 0, None)[:, None]
        generation = (daily * rng.uniform(10, 30, n)[None, :]).astype(float)
        floor = _median_seconds(lambda g=generation: np.minimum(g, 10.0).sum(axis=0), repeats)
        for battery_hours in (0, 4):

            def case(g=generation, b=battery_hours):
                return match_load(g, load_mw=10.0, battery_mw=10.0 * (b > 0), battery_mwh=10.0 * b)

            seconds = _median_seconds(case, repeats)
            rows.append(
                {
                    "case": f"match_load, {n:,} candidates, battery {battery_hours} h",
                    "seconds": seconds,
                    "candidates_per_s": n / seconds,
                    "numpy_floor_s": floor,
                    "ratio_to_floor": seconds / floor,
                }
            )
    for n in (20, 200):
        sites = pd.DataFrame(
            {
                "lon": -117.5 + rng.random(n),
                "lat": 39.0 + rng.random(n) * 0.5,
                "ghi_kwh_m2_day": 5.5 + rng.random(n) * 0.8,
                "wind_speed_100m_m_s": 5.0 + rng.random(n) * 4.0,
            }
        )
        seconds = _median_seconds(
            lambda s=sites: match_sites(s, load_mw=10.0, target_cfe=0.9, battery_hours=4), 1
        )
        rows.append(
            {
                "case": f"match_sites, {n} sites (profiles + sizing)",
                "seconds": seconds,
                "candidates_per_s": n / seconds,
                "numpy_floor_s": float("nan"),
                "ratio_to_floor": float("nan"),
            }
        )
    n = 1_000_000
    ghi, wind = rng.uniform(5.3, 6.2, n), rng.uniform(4.0, 9.0, n)
    temperature = rng.uniform(2.0, 12.0, n)
    site = {"latitude": 39.5, "longitude": -117.0}
    per_cell = [
        (
            "typical_cfe_share (lattice + bilinear)",
            lambda: typical_cfe_share(ghi, wind, **site),
            lambda: np.add(ghi, wind),
        ),
        (
            "typical_cooling_degree_hours (lattice + linear)",
            lambda: typical_cooling_degree_hours(temperature),
            lambda: np.add(temperature, 1.0),
        ),
    ]
    for name, case, floor_case in per_cell:
        seconds = _median_seconds(case, repeats)
        floor = _median_seconds(floor_case, repeats)
        rows.append(
            {
                "case": f"{name}, {n:,} cells",
                "seconds": seconds,
                "candidates_per_s": n / seconds,
                "numpy_floor_s": floor,
                "ratio_to_floor": seconds / floor,
            }
        )
    return rows


def render(rows: list[dict[str, object]], repeats: int) -> str:
    import siting

    lines = [
        "# Benchmark: 24/7 clean-energy matching",
        "",
        f"Median of {repeats} runs (match_sites: 1 run after a warm-up that fills the wind "
        "profile cache, so it times sizing plus the solar profile), wall-clock seconds; "
        "8,760 hours per candidate.",
        "",
        "| case | seconds | candidates / s | numpy floor s | ratio to floor |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        floor = row["numpy_floor_s"]
        ratio = row["ratio_to_floor"]
        lines.append(
            f"| {row['case']} | {row['seconds']:.3f} | {row['candidates_per_s']:,.0f} | "
            + ("–" if np.isnan(floor) else f"{floor:.4f}")  # type: ignore[arg-type]
            + " | "
            + ("–" if np.isnan(ratio) else f"{ratio:.1f}")  # type: ignore[arg-type]
            + " |"
        )
    lines += [
        "",
        f"siting {siting.__version__}, numpy {np.__version__}, Python {platform.python_version()},"
        f" {platform.machine()}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "matching.md"
    )
    args = parser.parse_args()
    text = render(run(args.repeats), args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
