"""The full raster pipeline: cells per second against a numpy floor, and peak memory.

Usage: python benchmarks/bench_pipeline.py [--repeats N] [--sizes 1000 4000 16000]
                                           [--chunks CELLS] [--cache DIR] [--out FILE]

For each size S a synthetic but realistic S x S scenario of 90 m cells (EPSG:5070) is
written once to ``--cache`` (tiled, zstd-compressed GeoTIFFs: GHI, wind speed, slope and a
categorical land class with nodata; a GeoPackage of transmission lines and substations).
The scenario has four rules (slope range, excluded land classes, wind floor, a 150 m setback
from the lines, exempt from contiguity), a 1 km² queen minimum contiguous area, distance
to the nearest substation, a four-criterion weighted overlay and the top 20 sites 5 km
apart: every stage from reading the rasters to writing the ranked sites.

Cases, each run in a fresh process so its peak RSS is its own:

- ``pipeline``: ``siting.run(scenario, out_dir=..., chunks=CHUNKS)`` on the threaded
  scheduler (every core);
- ``numpy``: the floor: the same GeoTIFFs read with rasterio in bands of rows and one
  vectorised numpy expression over them (the rule masks and a weighted sum), one thread;
- ``cluster`` (with ``--cluster SIZE``): the pipeline on one thread (dask's synchronous
  scheduler) and on a ``distributed.LocalCluster`` of 1 and 2 single-threaded worker
  processes, for the speedup per worker, in total and over the tiled stages (constraints,
  features, candidates) alone: clusters started by the run, and warm ones (up already and
  used by one run, as a long-lived cluster serves runs).

Writes a markdown report (medians of the repeats) to ``--out`` and prints it, with the
time projected for the contiguous US at 90 m (1.6e9 cells) from the largest size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESOLUTION = 90.0
ORIGIN = (-1_499_940.0, 2_100_060.0)  # Great Basin, EPSG:5070, on the 90 m lattice
CONUS_CELLS = 1.6e9
CONUS_GOAL_S = 30 * 60
LOAD_BEFORE = " / ".join(f"{v:.1f}" for v in os.getloadavg())
#: The stages that work tile by tile on the workers; the others run in the calling process.
TILED_STAGES = ("constraints", "features", "candidates")
LAYERS = ("ghi_kwh_m2_day", "wind_speed_100m_m_s", "slope_pct", "land_class")

SCENARIO = """\
name = "bench {size} x {size}"

[region]
bounds = [{left}, {bottom}, {right}, {top}]
crs = "EPSG:5070"

[grid]
crs = "EPSG:5070"
resolution_m = 90

[layers.ghi_kwh_m2_day]
path = "ghi_kwh_m2_day.tif"
kind = "continuous"

[layers.wind_speed_100m_m_s]
path = "wind_speed_100m_m_s.tif"
kind = "continuous"

[layers.slope_pct]
path = "slope_pct.tif"
kind = "continuous"

[layers.land_class]
path = "land_class.tif"
kind = "categorical"

[vectors.transmission_lines]
path = "vectors.gpkg"
layer = "transmission_lines"

[vectors.substations]
path = "vectors.gpkg"
layer = "substations"

[[rules]]
layer = "slope_pct"
include_range = [0, 10]
nodata = "exclude"

[[rules]]
layer = "land_class"
exclude_values = [1, 2]
nodata = "ignore"

[[rules]]
layer = "wind_speed_100m_m_s"
include_range = [4, 100]
nodata = "exclude"

[[rules]]
vector = "transmission_lines"
setback_m = 150
exempt_from_contiguity = true

[contiguity]
min_area_km2 = 1.0
connectivity = "queen"

[features.distance_to_substation_km]
vector = "substations"

[scorer]
method = "weighted_overlay"

[scorer.criteria.ghi_kwh_m2_day]
weight = 3
better = "higher"
range = [5.0, 6.5]

[scorer.criteria.wind_speed_100m_m_s]
weight = 1
better = "higher"
range = [4.0, 9.0]

[scorer.criteria.slope_pct]
weight = 1
better = "lower"
range = [0, 10]

[scorer.criteria.distance_to_substation_km]
weight = 3
better = "lower"
range = [0, 30]

[ranking]
top_n = 20
min_spacing_km = 5
min_availability = 1.0

