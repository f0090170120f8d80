# ruff: noqa: E501  (long lines are report text)
"""Benchmark: ``siting.constraints`` + ``siting.candidates.aggregate_blocks`` vs NREL reV.

Same inputs, same outputs, on reV's own Rhode Island test case (1434 x 972 cells of 90 m):

- the four exclusion masks of reV's ``tests/test_supply_curve_exclusions.py`` (urban_pv and
  rural_pv with reV's queen minimum-area filter of 0.018 and 1 km²; wind; weighted with a
  0.5 weight on PAD-US), checked against reV's reference arrays;
- reV's supply-curve aggregation to 64 x 64-cell points with its aggregation-test exclusions
  (slope <= 5, PAD-US != 1, nodata excluded) and data layers (mean slope, mode ReEDS
  region, mode PAD-US).

Run from the project's environment (where ``siting`` imports)::

    python benchmarks/bench_constraints.py [--repeats 5] [--out benchmarks/results/constraints.md]

reV runs in its own environment (``--rev-python`` or ``$SITING_REV_PYTHON``, default
``/tmp/rev-venv/bin/python``; see benchmarks/README.md) through ``_rev_worker.py``; without it
the table has siting's numbers alone.

A second case, siting alone, times a partial (exact area share) setback chunked against in
memory on a large grid: 150 m around the 1,171 southern New England transmission lines of
``nrel_revx/xmission/ri_allconns.gpkg`` on 8,000 x 8,000 cells of 30 m, each run in its own
process for its peak memory. ``--only setbacks`` runs it alone and replaces its section of
the results file; ``--only rev`` runs the reV comparison alone and keeps that section.

Reading is included on both sides: reV reads the layers from its exclusions .h5 inside
every ``ExclusionMaskFromDict.run`` / ``SupplyCurveAggregation.summarize``; siting reads them
from the GeoTIFFs with ``layers.read_raster`` in every run. The one-off GeoTIFF -> .h5
conversion that reV needs is reported separately. siting's timing with the stack already in
memory is shown as an extra column.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SITING_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
TIF_DIR = SHARED / "nrel_revx" / "ri_exclusions"
REF_DIR = SHARED / "nrel_rev" / "ri_exclusions"
BASELINE = SHARED / "nrel_rev" / "sc_out" / "baseline_agg_summary.csv"
XMISSION = SHARED / "nrel_revx" / "xmission" / "ri_allconns.gpkg"
SETBACK_M = 150.0
SETBACK_SECTION = "## Partial setbacks: chunked vs in memory"
DEFAULT_REV_PYTHON = "/tmp/rev-venv/bin/python"
MASKS = ["urban_pv", "rural_pv", "wind", "weighted"]
INF = math.inf


# --------------------------------------------------------------------------------------
# siting's side: the same rules, written in siting's explicit-nodata form.
#
# reV has no per-rule nodata meaning: a nodata cell is just its number (255, 3.4e38), so
#   - ri_smod exclude_values [1] keeps smod nodata (255 != 1)      -> nodata="include"
#   - ri_smod include_values [1] drops it                            -> nodata="exclude"
#   - ri_srtm_slope include_range (0, 5|20) drops 3.4e38             -> nodata="exclude"
#   - ri_padus exclude_values [1] with exclude_nodata=True drops 255 -> nodata="exclude"
# (see make_rev_exclusions_h5.py for why PAD-US nodata is excluded in wind/weighted).
# --------------------------------------------------------------------------------------
def siting_rules() -> dict[str, tuple[list[Any], float | None]]:
    from siting.constraints import Rule

    slope5 = Rule("ri_srtm_slope", include_range=(0, 5), nodata="exclude")
    slope20 = Rule("ri_srtm_slope", include_range=(0, 20), nodata="exclude")
    return {
        "urban_pv": ([Rule("ri_smod", exclude_values=[1], nodata="include"), slope5], 0.018),
        "rural_pv": ([Rule("ri_smod", include_values=[1], nodata="exclude"), slope5], 1.0),
        "wind": (
            [
                Rule("ri_smod", include_values=[1], nodata="exclude"),
                Rule("ri_padus", exclude_values=[1], nodata="exclude"),
                slope20,
            ],
            None,
        ),
        "weighted": (
            [
                Rule("ri_smod", include_values=[1], nodata="exclude"),
                Rule("ri_padus", exclude_values=[1], nodata="exclude", weight=0.5),
                slope20,
            ],
            None,
        ),
    }


def siting_agg_rules() -> list[Any]:
    from siting.constraints import Rule

    return [
        Rule("ri_srtm_slope", include_range=(-INF, 5), nodata="exclude"),
        Rule("ri_padus", exclude_values=[1], nodata="exclude"),
    ]


AGG_STATS = {"ri_srtm_slope": "mean", "ri_reeds_regions": "mode", "ri_padus": "mode"}


def _read_stack(names: list[str]) -> Any:
    """Read GeoTIFFs into a stack.

    ri_reeds_regions.tif says EPSG:32130 without the TOWGS84[0,...] clause that the other
    layers carry (same grid, same datum in practice), and siting's Grid equality compares the
    CRS strictly, so it is re-tagged with the CRS of the first layer (cheap; included in the
    timing). reV never compares CRSs here: it takes the layers as arrays on one grid.
    """
    from siting import layers
    from siting.grid import Grid

    arrays = {n: layers.read_raster(TIF_DIR / f"{n}.tif") for n in names}
    grid = Grid.from_xarray(arrays[names[0]])
    for n in names[1:]:
        arrays[n] = grid.georeference(arrays[n])
    return layers.build_stack(arrays)


def _read_h5(h5: Path, names: list[str]) -> Any:
    """The same layers from reV's own exclusions .h5 (the file reV reads in its timings)."""
    from siting.datasets import read_rev_exclusions_h5

    return read_rev_exclusions_h5(h5, names)


