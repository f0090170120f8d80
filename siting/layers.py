"""Raster layers: read, align onto a :class:`~siting.grid.Grid`, rasterize, stack.

Every function returns a ``(y, x)`` :class:`xarray.DataArray` (or a Dataset for the stack)
with the CRS and transform written the rioxarray way, float values and NaN for nodata: a
missing value is never read as zero.

The layer's *kind* decides how it may be resampled (no silent default):

- ``continuous`` (slope, GHI, wind speed ...): ``bilinear`` when the target cell is about
  the size of the source cell or finer, ``average`` when it is at least
  :data:`DOWNSAMPLING_FACTOR` times coarser; ``cubic``, ``lanczos`` and the order
  statistics are allowed on request;
- ``categorical`` (land cover, land manager, GAP status ...): ``nearest``, or ``mode`` when
  downsampling. Interpolating codes would invent categories, so it is refused.

Alignment runs tile by tile: the grid is cut into fixed :data:`WARP_TILE` x
:data:`WARP_TILE` tiles anchored at its top-left corner, and each tile is warped from only
the window of the source it needs (plus a halo for the resampling kernel). The in-memory
and the chunked (dask) paths compute exactly the same tiles, so they give bit-identical
results whatever the chunk size; chunk sizes that are multiples of :data:`WARP_TILE`
avoid computing a tile twice.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyproj
import xarray as xr
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from siting._graph import call, shared
from siting._threads import PerThread
from siting._typing import PathLike
from siting.errors import (
    CRSError,
    GridError,
    InvalidLayerError,
    LayerIOError,
    NoDataInRegionError,
)
from siting.grid import Grid

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CATEGORICAL_RESAMPLING",
    "CONTINUOUS_RESAMPLING",
    "DOWNSAMPLING_FACTOR",
    "INTERPOLATION_METHODS",
    "WARP_TILE",
    "LayerKind",
    "align",
    "build_stack",
    "choose_resampling",
    "coverage_fraction",
    "grid_of",
    "points_to_grid",
    "rasterize",
    "read_raster",
    "resolution_m",
]

#: A target cell at least this many times coarser than the source cell is downsampling.
DOWNSAMPLING_FACTOR = 1.5

#: Side, in cells, of the fixed tiles that alignment is computed in.
WARP_TILE = 256

#: Mean Earth radius (IUGG), used to turn degrees into metres for resolution comparisons.
_EARTH_RADIUS_M = 6_371_008.8

# Warping arrays from several dask threads at once makes rasterio warn, spuriously, that
# its temporary in-memory datasets have no geotransform: every call here passes both
# transforms explicitly, and threaded output equals serial output cell for cell (tested).
# ``catch_warnings`` is not thread-safe, so the filter is narrow and module-wide instead.
for _module in ("rasterio.warp", "rasterio.features"):  # warp, and burning chunk by chunk
    warnings.filterwarnings(
        "ignore",
        message="Dataset has no geotransform",
        category=NotGeoreferencedWarning,
        module=_module,
    )


class LayerKind(enum.StrEnum):
    """What a layer's values are, which decides how it may be resampled."""

    CONTINUOUS = "continuous"
    CATEGORICAL = "categorical"


#: Resampling methods allowed for continuous layers (GDAL names).
CONTINUOUS_RESAMPLING: frozenset[str] = frozenset(
    {"bilinear", "cubic", "cubic_spline", "lanczos", "average", "rms"}
    | {"min", "max", "med", "q1", "q3"}
)

#: Resampling methods allowed for categorical layers: they never invent a value.
CATEGORICAL_RESAMPLING: frozenset[str] = frozenset({"nearest", "mode"})

_ALLOWED = {
    LayerKind.CONTINUOUS: CONTINUOUS_RESAMPLING,
    LayerKind.CATEGORICAL: CATEGORICAL_RESAMPLING,
}

# Half-width of each resampling kernel in source cells (before widening when downsampling).
_KERNEL_RADIUS = {"bilinear": 1, "cubic": 2, "cubic_spline": 2, "lanczos": 3}


# -- kinds and resampling -------------------------------------------------------------------


def _as_kind(kind: object) -> LayerKind:
    if isinstance(kind, LayerKind):
        return kind
    if isinstance(kind, str):
        try:
            return LayerKind(kind.strip().lower())
        except ValueError:
            pass
    allowed = ", ".join(repr(k.value) for k in LayerKind)
    raise InvalidLayerError(
        f"kind must be one of {allowed}, got {kind!r}. Say what the layer holds: "
        "'continuous' for measured quantities (slope, GHI, wind speed), 'categorical' for "
        "codes (land cover, land manager, GAP status)."
    )


def _check_resampling(kind: LayerKind, resampling: object) -> str:
    from rasterio.enums import Resampling

    name = resampling.name if isinstance(resampling, Resampling) else resampling
    allowed = _ALLOWED[kind]
    if not isinstance(name, str) or name.strip().lower() not in allowed:
        raise InvalidLayerError(
            f"resampling {resampling!r} is not allowed for a {kind.value} layer; use one of "
            f"{sorted(allowed)}, or resampling=None to let the layer's kind choose."
        )
    return name.strip().lower()


def _resolution_pair(value: float | tuple[float, float], what: str) -> tuple[float, float]:
    pair: Any = (value, value) if np.isscalar(value) else value
    try:
        x, y = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise GridError(f"{what} must be a number or an (x, y) pair, got {value!r}") from None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        raise GridError(f"{what} must be positive and finite (metres), got {value!r}")
    return x, y


def choose_resampling(
    kind: LayerKind | str,
    source_resolution: float | tuple[float, float],
    target_resolution: float | tuple[float, float],
) -> str:
    """The documented resampling for a layer of ``kind`` going between two cell sizes.

    A cell size is compared by the side of a square of the same area (the geometric mean
    of its width and height). When the target cell is at least
    :data:`DOWNSAMPLING_FACTOR` (1.5) times the source cell, the layer is being
    downsampled and each target cell summarises many source cells: ``"average"`` for a
    continuous layer, ``"mode"`` for a categorical one. Otherwise ``"bilinear"`` or
    ``"nearest"``.

    Parameters
    ----------
    kind
        ``"continuous"`` or ``"categorical"`` (a :class:`LayerKind`). Required: there is no
        default kind.
    source_resolution, target_resolution
        Cell sizes **in metres**, as a number or an ``(x, y)`` pair. Use
        :func:`resolution_m` to get them from a grid or raster in any CRS.

    Returns
    -------
    str
        A GDAL resampling name.

    Raises
    ------
    InvalidLayerError
        If ``kind`` is not a known layer kind.
    GridError
        If a resolution is not positive and finite.

    Examples
    --------
    >>> choose_resampling("continuous", 90, 270)
    'average'
    >>> choose_resampling("continuous", 90, 120)
    'bilinear'
    >>> choose_resampling(LayerKind.CATEGORICAL, (30, 30), (90, 90))
    'mode'
    >>> choose_resampling("categorical", 90, 30)
    'nearest'
    """
    kind_ = _as_kind(kind)
    sx, sy = _resolution_pair(source_resolution, "source_resolution")
    tx, ty = _resolution_pair(target_resolution, "target_resolution")
    downsampling = math.sqrt(tx * ty) >= DOWNSAMPLING_FACTOR * math.sqrt(sx * sy)
    if kind_ is LayerKind.CONTINUOUS:
        return "average" if downsampling else "bilinear"
    return "mode" if downsampling else "nearest"


