"""Tiny deterministic generators for tests and docstring examples.

Nothing here touches files or the network: every generator builds a small raster on a
:class:`~siting.grid.Grid` from a seed, so examples and tests are reproducible. Also the
settings that open maps in Debian's chromium with no network (browser tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import xarray as xr

from siting._typing import CRSLike
from siting.errors import GridError
from siting.grid import US_EQUAL_AREA, Grid

__all__ = [
    "LOCAL_URL_SCHEMES",
    "OFFLINE_CHROMIUM_ARGS",
    "category_field",
    "coordinate_image",
    "debian_chromium",
    "random_field",
    "small_grid",
]

#: Chromium on a machine with no network: no background connections, no sandbox as root.
OFFLINE_CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: URL schemes a self-contained map may load; any other request is a network request.
LOCAL_URL_SCHEMES = ("file:", "data:", "blob:", "about:")


def debian_chromium() -> str | None:
    """Path of the system's chromium (Debian's package), or None; never a downloaded one."""
    import shutil
    from pathlib import Path

    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def small_grid(
    crs: CRSLike = US_EQUAL_AREA,
    *,
    shape: tuple[int, int] = (8, 10),
    resolution: float = 100.0,
    origin: tuple[float, float] = (1_000_000.0, 2_000_000.0),
) -> Grid:
    """A small north-up grid whose top-left corner is at ``origin`` (x, y).

    Parameters
    ----------
    crs
        CRS of the grid (default EPSG:5070).
    shape
        ``(rows, cols)``.
    resolution
        Cell size in CRS units (square cells).
    origin
        ``(left, top)`` of the grid in CRS units. The default lies in the middle of the
        conterminous US in EPSG:5070.

    Returns
    -------
    Grid

    Examples
    --------
    >>> small_grid().shape
    (8, 10)
    >>> small_grid(shape=(2, 3), resolution=30).bounds
    BoundingBox(left=1000000.0, bottom=1999940.0, right=1000090.0, top=2000000.0)
    """
    from affine import Affine

    left, top = origin
    return Grid(crs, Affine(resolution, 0.0, left, 0.0, -resolution, top), shape)


def coordinate_image(grid: Grid, *, axis: Literal["x", "y"] = "x") -> xr.DataArray:
    """A float64 image whose cell values are their own cell-centre x (or y) coordinates.

    Reproject it from one CRS to another and every output cell should hold the coordinate
    of its own centre transformed back into the source CRS: the right way to test a
    reprojection (the idea of odc-geo's ``gen_test_image_xy``).

    Parameters
    ----------
    grid
        Grid of the image.
    axis
        ``"x"`` or ``"y"``: which coordinate the values hold.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` float64 array on ``grid``, named ``"x_coordinate"`` or ``"y_coordinate"``.

    Raises
    ------
    ValueError
        If ``axis`` is not ``"x"`` or ``"y"``.

    Examples
    --------
    >>> image = coordinate_image(small_grid(shape=(2, 3)), axis="x")
    >>> image.values[0].tolist()
    [1000050.0, 1000150.0, 1000250.0]
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    line = grid.xs[None, :] if axis == "x" else grid.ys[:, None]
    values = np.array(np.broadcast_to(line, grid.shape), dtype="float64")
    data = xr.DataArray(values, coords=grid.coords(), dims=("y", "x"))
    data.name = f"{axis}_coordinate"
    return grid.georeference(data)


def random_field(
    grid: Grid,
    seed: int = 0,
    *,
    low: float = 0.0,
    high: float = 1.0,
    nodata_fraction: float = 0.0,
    dtype: str = "float32",
) -> xr.DataArray:
    """A continuous field of uniform random values in ``[low, high)``, with optional NaNs.

    Parameters
    ----------
    grid
        Grid of the field.
    seed
        Seed of :func:`numpy.random.default_rng`: the same seed gives the same field.
    low, high
        Range of the values.
    nodata_fraction
        Fraction (0..1) of cells set to NaN, chosen at random.
    dtype
        A float dtype.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` array on ``grid`` named ``"random_field"``.

    Examples
    --------
    >>> field = random_field(small_grid(), seed=1, nodata_fraction=0.25)
    >>> int(field.isnull().sum()) > 0, float(field.max()) < 1.0
    (True, True)
    """
    if not 0.0 <= nodata_fraction <= 1.0:
        raise GridError(f"nodata_fraction must be between 0 and 1, got {nodata_fraction!r}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(low, high, size=grid.shape).astype(dtype)
    values[rng.random(grid.shape) < nodata_fraction] = np.nan
    data = xr.DataArray(values, coords=grid.coords(), dims=("y", "x"))
    data.name = "random_field"
    return grid.georeference(data)


def category_field(
    grid: Grid,
    seed: int = 0,
    *,
    categories: Sequence[int] = (11, 21, 41, 82),
    nodata: int | None = None,
    nodata_fraction: float = 0.0,
    block: int = 1,
) -> xr.DataArray:
    """A categorical field (uint8 codes drawn from ``categories``), in blocks of cells.

    Parameters
    ----------
    grid
        Grid of the field.
    seed
        Seed of :func:`numpy.random.default_rng`.
    categories
        Codes to draw from (0..255). The default looks like NLCD land-cover codes.
    nodata
        Code written for nodata cells (and recorded with ``rio.write_nodata``); required
        when ``nodata_fraction > 0``.
    nodata_fraction
        Fraction (0..1) of cells set to ``nodata``.
    block
        Side, in cells, of the square patches of equal code (1 = every cell independent).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint8 array on ``grid`` named ``"category_field"``.

    Examples
    --------
    >>> field = category_field(small_grid(), seed=3, categories=(1, 2))
    >>> sorted(set(field.values.ravel().tolist()))
    [1, 2]
    """
    if nodata_fraction > 0 and nodata is None:
        raise GridError("nodata_fraction > 0 needs a nodata code, for example nodata=255")
    rng = np.random.default_rng(seed)
    rows, cols = grid.shape
    coarse = rng.choice(
        np.asarray(categories, dtype="uint8"), size=(-(-rows // block), -(-cols // block))
    )
    values = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)[:rows, :cols].copy()
    if nodata is not None:
        values[rng.random(grid.shape) < nodata_fraction] = nodata
    data = xr.DataArray(values, coords=grid.coords(), dims=("y", "x"))
    data.name = "category_field"
    data = grid.georeference(data)
    if nodata is not None:
        data = data.rio.write_nodata(nodata)
    return data