[outputs]
formats = ["csv", "gpkg"]
"""


# -- inputs ---------------------------------------------------------------------------------


def _fields(rows: slice, cols: slice, seed: int) -> dict[str, object]:
    """The four layers on a window: smooth fields in km plus a little noise."""
    import numpy as np

    y = (np.arange(rows.start, rows.stop, dtype="float64")[:, None]) * RESOLUTION / 1000
    x = (np.arange(cols.start, cols.stop, dtype="float64")[None, :]) * RESOLUTION / 1000
    rng = np.random.default_rng([seed, rows.start, cols.start])
    noise = rng.standard_normal((rows.stop - rows.start, cols.stop - cols.start))
    ghi = 5.0 + 1.3 * (0.5 + 0.5 * np.sin(x / 97.0) * np.cos(y / 131.0))
    ghi = ghi + 0.15 * np.sin(x / 7.3 + y / 11.1) + 0.02 * noise
    wind = 6.0 + 2.5 * np.sin(x / 53.0 + 1.0) * np.cos(y / 71.0) + 0.2 * noise
    slope = 14.0 * (0.5 + 0.5 * np.sin(x / 3.1) * np.sin(y / 4.7)) ** 3 + np.abs(noise)
    land = (np.floor(3.0 + 2.5 * np.sin(x / 23.0) * np.cos(y / 17.0 + 0.5)) % 6).astype("uint8")
    land[(np.sin(x / 41.0) * np.sin(y / 37.0)) > 0.97] = 255  # nodata patches
    slope = np.where(noise > 3.3, np.nan, slope)  # scattered nodata
    return {
        "ghi_kwh_m2_day": ghi.astype("float32"),
        "wind_speed_100m_m_s": wind.astype("float32"),
        "slope_pct": slope.astype("float32"),
        "land_class": land,
    }


def make_inputs(size: int, cache: Path) -> Path:
    """Write the inputs of the S x S scenario once; return the scenario file."""
    import geopandas as gpd
    import numpy as np
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.windows import Window

    folder = cache / f"s{size}"
    scenario = folder / "scenario.toml"
    if scenario.exists():
        return scenario
    folder.mkdir(parents=True, exist_ok=True)
    left, top = ORIGIN
    transform = Affine(RESOLUTION, 0, left, 0, -RESOLUTION, top)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "crs": "EPSG:5070",
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "zstd",
    }
    outs = {
        name: rasterio.open(
            folder / f"{name}.tif.part",
            "w",
            **profile,
            dtype="uint8" if name == "land_class" else "float32",
            nodata=255 if name == "land_class" else float("nan"),
        )
        for name in LAYERS
    }
    band = 1024
    try:
        for r in range(0, size, band):
            rows = slice(r, min(r + band, size))
            for c in range(0, size, band):
                cols = slice(c, min(c + band, size))
                window = Window(c, r, cols.stop - c, rows.stop - r)
                for name, values in _fields(rows, cols, seed=size).items():
                    outs[name].write(values, 1, window=window)
    finally:
        for dst in outs.values():
            dst.close()
    for name in LAYERS:
        (folder / f"{name}.tif.part").rename(folder / f"{name}.tif")

    rng = np.random.default_rng(size)
    extent = size * RESOLUTION
    scale = (size / 10_000) ** 2
    n_lines, n_subs = max(20, int(3_000 * scale)), max(10, int(600 * scale))
    starts = rng.uniform(0, extent, (n_lines, 2))
    mids = starts + rng.normal(0, 8_000, starts.shape)
    ends = mids + rng.normal(0, 8_000, starts.shape)
    xy = np.stack([starts, mids, ends], 1) + np.array([left, top - extent])
    lines = gpd.GeoDataFrame(
        {"voltage_kv": rng.choice([69.0, 115.0, 230.0, 345.0], n_lines)},
        geometry=shapely.linestrings(xy),
        crs="EPSG:5070",
    )
    subs = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(*(rng.uniform(0, extent, (2, n_subs)))),
        crs="EPSG:5070",
    ).translate(left, top - extent)
    vectors = folder / "vectors.gpkg"
    lines.to_file(vectors, layer="transmission_lines", engine="pyogrio")
    gpd.GeoDataFrame(geometry=subs, crs="EPSG:5070").to_file(
        vectors, layer="substations", engine="pyogrio"
    )
    text = SCENARIO.format(size=size, left=left, bottom=top - extent, right=left + extent, top=top)
    scenario.with_suffix(".part").write_text(text)
    scenario.with_suffix(".part").rename(scenario)
    return scenario


# -- cases (in a child process) ----------------------------------------------------------------


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _numpy_floor(folder: Path) -> dict[str, float]:
    """Read the four GeoTIFFs in bands of rows; one vectorised expression over them."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    srcs = [rasterio.open(folder / f"{name}.tif") for name in LAYERS]
    cpu = _cpu_s()
    height, width = srcs[0].shape
    total, kept = 0.0, 0
    band = 1024
    start = time.perf_counter()
    for r in range(0, height, band):
        window = Window(0, r, width, min(band, height - r))
        ghi, wind, slope, land = (src.read(1, window=window) for src in srcs)
        ok = (slope <= 10) & (land != 1) & (land != 2) & (wind >= 4)
        score = np.where(
            ok,
            3 * np.clip((ghi - 5.0) / 1.5, 0, 1)
            + np.clip((wind - 4.0) / 5.0, 0, 1)
            + np.clip(1 - slope / 10, 0, 1),
            0,
        )
        total += float(score.sum(dtype="float64"))
        kept += int(ok.sum())
    seconds = time.perf_counter() - start
    for src in srcs:
        src.close()
    assert kept > 0
    assert math.isfinite(total)
    return {
        "seconds": seconds,
        "cpu_s": _cpu_s() - cpu,
        "cells": float(height * width),
        "peak_mb": _peak_mb(),
    }


