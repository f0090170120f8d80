"""The :class:`Grid`: the single source of georeferencing truth.

A grid is a CRS, a north-up affine transform and a shape ``(rows, cols)``. Every raster the
library makes lives on one, and two grids are equal only when all three match exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyproj
from affine import Affine

from siting._typing import CRSLike
from siting.errors import CRSError, GridError

if TYPE_CHECKING:
    import xarray as xr
    from shapely.geometry.base import BaseGeometry

__all__ = ["US_EQUAL_AREA", "BoundingBox", "Grid", "Tile", "as_crs"]

#: Default CRS for US analyses: CONUS Albers equal-area (NAD83), metres.
US_EQUAL_AREA = "EPSG:5070"

# Coordinates closer than this fraction of a cell to a cell edge count as on the edge,
# so that floating-point noise never adds a sliver row or column.
_SNAP_TOLERANCE = 1e-6


class BoundingBox(NamedTuple):
    """Bounds in the order (left, bottom, right, top), as in rasterio."""

    left: float
    bottom: float
    right: float
    top: float


class Tile(NamedTuple):
    """A rectangular piece of a grid: where it sits (row and column slices) and its own grid."""

    rows: slice
    cols: slice
    grid: Grid


def as_crs(crs: CRSLike | None, *, what: str = "crs") -> pyproj.CRS:
    """Normalise anything that names a CRS to a :class:`pyproj.CRS`.

    Raises
    ------
    CRSError
        If ``crs`` is None or not understood. A CRS is never guessed.
    """
    if crs is None:
        raise CRSError(
            f"{what}: no CRS was given. A CRS is never guessed; set one explicitly, "
            "for example 'EPSG:5070' (US equal-area) or 'EPSG:4326' (longitude/latitude)."
        )
    try:
        if isinstance(crs, str):
            return _parse_crs_text(crs)
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"{what}: {crs!r} is not a valid CRS ({exc}). "
            "Use an authority code such as 'EPSG:5070', a WKT string, or a pyproj.CRS."
        ) from None


@functools.lru_cache(maxsize=256)
def _parse_crs_text(text: str) -> pyproj.CRS:
    # Parsing WKT costs milliseconds and every georeferenced array carries its CRS as text;
    # pyproj CRS objects are immutable, so one parse per distinct text is enough.
    return pyproj.CRS.from_user_input(text)


def _metres_per_unit(crs: pyproj.CRS, *, what: str) -> float:
    if not crs.is_projected:
        raise CRSError(
            f"{what} needs a projected CRS in linear units, but the grid's CRS "
            f"{crs.to_string()!r} is geographic (degrees). Reproject to an equal-area CRS "
            f"such as {US_EQUAL_AREA!r} first."
        )
    return float(crs.axis_info[0].unit_conversion_factor)


def _resolution_pair(resolution: float | tuple[float, float]) -> tuple[float, float]:
    pair = (resolution, resolution) if isinstance(resolution, int | float) else resolution
    try:
        xres, yres = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise GridError(
            f"resolution must be a number or an (x, y) pair of numbers, got {resolution!r}"
        ) from None
    if not (math.isfinite(xres) and math.isfinite(yres) and xres > 0 and yres > 0):
        raise GridError(
            f"resolution must be positive and finite, got {resolution!r}. "
            "Give the cell size in the CRS's units, for example 90 (metres)."
        )
    return xres, yres


def _snap_down(value: float, step: float) -> float:
    k = value / step
    nearest = round(k)
    return (nearest if abs(k - nearest) < _SNAP_TOLERANCE else math.floor(k)) * step


def _snap_up(value: float, step: float) -> float:
    k = value / step
    nearest = round(k)
    return (nearest if abs(k - nearest) < _SNAP_TOLERANCE else math.ceil(k)) * step


class Grid:
    """A raster grid: CRS, north-up affine transform and shape ``(rows, cols)``.

    Grids are immutable, comparable and hashable, so they can key caches and be checked
    for alignment with ``==``.

    Parameters
    ----------
    crs
        Anything that names a CRS (see :func:`as_crs`).
    transform
        North-up :class:`affine.Affine`: positive cell width, negative cell height, no rotation.
    shape
        ``(rows, cols)``, both positive.

    Examples
    --------
    >>> grid = Grid.from_bounds((0, 0, 1000, 500), 100, crs="EPSG:5070")
    >>> grid.shape
    (5, 10)
    >>> grid.cell_area_m2
    10000.0
    >>> grid.bounds
    BoundingBox(left=0.0, bottom=0.0, right=1000.0, top=500.0)
    """

    __slots__ = ("_crs", "_hash", "_shape", "_transform")

    _crs: pyproj.CRS
    _transform: Affine
    _shape: tuple[int, int]
    _hash: int | None

    def __init__(self, crs: CRSLike, transform: Affine, shape: tuple[int, int]) -> None:
        crs_ = as_crs(crs, what="Grid")
        if not isinstance(transform, Affine):
            raise GridError(f"transform must be an affine.Affine, got {type(transform).__name__}")
        if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
            raise GridError(
                f"Grid needs a north-up transform (positive width, negative height, no "
                f"rotation), got {tuple(transform)[:6]}. Warp rotated rasters onto a north-up "
                "grid with siting.layers.align."
            )
        rows, cols = (int(n) for n in shape)
        if rows <= 0 or cols <= 0 or (rows, cols) != tuple(shape):
            raise GridError(f"shape must be two positive integers (rows, cols), got {shape!r}")
        object.__setattr__(self, "_crs", crs_)
        object.__setattr__(self, "_transform", transform)
        object.__setattr__(self, "_shape", (rows, cols))
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Grid is immutable; build a new one instead")

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        resolution: float | tuple[float, float],
        crs: CRSLike = US_EQUAL_AREA,
        *,
        snap: bool = True,
    ) -> Grid:
        """Grid covering ``bounds`` (left, bottom, right, top) at ``resolution``.

        With ``snap=True`` (default) pixel edges fall on whole multiples of the resolution,
        so grids built from different bounds at the same resolution always align; the grid
        grows outward to cover the bounds. With ``snap=False`` the grid starts exactly at
        (left, top) and covers the bounds with whole cells.
        """
        left, bottom, right, top = (float(v) for v in bounds)
        if not all(map(math.isfinite, (left, bottom, right, top))):
            raise GridError(f"bounds must be finite numbers, got {bounds!r}")
        if right <= left or top <= bottom:
            raise GridError(
                f"bounds {bounds!r} are empty or inverted: expected (left, bottom, right, top) "
                "with left < right and bottom < top."
            )
        xres, yres = _resolution_pair(resolution)
        if snap:
            left, right = _snap_down(left, xres), _snap_up(right, xres)
            bottom, top = _snap_down(bottom, yres), _snap_up(top, yres)
        cols = (
            max(1, round((right - left) / xres))
            if snap
            else math.ceil((right - left) / xres - _SNAP_TOLERANCE)
        )
        rows = (
            max(1, round((top - bottom) / yres))
            if snap
            else math.ceil((top - bottom) / yres - _SNAP_TOLERANCE)
        )
        if rows * cols > 10**11:
            raise GridError(
                f"a grid of {rows} x {cols} cells at resolution {resolution!r} is too large; "
                "check that bounds and resolution are in the same units as the CRS."
            )
        return cls(crs, Affine(xres, 0.0, left, 0.0, -yres, top), (rows, cols))

    @classmethod
    def from_geometry(
        cls,
        geometry: BaseGeometry | Any,
        resolution: float | tuple[float, float],
        crs: CRSLike = US_EQUAL_AREA,
        *,
        geometry_crs: CRSLike | None = None,
    ) -> Grid:
        """Snapped grid in ``crs`` covering a region geometry.

        ``geometry`` is a shapely geometry (then ``geometry_crs`` is required: a CRS is never
        guessed) or a GeoSeries/GeoDataFrame carrying its own CRS. The geometry is reprojected
        to ``crs`` (default EPSG:5070, equal-area for the US) before its bounds are taken.
        """
        import geopandas as gpd

        if isinstance(geometry, gpd.GeoDataFrame | gpd.GeoSeries):
            if geometry.crs is None:
                raise CRSError(
                    "the region GeoDataFrame/GeoSeries has no CRS. Set the CRS it is in with "
                    ".set_crs('EPSG:4326') (or whatever it really is) before building a Grid."
                )
            series = geometry.geometry if isinstance(geometry, gpd.GeoDataFrame) else geometry
        else:
            if geometry_crs is None:
                raise CRSError(
                    "a bare shapely geometry has no CRS: pass geometry_crs= (for example "
                    "'EPSG:4326' for longitude/latitude) or give a GeoSeries with its CRS set."
                )
            series = gpd.GeoSeries([geometry], crs=as_crs(geometry_crs, what="geometry_crs"))
        series = series[~(series.is_empty | series.isna())]
        if series.empty:
            raise GridError("the region geometry is empty; give a region with a non-zero area.")
        target = as_crs(crs, what="Grid crs")
        left, bottom, right, top = series.to_crs(target).total_bounds
        if not all(map(math.isfinite, (left, bottom, right, top))):
            raise CRSError(
                f"the region cannot be projected to {target.to_string()!r} (got non-finite "
                "bounds); check the region's CRS and choose a CRS that covers it."
            )
        return cls.from_bounds((left, bottom, right, top), resolution, target)

    @classmethod
    def from_xarray(cls, obj: xr.DataArray | xr.Dataset) -> Grid:
        """The grid of a rioxarray-georeferenced DataArray or Dataset."""
        written = _written_grid(obj)
        if written is not None:
            return written
        crs = obj.rio.crs
        if crs is None:
            raise CRSError(
                "CRS not found on the xarray object. Set it with obj.rio.write_crs('EPSG:5070') "
                "(or the CRS the data is really in)."
            )
        return cls(pyproj.CRS.from_user_input(crs), obj.rio.transform(), obj.rio.shape)

    # -- properties ---------------------------------------------------------------------

    @property
    def crs(self) -> pyproj.CRS:
        return self._crs

    @property
    def transform(self) -> Affine:
        return self._transform

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def height(self) -> int:
        return self._shape[0]

    @property
    def width(self) -> int:
        return self._shape[1]

    @property
    def size(self) -> int:
        """Number of cells."""
        return self._shape[0] * self._shape[1]

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size ``(width, height)`` in CRS units, both positive."""
        return (self._transform.a, -self._transform.e)

    @property
    def bounds(self) -> BoundingBox:
        t, (rows, cols) = self._transform, self._shape
        return BoundingBox(t.c, t.f + rows * t.e, t.c + cols * t.a, t.f)

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell in square metres (projected CRSs only)."""
        factor = _metres_per_unit(self._crs, what="cell_area_m2")
        xres, yres = self.resolution
        return xres * yres * factor * factor

    @property
    def metres_per_unit(self) -> float:
        """Length of one CRS unit in metres (projected CRSs only)."""
        return _metres_per_unit(self._crs, what="a distance in metres")

    @property
    def xs(self) -> np.ndarray:
        """x coordinate of each column's cell centres."""
        return self._transform.c + (np.arange(self.width) + 0.5) * self._transform.a

    @property
    def ys(self) -> np.ndarray:
        """y coordinate of each row's cell centres (decreasing: north-up)."""
        return self._transform.f + (np.arange(self.height) + 0.5) * self._transform.e

    # -- coordinates --------------------------------------------------------------------

    def xy(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates of the cells at ``rows``, ``cols``."""
        rows_, cols_ = np.asarray(rows), np.asarray(cols)
        t = self._transform
        return t.c + (cols_ + 0.5) * t.a, t.f + (rows_ + 0.5) * t.e

    def rowcol(self, xs: Any, ys: Any) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells containing points ``xs``, ``ys`` (may be outside)."""
        t = self._transform
        cols = np.floor((np.asarray(xs, dtype=float) - t.c) / t.a).astype(np.int64)
        rows = np.floor((np.asarray(ys, dtype=float) - t.f) / t.e).astype(np.int64)
        return rows, cols

    def contains(self, xs: Any, ys: Any) -> np.ndarray:
        """Whether each point lies inside the grid's bounds."""
        rows, cols = self.rowcol(xs, ys)
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    # -- sub-grids ----------------------------------------------------------------------

    def window(self, rows: slice, cols: slice) -> Grid:
        """The sub-grid at row and column slices (steps of 1, inside the grid)."""
        r0, r1, _ = rows.indices(self.height)
        c0, c1, _ = cols.indices(self.width)
        if r1 <= r0 or c1 <= c0:
            raise GridError(f"window rows={rows}, cols={cols} is empty for a grid of {self.shape}")
        return Grid(self._crs, self._transform @ Affine.translation(c0, r0), (r1 - r0, c1 - c0))

    def tiles(self, tile_shape: int | tuple[int, int]) -> Iterator[Tile]:
        """Iterate over tiles of at most ``tile_shape`` cells, row-major."""
        th, tw = (tile_shape, tile_shape) if isinstance(tile_shape, int) else tile_shape
        if th <= 0 or tw <= 0:
            raise GridError(f"tile_shape must be positive, got {tile_shape!r}")
        for r0 in range(0, self.height, th):
            for c0 in range(0, self.width, tw):
                rows = slice(r0, min(r0 + th, self.height))
                cols = slice(c0, min(c0 + tw, self.width))
                yield Tile(rows, cols, self.window(rows, cols))

    def is_aligned_with(self, other: Grid) -> bool:
        """Whether ``other`` has the same CRS and resolution and its edges fall on ours."""
        if self._crs != other._crs or self.resolution != other.resolution:
            return False
        dx = (other.transform.c - self._transform.c) / self._transform.a
        dy = (other.transform.f - self._transform.f) / self._transform.e
        return abs(dx - round(dx)) < _SNAP_TOLERANCE and abs(dy - round(dy)) < _SNAP_TOLERANCE

    # -- xarray -------------------------------------------------------------------------

    def coords(self) -> dict[str, np.ndarray]:
        """Cell-centre coordinates as xarray coords ``{"y": ..., "x": ...}``."""
        return {"y": self.ys, "x": self.xs}

    def to_xarray(
        self,
        *,
        name: str | None = None,
        dtype: Any = "float32",
        fill_value: Any = np.nan,
        chunks: int | tuple[int, int] | None = None,
    ) -> xr.DataArray:
        """An empty ``(y, x)`` DataArray on this grid, CRS and transform written for rioxarray.

        With ``chunks`` the array is a lazy dask array of that chunk shape.
        """
        import rioxarray  # noqa: F401  (registers the .rio accessor)
        import xarray as xr

        if chunks is None:
            data: Any = np.full(self._shape, fill_value, dtype=dtype)
        else:
            import dask.array as da

            data = da.full(self._shape, fill_value, dtype=dtype, chunks=chunks)
        array = xr.DataArray(data, coords=self.coords(), dims=("y", "x"))
        array.name = name  # not the dask array's generated name
        return self.georeference(array)

    def georeference(self, obj: Any) -> Any:
        """Write this grid's CRS and transform onto an xarray object with ``(y, x)`` dims.

        The result is what ``obj.rio.write_crs(crs).rio.write_transform(transform)`` gives
        (a ``spatial_ref`` coordinate with CF attributes, ``grid_mapping`` in the encoding),
        without copying the data.
        """
        import xarray as xr

        # A shallow copy, then in-place writes: rioxarray's default copies the data itself.
        obj = obj.copy(deep=False)
        name = obj.encoding.get("grid_mapping") or obj.attrs.get("grid_mapping") or _GRID_MAP
        obj.coords[name] = xr.Variable((), 0, attrs=dict(_grid_mapping_attrs(self)))
        targets = [obj[var] for var in obj.data_vars] if hasattr(obj, "data_vars") else []
        for target in [*targets, obj]:
            target.attrs.pop("grid_mapping", None)
            target.attrs.pop("transform", None)
            target.encoding["grid_mapping"] = name
        return obj

    # -- value semantics ----------------------------------------------------------------

    def _key(self) -> tuple[object, ...]:
        return (self._crs.to_wkt(), tuple(self._transform)[:6], self._shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return (
            self._shape == other._shape
            and tuple(self._transform)[:6] == tuple(other._transform)[:6]
            and (self._crs is other._crs or self._crs == other._crs)
        )

    def __hash__(self) -> int:
        # Cached: the key holds the CRS's WKT, which takes about a millisecond to write.
        cached = self._hash
        if cached is None:
            cached = hash(self._key())
            object.__setattr__(self, "_hash", cached)
        return cached

    def __reduce__(self) -> tuple[object, ...]:
        return (Grid, (self._crs.to_wkt(), self._transform, self._shape))

    def __repr__(self) -> str:
        xres, yres = self.resolution
        code = self._crs.to_string()
        return (
            f"Grid(crs={code!r}, shape={self._shape}, resolution=({xres:g}, {yres:g}), "
            f"bounds={tuple(round(b, 6) for b in self.bounds)})"
        )


# -- fast reading and writing of the rioxarray georeferencing ----------------------------

_GRID_MAP = "spatial_ref"  # rioxarray's default name of the grid-mapping coordinate


@functools.lru_cache(maxsize=128)
def _grid_mapping_attrs(grid: Grid) -> dict[str, Any]:
    """The attributes rioxarray writes on the grid-mapping coordinate for ``grid``.

    Built once per grid by rioxarray itself (so they stay exactly rioxarray's), because
    building them (WKT and CF parameters) costs milliseconds and happens on every result.
    """
    import rioxarray  # noqa: F401
    import xarray as xr

    template = xr.DataArray(np.zeros((1, 1), np.uint8), dims=("y", "x"))
    template = template.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    return dict(template.coords[_GRID_MAP].attrs)


def _written_grid(obj: Any) -> Grid | None:
    """The grid recorded on ``obj`` by rioxarray, read straight from its attributes.

    None when the object does not carry a complete record (then rioxarray's own, slower,
    inference is used).
    """
    name = obj.encoding.get("grid_mapping") or obj.attrs.get("grid_mapping") or _GRID_MAP
    if name not in obj.coords or "y" not in obj.dims or "x" not in obj.dims:
        return None
    attrs = obj.coords[name].attrs
    wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
    geotransform = attrs.get("GeoTransform")
    if not isinstance(wkt, str) or not isinstance(geotransform, str):
        return None
    try:
        c, a, b, f, d, e = (float(v) for v in geotransform.split())
    except ValueError:
        return None
    shape = (obj.sizes["y"], obj.sizes["x"])
    if (
        b != 0
        or d != 0
        or not _centres_match(obj, "x", c, a)
        or not _centres_match(obj, "y", f, e)
    ):
        return None  # rotated, or sliced since the record was written: let rioxarray infer
    try:
        return Grid(_parse_crs_text(wkt), Affine(a, b, c, d, e, f), shape)
    except (GridError, pyproj.exceptions.CRSError):
        return None


def _centres_match(obj: Any, dim: str, origin: float, step: float) -> bool:
    """Do the first and last coordinates of ``dim`` sit at the recorded cell centres?"""
    if dim not in obj.coords:
        return False
    values = obj.coords[dim].values
    n = values.shape[0]
    if n == 0:
        return False
    tolerance = 1e-6 * abs(step)
    first, last = float(values[0]), float(values[-1])
    return (
        abs(first - (origin + 0.5 * step)) <= tolerance
        and abs(last - (origin + (n - 0.5) * step)) <= tolerance
    )
