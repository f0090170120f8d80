"""ML scorer: fit time, prediction throughput and peak memory of ``SiteScorer``.

Usage: python benchmarks/bench_scorer.py [--repeats N] [--quick] [--out FILE]

Cases (each run in a fresh process, so its peak RSS is its own):

- ``fit``: ``SiteScorer(monotonic=..., n_jobs=1 or 2)`` with default parameters otherwise
  (the report lists them) on a synthetic presence/background table of 8 numeric features
  with about 7 % presences, for 10^5, 3 x 10^5 and 10^6 rows. The time spent in the
  calibration cross-fit and in the TreeSHAP pass that ``fit`` makes over (a sample of) the
  training rows for ``feature_importances_`` is reported separately, by timing those two
  private methods from the outside.
- ``predict_proba``: 10^7 cells read from a memory-mapped float64 file (10^7 x 8 x 8 bytes
  = 640 MB), which the scorer slices into ``batch_size`` rows (10^5 and 10^6) — the API
  takes arrays and DataFrames, not generators, so a memory map is how rows reach it chunk
  by chunk without the whole input in process memory.
- ``contributions``: the first 10^6 rows of the same file (default ``batch_size``).
- references in the same process and on the same bytes: a plain numpy pass
  (``X.sum()``) as a memory-bandwidth floor, and LightGBM's own ``Booster.predict`` (raw
  score, one call) for the scorer's overhead.

Peak memory, per case: ``ru_maxrss`` of the child process (everything: interpreter,
libraries, data, and for the prediction cases the pages of the memory-mapped input that
were read, up to 640 MB, which count as resident), and the peak of the child's anonymous
resident memory (``RssAnon`` in ``/proc/self/status``, sampled every 2 ms by a thread)
above its value just before the timed call: what the call itself allocated, without the
mapped input. tracemalloc is not used: it does not see LightGBM's C++ allocations.

A case whose first run takes longer than ``--repeat-limit`` seconds is run once; the
``runs`` column says how many runs each median is over. ``--quick`` runs small sizes
(10^4 and 3 x 10^4 training rows, 10^6 cells, 10^4 rows of contributions), one run each.

Writes a markdown table to ``--out`` (default ``benchmarks/results/scorer.md``, or
``scorer-quick.md`` with ``--quick``) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

FEATURES = [
    "ghi_kwh_m2_day",
    "wind_speed_100m",
    "heat_flow_mw_m2",
    "slope_deg",
    "substation_distance_km",
    "line_distance_km",
    "latency_ms",
    "land_manager_code",
]
# Positions, because the cases fit and predict on plain arrays (see _table).
MONOTONIC = {0: +1, 3: -1, 4: -1, 6: -1}
PREVALENCE = 0.07
N_FEATURES = len(FEATURES)


# -- synthetic data --------------------------------------------------------------------


def _features(n: int, rng: Any) -> Any:
    import numpy as np

    X = np.empty((n, N_FEATURES))
    X[:, 0] = rng.uniform(3.5, 7.0, n)  # GHI, kWh/m²/day
    X[:, 1] = 7.0 * rng.weibull(2.0, n)  # wind speed at 100 m, m/s
    X[:, 2] = rng.lognormal(np.log(65.0), 0.3, n)  # heat flow, mW/m²
    X[:, 3] = 30.0 * rng.beta(1.2, 6.0, n)  # slope, degrees
    X[:, 4] = rng.exponential(15.0, n)  # distance to a substation, km
    X[:, 5] = np.minimum(X[:, 4], rng.exponential(6.0, n))  # distance to a line, km
    X[:, 6] = 5.0 + rng.gamma(2.0, 6.0, n)  # latency to population, ms
    X[:, 7] = rng.choice(6, n, p=[0.45, 0.2, 0.15, 0.1, 0.05, 0.05])  # land manager
    return X


def _logit(X: Any) -> Any:
    import numpy as np

    return (
        1.2 * (X[:, 0] - 5.25)
        + 0.15 * (X[:, 1] - 6.2)
        - 0.12 * X[:, 3]
        - 0.08 * X[:, 4]
        - 0.05 * X[:, 6]
        + np.where(X[:, 7] == 0, 0.5, 0.0)
        + 0.3 * np.sin(X[:, 2] / 10.0)
    )


def _intercept() -> float:
    """Intercept that makes the share of presences PREVALENCE (on a fixed sample)."""
    import numpy as np
    from scipy.optimize import brentq
    from scipy.special import expit

    z = _logit(_features(200_000, np.random.default_rng(12345)))
    return float(brentq(lambda b: expit(z + b).mean() - PREVALENCE, -20.0, 20.0))


def _table(n: int, seed: int) -> tuple[Any, Any]:
    """``n`` rows of features and 0/1 labels (1 = presence, about 7 %)."""
    import numpy as np
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    y = (rng.random(n) < expit(_logit(X) + _intercept())).astype("int64")
    return X, y


def _write_cells(path: Path, rows: int, chunk: int = 1_000_000) -> None:
    """Write ``rows`` x 8 float64 feature rows to ``path`` as a raw (memory-mappable) file."""
    import numpy as np

    rng = np.random.default_rng(2024)
    with path.open("wb") as fh:
        for start in range(0, rows, chunk):
            fh.write(_features(min(chunk, rows - start), rng).tobytes())


# -- measuring in the child ------------------------------------------------------------


class _AnonPeak(threading.Thread):
    """Samples ``RssAnon`` from /proc/self/status; ``peak_mb`` is the largest value seen."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_mb = self.read_mb()
        self._stop_event = threading.Event()

    @staticmethod
    def read_mb(field: str = "RssAnon") -> float:
        """A memory field of /proc/self/status in MiB (NaN where there is no /proc)."""
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_mb = max(self.peak_mb, self.read_mb())
            time.sleep(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return max(self.peak_mb, self.read_mb())


def _maxrss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed_call(fn: Any) -> tuple[Any, dict[str, float]]:
    """Run ``fn()``; return its result and its wall seconds, CPU seconds (all threads of
    the process) and peak anonymous RSS above the start (MiB)."""
    import gc

    gc.collect()
    start_mb = _AnonPeak.read_mb()
    sampler = _AnonPeak()
    sampler.start()
    cpu, start = _cpu_seconds(), time.perf_counter()
    result = fn()
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    peak_mb = sampler.stop()
    return result, {"seconds": seconds, "cpu_s": cpu, "anon_mb": peak_mb - start_mb}


def _fit_case(spec: dict[str, Any]) -> dict[str, Any]:
    import pickle

    from siting.scoring.model import SiteScorer

    X, y = _table(spec["rows"], seed=spec["rows"])
    spent = {"_out_of_fold_raw": 0.0, "_booster_contributions": 0.0}

    def timing(name: str) -> Any:
        original = getattr(SiteScorer, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    for name in spent:  # timed from the outside only; the methods run unchanged
        setattr(SiteScorer, name, timing(name))
    model = SiteScorer(monotonic=MONOTONIC, n_jobs=spec["n_jobs"])
    rss_before = _AnonPeak.read_mb("VmRSS")
    _, timed = _timed_call(lambda: model.fit(X, y))
    if spec.get("save"):
        with open(spec["save"], "wb") as fh:
            pickle.dump(model, fh)
    return {
        **timed,
        "calibration_s": spent["_out_of_fold_raw"],
        "treeshap_s": spent["_booster_contributions"],
        "presences": int(y.sum()),
        "rss_before_mb": rss_before,
        "maxrss_mb": _maxrss_mb(),
    }


def _predict_case(spec: dict[str, Any]) -> dict[str, Any]:
    import pickle

    import numpy as np

    with open(spec["model"], "rb") as fh:
        model = pickle.load(fh)
    if spec.get("batch_size"):
        model.set_params(batch_size=spec["batch_size"])
    cells = np.memmap(spec["cells"], dtype="float64", mode="r").reshape(-1, N_FEATURES)
    X = cells[: spec["rows"]]

    floor = []
    for _ in range(3):  # the first pass also maps the file's pages into the process
        start = time.perf_counter()
        float(X.sum())
        floor.append(time.perf_counter() - start)

    method = spec["method"]
    if method == "predict_proba":
        call = lambda: model.predict_proba(X)  # noqa: E731
    elif method == "contributions":
        call = lambda: model.contributions(X)  # noqa: E731
    else:  # LightGBM alone, one call, raw score
        booster = model.estimator_.booster_
        call = lambda: booster.predict(X, raw_score=True, num_threads=1)  # noqa: E731
    out, timed = _timed_call(call)
    out_mb = (out.to_numpy() if hasattr(out, "to_numpy") else out).nbytes / 1024**2
    return {
        **timed,
        "floor_s": statistics.median(floor),
        "maxrss_mb": _maxrss_mb(),
        "out_mb": out_mb,
    }


# -- driver ----------------------------------------------------------------------------


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(spec)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"case {spec} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _repeat(spec: dict[str, Any], repeats: int, limit: float, first: Any = None) -> list[Any]:
    runs = [first if first is not None else _run(spec)]
    if runs[0]["seconds"] <= limit:
        runs += [_run({**spec, "save": None}) for _ in range(repeats - 1)]
    print(f"  {spec} -> {[round(r['seconds'], 2) for r in runs]} s", file=sys.stderr)
    return runs


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _cpu_share(runs: list[dict[str, Any]]) -> float:
    """CPU seconds per wall second of the timed call (median over the runs)."""
    return statistics.median(r["cpu_s"] / r["seconds"] for r in runs)


def _defaults() -> str:
    from siting.scoring.model import SiteScorer

    p = SiteScorer().get_params()
    depth = "no depth limit" if p["max_depth"] == -1 else f"depth <= {p['max_depth']}"
    return (
        f"{p['n_estimators']} trees of at most {p['num_leaves']} leaves, {depth}, "
        f"learning_rate {p['learning_rate']}, {p['calibration']} calibration cross-fitted "
        f"on {p['calibration_cv']} folds, batch_size {p['batch_size']:,}"
    )


def _importance_rows() -> str:
    from siting.scoring import model

    limit = getattr(model, "IMPORTANCE_ROWS", None)
    return "over all training rows" if limit is None else f"over at most {limit:,} rows"


def _machine() -> str:
    import lightgbm
    import numpy
    import pandas
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs ({usable} usable), {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}, lightgbm "
        f"{lightgbm.__version__}, scikit-learn {sklearn.__version__}, numpy "
        f"{numpy.__version__}, pandas {pandas.__version__}"
    )


def _revision() -> str:
    """The commit being measured, and whether the scorer's module differs from it."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "siting/scoring/model.py"],
            check=False,
        ).returncode  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "siting at an unknown commit"
    return f"siting at commit {rev}" + (" (siting/scoring/model.py modified)" if dirty else "")


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument(
        "--repeat-limit",
        type=float,
        default=90.0,
        help="a case whose first run takes longer than this (s) is run once",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        spec = json.loads(args.case)
        result = _fit_case(spec) if spec["kind"] == "fit" else _predict_case(spec)
        print(json.dumps(result))
        return

    if args.quick:
        fit_rows, cells, contrib_rows, batches = [10_000, 30_000], 1_000_000, 10_000, [10**5]
        args.repeats = 1
    else:
        fit_rows = [100_000, 300_000, 1_000_000]
        cells, contrib_rows, batches = 10_000_000, 1_000_000, [100_000, 1_000_000]
    out = args.out or ROOT / "benchmarks" / "results" / (
        "scorer-quick.md" if args.quick else "scorer.md"
    )
    began, load_start, revision = time.perf_counter(), _load(), _revision()

    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp:
        model_path, cells_path = Path(tmp) / "model.pkl", Path(tmp) / "cells.f64"
        _write_cells(cells_path, cells)

        fit_rows_md = []
        for n in fit_rows:
            for n_jobs in (1, 2):
                spec = {"kind": "fit", "rows": n, "n_jobs": n_jobs, "save": None}
                if n == fit_rows[0] and n_jobs == 1:  # this model is the one that predicts
                    spec["save"] = str(model_path)
                runs = _repeat(spec, args.repeats, args.repeat_limit)
                sec = _median(runs, "seconds")
                fit_rows_md.append(
                    f"| {n:,} | {runs[0]['presences']:,} | {n_jobs} | {len(runs)} | {sec:.1f} "
                    f"| {_median(runs, 'calibration_s'):.1f} "
                    f"| {_median(runs, 'treeshap_s'):.1f} | {_cpu_share(runs):.2f} "
                    f"| {n / sec:,.0f} "
                    f"| {_median(runs, 'rss_before_mb'):,.0f} "
                    f"| {_median(runs, 'maxrss_mb'):,.0f} | {_median(runs, 'anon_mb'):,.0f} |"
                )

        predict_specs = [
            {"method": "predict_proba", "rows": cells, "batch_size": b} for b in batches
        ]
        predict_specs += [
            {"method": "contributions", "rows": contrib_rows, "batch_size": None},
            {"method": "lightgbm", "rows": min(cells, 1_000_000), "batch_size": None},
        ]
        predict_rows_md = []
        for spec in predict_specs:
            spec = {**spec, "kind": "predict", "model": str(model_path), "cells": str(cells_path)}
            runs = _repeat(spec, args.repeats, args.repeat_limit)
            sec, floor = _median(runs, "seconds"), _median(runs, "floor_s")
            n = spec["rows"]
            name = {
                "predict_proba": "`predict_proba`",
                "contributions": "`contributions`",
                "lightgbm": "reference: LightGBM `Booster.predict(raw_score=True)`, one call",
            }[spec["method"]]
            batch = f"{spec['batch_size']:,}" if spec["batch_size"] else "100,000 (default)"
            if spec["method"] == "lightgbm":
                batch = "none"
            predict_rows_md.append(
                f"| {name} | {n:,} | {batch} | {len(runs)} | {sec:.2f} "
                f"| {_cpu_share(runs):.2f} | {n / sec:,.0f} "
                f"| {floor * 1e3:,.1f} | {sec / floor:,.0f} | {_median(runs, 'maxrss_mb'):,.0f} "
                f"| {_median(runs, 'anon_mb'):,.0f} | {runs[0]['out_mb']:,.0f} |"
            )

    minutes = (time.perf_counter() - began) / 60
    input_bytes = cells * N_FEATURES * 8
    input_size = f"{input_bytes / 1e6:,.0f} MB = {input_bytes / 1024**2:,.0f} MiB"
    table = "\n".join(
        [
            "# Benchmark: ML scorer (`SiteScorer`): fit, prediction throughput, peak memory",
            "",
            f"{_machine()}; {revision}"
            + ("." if _revision() == revision else f", then {_revision()} during the run."),
            "",
            f"Medians of up to {args.repeats} runs, each run in a fresh process; a case whose "
            f"first run took over {args.repeat_limit:.0f} s ran once (`runs`). Whole "
            f"benchmark: {minutes:.1f} min; load average {load_start} at the start, "
            f"{_load()} at the end (other processes were running).",
            "",
            "## Fit",
            "",
            "`SiteScorer(monotonic={ghi: +1, slope: -1, substation distance: -1, latency: "
            f"-1}}, n_jobs=...)`, other parameters default ({_defaults()}). Synthetic "
            f"presence/background table: 8 float64 features, about {PREVALENCE:.0%} "
            "presences. The calibration and TreeSHAP columns are parts of the fit time: the "
            "cross-fitted models with their out-of-fold scores, and the contributions `fit` "
            f"computes for `feature_importances_` ({_importance_rows()}).",
            "",
            "| rows | presences | n_jobs | runs | fit s | of which calibration s "
            "| of which TreeSHAP s | CPU s / wall s | rows / s | RSS before fit (MiB) "
            "| peak RSS (MiB) | peak anon. RSS above start (MiB) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *fit_rows_md,
            "",
            "## Prediction",
            "",
            f"The model fitted above on {fit_rows[0]:,} rows with n_jobs=1 (so prediction "
            f"runs on 1 thread). Input: a memory-mapped float64 file of {cells:,} x "
            f"{N_FEATURES} ({input_size}); `contributions` and the LightGBM reference "
            "read its first rows. `numpy pass` is `X.sum()` over the same rows (median of 3, "
            "after the first pass has mapped the pages), the memory-bandwidth floor; "
            "`× numpy pass` = call time / numpy-pass time.",
            "",
            "| method | rows | batch_size | runs | seconds | CPU s / wall s | rows / s "
            "| numpy pass (ms) | × numpy pass | peak RSS (MiB) "
            "| peak anon. RSS above start (MiB) | output (MiB) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *predict_rows_md,
            "",
            "Peak RSS is `ru_maxrss` of the case's process: the interpreter and libraries "
            "(about 170-250 MiB), the data, and — for the prediction cases — the pages of the "
            f"memory-mapped input that were read (up to {input_size}), which count as "
            "resident although the kernel can drop them. Peak anonymous RSS above start is "
            "the largest `RssAnon` (sampled every 2 ms) during the timed call minus its value "
            "just before it: the memory the call allocated, including its returned output "
            "(last column) and excluding the mapped input. CPU s / wall s is the process's "
            "CPU time (all threads) over the wall time of the timed call: about 1 for one "
            "thread that had a core to itself, up to 2 for n_jobs=2 on this machine; lower "
            "values mean the call waited for a core that other processes were using.",
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
