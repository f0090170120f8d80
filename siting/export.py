"""Writers for run outputs and the run manifest.

Every file is written to a temporary name in its final folder and renamed into place, so an
interrupted or failed write never leaves a half-written file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from threading import Event, Thread
from typing import Any

import geopandas as gpd
import xarray as xr

from siting._typing import PathLike
from siting.errors import OutputError

__all__ = [
    "MANIFEST_NAME",
    "NOT_FROM_CATALOG",
    "InputChecksums",
    "atomic_path",
    "check_scratch_dir",
    "dependency_versions",
    "input_licences",
    "manifest",
    "peak_memory_mib",
    "prepare_output_dir",
    "remove_earlier_run",
    "sha256_file",
    "write_cog",
    "write_cogs",
    "write_csv",
    "write_json",
    "write_sites",
]

MANIFEST_NAME = "manifest.json"

#: Licence and attribution recorded for an input the scenario does not tie to a catalog
#: source (``source = "NAME"`` in its ``[layers.NAME]`` or ``[vectors.NAME]`` table).
NOT_FROM_CATALOG = "unknown — not from the catalog"

_DEPENDENCIES = (
    "numpy", "pandas", "scipy", "shapely", "pyproj", "rasterio", "geopandas", "pyogrio",
    "xarray", "rioxarray", "dask", "scikit-learn", "pydantic", "folium", "pyarrow",
)  # fmt: skip


def prepare_output_dir(directory: PathLike, *, overwrite: bool = False) -> Path:
    """Create ``directory`` (and parents) and check it can be written to.

    Raises
    ------
    OutputError
        If it cannot be created or written, or it holds an earlier run and ``overwrite`` is
        False.
    """
    path = Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(
            f"output directory {str(path)!r} cannot be created: a file is in the way. "
            "Choose another output directory."
        ) from None
    except OSError as exc:
        raise OutputError(
            f"output directory {str(path)!r} cannot be created ({exc.strerror}). "
            "Choose a directory you can write to."
        ) from None
    if (path / MANIFEST_NAME).exists() and not overwrite:
        raise OutputError(
            f"{str(path)!r} already holds a run ({MANIFEST_NAME} exists). Choose a new output "
            "directory, or pass overwrite=True (--force on the command line) to replace it."
        )
    _check_writable(path, "output directory")
    return path


def remove_earlier_run(directory: PathLike) -> list[Path]:
    """Remove the finished run in ``directory``, for a new run to replace it.

    The manifest goes first, so that a replacement cut short never passes for a finished
    run; then the outputs it lists, so that none of them is taken for the new run's. Files
    the manifest does not list (the inputs, notes kept beside the run) stay, as does
    anything a listed name would reach outside ``directory``. Returns the paths removed.
    """
    path = Path(directory)
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        return []
    try:
        outputs = json.loads(manifest_path.read_text("utf-8")).get("outputs")
    except (OSError, ValueError, AttributeError):
        outputs = None  # unreadable: only the manifest is known to be the run's
    manifest_path.unlink()
    removed = [manifest_path]
    root = path.resolve()
    names = outputs.values() if isinstance(outputs, Mapping) else ()
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        listed = path / name
        if root not in listed.resolve().parents:
            continue
        if listed.is_dir() and not listed.is_symlink():
            shutil.rmtree(listed)
        elif listed.is_file() or listed.is_symlink():
            listed.unlink()
        else:
            continue
        removed.append(listed)
    return removed


def check_scratch_dir(directory: PathLike) -> Path:
    """Check ``directory`` is an existing folder that can be written to.

    Raises
    ------
    OutputError
        If it does not exist, is not a folder or cannot be written.
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise OutputError(
            f"scratch folder {str(path)!r} {what}. Give an existing folder (on a cluster, "
            "one every worker sees), or leave it out to use the output folder."
        )
    _check_writable(path, "scratch folder")
    return path


