"""Per-cell features from the resource and climate layers: 24/7 clean-energy fit and cooling.

An edge data center runs around the clock and must be cooled, so two questions matter at
every cell, not only at the ranked sites: how much of a flat load local solar and wind
(with a battery) can serve hour by hour, and how hot the climate runs. Both come from
annual-mean layers through the typical-year models of :mod:`siting.energy`, evaluated on a
fixed lattice and interpolated cell by cell, so they run tile by tile on lazy (dask)
stacks and give the same numbers in memory or tiled.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr
from pyproj import Transformer

from siting.energy import typical_cfe_share, typical_cooling_degree_hours, typical_hours_above
from siting.errors import ScenarioError
from siting.grid import Grid

__all__ = ["cfe_share_layer", "cooling_layer", "grid_centre_lonlat"]


def grid_centre_lonlat(grid: Grid) -> tuple[float, float]:
    """Longitude and latitude (degrees) of the centre of a grid."""
    left, bottom, right, top = grid.bounds
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform((left + right) / 2, (bottom + top) / 2)
    return float(lon), float(lat)


def _on_grid(arrays: list[xr.DataArray], what: str) -> Grid:
    grids = {Grid.from_xarray(a) for a in arrays}
    if len(grids) != 1:
        raise ScenarioError(f"{what}: the layers are on different grids; align them first")
    return grids.pop()


def cfe_share_layer(
    ghi_kwh_m2_day: xr.DataArray | None,
    wind_speed_m_s: xr.DataArray | None,
    *,
    overbuild: float = 2.0,
    battery_hours: float = 4.0,
    solar_share: float = 0.5,
    name: str = "cfe_share",
) -> xr.DataArray:
    """24/7 CFE share of a flat load at every cell (see :func:`siting.energy.typical_cfe_share`).

    The hourly shapes are those of the grid's centre; lazy inputs give a lazy result.

    Parameters
    ----------
    ghi_kwh_m2_day, wind_speed_m_s
        Annual-mean GHI and hub-height wind speed on one grid; either may be None when
        ``solar_share`` is 0 or 1.
    overbuild, battery_hours, solar_share
        The plant per MW of load.
    name
        Name of the result.

    Returns
    -------
    xarray.DataArray
        float32 share (0..1), NaN where an input is missing.
    """
    given = {"ghi": ghi_kwh_m2_day, "wind": wind_speed_m_s}
    used = [key for key, share in (("ghi", solar_share), ("wind", 1 - solar_share)) if share > 0]
    missing = [key for key in used if given[key] is None]
    if missing:
        raise ScenarioError(f"cfe_share_layer with solar_share={solar_share:g} needs {missing}")
    arrays = [given[key] for key in used]
    grid = _on_grid(arrays, name)  # type: ignore[arg-type]
    lon, lat = grid_centre_lonlat(grid)

    def share(*values: np.ndarray) -> np.ndarray:
        keyword = dict(zip(used, values, strict=True))
        return typical_cfe_share(
            keyword.get("ghi"),
            keyword.get("wind"),
            latitude=lat,
            longitude=lon,
            overbuild=overbuild,
            battery_hours=battery_hours,
            solar_share=solar_share,
        ).astype(np.float32)

    result = xr.apply_ufunc(share, *arrays, dask="parallelized", output_dtypes=[np.float32])
    result.attrs = {
        "units": "fraction",
        "long_name": (
            f"24/7 carbon-free share of a flat load with {overbuild:g}x nameplate "
            f"({solar_share:.0%} solar) and a {battery_hours:g} h battery (typical hours)"
        ),
    }
    return grid.georeference(result.rename(name))


def cooling_layer(
    temperature_c: xr.DataArray,
    kind: Literal["cooling_degree_hours", "hours_above"] = "cooling_degree_hours",
    *,
    base_c: float = 18.3,
    threshold_c: float = 27.0,
    seasonal_amplitude_c: float = 12.0,
    diurnal_amplitude_c: float = 6.0,
    weather_sd_c: float = 3.0,
    name: str | None = None,
) -> xr.DataArray:
    """Cooling degree-hours or hours above a threshold at every cell, from annual-mean °C.

    See :func:`siting.energy.typical_cooling_degree_hours`; the hemisphere (which season
    is warm) comes from the grid's centre. Lazy inputs give a lazy result.

    Returns
    -------
    xarray.DataArray
        float32: °C·h a year (``cooling_degree_hours``) or hours a year (``hours_above``).
    """
    grid = _on_grid([temperature_c], "cooling_layer")
    _, lat = grid_centre_lonlat(grid)
    shape: dict[str, Any] = {
        "seasonal_amplitude_c": seasonal_amplitude_c,
        "diurnal_amplitude_c": diurnal_amplitude_c,
        "weather_sd_c": weather_sd_c,
        "southern": lat < 0,
    }
    if kind == "cooling_degree_hours":

        def feature(values: np.ndarray) -> np.ndarray:
            return typical_cooling_degree_hours(values, base_c=base_c, **shape).astype(np.float32)

        attrs = {
            "units": "degC h",
            "long_name": f"cooling degree-hours a year, base {base_c:g} °C",
        }
    elif kind == "hours_above":

        def feature(values: np.ndarray) -> np.ndarray:
            return typical_hours_above(values, threshold_c, **shape).astype(np.float32)

        attrs = {"units": "h", "long_name": f"hours a year above {threshold_c:g} °C"}
    else:
        raise ScenarioError(f"kind={kind!r}; use 'cooling_degree_hours' or 'hours_above'")
    result = xr.apply_ufunc(
        feature, temperature_c, dask="parallelized", output_dtypes=[np.float32]
    )
    result.attrs = {**attrs, "source": "typical year around the annual-mean temperature"}
    return grid.georeference(result.rename(name or kind))