def _mask(stack: Any, rules: list[Any], min_area: float | None) -> np.ndarray:
    from siting.constraints import availability, min_contiguous_area

    avail = availability(stack, rules)
    if min_area is not None:
        avail = min_contiguous_area(avail, min_area_km2=min_area, connectivity="queen")
    return np.asarray(avail.values, dtype=np.float32)


def _aggregate(stack: Any) -> Any:
    from siting.candidates import aggregate_blocks
    from siting.constraints import availability

    avail = availability(stack, siting_agg_rules())
    return aggregate_blocks(avail, stack, block=64, stats=AGG_STATS)


def _layers_of(rules: list[Any]) -> list[str]:
    return list(dict.fromkeys(r.layer for r in rules))


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    result = fn()  # warm-up; its result is the one compared
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_siting(repeats: int, h5: Path | None = None) -> dict[str, Any]:
    steps: dict[str, dict[str, Any]] = {}
    outputs: dict[str, Any] = {}
    t0 = time.perf_counter()
    everything = _read_stack(["ri_smod", "ri_srtm_slope", "ri_padus", "ri_reeds_regions"])
    for name in everything.data_vars:
        everything[name].values  # noqa: B018 - make sure it is in memory
    read_all_s = time.perf_counter() - t0
    for name, (rules, min_area) in siting_rules().items():
        names = _layers_of(rules)
        full, mask = _timed(
            lambda r=rules, a=min_area, n=names: _mask(_read_stack(n), r, a), repeats
        )
        mem_stack = everything[names]
        compute, _ = _timed(lambda r=rules, a=min_area, s=mem_stack: _mask(s, r, a), repeats)
        steps[f"mask_{name}"] = {"median_s": full, "compute_only_s": compute}
        outputs[f"mask_{name}"] = mask
        if h5 is not None:
            from_h5, mask_h5 = _timed(
                lambda r=rules, a=min_area, n=names: _mask(_read_h5(h5, n), r, a), repeats
            )
            steps[f"mask_{name}"]["from_h5_s"] = from_h5
            outputs[f"mask_{name}_h5"] = mask_h5
    agg_layers = ["ri_srtm_slope", "ri_padus", "ri_reeds_regions"]
    full, table = _timed(lambda: _aggregate(_read_stack(agg_layers)), repeats)
    compute, _ = _timed(lambda: _aggregate(everything[agg_layers]), repeats)
    steps["aggregate"] = {"median_s": full, "compute_only_s": compute, "n_points": len(table)}
    outputs["aggregate"] = table
    if h5 is not None:
        from_h5, table_h5 = _timed(lambda: _aggregate(_read_h5(h5, agg_layers)), repeats)
        steps["aggregate"]["from_h5_s"] = from_h5
        outputs["aggregate_h5"] = table_h5
    return {"steps": steps, "outputs": outputs, "read_all_s": read_all_s}


