"""Exclusions from vector features: setbacks and (partly) covering polygons.

A setback excludes everything within an exact Euclidean distance of the features, measured
in metres in the grid's projected CRS: a circle around a point, not the diamond or square
of a raster dilation. The result is a *factor* layer (1 available, 0 excluded) that a
:class:`~siting.constraints.Rule` with ``use_as_weights=True`` folds into availability,
so setbacks are attributed and combined like any other rule.

Two ways to decide a cell:

- ``partial=False``: the cell is excluded when its centre is within the distance (what
  reV's setback rasters do);
- ``partial=True``: the cell keeps the share of its area outside the setback, computed
  exactly from the buffered geometry (fractional exclusion; with ``distance_m=0`` this is
  the share of the cell not covered by the polygons).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr

from siting.errors import ConstraintError, CRSError
from siting.grid import Grid

__all__ = ["ParametricSetback", "setback_factor"]

# Segments per quarter circle when buffering: the polygon's largest gap to the true circle
# is distance × (1 − cos(π / 128)) ≈ 0.03 % of the distance.
_QUAD_SEGS = 64


@dataclass(frozen=True)
class ParametricSetback:
    """A setback that scales with the turbine or structure, as in local ordinances.

    ``distance_m = multiplier × (hub_height_m + rotor_diameter_m / 2)`` (the tip height
    when ``multiplier`` is 1). For a plain structure, set ``rotor_diameter_m = 0``.

    Examples
    --------
    >>> ParametricSetback(multiplier=1.1, hub_height_m=100, rotor_diameter_m=120).distance_m
    176.0
    """

    multiplier: float
    hub_height_m: float
    rotor_diameter_m: float = 0.0

    def __post_init__(self) -> None:
        for name in ("multiplier", "hub_height_m", "rotor_diameter_m"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConstraintError(f"setback {name}={value!r} must be a finite number >= 0")

    @property
    def distance_m(self) -> float:
        return round(self.multiplier * (self.hub_height_m + self.rotor_diameter_m / 2), 9)


def _features(features: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid) -> gpd.GeoSeries:
    if features.crs is None:
        raise CRSError(
            "the setback features have no CRS. Set the CRS they are really in with "
            ".set_crs(...) (for example 'EPSG:4326') before computing setbacks."
        )
    grid.metres_per_unit  # noqa: B018  (raises CRSError for a geographic grid)
    series = features.geometry if isinstance(features, gpd.GeoDataFrame) else features
    series = series[~(series.isna() | series.is_empty)]
    return series.to_crs(grid.crs)


def setback_factor(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: Grid,
    *,
    distance_m: float | ParametricSetback,
    partial: bool = False,
    name: str = "setback",
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """Share of each cell outside the setback around ``features`` (float32, 0..1).

    Parameters
    ----------
    features
        Points, lines or polygons with a CRS (reprojected to the grid's CRS).
    grid
        A grid in a projected CRS.
    distance_m
        Setback distance in metres, or a :class:`ParametricSetback`.
    partial
        Keep the exact share of each cell outside the setback instead of deciding the whole
        cell by its centre.
    chunks
        Tile shape for a lazy (dask) result computed tile by tile, with the same values as
        in memory. With ``partial``, the features are buffered and unioned once and each
        tile measures the exact share of its cells that the union covers.

    Returns
    -------
    xarray.DataArray
        1 where the cell is clear of the setback, 0 inside it, fractions at the edge when
        ``partial``. With no features at all, 1 everywhere.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> grid = Grid.from_bounds((0, 0, 500, 100), 100)
    >>> tower = gpd.GeoSeries([Point(50, 50)], crs="EPSG:5070")
    >>> setback_factor(tower, grid, distance_m=150).values.tolist()
    [[0.0, 0.0, 1.0, 1.0, 1.0]]
    """
    distance = distance_m.distance_m if isinstance(distance_m, ParametricSetback) else distance_m
    if not (isinstance(distance, int | float) and math.isfinite(distance) and distance >= 0):
        raise ConstraintError(
            f"setback distance_m={distance!r} must be a finite distance in metres >= 0"
        )
    series = _features(features, grid)
    attrs: dict[str, Any] = {
        "units": "1",
        "long_name": f"share of the cell outside a {distance:g} m setback ({name})",
        "setback_m": float(distance),
        "partial": int(partial),
    }
    if series.empty:
        result = grid.to_xarray(name=name, fill_value=1.0, chunks=chunks)
    elif partial:
        from siting.layers import coverage_fraction

        units = distance / grid.metres_per_unit
        buffered = series.buffer(units, quad_segs=_QUAD_SEGS) if units > 0 else series
        polygons = buffered[shapely.get_dimensions(buffered.to_numpy()) == 2]
        if polygons.empty:  # points or lines with no setback cover no area
            result = grid.to_xarray(name=name, fill_value=1.0, chunks=chunks)
        else:
            covered = coverage_fraction(
                gpd.GeoDataFrame(geometry=polygons), grid, name=name, chunks=chunks
            )
            result = (1.0 - covered).clip(0.0, 1.0)
    else:
        from siting.features.distance import distance_to_nearest

        # Only whether a cell is within the setback matters: farther cells are not measured.
        metres = distance_to_nearest(
            series, grid, name=name, chunks=chunks, max_distance_m=distance
        )
        result = xr.where(metres <= distance, np.float32(0.0), np.float32(1.0))
    result = result.astype("float32")
    result.name = name
    result.attrs = attrs
    return grid.georeference(result)