def _check_writable(path: Path, what: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OutputError(
            f"{what} {str(path)!r} is not writable ({exc.strerror}). "
            "Choose a directory you can write to."
        ) from None


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any error the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:
            in_the_way = " (a folder of that name is in the way)" if target.is_dir() else ""
            raise OutputError(
                f"cannot write {str(target)!r}{in_the_way}: {exc.strerror}. Move it away, "
                "or choose another output directory."
            ) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sha256_file(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    return _sha256(path, chunk_size=chunk_size)


class _Cancelled(Exception):
    pass


def _sha256(path: PathLike, *, chunk_size: int = 1 << 20, stop: Event | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            if stop is not None and stop.is_set():
                raise _Cancelled
            digest.update(block)
    return digest.hexdigest()


class InputChecksums:
    """The sha256 of a run's input files, computed on a thread while the run works.

    A context manager: hashing starts on entry, in the order of the names, and stops at
    the next chunk on exit. Hashing waits on the disk and releases the GIL, so it overlaps
    with the run's own work; on a cluster the client, otherwise waiting on the workers,
    hashes inputs of any size for free. The digests are of the files as they were while the
    run read them.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "layer.bin"
    >>> _ = path.write_bytes(b"abc")
    >>> with InputChecksums({"layer": path}) as checksums:
    ...     digests = checksums.result()
    >>> digests["layer"][:16]
    'ba7816bf8f01cfea'
    """

    def __init__(self, paths: Mapping[str, PathLike]) -> None:
        self._paths = dict(sorted(paths.items()))
        self._digests: dict[str, str] = {}
        self._error: BaseException | None = None
        self._stop = Event()
        self._thread = Thread(target=self._hash_all, name="siting-input-checksums", daemon=True)

    def __enter__(self) -> InputChecksums:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()

    def _hash_all(self) -> None:
        try:
            for name, path in self._paths.items():
                self._digests[name] = _sha256(path, stop=self._stop)
        except _Cancelled:
            pass
        except BaseException as exc:  # raised in the caller, by result()
            self._error = exc

    def result(self) -> dict[str, str]:
        """Every digest by name, once all are computed; what failed raises here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._stop.is_set():
            raise RuntimeError("the checksums were cancelled before they were complete")
        return dict(self._digests)


def write_json(data: Any, path: PathLike) -> Path:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n", "utf-8")
    return path


def write_csv(table: Any, path: PathLike) -> Path:
    """Write a DataFrame as CSV (full float precision, ``\\n`` line ends), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    return path


def write_sites(
    sites: gpd.GeoDataFrame,
    directory: PathLike,
    *,
    formats: tuple[str, ...] = ("gpkg", "csv"),
    stem: str = "sites",
) -> dict[str, Path]:
    """Write ranked sites as a GeoPackage layer, a GeoParquet file and/or a CSV.

    The CSV carries ``lon``/``lat`` (WGS84) plus ``x``/``y`` in the CRS named in its ``crs``
    column; floats are written at full precision so reruns compare byte for byte. The
    GeoParquet file (``"parquet"``) keeps the geometry and its CRS (GeoParquet metadata).
    """
    directory = Path(directory)
    written: dict[str, Path] = {}
    if "gpkg" in formats:
        target = directory / f"{stem}.gpkg"
        with atomic_path(target) as tmp:
            sites.to_file(tmp, driver="GPKG", layer=stem, engine="pyogrio")
        written["gpkg"] = target
    if "parquet" in formats:
        target = directory / f"{stem}.parquet"
        with atomic_path(target) as tmp:
            sites.to_parquet(tmp, index=False)
        written["parquet"] = target
    if "csv" in formats:
        table = sites.drop(columns=sites.geometry.name)
        table["crs"] = sites.crs.to_string() if sites.crs is not None else ""
        written["csv"] = write_csv(table, directory / f"{stem}.csv")
    return written


def write_cog(
    raster: xr.DataArray,
    path: PathLike,
    *,
    overview_resampling: str = "average",
    blocksize: int = 256,
) -> Path:
    """Write a 2-D float raster as a Cloud-Optimized GeoTIFF, atomically.

    DEFLATE compression with the floating-point predictor, ``blocksize`` tiles, internal
    overviews (made by ``overview_resampling``, down to one tile), NaN as nodata, and the
    raster's CRS and transform (rioxarray's ``.rio``). The band keeps the raster's name as
    its description and its ``units`` attribute, when set, as a tag. A dask-backed raster
    is computed one band of chunks at a time, never whole.

    Parameters
    ----------
    raster
        A ``(y, x)`` float DataArray with a CRS written the rioxarray way.
    path
        The ``.tif`` file to write.
    overview_resampling
        GDAL resampling for the overviews: ``average`` suits shares and scores.
    blocksize
        Tile edge in pixels (a power of two; 256 gives small grids overviews too).

    Raises
    ------
    CRSError
        The raster has no CRS.
    ValueError
        It is not 2-D or not floating point.
    """
    (written,) = write_cogs(
        {path: raster}, overview_resampling=overview_resampling, blocksize=blocksize
    )
    return written


def write_cogs(
    rasters: Mapping[PathLike, xr.DataArray],
    *,
    overview_resampling: str = "average",
    blocksize: int = 256,
) -> list[Path]:
    """:func:`write_cog` for several rasters of one grid, computed together band by band.

    Dask-backed rasters that share work (a score and the availability it is computed
    from) are computed in one pass: each band of chunks of every raster is one
    ``dask.compute``, so what they share is computed once. Each file is written
    atomically; on an error none of them is left half-written.

    Returns
    -------
    list of Path
        The files, in the order given.
    """
    import dask
    import numpy as np
    import rasterio
    import rasterio.shutil
    from rasterio.windows import Window

    from siting.errors import CRSError

    items = [(Path(path), raster) for path, raster in rasters.items()]
    for _, raster in items:
        if raster.ndim != 2:
            raise ValueError(f"write_cog needs a 2-D (y, x) raster, got dims {raster.dims}")
        if not np.issubdtype(raster.dtype, np.floating):
            raise ValueError(
                f"write_cog writes float rasters with NaN as nodata, got dtype {raster.dtype}; "
                "cast it with .astype('float32')"
            )
        if raster.rio.crs is None:
            raise CRSError(
                f"raster {raster.name!r} has no CRS. Please set the CRS with 'rio.write_crs()'."
            )
    if not items:
        return []
    shapes = {raster.shape for _, raster in items}
    if len(shapes) > 1:
        raise ValueError(f"write_cogs needs rasters of one shape, got {sorted(shapes)}")
    height, width = items[0][1].shape
    first = items[0][1]
    bands = first.chunks[0] if first.chunks is not None else (height,)
    with contextlib.ExitStack() as files:
        targets = [files.enter_context(atomic_path(path)) for path, _ in items]
        # GDAL makes a COG only by copying a finished dataset: stage tiled GeoTIFFs first.
        stages = [tmp.with_name(f"{tmp.stem}.stage.tif") for tmp in targets]
        for stage in stages:
            files.callback(stage.unlink, missing_ok=True)
        outs = [
            files.enter_context(
                rasterio.open(
                    stage,
                    "w",
                    driver="GTiff",
                    width=width,
                    height=height,
                    count=1,
                    dtype=np.dtype(raster.dtype).name,
                    crs=raster.rio.crs,
                    transform=raster.rio.transform(),
                    nodata=float("nan"),
                    tiled=True,
                    blockxsize=blocksize,
                    blockysize=blocksize,
                    bigtiff="IF_SAFER",
                )
            )
            for stage, (_, raster) in zip(stages, items, strict=True)
        ]
        top = 0
        for rows in bands:
            window = Window(0, top, width, rows)
            parts = dask.compute(*(r.isel(y=slice(top, top + rows)).data for _, r in items))
            for dst, part in zip(outs, parts, strict=True):
                dst.write(np.asarray(part), 1, window=window)
            top += rows
        for dst, (_, raster) in zip(outs, items, strict=True):
            if raster.name is not None:
                dst.set_band_description(1, str(raster.name))
            if raster.attrs.get("units"):
                dst.update_tags(1, units=str(raster.attrs["units"]))
            dst.close()
        for stage, tmp in zip(stages, targets, strict=True):
            rasterio.shutil.copy(
                stage,
                tmp,
                driver="COG",
                compress="DEFLATE",
                predictor=3,
                blocksize=blocksize,
                overviews="AUTO",
                overview_resampling=overview_resampling.upper(),
                bigtiff="IF_SAFER",
            )
    return [path for path, _ in items]


def dependency_versions() -> dict[str, str]:
    """Installed versions of the libraries a run depends on."""
    versions = {"python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import rasterio

        versions["gdal"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover - rasterio is a core dependency
        pass
    return versions


def peak_memory_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where it is not measured).

    This is the whole process's high-water mark (``getrusage`` max RSS): in a notebook it
    includes whatever the process held before the run.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no resource module
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def input_licences(
    scenario: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Licence and attribution of every input, by role (``layer:ghi``, ``vector:roads``...).

    An input is tied to a catalog source by ``source = "NAME"`` in its ``[layers.NAME]`` or
    ``[vectors.NAME]`` table; every other input is recorded as :data:`NOT_FROM_CATALOG`.
    """
    from siting.datasets.catalog import catalog

    sources = catalog()
    out: dict[str, dict[str, Any]] = {}
    for role in sorted(inputs):
        kind, _, name = role.partition(":")
        section = {"layer": "layers", "vector": "vectors"}.get(kind)
        spec = (scenario.get(section) or {}).get(name) if section else None
        source = spec.get("source") if isinstance(spec, Mapping) else None
        entry = sources.get(source) if source else None
        if entry is None:
            out[role] = {
                "catalog_source": None,
                "licence": NOT_FROM_CATALOG,
                "attribution": NOT_FROM_CATALOG,
            }
            continue
        out[role] = {
            "catalog_source": entry.name,
            "title": entry.title,
            "publisher": entry.publisher,
            "licence": entry.licence,
            "attribution": entry.attribution,
            "homepage": entry.homepage,
            "version": entry.version,
        }
    return out


def manifest(
    *,
    version: str,
    scenario: Mapping[str, Any],
    inputs: Mapping[str, PathLike],
    outputs: Mapping[str, PathLike],
    timings_s: Mapping[str, float],
    summary: Mapping[str, Any],
    command: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The provenance record of a run.

    Versions, the platform (no host name), the command line (``sys.argv`` unless
    ``command`` is given), the scenario, inputs with checksums, their licences and
    attributions, stage timings and the process's peak memory. Only ``created_utc``,
    ``timings_s``, ``peak_memory_mib`` and ``command_line`` differ between two runs of
    the same scenario on the same machine. ``checksums`` are the inputs' sha256 by name,
    if already computed (:class:`InputChecksums`).
    """
    return {
        "siting_version": version,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        # platform.platform() is the OS, kernel, machine and libc: never the host name.
        "platform": platform.platform(),
        "command_line": [str(arg) for arg in (sys.argv if command is None else command)],
        "dependencies": dependency_versions(),
        "scenario": dict(scenario),
        "inputs": {
            name: {
                "path": str(path),
                "sha256": sha256_file(path) if checksums is None else checksums[name],
                "bytes": Path(path).stat().st_size,
            }
            for name, path in sorted(inputs.items())
        },
        "licences": input_licences(scenario, inputs),
        "outputs": {name: Path(path).name for name, path in sorted(outputs.items())},
        "timings_s": {k: round(v, 4) for k, v in timings_s.items()},
        "peak_memory_mib": peak_memory_mib(),
        "summary": dict(summary),
    }
