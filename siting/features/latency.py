"""Latency to people: how many people an edge-compute site reaches within a round-trip time.

A site serves people well when their round-trip time (RTT) to it is short. Without a network
map, the RTT is estimated from the straight-line distance with a documented model,
:class:`LatencyModel`::

    rtt_ms(d)       = fixed_overhead_ms + 2 · route_factor · d_km / fiber_km_per_ms
    radius_m(B)     = (B − fixed_overhead_ms) · fiber_km_per_ms · 1000 / (2 · route_factor)

and the people within a budget ``B`` are those within ``radius_m(B)`` of the site.

- :func:`population_within_latency`: per site, the population within each RTT budget and
  the population-weighted mean RTT;
- :func:`population_within_latency_raster`: the same count for every cell of a grid.

Population comes as points with a weight column (towns, Census places) or as a population
raster (each cell is a point at its centre). Every count is exact for those points: pairs
are measured one by one, block by block, and never approximated by cells. The model is a
planning estimate, not a network measurement; see ``docs/latency.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr
from scipy.spatial import cKDTree

from siting._graph import call, shared
from siting.errors import CRSError, GridError, InvalidLayerError, ScenarioError
from siting.grid import Grid, _metres_per_unit

__all__ = [
    "FIBER_GROUP_INDEX",
    "SPEED_OF_LIGHT_KM_PER_MS",
    "LatencyModel",
    "population_within_latency",
    "population_within_latency_raster",
]

#: Speed of light in vacuum, km per millisecond (exact by the SI definition of the metre).
SPEED_OF_LIGHT_KM_PER_MS = 299.792458

#: Group index of standard single-mode fiber (ITU-T G.652, e.g. Corning SMF-28) near
#: 1550 nm, where long-haul and metro links run: light in the fiber is this much slower
#: than in vacuum.
FIBER_GROUP_INDEX = 1.468

# Dense blocks of (sites x population points) measured at once: small enough to stay in the
# processor cache (256 x 1024 float64 = 2 MB per buffer), large enough to amortise Python.
_SITE_BLOCK = 256
_POINT_BLOCK = 1024

# Output tile edge (cells) of the raster version.
_RASTER_TILE = 1024

#: Population as points (GeoDataFrame with a weight column, or GeoSeries) or as a raster.
PopulationLike: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries | xr.DataArray


# -- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyModel:
    """Round-trip time over fiber as a function of straight-line distance.

    ``rtt_ms(d) = fixed_overhead_ms + 2 · route_factor · (d / 1000) / fiber_km_per_ms``
    for a straight-line distance ``d`` in metres: the signal goes out and back along a
    fiber route ``route_factor`` times longer than the straight line, at the speed of light
    in glass, plus a fixed allowance for everything that does not grow with distance.

    Parameters
    ----------
    route_factor
        Fiber route length divided by the straight-line distance (>= 1). The default 1.5
        sits between the two figures of Bozkurt et al. (2018), "Dissecting Latency in the
        Internet's Fiber Infrastructure" (arXiv:1811.10737): shortest paths through the
        long-haul conduits of the InterTubes map of the contiguous US are 1.3 times the
        line-of-sight distance (median over pairs of the 120 largest population centers),
        and measured Internet latencies follow "line-of-sight distance × 2.1 at the speed
        of light in fiber", which also includes routing detours. Use 1.3 for a provider
        with direct metro fiber, 2 or more for paths through distant exchange points.
    fiber_km_per_ms
        One-way speed of light in fiber, km per millisecond. Default
        ``SPEED_OF_LIGHT_KM_PER_MS / FIBER_GROUP_INDEX`` = 299.792458 / 1.468 ≈ 204.2
        (standard single-mode fiber near 1550 nm).
    fixed_overhead_ms
        Round-trip time that does not depend on distance: last-mile access, switching and
        routing, the server's network stack. The default 1.0 ms is an **assumption** for a
        fiber access network and one metro aggregation hop; cable, DSL and cellular access
        add several milliseconds more. Calibrate it with measurements of the networks at
        hand.

    Raises
    ------
    ScenarioError
        If a parameter is not finite, ``route_factor`` < 1, ``fiber_km_per_ms`` is not in
        (0, speed of light], or ``fixed_overhead_ms`` < 0.

    Examples
    --------
    >>> model = LatencyModel(route_factor=1.5, fiber_km_per_ms=204.0, fixed_overhead_ms=1.0)
    >>> round(model.rtt_ms(100_000), 4)  # 100 km: 1 + 2 x 150 / 204
    2.4706
    >>> round(model.radius_m(model.rtt_ms(100_000)), 6)
    100000.0
    >>> round(LatencyModel().fiber_km_per_ms, 1)
    204.2
    """

    route_factor: float = 1.5
    fiber_km_per_ms: float = SPEED_OF_LIGHT_KM_PER_MS / FIBER_GROUP_INDEX
    fixed_overhead_ms: float = 1.0

    def __post_init__(self) -> None:
        for name in ("route_factor", "fiber_km_per_ms", "fixed_overhead_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ScenarioError(f"LatencyModel.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ScenarioError(f"LatencyModel.{name} must be finite, got {value!r}")
        if self.route_factor < 1:
            raise ScenarioError(
                f"LatencyModel.route_factor={self.route_factor!r}: a fiber route is never "
                "shorter than the straight line, so it must be >= 1 (published values are "
                "1.3 to 2.1; the default is 1.5)."
            )
        if not 0 < self.fiber_km_per_ms <= SPEED_OF_LIGHT_KM_PER_MS:
            raise ScenarioError(
                f"LatencyModel.fiber_km_per_ms={self.fiber_km_per_ms!r} must be in "
                f"(0, {SPEED_OF_LIGHT_KM_PER_MS}] km/ms (the speed of light in vacuum); "
                "standard fiber is about 204 km/ms."
            )
        if self.fixed_overhead_ms < 0:
            raise ScenarioError(
                f"LatencyModel.fixed_overhead_ms={self.fixed_overhead_ms!r} must be >= 0 ms"
            )

    @property
    def rtt_ms_per_km(self) -> float:
        """Round-trip milliseconds added by each km of straight-line distance."""
        return 2.0 * self.route_factor / self.fiber_km_per_ms

    @overload
    def rtt_ms(self, distance_m: float) -> float: ...

    @overload
    def rtt_ms(self, distance_m: np.ndarray) -> np.ndarray: ...

    def rtt_ms(self, distance_m: float | np.ndarray) -> float | np.ndarray:
        """Round-trip time in ms over a straight-line distance in metres.

        ``fixed_overhead_ms + 2 · route_factor · (distance_m / 1000) / fiber_km_per_ms``.
        NaN distances give NaN.

        Parameters
        ----------
        distance_m
            Straight-line distance(s) in metres, >= 0.

        Returns
        -------
        float or numpy.ndarray
            Round-trip time(s) in milliseconds, shaped like ``distance_m``.

        Raises
        ------
        InvalidLayerError
            If a distance is negative.

        Examples
        --------
        >>> LatencyModel(route_factor=2.0, fiber_km_per_ms=200.0, fixed_overhead_ms=0.5).rtt_ms(
        ...     np.array([0.0, 50_000.0]))
        array([0.5, 1.5])
        """
        d = np.asarray(distance_m, dtype="float64")
        if bool(np.any(d < 0)):
            raise InvalidLayerError(
                f"distances must be >= 0 metres; got a minimum of {np.nanmin(d)!r}"
            )
        rtt = self.fixed_overhead_ms + self.rtt_ms_per_km * (d / 1000.0)
        return float(rtt) if rtt.ndim == 0 else rtt

    @overload
    def radius_m(self, rtt_budget_ms: float) -> float: ...

    @overload
    def radius_m(self, rtt_budget_ms: np.ndarray) -> np.ndarray: ...

    def radius_m(self, rtt_budget_ms: float | np.ndarray) -> float | np.ndarray:
        """Straight-line radius in metres reachable within a round-trip budget.

        The inverse of :meth:`rtt_ms`:
        ``(rtt_budget_ms − fixed_overhead_ms) · fiber_km_per_ms · 1000 / (2 · route_factor)``.
        A budget equal to the overhead reaches radius 0 (people at the site itself).

        Parameters
        ----------
        rtt_budget_ms
            Round-trip budget(s) in milliseconds, each >= ``fixed_overhead_ms``.

        Returns
        -------
        float or numpy.ndarray
            Radius (radii) in metres, shaped like ``rtt_budget_ms``.

        Raises
        ------
        ScenarioError
            If a budget is below the fixed overhead (nobody is reachable, not even at the
            site) or not finite.

        Examples
        --------
        >>> model = LatencyModel(route_factor=1.5, fiber_km_per_ms=200.0, fixed_overhead_ms=1.0)
        >>> model.radius_m(4.0)  # 3 ms of propagation: 200 km of fiber, 200 km straight
        200000.0
        """
        budget = np.asarray(rtt_budget_ms, dtype="float64")
        if not bool(np.all(np.isfinite(budget))):
            raise ScenarioError(f"RTT budgets must be finite numbers of ms, got {rtt_budget_ms!r}")
        if bool(np.any(budget < self.fixed_overhead_ms)):
            raise ScenarioError(
                f"RTT budget {float(np.min(budget)):g} ms is below the model's fixed overhead "
                f"of {self.fixed_overhead_ms:g} ms, so nobody is reachable within it. Use "
                "budgets of at least the overhead, or lower LatencyModel.fixed_overhead_ms."
            )
        radius = (budget - self.fixed_overhead_ms) / self.rtt_ms_per_km * 1000.0
        return float(radius) if radius.ndim == 0 else radius


# -- inputs ------------------------------------------------------------------------------


def _projected_crs(crs_like: Any, what: str) -> tuple[pyproj.CRS, float]:
    """The CRS of ``what`` and its metres per unit; refuse a missing or geographic CRS."""
    if crs_like is None:
        raise CRSError(
            f"{what} have no CRS. Set the CRS they are really in with .set_crs(...) (for "
            "example 'EPSG:4326'), then reproject to a projected CRS with .to_crs(...), for "
            "example 'EPSG:5070' (US equal-area) or the local UTM zone."
        )
    crs = pyproj.CRS.from_user_input(crs_like)
    if not crs.is_projected:
        raise CRSError(
            f"{what} are in the geographic CRS {crs.to_string()!r} (degrees); latency is "
            "estimated from straight-line distances, which are measured only in a projected "
            "CRS. Reproject first with .to_crs(...), for example 'EPSG:5070' (US "
            "equal-area) or the local UTM zone."
        )
    return crs, _metres_per_unit(crs, what=what)


def _budget_label(budget: float) -> str:
    return f"{budget:g}".replace(".", "p")


def _check_budgets(budgets_ms: Sequence[float], model: LatencyModel) -> np.ndarray:
    if isinstance(budgets_ms, int | float | np.number):
        budgets_ms = [float(budgets_ms)]
    budgets = np.asarray(list(budgets_ms), dtype="float64")
    if budgets.ndim != 1 or len(budgets) == 0:
        raise ScenarioError(f"budgets_ms must be a non-empty list of ms, got {budgets_ms!r}")
    if len(np.unique(budgets)) != len(budgets):
        raise ScenarioError(f"budgets_ms has repeated values: {list(budgets_ms)!r}")
    model.radius_m(budgets)  # raises for budgets below the overhead or not finite
    return budgets


def _site_coordinates(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y of the sites and a mask of those with a point (missing geometry: False)."""
    geoms = sites.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms[present])
    if bool(np.any(kinds != shapely.GeometryType.POINT)):
        bad = sites.index[present][kinds != shapely.GeometryType.POINT]
        raise InvalidLayerError(
            f"sites must be points; the rows {_labels(bad)} are not. Use the point the "
            "latency is measured from, for example sites.representative_point() or "
            "sites.centroid."
        )
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    if bool(present.any()):
        x[present] = shapely.get_x(geoms[present])
        y[present] = shapely.get_y(geoms[present])
    return x, y, present