def _crs_resolution_m(
    crs: pyproj.CRS, transform: Affine, shape: tuple[int, int]
) -> tuple[float, float]:
    xres = math.hypot(transform.a, transform.d)
    yres = math.hypot(transform.b, transform.e)
    factor = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
    if crs.is_projected:
        return xres * factor, yres * factor
    # Geographic: degrees (or grads) -> radians -> metres on a sphere of mean radius,
    # with the east-west size taken at the raster's centre latitude.
    _, lat = transform @ (shape[1] / 2, shape[0] / 2)
    metres = factor * _EARTH_RADIUS_M
    return xres * metres * max(math.cos(math.radians(lat)), 1e-6), yres * metres


def resolution_m(obj: Grid | xr.DataArray | xr.Dataset) -> tuple[float, float]:
    """Cell size ``(x, y)`` in metres of a grid or a georeferenced raster.

    For a projected CRS this converts the CRS's linear unit to metres. For a geographic CRS
    it is an approximation on a sphere of the mean Earth radius (6,371,008.8 m): one degree
    of latitude is 111.2 km, one degree of longitude that times the cosine of the raster's
    **centre** latitude. Good enough to choose a resampling; never use it for areas.

    Examples
    --------
    >>> from siting.testing import small_grid
    >>> resolution_m(small_grid(resolution=90))
    (90.0, 90.0)
    >>> x, y = resolution_m(small_grid("EPSG:4326", resolution=0.001, origin=(-71.5, 0.0)))
    >>> round(x, 1), round(y, 1)
    (111.2, 111.2)
    """
    grid = grid_of(obj)
    return _crs_resolution_m(grid.crs, grid.transform, grid.shape)


def grid_of(obj: Grid | xr.DataArray | xr.Dataset) -> Grid:
    """The :class:`~siting.grid.Grid` of a grid (itself) or a rioxarray-georeferenced raster.

    Raises
    ------
    CRSError
        If the raster has no CRS written.

    Examples
    --------
    >>> from siting.testing import random_field, small_grid
    >>> grid_of(random_field(small_grid())) == small_grid()
    True
    """
    if isinstance(obj, Grid):
        return obj
    if isinstance(obj, xr.DataArray | xr.Dataset):
        return Grid.from_xarray(obj)
    raise InvalidLayerError(
        f"expected a Grid or a georeferenced xarray DataArray/Dataset, got {type(obj).__name__}"
    )


# -- reading ----------------------------------------------------------------------------------


def _is_local(path: str) -> bool:
    return not (path.startswith("/vsi") or "://" in path)


@contextmanager
def _io_errors(path: str, doing: str) -> Iterator[None]:
    """Turn GDAL/rasterio errors raised while ``doing`` something with ``path`` into ours."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    try:
        yield
    except (RasterioError, CPLE_BaseError) as exc:
        raise LayerIOError(
            f"cannot {doing} raster {path!r}: {exc}. The file is corrupt, truncated or in a "
            "format GDAL does not know; check it with `rio info`, or download it again."
        ) from exc


def _open(path: str) -> Any:
    import rasterio

    if _is_local(path) and not Path(path).exists():
        raise LayerIOError(
            f"cannot read raster {path!r}: no such file (relative paths are relative to "
            f"{os.getcwd()!r}). Check the path."
        )
    if _is_local(path) and Path(path).is_dir():
        raise LayerIOError(f"cannot read raster {path!r}: it is a directory, not a file.")
    with _io_errors(path, "open"):
        return rasterio.open(path)


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    return np.dtype("float64") if np.dtype(dtype) == np.float64 else np.dtype("float32")


def _no_crs_error(what: str) -> CRSError:
    return CRSError(
        f"{what} has no CRS, and a CRS is never guessed. Fix the file with "
        "`gdal_edit.py -a_srs EPSG:XXXX FILE` or `rio edit-info --crs EPSG:XXXX FILE` "
        "(using the CRS the data is really in)."
    )


def _check_band(src: Any, band: int, path: str) -> None:
    if not isinstance(band, int | np.integer) or not 1 <= band <= src.count:
        raise InvalidLayerError(
            f"band {band!r} does not exist in {path!r}, which has {src.count} band(s) "
            f"numbered 1..{src.count}."
        )


def _read_window(
    src: Any, band: int, rows: slice, cols: slice, dtype: np.dtype[Any], path: str
) -> np.ndarray:
    """Read a window as float with NaN wherever GDAL's mask says nodata."""
    from rasterio.enums import MaskFlags
    from rasterio.windows import Window

    window = Window.from_slices(rows, cols)
    flags = src.mask_flag_enums[band - 1]
    nodata = src.nodatavals[band - 1]
    with _io_errors(path, "read"):
        if MaskFlags.all_valid in flags or (flags == [MaskFlags.nodata] and nodata is not None):
            # Fast path: a plain nodata value (or none) needs no masked array.
            raw = src.read(band, window=window)
            data = raw.astype(dtype)
            if nodata is not None:
                data[_is_nodata(raw, nodata)] = np.nan
            return data
        # Per-dataset masks, alpha bands ...: let GDAL say which cells are valid.
        masked = src.read(band, window=window, masked=True)
    return np.ma.filled(masked.astype(dtype), np.nan)


def _is_nodata(raw: np.ndarray, nodata: float) -> np.ndarray:
    """Cells equal to ``nodata``, compared in the band's own type (as GDAL does)."""
    if np.isnan(nodata):
        return np.isnan(raw) if raw.dtype.kind == "f" else np.zeros(raw.shape, bool)
    try:
        typed = np.array(nodata).astype(raw.dtype, casting="unsafe")
    except (OverflowError, ValueError):
        return np.zeros(raw.shape, bool)
    if float(typed) != nodata and raw.dtype.kind in "iub":
        return np.zeros(raw.shape, bool)  # not representable in the band: no cell holds it
    return raw == typed


def _read_file_window(
    path: str, band: int, rows: slice, cols: slice, dtype: np.dtype[Any]
) -> np.ndarray:
    with _open(path) as src:
        return _read_window(src, band, rows, cols, dtype, path)


def _chunk_slices(
    shape: tuple[int, int], chunks: int | tuple[int, int]
) -> tuple[list[slice], list[slice]]:
    ch, cw = (chunks, chunks) if isinstance(chunks, int | np.integer) else chunks
    if int(ch) <= 0 or int(cw) <= 0:
        raise InvalidLayerError(f"chunks must be positive, got {chunks!r}")
    rows = [slice(r, min(r + int(ch), shape[0])) for r in range(0, shape[0], int(ch))]
    cols = [slice(c, min(c + int(cw), shape[1])) for c in range(0, shape[1], int(cw))]
    return rows, cols


def _lazy_blocks(
    func: Any, shape: tuple[int, int], chunks: int | tuple[int, int], dtype: np.dtype[Any]
) -> Any:
    """A dask array whose block at (rows, cols) is ``func(rows, cols)``, computed lazily."""
    import dask
    import dask.array as da

    row_slices, col_slices = _chunk_slices(shape, chunks)
    block = shared(func)  # sent to each worker once, not with every block's task
    task = dask.delayed(call, pure=True)
    blocks = [
        [
            da.from_delayed(
                task(block, rows, cols),
                shape=(rows.stop - rows.start, cols.stop - cols.start),
                dtype=dtype,
            )
            for cols in col_slices
        ]
        for rows in row_slices
    ]
    return da.block(blocks)


