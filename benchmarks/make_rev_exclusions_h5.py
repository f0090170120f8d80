"""Build a reV exclusions file (``ri_exclusions.h5``) from the Rhode Island GeoTIFFs.

reV's own test file ``tests/data/ri_exclusions/ri_exclusions.h5`` is not in the shared data
(it is too large for the snapshot), but its layers are: the GeoTIFFs in
``shared/data/nrel_revx/ri_exclusions/``. This script writes them in the layout that reV's
``reV.handlers.exclusions.ExclusionLayers`` (on top of ``rex.Resource``) reads:

- file attrs ``profile`` (JSON of the rasterio profile without ``dtype``: crs as a PROJ
  string, transform as 6 numbers, nodata, height, width, ...), ``shape`` and ``chunks``;
- ``latitude`` and ``longitude``: float32 ``(rows, cols)``, WGS84 coordinates of the cell
  centres, each with a ``profile`` attr;
- one dataset per layer, shaped ``(1, rows, cols)`` in the GeoTIFF's dtype, chunked
  ``(1, 128, 128)``, with attrs ``profile`` (the layer's own profile: reV reads the layer's
  nodata value from ``profile["nodata"]``) and, for convenience, ``nodata``.

This is what reVX's ``LayeredH5.layers_to_h5`` (``reVX.handlers.layered_h5``) writes; when
reVX is importable the script uses it (``--engine revx``), otherwise an equivalent writer
based on h5py + rasterio + pyproj (``--engine h5py``). Both give the same file contents.

Run it with the reV environment's Python (see benchmarks/README.md)::

    /tmp/rev-venv/bin/python benchmarks/make_rev_exclusions_h5.py /tmp/rev-bench/ri_exclusions.h5

``--verify`` then checks that reV's ``ExclusionMaskFromDict`` reproduces reV's four reference
masks (``shared/data/nrel_rev/ri_exclusions/*.npy``) from the new file.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SITING_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
TIF_DIR = SHARED / "nrel_revx" / "ri_exclusions"
REF_DIR = SHARED / "nrel_rev" / "ri_exclusions"
LAYERS = ["ri_padus", "ri_srtm_slope", "ri_smod", "ri_nlcd", "ri_reeds_regions"]
CHUNKS = (128, 128)

# reV's tests/test_supply_curve_exclusions.py, verbatim.
REV_TEST_CONFIGS = {
    "urban_pv": {"ri_smod": {"exclude_values": [1]}, "ri_srtm_slope": {"inclusion_range": (0, 5)}},
    "rural_pv": {"ri_smod": {"include_values": [1]}, "ri_srtm_slope": {"inclusion_range": (0, 5)}},
    "wind": {
        "ri_smod": {"include_values": [1]},
        "ri_padus": {"exclude_values": [1]},
        "ri_srtm_slope": {"inclusion_range": (0, 20)},
    },
    "weighted": {
        "ri_smod": {"include_values": [1]},
        "ri_padus": {"exclude_values": [1], "weight": 0.5},
        "ri_srtm_slope": {"inclusion_range": (0, 20)},
    },
}
# The configs this benchmark runs. reV's reference wind/weighted masks keep only ri_padus == 2:
# PAD-US nodata (255, "not protected", 96.6 % of cells) is excluded too. reV's own (missing)
# ri_exclusions.h5 must store that layer so that ``exclude_values: [1]`` drops those cells;
# from the published GeoTIFF (nodata 255) the same masks need ``exclude_nodata: True`` on
# ri_padus, which is what reV's aggregation tests say (EXCL_DICT there). urban_pv / rural_pv
# are reproduced with the verbatim configs.
CONFIGS = {
    name: {
        layer: (dict(kw, exclude_nodata=True) if layer == "ri_padus" else dict(kw))
        for layer, kw in layers.items()
    }
    for name, layers in REV_TEST_CONFIGS.items()
}
AREA = {"urban_pv": 0.018, "rural_pv": 1}  # min_area km², queen kernel (reV's default)


def _geotiff_profile(src) -> dict:
    """The profile as reVX's ``Geotiff`` handler stores it (JSON-serialisable)."""
    profile = dict(src.profile)
    profile["transform"] = list(profile["transform"])[:6]
    profile["crs"] = profile["crs"].to_proj4()
    return profile


