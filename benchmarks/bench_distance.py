"""Distance layers: cells per second and peak memory, exact Euclidean distance to lines.

Usage: python benchmarks/bench_distance.py [--repeats N] [--size CELLS] [--out FILE]

Cases (each run in a fresh process so its peak RSS is its own):

- ``ri``: the Rhode Island 90 m grid (1434 x 972, EPSG:32130) against the 606 real
  transmission lines of ``../shared/data/nrel_revx/xmission/ri_allconns.gpkg`` (skipped
  when that folder is absent);
- ``synthetic``: a SIZE x SIZE grid of 90 m cells (default 10,000) against 3,000 random
  three-vertex lines, computed lazily in 1,024-cell tiles and reduced to its mean, so the
  full output is never held (peak memory shows what the tile-by-tile path needs);
- ``synthetic-points``: the same grid against 3,000 points (the KD-tree path).

Writes a markdown table (median of the repeats) to ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _case(name: str, size: int) -> dict[str, float]:
    """Run one case in this process; return seconds, cells and peak RSS."""
    import resource

    import geopandas as gpd
    import numpy as np
    import shapely

    from siting.features import distance_to_nearest
    from siting.grid import Grid

    if name == "ri":
        import rasterio

        with rasterio.open(SHARED / "nrel_revx" / "ri_exclusions" / "ri_srtm_slope.tif") as src:
            grid = Grid(src.crs.to_wkt(), src.transform, src.shape)
        feats = gpd.read_file(SHARED / "nrel_revx" / "xmission" / "ri_allconns.gpkg")
        features = feats[feats["category"] == "TransLine"].geometry
        start = time.perf_counter()
        result = distance_to_nearest(features, grid).values
        seconds = time.perf_counter() - start
        assert np.isfinite(result).all()
    else:
        rng = np.random.default_rng(0)
        extent = size * 90.0
        grid = Grid.from_bounds((0, 0, extent, extent), 90.0)
        starts = rng.uniform(0, extent, (3_000, 2))
        if name == "synthetic":
            mids = starts + rng.normal(0, 5_000, starts.shape)
            ends = mids + rng.normal(0, 5_000, starts.shape)
            geoms = shapely.linestrings(np.stack([starts, mids, ends], 1))
        else:
            geoms = shapely.points(starts)
        features = gpd.GeoSeries(geoms, crs=grid.crs)
        start = time.perf_counter()
        mean = float(distance_to_nearest(features, grid, chunks=1024).mean().compute())
        seconds = time.perf_counter() - start
        assert mean > 0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cells": float(grid.size), "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "distance.md"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(_case(args.case, args.size)))
        return
    cases = ["synthetic", "synthetic-points"]
    if (SHARED / "nrel_revx" / "xmission").is_dir():
        cases.insert(0, "ri")
    rows = []
    for case in cases:
        runs = []
        for _ in range(args.repeats):
            proc = subprocess.run(
                [sys.executable, __file__, "--case", case, "--size", str(args.size)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        seconds = statistics.median(r["seconds"] for r in runs)
        cells = runs[0]["cells"]
        peak = statistics.median(r["peak_mb"] for r in runs)
        rate = cells / seconds / 1e6
        rows.append(f"| {case} | {cells:,.0f} | {seconds:.2f} | {rate:.2f} | {peak:,.0f} |")
    table = "\n".join(
        [
            "# Benchmark: distance layers (exact Euclidean distance to the nearest feature)",
            "",
            f"Median of {args.repeats} runs, each in a fresh process; "
            f"{platform.machine()}, Python {platform.python_version()}.",
            "",
            "| case | cells | seconds | million cells / s | peak RSS (MB) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Peak RSS includes the Python interpreter and imported libraries (about 150 MB).",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
