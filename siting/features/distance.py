"""Exact Euclidean distance from every cell centre to the nearest vector feature.

Distances are measured in the grid's projected CRS and reported in metres, never in
degrees. Points use a KD-tree; lines and polygons use shapely's STRtree nearest query, which
is exact for any geometry. Both run tile by tile, so a continental grid needs memory for one
tile plus the features, not for the whole grid.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from scipy.spatial import cKDTree

from siting.errors import CRSError, NoDataInRegionError
from siting.grid import Grid

__all__ = ["distance_to_nearest"]

#: Default tile edge (cells) when a lazy result is asked for without a chunk size.
DEFAULT_TILE = 1024


def _prepare(features: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid, what: str) -> np.ndarray:
    if features.crs is None:
        raise CRSError(
            f"{what} has no CRS. Set the CRS it is really in with .set_crs(...) "
            "(for example 'EPSG:4326') before measuring distances."
        )
    grid.metres_per_unit  # noqa: B018  (raises CRSError for a geographic grid)
    geoms = features.geometry.to_crs(grid.crs).to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        raise NoDataInRegionError(
            f"{what} has no geometry, so distances to it are undefined. Provide at least one "
            "feature, or drop the feature from the scenario."
        )
    return geoms


def _nearest_function(geoms: np.ndarray) -> Any:
    if bool(np.all(shapely.get_type_id(geoms) == shapely.GeometryType.POINT)):
        tree = cKDTree(shapely.get_coordinates(geoms))

        def nearest_point(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
            distances, _ = tree.query(np.column_stack([xs, ys]))
            return np.asarray(distances)

        return nearest_point

    strtree = shapely.STRtree(geoms)

    def nearest(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        points = shapely.points(xs, ys)
        (_, _), distances = strtree.query_nearest(points, return_distance=True, all_matches=False)
        return np.asarray(distances)

    return nearest


def distance_to_nearest(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: Grid,
    *,
    name: str = "distance_m",
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """Distance in metres from each cell centre to the nearest feature.

    Parameters
    ----------
    features
        Points, lines or polygons with a CRS; reprojected to the grid's CRS. A cell inside a
        polygon or on a line is at distance 0.
    grid
        A grid in a projected CRS.
    name
        Name of the result.
    chunks
        Tile shape for a lazy (dask) result computed tile by tile; None computes now.

    Returns
    -------
    xarray.DataArray
        float64 distances in metres on ``grid``.

    Raises
    ------
    CRSError
        If ``features`` has no CRS or the grid is geographic.
    NoDataInRegionError
        If there are no features.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> grid = Grid.from_bounds((0, 0, 300, 100), 100, crs="EPSG:5070")
    >>> site = gpd.GeoSeries([Point(50, 50)], crs="EPSG:5070")
    >>> distance_to_nearest(site, grid).values.round(1).tolist()
    [[0.0, 100.0, 200.0]]
    """
    geoms = _prepare(features, grid, what=f"the features for {name!r}")
    nearest = _nearest_function(geoms)
    factor = grid.metres_per_unit
    t = grid.transform

    def block(rows: slice, cols: slice) -> np.ndarray:
        ys = t.f + (np.arange(rows.start, rows.stop) + 0.5) * t.e
        xs = t.c + (np.arange(cols.start, cols.stop) + 0.5) * t.a
        xx, yy = np.meshgrid(xs, ys)
        return nearest(xx.ravel(), yy.ravel()).reshape(xx.shape) * factor

    attrs = {"units": "m", "long_name": f"distance to nearest ({name})"}
    if chunks is None:
        data: Any = np.empty(grid.shape, dtype="float64")
        for tile in grid.tiles(DEFAULT_TILE):
            data[tile.rows, tile.cols] = block(tile.rows, tile.cols)
    else:
        import dask.array as da

        template = da.empty(grid.shape, dtype="float64", chunks=chunks)

        def lazy_block(_: np.ndarray, block_info: dict[Any, Any]) -> np.ndarray:
            (r0, r1), (c0, c1) = block_info[None]["array-location"]
            return block(slice(r0, r1), slice(c0, c1))

        data = da.map_blocks(lazy_block, template, dtype="float64", meta=np.array((), "float64"))
    result = xr.DataArray(data, coords=grid.coords(), dims=("y", "x"), attrs=attrs)
    result.name = name
    return grid.georeference(result)