def _labels(index: pd.Index, limit: int = 10) -> str:
    shown = ", ".join(repr(v) for v in index[:limit].tolist())
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"[{shown}]{more}"


def _vector_population(
    population: gpd.GeoDataFrame | gpd.GeoSeries,
    crs: pyproj.CRS,
    weight_column: str | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if population.crs is None:
        raise CRSError(
            "the population points have no CRS. Set the CRS they are really in with "
            ".set_crs(...) (for example 'EPSG:4326'); they are then reprojected to the "
            "sites' CRS."
        )
    if weight_column is None:
        weights = pd.Series(1.0, index=population.index)
    else:
        columns = list(getattr(population, "columns", []))
        if weight_column not in columns:
            raise InvalidLayerError(
                f"the population has no column {weight_column!r} (it has {columns}). Pass "
                "weight_column=... naming the column of people per point, or None to count "
                "points."
            )
        try:
            weights = pd.to_numeric(population[weight_column], errors="raise").astype("float64")
        except (TypeError, ValueError):
            raise InvalidLayerError(
                f"the population column {weight_column!r} must be numeric (people per "
                f"point); it has dtype {population[weight_column].dtype}."
            ) from None
        bad = ~np.isfinite(weights.to_numpy())
        if bool(bad.any()):
            raise InvalidLayerError(
                f"the population column {weight_column!r} is missing (NaN) or not finite "
                f"in the rows {_labels(population.index[bad])}. A missing count is not read "
                "as zero: fill those rows (or drop them) before measuring latency."
            )
        negative = weights.to_numpy() < 0
        if bool(negative.any()):
            raise InvalidLayerError(
                f"the population column {weight_column!r} is negative in the rows "
                f"{_labels(population.index[negative])}; people per point must be >= 0."
            )
    geoms = population.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bool(missing.any()):
        raise InvalidLayerError(
            f"the population points have no geometry in the rows "
            f"{_labels(population.index[missing])}; give them a location or drop them."
        )
    kinds = shapely.get_type_id(geoms)
    if bool(np.any(kinds != shapely.GeometryType.POINT)):
        bad_rows = population.index[kinds != shapely.GeometryType.POINT]
        raise InvalidLayerError(
            f"the population must be points; the rows {_labels(bad_rows)} are not. For "
            "places given as polygons use their .representative_point() (or a population "
            "raster)."
        )
    points = population.geometry.to_crs(crs).to_numpy() if len(population) else geoms
    return shapely.get_x(points), shapely.get_y(points), weights.to_numpy()


def _raster_values(population: xr.DataArray) -> tuple[xr.DataArray, Grid]:
    """The population raster as a ``(y, x)`` array and its grid."""
    extra = [d for d in population.dims if d not in (population.rio.y_dim, population.rio.x_dim)]
    if any(population.sizes[d] != 1 for d in extra):
        raise InvalidLayerError(
            f"the population raster must be 2-D (y, x); it has dims {dict(population.sizes)}. "
            "Select one band first, for example population.sel(band=1)."
        )
    array = population.squeeze(extra, drop=True) if extra else population
    array = array.transpose(array.rio.y_dim, array.rio.x_dim)
    return array, Grid.from_xarray(array)


def _clean_cells(values: np.ndarray, nodata: Any) -> np.ndarray:
    """Cell values as float64 people: nodata and NaN become 0; negative values refused."""
    values = np.asarray(values, dtype="float64")
    missing = ~np.isfinite(values)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        missing |= values == nodata
    values = np.where(missing, 0.0, values)
    if bool(np.any(values < 0)):
        raise InvalidLayerError(
            f"the population raster has negative values (minimum {values.min():g}) that are "
            "not its nodata value; people per cell must be >= 0. Set the nodata value with "
            "population.rio.write_nodata(...) or clip the values."
        )
    return values


def _raster_population(
    population: xr.DataArray, crs: pyproj.CRS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    array, grid = _raster_values(population)
    nodata = array.rio.nodata
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    for tile in grid.tiles(2048):
        values = _clean_cells(array[tile.rows, tile.cols].values, nodata)
        rows, cols = np.nonzero(values > 0)
        x, y = tile.grid.xy(rows, cols)
        xs.append(x)
        ys.append(y)
        ws.append(values[rows, cols])
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    if grid.crs != crs and len(x):
        transformer = pyproj.Transformer.from_crs(grid.crs, crs, always_xy=True)
        x, y = transformer.transform(x, y)
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        lost = ~(np.isfinite(x) & np.isfinite(y))
        if bool(lost.any()):
            raise CRSError(
                f"{int(lost.sum())} populated cells of the population raster cannot be "
                f"projected to {crs.to_string()!r}; clip the raster to the region of the "
                "sites or use a CRS that covers it."
            )
    return x, y, w


def _population_points(
    population: PopulationLike, crs: pyproj.CRS, weight_column: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population as points in ``crs`` (its units) with positive weights."""
    if isinstance(population, xr.DataArray):
        x, y, w = _raster_population(population, crs)
    elif isinstance(population, gpd.GeoDataFrame | gpd.GeoSeries):
        x, y, w = _vector_population(population, crs, weight_column)
    else:
        raise InvalidLayerError(
            "population must be a GeoDataFrame of points with a weight column, a GeoSeries "
            f"of points, or a population raster (xarray.DataArray); got {type(population)}."
        )
    keep = w > 0
    return x[keep], y[keep], w[keep]


# -- the kernel --------------------------------------------------------------------------


class _Points:
    """Population points with their KD-tree, built once and shared by every query."""

    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        self.x, self.y, self.w = x, y, w
        self.tree = cKDTree(np.column_stack([x, y])) if len(w) else None


def _accumulate(
    sx: np.ndarray,
    sy: np.ndarray,
    points: _Points,
    radii: np.ndarray,
    *,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted population within each radius of each site, and Σ w·d within the largest.

    ``radii`` ascend, in the sites' CRS units. A point at distance ``d`` counts for radius
    ``r`` when ``d <= r``. Sites are taken in chunks of ``chunk_size`` in a spatially
    compact order; each chunk asks the KD-tree once for the points that can be within the
    largest radius of one of its sites, then measures every (site, point) pair of the chunk
    in dense blocks of fixed size. Memory: the points, the sites and one chunk's
    candidates, whatever the number of pairs.
    """
    n, k = len(sx), len(radii)
    counts = np.zeros((n, k))
    sum_wd = np.zeros(n)
    if n == 0 or points.tree is None:
        return counts, sum_wd
    r_max = float(radii[-1])
    order = cKDTree(np.column_stack([sx, sy]), leafsize=16).indices
    dist = np.empty((_SITE_BLOCK, _POINT_BLOCK))
    temp = np.empty((_SITE_BLOCK, _POINT_BLOCK))
    mask = np.empty((_SITE_BLOCK, _POINT_BLOCK))
    for start in range(0, n, chunk_size):
        chunk = order[start : start + chunk_size]
        cx, cy = sx[chunk], sy[chunk]
        centre = ((cx.min() + cx.max()) / 2, (cy.min() + cy.max()) / 2)
        spread = float(np.sqrt(((cx - centre[0]) ** 2 + (cy - centre[1]) ** 2).max()))
        # Inflated a little so that no point within r_max of a site is lost to rounding;
        # extra candidates are harmless (the exact test d <= r decides).
        reach = (spread + r_max) * (1 + 1e-9) + 1e-9
        near = np.asarray(points.tree.query_ball_point(centre, reach), dtype=np.intp)
        if len(near) == 0:
            continue
        px, py, pw = points.x[near], points.y[near], points.w[near]
        for a in range(0, len(chunk), _SITE_BLOCK):
            rows = chunk[a : a + _SITE_BLOCK]
            bx, by = sx[rows], sy[rows]
            s = len(rows)
            acc = np.zeros((s, k))
            acc_wd = np.zeros(s)
            for b in range(0, len(near), _POINT_BLOCK):
                cols = slice(b, b + _POINT_BLOCK)
                w = pw[cols]
                p = len(w)
                d, t, m = dist[:s, :p], temp[:s, :p], mask[:s, :p]
                np.subtract.outer(bx, px[cols], out=d)
                np.multiply(d, d, out=d)
                np.subtract.outer(by, py[cols], out=t)
                np.multiply(t, t, out=t)
                np.add(d, t, out=d)
                np.sqrt(d, out=d)
                for j in range(k):
                    np.less_equal(d, radii[j], out=m)
                    acc[:, j] += m @ w
                np.multiply(d, m, out=m)  # m is the mask of the largest radius
                acc_wd += m @ w
            counts[rows] = acc
            sum_wd[rows] = acc_wd
    return counts, sum_wd


# -- per site ----------------------------------------------------------------------------


def population_within_latency(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    population: PopulationLike,
    *,
    budgets_ms: Sequence[float] = (5, 10, 20),
    model: LatencyModel | None = None,
    weight_column: str | None = "population",
    chunk_size: int = _SITE_BLOCK,
) -> pd.DataFrame:
    """Per site, the population reachable within each round-trip budget, and its mean RTT.

    A person (population point) at straight-line distance ``d`` from a site is within a
    budget ``B`` when ``model.rtt_ms(d) <= B``, i.e. ``d <= model.radius_m(B)``.

    Parameters
    ----------
    sites
        Candidate sites as points in a projected CRS (any linear unit). Rows without a
        geometry get NaN.
    population
        People as points with a CRS (reprojected to the sites' CRS) and a weight column
        (towns, Census places, block-group centroids), or a population raster: an
        ``xarray.DataArray`` with its CRS written the rioxarray way, each cell counting as
        its value of people at the cell centre. Raster cells that are NaN, nodata or 0 hold
        nobody. An empty population (no points, or all weights 0) gives counts of 0 and a
        NaN mean latency, not an error: nobody lives there.
    budgets_ms
        Round-trip budgets in milliseconds, each at least ``model.fixed_overhead_ms``.
    model
        The latency model; default :class:`LatencyModel` ``()``.
    weight_column
        Column of people per point (vector population only); None counts each point as 1.
    chunk_size
        Sites handled per KD-tree query. It changes speed only: the results and the memory
        bound (points + sites + one chunk's candidate points) do not depend on it.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``sites``, float64 columns in the order of ``budgets_ms``:

        - ``population_within_<B>ms``: people within budget ``B`` (``2.5`` is labelled
          ``2p5``);
        - ``population_weighted_latency_ms``: mean RTT of the people within the **largest**
          budget, weighted by their number; NaN when nobody is within it. It describes the
          people the site can serve, so read it beside the counts: a site with a few
          people next door has a low mean latency and a small population.

        ``attrs`` records ``latency_model`` (its parameters), ``budgets_ms`` and
        ``radius_m`` (the straight-line radius of each budget).

    Raises
    ------
    CRSError
        If the sites have no CRS or a geographic one, or the population has no CRS.
    InvalidLayerError
        If sites or population points are not points, the weight column is missing, not
        numeric, NaN (the message names the rows) or negative.
    ScenarioError
        If a budget is below the model's fixed overhead, repeated or not finite, or
        ``chunk_size`` < 1.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> sites = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(300_000, 0)], crs="EPSG:5070")
    >>> towns = gpd.GeoDataFrame(
    ...     {"population": [1000, 250]},
    ...     geometry=[Point(50_000, 0), Point(400_000, 0)], crs="EPSG:5070")
    >>> model = LatencyModel(route_factor=1.5, fiber_km_per_ms=200.0, fixed_overhead_ms=1.0)
    >>> population_within_latency(sites, towns, budgets_ms=(2, 5, 10), model=model).T
                                         0       1
    population_within_2ms           1000.0     0.0
    population_within_5ms           1000.0  1250.0
    population_within_10ms          1250.0  1250.0
    population_weighted_latency_ms     2.8     4.3
    """
    model = LatencyModel() if model is None else model
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise ScenarioError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise ScenarioError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    budgets = _check_budgets(budgets_ms, model)
    crs, factor = _projected_crs(sites.crs, "the sites")
    sx, sy, present = _site_coordinates(sites)
    points = _Points(*_population_points(population, crs, weight_column))
    radii_m = model.radius_m(budgets)
    ascending = np.argsort(budgets)
    counts, sum_wd = _accumulate(
        sx[present], sy[present], points, radii_m[ascending] / factor, chunk_size=int(chunk_size)
    )
    out = pd.DataFrame(index=sites.index)
    for j, position in enumerate(ascending):
        column = np.full(len(sites), np.nan)
        column[present] = counts[:, j]
        out[f"population_within_{_budget_label(budgets[position])}ms"] = column
    reached = counts[:, -1] if len(budgets) else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_m = np.where(reached > 0, sum_wd * factor / reached, np.nan)
    latency = np.full(len(sites), np.nan)
    latency[present] = model.fixed_overhead_ms + model.rtt_ms_per_km * mean_m / 1000.0
    out = out[[f"population_within_{_budget_label(b)}ms" for b in budgets]]
    out["population_weighted_latency_ms"] = latency
    out.attrs.update(
        latency_model=asdict(model),
        budgets_ms=[float(b) for b in budgets],
        radius_m={_budget_label(b): float(r) for b, r in zip(budgets, radii_m, strict=True)},
    )
    return out


# -- per cell ----------------------------------------------------------------------------


def _counts_in_window(window: Grid, points: _Points, radius: float) -> np.ndarray:
    """People within ``radius`` of each cell centre of one window of the grid."""
    xx, yy = np.meshgrid(window.xs, window.ys)
    counts, _ = _accumulate(
        xx.ravel(), yy.ravel(), points, np.array([radius]), chunk_size=_SITE_BLOCK
    )
    return counts[:, 0].reshape(xx.shape)


def _aligned_offsets(population: Grid, grid: Grid) -> tuple[int, int] | None:
    """Row and column of ``grid``'s origin in ``population``'s cells, if the two align."""
    if not population.is_aligned_with(grid):
        return None
    t, u = grid.transform, population.transform
    return round((t.f - u.f) / u.e), round((t.c - u.c) / u.a)


def _disk_kernel(radius: float, xres: float, yres: float) -> np.ndarray:
    """1 where the offset between two cell centres is within ``radius`` (CRS units)."""
    kx, ky = int(radius // xres), int(radius // yres)
    dx = np.arange(-kx, kx + 1) * xres
    dy = np.arange(-ky, ky + 1) * yres
    return (np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2) <= radius).astype("float64")


def _halo_window(
    offsets: tuple[int, int],
    rows: slice,
    cols: slice,
    halo: tuple[int, int],
    pshape: tuple[int, int],
) -> tuple[tuple[int, int], tuple[slice, slice] | None, tuple[slice, slice]]:
    """Where one block of the grid, plus a halo, lies in the population raster.

    Returns the window's shape, the population cells inside the raster (None when the
    window is wholly off it) and where those cells go in the window.
    """
    (row0, col0), (ky, kx) = offsets, halo
    r0, r1 = row0 + rows.start - ky, row0 + rows.stop + ky
    c0, c1 = col0 + cols.start - kx, col0 + cols.stop + kx
    a0, a1 = max(r0, 0), min(r1, pshape[0])
    b0, b1 = max(c0, 0), min(c1, pshape[1])
    placed = (slice(a0 - r0, a1 - r0), slice(b0 - c0, b1 - c0))
    if a0 >= a1 or b0 >= b1:
        return (r1 - r0, c1 - c0), None, placed
    return (r1 - r0, c1 - c0), (slice(a0, a1), slice(b0, b1)), placed


def _convolve_window(
    values: np.ndarray | None,
    window_shape: tuple[int, int],
    placed: tuple[slice, slice],
    kernel: np.ndarray,
    nodata: Any,
) -> np.ndarray:
    """Population within the disk ``kernel`` of each cell of one block of the grid.

    ``values`` are the raster's cells of the block's window (the block plus a halo of the
    kernel's radius) that lie inside the raster, at ``placed`` in the window; people beyond
    the raster's edge are not counted.
    """
    from scipy.signal import convolve

    ky, kx = kernel.shape[0] // 2, kernel.shape[1] // 2
    shape = (window_shape[0] - 2 * ky, window_shape[1] - 2 * kx)
    window = np.zeros(window_shape)
    if values is not None:
        window[placed] = _clean_cells(values, nodata)
    total = window.sum()
    if total == 0:
        return np.zeros(shape)
    block = convolve(window, kernel, mode="valid", method="auto")
    # An FFT leaves rounding noise of about 1e-16 x the window's population where the
    # exact sum is 0 (or a whole number): snap it away.
    block[np.abs(block) <= total * 1e-12] = 0.0
    return block


@dataclass(frozen=True)
class _ConvolveBlock:
    """Picklable task: one block of the convolution, from its window of the population."""

    kernel: np.ndarray
    nodata: Any

    def __call__(
        self, values: np.ndarray | None, window_shape: tuple[int, int], placed: tuple[slice, slice]
    ) -> np.ndarray:
        return _convolve_window(values, window_shape, placed, self.kernel, self.nodata)


def _convolved(
    array: xr.DataArray,
    pgrid: Grid,
    offsets: tuple[int, int],
    grid: Grid,
    radius: float,
    chunks: int | tuple[int, int] | None = None,
) -> Any:
    """Population within ``radius`` of each cell centre, by convolution with a disk.

    Block by block, each from its window of the population plus a halo of the radius: in
    memory (tiles of ``_RASTER_TILE``) without ``chunks``, else as a lazy dask array whose
    blocks read only their own windows of the population.
    """
    xres, yres = grid.resolution
    kernel = _disk_kernel(radius, xres, yres)
    halo = (kernel.shape[0] // 2, kernel.shape[1] // 2)
    nodata = array.rio.nodata
    if chunks is None:
        out = np.zeros(grid.shape)
        for tile in grid.tiles(_RASTER_TILE):
            shape, inside, placed = _halo_window(offsets, tile.rows, tile.cols, halo, pgrid.shape)
            values = None if inside is None else array[inside].values
            out[tile.rows, tile.cols] = _convolve_window(values, shape, placed, kernel, nodata)
        return out

    import dask
    import dask.array as da

    from siting.layers import _chunk_slices

    row_slices, col_slices = _chunk_slices(grid.shape, chunks)
    # Only the population within a halo of the grid is ever read: crop to it first.
    _, reach, _ = _halo_window(
        offsets, slice(0, grid.height), slice(0, grid.width), halo, pgrid.shape
    )
    if reach is None:
        return da.zeros(grid.shape, dtype="float64", chunks=chunks)
    array = array[reach]
    offsets = (offsets[0] - reach[0].start, offsets[1] - reach[1].start)
    pshape = (reach[0].stop - reach[0].start, reach[1].stop - reach[1].start)
    # The population as dask blocks of the grid's chunk shape (lazy and copy-free for an
    # in-memory or file-backed raster; as it is when it is already dask-backed): each
    # block's window is then a slice of it, a dependency the scheduler reads and frees.
    if array.chunks is not None:
        source = array.data
    else:
        tile_rows, tile_cols = row_slices[0].stop, col_slices[0].stop
        source = array.chunk(dict(zip(array.dims, (tile_rows, tile_cols), strict=True))).data
    convolve = shared(_ConvolveBlock(kernel, nodata))  # to each worker once, not every block
    task = dask.delayed(call, pure=True)
    blocks = []
    for rows in row_slices:
        line = []
        for cols in col_slices:
            shape, inside, placed = _halo_window(offsets, rows, cols, halo, pshape)
            values = None if inside is None else source[inside]
            line.append(
                da.from_delayed(
                    task(convolve, values, shape, placed),
                    shape=(rows.stop - rows.start, cols.stop - cols.start),
                    dtype="float64",
                )
            )
        blocks.append(line)
    return da.block(blocks)


def population_within_latency_raster(
    population: PopulationLike,
    grid: Grid,
    *,
    budget_ms: float,
    model: LatencyModel | None = None,
    weight_column: str | None = "population",
    method: Literal["auto", "convolve", "points"] = "auto",
    chunks: int | tuple[int, int] | None = None,
) -> xr.DataArray:
    """For every cell of ``grid``, the population within a round-trip budget of its centre.

    The raster counterpart of :func:`population_within_latency` for the pipeline's feature
    stack: the value at a cell equals that function's count for a site at the cell centre.

    Two exact methods:

    - ``"convolve"``: the population is a raster on the grid's CRS and resolution with cell
      edges aligned to the grid's (any extent). The count is the convolution of the
      population with a disk of the budget's radius (cells whose centre-to-centre distance
      is within it), tile by tile with a halo of the radius; exact for people at the
      population cells' centres, up to floating-point rounding (about 1e-15 of the
      population in reach; rounding noise where nobody is in reach is set to 0).
    - ``"points"``: anything else (points, or a raster on another grid, whose cells become
      points at their centres). Every (cell centre, point) pair within the radius is
      measured, tile by tile, with the per-site kernel.

    ``"auto"`` takes ``"convolve"`` when the population raster aligns with the grid and
    ``"points"`` otherwise. Either way, people outside the given population (beyond a
    raster's edge) are not counted: give population extending one radius beyond the grid.
    Both cost more as the radius grows relative to the cell size (``"convolve"``: the disk
    has about π·(radius/resolution)² cells); for budgets of tens of ms use cells of 1 km or
    more.

    Parameters
    ----------
    population
        Points with a CRS and a weight column, or a population raster (see
        :func:`population_within_latency`).
    grid
        The output grid, in a projected CRS (any linear unit).
    budget_ms
        Round-trip budget in milliseconds, at least ``model.fixed_overhead_ms``.
    model
        The latency model; default :class:`LatencyModel` ``()``.
    weight_column
        Column of people per point (vector population only); None counts points.
    method
        ``"auto"``, ``"convolve"`` or ``"points"``.
    chunks
        Tile edge in cells (or ``(rows, cols)``) for a lazy (dask) result computed tile by
        tile, so the grid is never held whole. ``"points"`` gives the same values as in
        memory. ``"convolve"`` reads, for each tile, only its window of the population
        raster plus a halo of the radius (a dask-backed raster stays lazy); the values
        equal the in-memory ones up to the rounding above (the convolution may switch
        between direct sums and FFTs with the tile size), with the same zeros.

    Returns
    -------
    xarray.DataArray
        float64 people on ``grid`` named ``population_within_<B>ms``; attrs give the units,
        ``budget_ms``, ``radius_m``, the model's parameters and the ``method`` used.

    Raises
    ------
    CRSError
        If the grid is geographic or the population has no CRS.
    GridError
        If ``method="convolve"`` and the population is not a raster aligned with the grid.
    InvalidLayerError, ScenarioError
        As :func:`population_within_latency`, and for an unknown ``method``.

    Examples
    --------
    >>> from siting.testing import small_grid
    >>> grid = small_grid(shape=(1, 4), resolution=100_000)
    >>> people = grid.to_xarray(dtype="float64", fill_value=0.0)
    >>> people[0, 0] = 1000.0
    >>> model = LatencyModel(route_factor=1.5, fiber_km_per_ms=200.0, fixed_overhead_ms=1.0)
    >>> population_within_latency_raster(people, grid, budget_ms=4.5, model=model).values
    array([[1000., 1000., 1000.,    0.]])
    """
    model = LatencyModel() if model is None else model
    if method not in ("auto", "convolve", "points"):
        raise ScenarioError(f"method={method!r}; allowed: 'auto', 'convolve', 'points'")
    budget = float(_check_budgets([budget_ms], model)[0])
    radius_m = float(model.radius_m(budget))
    factor = grid.metres_per_unit  # raises CRSError for a geographic grid
    radius = radius_m / factor
    offsets = None
    if isinstance(population, xr.DataArray) and method in ("auto", "convolve"):
        array, pgrid = _raster_values(population)
        offsets = _aligned_offsets(pgrid, grid)
    if method == "convolve" and offsets is None:
        raise GridError(
            "method='convolve' needs a population raster with the grid's CRS and resolution "
            "and cell edges aligned to the grid's. Align it first (for example with "
            "population.rio.reproject_match(...) and a resampling that keeps totals, such as "
            "'sum'), or use method='points'."
        )
    if offsets is not None:
        data = _convolved(array, pgrid, offsets, grid, radius, chunks)
        used = "convolve"
    else:
        points = _Points(*_population_points(population, grid.crs, weight_column))
        if chunks is None:
            data = np.zeros(grid.shape)
            for tile in grid.tiles(_RASTER_TILE):
                data[tile.rows, tile.cols] = _counts_in_window(
                    grid.window(tile.rows, tile.cols), points, radius
                )
        else:
            import dask.array as da

            def block(_: np.ndarray, points: _Points, block_info: Any = None) -> np.ndarray:
                (r0, r1), (c0, c1) = block_info[None]["array-location"]
                return _counts_in_window(grid.window(slice(r0, r1), slice(c0, c1)), points, radius)

            template = da.zeros(grid.shape, dtype="float64", chunks=chunks)
            # The points go to each worker once, not with every tile.
            data = da.map_blocks(
                block, template, shared(points), dtype="float64", meta=np.array((), "float64")
            )
        used = "points"
    label = _budget_label(budget)
    units = "people" if weight_column is not None else "points"
    if isinstance(population, xr.DataArray):
        units = str(population.attrs.get("units", units))
    result = xr.DataArray(
        data,
        coords=grid.coords(),
        dims=("y", "x"),
        name=f"population_within_{label}ms",
        attrs={
            "units": units,
            "long_name": f"population within a {budget:g} ms round trip",
            "budget_ms": budget,
            "radius_m": radius_m,
            "route_factor": model.route_factor,
            "fiber_km_per_ms": model.fiber_km_per_ms,
            "fixed_overhead_ms": model.fixed_overhead_ms,
            "method": used,
        },
    )
    return grid.georeference(result)