def _pipeline(
    scenario_file: Path, chunks: int, workers: int | None, scheduler: str | None = None
) -> dict[str, float]:
    import siting
    from siting.scenario import Scenario

    scenario = Scenario.from_toml(scenario_file)
    if scheduler == "warm":
        return _on_warm_cluster(scenario, chunks, workers or 1)
    with tempfile.TemporaryDirectory() as tmp:
        cpu = _cpu_s()
        start = time.perf_counter()
        if workers is None:
            result = siting.run(
                scenario, out_dir=Path(tmp) / "run", chunks=chunks, scheduler=scheduler
            )
        else:
            result = siting.run(
                scenario,
                out_dir=Path(tmp) / "run",
                chunks=chunks,
                scheduler="distributed",
                workers=workers,
            )
        seconds = time.perf_counter() - start
        cpu = _cpu_s() - cpu
    assert len(result.sites) == scenario.ranking.top_n
    return _measured(result, seconds, cpu)


def _measured(result: Any, seconds: float, cpu: float) -> dict[str, float]:
    """A timed run's record: wall and CPU seconds, cells, peak RSS and each stage's time."""
    out = {
        "seconds": seconds,
        "cpu_s": cpu,
        "cells": float(result.grid.size),
        "peak_mb": _peak_mb(),
    }
    out.update({f"stage_{k}": v for k, v in result.timings_s.items()})
    return out


def _on_warm_cluster(scenario: object, chunks: int, workers: int) -> dict[str, float]:
    """A run on a cluster already up and used once, as a long-lived cluster serves runs.

    The cluster (a ``LocalCluster`` of single-threaded workers) starts first and serves one
    untimed run, so the workers have imported the libraries; the timed run follows on it.
    CPU seconds add the workers' own (still running, so not yet in ``RUSAGE_CHILDREN``).
    """
    import psutil
    from distributed import Client, LocalCluster, get_task_stream

    import siting
    from siting.schedulers import malloc_tuning_plugin

    def cpu_now() -> float:
        procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in procs if p.is_running())

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(malloc_tuning_plugin())
        with tempfile.TemporaryDirectory() as tmp:
            siting.run(scenario, out_dir=Path(tmp) / "warm", chunks=chunks, scheduler=client)
            cpu = cpu_now()
            start, epoch = time.perf_counter(), time.time()
            with get_task_stream(client) as stream:
                result = siting.run(
                    scenario, out_dir=Path(tmp) / "run", chunks=chunks, scheduler=client
                )
            seconds = time.perf_counter() - start
            cpu = cpu_now() - cpu
    return {**_measured(result, seconds, cpu), **_task_time(stream.data, epoch, seconds)}


def _task_time(tasks: list[dict[str, Any]], epoch: float, seconds: float) -> dict[str, float]:
    """How the workers spent a run: seconds computing tasks (all workers, and the least and
    most busy worker) and seconds of the run with no task computing anywhere."""
    spans = sorted(
        (part["start"] - epoch, part["stop"] - epoch, task["worker"])
        for task in tasks
        for part in task["startstops"]
        if part["action"] == "compute"
    )
    per_worker: dict[str, float] = {}
    covered, reach = 0.0, 0.0
    for begin, end, worker in spans:
        per_worker[worker] = per_worker.get(worker, 0.0) + end - begin
        covered += max(0.0, end - max(begin, reach))
        reach = max(reach, end)
    busy = list(per_worker.values()) or [0.0]
    return {
        "work_s": sum(busy),
        "least_busy_s": min(busy),
        "most_busy_s": max(busy),
        "no_task_s": max(0.0, seconds - covered),
    }


