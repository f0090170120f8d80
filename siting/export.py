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
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd

from siting._typing import PathLike
from siting.errors import OutputError

__all__ = [
    "MANIFEST_NAME",
    "atomic_path",
    "dependency_versions",
    "manifest",
    "prepare_output_dir",
    "sha256_file",
    "write_csv",
    "write_json",
    "write_sites",
]

MANIFEST_NAME = "manifest.json"

_DEPENDENCIES = (
    "numpy", "pandas", "scipy", "shapely", "pyproj", "rasterio", "geopandas", "pyogrio",
    "xarray", "rioxarray", "dask", "scikit-learn", "pydantic", "folium",
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
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OutputError(
            f"output directory {str(path)!r} is not writable ({exc.strerror}). "
            "Choose a directory you can write to."
        ) from None
    return path


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
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sha256_file(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


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
    """Write ranked sites as a GeoPackage layer and/or a CSV.

    The CSV carries ``lon``/``lat`` (WGS84) plus ``x``/``y`` in the CRS named in its ``crs``
    column; floats are written at full precision so reruns compare byte for byte.
    """
    directory = Path(directory)
    written: dict[str, Path] = {}
    if "gpkg" in formats:
        target = directory / f"{stem}.gpkg"
        with atomic_path(target) as tmp:
            sites.to_file(tmp, driver="GPKG", layer=stem, engine="pyogrio")
        written["gpkg"] = target
    if "csv" in formats:
        table = sites.drop(columns=sites.geometry.name)
        table["crs"] = sites.crs.to_string() if sites.crs is not None else ""
        written["csv"] = write_csv(table, directory / f"{stem}.csv")
    return written


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


def manifest(
    *,
    version: str,
    scenario: Mapping[str, Any],
    inputs: Mapping[str, PathLike],
    outputs: Mapping[str, PathLike],
    timings_s: Mapping[str, float],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """The provenance record of a run: versions, scenario, inputs with checksums, timings."""
    return {
        "siting_version": version,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "scenario": dict(scenario),
        "inputs": {
            name: {
                "path": str(path),
                "sha256": sha256_file(path),
                "bytes": Path(path).stat().st_size,
            }
            for name, path in sorted(inputs.items())
        },
        "outputs": {name: Path(path).name for name, path in sorted(outputs.items())},
        "timings_s": {k: round(v, 4) for k, v in timings_s.items()},
        "summary": dict(summary),
    }
