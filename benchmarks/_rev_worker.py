"""reV half of ``bench_constraints.py``: runs in the reV environment, prints JSON timings.

Not imported by the project; run with the reV venv's Python (see benchmarks/README.md)::

    /tmp/rev-venv/bin/python benchmarks/_rev_worker.py --repeats 5 --out /tmp/rev_out.npz

What is timed (median of ``--repeats`` runs after one warm-up), each step on its own:

- ``mask_<name>`` for the four reV test masks: ``ExclusionMaskFromDict.run(h5, layers,
  min_area=...)`` — opens the exclusions .h5, reads the layers it needs, builds the mask and
  (urban_pv, rural_pv) applies the queen minimum-area filter. Reading the layers from the
  .h5 is included; converting the GeoTIFFs to the .h5 is a one-off, reported separately as
  ``build_h5`` and not part of any step.
- ``aggregate``: ``SupplyCurveAggregation(...).summarize(gen, max_workers=1)`` at resolution
  64 with reV's aggregation-test exclusions (slope <= 5, PAD-US != 1, nodata excluded on
  both) and data layers (pct_slope = mean ri_srtm_slope, reeds_region = mode
  ri_reeds_regions, padus = mode ri_padus). reV's own techmap and generation file for these
  tests are not available, so the worker adds a synthetic techmap (every exclusion cell
  mapped to its nearest of the 100 NSRDB test points, no distance limit: no cell is lost to
  the techmap, so the area is that of the exclusions alone) and a one-value-per-site
  generation file (cf_mean, lcoe_fcr for those 100 points). The timed call therefore does
  reV's full per-point work: inclusion mask per point, techmap lookups, area, data layers,
  the (cheap) generation means and meta columns. Building the techmap/gen file is not timed.

The masks and the aggregation table are written to ``--out`` (.npz) for the caller to compare.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_rev_exclusions_h5 import AREA, CONFIGS, SHARED, build  # noqa: E402

NSRDB_MEANS = SHARED / "nrel_rev" / "nsrdb" / "ri_100_nsrdb_v3_means.h5"
TM_DSET = "techmap_bench_nsrdb100"
RESOLUTION = 64
POWER_DENSITY = 36.0  # MW/km², reV's PV default (baseline: capacity / area_sq_km = 36)
# reV tests/test_supply_curve_sc_aggregation.py
AGG_EXCL_DICT = {
    "ri_srtm_slope": {"include_range": (None, 5), "exclude_nodata": True},
    "ri_padus": {"exclude_values": [1], "exclude_nodata": True},
}
DATA_LAYERS = {
    "pct_slope": {"dset": "ri_srtm_slope", "method": "mean"},
    "reeds_region": {"dset": "ri_reeds_regions", "method": "mode"},
    "padus": {"dset": "ri_padus", "method": "mode"},
}


def _timed(fn, repeats: int) -> tuple[float, list[float], object]:
    result = fn()  # warm-up (also the result that is compared)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def _add_techmap_and_gen(h5: Path, gen: Path) -> None:
    """Synthetic techmap (nearest NSRDB test point) in ``h5`` and a tiny gen file."""
    import h5py
    import pandas as pd
    from rex import Outputs, Resource
    from scipy.spatial import cKDTree

    with Resource(str(NSRDB_MEANS)) as res:
        meta = res.meta.reset_index()
        ghi = res["ghi"].mean(axis=0)
    with h5py.File(h5, "a") as f:
        lat, lon = f["latitude"][...], f["longitude"][...]
        tree = cKDTree(meta[["latitude", "longitude"]].to_numpy())
        _, idx = tree.query(np.column_stack([lat.ravel(), lon.ravel()]))
        tm = meta["gid"].to_numpy()[idx].reshape(lat.shape).astype(np.int32)
        if TM_DSET in f:
            del f[TM_DSET]
        f.create_dataset(TM_DSET, data=tm, chunks=(128, 128))
    gen_meta = pd.DataFrame(
        {
            "gid": meta["gid"].astype(int),
            "latitude": meta["latitude"],
            "longitude": meta["longitude"],
            "elevation": meta.get("elevation", 0.0),
            "timezone": meta.get("timezone", -5),
            "country": "United States",
            "state": "Rhode Island",
            "county": "None",
            "reV_tech": "pvwattsv8",
        }
    )
    cf = (0.05 * ghi / ghi.mean() * 0.2 + 0.15).astype(np.float32)  # any plausible values
    lcoe = (50.0 / cf).astype(np.float32)
    Outputs.init_h5(
        str(gen),
        ["cf_mean-means", "lcoe_fcr-means"],
        shapes={"cf_mean-means": (len(meta),), "lcoe_fcr-means": (len(meta),)},
        attrs={"cf_mean-means": None, "lcoe_fcr-means": None},
        chunks={"cf_mean-means": None, "lcoe_fcr-means": None},
        dtypes={"cf_mean-means": np.float32, "lcoe_fcr-means": np.float32},
        meta=gen_meta,
    )
    with Outputs(str(gen), "a") as out:
        out["cf_mean-means"] = cf
        out["lcoe_fcr-means"] = lcoe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True, help=".npz for masks + table")
    parser.add_argument("--workdir", type=Path, default=None, help="where to keep the .h5")
    parser.add_argument("--skip-aggregate", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)

    import reV
    import rex
    from reV.supply_curve.exclusions import ExclusionMaskFromDict

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rev-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    h5 = workdir / "ri_exclusions.h5"
    t0 = time.perf_counter()
    engine = build(h5)
    build_s = time.perf_counter() - t0

    steps: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, layers in CONFIGS.items():
        med, times, mask = _timed(
            lambda layers=layers, name=name: ExclusionMaskFromDict.run(
                str(h5), layers_dict=layers, min_area=AREA.get(name)
            ),
            args.repeats,
        )
        steps[f"mask_{name}"] = {"median_s": med, "times_s": times}
        arrays[f"mask_{name}"] = np.asarray(mask, dtype=np.float32)

    if not args.skip_aggregate:
        from reV.supply_curve.sc_aggregation import SupplyCurveAggregation

        gen = workdir / "gen_bench.h5"
        _add_techmap_and_gen(h5, gen)

        def aggregate():
            sca = SupplyCurveAggregation(
                str(h5),
                TM_DSET,
                excl_dict=AGG_EXCL_DICT,
                data_layers=DATA_LAYERS,
                resolution=RESOLUTION,
                res_class_dset=None,
                res_class_bins=None,
                power_density=POWER_DENSITY,
            )
            return sca.summarize(str(gen), max_workers=1)

        med, times, table = _timed(aggregate, args.repeats)
        steps["aggregate"] = {"median_s": med, "times_s": times, "n_points": len(table)}
        from reV.utilities import SupplyCurveField as F

        cols = {
            "sc_point_gid": F.SC_POINT_GID,
            "sc_row_ind": F.SC_ROW_IND,
            "sc_col_ind": F.SC_COL_IND,
            "n_gids": F.N_GIDS,
            "area_sq_km": F.AREA_SQ_KM,  # "area_developable_sq_km" in reV >= 0.9
            "pct_slope": "pct_slope",
            "reeds_region": "reeds_region",
            "padus": "padus",
            "latitude": F.LATITUDE,
            "longitude": F.LONGITUDE,
        }
        for key, col in cols.items():
            arrays[f"agg_{key}"] = table[col].to_numpy(dtype=np.float64)

    np.savez(args.out, **arrays)
    try:
        import h5py

        h5py_version = h5py.__version__
    except ImportError:  # pragma: no cover
        h5py_version = None
    print(
        json.dumps(
            {
                "rev_version": reV.__version__,
                "rex_version": rex.__version__,
                "h5py_version": h5py_version,
                "numpy_version": np.__version__,
                "python": platform.python_version(),
                "repeats": args.repeats,
                "build_h5_s": build_s,
                "h5_engine": engine,
                "h5": str(h5),
                "steps": steps,
                "out": str(args.out),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