# --------------------------------------------------------------------------------------
# reV's side
# --------------------------------------------------------------------------------------
def run_rev(python: str, repeats: int, workdir: Path) -> dict[str, Any] | str:
    """Run _rev_worker.py in the reV environment; a string says why it could not."""
    if not (shutil.which(python) or Path(python).exists()):
        return f"reV environment not found ({python}); see benchmarks/README.md"
    out = workdir / "rev_out.npz"
    cmd = [
        python,
        str(HERE / "_rev_worker.py"),
        "--repeats",
        str(repeats),
        "--out",
        str(out),
        "--workdir",
        str(workdir),
    ]
    env = dict(os.environ, SITING_SHARED_DATA=str(SHARED))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return f"reV worker failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(out) as data:
        info["arrays"] = {k: data[k] for k in data.files}
    return info


# --------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------
def compare_mask(name: str, siting_mask: np.ndarray, rev_mask: np.ndarray | None) -> str:
    ref = np.load(REF_DIR / f"{name}.npy").astype(np.float32)
    parts = ["= reV reference: " + _same(siting_mask, ref)]
    if rev_mask is not None:
        parts.insert(
            0,
            "= reV: " + _same(siting_mask, rev_mask),
        )
    return "; ".join(parts)


def _same(a: np.ndarray, b: np.ndarray) -> str:
    return "yes" if np.array_equal(a, b) else _diff(a, b)


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"NO (shape {a.shape} vs {b.shape})"
    return f"NO ({int((~np.isclose(a, b)).sum())} cells differ)"


def compare_aggregate(table: Any, arrays: dict[str, np.ndarray] | None) -> str:
    import pandas as pd

    ours = pd.DataFrame(
        {
            "area": table["area_km2"].to_numpy(),
            "slope": table["ri_srtm_slope_mean"].to_numpy(),
            "reeds": table["ri_reeds_regions_mode"].to_numpy(),
            "padus": table["ri_padus_mode"].to_numpy(),
            "lat": table["lat"].to_numpy(),
            "lon": table["lon"].to_numpy(),
        },
        index=table["sc_point_gid"].to_numpy().astype(int),
    )
    notes = []
    if arrays is not None:
        rev = pd.DataFrame(
            {
                "area": arrays["agg_area_sq_km"],
                "slope": arrays["agg_pct_slope"],
                "reeds": arrays["agg_reeds_region"],
                "padus": arrays["agg_padus"],
                "lat": arrays["agg_latitude"],
                "lon": arrays["agg_longitude"],
            },
            index=arrays["agg_sc_point_gid"].astype(int),
        )
        same_points = set(ours.index) == set(rev.index)
        j = ours.join(rev.add_suffix("_rev"), how="inner")
        checks = {
            "area": np.allclose(j.area, j.area_rev, rtol=1e-6),
            "mean slope": np.allclose(j.slope, j.slope_rev, rtol=1e-5),
            "mode reeds": bool((j.reeds == j.reeds_rev).all()),
            "mode padus": bool((j.padus == j.padus_rev).all()),
            "lat/lon": np.allclose(j[["lat", "lon"]], j[["lat_rev", "lon_rev"]], atol=1e-4),
        }
        bad = [k for k, ok in checks.items() if not ok]
        notes.append(
            f"= reV: {'yes' if same_points and not bad else 'NO'} "
            f"({len(ours)} vs {len(rev)} points"
            + (f"; differ: {', '.join(bad)}" if bad else "; area, mean, modes, lat/lon agree")
            + ")"
        )
    if BASELINE.exists():
        base = pd.read_csv(BASELINE)
        # the baseline's own techmap drops far cells and splits points by resource class:
        # compare the points it keeps whole (one row, same area as the exclusions alone)
        one = base.groupby("sc_point_gid").filter(lambda d: len(d) == 1).set_index("sc_point_gid")
        base_cols = one[["area_sq_km", "pct_slope", "reeds_region", "padus"]].add_prefix("base_")
        j = ours.join(base_cols, how="inner")
        whole = j[np.isclose(j.area, j.base_area_sq_km, rtol=1e-6)]
        ok = (
            np.allclose(whole.slope, whole.base_pct_slope, rtol=1e-5)
            and (whole.reeds == whole.base_reeds_region).all()
            and (whole.padus == whole.base_padus).all()
        )
        notes.append(
            f"= reV baseline_agg_summary.csv on the {len(whole)} of {len(j)} single-class points "
            f"its techmap covers whole: {'yes' if ok else 'NO'}"
        )
    return "; ".join(notes)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# partial setbacks, chunked vs in memory (siting alone)