def _lat_lon(src) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 coordinates of every cell centre (reVX ``Geotiff.lat_lon``)."""
    from affine import Affine
    from pyproj import Transformer

    rows, cols = np.meshgrid(np.arange(src.height), np.arange(src.width), indexing="ij")
    xs, ys = (src.transform * Affine.translation(0.5, 0.5)) * (cols, rows)
    to_wgs84 = Transformer.from_crs(src.crs.to_proj4(), "epsg:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xs, ys)
    return lat.astype(np.float32), lon.astype(np.float32)


def _write_h5py(out: Path, tifs: dict[str, Path]) -> None:
    import h5py
    import rasterio

    template = tifs[LAYERS[1]]  # ri_srtm_slope: EPSG:32130 like all but ri_nlcd
    with rasterio.open(template) as src:
        base = _geotiff_profile(src)
        lat, lon = _lat_lon(src)
        shape = (src.height, src.width)
    with h5py.File(out, "w") as dst:
        profile = copy.deepcopy(base)
        profile.pop("dtype", None)
        dst.attrs["profile"] = json.dumps(profile)
        dst.attrs["shape"] = shape
        dst.attrs["chunks"] = CHUNKS
        coord_profile = dict(profile, dtype="float32", count=1)
        for name, values in (("latitude", lat), ("longitude", lon)):
            ds = dst.create_dataset(name, data=values, dtype=np.float32, chunks=CHUNKS)
            ds.attrs["profile"] = json.dumps(coord_profile)
        for name, path in tifs.items():
            with rasterio.open(path) as src:
                values = src.read()  # (1, rows, cols)
                layer_profile = _geotiff_profile(src)
            if values.shape[1:] != shape:
                raise ValueError(f"{path}: shape {values.shape[1:]} != {shape}")
            layer_profile["dtype"] = str(values.dtype)
            layer_profile["count"] = 1
            ds = dst.create_dataset(name, data=values, chunks=(1, *CHUNKS))
            ds.attrs["profile"] = json.dumps(layer_profile)
            if layer_profile.get("nodata") is not None:
                ds.attrs["nodata"] = layer_profile["nodata"]


def _write_revx(out: Path, tifs: dict[str, Path]) -> None:
    import h5py
    from reVX.handlers.layered_h5 import LayeredH5

    h5 = LayeredH5(str(out), chunks=CHUNKS, template_file=str(tifs[LAYERS[1]]))
    h5.create_new(overwrite=True)
    for name, path in tifs.items():
        # ri_nlcd.tif is tagged EPSG:3653 (same grid, different datum tag), which reVX's
        # profile check would refuse; the grid itself matches, so skip the check for it.
        h5.write_geotiff_to_h5(str(path), name, check_tiff=(name != "ri_nlcd"), replace=True)
    with h5py.File(out, "a") as f:
        for name in tifs:
            nodata = json.loads(f[name].attrs["profile"]).get("nodata")
            if nodata is not None:
                f[name].attrs["nodata"] = nodata


def build(out: Path, engine: str = "auto") -> str:
    tifs = {name: TIF_DIR / f"{name}.tif" for name in LAYERS}
    missing = [str(p) for p in tifs.values() if not p.exists()]
    if missing:
        raise SystemExit(f"missing GeoTIFFs: {missing} (set SITING_SHARED_DATA to shared/data)")
    if engine == "auto":
        try:
            import reVX.handlers.layered_h5  # noqa: F401

            engine = "revx"
        except ImportError:
            engine = "h5py"
    out.parent.mkdir(parents=True, exist_ok=True)
    # write next to the target, then rename: never leave a half-written file behind
    fd, tmp = tempfile.mkstemp(suffix=".h5", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        (_write_revx if engine == "revx" else _write_h5py)(Path(tmp), tifs)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return engine


def verify(h5: Path) -> bool:
    """reV's ExclusionMaskFromDict on the file vs reV's reference masks.

    Checks :data:`CONFIGS` (must match) and reports :data:`REV_TEST_CONFIGS` (verbatim reV).
    """
    import warnings

    from reV.supply_curve.exclusions import ExclusionMaskFromDict

    ok = True
    for name in CONFIGS:
        ref = np.load(REF_DIR / f"{name}.npy")
        results = []
        for label, configs in (("bench", CONFIGS), ("verbatim", REV_TEST_CONFIGS)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # reV: "use include_range" (legacy kwarg)
                mask = ExclusionMaskFromDict.run(
                    str(h5), layers_dict=configs[name], min_area=AREA.get(name)
                )
            same = mask.shape == ref.shape and bool(np.allclose(mask, ref))
            results.append(f"{label}: included={float(mask.mean()):.5f} allclose={same}")
            if label == "bench":
                ok &= same
        print(
            f"{name:9s} reference={float(ref.astype('float64').mean()):.5f}  " + "  ".join(results)
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .h5 file to write")
    parser.add_argument("--engine", choices=["auto", "revx", "h5py"], default="auto")
    parser.add_argument("--verify", action="store_true", help="check reV's reference masks")
    args = parser.parse_args(argv)
    engine = build(args.out, args.engine)
    print(f"wrote {args.out} ({engine})")
    if args.verify and not verify(args.out):
        print("MISMATCH with reV's reference masks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
