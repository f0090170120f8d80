"""Candidate sites: one row per candidate with the features behind its score.

For now candidates are the available cells of the grid; supply-curve points, hexagons and
user parcels grow here. The extraction walks the grid tile by tile, so only one tile of the
stack is in memory at a time even when the stack is lazy.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer

from siting.errors import NoFeasibleSitesError
from siting.grid import Grid

__all__ = ["cells_to_candidates"]

_TILE = 2048


def cells_to_candidates(
    stack: xr.Dataset,
    availability: xr.DataArray,
    *,
    columns: Sequence[str] | None = None,
    min_availability: float = 1.0,
) -> gpd.GeoDataFrame:
    """Every cell with ``availability >= min_availability`` as a candidate point.

    Parameters
    ----------
    stack
        The layer stack (and derived features) on one grid.
    availability
        Share available per cell, on the same grid.
    columns
        Stack layers to copy onto each candidate (default: all).
    min_availability
        Smallest availability a cell needs to become a candidate (0 < value <= 1).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell_id`` (row * width + col, stable across runs), ``row``, ``col``,
        ``x``, ``y`` (cell centre in the grid CRS), ``lon``, ``lat`` (WGS84),
        ``availability`` and the requested layers; point geometry in the grid CRS;
        sorted by ``cell_id``.

    Raises
    ------
    NoFeasibleSitesError
        If no cell qualifies.
    """
    grid = Grid.from_xarray(stack)
    if Grid.from_xarray(availability) != grid:
        raise ValueError("availability is not on the stack's grid; align it first")
    names = [str(n) for n in (stack.data_vars if columns is None else columns)]
    pieces: list[pd.DataFrame] = []
    for tile in grid.tiles(_TILE):
        avail = np.asarray(availability[tile.rows, tile.cols].values)
        keep = np.nan_to_num(avail, nan=0.0) >= min_availability
        if not keep.any():
            continue
        r, c = np.nonzero(keep)
        rows, cols = r + tile.rows.start, c + tile.cols.start
        piece = {"cell_id": rows.astype(np.int64) * grid.width + cols, "row": rows, "col": cols}
        piece["availability"] = avail[r, c]
        for name in names:
            piece[name] = np.asarray(stack[name][tile.rows, tile.cols].values)[r, c]
        pieces.append(pd.DataFrame(piece))
    if not pieces:
        raise NoFeasibleSitesError(
            f"no cell has availability >= {min_availability}; lower ranking.min_availability "
            "or relax the exclusion rules."
        )
    table = pd.concat(pieces, ignore_index=True).sort_values("cell_id", ignore_index=True)
    xs, ys = grid.xy(table["row"].to_numpy(), table["col"].to_numpy())
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    table.insert(3, "x", xs)
    table.insert(4, "y", ys)
    table.insert(5, "lon", lon)
    table.insert(6, "lat", lat)
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(xs, ys), crs=grid.crs)