# --------------------------------------------------------------------------------------
def _setback_inputs(cells: int) -> tuple[Any, Any]:
    import geopandas as gpd

    from siting.grid import Grid

    lines = gpd.read_file(XMISSION)  # EPSG:3653, metres
    # a square of 30 m cells centred on the network (Rhode Island and its neighbours)
    cx, cy, half = 140_000.0, 190_000.0, cells * 30.0 / 2
    grid = Grid.from_bounds((cx - half, cy - half, cx + half, cy + half), 30.0, crs=lines.crs)
    return lines, grid


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def setback_worker(mode: str, cells: int, chunks: int) -> dict[str, Any]:
    """One timed run in this process: ``memory``, ``chunked`` or ``check`` (both, compared)."""
    import resource

    from siting.constraints import setback_factor

    lines, grid = _setback_inputs(cells)

    def factor(g: Any, lazy: bool) -> Any:
        return setback_factor(
            lines, g, distance_m=SETBACK_M, partial=True, chunks=chunks if lazy else None
        )

    if mode == "check":
        whole = factor(grid, False).values
        tiled = factor(grid, True).values
        return {
            "equal": bool(np.array_equal(whole, tiled)),
            "max_abs_diff": float(np.abs(whole.astype("float64") - tiled).max()),
            "partial_cells": int(((whole > 0) & (whole < 1)).sum()),
            "excluded_cells": int((whole == 0).sum()),
        }
    lazy = mode == "chunked"
    small = grid.window(slice(0, 256), slice(0, 256))
    float(factor(small, lazy).sum())  # warm-up: imports and first calls out of the timing
    before = _rss_kib()
    t0 = time.perf_counter()
    # The area kept, as the next stage would use it: a reduction, so the chunked run never
    # holds the grid whole and the in-memory run holds it as it would anyway.
    kept = float(factor(grid, lazy).sum(dtype="float64"))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_extra_mb": (peak - before) / 1024, "kept_cells": kept}