def _child(spec: dict[str, object]) -> None:
    scenario = Path(str(spec["scenario"]))
    if spec["case"] == "numpy":
        out = _numpy_floor(scenario.parent)
    else:
        workers = spec.get("workers")
        out = _pipeline(
            scenario,
            int(spec["chunks"]),
            None if workers is None else int(workers),
            spec.get("scheduler"),  # type: ignore[arg-type]
        )
    print("RESULT " + json.dumps(out))


def _run_case(spec: dict[str, object]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"case {spec} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1][len("RESULT ") :])


# -- report ---------------------------------------------------------------------------------


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[1_000, 4_000, 16_000], help="None: cluster only."
    )
    parser.add_argument(
        "--large-repeats", type=int, default=1, help="Repeats for sizes above 8,000."
    )
    parser.add_argument("--chunks", type=int, default=1024)
    parser.add_argument(
        "--cluster", type=int, default=8_000, help="Size of the 1 vs 2 workers case (0: skip)."
    )
    parser.add_argument(
        "--cluster-chunks",
        type=int,
        default=None,
        help="Tile edge of the workers case "
        "(default: siting.schedulers.DEFAULT_CHUNKS, what --scheduler uses without --chunks).",
    )
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "siting-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pipeline.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return

    rows = []
    stage_rows = []
    for size in args.sizes:
        t0 = time.perf_counter()
        scenario = make_inputs(size, args.cache)
        print(f"inputs {size}^2 ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        repeats = args.repeats if size <= 8_000 else args.large_repeats
        runs: dict[str, list[dict[str, float]]] = {"numpy": [], "pipeline": []}
        for i in range(repeats):  # alternate, so outside load slows both alike
            for case in runs:
                spec = {"case": case, "scenario": str(scenario), "chunks": args.chunks}
                runs[case].append(_run_case(spec))
                seconds = runs[case][-1]["seconds"]
                print(f"  {size}^2 {case} #{i + 1}: {seconds:.1f} s", file=sys.stderr)
        floor, pipe = runs["numpy"], runs["pipeline"]
        rows.append(
            {
                "size": size,
                "cells": size * size,
                "repeats": repeats,
                "pipe_s": _median(pipe, "seconds"),
                "pipe_cpu": _median(pipe, "cpu_s"),
                "pipe_mb": _median(pipe, "peak_mb"),
                "floor_s": _median(floor, "seconds"),
                "floor_mb": _median(floor, "peak_mb"),
            }
        )
        stages = sorted(k for k in pipe[0] if k.startswith("stage_") and k != "stage_total")
        stage_rows.append((size, {k[6:]: _median(pipe, k) for k in stages}))

    cluster: list[tuple[str, dict[str, float]]] = []
    if args.cluster:
        from siting.schedulers import DEFAULT_CHUNKS

        cluster_chunks = args.cluster_chunks or DEFAULT_CHUNKS
        args.cluster_chunks = cluster_chunks
        scenario = make_inputs(args.cluster, args.cache)
        for label, extra in (
            ("1 thread (synchronous)", {"scheduler": "synchronous"}),
            ("1 worker", {"workers": 1}),
            ("2 workers", {"workers": 2}),
            ("1 worker, warm cluster", {"workers": 1, "scheduler": "warm"}),
            ("2 workers, warm cluster", {"workers": 2, "scheduler": "warm"}),
        ):
            spec = {
                "case": "cluster",
                "scenario": str(scenario),
                "chunks": cluster_chunks,
                **extra,
            }
            runs_w = [_run_case(spec) for _ in range(args.repeats)]
            tiled = [sum(r.get(f"stage_{k}", 0.0) for k in TILED_STAGES) for r in runs_w]
            measured = {
                "seconds": _median(runs_w, "seconds"),
                "tiled": statistics.median(tiled),
                "cpu_s": _median(runs_w, "cpu_s"),
            }
            for key in ("work_s", "least_busy_s", "most_busy_s", "no_task_s"):
                if key in runs_w[0]:
                    measured[key] = _median(runs_w, key)
            cluster.append((label, measured))
            print(f"  cluster, {label}: {cluster[-1][1]['seconds']:.1f} s", file=sys.stderr)

    report = _report(args, rows, stage_rows, cluster)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


def _report(
    args: argparse.Namespace,
    rows: list[dict[str, float]],
    stage_rows: list[tuple[int, dict[str, float]]],
    cluster: list[tuple[str, dict[str, float]]],
) -> str:
    lines = [
        "# Benchmark: the full raster pipeline (read → rules → contiguity → distance → "
        "overlay → top 20)",
        "",
        f"`{shlex.join(['python', 'benchmarks/bench_pipeline.py', *sys.argv[1:]])}`; "
        "medians of the repeats, "
        "each case in a fresh process; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"Load average before the run: {LOAD_BEFORE}. Peak RSS includes the interpreter and "
        "libraries (about 200 MB) and, for the floor, GDAL's block cache of the open files "
        "(up to 5 % of RAM). The pipeline uses dask's threaded scheduler (CPU s over wall "
        "seconds shows how much of the 2 cores it got); the floor is one thread.",
    ]
    if rows:
        lines += [
            "",
            "| cells | repeats | pipeline s | CPU s | pipeline Mcells/s | pipeline peak RSS MB "
            "| numpy floor s | floor Mcells/s | floor peak RSS MB | pipeline / floor time |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['size']:,}² = {r['cells']:,} | {r['repeats']} | {r['pipe_s']:.1f} "
                f"| {r['pipe_cpu']:.0f} "
                f"| {r['cells'] / r['pipe_s'] / 1e6:.2f} | {r['pipe_mb']:.0f} "
                f"| {r['floor_s']:.1f} | {r['cells'] / r['floor_s'] / 1e6:.1f} "
                f"| {r['floor_mb']:.0f} "
                f"| {r['pipe_s'] / r['floor_s']:.1f} |"
            )
        largest = rows[-1]
        rate = largest["cells"] / largest["pipe_s"]
        projected = CONUS_CELLS / rate
        verdict = "met" if projected <= CONUS_GOAL_S else "not met"
        lines += [
            "",
            f"**Contiguous US at 90 m** (about {CONUS_CELLS:.1e} cells), projected linearly from "
            f"the {largest['size']:,}² run ({rate / 1e6:.2f} M cells/s): "
            f"**{projected / 60:.0f} min** on this machine; the goal of 30 min is **{verdict}**.",
            "",
            "Time per stage (s, median):",
            "",
        ]
        names = list(stage_rows[0][1])
        lines.append("| cells | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for size, stages in stage_rows:
            lines.append(
                f"| {size:,}² | " + " | ".join(f"{stages.get(n, 0):.1f}" for n in names) + " |"
            )
    if cluster:
        bases = dict(cluster)
        lines += [
            "",
            f"**Workers.** The {args.cluster:,}² case in tiles of {args.cluster_chunks:,}² cells "
            "on one thread of the calling process "
            "(dask's synchronous scheduler) and on a `distributed.LocalCluster` of "
            "single-threaded worker processes, either started by the run (`--workers N`: "
            "the time includes starting the cluster and the workers importing the libraries) "
            "or, *warm*, a cluster already up that has served one run, as a long-lived "
            "cluster serves runs (`--address`, or `scheduler=client`). The speedups compare "
            "like with like (each against 1 worker of its kind); the tiled "
            f"stages are {', '.join(TILED_STAGES)}. Medians of {args.repeats}. Both cores "
            "also serve the client and the scheduler, so 2 workers here is the most this "
            "machine can show.",
            "",
            "| scheduler | seconds | tiled stages s | CPU s (client and workers) "
            "| speedup over 1 worker | tiled speedup | task compute s (least / most busy "
            "worker) | s with no task computing |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label, t in cluster:
            base = bases["1 worker, warm cluster" if "warm" in label else "1 worker"]
            stream = "| – | –"
            if "work_s" in t:
                stream = (
                    f"| {t['work_s']:.1f} ({t['least_busy_s']:.1f} / {t['most_busy_s']:.1f}) "
                    f"| {t['no_task_s']:.1f}"
                )
            lines.append(
                f"| {label} | {t['seconds']:.1f} | {t['tiled']:.1f} | {t['cpu_s']:.0f} "
                f"| {base['seconds'] / t['seconds']:.2f} | {base['tiled'] / t['tiled']:.2f} "
                f"{stream} |"
            )
        one = bases.get("1 worker, warm cluster", {})
        if "work_s" in one:
            serial, work = one["no_task_s"], one["work_s"]
            projected = ", ".join(f"{n} workers {serial + work / n:.1f} s" for n in (4, 8))
            lines += [
                "",
                "Task times come from the warm runs' task streams. **Projection** for a cluster "
                "with a core per worker, client and scheduler: the warm 1-worker run's "
                f"{work:.1f} s of task compute divided among N workers, plus its {serial:.1f} s "
                "with no task computing (the client's steps between passes and the "
                "scheduler's round trips, kept whole though some overlap on more workers): "
                f"{projected}. It assumes the tiles spread evenly, as they do over 2 workers "
                "above (least and most busy worker), and needs several tiles per worker; "
                "not measured here.",
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