def _to_dataarray(data: Any, grid: Grid, name: str | None, attrs: dict[str, Any]) -> xr.DataArray:
    array = xr.DataArray(data, coords=grid.coords(), dims=("y", "x"), attrs=attrs)
    array.name = name
    array = grid.georeference(array)
    # In place: the array is ours, and rioxarray's default deep-copies the data.
    return array.rio.write_nodata(np.nan, encoded=False, inplace=True)


def read_raster(
    path: PathLike,
    *,
    band: int = 1,
    chunks: int | tuple[int, int] | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Read one band of a raster file (any format GDAL reads) as a float ``(y, x)`` array.

    Nodata is explicit: cells that are nodata in the file (its nodata value or mask) are
    NaN in the result, never zero. The result is float64 if the band is float64, otherwise
    float32 (which holds every 8- and 16-bit code exactly).

    Parameters
    ----------
    path
        Path of the file (or a GDAL ``/vsi...`` path).
    band
        Band number, from 1.
    chunks
        ``None`` reads the band into memory. An int or ``(rows, cols)`` returns a lazy
        dask-backed array; each chunk reads only its own window of the file when computed.
    name
        Name of the result (default: the file's stem).

    Returns
    -------
    xarray.DataArray
        With the CRS and transform written (``.rio`` works), ``rio.nodata`` NaN and attrs
        ``source`` (the path) and, when the file declares one, ``nodata`` (its nodata
        value, as it is in the file).

    Raises
    ------
    LayerIOError
        If the file is missing, unreadable, corrupt or truncated (also an ``OSError``).
        With ``chunks``, a corrupt block is only found when computed, and raises then.
    CRSError
        If the raster has no CRS.
    GridError
        If the raster is rotated or not north-up (warp it with :func:`align` instead).
    InvalidLayerError
        If ``band`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from siting.testing import category_field, small_grid
    >>> codes = category_field(small_grid(), categories=(1, 2), nodata=255, nodata_fraction=0.2)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "codes.tif"
    >>> codes.rio.to_raster(path)
    >>> layer = read_raster(path)
    >>> str(layer.dtype), layer.attrs["nodata"], int(layer.isnull().sum()) > 0
    ('float32', 255.0, True)
    """
    path_str = os.fspath(path)
    with _open(path_str) as src:
        _check_band(src, band, path_str)
        if src.crs is None:
            raise _no_crs_error(f"the raster {path_str!r}")
        try:
            grid = Grid(pyproj.CRS.from_user_input(src.crs.to_wkt()), src.transform, src.shape)
        except GridError as exc:
            raise GridError(
                f"{path_str!r}: {exc} To use it, align it onto a grid: "
                "siting.layers.align(path, grid, kind=...)."
            ) from None
        dtype = _float_dtype(src.dtypes[band - 1])
        nodata = src.nodatavals[band - 1]
        data: Any = None
        if chunks is None:
            data = _read_window(
                src, band, slice(0, grid.height), slice(0, grid.width), dtype, path_str
            )
    if chunks is not None:
        data = _lazy_blocks(_BoundFileReader(path_str, band, dtype), grid.shape, chunks, dtype)
    attrs: dict[str, Any] = {"source": path_str}
    if nodata is not None:
        attrs["nodata"] = nodata
    return _to_dataarray(data, grid, name if name is not None else Path(path_str).stem, attrs)


@dataclass(frozen=True)
class _BoundFileReader:
    """Picklable ``(rows, cols) -> block`` reader of one file band (for dask tasks)."""

    path: str
    band: int
    dtype: np.dtype[Any]

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        return _read_file_window(self.path, self.band, rows, cols, self.dtype)


# -- alignment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """A raster to align: where it is, its georeferencing, and how to get its values."""

    label: str
    crs: pyproj.CRS
    transform: Affine
    shape: tuple[int, int]
    dtype: np.dtype[Any]
    nodata: Any
    path: str | None = None
    band: int = 1
    array: Any = None  # float array with NaN nodata (numpy or dask), for in-memory sources


def _source_from_path(path: str, band: int) -> _Source:
    with _open(path) as src:
        _check_band(src, band, path)
        if src.crs is None:
            raise _no_crs_error(f"the raster {path!r}")
        return _Source(
            label=path,
            crs=pyproj.CRS.from_user_input(src.crs.to_wkt()),
            transform=src.transform,
            shape=src.shape,
            dtype=_float_dtype(src.dtypes[band - 1]),
            nodata=src.nodatavals[band - 1],
            path=path,
            band=band,
        )


def _source_from_dataarray(array: xr.DataArray) -> _Source:
    label = f"layer {array.name!r}" if array.name is not None else "the layer"
    if array.ndim == 3 and array.shape[0] == 1:
        array = array.squeeze(array.dims[0], drop=True)
    if array.ndim != 2:
        raise InvalidLayerError(
            f"{label} has dims {array.dims}; expected a 2-D (y, x) array. Select one band "
            "first, for example layer.isel(band=0)."
        )
    if array.rio.crs is None:
        raise CRSError(
            f"CRS not found on {label}. Set it with layer.rio.write_crs('EPSG:XXXX') "
            "(the CRS the data is really in); a CRS is never guessed."
        )
    crs = pyproj.CRS.from_user_input(array.rio.crs.to_wkt())
    nodata = array.rio.encoded_nodata
    if nodata is None:
        nodata = array.rio.nodata
    dtype = _float_dtype(array.dtype)
    values = array.data.astype(dtype)
    missing = array.rio.nodata
    if missing is not None and not (isinstance(missing, float) and math.isnan(missing)):
        values = np.where(array.data == missing, np.nan, values)  # dask-aware
    return _Source(
        label=label,
        crs=crs,
        transform=array.rio.transform(),
        shape=(int(array.shape[0]), int(array.shape[1])),
        dtype=dtype,
        nodata=nodata,
        array=values,
    )


def _rio_crs(crs: pyproj.CRS) -> Any:
    from rasterio.crs import CRS

    return CRS.from_wkt(crs.to_wkt())


def _transform_bounds(
    src_crs: pyproj.CRS, dst_crs: pyproj.CRS, bounds: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    """Bounds reprojected (densified edges), or None if they cannot be projected."""
    if src_crs == dst_crs:
        return bounds
    from rasterio.warp import transform_bounds

    try:
        out = transform_bounds(_rio_crs(src_crs), _rio_crs(dst_crs), *bounds, densify_pts=21)
    except Exception:
        return None
    return tuple(out) if all(map(math.isfinite, out)) else None


def _source_bounds(source: _Source) -> tuple[float, float, float, float]:
    rows, cols = source.shape
    xs, ys = zip(
        *(source.transform @ (c, r) for c, r in ((0, 0), (cols, 0), (0, rows), (cols, rows))),
        strict=True,
    )
    return (min(xs), min(ys), max(xs), max(ys))


def _check_overlap(source: _Source, grid: Grid) -> None:
    src_bounds = _source_bounds(source)
    grid_bounds = tuple(grid.bounds)
    in_grid = _transform_bounds(source.crs, grid.crs, src_bounds)
    if in_grid is not None:
        a, b, crs_name = in_grid, grid_bounds, grid.crs.to_string()
    else:
        grid_in_src = _transform_bounds(grid.crs, source.crs, grid_bounds)  # type: ignore[arg-type]
        if grid_in_src is None:
            return  # cannot tell; the warp will leave NaN where there is nothing
        a, b, crs_name = src_bounds, grid_in_src, source.crs.to_string()
    if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
        return
    fmt = lambda box: "(" + ", ".join(f"{v:.6g}" for v in box) + ")"  # noqa: E731
    raise NoDataInRegionError(
        f"{source.label} does not overlap the grid: the layer's bounds are {fmt(a)} and the "
        f"grid's bounds are {fmt(b)} (left, bottom, right, top in {crs_name}). Check that "
        "the layer covers the region and that its CRS is the one the data is really in."
    )


@dataclass(frozen=True)
class _Warp:
    """Everything a tile warp needs apart from the data (picklable)."""

    src_crs_wkt: str
    src_transform: Affine
    src_shape: tuple[int, int]
    dst_crs_wkt: str
    resampling: str
    xscale: float
    yscale: float
    halo: int
    dtype: np.dtype[Any]
    #: (row, col) of the grid's first cell in the source when the source is on the grid
    #: (same CRS and cell size, edges on the grid's edges): then it is read, not warped.
    offset: tuple[int, int] | None = None


def _grid_offset(source: _Source, grid: Grid) -> tuple[int, int] | None:
    """Where ``grid`` starts in ``source``, in whole cells, if ``source`` is on ``grid``.

    GDAL's warp between identical grids copies the values (whatever the resampling), so
    such a source is read window by window instead, which is several times faster.
    """
    s, g = source.transform, grid.transform
    if (s.a, s.b, s.d, s.e) != (g.a, g.b, g.d, g.e) or s.b != 0 or s.d != 0:
        return None
    if source.crs != grid.crs:
        return None
    col, row = (g.c - s.c) / s.a, (g.f - s.f) / s.e
    if abs(col - round(col)) > 1e-9 or abs(row - round(row)) > 1e-9:
        return None
    return round(row), round(col)


def _make_warp(source: _Source, grid: Grid, resampling: str) -> _Warp:
    sx, sy = _crs_resolution_m(source.crs, source.transform, source.shape)
    tx, ty = _crs_resolution_m(grid.crs, grid.transform, grid.shape)
    xscale, yscale = sx / tx, sy / ty  # destination cells per source cell, as GDAL wants
    widen = max(1.0, 1.0 / min(xscale, yscale))
    halo = math.ceil(_KERNEL_RADIUS.get(resampling, 1) * widen) + 2
    return _Warp(
        src_crs_wkt=source.crs.to_wkt(),
        src_transform=source.transform,
        src_shape=source.shape,
        dst_crs_wkt=grid.crs.to_wkt(),
        resampling=resampling,
        xscale=xscale,
        yscale=yscale,
        halo=halo,
        dtype=source.dtype,
        offset=_grid_offset(source, grid),
    )


def _tiles(grid: Grid, rows: slice, cols: slice) -> Iterator[tuple[slice, slice]]:
    """The fixed WARP_TILE tiles of ``grid`` that overlap ``rows`` x ``cols``."""
    t = WARP_TILE
    for r0 in range(rows.start // t * t, rows.stop, t):
        for c0 in range(cols.start // t * t, cols.stop, t):
            yield slice(r0, min(r0 + t, grid.height)), slice(c0, min(c0 + t, grid.width))


def _source_window(warp: _Warp, tile: Grid) -> tuple[slice, slice] | None:
    """Rows and columns of the source a tile needs (with halo), or None if it needs none."""
    src_crs = pyproj.CRS.from_wkt(warp.src_crs_wkt)
    bounds = _transform_bounds(tile.crs, src_crs, tuple(tile.bounds))  # type: ignore[arg-type]
    height, width = warp.src_shape
    if bounds is None:
        return slice(0, height), slice(0, width)
    left, bottom, right, top = bounds
    inverse = ~warp.src_transform
    corners = [inverse @ (x, y) for x in (left, right) for y in (bottom, top)]
    cs, rs = zip(*corners, strict=True)
    c0 = max(0, math.floor(min(cs)) - warp.halo)
    c1 = min(width, math.ceil(max(cs)) + warp.halo)
    r0 = max(0, math.floor(min(rs)) - warp.halo)
    r1 = min(height, math.ceil(max(rs)) + warp.halo)
    if c1 <= c0 or r1 <= r0:
        return None
    return slice(r0, r1), slice(c0, c1)


def _warp_tile(
    block: np.ndarray | None, window: tuple[slice, slice] | None, tile: Grid, warp: _Warp
) -> np.ndarray:
    out = np.full(tile.shape, np.nan, dtype=warp.dtype)
    if block is None or window is None or block.size == 0 or not np.isfinite(block).any():
        return out
    _reproject_block(block, out, window, tile, warp)
    return out


def _reproject_block(
    block: np.ndarray, out: np.ndarray, window: tuple[slice, slice], tile: Grid, warp: _Warp
) -> None:
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    rows, cols = window
    reproject(
        np.ascontiguousarray(block, dtype=warp.dtype),
        out,
        src_transform=warp.src_transform @ Affine.translation(cols.start, rows.start),
        src_crs=warp.src_crs_wkt,
        src_nodata=np.nan,
        dst_transform=tile.transform,
        dst_crs=warp.dst_crs_wkt,
        dst_nodata=np.nan,
        resampling=Resampling[warp.resampling],
        XSCALE=repr(warp.xscale),
        YSCALE=repr(warp.yscale),
    )


def _assemble(
    rows: slice,
    cols: slice,
    grid: Grid,
    warp: _Warp,
    pieces: list[tuple[tuple[slice, slice], tuple[slice, slice] | None, np.ndarray | None]],
) -> np.ndarray:
    """Warp each tile and copy the part that falls inside ``rows`` x ``cols``."""
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=warp.dtype)
    for (tr, tc), window, block in pieces:
        tile = _warp_tile(block, window, grid.window(tr, tc), warp)
        r0, r1 = max(rows.start, tr.start), min(rows.stop, tr.stop)
        c0, c1 = max(cols.start, tc.start), min(cols.stop, tc.stop)
        out[r0 - rows.start : r1 - rows.start, c0 - cols.start : c1 - cols.start] = tile[
            r0 - tr.start : r1 - tr.start, c0 - tc.start : c1 - tc.start
        ]
    return out


@dataclass(frozen=True)
class _FileChunk:
    """Picklable task: warp the tiles of one output chunk, reading the file inside."""

    path: str
    band: int
    grid: Grid
    warp: _Warp

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        import rasterio

        if self.warp.offset is not None:
            return self._read(rows, cols)
        with rasterio.Env(), _open(self.path) as src:
            pieces = []
            for tr, tc in _tiles(self.grid, rows, cols):
                window = _source_window(self.warp, self.grid.window(tr, tc))
                block = (
                    None
                    if window is None
                    else _read_window(src, self.band, *window, self.warp.dtype, self.path)
                )
                pieces.append(((tr, tc), window, block))
        return _assemble(rows, cols, self.grid, self.warp, pieces)

    def _read(self, rows: slice, cols: slice) -> np.ndarray:
        """The cells of a source on the grid: read directly, NaN outside the source."""
        assert self.warp.offset is not None
        dr, dc = self.warp.offset
        height, width = self.warp.src_shape
        out = np.full((rows.stop - rows.start, cols.stop - cols.start), np.nan, self.warp.dtype)
        r0, r1 = max(rows.start + dr, 0), min(rows.stop + dr, height)
        c0, c1 = max(cols.start + dc, 0), min(cols.stop + dc, width)
        if r1 > r0 and c1 > c0:
            with _open(self.path) as src:
                block = _read_window(
                    src, self.band, slice(r0, r1), slice(c0, c1), self.warp.dtype, self.path
                )
            out[
                r0 - dr - rows.start : r1 - dr - rows.start,
                c0 - dc - cols.start : c1 - dc - cols.start,
            ] = block
        return out


def _array_pieces(
    source: _Source, grid: Grid, warp: _Warp, rows: slice, cols: slice
) -> list[tuple[tuple[slice, slice], tuple[slice, slice] | None, Any]]:
    pieces = []
    for tr, tc in _tiles(grid, rows, cols):
        window = _source_window(warp, grid.window(tr, tc))
        block = None if window is None else source.array[window]
        pieces.append(((tr, tc), window, block))
    return pieces


def align(
    source: PathLike | xr.DataArray,
    grid: Grid,
    *,
    kind: LayerKind | str,
    resampling: str | None = None,
    name: str | None = None,
    chunks: int | tuple[int, int] | None = None,
    band: int = 1,
) -> xr.DataArray:
    """Reproject and resample a raster onto ``grid`` (the library's "align" verb).

    Parameters
    ----------
    source
        A raster file (any GDAL format) or a georeferenced ``(y, x)`` DataArray. Its nodata
        (file nodata or mask; ``rio.nodata`` or NaN for a DataArray) is never used as a
        value.
    grid
        The target grid.
    kind
        ``"continuous"`` or ``"categorical"`` (:class:`LayerKind`). Required: it decides
        which resamplings are allowed and which one is chosen.
    resampling
        A GDAL resampling name allowed for ``kind`` (:data:`CONTINUOUS_RESAMPLING`,
        :data:`CATEGORICAL_RESAMPLING`). ``None`` (default) applies
        :func:`choose_resampling` to the source and target cell sizes in metres.
    name
        Name of the result (default: the DataArray's name or the file's stem).
    chunks
        ``None`` computes in memory. An int or ``(rows, cols)`` returns a lazy dask array
        of that chunk shape; each chunk is warped independently from only the window of
        the source it needs, so memory is bounded by the chunk size. The result is
        bit-identical to the in-memory one (both are computed in the same fixed
        :data:`WARP_TILE` tiles; chunks that are multiples of it compute each tile once).
    band
        Band number of a file source, from 1.

    Returns
    -------
    xarray.DataArray
        float32 (float64 if the source is float64) on ``grid``: cell-centre coordinates,
        CRS and transform written, NaN where there is no data (source nodata or outside
        the source). attrs: ``kind``, ``resampling`` (the one used), ``source`` and, when
        the source declares one, ``nodata``. ``Grid.from_xarray(result) == grid``.

    Raises
    ------
    InvalidLayerError
        If ``kind`` is unknown or ``resampling`` is not allowed for it.
    CRSError
        If the source has no CRS.
    NoDataInRegionError
        If the source does not overlap the grid at all.
    LayerIOError
        If a file source cannot be read.

    Examples
    --------
    >>> from siting.testing import category_field, coordinate_image, small_grid
    >>> fine = small_grid(shape=(6, 6), resolution=30)
    >>> coarse = small_grid(shape=(2, 2), resolution=90)
    >>> out = align(coordinate_image(fine), coarse, kind="continuous")
    >>> out.attrs["resampling"], out.values[0].tolist()
    ('average', [1000045.0, 1000135.0])
    >>> codes = align(category_field(fine, categories=(1, 2)), coarse, kind="categorical")
    >>> codes.attrs["resampling"], set(codes.values.ravel().tolist()) <= {1.0, 2.0}
    ('mode', True)
    """
    kind_ = _as_kind(kind)
    if not isinstance(grid, Grid):
        raise GridError(
            f"grid must be a siting.grid.Grid, got {type(grid).__name__}; build one with "
            "Grid.from_bounds(...) or take it from a layer with grid_of(layer)."
        )
    if isinstance(source, xr.DataArray):
        src = _source_from_dataarray(source)
        default_name = source.name
        source_attr = source.attrs.get("source", src.label)
    elif isinstance(source, str | os.PathLike):
        src = _source_from_path(os.fspath(source), band)
        default_name = Path(os.fspath(source)).stem
        source_attr = src.path
    else:
        raise InvalidLayerError(
            f"source must be a raster path or a georeferenced xarray.DataArray, got "
            f"{type(source).__name__}"
        )
    if resampling is None:
        resampling_ = choose_resampling(
            kind_,
            _crs_resolution_m(src.crs, src.transform, src.shape),
            _crs_resolution_m(grid.crs, grid.transform, grid.shape),
        )
    else:
        resampling_ = _check_resampling(kind_, resampling)
    _check_overlap(src, grid)
    warp = _make_warp(src, grid, resampling_)

    full = (slice(0, grid.height), slice(0, grid.width))
    data: Any
    if src.path is not None:
        task = _FileChunk(src.path, src.band, grid, warp)
        data = task(*full) if chunks is None else _lazy_blocks(task, grid.shape, chunks, src.dtype)
    elif chunks is None:
        pieces = _array_pieces(src, grid, warp, *full)
        pieces = [(tiles, window, _compute(block)) for tiles, window, block in pieces]
        data = _assemble(*full, grid, warp, pieces)
    else:
        data = _lazy_array_align(src, grid, warp, chunks)

    attrs: dict[str, Any] = {
        "kind": kind_.value,
        "resampling": resampling_,
        "source": str(source_attr),
    }
    if src.nodata is not None and not (isinstance(src.nodata, float) and math.isnan(src.nodata)):
        attrs["nodata"] = src.nodata
    return _to_dataarray(
        data, grid, name if name is not None else _name_or_none(default_name), attrs
    )


def _name_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _compute(block: Any) -> np.ndarray | None:
    if block is None:
        return None
    return np.asarray(block.compute() if hasattr(block, "compute") else block)


def _lazy_array_align(
    source: _Source, grid: Grid, warp: _Warp, chunks: int | tuple[int, int]
) -> Any:
    import dask
    import dask.array as da

    array = source.array
    if not hasattr(array, "dask"):
        array = da.from_array(array, chunks=array.shape)  # the source is put in the graph once
    src = dataclasses.replace(source, array=array)
    row_slices, col_slices = _chunk_slices(grid.shape, chunks)
    blocks = [
        [
            da.from_delayed(
                dask.delayed(_assemble, pure=True)(
                    rows, cols, grid, warp, _array_pieces(src, grid, warp, rows, cols)
                ),
                shape=(rows.stop - rows.start, cols.stop - cols.start),
                dtype=warp.dtype,
            )
            for cols in col_slices
        ]
        for rows in row_slices
    ]
    return da.block(blocks)


# -- vectors ----------------------------------------------------------------------------------


def _vector_in_grid_crs(features: Any, grid: Grid, what: str) -> gpd.GeoSeries | Any:
    import geopandas as gpd

    if not isinstance(features, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InvalidLayerError(
            f"{what} needs a GeoDataFrame or GeoSeries, got {type(features).__name__}"
        )
    if features.crs is None:
        raise CRSError(
            f"the {type(features).__name__} given to {what} has no CRS. Set the CRS it is in "
            "with .set_crs('EPSG:4326') (or whatever it really is); a CRS is never guessed."
        )
    return features.to_crs(grid.crs)


def rasterize(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: Grid,
    *,
    column: str | None = None,
    value: float = 1.0,
    fill: float = np.nan,
    all_touched: bool = False,
    name: str | None = None,
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """Burn vector features onto ``grid``.

    The features are reprojected to the grid's CRS first. A cell is burned when its centre
    falls inside a polygon (or, with ``all_touched=True``, whenever a feature touches it).
    **Overlaps: later rows win** — a feature overwrites whatever earlier rows burned; sort
    the GeoDataFrame to control which value wins. Rows with an empty or missing geometry,
    or a missing value in ``column``, are skipped.

    Parameters
    ----------
    features
        GeoDataFrame (or GeoSeries) with a CRS.
    grid
        The target grid.
    column
        Numeric column whose values are burned; ``None`` burns ``value`` everywhere.
    value
        Constant burned when ``column`` is None.
    fill
        Value of cells no feature touches (default NaN).
    all_touched
        Burn every cell a feature touches, not just those whose centre it covers.
    name
        Name of the result (default: ``column`` or ``"rasterized"``).
    chunks
        ``None`` burns in memory. An int or ``(rows, cols)`` returns a lazy dask array;
        each chunk burns only the features that reach it, so memory is bounded by the
        chunk size.

    Returns
    -------
    xarray.DataArray
        float64 when the column is 64-bit numeric (float64, int64, uint64), otherwise
        float32; CRS and transform written.

    Raises
    ------
    CRSError
        If ``features`` has no CRS.
    InvalidLayerError
        If ``column`` is missing or not numeric, or ``features`` is not a GeoDataFrame.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(2, 4), resolution=10, origin=(0, 20))
    >>> shapes = [box(0, 0, 30, 20), box(20, 0, 40, 20)]
    >>> zones = gpd.GeoDataFrame({"code": [1, 2]}, geometry=shapes, crs="EPSG:5070")
    >>> rasterize(zones, grid, column="code").values.tolist()
    [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]
    """
    from rasterio.features import rasterize as burn

    frame = _vector_in_grid_crs(features, grid, "rasterize")
    geoms = frame.geometry if hasattr(frame, "geometry") else frame
    dtype: np.dtype[Any] = np.dtype("float32")
    if column is None:
        values = np.full(len(geoms), float(value), dtype="float64")
    else:
        if not hasattr(frame, "columns") or column not in frame.columns:
            present = list(getattr(frame, "columns", []))
            raise InvalidLayerError(
                f"column {column!r} is not in the GeoDataFrame; its columns are {present}."
            )
        series = frame[column]
        if getattr(series.dtype, "kind", "O") not in "biuf":
            raise InvalidLayerError(
                f"column {column!r} has dtype {series.dtype}, but rasterize burns numbers. "
                "Map the labels to numeric codes first, for example "
                f"gdf[{column!r}].astype('category').cat.codes."
            )
        if getattr(series.dtype, "itemsize", 8) >= 8:
            dtype = np.dtype("float64")
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    keep = ~(geoms.isna() | geoms.is_empty).to_numpy() & ~np.isnan(values)
    if chunks is not None:
        task = _BurnChunk(
            geoms[keep].to_numpy(), values[keep], grid, float(fill), all_touched, dtype
        )
        array = xr.DataArray(
            _lazy_blocks(task, grid.shape, chunks, dtype), coords=grid.coords(), dims=("y", "x")
        )
        array.name = name if name is not None else (column or "rasterized")
        return grid.georeference(array)
    shapes = list(zip(geoms[keep], values[keep], strict=True))
    if shapes:
        data = burn(
            shapes,
            out_shape=grid.shape,
            transform=grid.transform,
            fill=fill,
            all_touched=all_touched,
            dtype=dtype,
        )
    else:
        data = np.full(grid.shape, fill, dtype=dtype)
    array = xr.DataArray(data, coords=grid.coords(), dims=("y", "x"))
    array.name = name if name is not None else (column or "rasterized")
    return grid.georeference(array)


@dataclass(frozen=True)
class _BurnChunk:
    """Picklable task: burn the features that reach one chunk of the grid, in their order."""

    geoms: np.ndarray
    values: np.ndarray
    grid: Grid
    fill: float
    all_touched: bool
    dtype: np.dtype[Any]

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        import shapely
        from rasterio.features import rasterize as burn

        window = self.grid.window(rows, cols)
        left, bottom, right, top = window.bounds
        # A cell is burned only by a feature reaching into it (all_touched) or over its
        # centre, both within the chunk's bounds.
        hits = np.sort(self._tree().query(shapely.box(left, bottom, right, top)))
        if len(hits) == 0:
            return np.full(window.shape, self.fill, dtype=self.dtype)
        shapes = list(zip(self.geoms[hits], self.values[hits], strict=True))
        return burn(
            shapes,
            out_shape=window.shape,
            transform=window.transform,
            fill=self.fill,
            all_touched=self.all_touched,
            dtype=self.dtype,
        )

    def _tree(self) -> Any:
        import shapely

        return _built_once(self, "_strtree", lambda: shapely.STRtree(self.geoms))


def _built_once(task: Any, key: str, build: Callable[[], Any]) -> Any:
    """``build()``, kept on a frozen task object: tasks sharing it on a worker build it once."""
    value = task.__dict__.get(key)
    if value is None:
        value = build()
        object.__setattr__(task, key, value)
    return value


def _cell_coverage(geometry: Any, grid: Grid) -> np.ndarray:
    """Exact covered fraction of each cell of ``grid`` by one (multi)polygon, with exactextract."""
    import geopandas as gpd
    from exactextract import exact_extract  # type: ignore[import-untyped]
    from exactextract.raster import NumPyRasterSource  # type: ignore[import-untyped]

    fraction = np.zeros(grid.size, dtype="float64")
    raster = NumPyRasterSource(
        np.broadcast_to(np.float64(0.0), grid.shape), *grid.bounds, srs_wkt=grid.crs.to_wkt()
    )
    frame = gpd.GeoDataFrame(geometry=[geometry], crs=grid.crs)
    result = exact_extract(raster, frame, ["cell_id", "coverage"], output="pandas")
    ids = np.asarray(result["cell_id"].iloc[0], dtype=np.int64)
    cover = np.asarray(result["coverage"].iloc[0], dtype="float64")
    fraction[ids] = np.minimum(cover, 1.0)
    return fraction.reshape(grid.shape)


@dataclass(frozen=True)
class _CoverChunk:
    """Picklable task: exact coverage of one chunk of the grid by the parts that reach it.

    ``parts`` are the disjoint polygons of the union, in the union's order, so no chunk
    needs a union of its own. exactextract rounds each ring's fractions to float32 from
    sums over the ring's own vertices, so a ring that crosses the chunk is measured whole:
    clipped, it could change the last bit. The rest is left out or simplified exactly:
    holes that do not reach the chunk add nothing to it, and a shell that holds the chunk
    (and a margin of one cell) without crossing it adds exactly 1 to every cell of it, as
    a rectangle around the chunk does.
    """

    parts: np.ndarray
    grid: Grid

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        import shapely

        window = self.grid.window(rows, cols)
        left, bottom, right, top = window.bounds
        xres, yres = window.resolution
        # one cell of margin: a ring touching the chunk's edge is kept
        reach = (left - xres, bottom - yres, right + xres, top + yres)
        around = shapely.box(*reach)
        hits = np.sort(self._tree().query(around))
        polygons = [self._reaching(int(i), around, reach) for i in hits]
        kept = [polygon for polygon in polygons if polygon is not None]
        if not kept:
            return np.zeros(window.shape, dtype="float64")
        return _cell_coverage(shapely.multipolygons(kept), window)

    def _reaching(self, index: int, around: Any, reach: tuple[float, float, float, float]) -> Any:
        """Part ``index`` as it acts on the chunk (None when it does not reach it)."""
        import shapely

        part = self.parts[index]
        shell = self._shells()[index]
        rings, bounds = self._holes()[index]
        if shapely.contains_properly(shell, around):
            outline = shapely.get_exterior_ring(around)  # the chunk lies inside the shell
        elif shapely.intersects(shell, around):
            outline = None  # the shell crosses the chunk: measured whole
        else:
            return None
        keep = (
            (bounds[:, 0] <= reach[2])
            & (bounds[:, 2] >= reach[0])
            & (bounds[:, 1] <= reach[3])
            & (bounds[:, 3] >= reach[1])
        )
        if outline is None:
            if keep.all():
                return part
            outline = shapely.get_exterior_ring(part)
        return shapely.polygons(outline, holes=rings[keep])

    def _shells(self) -> np.ndarray:
        """Per part: its shell as a prepared polygon, this thread's own copy."""
        return _built_once(self, "_part_shells", PerThread).get(self._build_shells)

    def _build_shells(self) -> np.ndarray:
        import shapely

        shells = np.asarray(shapely.polygons(shapely.get_exterior_ring(self.parts)))
        shapely.prepare(shells)
        return shells

    def _holes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per part: its holes and their bounds (read-only, shared by threads)."""
        return _built_once(self, "_part_holes", self._build_holes)

    def _build_holes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        import shapely

        holes = []
        for part in self.parts:
            n = shapely.get_num_interior_rings(part)
            rings = shapely.get_interior_ring(np.repeat(part, n), np.arange(n))
            holes.append((rings, shapely.bounds(rings).reshape(n, 4)))
        return holes

    def _tree(self) -> Any:
        import shapely

        return _built_once(self, "_strtree", lambda: shapely.STRtree(self.parts))


def coverage_fraction(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: Grid,
    *,
    name: str | None = None,
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """Exact fraction (0..1) of each cell's area covered by the union of ``polygons``.

    The polygons are reprojected to the grid's CRS and unioned first, so overlapping
    polygons never count twice. Fractions are computed exactly (polygon clipping, by
    ``exactextract``), not by supersampling; they are fractions of the cell's area in the
    grid's CRS.

    Parameters
    ----------
    polygons
        GeoDataFrame or GeoSeries of polygons, with a CRS. Non-polygon geometries cover
        no area.
    grid
        The target grid.
    name
        Name of the result (default ``"coverage_fraction"``).
    chunks
        ``None`` computes the whole grid in memory. An int or ``(rows, cols)`` returns a
        lazy dask-backed array computed chunk by chunk: the union is built once, and each
        chunk measures the union's parts that reach it on its own window of the grid, so
        no task holds more than one chunk of cells. The values equal the in-memory ones.

    Returns
    -------
    xarray.DataArray
        float64, 0 where nothing is covered; CRS and transform written.

    Raises
    ------
    CRSError
        If ``polygons`` has no CRS.
    InvalidLayerError
        If ``chunks`` is not positive.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(1, 2), resolution=10, origin=(0, 10))
    >>> square = gpd.GeoSeries([box(5, 0, 10, 10)], crs="EPSG:5070")
    >>> coverage_fraction(square, grid).values.tolist()
    [[0.5, 0.0]]
    >>> coverage_fraction(square, grid, chunks=1).values.tolist()
    [[0.5, 0.0]]
    """
    import geopandas as gpd
    import shapely

    series = _vector_in_grid_crs(polygons, grid, "coverage_fraction")
    geoms = series.geometry if isinstance(series, gpd.GeoDataFrame) else series
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    union = shapely.union_all(polys) if polys else None
    covered = union is not None and not union.is_empty
    data: Any
    if chunks is not None:
        _chunk_slices(grid.shape, chunks)  # refuses chunks that are not positive
        if covered:
            parts = shapely.get_parts(union)
            task = _CoverChunk(parts[shapely.get_type_id(parts) == 3], grid)
            data = _lazy_blocks(task, grid.shape, chunks, np.dtype("float64"))
        else:
            import dask.array as da

            data = da.zeros(grid.shape, dtype="float64", chunks=chunks)
    elif covered:
        data = _cell_coverage(union, grid)
    else:
        data = np.zeros(grid.shape, dtype="float64")
    array = xr.DataArray(data, coords=grid.coords(), dims=("y", "x"))
    array.name = name if name is not None else "coverage_fraction"
    return grid.georeference(array)


# -- the stack --------------------------------------------------------------------------------


def build_stack(layers: Mapping[str, xr.DataArray], grid: Grid | None = None) -> xr.Dataset:
    """Combine layers that share one grid into a Dataset ("the stack").

    Parameters
    ----------
    layers
        Name -> ``(y, x)`` DataArray. Each keeps its attrs (``kind``, ``nodata`` ...) and
        takes its key as its name.
    grid
        If given, every layer must be on exactly this grid; otherwise they must all be on
        the grid of the first layer.

    Returns
    -------
    xarray.Dataset
        With the grid's CRS and transform written (``ds.rio.crs`` works).

    Raises
    ------
    GridError
        If a layer is not on the same grid, naming the layer and both grids (align it
        first with :func:`align`), or if there is nothing to stack.
    CRSError
        If a layer has no CRS.

    Examples
    --------
    >>> from siting.testing import category_field, random_field, small_grid
    >>> grid = small_grid()
    >>> stack = build_stack({"ghi": random_field(grid), "land": category_field(grid)})
    >>> sorted(stack.data_vars), stack.rio.crs.to_epsg()
    (['ghi', 'land'], 5070)
    """
    if not layers and grid is None:
        raise GridError("build_stack got no layers and no grid: there is nothing to stack.")
    reference, reference_name = grid, "the grid given"
    arrays: dict[str, xr.DataArray] = {}
    for key, layer in layers.items():
        if not isinstance(layer, xr.DataArray):
            raise InvalidLayerError(
                f"layer {key!r} is a {type(layer).__name__}, expected an xarray.DataArray"
            )
        if layer.dims != ("y", "x"):
            raise GridError(f"layer {key!r} has dims {layer.dims}; expected ('y', 'x').")
        try:
            layer_grid = Grid.from_xarray(layer)
        except CRSError as exc:
            raise CRSError(f"layer {key!r}: {exc}") from None
        if reference is None:
            reference, reference_name = layer_grid, f"layer {next(iter(layers))!r}"
        elif layer_grid != reference:
            raise GridError(
                f"layer {key!r} is on {layer_grid!r}, but {reference_name} is on "
                f"{reference!r}. Align it first: siting.layers.align(layer, grid, kind=...)."
            )
        clean = layer.drop_vars("spatial_ref", errors="ignore").assign_coords(reference.coords())
        clean.attrs = {k: v for k, v in layer.attrs.items() if k != "grid_mapping"}
        clean.encoding = {k: v for k, v in layer.encoding.items() if k != "grid_mapping"}
        arrays[str(key)] = clean.rename(str(key))
    assert reference is not None
    dataset = xr.Dataset(arrays, coords=reference.coords())
    return reference.georeference(dataset)


#: Interpolation methods of :func:`points_to_grid`.
INTERPOLATION_METHODS = ("nearest", "linear", "idw")

# Cell centres evaluated at once by points_to_grid (bounds its memory on large grids).
_CELLS_PER_BLOCK = 1_000_000


def points_to_grid(
    points: gpd.GeoDataFrame,
    column: str,
    grid: Grid,
    *,
    method: Literal["nearest", "linear", "idw"],
    power: float = 2.0,
    k: int = 8,
    max_distance_m: float | None = None,
) -> xr.DataArray:
    """Interpolate point values (e.g. NSRDB/WTK sites) onto the cells of a grid.

    Points are reprojected to the grid's CRS, which must be projected (distances are never
    computed in degrees); values are evaluated at cell centres. Points with a missing value
    in ``column`` are ignored.

    Parameters
    ----------
    points
        Point GeoDataFrame with a CRS.
    column
        Numeric column to interpolate.
    grid
        Target grid (projected CRS).
    method
        Required; there is no default because the choice changes the result:

        - ``"nearest"``: value of the nearest point (Voronoi cells; exact, blocky);
        - ``"linear"``: barycentric interpolation on the Delaunay triangulation
          (:class:`scipy.interpolate.LinearNDInterpolator`), NaN outside the convex hull
          of the points;
        - ``"idw"``: inverse-distance weighting of the ``k`` nearest points with weights
          ``1 / d**power``; a cell centre on a point takes that point's value.
    power
        IDW exponent (``> 0``).
    k
        IDW neighbour count (``>= 1``; capped at the number of points).
    max_distance_m
        Cells whose centre is farther than this (metres) from every point are NaN.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` float64 on ``grid`` (CRS and transform written for rioxarray), named
        ``column``, with ``attrs`` ``method`` (and ``power``, ``k``, ``max_distance_m``).

    Raises
    ------
    InvalidLayerError
        Unknown method, missing or non-numeric column, bad ``power``/``k``/``max_distance_m``,
        fewer than 3 non-collinear points for ``linear``, or no valid points.
    CRSError
        Points without a CRS, or a geographic grid.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from siting.grid import Grid
    >>> pts = gpd.GeoDataFrame({"v": [1.0, 3.0]},
    ...     geometry=gpd.points_from_xy([50, 250], [50, 50]), crs="EPSG:5070")
    >>> grid = Grid.from_bounds((0, 0, 300, 100), 100, crs="EPSG:5070")
    >>> points_to_grid(pts, "v", grid, method="nearest").values.tolist()
    [[1.0, 1.0, 3.0]]
    """
    import geopandas as gpd
    import pandas as pd
    from scipy.spatial import cKDTree

    if method not in INTERPOLATION_METHODS:
        raise InvalidLayerError(
            f"method must be one of {list(INTERPOLATION_METHODS)}, got {method!r}."
        )
    if not isinstance(points, gpd.GeoDataFrame):
        raise InvalidLayerError(f"points must be a GeoDataFrame, got {type(points).__name__}.")
    if column not in points.columns:
        raise InvalidLayerError(
            f"points have no column {column!r}; columns: {list(points.columns)}."
        )
    if points.crs is None:
        raise CRSError("points have no CRS; set it with .set_crs(...) (NREL meta is EPSG:4326).")
    if not (isinstance(power, int | float) and power > 0):
        raise InvalidLayerError(f"power must be a positive number, got {power!r}.")
    if not (isinstance(k, int) and k >= 1):
        raise InvalidLayerError(f"k must be a positive integer, got {k!r}.")
    if max_distance_m is not None and not (
        isinstance(max_distance_m, int | float) and max_distance_m > 0
    ):
        raise InvalidLayerError(
            f"max_distance_m must be a positive number or None, got {max_distance_m!r}."
        )
    unit_m = grid.metres_per_unit  # CRSError for a geographic grid
    try:
        values = pd.to_numeric(points[column]).to_numpy(dtype="float64")
    except (ValueError, TypeError) as exc:
        raise InvalidLayerError(f"column {column!r} is not numeric: {exc}") from exc
    geoms = points.geometry.to_crs(grid.crs)
    if not (geoms.geom_type == "Point").all():
        raise InvalidLayerError("points must contain only Point geometries.")
    xy = np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])
    ok = np.isfinite(values) & np.isfinite(xy).all(axis=1)
    xy, values = xy[ok], values[ok]
    if values.size == 0:
        raise InvalidLayerError(f"no point has a finite {column!r} and location.")

    tree = cKDTree(xy)
    interpolator: Any = None
    if method == "linear":
        from scipy.interpolate import LinearNDInterpolator
        from scipy.spatial import QhullError

        try:
            interpolator = LinearNDInterpolator(xy, values, fill_value=np.nan)
        except (QhullError, ValueError) as exc:
            raise InvalidLayerError(
                f"linear interpolation needs at least 3 points not on one line ({exc}); "
                "use method='nearest' or 'idw'."
            ) from None
    kk = min(k, values.size)
    out = np.empty(grid.shape, dtype="float64")
    step = max(1, _CELLS_PER_BLOCK // grid.width)  # bounded memory on large grids
    cols = np.arange(grid.width)
    for start in range(0, grid.height, step):
        rows = np.arange(start, min(start + step, grid.height))
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        cx, cy = grid.xy(rr.ravel(), cc.ravel())
        centres = np.column_stack([cx, cy])
        nearest_d, nearest_i = tree.query(centres, k=1)
        if method == "nearest":
            block = values[nearest_i]
        elif method == "idw":
            dist, idx = tree.query(centres, k=kk)
            dist, idx = dist.reshape(len(centres), kk), idx.reshape(len(centres), kk)
            with np.errstate(divide="ignore"):
                weights = 1.0 / dist**power
            exact = dist[:, 0] == 0
            weights[exact] = 0.0
            weights[exact, 0] = 1.0
            block = (weights * values[idx]).sum(axis=1) / weights.sum(axis=1)
        else:
            block = np.asarray(interpolator(centres), dtype="float64")
        if max_distance_m is not None:
            block = np.where(nearest_d * unit_m > max_distance_m, np.nan, block)
        out[rows[0] : rows[-1] + 1] = block.reshape(len(rows), grid.width)
    array = grid.to_xarray(name=column, dtype="float64")
    array = array.copy(data=out)
    attrs: dict[str, Any] = {"method": method}
    if method == "idw":
        attrs.update(power=float(power), k=int(k))
    if max_distance_m is not None:
        attrs["max_distance_m"] = float(max_distance_m)
    array.attrs.update(attrs)
    return array
