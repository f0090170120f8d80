"""Training points for presence–background learning.

A presence–background model (:class:`~siting.scoring.SiteScorer`) learns from two kinds of
points: *presences* (existing power plants, data centers, sites a planner labelled) and
*background* points drawn from the eligible land. Background points are **unlabelled**, not
absences: some of them would make perfectly good sites. This module draws the background
(:func:`sample_background`) and checks the presences against the same availability raster
(:func:`label_presences`), so that both come back as GeoDataFrames with the same columns:

``row``, ``col``
    The raster cell of the point.
``availability``
    The availability of that cell (0..1; NaN outside the grid or outside the region).
``presence``
    1 for presences, 0 for background.

``pd.concat([presences, background])`` is then a training table: attach the features of
each point (for example by zonal statistics, :mod:`siting.candidates`) and fit on
``presence``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from siting.errors import CRSError, InvalidLayerError, ScenarioError
from siting.grid import Grid

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    import xarray as xr

__all__ = ["label_presences", "sample_background", "training_table"]

# Rows of the availability raster read at a time: about this many cells per block, so a
# continent-sized (or dask-backed) raster is never loaded whole.
_BLOCK_CELLS = 1 << 20


def _check_availability(availability: xr.DataArray) -> tuple[xr.DataArray, Grid]:
    import xarray as xr

    if not isinstance(availability, xr.DataArray):
        raise InvalidLayerError(
            f"availability must be an xarray.DataArray with dims ('y', 'x'), got "
            f"{type(availability).__name__}. Compute it with siting.constraints.availability."
        )
    if availability.ndim == 3 and availability.shape[0] == 1:
        availability = availability.squeeze(availability.dims[0], drop=True)
    if availability.dims != ("y", "x"):
        raise InvalidLayerError(
            f"availability has dims {availability.dims}; expected ('y', 'x'). "
            "Select a single band first, for example availability.isel(band=0)."
        )
    if not np.issubdtype(availability.dtype, np.number) or np.issubdtype(
        availability.dtype, np.complexfloating
    ):
        raise InvalidLayerError(
            f"availability must hold numbers 0..1 (NaN = outside), got dtype {availability.dtype}"
        )
    return availability, Grid.from_xarray(availability)


def _blocks(grid: Grid) -> list[slice]:
    step = max(1, _BLOCK_CELLS // grid.width)
    return [slice(r0, min(r0 + step, grid.height)) for r0 in range(0, grid.height, step)]


def _read_block(availability: xr.DataArray, rows: slice) -> np.ndarray:
    block = np.asarray(availability.isel(y=rows).values, dtype="float64")
    finite = block[np.isfinite(block)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise InvalidLayerError(
            f"availability must be between 0 and 1 (NaN = outside the region), but rows "
            f"{rows.start}..{rows.stop - 1} hold values from {finite.min():g} to "
            f"{finite.max():g}. Rescale it, or build it with siting.constraints.availability."
        )
    return block


def _to_grid_crs(
    frame: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid, *, what: str
) -> gpd.GeoSeries:
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ScenarioError(
            f"{what} must be a GeoDataFrame or GeoSeries, got {type(frame).__name__}"
        )
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if series.crs is None:
        raise CRSError(
            f"{what} has no CRS. Set the CRS it is really in with .set_crs(...) "
            "(for example 'EPSG:4326' for longitude/latitude); a CRS is never guessed."
        )
    return series.to_crs(grid.crs)


class _Exclusion:
    """Which cells are excluded: those holding an excluded point, and those whose centres
    lie within ``distance`` (CRS units) of an excluded geometry."""

    def __init__(self, geometries: gpd.GeoSeries, grid: Grid, distance: float) -> None:
        import shapely

        geoms = geometries[~(geometries.isna() | geometries.is_empty)].to_numpy()
        self.distance = distance
        self.tree = shapely.STRtree(geoms) if len(geoms) else None
        if len(geoms):
            left, bottom, right, top = shapely.total_bounds(geoms)
            self.bounds = (left - distance, bottom - distance, right + distance, top + distance)
        points = geoms[shapely.get_type_id(geoms) == 0] if len(geoms) else geoms
        rows, cols = grid.rowcol(shapely.get_x(points), shapely.get_y(points))
        inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
        self.cells = np.unique(rows[inside] * grid.width + cols[inside])

    def mask(self, cells: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        import shapely

        out = np.isin(cells, self.cells)
        if self.tree is None:
            return out
        left, bottom, right, top = self.bounds
        near = np.flatnonzero((xs >= left) & (xs <= right) & (ys >= bottom) & (ys <= top))
        if near.size:
            centres = shapely.points(xs[near], ys[near])
            if self.distance > 0:
                hit, _ = self.tree.query(centres, predicate="dwithin", distance=self.distance)
            else:
                hit, _ = self.tree.query(centres, predicate="intersects")
            out[near[hit]] = True
        return out


def sample_background(
    availability: xr.DataArray,
    n: int,
    *,
    random_state: int | np.random.Generator | None = 0,
    weighting: Literal["availability", "uniform"] = "availability",
    exclude: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    min_distance_m: float = 0.0,
) -> gpd.GeoDataFrame:
    """Draw ``n`` background points at the centres of eligible cells, without replacement.

    A cell is eligible when its availability is > 0 (0 = excluded, NaN = outside the
    region). Background points are *unlabelled* land, not absences: the presence–background
    model (:class:`~siting.scoring.SiteScorer`) compares where facilities are with what land
    is available.

    Parameters
    ----------
    availability
        ``(y, x)`` DataArray of 0..1 with a rioxarray CRS, as made by
        :func:`siting.constraints.availability`. It may be dask-backed: it is read in blocks
        of rows.
    n
        Number of points, at most the number of eligible cells.
    random_state
        Seed or :class:`numpy.random.Generator`. The same seed and raster give the same
        points in the same order; the raster is read in blocks, and the block size does not
        change the draw.
    weighting
        ``"availability"`` (default): each successive draw picks among the remaining cells
        with probability proportional to their availability, so a cell that is half
        excluded is half as likely as a fully available one. ``"uniform"``: every eligible
        cell is equally likely.
    exclude
        Geometries to keep the background away from, usually the presences. The cells that
        contain them, and cells whose centres lie within ``min_distance_m`` of them, are not
        sampled. Reprojected to the raster's CRS; it must carry its own CRS.
    min_distance_m
        Distance in metres from ``exclude``; needs a projected raster CRS when > 0.

    Returns
    -------
    geopandas.GeoDataFrame
        ``n`` points in the raster's CRS, in draw order, with columns ``row``, ``col``,
        ``availability`` and ``presence`` (always 0) and a fresh 0..n-1 index.

    Raises
    ------
    ScenarioError
        For a bad ``n``, ``weighting`` or ``min_distance_m``, or when fewer than ``n`` cells
        are eligible (the message gives the count).
    InvalidLayerError
        If ``availability`` is not a ``(y, x)`` DataArray of values 0..1.
    CRSError
        If the raster or ``exclude`` has no CRS, or ``min_distance_m > 0`` on a geographic
        CRS.

    Notes
    -----
    Weighted sampling without replacement uses the exponential-keys method of Efraimidis &
    Spirakis (2006): each eligible cell gets the key ``log(u) / w`` with ``u`` uniform on
    (0, 1] and ``w`` its weight, and the ``n`` largest keys win. Keys are drawn for every
    cell with availability > 0, in row-major order, before ``exclude`` is applied; so the
    first ``k`` points of a draw of ``n`` are exactly the draw of ``k``, and excluding
    geometries only removes points and pulls in the next ones.

    Examples
    --------
    >>> from siting.testing import random_field, small_grid
    >>> availability = random_field(small_grid(), seed=0, nodata_fraction=0.2)
    >>> availability = availability.where(availability > 0.3, 0.0)  # excluded land
    >>> points = sample_background(availability, 5, random_state=1)
    >>> len(points), points.crs.to_epsg()
    (5, 5070)
    >>> bool((points["availability"] > 0).all())
    True
    >>> list(points.columns)
    ['row', 'col', 'availability', 'presence', 'geometry']
    """
    import geopandas as gpd

    availability, grid = _check_availability(availability)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ScenarioError(f"n must be a positive whole number of points, got {n!r}")
    n = int(n)
    if weighting not in ("availability", "uniform"):
        raise ScenarioError(f"weighting={weighting!r}; use 'availability' or 'uniform'")
    distance = float(min_distance_m)
    if not math.isfinite(distance) or distance < 0:
        raise ScenarioError(f"min_distance_m must be >= 0 (metres), got {min_distance_m!r}")
    exclusion = None
    if exclude is not None:
        units = grid.metres_per_unit if distance > 0 else 1.0
        exclusion = _Exclusion(_to_grid_crs(exclude, grid, what="exclude"), grid, distance / units)
    elif distance > 0:
        raise ScenarioError("min_distance_m > 0 needs exclude= (the geometries to keep away from)")
    rng = np.random.default_rng(random_state)

    best_keys = np.empty(0)
    best_cells = np.empty(0, dtype=np.int64)
    best_values = np.empty(0)
    n_eligible = 0
    for rows in _blocks(grid):
        block = _read_block(availability, rows)
        flat = np.flatnonzero(block > 0)  # NaN compares False: outside is never eligible
        values = block.ravel()[flat]
        u = 1.0 - rng.random(flat.size)  # (0, 1]; drawn before exclusion (see Notes)
        keys = np.log(u) if weighting == "uniform" else np.log(u) / values
        cells = flat + rows.start * grid.width
        if exclusion is not None:
            xs, ys = grid.xy(*np.divmod(cells, grid.width))
            keep = ~exclusion.mask(cells, xs, ys)
            keys, cells, values = keys[keep], cells[keep], values[keep]
        n_eligible += cells.size
        keys = np.concatenate([best_keys, keys])
        cells = np.concatenate([best_cells, cells])
        values = np.concatenate([best_values, values])
        # Largest keys first; ties (vanishingly rare) go to the earlier cell.
        order = np.lexsort((cells, -keys))[:n]
        best_keys, best_cells, best_values = keys[order], cells[order], values[order]

    if n_eligible < n:
        detail = " after exclude/min_distance_m" if exclusion is not None else ""
        raise ScenarioError(
            f"asked for n={n} background points, but only {n_eligible} cells are eligible "
            f"(availability > 0{detail}). Lower n, use a finer grid, or relax the exclusions."
        )
    row, col = np.divmod(best_cells, grid.width)
    xs, ys = grid.xy(row, col)
    return gpd.GeoDataFrame(
        {"row": row, "col": col, "availability": best_values, "presence": np.zeros(n, "int8")},
        geometry=gpd.points_from_xy(xs, ys),
        crs=grid.crs,
    )


def label_presences(
    points: gpd.GeoDataFrame,
    availability: xr.DataArray,
    *,
    on_excluded: Literal["drop", "raise", "keep"] = "drop",
    id_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Check presences against the availability raster and label them ``presence = 1``.

    Presences are the positives of a presence–background model: existing power plants,
    data centers, or sites a planner labelled. A presence that falls outside the grid, or
    on a cell that is excluded (availability 0) or outside the region (NaN), usually means a
    CRS mix-up, a stale record, or rules stricter than what was actually built. Such
    presences are reported, with their ids, and dropped, kept or refused.

    Parameters
    ----------
    points
        GeoDataFrame of presences with a CRS; it is reprojected to the raster's CRS.
        Polygons (parcels) are represented by a point inside them
        (:meth:`~geopandas.GeoSeries.representative_point`).
    availability
        ``(y, x)`` DataArray of 0..1 with a rioxarray CRS.
    on_excluded
        What to do with presences outside the grid or on excluded land (availability 0 or
        NaN) and with missing or empty geometries: ``"drop"`` (default) warns and drops
        them; ``"keep"`` warns and keeps them (``row``/``col`` are -1 outside the grid and
        ``availability`` is NaN there); ``"raise"`` raises :class:`ScenarioError`.
    id_column
        Column that names the presences in messages (for example a plant id); the index
        is used when it is None.

    Returns
    -------
    geopandas.GeoDataFrame
        The presences (original index and columns kept, geometry reprojected and made
        points), plus ``row``, ``col``, ``availability`` and ``presence`` (always 1).

    Raises
    ------
    ScenarioError
        With ``on_excluded="raise"`` when a presence is outside or excluded (the message
        lists them); for a bad ``on_excluded`` or ``id_column``.
    CRSError
        If ``points`` or the raster has no CRS.

    Warns
    -----
    UserWarning
        With ``"drop"`` or ``"keep"``, naming the presences that are outside the grid or
        on excluded land, with counts.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(2, 2))
    >>> availability = grid.to_xarray()
    >>> availability.values[:] = [[1.0, 0.0], [0.5, 1.0]]
    >>> plants = gpd.GeoDataFrame(
    ...     {"plant_id": ["a", "b"]},
    ...     geometry=[Point(1_000_050, 1_999_950), Point(1_000_150, 1_999_950)],
    ...     crs="EPSG:5070",
    ... )
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     labelled = label_presences(plants, availability, id_column="plant_id")
    >>> labelled["plant_id"].tolist(), labelled["presence"].tolist()
    (['a'], [1])
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    1 of 2 presences are on excluded land (availability 0) and were dropped: plant_id 'b'...
    """
    import shapely
    import xarray as xr

    if on_excluded not in ("drop", "raise", "keep"):
        raise ScenarioError(f"on_excluded={on_excluded!r}; use 'drop', 'raise' or 'keep'")
    availability, grid = _check_availability(availability)
    geometry = _to_grid_crs(points, grid, what="points")
    if id_column is not None and id_column not in points.columns:
        raise ScenarioError(
            f"id_column={id_column!r} is not a column of points; columns: "
            f"{sorted(map(str, points.columns))}"
        )
    out = points.copy()
    missing = (geometry.isna() | geometry.is_empty).to_numpy()
    non_point = ~missing & (geometry.geom_type != "Point").to_numpy()
    if non_point.any():
        geometry = geometry.copy()
        geometry[non_point] = geometry[non_point].representative_point()
    out = out.set_geometry(geometry.rename(out.geometry.name))

    xs = shapely.get_x(geometry.to_numpy())  # NaN for missing or empty geometries
    ys = shapely.get_y(geometry.to_numpy())
    rows = np.full(len(out), -1, dtype=np.int64)
    cols = np.full(len(out), -1, dtype=np.int64)
    rows[~missing], cols[~missing] = grid.rowcol(xs[~missing], ys[~missing])
    inside = ~missing & (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    values = np.full(len(out), np.nan)
    if inside.any():
        # Point-wise read: only the cells (or dask chunks) that hold presences.
        picked = availability.isel(
            y=xr.DataArray(rows[inside], dims="point"), x=xr.DataArray(cols[inside], dims="point")
        )
        values[inside] = np.asarray(picked.values, dtype="float64")
    rows = np.where(inside, rows, -1)
    cols = np.where(inside, cols, -1)

    problems = {
        "have no geometry": missing,
        "are outside the grid": ~missing & ~inside,
        "are outside the region (availability NaN)": inside & np.isnan(values),
        "are on excluded land (availability 0)": inside & (values == 0),
    }
    out["row"], out["col"], out["availability"] = rows, cols, values
    out["presence"] = np.ones(len(out), dtype="int8")
    bad = np.logical_or.reduce(list(problems.values()))
    if not bad.any():
        return out
    action = {"drop": " and were dropped", "keep": " and were kept", "raise": ""}[on_excluded]
    ids = (out[id_column] if id_column is not None else out.index.to_series()).to_numpy()
    label = id_column if id_column is not None else "index"
    lines = []
    for what, mask in problems.items():
        count = int(mask.sum())
        if count:
            names = ", ".join(repr(v) for v in ids[mask].tolist()[:20])
            more = f" and {count - 20} more" if count > 20 else ""
            lines.append(f"{count} of {len(out)} presences {what}{action}: {label} {names}{more}")
    message = (
        "; ".join(lines)
        + ". Check the points' CRS and the exclusion rules"
        + (
            ", or pass on_excluded='keep' to train on them anyway."
            if on_excluded == "raise"
            else "."
        )
    )
    if on_excluded == "raise":
        raise ScenarioError(message)
    warnings.warn(message, UserWarning, stacklevel=2)
    return out[~bad] if on_excluded == "drop" else out


def training_table(
    stack: xr.Dataset,
    availability: xr.DataArray,
    presences: gpd.GeoDataFrame,
    *,
    features: Sequence[str],
    n_background: int,
    random_state: int = 0,
    on_excluded: Literal["drop", "raise", "keep"] = "drop",
) -> tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]:
    """Features and labels for :class:`~siting.scoring.SiteScorer` from a stack.

    Presences are placed on their cells (:func:`label_presences`; those outside the grid or
    on excluded land are dropped with a warning by default), background points are drawn
    from the available land (:func:`sample_background`, weighted by availability), and
    every point takes the values of ``features`` at its cell.

    Parameters
    ----------
    stack
        Layers on the grid of ``availability`` (names in ``features`` must be layers).
    availability
        Share of each cell available (0..1), as from :func:`siting.constraints.availability`.
    presences
        Points (or polygons) of existing facilities, in any CRS.
    features
        Layer names, in the order the model sees them.
    n_background
        Background points to draw.
    random_state, on_excluded
        As :func:`sample_background` and :func:`label_presences`.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray, geopandas.GeoDataFrame)
        ``X`` (one row per point, one column per feature), ``y`` (1 presence, 0 background)
        and the points themselves (``row``, ``col``, ``presence``) in the grid's CRS.

    Raises
    ------
    ScenarioError
        If a feature is not a layer of ``stack``, or no presence is left on available land.
    """
    import geopandas as gpd
    import pandas as pd

    missing = [name for name in features if name not in stack]
    if missing:
        raise ScenarioError(
            f"features {missing} are not layers of the stack; layers: "
            f"{sorted(map(str, stack.data_vars))}"
        )
    placed = label_presences(presences, availability, on_excluded=on_excluded)
    if len(placed) == 0:
        raise ScenarioError(
            f"none of the {len(presences)} presences lies on available land inside the grid, "
            "so there is nothing to learn from; check their CRS and the exclusion rules"
        )
    background = sample_background(availability, n_background, random_state=random_state)
    keep = ["row", "col", "presence", "geometry"]
    points = gpd.GeoDataFrame(
        pd.concat([placed[keep], background[keep]], ignore_index=True),
        geometry="geometry",
        crs=background.crs,
    )
    rows = points["row"].to_numpy(dtype=np.intp)
    cols = points["col"].to_numpy(dtype=np.intp)
    X = pd.DataFrame({name: _values_at(stack[name], rows, cols) for name in features})
    return X, points["presence"].to_numpy(dtype=int), points


def _values_at(layer: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of a ``(y, x)`` layer at cells, without loading a lazy layer whole."""
    data = layer.data
    if hasattr(data, "vindex"):  # dask: fetch only the chunks the points fall in
        return np.asarray(data.vindex[rows, cols].compute(), dtype=float)
    return np.asarray(data[rows, cols], dtype=float)