def _run_worker(mode: str, cells: int, chunks: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--setback-worker", mode]
    cmd += ["--setback-cells", str(cells), "--setback-chunks", str(chunks)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_setbacks(repeats: int, cells: int, chunks: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"memory": [], "chunked": []}
    for i in range(repeats):
        for mode in ("memory", "chunked") if i % 2 == 0 else ("chunked", "memory"):
            print(f"setbacks: {mode} run {i + 1}/{repeats} ...", file=sys.stderr)
            runs[mode].append(_run_worker(mode, cells, chunks))
    print("setbacks: comparing the two results ...", file=sys.stderr)
    check = _run_worker("check", cells, chunks)
    medians = {
        mode: {
            "seconds": statistics.median(r["seconds"] for r in rs),
            "peak_extra_mb": statistics.median(r["peak_extra_mb"] for r in rs),
            "kept_cells": rs[0]["kept_cells"],
        }
        for mode, rs in runs.items()
    }
    return {
        "cells": cells,
        "chunks": chunks,
        "repeats": repeats,
        "runs": runs,
        "median": medians,
        "check": check,
    }


def render_setbacks(res: dict[str, Any]) -> str:
    mem, lazy = res["median"]["memory"], res["median"]["chunked"]
    n, ch, check = res["cells"], res["chunks"], res["check"]
    kept_rel = abs(mem["kept_cells"] - lazy["kept_cells"]) / max(mem["kept_cells"], 1.0)
    lines = [
        SETBACK_SECTION,
        "",
        f"`constraints.setback_factor(lines, grid, distance_m={SETBACK_M:g}, partial=True)` then "
        "the sum of the factor (the area kept, as a later stage would reduce it), around the "
        "1,171 transmission lines of `nrel_revx/xmission/ri_allconns.gpkg` (southern New England, "
        f"EPSG:3653) on {n:,} x {n:,} cells of 30 m ({n * n / 1e6:.0f} M cells). In memory: "
        f"`chunks=None`; chunked: `chunks={ch}`, dask's default threaded scheduler on "
        f"{os.cpu_count()} CPUs. Each run in a fresh process; median of {res['repeats']} runs "
        "(alternating), after a warm-up on 256 x 256 cells in the same process. Peak memory = "
        "peak resident set during the call minus the resident set just before it.",
        "",
        "| mode | median s | peak extra memory MB | area kept (cells) |",
        "|---|---|---|---|",
        f"| in memory | {mem['seconds']:.2f} | {mem['peak_extra_mb']:.0f} | {mem['kept_cells']:.1f} |",
        f"| chunked ({ch} x {ch}) | {lazy['seconds']:.2f} | {lazy['peak_extra_mb']:.0f} "
        f"| {lazy['kept_cells']:.1f} |",
        f"| ratio chunked / in memory | {lazy['seconds'] / mem['seconds']:.2f} "
        f"| {lazy['peak_extra_mb'] / mem['peak_extra_mb']:.2f} | rel. diff {kept_rel:.1e} |",
        "",
        f"Same output: the two factor grids are {'equal cell for cell' if check['equal'] else 'NOT equal'} "
        f"(max abs difference {check['max_abs_diff']:g}; {check['excluded_cells']:,} cells "
        f"excluded whole, {check['partial_cells']:,} partly); the sums may differ in the "
        "order of their float64 additions.",
        "",
        "Where the time goes: the buffered lines union into one part of about 200,000 "
        "vertices with 129 holes. Each chunk its shell crosses measures that shell whole (a "
        "shell clipped to the chunk would change exactextract's float32 fractions in the last "
        "bit), so the chunked run walks the shell once per such chunk; a chunk inside the shell "
        "measures a rectangle instead, and holes count only in the chunks they reach.",
        "",
        f"- runs (s): in memory {[round(r['seconds'], 2) for r in res['runs']['memory']]}, "
        f"chunked {[round(r['seconds'], 2) for r in res['runs']['chunked']]}",
        f"- siting env: Python {platform.python_version()}, "
        + ", ".join(f"{k} {val}" for k, val in _versions().items()),
    ]
    return "\n".join(lines) + "\n"


def _with_section(report: str, section: str | None) -> str:
    """``report`` (the reV part) followed by the setback section, if any."""
    head = report.split(SETBACK_SECTION)[0].rstrip("\n") + "\n"
    return head if section is None else head + "\n" + section


def _old_section(path: Path) -> str | None:
    if not path.exists() or SETBACK_SECTION not in path.read_text():
        return None
    return SETBACK_SECTION + path.read_text().split(SETBACK_SECTION, 1)[1]


def _versions() -> dict[str, str]:
    out = {}
    for mod in ("siting", "numpy", "xarray", "rasterio", "scipy", "pandas", "geopandas"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = "n/a"
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(
    siting_res: dict[str, Any], rev: dict[str, Any] | str, repeats: int, rounds: int = 1
) -> str:
    rev_ok = isinstance(rev, dict)
    rows = []
    labels = {f"mask_{m}": f"mask {m}" for m in MASKS}
    labels["aggregate"] = "aggregate to 64x64 SC points"
    for step, label in labels.items():
        s = siting_res["steps"][step]
        r = rev["steps"][step]["median_s"] if rev_ok and step in rev["steps"] else None
        ratio = f"{r / s['median_s']:.2f}" if r is not None else "–"
        h5_s = s.get("from_h5_s")
        h5_cells = ["–", "–"]
        if h5_s is not None:
            h5_cells = [f"{h5_s:.4f}", f"{r / h5_s:.2f}" if r is not None else "–"]
        outputs = siting_res["outputs"]
        if step == "aggregate":
            same = compare_aggregate(outputs["aggregate"], rev["arrays"] if rev_ok else None)
            if "aggregate_h5" in outputs:
                same_h5 = (
                    outputs["aggregate_h5"]
                    .drop(columns="geometry")
                    .equals(outputs["aggregate"].drop(columns="geometry"))
                )
                same += f"; from .h5 = from GeoTIFF: {'yes' if same_h5 else 'NO'}"
        else:
            rev_mask = rev["arrays"].get(step) if rev_ok else None
            same = compare_mask(step[5:], outputs[step], rev_mask)
            if f"{step}_h5" in outputs:
                same += f"; from .h5: {_same(outputs[f'{step}_h5'], outputs[step])}"
        rows.append(
            f"| {label} | {f'{r:.4f}' if r is not None else '–'} | {s['median_s']:.4f} | {ratio} "
            f"| {h5_cells[0]} | {h5_cells[1]} | {s['compute_only_s']:.4f} | {same} |"
        )
    v = _versions()
    lines = [
        "# Benchmark: exclusions and supply-curve aggregation, siting vs NREL reV",
        "",
        "Rhode Island test case of reV (1434 x 972 cells, 90 m, EPSG:32130). "
        f"Median of {repeats} runs after one warm-up, wall-clock seconds; the best median of "
        f"{rounds} alternating rounds (reV, siting, reV, ...) per step and side. "
        "Ratio = reV / siting (> 1: siting is faster).",
        "",
        "| step | reV median s (reads .h5) | siting median s (reads GeoTIFFs) | ratio reV/siting | siting median s (reads the same .h5 as reV) | ratio reV/siting, same input | siting, stack in memory s | same output |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "What is timed:",
        "",
        "- **reV** (`benchmarks/_rev_worker.py`): mask steps = `ExclusionMaskFromDict.run(h5, layers, "
        "min_area=...)` (opens the exclusions .h5, reads the layers, masks, minimum-area filter); "
        "aggregate = `SupplyCurveAggregation(h5, techmap, excl_dict, data_layers, resolution=64, "
        "power_density=36).summarize(gen, max_workers=1)` with a synthetic techmap (every cell to its "
        "nearest of the 100 NSRDB test points, so no cell is dropped) and a 100-site generation file "
        "(reV's own are not available). Reading from the .h5 is included; the GeoTIFF -> .h5 "
        "conversion is not"
        + (
            f" (it took {rev['build_h5_s']:.2f} s once, engine {rev['h5_engine']})."
            if rev_ok
            else "."
        ),
        "- **siting**: mask steps = `layers.read_raster` of the layers the mask needs + "
        "`layers.build_stack` + `constraints.availability` (+ `min_contiguous_area`, queen) + "
        "`.values`; aggregate = read 3 GeoTIFFs + stack + `availability` + "
        "`candidates.aggregate_blocks(block=64, stats=...)` (a GeoDataFrame with block polygons). "
        "Reading the GeoTIFFs is included; the last timing column is the same work on a stack "
        f"already in memory (reading all four GeoTIFFs took {siting_res['read_all_s']:.3f} s once). "
        "The *same input* columns time the same steps reading the layers from the very .h5 file "
        "reV reads (`siting.datasets.read_rev_exclusions_h5`), so both sides start from the "
        "same uncompressed bytes; the GeoTIFFs are LZW-compressed, and decoding them "
        "(in GDAL) is most of the difference between the two siting columns.",
        "- Not included on either side: Python start-up and imports, writing results.",
        "- reV's aggregation does more bookkeeping than siting's (generation gids, capacity, "
        "mean cf/lcoe, meta columns per point); siting does more geometry (a polygon and WGS84 "
        "centre per point). Both compute the per-point inclusion mask, area and data layers.",
        "",
        "Machine and software:",
        "",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}",
        f"- siting env: Python {platform.python_version()}, "
        + ", ".join(f"{k} {val}" for k, val in v.items()),
    ]
    if rev_ok:
        lines.append(
            f"- reV env: Python {rev['python']}, reV {rev['rev_version']}, rex {rev['rex_version']}, "
            f"h5py {rev['h5py_version']}, numpy {rev['numpy_version']}"
        )
    else:
        lines.append(f"- reV: not run — {rev}")
    lines.append(f"- repeats: {repeats} (+1 warm-up per step and side)")
    return "\n".join(lines) + "\n"


def _best_of(first: Any, second: Any) -> Any:
    """``first`` with each step's timings replaced by the smaller of the two rounds'."""
    if isinstance(second, str):
        return first
    steps = {}
    for step, timings in first["steps"].items():
        other = second["steps"].get(step, {})
        steps[step] = {
            key: min(value, other.get(key, value)) if key.endswith("_s") else value
            for key, value in timings.items()
        }
    return {**first, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "constraints.md")
    parser.add_argument(
        "--rev-python", default=os.environ.get("SITING_REV_PYTHON", DEFAULT_REV_PYTHON)
    )
    parser.add_argument("--no-rev", action="store_true", help="time siting alone")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds of both sides (best kept)"
    )
    parser.add_argument(
        "--only", choices=["rev", "setbacks"], help="run one case; keep the other's section"
    )
    parser.add_argument("--setback-repeats", type=int, default=3)
    parser.add_argument("--setback-cells", type=int, default=8000, help="grid edge in cells")
    parser.add_argument("--setback-chunks", type=int, default=1024)
    parser.add_argument(
        "--setback-worker", choices=["memory", "chunked", "check"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.setback_worker:
        print(
            json.dumps(
                setback_worker(args.setback_worker, args.setback_cells, args.setback_chunks)
            )
        )
        return 0
    if args.repeats < 1 or args.setback_repeats < 1:
        parser.error("--repeats and --setback-repeats must be >= 1")
    needed = XMISSION if args.only == "setbacks" else TIF_DIR
    if not needed.exists():
        print(f"data not found: {needed} (set SITING_SHARED_DATA)", file=sys.stderr)
        return 2

    section = _old_section(args.out)
    if args.only != "rev":
        setbacks = run_setbacks(args.setback_repeats, args.setback_cells, args.setback_chunks)
        section = render_setbacks(setbacks)
    if args.only == "setbacks":
        previous = args.out.read_text() if args.out.exists() else ""
        report = _with_section(previous, section)
        print(section)
        _write(args.out, report)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-constraints-") as tmp:
        # Rounds alternate the two sides (reV, siting, reV, siting, ...) and each step keeps
        # its best median over the rounds, on both sides alike: load from other processes
        # then slows both, not whichever side happened to run during it.
        rev: dict[str, Any] | str = "skipped (--no-rev)"
        siting_res: dict[str, Any] | None = None
        for round_ in range(args.rounds):
            if not args.no_rev:
                print(
                    f"round {round_ + 1}: timing reV with {args.rev_python} ...", file=sys.stderr
                )
                workdir = Path(tmp) / f"rev{round_}"
                again = run_rev(args.rev_python, args.repeats, workdir)
                if isinstance(again, str):
                    print(again, file=sys.stderr)
                rev = again if isinstance(rev, str) else _best_of(rev, again)
            print(f"round {round_ + 1}: timing siting ...", file=sys.stderr)
            h5 = Path(rev["h5"]) if isinstance(rev, dict) and "h5" in rev else None
            once = run_siting(args.repeats, h5=h5)
            siting_res = once if siting_res is None else _best_of(siting_res, once)
        assert siting_res is not None
        report = _with_section(render(siting_res, rev, args.repeats, rounds=args.rounds), section)
    print(report)
    _write(args.out, report)
    return 0


def _write(path: Path, report: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = path.with_suffix(path.suffix + ".tmp")
    tmp_out.write_text(report)
    tmp_out.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
