"""Hourly clean-energy supply against a data-center load: 24/7 matching and cooling.

An edge-compute site runs around the clock, so an annual energy balance hides the hours
when the sun is down and the wind is calm. This module works hour by hour:

- **generation per MW of nameplate** from hourly weather: :func:`solar_pv_profile` (pvlib:
  solar position, Perez transposition, cell temperature, PVWatts DC and inverter models),
  :func:`wind_profile` (a turbine power curve at hub height with the IEC 61400-12-1
  air-density correction) and :func:`geothermal_profile` (firm baseload);
  :func:`sam_weather_frame` turns SAM weather files (read by
  :func:`siting.datasets.read_sam_csv`) into time-indexed frames;
- **fallback profiles** when only an annual mean is known: :func:`typical_profile` (marked
  ``profile_source="typical"``);
- **matching**: :func:`match_load` dispatches a battery greedily hour by hour and reports
  the 24/7 carbon-free-energy (CFE) share, curtailment and grid energy, vectorised across
  candidates; :func:`size_for_target` finds the overbuild and battery that reach a target
  CFE share;
- **cooling** features for the scorer: :func:`cooling_degree_hours`, :func:`hours_above`
  and :func:`cooling_features`.

Conventions: hourly steps (one value per hour, so MW and MWh per hour are the same
number); generation profiles are in MW per MW of nameplate (0..1); every profile carries
``attrs["profile_source"]`` (``"measured"`` when computed from an hourly weather record,
TMY files included, ``"typical"`` for the fallback shapes). docs/energy.md has the models,
formulas and the real-data checks.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from siting.errors import InvalidLayerError, ScenarioError

if TYPE_CHECKING:
    import xarray as xr
    from numpy.typing import NDArray

__all__ = [
    "STANDARD_AIR_DENSITY",
    "TYPICAL_YEAR",
    "MatchResult",
    "air_density",
    "cooling_degree_hours",
    "cooling_features",
    "generic_power_curve",
    "geothermal_profile",
    "hours_above",
    "match_load",
    "match_sites",
    "sam_weather_frame",
    "size_for_target",
    "solar_pv_profile",
    "standard_atmosphere_density",
    "typical_cfe_share",
    "typical_cooling_degree_hours",
    "typical_hours_above",
    "typical_profile",
    "wind_profile",
]

#: Air density of the IEC 61400-12-1 reference (sea level, 15 °C), kg/m³.
STANDARD_AIR_DENSITY = 1.225
#: Calendar year given to typical-year data (TMY files mix months of different years).
TYPICAL_YEAR = 1990

_R_DRY_AIR = 287.05  # J/(kg K)
_HOURS_IN_YEAR = (8760, 8784)
_SOLAR_COLUMNS = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s")
_TRANSPOSITIONS = ("perez", "haydavies", "isotropic")
_PRESSURE_TO_PA = {"atm": 101_325.0, "pa": 1.0, "kpa": 1000.0, "hpa": 100.0, "mbar": 100.0}
_SPEED_RE = re.compile(r"^wind_speed_(\d+(?:\.\d+)?)m_m_s$")
_TEMP_RE = re.compile(r"^temp_air_(\d+(?:\.\d+)?)m_c$")
_PRESSURE_RE = re.compile(r"^pressure_(\d+(?:\.\d+)?)m_(atm|pa|kpa|hpa|mbar)$")

ProfileSource = Literal["measured", "typical"]


def _pvlib() -> Any:
    import pvlib  # type: ignore[import-untyped]

    return pvlib


@contextmanager
def _quiet_pvlib() -> Iterator[None]:
    """Silence pvlib's own deprecation notices about pandas (not actionable by users)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pvlib\.")
        yield


# -- small checks -----------------------------------------------------------------------


def _number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    error: type[Exception] = ScenarioError,
) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number; got {value!r}.") from None
    if not math.isfinite(x):
        raise error(f"{name} must be finite; got {value!r}.")
    if low is not None and (x < low or (low_open and x == low)):
        side = ">" if low_open else ">="
        raise error(f"{name} must be {side} {low:g}; got {x:g}.")
    if high is not None and x > high:
        raise error(f"{name} must be <= {high:g}; got {x:g}.")
    return x


def _fixed_offset(hours: float) -> timezone:
    return timezone(timedelta(hours=_number(hours, "utc_offset_h", low=-14, high=14)))


def _hourly_index(
    index: pd.Index, what: str, *, utc_offset_h: float | None, need_tz: bool
) -> pd.DatetimeIndex:
    """Check that ``index`` is a regular hourly DatetimeIndex; localise it when asked."""
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidLayerError(
            f"{what} needs a DatetimeIndex (hourly timestamps); got a {type(index).__name__}. "
            "Build one with siting.energy.sam_weather_frame or pandas.date_range."
        )
    if len(index) > 1:
        steps = index[1:] - index[:-1]
        wrong = np.asarray(steps != pd.Timedelta(hours=1))
        if wrong.any():
            bad = int(np.flatnonzero(wrong)[0])
            raise InvalidLayerError(
                f"{what} must be hourly and regular; the step after {index[bad]} is "
                f"{steps[bad]}. Resample to hourly means first."
            )
    if index.tz is None and utc_offset_h is not None:
        index = index.tz_localize(_fixed_offset(utc_offset_h))
    elif index.tz is not None and utc_offset_h is not None:
        raise InvalidLayerError(
            f"{what} already has a time zone ({index.tz}); do not also pass utc_offset_h."
        )
    if need_tz and index.tz is None:
        raise InvalidLayerError(
            f"{what} has timestamps without a time zone, so the sun position is unknown. "
            "Pass utc_offset_h (hours from UTC, e.g. -8 for US Pacific standard time) or "
            "localise the index (index.tz_localize(...))."
        )
    return index


def _check_year(n: int, what: str) -> None:
    if n not in _HOURS_IN_YEAR:
        raise InvalidLayerError(
            f"{what} must cover one year of hourly values (8,760 or 8,784 hours); got {n}. "
            "Pass one calendar or typical year at a time."
        )


def _finite_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    for col in columns:
        values = frame[col].to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            first = frame.index[int(np.flatnonzero(bad)[0])]
            raise InvalidLayerError(
                f"{what}: column {col!r} has {int(bad.sum())} missing or non-finite values "
                f"(first at {first}). Fill or drop those hours before computing generation."
            )


def _require_columns(frame: Any, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidLayerError(
            f"{what} must be a pandas DataFrame with columns {list(columns)}; "
            f"got {type(frame).__name__}."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidLayerError(
            f"{what} lacks the columns {missing}; it has {list(map(str, frame.columns))}. "
            f"Expected {list(columns)} (what siting.datasets.read_sam_csv gives for SAM "
            "solar files, indexed by siting.energy.sam_weather_frame)."
        )


def _as_profile(
    values: Any, index: pd.Index, name: str, source: ProfileSource, **attrs: Any
) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=float), index=index, name=name)
    out.attrs.update({"profile_source": source, "unit": "MW per MW of nameplate", **attrs})
    return out


# -- weather files ----------------------------------------------------------------------


def sam_weather_frame(
    meta: Mapping[str, Any],
    data: pd.DataFrame,
    *,
    year: int | None = None,
    utc_offset_h: float | None = None,
) -> pd.DataFrame:
    """Index a SAM weather table (from :func:`siting.datasets.read_sam_csv`) by time.

    The index labels the **start** of each hour in local standard time: row ``hour = h``
    covers ``[h:00, h+1:00)``. That is SAM's convention for its CSV weather files (TMY2's
    original hour-ending stamps 1..24 are stored as 0..23), and it is what the Daggett
    TMY2 file shows: the irradiance-weighted mean of its hour labels is 11.28, so with
    each value centred half an hour after its label the day is centred on 11:47 local
    standard time — exactly solar noon at 116.8 °W (the equation of time averages out
    over a year). Labels marking the end of the hour, or instants, would put the centre
    at 10:47 or 11:17.
    :func:`solar_pv_profile` therefore computes the sun position at the middle of each
    hour. A ``minute`` column (NSRDB-style files with instantaneous values at ``h:mm``)
    is recorded in ``attrs["solar_position_offset_min"]`` instead.

    Parameters
    ----------
    meta, data
        The two values returned by :func:`siting.datasets.read_sam_csv` for a solar
        (TMY2/TMY3-style) or wind (SRW) file.
    year
        Calendar year for the index. By default the file's own year when it has one year
        (a single-year file); typical years mixing months from several years (TMY) and
        SRW files without a year get :data:`TYPICAL_YEAR` (1990), or 1992 when the data
        hold 29 February.
    utc_offset_h
        Hours from UTC of the local standard time, overriding the header's ``time_zone``;
        SRW files have no time zone, so without this their index is naive.

    Returns
    -------
    pandas.DataFrame
        The data columns (date columns removed) on an hourly DatetimeIndex named
        ``time``; ``attrs`` keeps ``latitude``, ``longitude``, ``elevation_m``,
        ``format`` and ``solar_position_offset_min`` (30 unless the file says otherwise).

    Raises
    ------
    InvalidLayerError
        Missing date columns, a length that is not one year (8,760 or 8,784 hours),
        impossible dates, or duplicated hours.

    Examples
    --------
    >>> import pandas as pd
    >>> hours = pd.date_range("1990-01-01", periods=8760, freq="h")
    >>> data = pd.DataFrame({"year": 1967, "month": hours.month, "day": hours.day,
    ...                      "hour": hours.hour, "ghi_w_m2": 0.0})
    >>> meta = {"format": "sam_solar", "latitude": 34.9, "longitude": -116.8,
    ...         "time_zone": -8.0, "elevation_m": 588.0}
    >>> frame = sam_weather_frame(meta, data)
    >>> str(frame.index[0]), list(frame.columns)
    ('1967-01-01 00:00:00-08:00', ['ghi_w_m2'])
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidLayerError(f"data must be a DataFrame; got {type(data).__name__}.")
    n = len(data)
    _check_year(n, "A SAM weather file")
    fmt = str(meta.get("format", ""))
    offset = utc_offset_h
    if offset is None:
        tz_value = meta.get("time_zone")
        if isinstance(tz_value, int | float) and math.isfinite(tz_value):
            offset = float(tz_value)
    minute_offset = 30.0
    date_columns = [c for c in ("year", "month", "day", "hour", "minute") if c in data.columns]
    if {"month", "day", "hour"} <= set(data.columns):
        years = pd.unique(data["year"]) if "year" in data.columns else np.array([])
        has_feb29 = bool(((data["month"] == 2) & (data["day"] == 29)).any())
        if year is None:
            year = int(years[0]) if len(years) == 1 else (1992 if has_feb29 else TYPICAL_YEAR)
        hour = data["hour"].to_numpy(dtype=int)
        if hour.min() == 1 and hour.max() == 24:
            hour = hour - 1  # hour-ending stamps 1..24 → the hour that ends there
        if hour.min() < 0 or hour.max() > 23:
            raise InvalidLayerError(
                f"SAM weather hours must be 0..23 (or 1..24); got {hour.min()}..{hour.max()}."
            )
        if "minute" in data.columns:
            minutes = pd.unique(data["minute"])
            if len(minutes) == 1 and 0 <= float(minutes[0]) < 60:
                minute_offset = float(minutes[0])
            else:
                raise InvalidLayerError(
                    f"SAM weather 'minute' column must hold one value for hourly data; "
                    f"got {sorted(map(float, minutes))[:5]}."
                )
        try:
            stamps = pd.to_datetime(
                pd.DataFrame(
                    {"year": year, "month": data["month"], "day": data["day"], "hour": hour}
                )
            )
        except (ValueError, OverflowError) as exc:
            raise InvalidLayerError(
                f"SAM weather dates are not valid in year {year}: {exc}. Pass year=... "
                "(a leap year if the file has 29 February)."
            ) from exc
        index = pd.DatetimeIndex(stamps)
    elif fmt == "sam_srw" or not date_columns:
        file_year = meta.get("year")
        if year is None:
            if isinstance(file_year, int | float) and math.isfinite(file_year):
                year = int(file_year)
            else:
                year = 1992 if n == 8784 else TYPICAL_YEAR
        step = meta.get("interval_hours", 1.0)
        if isinstance(step, int | float) and math.isfinite(step) and step != 1:
            raise InvalidLayerError(f"SRW file with a {step:g}-hour interval; expected 1 hour.")
        index = pd.date_range(f"{year}-01-01", periods=n, freq="h")
        if len(index) and index[-1].year != year:
            raise InvalidLayerError(
                f"{n} hourly records do not fit in year {year}; pass a "
                f"{'leap' if n == 8784 else 'non-leap'} year."
            )
    else:
        raise InvalidLayerError(
            f"SAM weather data need month, day and hour columns; got {list(data.columns)}."
        )
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise InvalidLayerError(f"SAM weather data repeat the hour {dup}.")
    if not index.is_monotonic_increasing:
        raise InvalidLayerError("SAM weather rows are not in time order.")
    if offset is not None:
        index = index.tz_localize(_fixed_offset(offset))
    index.name = "time"
    out = data.drop(columns=date_columns).set_axis(index, axis=0)
    out.attrs = {
        "format": fmt,
        "latitude": meta.get("latitude"),
        "longitude": meta.get("longitude"),
        "elevation_m": meta.get("elevation_m"),
        "solar_position_offset_min": minute_offset,
    }
    _hourly_index(out.index, "SAM weather data", utc_offset_h=None, need_tz=False)
    return out


# -- solar ------------------------------------------------------------------------------


def solar_pv_profile(
    weather: pd.DataFrame,
    *,
    latitude: float,
    longitude: float,
    altitude_m: float = 0.0,
    tilt: float | None = None,
    azimuth: float = 180.0,
    dc_ac_ratio: float = 1.2,
    losses_pct: float = 14.0,
    inverter_efficiency: float = 0.96,
    gamma_pdc: float = -0.0037,
    albedo: float = 0.2,
    transposition: Literal["perez", "haydavies", "isotropic"] = "perez",
    temperature_model: str = "open_rack_glass_polymer",
    utc_offset_h: float | None = None,
    solar_position_offset_min: float | None = None,
) -> pd.Series:
    """Hourly AC output of a fixed-tilt PV plant per MW of AC nameplate (0..1).

    The PVWatts chain (Dobos 2014, PVWatts Version 5 Manual, NREL/TP-6A20-62641) with
    pvlib: sun position (NREL SPA) at the middle of each hour; plane-of-array irradiance
    from GHI/DNI/DHI by the Perez (1990) model (or Hay-Davies, isotropic); glass-cover
    angle-of-incidence loss on the beam (``pvlib.iam.physical``); cell temperature from
    air temperature, wind and irradiance (Sandia/King 2004 model, open-rack
    glass/polymer); PVWatts DC power ``P_dc = (dc_ac_ratio) · G_eff/1000 · (1 + γ (T_cell −
    25))`` reduced by ``losses_pct``; the PVWatts inverter (nominal efficiency 96 %),
    which clips at the AC nameplate.

    Parameters
    ----------
    weather
        Hourly DataFrame with a DatetimeIndex (time-zone aware, or naive with
        ``utc_offset_h``) and columns ``ghi_w_m2, dni_w_m2, dhi_w_m2, temp_air_c,
        wind_speed_m_s`` — what :func:`sam_weather_frame` makes of a SAM solar file.
        A ``pressure_mbar`` column, when present, refines the refraction correction.
    latitude, longitude
        Site in degrees (WGS84).
    altitude_m
        Site elevation, for the sun position and air mass.
    tilt
        Array tilt in degrees from horizontal; default the latitude (absolute value).
    azimuth
        Array azimuth in degrees clockwise from north (180 = south).
    dc_ac_ratio
        DC nameplate per AC nameplate (inverter loading ratio).
    losses_pct
        PVWatts system losses (soiling, wiring, mismatch, availability, ...), percent of
        DC output; PVWatts' default is 14.
    inverter_efficiency
        Nominal inverter efficiency.
    gamma_pdc
        Temperature coefficient of power, 1/°C (−0.0037, typical of current
        crystalline-silicon modules; PVWatts v5's "standard" module used −0.0047).
    albedo
        Ground reflectance.
    transposition
        ``"perez"`` (default), ``"haydavies"`` or ``"isotropic"``.
    temperature_model
        A key of pvlib's SAPM temperature parameters (``open_rack_glass_polymer``,
        ``open_rack_glass_glass``, ``close_mount_glass_glass``,
        ``insulated_back_glass_polymer``).
    utc_offset_h
        Hours from UTC when the index is naive (local standard time).
    solar_position_offset_min
        Minutes after each index label at which the sun position is computed; default
        ``weather.attrs["solar_position_offset_min"]`` or 30 (hourly means labelled by
        the start of the hour).

    Returns
    -------
    pandas.Series
        ``solar_pv``: MW AC per MW AC nameplate, hourly, in 0..1, with
        ``attrs["profile_source"] == "measured"``. Its mean is the AC capacity factor;
        divide by ``dc_ac_ratio`` for the AC-to-DC capacity factor PVWatts reports.

    Raises
    ------
    InvalidLayerError
        Wrong columns, missing values, a non-hourly index or one without a time zone.
    ScenarioError
        Parameters out of range (tilt outside 0..90, negative losses, ...).

    Examples
    --------
    A bright June day at Daggett, CA (a sine-shaped sky between 05:00 and 19:00):

    >>> import numpy as np, pandas as pd
    >>> times = pd.date_range("1990-06-21", periods=24, freq="h", tz="Etc/GMT+8")
    >>> sun = np.clip(np.sin(np.pi * (np.arange(24) + 0.5 - 5) / 14), 0, None)
    >>> weather = pd.DataFrame({"ghi_w_m2": 1000 * sun, "dni_w_m2": 900 * sun,
    ...     "dhi_w_m2": 100 * sun, "temp_air_c": 30.0, "wind_speed_m_s": 3.0}, index=times)
    >>> pv = solar_pv_profile(weather, latitude=34.87, longitude=-116.78, altitude_m=588)
    >>> float(pv.iloc[0]), round(float(pv.max()), 2), round(float(pv.mean()), 2)
    (0.0, 0.83, 0.23)
    """
    _require_columns(weather, _SOLAR_COLUMNS, "solar_pv_profile weather")
    index = _hourly_index(
        weather.index, "solar_pv_profile weather", utc_offset_h=utc_offset_h, need_tz=True
    )
    _finite_columns(weather, _SOLAR_COLUMNS, "solar_pv_profile weather")
    lat = _number(latitude, "latitude", low=-90, high=90)
    lon = _number(longitude, "longitude", low=-180, high=180)
    alt = _number(altitude_m, "altitude_m", low=-500, high=9000)
    tilt_deg = abs(lat) if tilt is None else _number(tilt, "tilt", low=0, high=90)
    az = _number(azimuth, "azimuth", low=0, high=360)
    ratio = _number(dc_ac_ratio, "dc_ac_ratio", low=0, low_open=True, high=5)
    losses = _number(losses_pct, "losses_pct", low=0, high=100)
    eta = _number(inverter_efficiency, "inverter_efficiency", low=0, low_open=True, high=1)
    gamma = _number(gamma_pdc, "gamma_pdc", low=-0.02, high=0.0)
    rho = _number(albedo, "albedo", low=0, high=1)
    if transposition not in _TRANSPOSITIONS:
        raise ScenarioError(
            f"transposition must be one of {list(_TRANSPOSITIONS)}; got {transposition!r}."
        )
    pvlib = _pvlib()
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]
    if temperature_model not in params:
        raise ScenarioError(
            f"temperature_model must be one of {sorted(params)}; got {temperature_model!r}."
        )
    offset = solar_position_offset_min
    if offset is None:
        offset = weather.attrs.get("solar_position_offset_min", 30.0)
    offset = _number(offset, "solar_position_offset_min", low=0, high=60)

    ghi = weather["ghi_w_m2"].to_numpy(dtype=float)
    dni = weather["dni_w_m2"].to_numpy(dtype=float)
    dhi = weather["dhi_w_m2"].to_numpy(dtype=float)
    temp_air = weather["temp_air_c"].to_numpy(dtype=float)
    wind = weather["wind_speed_m_s"].to_numpy(dtype=float)
    if (ghi < 0).any() or (dni < 0).any() or (dhi < 0).any() or (wind < 0).any():
        raise InvalidLayerError(
            "solar_pv_profile weather has negative irradiance or wind speed; "
            "irradiance is W/m² ≥ 0 and wind speed m/s ≥ 0."
        )
    times = index + pd.Timedelta(minutes=offset)
    pressure = None
    if "pressure_mbar" in weather.columns:
        p = weather["pressure_mbar"].to_numpy(dtype=float) * 100.0
        pressure = p if np.isfinite(p).all() and (p > 0).all() else None
    if pressure is None:
        pressure = pvlib.atmosphere.alt2pres(alt)
    with _quiet_pvlib():
        solpos = pvlib.solarposition.get_solarposition(
            times, lat, lon, altitude=alt, pressure=pressure, temperature=temp_air
        )
        zenith = solpos["apparent_zenith"].to_numpy()
        sun_az = solpos["azimuth"].to_numpy()
        dni = np.where(zenith < 90.0, dni, 0.0)
        dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
        airmass = np.asarray(pvlib.atmosphere.get_relative_airmass(zenith), dtype=float)
        poa = pvlib.irradiance.get_total_irradiance(
            tilt_deg,
            az,
            zenith,
            sun_az,
            dni,
            ghi,
            dhi,
            dni_extra=dni_extra,
            airmass=airmass,
            albedo=rho,
            model=transposition,
        )
        poa_direct = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=float))
        poa_diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=float))
        aoi = np.asarray(pvlib.irradiance.aoi(tilt_deg, az, zenith, sun_az), dtype=float)
        iam = np.nan_to_num(np.asarray(pvlib.iam.physical(aoi), dtype=float))
        effective = np.clip(poa_direct * iam + poa_diffuse, 0.0, None)
        poa_global = np.clip(poa_direct + poa_diffuse, 0.0, None)
        temp_cell = np.asarray(
            pvlib.temperature.sapm_cell(poa_global, temp_air, wind, **params[temperature_model]),
            dtype=float,
        )
    pdc = np.asarray(pvlib.pvsystem.pvwatts_dc(effective, temp_cell, ratio, gamma), dtype=float)
    pdc = np.clip(pdc, 0.0, None) * (1.0 - losses / 100.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pac = np.asarray(pvlib.inverter.pvwatts(pdc, 1.0 / eta, eta_inv_nom=eta), dtype=float)
    pac = np.clip(np.nan_to_num(pac), 0.0, 1.0)
    return _as_profile(
        pac,
        weather.index,
        "solar_pv",
        "measured",
        unit="MW_ac per MW_ac of nameplate",
        dc_ac_ratio=ratio,
        tilt=tilt_deg,
        azimuth=az,
        losses_pct=losses,
        transposition=transposition,
    )


# -- wind -------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _generic_curve(
    rated_mw: float,
    rotor_diameter_m: float,
    cp_max: float,
    cut_in: float,
    cut_out: float,
    ti: float,
    step: float,
) -> tuple[tuple[float, ...], ...]:
    speeds = np.round(np.arange(0.0, cut_out + step / 2, step), 6)
    area = math.pi * rotor_diameter_m**2 / 4.0
    u = np.linspace(0.0, 2.0 * cut_out, 8001)
    # zero-turbulence curve: the rotor's aerodynamic power, capped at the rating
    p0 = np.minimum(0.5 * STANDARD_AIR_DENSITY * area * cp_max * u**3 / 1e6, rated_mw) / rated_mw
    power = np.zeros_like(speeds)
    v = speeds[speeds > 0]
    if ti > 0:
        sigma = ti * v
        w = np.exp(-0.5 * ((u[None, :] - v[:, None]) / sigma[:, None]) ** 2)
        w /= w.sum(axis=1, keepdims=True)
        power[speeds > 0] = w @ p0
    else:
        power[speeds > 0] = np.interp(v, u, p0)
    power[(speeds < cut_in) | (speeds > cut_out)] = 0.0
    power = np.round(power, 6)  # a table, not a quadrature: rated power is exactly 1
    return tuple(speeds.tolist()), tuple(power.tolist())


def generic_power_curve(
    *,
    rated_mw: float = 3.0,
    rotor_diameter_m: float = 112.0,
    cp_max: float = 0.45,
    cut_in_m_s: float = 3.0,
    cut_out_m_s: float = 25.0,
    turbulence_intensity: float = 0.10,
    step_m_s: float = 0.25,
) -> pd.Series:
    """A documented generic power curve (default: ~3 MW, IEC class II).

    Built from physics rather than a manufacturer's table: the rotor's power
    ``½ ρ₀ A C_p v³`` (ρ₀ = 1.225 kg/m³, ``A`` the swept area, ``C_p`` = ``cp_max``
    electrical power coefficient, below Betz's 0.593) capped at the rating, then averaged
    over a normal distribution of 10-minute speeds with standard deviation
    ``turbulence_intensity · v`` — the rounding of the knee that measured curves show —
    and set to zero below cut-in and above cut-out. The defaults describe the turbines
    typical of US land-based wind around 2015–2020: 3 MW on a 112 m rotor (specific power
    304 W/m², the class II machines of that size), cut-in 3 m/s, rated near 12 m/s,
    cut-out 25 m/s, 10 % turbulence (the value SAM uses by default).

    Parameters
    ----------
    rated_mw, rotor_diameter_m, cp_max, cut_in_m_s, cut_out_m_s, turbulence_intensity
        The turbine, as described above.
    step_m_s
        Spacing of the tabulated speeds.

    Returns
    -------
    pandas.Series
        Power as a fraction of the rating (0..1), indexed by hub-height wind speed (m/s)
        at the standard air density; ``attrs`` record the parameters.

    Examples
    --------
    >>> curve = generic_power_curve()
    >>> float(curve[2.75]), round(float(curve[8.0]), 2), float(curve[20.0]), float(curve[25.0])
    (0.0, 0.48, 1.0, 1.0)
    >>> round(3.0e6 / (3.14159 * 56**2))  # specific power, W/m²
    305
    """
    rated = _number(rated_mw, "rated_mw", low=0, low_open=True)
    diameter = _number(rotor_diameter_m, "rotor_diameter_m", low=0, low_open=True)
    cp = _number(cp_max, "cp_max", low=0, low_open=True, high=16 / 27)
    cut_in = _number(cut_in_m_s, "cut_in_m_s", low=0)
    cut_out = _number(cut_out_m_s, "cut_out_m_s", low=cut_in, low_open=True, high=60)
    ti = _number(turbulence_intensity, "turbulence_intensity", low=0, high=0.5)
    step = _number(step_m_s, "step_m_s", low=0.01, high=1.0)
    speeds, power = _generic_curve(rated, diameter, cp, cut_in, cut_out, ti, step)
    out = pd.Series(power, index=pd.Index(speeds, name="wind_speed_m_s"), name="power_fraction")
    out.attrs.update(
        rated_mw=rated,
        rotor_diameter_m=diameter,
        cp_max=cp,
        cut_in_m_s=cut_in,
        cut_out_m_s=cut_out,
        turbulence_intensity=ti,
    )
    return out


def _curve_arrays(
    power_curve: pd.Series | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    curve = generic_power_curve() if power_curve is None else power_curve
    if not isinstance(curve, pd.Series):
        raise ScenarioError(
            "power_curve must be a pandas Series of power indexed by wind speed (m/s); got "
            f"{type(curve).__name__}."
        )
    speeds = np.asarray(curve.index, dtype=float)
    power = np.asarray(curve.to_numpy(), dtype=float)
    if len(speeds) < 2 or not np.isfinite(speeds).all() or not np.isfinite(power).all():
        raise ScenarioError("power_curve needs at least two finite (speed, power) points.")
    if (np.diff(speeds) <= 0).any():
        raise ScenarioError("power_curve speeds (its index) must be strictly increasing.")
    if (power < 0).any() or power.max() <= 0:
        raise ScenarioError("power_curve values must be >= 0 with a positive maximum.")
    return speeds, power / power.max()


def _lookup(
    speed: NDArray[np.float64], speeds: NDArray[np.float64], power: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Power fraction at ``speed``: linear between points, zero outside cut-in..cut-out."""
    on = np.flatnonzero(power > 0)
    cut_in, cut_out = speeds[on[0]], speeds[on[-1]]
    out = np.interp(speed, speeds, power)
    out[(speed < cut_in) | (speed > cut_out)] = 0.0
    return out


def air_density(temp_air_c: Any, pressure_pa: Any) -> Any:
    """Dry-air density from the ideal gas law, ``ρ = p / (R_d · T)``, kg/m³.

    Humidity is ignored (moist air is lighter by at most ~1–2 % in hot, humid air).

    Examples
    --------
    >>> round(float(air_density(15.0, 101325.0)), 3)
    1.225
    """
    t = np.asarray(temp_air_c, dtype=float) + 273.15
    return np.asarray(pressure_pa, dtype=float) / (_R_DRY_AIR * t)


def standard_atmosphere_density(elevation_m: Any) -> Any:
    """Air density of the ICAO standard atmosphere at an elevation, kg/m³.

    ``T = 288.15 − 0.0065 h`` K and ``p = 101325 (T/288.15)^5.2559`` Pa.

    Examples
    --------
    >>> round(float(standard_atmosphere_density(0.0)), 3)
    1.225
    >>> round(float(standard_atmosphere_density(2000.0)), 3)
    1.007
    """
    h = np.asarray(elevation_m, dtype=float)
    t = 288.15 - 0.0065 * h
    p = 101_325.0 * (t / 288.15) ** 5.25588
    return p / (_R_DRY_AIR * t)


def _height_columns(frame: pd.DataFrame) -> dict[str, dict[float, tuple[str, float]]]:
    found: dict[str, dict[float, tuple[str, float]]] = {"speed": {}, "temp": {}, "pressure": {}}
    for col in frame.columns:
        name = str(col)
        if m := _SPEED_RE.match(name):
            found["speed"][float(m.group(1))] = (name, 1.0)
        elif m := _TEMP_RE.match(name):
            found["temp"][float(m.group(1))] = (name, 1.0)
        elif m := _PRESSURE_RE.match(name):
            found["pressure"][float(m.group(1))] = (name, _PRESSURE_TO_PA[m.group(2)])
    return found


def _bracket(heights: Sequence[float], hub: float) -> tuple[float, float]:
    """The two measured heights used for ``hub``: around it, or the nearest two."""
    hs = sorted(heights)
    if hub <= hs[0]:
        return hs[0], hs[1]
    if hub >= hs[-1]:
        return hs[-2], hs[-1]
    upper = next(i for i, h in enumerate(hs) if h >= hub)
    return hs[upper - 1], hs[upper]


def _power_law(
    v1: NDArray[np.float64],
    v2: NDArray[np.float64],
    h1: float,
    h2: float,
    hub: float,
    default_alpha: float,
) -> NDArray[np.float64]:
    """Speed at ``hub`` from speeds at ``h1 < h2`` with the hour's own shear exponent."""
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.log(v2 / v1) / math.log(h2 / h1)
    ok = (v1 > 0.5) & (v2 > 0.5) & np.isfinite(alpha)
    if h1 <= hub <= h2:
        # inside the measured range the power law through both points stays between them;
        # near-calm hours (no reliable exponent) are interpolated linearly in height
        linear = v1 + (v2 - v1) * (hub - h1) / (h2 - h1)
        return np.where(ok, v1 * (hub / h1) ** np.where(ok, alpha, 0.0), linear)
    # outside it: extrapolate from the nearer height with the exponent clipped to 0..0.5
    base, h0 = (v1, h1) if hub < h1 else (v2, h2)
    alpha = np.where(ok, np.clip(alpha, 0.0, 0.5), default_alpha)
    return base * (hub / h0) ** alpha


def _linear_in_height(
    y1: NDArray[np.float64], y2: NDArray[np.float64], h1: float, h2: float, hub: float
) -> NDArray[np.float64]:
    return y1 + (y2 - y1) * (hub - h1) / (h2 - h1)


def wind_profile(
    wind_speed_m_s: pd.Series | pd.DataFrame | NDArray[np.float64] | Sequence[float],
    *,
    hub_height_m: float,
    measured_height_m: float | None = None,
    power_curve: pd.Series | None = None,
    air_density_kg_m3: float | Sequence[float] | NDArray[np.float64] | None = None,
    temp_air_c: float | Sequence[float] | NDArray[np.float64] | None = None,
    pressure_pa: float | Sequence[float] | NDArray[np.float64] | None = None,
    elevation_m: float | None = None,
    shear_exponent: float = 1 / 7,
    losses_pct: float = 16.7,
) -> pd.Series:
    """Hourly output of a wind plant per MW of nameplate (0..1) from hub-height wind.

    1. **Hub-height speed.** A DataFrame with SRW-style columns ``wind_speed_{h}m_m_s``
       (what :func:`siting.datasets.read_sam_csv` returns for SAM wind files) is
       interpolated from the two measured heights around the hub with a power law whose
       exponent is fitted hour by hour to those two speeds, ``α = ln(v₂/v₁)/ln(h₂/h₁)``,
       ``v = v₁ (h/h₁)^α`` (exact at both heights; near-calm hours, where α is
       meaningless, are interpolated linearly). Outside the measured range the nearest
       two heights give α, clipped to 0..0.5. A single measured height (a Series or
       array with ``measured_height_m``) is extrapolated with ``shear_exponent`` (1/7
       by default, the classic neutral-stability value), only if it differs from the hub.
    2. **Air density** at the hub: ``air_density_kg_m3`` if given; otherwise from
       temperature and pressure (``temp_air_c``/``pressure_pa``, or the frame's
       ``temp_air_{h}m_c`` and ``pressure_{h}m_atm`` columns interpolated linearly to
       the hub) by the ideal gas law; otherwise the standard atmosphere at
       ``elevation_m``; otherwise 1.225 kg/m³ (no correction).
    3. **Density correction** (IEC 61400-12-1 for pitch-regulated turbines): the curve,
       stated at ρ₀ = 1.225 kg/m³, is read at ``v · (ρ/ρ₀)^(1/3)``, the speed that
       carries the same kinetic-energy flux at standard density. Thin air at altitude
       lowers the output.
    4. **Losses**: ``losses_pct`` of the output (wakes, electrical, availability, blade
       soiling, ...). The default 16.7 % is the total loss NREL's reV uses in its
       standard wind-generation test configurations; pass 0 for the gross output.

    Parameters
    ----------
    wind_speed_m_s
        Hourly speeds: a Series/array at ``measured_height_m``, a DataFrame with SRW
        columns ``wind_speed_{h}m_m_s`` (heights read from the names), or a DataFrame
        with ``wind_speed_m_s`` (plus optional ``temp_air_c`` and ``pressure_mbar``)
        measured at ``measured_height_m``.
    hub_height_m
        Hub height of the turbines.
    measured_height_m
        Height of a single measured speed; not used with SRW columns.
    power_curve
        Power (any unit; divided by its maximum) indexed by wind speed in m/s at standard
        density; default :func:`generic_power_curve` (3 MW, IEC class II). Speeds below
        the first positive point (cut-in) or above the last (cut-out) give zero.
    air_density_kg_m3, temp_air_c, pressure_pa, elevation_m
        Air density, or what to compute it from (see 2. above). Scalars or hourly arrays.
    shear_exponent
        Power-law exponent for a single measured height.
    losses_pct
        Percent of output lost.

    Returns
    -------
    pandas.Series
        ``wind``: MW per MW of nameplate, on the input's index (a RangeIndex for arrays),
        with ``attrs["profile_source"] == "measured"`` and the mean hub speed and density
        in ``attrs``.

    Raises
    ------
    InvalidLayerError
        Negative or missing speeds, no usable speed columns, arrays of different length.
    ScenarioError
        Bad heights, losses or power curve.

    Examples
    --------
    >>> import numpy as np
    >>> speeds = np.array([2.0, 5.0, 8.0, 12.0, 20.0, 26.0])
    >>> out = wind_profile(speeds, hub_height_m=100, measured_height_m=100, losses_pct=0)
    >>> out.round(2).tolist()
    [0.0, 0.12, 0.48, 0.99, 1.0, 0.0]
    >>> thin = wind_profile(speeds, hub_height_m=100, measured_height_m=100, losses_pct=0,
    ...                     elevation_m=2000)
    >>> round(float(thin[2]), 2)  # 8 m/s at 2,000 m behaves like 7.5 m/s at sea level
    0.39
    """
    hub = _number(hub_height_m, "hub_height_m", low=1, high=400)
    losses = _number(losses_pct, "losses_pct", low=0, high=100)
    alpha0 = _number(shear_exponent, "shear_exponent", low=-0.5, high=1.0)
    speeds_tab, power_tab = _curve_arrays(power_curve)
    index: pd.Index
    temp_hub: NDArray[np.float64] | None = None
    pres_hub: NDArray[np.float64] | None = None
    if isinstance(wind_speed_m_s, pd.DataFrame):
        frame = wind_speed_m_s
        index = frame.index
        cols = _height_columns(frame)
        if cols["speed"]:
            _finite_columns(frame, [c for c, _ in cols["speed"].values()], "wind_profile")
            heights = sorted(cols["speed"])
            if len(heights) == 1:
                (h0,) = heights
                v0 = frame[cols["speed"][h0][0]].to_numpy(dtype=float)
                hub_speed = v0 if h0 == hub else v0 * (hub / h0) ** alpha0
            else:
                h1, h2 = _bracket(heights, hub)
                v1 = frame[cols["speed"][h1][0]].to_numpy(dtype=float)
                v2 = frame[cols["speed"][h2][0]].to_numpy(dtype=float)
                hub_speed = (
                    v1
                    if hub == h1
                    else v2
                    if hub == h2
                    else _power_law(v1, v2, h1, h2, hub, alpha0)
                )
            for key in ("temp", "pressure"):
                hs = sorted(cols[key])
                if not hs:
                    continue
                _finite_columns(frame, [c for c, _ in cols[key].values()], "wind_profile")
                if len(hs) == 1:
                    name, scale = cols[key][hs[0]]
                    y = frame[name].to_numpy(dtype=float) * scale
                else:
                    a, b = _bracket(hs, hub)
                    (na, sa), (nb, sb) = cols[key][a], cols[key][b]
                    y = _linear_in_height(
                        frame[na].to_numpy(dtype=float) * sa,
                        frame[nb].to_numpy(dtype=float) * sb,
                        a,
                        b,
                        hub,
                    )
                if key == "temp":
                    temp_hub = y
                else:
                    pres_hub = y
        elif "wind_speed_m_s" in frame.columns:
            _finite_columns(frame, ["wind_speed_m_s"], "wind_profile")
            hub_speed = _single_height(
                frame["wind_speed_m_s"].to_numpy(dtype=float), measured_height_m, hub, alpha0
            )
            if "temp_air_c" in frame.columns and "pressure_mbar" in frame.columns:
                _finite_columns(frame, ["temp_air_c", "pressure_mbar"], "wind_profile")
                temp_hub = frame["temp_air_c"].to_numpy(dtype=float)
                pres_hub = frame["pressure_mbar"].to_numpy(dtype=float) * 100.0
        else:
            raise InvalidLayerError(
                "wind_profile found no wind-speed column: expected SRW-style "
                "'wind_speed_{h}m_m_s' columns (e.g. wind_speed_80m_m_s) or "
                f"'wind_speed_m_s'; got {list(map(str, frame.columns))}."
            )
    else:
        if isinstance(wind_speed_m_s, pd.Series):
            index = wind_speed_m_s.index
            raw = wind_speed_m_s.to_numpy(dtype=float)
        else:
            raw = np.asarray(wind_speed_m_s, dtype=float)
            index = pd.RangeIndex(raw.shape[0] if raw.ndim else 0)
        if raw.ndim != 1:
            raise InvalidLayerError(
                f"wind speeds must be one-dimensional (hours); got shape {raw.shape}."
            )
        if not np.isfinite(raw).all():
            raise InvalidLayerError(
                f"wind speeds have {int((~np.isfinite(raw)).sum())} missing or non-finite "
                "values; fill or drop those hours first."
            )
        hub_speed = _single_height(raw, measured_height_m, hub, alpha0)
    if (hub_speed < 0).any():
        raise InvalidLayerError("wind speeds must be >= 0 m/s; got negative values.")
    n = len(hub_speed)

    def hourly(value: Any, name: str) -> NDArray[np.float64] | None:
        if value is None:
            return None
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise InvalidLayerError(f"{name} has {arr.shape} values; the wind has {n} hours.")
        if not np.isfinite(arr).all():
            raise InvalidLayerError(f"{name} has missing or non-finite values.")
        return arr

    density = hourly(air_density_kg_m3, "air_density_kg_m3")
    t_given, p_given = hourly(temp_air_c, "temp_air_c"), hourly(pressure_pa, "pressure_pa")
    if t_given is not None:
        temp_hub = t_given
    if p_given is not None:
        pres_hub = p_given
    if density is None and temp_hub is not None and pres_hub is not None:
        density = np.asarray(air_density(temp_hub, pres_hub), dtype=float)
        density_source = "temperature and pressure"
    elif density is None and elevation_m is not None:
        elev = _number(elevation_m, "elevation_m", low=-500, high=9000)
        density = np.full(n, float(standard_atmosphere_density(elev)))
        density_source = f"standard atmosphere at {elev:g} m"
    elif density is None:
        density = np.full(n, STANDARD_AIR_DENSITY)
        density_source = "standard (no correction)"
    else:
        density_source = "given"
    if (density <= 0).any() or (density > 2.0).any():
        raise InvalidLayerError(
            f"air density must be in (0, 2] kg/m³; got {density.min():.3g}..{density.max():.3g}."
        )
    equivalent = hub_speed * (density / STANDARD_AIR_DENSITY) ** (1.0 / 3.0)
    out = _lookup(equivalent, speeds_tab, power_tab) * (1.0 - losses / 100.0)
    return _as_profile(
        out,
        index,
        "wind",
        "measured",
        hub_height_m=hub,
        losses_pct=losses,
        mean_hub_speed_m_s=float(hub_speed.mean()) if n else float("nan"),
        mean_air_density_kg_m3=float(density.mean()) if n else float("nan"),
        air_density_source=density_source,
    )


def _single_height(
    v: NDArray[np.float64], measured: float | None, hub: float, alpha: float
) -> NDArray[np.float64]:
    if measured is None:
        raise ScenarioError(
            "measured_height_m is required for a single series of wind speeds (the height "
            "of the anemometer or model level, e.g. 10 for weather-station data)."
        )
    h = _number(measured, "measured_height_m", low=0, low_open=True, high=400)
    return v if h == hub else v * (hub / h) ** alpha


# -- geothermal -------------------------------------------------------------------------


def geothermal_profile(index: pd.Index | int, *, availability: float = 0.95) -> pd.Series:
    """Firm baseload: a flat output equal to the plant's availability, per MW nameplate.

    Binary and flash geothermal plants run flat out whenever they are available; forced
    and planned outages are spread evenly over the year, which keeps the annual energy
    right (``availability`` = capacity factor) without modelling outage timing.

    Parameters
    ----------
    index
        The hours (a DatetimeIndex or any index) or a number of hours.
    availability
        Fraction of nameplate available on average, 0 < availability <= 1.

    Returns
    -------
    pandas.Series
        ``geothermal`` with ``attrs["profile_source"] == "measured"`` (nothing typical
        about a constant).

    Examples
    --------
    >>> geothermal_profile(3).tolist()
    [0.95, 0.95, 0.95]
    """
    a = _number(availability, "availability", low=0, low_open=True, high=1)
    idx = pd.RangeIndex(int(index)) if isinstance(index, int | np.integer) else pd.Index(index)
    if isinstance(index, int | np.integer) and index < 0:
        raise ScenarioError(f"the number of hours must be >= 0; got {index}.")
    return _as_profile(np.full(len(idx), a), idx, "geothermal", "measured", availability=a)


# -- typical profiles -------------------------------------------------------------------


def _year_index(year: int, utc_offset_h: float) -> pd.DatetimeIndex:
    idx = pd.date_range(
        f"{year}-01-01",
        f"{year}-12-31 23:00",
        freq="h",
        tz=_fixed_offset(utc_offset_h),
        name="time",
    )
    return idx


def _scale_to_mean(shape: NDArray[np.float64], target: float, what: str) -> NDArray[np.float64]:
    """``min(k · shape, 1)`` with ``k`` chosen so that the mean equals ``target``."""
    ceiling = float((shape > 0).mean())
    if target >= ceiling:
        raise ScenarioError(
            f"capacity factor {target:g} is not reachable with the {what} shape: even at "
            f"full output in every producing hour the mean is {ceiling:.3f}."
        )
    lo, hi = 0.0, target / max(float(shape.mean()), 1e-12)
    while np.minimum(hi * shape, 1.0).mean() < target:
        lo, hi = hi, hi * 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if np.minimum(mid * shape, 1.0).mean() < target:
            lo = mid
        else:
            hi = mid
    return np.minimum(hi * shape, 1.0)


def _weibull_mean_cf(
    mean_speed: float,
    k: float,
    density: float,
    losses: float,
    curve: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> float:
    from scipy import special, stats

    scale = mean_speed / special.gamma(1.0 + 1.0 / k)
    v = np.linspace(0.0, 40.0, 4001)
    pdf = stats.weibull_min.pdf(v, k, scale=scale)
    power = _lookup(v * (density / STANDARD_AIR_DENSITY) ** (1 / 3), *curve)
    return float(np.trapezoid(power * pdf, v) * (1.0 - losses / 100.0))


def typical_profile(
    kind: Literal["solar", "wind"],
    *,
    latitude: float,
    longitude: float,
    capacity_factor: float | None = None,
    ghi_kwh_m2_day: float | None = None,
    wind_speed_m_s: float | None = None,
    year: int = TYPICAL_YEAR,
    utc_offset_h: float | None = None,
    altitude_m: float = 0.0,
    tilt: float | None = None,
    azimuth: float = 180.0,
    dc_ac_ratio: float = 1.2,
    losses_pct: float | None = None,
    power_curve: pd.Series | None = None,
    air_density_kg_m3: float | None = None,
    weibull_k: float = 2.0,
    persistence_h: float = 18.0,
    seasonal_amplitude: float = 0.2,
    diurnal_amplitude: float = 0.05,
    random_state: int = 0,
) -> pd.Series:
    """A documented typical hourly profile when only an annual mean is known.

    Matching with these profiles is an approximation; the result carries
    ``attrs["profile_source"] == "typical"`` and :func:`match_load` passes it on, so
    reports can say the CFE share came from typical, not measured, hours.

    **Solar**: the PV output (:func:`solar_pv_profile`, same plant parameters) under
    pvlib's Ineichen–Perez clear sky (Linke turbidity from pvlib's monthly climatology) at
    20 °C and 1 m/s wind, scaled by a constant so its mean equals the capacity factor
    (hours clipped at 1 are accounted for). Given ``ghi_kwh_m2_day`` instead, the
    capacity factor is the clear-sky one times the ratio of the annual-mean GHI to the
    clear-sky GHI (a constant performance ratio). Every day is a scaled clear day: the
    daily cycle is right, cloudy spells are missing, so batteries look somewhat more
    useful than they are.

    **Wind**: hub-height speeds ``v(t) = c · w(t) · s(t)`` where ``w`` is a Weibull
    (shape ``weibull_k``) variable with the persistence of real wind — a Gaussian AR(1)
    process with e-folding time ``persistence_h`` mapped to the Weibull distribution
    (fixed ``random_state``) — and ``s`` a seasonal and diurnal modulation
    ``(1 + a_s cos 2π(d − d₀)/365)(1 + a_d cos 2π(h − h₀)/24)`` with the windiest time
    in mid-January (d₀ = 15; mid-July south of the equator) and around midnight local
    time (h₀ = 0; the night-time low-level jet at hub height in the US interior). ``c``
    is the mean speed: ``wind_speed_m_s``, or the value whose output mean equals
    ``capacity_factor``. Output through the power curve as in :func:`wind_profile`. The
    defaults are of the order of the southern-Wyoming SAM file (autocorrelation 0.5
    after 12 h, monthly means 0.73–1.30 × annual, weak diurnal cycle, Weibull k ≈ 2.3).
    Calm spells are random draws, not the site's: use it for sizing orders of magnitude.

    Parameters
    ----------
    kind
        ``"solar"`` or ``"wind"``.
    latitude, longitude
        Site in degrees.
    capacity_factor
        Annual capacity factor (0..1) the profile must have.
    ghi_kwh_m2_day
        Solar only: annual-mean GHI instead of ``capacity_factor``.
    wind_speed_m_s
        Wind only: annual-mean hub-height speed instead of ``capacity_factor``.
    year
        Calendar year of the hourly index (:data:`TYPICAL_YEAR`).
    utc_offset_h
        Local standard time of the index, hours from UTC; default ``round(longitude/15)``.
    altitude_m, tilt, azimuth, dc_ac_ratio
        Solar plant, as in :func:`solar_pv_profile`.
    losses_pct
        Losses, default that of :func:`solar_pv_profile` (14) or :func:`wind_profile`
        (16.7).
    power_curve, air_density_kg_m3
        Wind turbine and air density (default: the standard atmosphere at
        ``altitude_m``).
    weibull_k, persistence_h, seasonal_amplitude, diurnal_amplitude, random_state
        The wind shape described above.

    Returns
    -------
    pandas.Series
        ``solar_pv`` or ``wind`` per MW of nameplate on an hourly index of ``year`` with
        ``attrs["profile_source"] == "typical"`` and ``attrs["shape"]`` saying which.

    Raises
    ------
    ScenarioError
        Unknown kind, neither or both of the annual means, an unreachable capacity factor.

    Examples
    --------
    >>> wind = typical_profile("wind", latitude=41.5, longitude=-106.0, capacity_factor=0.4)
    >>> round(float(wind.mean()), 3), wind.attrs["profile_source"], len(wind)
    (0.4, 'typical', 8760)
    """
    lat = _number(latitude, "latitude", low=-90, high=90)
    lon = _number(longitude, "longitude", low=-180, high=180)
    offset = round(lon / 15.0) if utc_offset_h is None else utc_offset_h
    index = _year_index(int(year), offset)
    n = len(index)
    if kind == "solar":
        if wind_speed_m_s is not None:
            raise ScenarioError(
                "wind_speed_m_s is for kind='wind'; for solar give "
                "capacity_factor or ghi_kwh_m2_day."
            )
        given = [x for x in (capacity_factor, ghi_kwh_m2_day) if x is not None]
        if len(given) != 1:
            raise ScenarioError(
                "typical_profile('solar') needs exactly one of capacity_factor (0..1) or "
                f"ghi_kwh_m2_day (annual-mean GHI); got {len(given)}."
            )
        pvlib = _pvlib()
        site = pvlib.location.Location(lat, lon, altitude=altitude_m)
        with _quiet_pvlib():
            sky = site.get_clearsky(index + pd.Timedelta(minutes=30), model="ineichen")
        weather = pd.DataFrame(
            {
                "ghi_w_m2": sky["ghi"].to_numpy(),
                "dni_w_m2": sky["dni"].to_numpy(),
                "dhi_w_m2": sky["dhi"].to_numpy(),
                "temp_air_c": 20.0,
                "wind_speed_m_s": 1.0,
            },
            index=index,
        )
        clear = solar_pv_profile(
            weather,
            latitude=lat,
            longitude=lon,
            altitude_m=altitude_m,
            tilt=tilt,
            azimuth=azimuth,
            dc_ac_ratio=dc_ac_ratio,
            losses_pct=14.0 if losses_pct is None else losses_pct,
        ).to_numpy()
        if capacity_factor is not None:
            target = _number(capacity_factor, "capacity_factor", low=0, low_open=True, high=1)
        else:
            ghi = _number(ghi_kwh_m2_day, "ghi_kwh_m2_day", low=0, low_open=True, high=12)
            ghi_clear = float(weather["ghi_w_m2"].mean()) * 24 / 1000
            target = float(clear.mean()) * ghi / ghi_clear
        values = _scale_to_mean(clear, target, "clear-sky solar")
        shape = "clear-sky PV (pvlib Ineichen) scaled to the capacity factor"
        return _as_profile(
            values, index, "solar_pv", "typical", shape=shape, capacity_factor=float(values.mean())
        )
    if kind != "wind":
        raise ScenarioError(f"kind must be 'solar' or 'wind'; got {kind!r}.")
    if ghi_kwh_m2_day is not None:
        raise ScenarioError(
            "ghi_kwh_m2_day is for kind='solar'; for wind give capacity_factor or wind_speed_m_s."
        )
    given = [x for x in (capacity_factor, wind_speed_m_s) if x is not None]
    if len(given) != 1:
        raise ScenarioError(
            "typical_profile('wind') needs exactly one of capacity_factor (0..1) or "
            f"wind_speed_m_s (annual-mean hub-height speed); got {len(given)}."
        )
    k = _number(weibull_k, "weibull_k", low=1.0, high=5.0)
    tau = _number(persistence_h, "persistence_h", low=0, low_open=True, high=24 * 30)
    a_s = _number(seasonal_amplitude, "seasonal_amplitude", low=0, high=0.9)
    a_d = _number(diurnal_amplitude, "diurnal_amplitude", low=0, high=0.9)
    losses = _number(16.7 if losses_pct is None else losses_pct, "losses_pct", low=0, high=100)
    density = (
        float(standard_atmosphere_density(altitude_m))
        if air_density_kg_m3 is None
        else _number(air_density_kg_m3, "air_density_kg_m3", low=0.5, high=1.5)
    )
    curve = _curve_arrays(power_curve)

    from scipy import special, stats

    rng = np.random.default_rng(random_state)
    phi = math.exp(-1.0 / tau)
    noise = rng.standard_normal(n)
    z = np.empty(n)
    z[0] = noise[0]
    scale = math.sqrt(1.0 - phi * phi)
    for t in range(1, n):  # a scalar AR(1) recursion, run once per profile
        z[t] = phi * z[t - 1] + scale * noise[t]
    w = stats.weibull_min.ppf(stats.norm.cdf(z), k) / special.gamma(1.0 + 1.0 / k)
    day = index.day_of_year.to_numpy() - 1 + index.hour.to_numpy() / 24.0
    d0 = 15.0 if lat >= 0 else 15.0 + 365.25 / 2
    season = 1.0 + a_s * np.cos(2 * np.pi * (day - d0) / 365.25)
    diurnal = 1.0 + a_d * np.cos(2 * np.pi * index.hour.to_numpy() / 24.0)
    unit = w * season * diurnal
    unit /= unit.mean()
    factor = (density / STANDARD_AIR_DENSITY) ** (1.0 / 3.0)

    def output(mean_speed: float) -> NDArray[np.float64]:
        return _lookup(mean_speed * unit * factor, *curve) * (1.0 - losses / 100.0)

    if wind_speed_m_s is not None:
        speed = _number(wind_speed_m_s, "wind_speed_m_s", low=0, low_open=True, high=30)
    else:
        target = _number(capacity_factor, "capacity_factor", low=0, low_open=True, high=1)
        grid = np.linspace(1.0, 25.0, 97)
        cfs = np.array([output(s).mean() for s in grid])
        best = int(np.argmax(cfs))
        if cfs[best] < target:
            raise ScenarioError(
                f"capacity factor {target:g} is not reachable with this turbine, losses "
                f"({losses:g} %) and shape: the most is {cfs[best]:.3f} at a mean speed of "
                f"{grid[best]:.1f} m/s."
            )
        lo, hi = 0.5, float(grid[best])
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if output(mid).mean() < target:
                lo = mid
            else:
                hi = mid
        speed = hi
    values = output(speed)
    return _as_profile(
        values,
        index,
        "wind",
        "typical",
        shape=(
            f"synthetic Weibull(k={k:g}) wind, AR(1) persistence {tau:g} h, seasonal "
            f"±{a_s:g}, diurnal ±{a_d:g}, random_state={random_state}"
        ),
        mean_hub_speed_m_s=speed,
        capacity_factor=float(values.mean()),
        weibull_capacity_factor=_weibull_mean_cf(speed, k, density, losses, curve),
    )


# -- matching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """Hourly matching of clean supply against a load, per candidate.

    Totals are floats for one candidate and arrays (one value per candidate) for many.
    Energies are MWh over the period; hours are 1 h, so hourly MW equal MWh.

    Attributes
    ----------
    cfe_share
        Carbon-free-energy share: the load-weighted mean of the hourly CFE share,
        ``Σ_h min(load_h, clean supply_h) / Σ_h load_h`` where the clean supply is the
        generation used directly plus battery discharge (Google's 24/7 CFE score).
    load_mwh, generation_mwh
        Total load and available clean generation.
    clean_direct_mwh
        Generation that served the load in the hour it was produced.
    battery_charge_mwh, battery_discharge_mwh
        Energy drawn from surplus into the battery, and delivered from it to the load.
    battery_losses_mwh
        ``charge − discharge − (final − initial state of charge)``: conversion losses.
    curtailed_mwh
        Surplus that neither served the load nor fit in the battery.
    grid_mwh
        Load met by the grid (counted as fossil).
    battery_mw, battery_mwh
        The battery each candidate had.
    round_trip_efficiency
        Of the battery.
    n_hours
        Hours matched.
    profile_source
        ``"measured"``, ``"typical"``, ``"mixed"`` (both among the resources) or
        ``"unspecified"``.
    hourly
        For one candidate a DataFrame with columns ``generation_mw, load_mw,
        clean_direct_mw, charge_mw, discharge_mw, soc_mwh, curtailed_mw, grid_mw,
        cfe_share`` (``cfe_share`` is NaN in hours without load); for many candidates an
        ``xarray.Dataset`` of the same variables with dims ``(time, candidate)``; None
        when not kept.
    """

    cfe_share: Any
    load_mwh: Any
    generation_mwh: Any
    clean_direct_mwh: Any
    battery_charge_mwh: Any
    battery_discharge_mwh: Any
    battery_losses_mwh: Any
    curtailed_mwh: Any
    grid_mwh: Any
    battery_mw: Any
    battery_mwh: Any
    round_trip_efficiency: float
    n_hours: int
    profile_source: str
    hourly: pd.DataFrame | xr.Dataset | None = None

    @property
    def n_candidates(self) -> int:
        """Number of candidates matched."""
        return int(np.size(self.cfe_share))

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate with every total, for feature tables and reports."""
        names = [
            "cfe_share",
            "load_mwh",
            "generation_mwh",
            "clean_direct_mwh",
            "battery_charge_mwh",
            "battery_discharge_mwh",
            "battery_losses_mwh",
            "curtailed_mwh",
            "grid_mwh",
            "battery_mw",
            "battery_mwh",
        ]
        frame = pd.DataFrame({k: np.atleast_1d(getattr(self, k)) for k in names})
        frame.index.name = "candidate"
        frame["profile_source"] = self.profile_source
        return frame


def _as_columns(
    values: Any, what: str
) -> tuple[NDArray[np.float64], pd.Index | None, bool, list[str]]:
    """Generation as (hours, candidates), its time index, single?, and the sources seen."""
    sources: list[str] = []
    index: pd.Index | None = None
    if isinstance(values, Mapping):
        if not values:
            raise InvalidLayerError(f"{what}: the mapping of resources is empty.")
        parts = []
        for name, series in values.items():
            arr = np.asarray(series, dtype=float)
            if arr.ndim != 1:
                raise InvalidLayerError(
                    f"{what}: resource {name!r} must be one-dimensional (hours); got shape "
                    f"{arr.shape}."
                )
            parts.append(arr)
            if isinstance(series, pd.Series):
                index = series.index if index is None else index
                if "profile_source" in series.attrs:
                    sources.append(str(series.attrs["profile_source"]))
        lengths = {len(p) for p in parts}
        if len(lengths) != 1:
            raise InvalidLayerError(f"{what}: resources have different lengths {sorted(lengths)}.")
        return np.sum(parts, axis=0)[:, None], index, True, sources
    if isinstance(values, pd.DataFrame):
        index = values.index
        if "profile_source" in values.attrs:
            sources.append(str(values.attrs["profile_source"]))
        for col in values.columns:
            src = values[col].attrs.get("profile_source")
            if src is not None:
                sources.append(str(src))
        return values.to_numpy(dtype=float).sum(axis=1)[:, None], index, True, sources
    if isinstance(values, pd.Series):
        if "profile_source" in values.attrs:
            sources.append(str(values.attrs["profile_source"]))
        return values.to_numpy(dtype=float)[:, None], values.index, True, sources
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        return arr[:, None], None, True, sources
    if arr.ndim == 2:
        return arr, None, False, sources
    raise InvalidLayerError(
        f"{what} must be 1-D (hours) or 2-D (hours × candidates); got shape {arr.shape}."
    )


def _per_candidate(value: Any, n: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ScenarioError(
            f"{name} must be a number or one value per candidate ({n}); got shape {arr.shape}."
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ScenarioError(f"{name} must be finite and >= 0; got {arr[:5].tolist()}.")
    return arr


def _load_matrix(load_mw: Any, n_hours: int, n_cand: int) -> NDArray[np.float64]:
    arr = np.asarray(load_mw, dtype=float)
    if arr.ndim == 0:
        arr = np.full((1, 1), float(arr))
    elif arr.ndim == 1:
        if arr.shape[0] != n_hours:
            raise ScenarioError(
                f"load_mw has {arr.shape[0]} hourly values; the generation has {n_hours} "
                "hours. For one flat load per candidate pass a 1 × candidates array."
            )
        arr = arr[:, None]
    elif arr.ndim != 2 or arr.shape[0] not in (1, n_hours) or arr.shape[1] not in (1, n_cand):
        raise ScenarioError(
            f"load_mw of shape {arr.shape} does not fit {n_hours} hours × {n_cand} candidates."
        )
    if not np.isfinite(arr).all():
        raise ScenarioError("load_mw has missing or non-finite values.")
    if (arr < 0).any():
        raise ScenarioError(
            f"load_mw must be >= 0 (a data-center demand); got minimum {arr.min():g} MW."
        )
    return arr


def _dispatch(
    step: NDArray[np.float64],
    soc: NDArray[np.float64],
    e_max: NDArray[np.float64],
    e_min: NDArray[np.float64],
    soc0: NDArray[np.float64],
) -> None:
    """Greedy battery dispatch: fill ``soc`` (hours, candidates) from the signed ``step``.

    In any hour only one of surplus and deficit is positive, so the greedy rule is one
    recursion on the stored energy, ``soc_t = clip(soc_{t−1} + a_t, e_min, e_max)`` with
    ``a_t = √rte · min(surplus_t, P) − min(deficit_t, P) / √rte`` (``step``); the clip is
    the "room left" and "energy left" limit. Only this recursion loops over hours, with
    three numpy calls per hour across all candidates.
    """
    level = soc0.copy()
    for t in range(step.shape[0]):
        np.add(level, step[t], out=level)
        np.minimum(level, e_max, out=level)
        np.maximum(level, e_min, out=level)
        soc[t] = level


def match_load(
    generation_mw: pd.Series
    | pd.DataFrame
    | Mapping[str, Any]
    | NDArray[np.float64]
    | Sequence[float],
    *,
    load_mw: float | NDArray[np.float64] | Sequence[float] | pd.Series,
    battery_mw: float | NDArray[np.float64] | Sequence[float] = 0.0,
    battery_mwh: float | NDArray[np.float64] | Sequence[float] = 0.0,
    round_trip_efficiency: float = 0.85,
    soc_min: float = 0.0,
    soc_max: float = 1.0,
    initial_soc: float = 0.0,
    keep_hourly: bool | None = None,
    profile_source: str | None = None,
    chunk_size: int = 512,
) -> MatchResult:
    """Match hourly clean generation to a load, with a greedy battery: the 24/7 CFE share.

    Each hour, generation first serves the load directly. A surplus charges the battery
    (up to ``battery_mw`` and the room left below ``soc_max``), the rest is curtailed; a
    deficit is met from the battery (up to ``battery_mw`` and the energy above
    ``soc_min``), the rest from the grid. The round-trip efficiency is split evenly,
    ``√rte`` on the way in and ``√rte`` on the way out. The battery charges only from
    clean surplus, never from the grid, so everything it delivers is carbon-free. The
    hourly CFE share is ``(direct + discharge) / load`` and the annual score is its
    load-weighted mean (Google, "24/7 Carbon-Free Energy: Methodologies and Metrics",
    2021).

    Candidates are vectorised: a 2-D array of hours × candidates is matched in blocks of
    ``chunk_size`` candidates, each block in one pass over the hours with numpy working
    across its candidates (three calls per hour); without a battery there is no loop
    over hours at all.

    Parameters
    ----------
    generation_mw
        Hourly clean MW available: a Series or 1-D array (one candidate); a DataFrame
        (columns = resources of one candidate, summed) or a mapping ``{resource:
        series}``; or a 2-D array hours × candidates.
    load_mw
        A number (flat load), one value per hour, or an array (hours or 1) × (candidates
        or 1).
    battery_mw, battery_mwh
        Battery power and energy capacity: numbers or one value per candidate.
    round_trip_efficiency
        AC-to-AC, 0 < rte <= 1.
    soc_min, soc_max, initial_soc
        State-of-charge limits and the starting charge, as fractions of ``battery_mwh``
        (the battery starts empty by default: no free energy from before the period).
    keep_hourly
        Keep the hourly series in ``result.hourly``; default only for one candidate.
    profile_source
        Overrides the profile source read from the inputs' ``attrs``.
    chunk_size
        Candidates handled at once (bounds the memory of the temporary arrays).

    Returns
    -------
    MatchResult

    Raises
    ------
    InvalidLayerError
        Generation that is not 1-D/2-D, has missing values or is negative.
    ScenarioError
        Negative or mis-shaped load, a load of zero in every hour, bad battery or
        efficiency parameters.

    Examples
    --------
    A supply of half the load every hour meets half of it:

    >>> match_load([5.0, 5.0, 5.0], load_mw=10.0).cfe_share
    0.5

    Sun in the first two hours, a 10 MWh battery, a flat 10 MW load over 4 hours:

    >>> r = match_load([20.0, 20.0, 0.0, 0.0], load_mw=10.0, battery_mw=10.0,
    ...                battery_mwh=10.0, round_trip_efficiency=0.81)
    >>> round(r.battery_charge_mwh, 3), round(r.battery_discharge_mwh, 3), round(r.cfe_share, 3)
    (11.111, 9.0, 0.725)
    >>> round(r.curtailed_mwh, 3), round(r.grid_mwh, 3)
    (8.889, 11.0)
    """
    g, time_index, single, sources = _as_columns(generation_mw, "generation_mw")
    n_hours, n = g.shape
    if n_hours == 0 or n == 0:
        raise InvalidLayerError(f"generation_mw is empty (shape {g.shape}).")
    if not np.isfinite(g).all():
        bad = int((~np.isfinite(g)).sum())
        raise InvalidLayerError(
            f"generation_mw has {bad} missing or non-finite values; fill them (0 for no "
            "output) before matching."
        )
    if (g < 0).any():
        raise InvalidLayerError(
            f"generation_mw must be >= 0; got minimum {g.min():g} MW (net of station use?)."
        )
    if time_index is not None and isinstance(time_index, pd.DatetimeIndex):
        _hourly_index(time_index, "generation_mw", utc_offset_h=None, need_tz=False)
    load = _load_matrix(load_mw, n_hours, n)
    load_full = np.broadcast_to(load, (n_hours, n))
    load_tot = load_full.sum(axis=0)
    if (load_tot <= 0).any():
        raise ScenarioError(
            "load_mw is zero in every hour for some candidate: the CFE share is undefined. "
            "Give the data center's demand in MW (> 0)."
        )
    p = _per_candidate(battery_mw, n, "battery_mw")
    e = _per_candidate(battery_mwh, n, "battery_mwh")
    rte = _number(round_trip_efficiency, "round_trip_efficiency", low=0, low_open=True, high=1)
    lo = _number(soc_min, "soc_min", low=0, high=1)
    hi = _number(soc_max, "soc_max", low=0, high=1)
    if lo >= hi:
        raise ScenarioError(f"soc_min ({lo:g}) must be below soc_max ({hi:g}).")
    init = _number(initial_soc, "initial_soc", low=lo, high=hi)
    keep = single if keep_hourly is None else bool(keep_hourly)
    size = max(int(chunk_size), 1)
    eff = math.sqrt(rte)

    direct_tot = np.empty(n)
    gen_tot = g.sum(axis=0)
    charge_tot = np.zeros(n)
    discharge_tot = np.zeros(n)
    soc_end = init * e
    hourly_parts: list[NDArray[np.float64]] = []
    # work arrays reused chunk after chunk: fresh memory is the slow part at this size
    width = min(size, n)
    buf_direct = np.empty((n_hours, width))
    buf_step = np.empty((n_hours, width)) if ((p > 0) & (e > 0)).any() else None
    buf_soc = np.empty((n_hours, width)) if buf_step is not None else None
    for start in range(0, n, size):
        sl = slice(start, min(start + size, n))
        w = sl.stop - sl.start
        gc = g[:, sl]
        lc = load_full[:, sl]
        direct = np.minimum(gc, lc, out=buf_direct[:, :w])
        direct_tot[sl] = direct.sum(axis=0)
        power = np.where((p[sl] > 0) & (e[sl] > 0), p[sl], 0.0)
        soc0 = init * e[sl]
        if buf_step is not None and buf_soc is not None and (power > 0).any():
            step, soc = buf_step[:, :w], buf_soc[:, :w]
            # step = √rte·min(surplus, P) − min(deficit, P)/√rte; soc holds the deficit part
            np.subtract(gc, direct, out=step)
            np.minimum(step, power, out=step)
            np.multiply(step, eff, out=step)
            np.subtract(lc, direct, out=soc)
            np.minimum(soc, power, out=soc)
            np.divide(soc, eff, out=soc)
            np.subtract(step, soc, out=step)
            _dispatch(step, soc, hi * e[sl], lo * e[sl], soc0)
            soc_end[sl] = soc[-1]
            # change in stored energy, hour by hour; up + down = Σ|Δ|, up − down = net
            np.subtract(soc[1:], soc[:-1], out=step[1:])
            np.subtract(soc[0], soc0, out=step[0])
            if keep:
                charge = np.clip(step, 0.0, None) / eff
                discharge = np.clip(-step, 0.0, None) * eff
            net = soc_end[sl] - soc0
            moved = np.abs(step, out=step).sum(axis=0)
            charge_tot[sl] = 0.5 * (moved + net) / eff
            discharge_tot[sl] = 0.5 * (moved - net) * eff
            soc_kept = soc
        elif keep:
            charge = np.zeros((n_hours, w))
            discharge = np.zeros((n_hours, w))
            soc_kept = np.broadcast_to(soc0, (n_hours, w))
        if keep:
            hourly_parts.append(np.stack([direct, charge, discharge, soc_kept]))
    curtailed = gen_tot - direct_tot - charge_tot
    grid = load_tot - direct_tot - discharge_tot
    losses = charge_tot - discharge_tot - (soc_end - init * e)
    cfe = (direct_tot + discharge_tot) / load_tot

    src = profile_source
    if src is None:
        kinds = set(sources)
        src = "unspecified" if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"

    hourly: pd.DataFrame | xr.Dataset | None = None
    if keep:
        stack = np.concatenate(hourly_parts, axis=2)  # (4, hours, n): direct, c, d, soc
        direct_h, charge_h, discharge_h, soc_h = stack
        with np.errstate(divide="ignore", invalid="ignore"):
            share_h = np.where(load_full > 0, (direct_h + discharge_h) / load_full, np.nan)
        variables = {
            "generation_mw": g,
            "load_mw": np.array(load_full),
            "clean_direct_mw": direct_h,
            "charge_mw": charge_h,
            "discharge_mw": discharge_h,
            "soc_mwh": soc_h,
            "curtailed_mw": g - direct_h - charge_h,
            "grid_mw": load_full - direct_h - discharge_h,
            "cfe_share": share_h,
        }
        idx = time_index if time_index is not None else pd.RangeIndex(n_hours, name="hour")
        if single:
            hourly = pd.DataFrame({k: v[:, 0] for k, v in variables.items()}, index=idx)
        else:
            import xarray as xr

            dim = idx.name or "time"
            hourly = xr.Dataset(
                {k: ((dim, "candidate"), v) for k, v in variables.items()},
                coords={dim: np.asarray(idx), "candidate": np.arange(n)},
            )

    def out(x: NDArray[np.float64]) -> Any:
        return float(x[0]) if single else x

    return MatchResult(
        cfe_share=out(cfe),
        load_mwh=out(load_tot),
        generation_mwh=out(gen_tot),
        clean_direct_mwh=out(direct_tot),
        battery_charge_mwh=out(charge_tot),
        battery_discharge_mwh=out(discharge_tot),
        battery_losses_mwh=out(losses),
        curtailed_mwh=out(curtailed),
        grid_mwh=out(grid),
        battery_mw=out(p),
        battery_mwh=out(e),
        round_trip_efficiency=rte,
        n_hours=n_hours,
        profile_source=src,
        hourly=hourly,
    )


# -- sizing -----------------------------------------------------------------------------


def size_for_target(
    profile_per_mw: pd.Series | NDArray[np.float64] | Sequence[float],
    *,
    load_mw: float | NDArray[np.float64] | Sequence[float] | pd.Series = 1.0,
    target_cfe: float,
    battery_hours: Sequence[float] = (0, 2, 4, 8),
    max_overbuild: float = 10.0,
    battery_power_ratio: float = 1.0,
    round_trip_efficiency: float = 0.85,
    tolerance: float = 0.001,
) -> pd.DataFrame:
    """Overbuild and battery needed to reach a target CFE share, per battery duration.

    For each battery duration the smallest overbuild ``x`` (MW of nameplate per MW of
    mean load) with ``CFE(x) ≥ target`` is found by bisection — each step evaluates 7
    overbuilds for every duration at once through :func:`match_load` — to within
    ``tolerance``. CFE never decreases with more generation or a bigger battery under
    greedy dispatch (the state of charge is monotone in both), so the search is exact and
    the required overbuild never increases with the battery; the table is made monotone
    explicitly as well, since bisection stops anywhere within its tolerance. The battery
    has power ``battery_power_ratio × mean load`` and energy ``hours × power``.

    Parameters
    ----------
    profile_per_mw
        Hourly generation per MW of nameplate (one resource or a fixed mix, e.g.
        ``0.6 * solar + 0.4 * wind``), one year (8,760 or 8,784 hours).
    load_mw
        Flat load (a number) or one value per hour.
    target_cfe
        Target share, 0..1 (e.g. 0.9).
    battery_hours
        Battery durations to size, hours at full power (0 = no battery).
    max_overbuild
        Largest overbuild tried, MW nameplate per MW of mean load.
    battery_power_ratio
        Battery power per MW of mean load.
    round_trip_efficiency
        Of the battery.
    tolerance
        Precision of the overbuild, MW per MW.

    Returns
    -------
    pandas.DataFrame
        One row per duration (index ``battery_hours``): ``battery_mw, battery_mwh,
        overbuild, capacity_mw, cfe_share, curtailed_mwh, curtailed_share`` (of the
        generation), ``grid_mwh, reachable`` and ``note``. When the target is out of
        reach within ``max_overbuild``, ``reachable`` is False, ``overbuild`` and
        ``capacity_mw`` are NaN, the other columns describe the plant at
        ``max_overbuild``, and ``note`` says so. ``attrs`` keep the target and the
        profile source.

    Raises
    ------
    ScenarioError
        Target outside 0..1, negative load or durations, bad limits.
    InvalidLayerError
        A profile with missing values, negative values, or not one year long.

    Examples
    --------
    Sun for 12 hours a day at full output, a flat 1 MW load:

    >>> import numpy as np
    >>> sun = np.tile(np.r_[np.zeros(6), np.ones(12), np.zeros(6)], 365)
    >>> table = size_for_target(sun, target_cfe=0.9, battery_hours=(0, 12))
    >>> table[["overbuild", "reachable"]].round(2).to_dict("list")
    {'overbuild': [nan, 1.94], 'reachable': [False, True]}
    """
    target = _number(target_cfe, "target_cfe", low=0, high=1)
    top = _number(max_overbuild, "max_overbuild", low=0, low_open=True, high=1000)
    ratio = _number(battery_power_ratio, "battery_power_ratio", low=0, high=100)
    tol = _number(tolerance, "tolerance", low=1e-6, high=top)
    hours = np.asarray(list(battery_hours), dtype=float)
    if hours.ndim != 1 or len(hours) == 0 or not np.isfinite(hours).all() or (hours < 0).any():
        raise ScenarioError(
            f"battery_hours must be a non-empty list of durations >= 0; got {battery_hours!r}."
        )
    if isinstance(profile_per_mw, pd.Series):
        profile = profile_per_mw.to_numpy(dtype=float)
        source = str(profile_per_mw.attrs.get("profile_source", "unspecified"))
    else:
        profile = np.asarray(profile_per_mw, dtype=float)
        source = "unspecified"
    if profile.ndim != 1:
        raise InvalidLayerError(
            f"profile_per_mw must be one-dimensional (hours); got shape {profile.shape}."
        )
    _check_year(len(profile), "profile_per_mw")
    if not np.isfinite(profile).all() or (profile < 0).any():
        raise InvalidLayerError("profile_per_mw must be finite and >= 0 (MW per MW of nameplate).")
    load = _load_matrix(np.asarray(load_mw, dtype=float), len(profile), 1)
    mean_load = float(np.broadcast_to(load, (len(profile), 1)).mean())
    if mean_load <= 0:
        raise ScenarioError("load_mw is zero in every hour; give the demand in MW (> 0).")
    order = np.argsort(hours, kind="stable")
    hours = hours[order]
    n_d = len(hours)
    p = np.full(n_d, ratio * mean_load)
    e = p * hours

    def cfe_at(overbuilds: NDArray[np.float64], which: NDArray[np.intp]) -> NDArray[np.float64]:
        gen = profile[:, None] * (overbuilds * mean_load)[None, :]
        r = match_load(
            gen,
            load_mw=load,
            battery_mw=p[which],
            battery_mwh=e[which],
            round_trip_efficiency=round_trip_efficiency,
            keep_hourly=False,
        )
        return np.atleast_1d(r.cfe_share)

    everyone = np.arange(n_d)
    best = cfe_at(np.full(n_d, top), everyone)
    reachable = best >= target - 1e-12
    lo = np.zeros(n_d)
    hi = np.full(n_d, top)
    if target <= 0:
        hi[:] = 0.0
    probes_per_step = 7
    fractions = np.arange(1, probes_per_step + 1) / (probes_per_step + 1)
    active = reachable & (hi - lo > tol)
    while active.any():
        rows = np.flatnonzero(active)
        trial = lo[rows, None] + (hi[rows] - lo[rows])[:, None] * fractions[None, :]
        shares = cfe_at(trial.ravel(), np.repeat(rows, probes_per_step)).reshape(trial.shape)
        for i, row in enumerate(rows):
            ok = shares[i] >= target
            if ok.any():
                first = int(np.argmax(ok))
                hi[row] = trial[i, first]
                lo[row] = trial[i, first - 1] if first > 0 else lo[row]
            else:
                lo[row] = trial[i, -1]
        active = reachable & (hi - lo > tol)
    # a longer battery at a shorter one's overbuild also meets the target (monotone CFE)
    hi = np.where(reachable, hi, np.nan)
    hi = np.fmin.accumulate(hi)
    reachable = np.isfinite(hi)
    final = np.where(reachable, hi, top)
    gen = profile[:, None] * (final * mean_load)[None, :]
    result = match_load(
        gen,
        load_mw=load,
        battery_mw=p,
        battery_mwh=e,
        round_trip_efficiency=round_trip_efficiency,
        keep_hourly=False,
    )
    gen_mwh = np.atleast_1d(result.generation_mwh)
    with np.errstate(divide="ignore", invalid="ignore"):
        curtailed_share = np.where(gen_mwh > 0, np.atleast_1d(result.curtailed_mwh) / gen_mwh, 0.0)
    notes = []
    for h, ok, share in zip(hours, reachable, np.atleast_1d(result.cfe_share), strict=True):
        if ok:
            notes.append("")
        else:
            notes.append(
                f"target {target:g} not reachable with <= {top:g} MW/MW and a {h:g} h battery:"
                f" best CFE share {share:.3f} at {top:g} MW/MW"
            )
    table = pd.DataFrame(
        {
            "battery_mw": p,
            "battery_mwh": e,
            "overbuild": np.where(reachable, final, np.nan),
            "capacity_mw": np.where(reachable, final * mean_load, np.nan),
            "cfe_share": np.atleast_1d(result.cfe_share),
            "curtailed_mwh": np.atleast_1d(result.curtailed_mwh),
            "curtailed_share": curtailed_share,
            "grid_mwh": np.atleast_1d(result.grid_mwh),
            "reachable": reachable,
            "note": notes,
        },
        index=pd.Index(hours, name="battery_hours"),
    )
    table.attrs.update(
        target_cfe=target, max_overbuild=top, profile_source=source, mean_load_mw=mean_load
    )
    return table


# -- cooling ----------------------------------------------------------------------------


def _temperatures(temp_air_c: Any) -> tuple[NDArray[np.float64], bool]:
    values: NDArray[np.float64]
    if isinstance(temp_air_c, pd.DataFrame):
        if "temp_air_c" in temp_air_c.columns:
            values = temp_air_c["temp_air_c"].to_numpy(dtype=float)
        else:
            values = temp_air_c.to_numpy(dtype=float)
    else:
        values = np.asarray(temp_air_c, dtype=float)
    if values.ndim not in (1, 2):
        raise InvalidLayerError(
            f"temperatures must be 1-D (hours) or 2-D (hours × candidates); got shape "
            f"{values.shape}."
        )
    _check_year(values.shape[0], "Hourly air temperature")
    if not np.isfinite(values).all():
        raise InvalidLayerError(
            f"air temperature has {int((~np.isfinite(values)).sum())} missing or non-finite "
            "hours; fill them (e.g. by interpolation) before computing cooling features."
        )
    if (values < -90).any() or (values > 60).any():
        raise InvalidLayerError(
            f"air temperature outside -90..60 °C (got {values.min():g}..{values.max():g}): "
            "is it in kelvin or °F? Pass °C."
        )
    return values, values.ndim == 1


def cooling_degree_hours(temp_air_c: Any, *, base_c: float = 18.3) -> Any:
    """Annual cooling degree-hours, ``Σ_h max(T_h − base, 0)``, in °C·h.

    A feature for the scorer: the cooling load a site's climate puts on a data center.
    The base 18.3 °C (65 °F) is the US (NOAA) degree-day base; divide by 24 for cooling
    degree-days.

    Parameters
    ----------
    temp_air_c
        One year of hourly air temperature (8,760 or 8,784 values) in °C: a Series,
        array, weather DataFrame with ``temp_air_c``, or a 2-D array hours × candidates.
    base_c
        Base temperature.

    Returns
    -------
    float or numpy.ndarray
        One value, or one per candidate.

    Examples
    --------
    >>> import numpy as np
    >>> cooling_degree_hours(np.r_[np.full(8000, 10.0), np.full(760, 28.3)])
    7600.0
    """
    values, single = _temperatures(temp_air_c)
    base = _number(base_c, "base_c", low=-50, high=50)
    out = np.clip(values - base, 0.0, None).sum(axis=0)
    return float(out) if single else out


def hours_above(temp_air_c: Any, threshold_c: float = 27.0) -> Any:
    """Hours in the year with air temperature above ``threshold_c``.

    The default 27 °C is the upper end of ASHRAE TC 9.9's recommended inlet-air range for
    IT equipment (18–27 °C): above it, outside air cannot cool the servers directly
    (air-side economiser) and mechanical cooling runs. A feature for the scorer.

    Parameters
    ----------
    temp_air_c
        As for :func:`cooling_degree_hours`.
    threshold_c
        Threshold temperature, °C.

    Returns
    -------
    int or numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> hours_above(np.r_[np.full(8700, 20.0), np.full(60, 30.0)])
    60
    """
    values, single = _temperatures(temp_air_c)
    limit = _number(threshold_c, "threshold_c", low=-50, high=60)
    out = (values > limit).sum(axis=0)
    return int(out) if single else out.astype(int)


def cooling_features(
    temp_air_c: Any, *, base_c: float = 18.3, threshold_c: float = 27.0
) -> pd.DataFrame:
    """Cooling features per candidate: degree-hours and hours above a threshold.

    Returns
    -------
    pandas.DataFrame
        One row per candidate (index ``candidate``) with ``cooling_degree_hours_c_h`` and
        ``hours_above_{threshold}c`` (e.g. ``hours_above_27c``).

    Examples
    --------
    >>> import numpy as np
    >>> temps = np.c_[np.full(8760, 15.0), np.full(8760, 30.0)]
    >>> cooling_features(temps).round(1).to_dict("list")
    {'cooling_degree_hours_c_h': [0.0, 102492.0], 'hours_above_27c': [0, 8760]}
    """
    cdh = np.atleast_1d(cooling_degree_hours(temp_air_c, base_c=base_c))
    above = np.atleast_1d(hours_above(temp_air_c, threshold_c))
    frame = pd.DataFrame({"cooling_degree_hours_c_h": cdh, f"hours_above_{threshold_c:g}c": above})
    frame.index.name = "candidate"
    return frame


def match_sites(
    sites: pd.DataFrame,
    *,
    load_mw: float,
    target_cfe: float = 0.9,
    battery_hours: float = 4.0,
    solar_share: float = 0.5,
    ghi_column: str | None = "ghi_kwh_m2_day",
    wind_column: str | None = "wind_speed_100m_m_s",
    max_overbuild: float = 10.0,
) -> pd.DataFrame:
    """24/7 clean-energy fit of each site from its annual-mean resources.

    For every site (a row with ``lon`` and ``lat`` in degrees and resource columns) the
    clean supply is a mix of solar and wind nameplate (``solar_share`` of it solar), each
    from :func:`typical_profile`; the plant is sized, as :func:`size_for_target` does, for a
    flat ``load_mw`` data-center load with a battery of ``battery_hours`` at the load's
    power. All sites are sized together: one bisection over the overbuild, each step one
    :func:`match_load` on the hours × sites matrix.

    Two approximations keep it fast for many sites, both documented in ``docs/energy.md``:
    the solar shape is computed once, at the sites' mean location and median GHI, and
    scaled to each site's GHI (the typical profile's capacity factor is proportional to
    GHI); wind profiles are computed per site's mean speed rounded to 0.1 m/s and location
    rounded to 1°.

    Parameters
    ----------
    sites
        One row per site: ``lon``, ``lat`` and the resource columns named below.
    load_mw
        The flat load (MW).
    target_cfe
        Hourly carbon-free share to reach (0..1).
    battery_hours
        Battery duration (hours at ``load_mw``); 0 for none.
    solar_share
        Share of the variable nameplate that is solar (0..1); the rest is wind.
    ghi_column, wind_column
        Annual-mean GHI (kWh/m²/day) and mean hub-height wind speed (m/s) columns; None
        leaves that resource out (then ``solar_share`` must be 0 or 1 accordingly).
    max_overbuild
        Largest nameplate considered, in MW per MW of load.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``sites``: ``cfe_overbuild`` (MW of nameplate per MW of load to reach
        the target; NaN when out of reach), ``cfe_reachable``, ``cfe_share_at_max`` (the
        share at ``max_overbuild``), ``cfe_curtailed_share`` (of the generation, at the
        overbuild found, or at the maximum) and ``cfe_profile_source`` (``"typical"``:
        annual means, not measured hours).

    Raises
    ------
    siting.errors.ScenarioError
        For a missing column, a share or target outside 0..1, or a non-positive load.

    Examples
    --------
    >>> sites = pd.DataFrame({"lon": [-117.8], "lat": [39.2], "ghi_kwh_m2_day": [6.0],
    ...                       "wind_speed_100m_m_s": [8.0]})
    >>> fit = match_sites(sites, load_mw=10, target_cfe=0.8)
    >>> bool(fit["cfe_reachable"].iloc[0]), fit["cfe_profile_source"].iloc[0]
    (True, 'typical')
    """
    if not (math.isfinite(load_mw) and load_mw > 0):
        raise ScenarioError(f"load_mw={load_mw!r}; give the data-center load in MW (> 0)")
    if not 0.0 <= solar_share <= 1.0:
        raise ScenarioError(f"solar_share={solar_share!r} must be between 0 and 1")
    if not 0.0 < target_cfe <= 1.0:
        raise ScenarioError(f"target_cfe={target_cfe!r} must be in (0, 1]")
    if (solar_share > 0 and not ghi_column) or (solar_share < 1 and not wind_column):
        raise ScenarioError(
            "solar_share and the resource columns disagree: give ghi_column for a solar share "
            "above 0 and wind_column for a share below 1"
        )
    needed = ["lon", "lat"]
    if solar_share > 0:
        needed.append(str(ghi_column))
    if solar_share < 1:
        needed.append(str(wind_column))
    missing = [c for c in needed if c not in sites.columns]
    if missing:
        raise ScenarioError(
            f"match_sites needs columns {missing}; the sites have "
            f"{sorted(map(str, sites.columns))}"
        )
    values = sites[needed].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ScenarioError(f"match_sites: {needed} must be finite for every site")
    if len(sites) == 0:
        columns = ["cfe_overbuild", "cfe_reachable", "cfe_share_at_max", "cfe_curtailed_share"]
        return pd.DataFrame(columns=[*columns, "cfe_profile_source"], index=sites.index)
    lat = sites["lat"].to_numpy(dtype=float)
    lon = sites["lon"].to_numpy(dtype=float)
    per_mw = np.zeros((8760, len(sites)))
    if solar_share > 0:
        ghi = sites[str(ghi_column)].to_numpy(dtype=float)
        reference = float(np.median(ghi))
        shape = typical_profile(
            "solar",
            latitude=float(lat.mean()),
            longitude=float(lon.mean()),
            ghi_kwh_m2_day=reference,
        ).to_numpy()[:8760]
        per_mw += solar_share * np.clip(shape[:, None] * (ghi / reference)[None, :], 0.0, 1.0)
    if solar_share < 1:
        speed = sites[str(wind_column)].to_numpy(dtype=float)
        for j in range(len(sites)):
            per_mw[:, j] += (1 - solar_share) * _typical_wind(
                round(float(lat[j])), round(float(lon[j])), round(float(speed[j]), 1)
            )
    battery_mwh = load_mw * battery_hours

    def matched(overbuild: np.ndarray) -> MatchResult:
        return match_load(
            per_mw * (overbuild * load_mw)[None, :],
            load_mw=load_mw,
            battery_mw=load_mw if battery_hours > 0 else 0.0,
            battery_mwh=battery_mwh,
        )

    top = np.full(len(sites), float(max_overbuild))
    at_max = matched(top)
    reachable = np.asarray(at_max.cfe_share, dtype=float) >= target_cfe
    low, high = np.zeros(len(sites)), top.copy()
    for _ in range(30):  # bisection: 10 / 2**30 MW per MW of load is far below any need
        middle = (low + high) / 2
        ok = np.asarray(matched(middle).cfe_share, dtype=float) >= target_cfe
        high = np.where(ok, middle, high)
        low = np.where(ok, low, middle)
    final = matched(np.where(reachable, high, top))
    generated = np.asarray(final.generation_mwh, dtype=float)
    curtailed = np.asarray(final.curtailed_mwh, dtype=float)
    return pd.DataFrame(
        {
            "cfe_overbuild": np.where(reachable, high, np.nan),
            "cfe_reachable": reachable,
            "cfe_share_at_max": np.asarray(at_max.cfe_share, dtype=float),
            "cfe_curtailed_share": np.divide(
                curtailed, generated, out=np.zeros_like(curtailed), where=generated > 0
            ),
            "cfe_profile_source": "typical",
        },
        index=sites.index,
    )


# -- the same features on every cell of a grid ---------------------------------------------
#
# Hourly profiles for every cell of a state would cost seconds per thousand cells. Within
# the typical-profile model each feature is a smooth function of one or two annual means,
# so it is computed exactly on a fixed lattice of those means and interpolated per cell.
# The lattice does not depend on the data, so a tiled (dask) run gives the same numbers as
# an in-memory one, tile by tile.

#: Lattice steps: annual-mean GHI (kWh/m²/day), hub-height wind speed (m/s), temperature (°C).
_GHI_STEP, _WIND_STEP, _TEMP_STEP = 0.1, 0.25, 0.1
_GHI_RANGE, _WIND_RANGE, _TEMP_RANGE = (0.5, 12.0), (0.5, 25.0), (-60.0, 50.0)
#: Reference GHI of the solar shape; the typical PV output scales with GHI (then clips at 1).
_SOLAR_REFERENCE_GHI = 5.0


def _lattice_index(values: NDArray[np.float64], start: float, step: float, size: int) -> Any:
    """Lower lattice index and weight of the upper neighbour, for linear interpolation."""
    position = np.clip((values - start) / step, 0.0, size - 1.0)
    lower = np.minimum(np.floor(np.nan_to_num(position)).astype(np.intp), size - 2)
    return lower, position - lower


def _check_range(values: NDArray[np.float64], bounds: tuple[float, float], what: str) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < bounds[0] or finite.max() > bounds[1]):
        raise InvalidLayerError(
            f"{what} runs from {finite.min():g} to {finite.max():g}, outside the supported "
            f"{bounds[0]:g}..{bounds[1]:g}; check the layer's units."
        )


@functools.lru_cache(maxsize=8)
def _solar_reference(latitude: float, longitude: float) -> NDArray[np.float64]:
    return typical_profile(
        "solar", latitude=latitude, longitude=longitude, ghi_kwh_m2_day=_SOLAR_REFERENCE_GHI
    ).to_numpy()[:8760]


def typical_cfe_share(
    ghi_kwh_m2_day: Any = None,
    wind_speed_m_s: Any = None,
    *,
    latitude: float,
    longitude: float,
    overbuild: float = 2.0,
    battery_hours: float = 4.0,
    solar_share: float = 0.5,
    round_trip_efficiency: float = 0.85,
) -> NDArray[np.float64]:
    """24/7 CFE share of a flat load at every cell, from annual-mean resources.

    The clean plant has ``overbuild`` MW of nameplate per MW of load, ``solar_share`` of it
    solar, and a battery of ``battery_hours`` at the load's power; hours are
    :func:`typical_profile`'s, as in :func:`match_sites` (one solar shape at the given
    location, scaled to each cell's GHI; typical wind for each mean speed). The load's size
    does not matter: everything is per MW of load. The share is computed exactly with
    :func:`match_load` on a lattice of GHI (0.1 kWh/m²/day) and wind speed (0.25 m/s)
    and interpolated bilinearly per cell (the interpolation error is below 0.005 in the
    tests). A criterion for the scorer: higher is a better 24/7 fit.

    Parameters
    ----------
    ghi_kwh_m2_day, wind_speed_m_s
        Annual-mean GHI and hub-height wind speed, arrays of one shape (or scalars); either
        may be None when ``solar_share`` leaves that resource out. NaN gives NaN.
    latitude, longitude
        Where the hourly shapes are computed: the region's centre.
    overbuild
        Nameplate per MW of load.
    battery_hours
        Battery duration (hours at the load's power); 0 for none.
    solar_share
        Share of the nameplate that is solar (0..1).
    round_trip_efficiency
        Of the battery.

    Returns
    -------
    numpy.ndarray
        The CFE share (0..1) in the shape of the inputs.

    Examples
    --------
    >>> share = typical_cfe_share([5.5, 6.0], [6.0, 8.0], latitude=39.0, longitude=-117.0)
    >>> bool(0 < share[0] < share[1] < 1)
    True
    """
    if not 0.0 <= solar_share <= 1.0:
        raise ScenarioError(f"solar_share={solar_share!r} must be between 0 and 1")
    if not (math.isfinite(overbuild) and overbuild > 0):
        raise ScenarioError(f"overbuild={overbuild!r}; give MW of nameplate per MW of load (> 0)")
    if not (math.isfinite(battery_hours) and battery_hours >= 0):
        raise ScenarioError(f"battery_hours={battery_hours!r} must be >= 0")
    inputs = {"ghi_kwh_m2_day": ghi_kwh_m2_day, "wind_speed_m_s": wind_speed_m_s}
    needed = [
        name
        for name, share in (("ghi_kwh_m2_day", solar_share), ("wind_speed_m_s", 1 - solar_share))
        if share > 0
    ]
    missing = [name for name in needed if inputs[name] is None]
    if missing:
        raise ScenarioError(f"solar_share={solar_share:g} needs {missing}")
    arrays = {name: np.asarray(inputs[name], dtype=float) for name in needed}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    arrays = {name: np.broadcast_to(a, shape).ravel() for name, a in arrays.items()}
    out = np.full(int(np.prod(shape)), np.nan)
    valid = np.logical_and.reduce([np.isfinite(a) for a in arrays.values()])
    if not valid.any():
        return out.reshape(shape)
    axes: list[tuple[str, float, float, int]] = []
    for name, (start, stop), step in (
        ("ghi_kwh_m2_day", _GHI_RANGE, _GHI_STEP),
        ("wind_speed_m_s", _WIND_RANGE, _WIND_STEP),
    ):
        if name in arrays:
            _check_range(arrays[name], (start, stop), name)
            axes.append((name, start, step, round((stop - start) / step) + 1))
    # Only the lattice points around the data are computed; each is independent of the rest.
    corners: list[tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.intp]]] = []
    for name, start, step, size in axes:
        lower, weight = _lattice_index(arrays[name][valid], start, step, size)
        points = np.arange(lower.min(), lower.max() + 2)
        corners.append((lower - points[0], weight, points))
    solar = wind = None
    per_mw_columns: list[NDArray[np.float64]] = []
    keys: list[tuple[int, ...]] = []
    if "ghi_kwh_m2_day" in arrays:
        solar = _solar_reference(round(float(latitude), 1), round(float(longitude), 1))
    ghi_points = corners[0][2] if "ghi_kwh_m2_day" in arrays else np.array([0])
    wind_points = corners[-1][2] if "wind_speed_m_s" in arrays else np.array([0])
    for i, g_index in enumerate(ghi_points):
        for j, w_index in enumerate(wind_points):
            column = np.zeros(8760)
            if solar is not None:
                ghi = _GHI_RANGE[0] + g_index * _GHI_STEP
                column += solar_share * np.clip(solar * ghi / _SOLAR_REFERENCE_GHI, 0.0, 1.0)
            if solar_share < 1:
                speed = round(_WIND_RANGE[0] + w_index * _WIND_STEP, 2)
                wind = _typical_wind(round(float(latitude)), round(float(longitude)), speed)
                column += (1 - solar_share) * wind
            per_mw_columns.append(column)
            keys.append((i, j))
    matched = match_load(
        np.column_stack(per_mw_columns) * overbuild,
        load_mw=1.0,
        battery_mw=1.0 if battery_hours > 0 else 0.0,
        battery_mwh=battery_hours,
        round_trip_efficiency=round_trip_efficiency,
    )
    table = np.asarray(matched.cfe_share, dtype=float).reshape(len(ghi_points), len(wind_points))
    if "ghi_kwh_m2_day" in arrays and "wind_speed_m_s" in arrays:
        (gi, gw, _), (wi, ww, _) = corners
        values = (
            table[gi, wi] * (1 - gw) * (1 - ww)
            + table[gi + 1, wi] * gw * (1 - ww)
            + table[gi, wi + 1] * (1 - gw) * ww
            + table[gi + 1, wi + 1] * gw * ww
        )
    else:
        index, weight, _ = corners[0]
        line = table[:, 0] if "ghi_kwh_m2_day" in arrays else table[0, :]
        values = line[index] * (1 - weight) + line[index + 1] * weight
    out[valid] = values
    return out.reshape(shape)


@functools.lru_cache(maxsize=16)
def _temperature_cycle(
    seasonal_amplitude_c: float, diurnal_amplitude_c: float, southern: bool
) -> NDArray[np.float64]:
    hour = np.arange(8760, dtype=float)
    day = hour / 24.0
    warmest_day = 200.0 + (365.25 / 2 if southern else 0.0)
    return seasonal_amplitude_c * np.cos(
        2 * np.pi * (day - warmest_day) / 365.25
    ) + diurnal_amplitude_c * np.cos(2 * np.pi * (hour % 24 - 15.0) / 24.0)


@functools.lru_cache(maxsize=16)
def _cooling_lattice(
    kind: str,
    level_c: float,
    seasonal_amplitude_c: float,
    diurnal_amplitude_c: float,
    weather_sd_c: float,
    southern: bool,
) -> NDArray[np.float64]:
    from scipy import special

    means = np.arange(_TEMP_RANGE[0], _TEMP_RANGE[1] + _TEMP_STEP / 2, _TEMP_STEP)
    cycle = _temperature_cycle(seasonal_amplitude_c, diurnal_amplitude_c, southern)
    out = np.empty(means.size)
    for k in range(0, means.size, 64):  # 64 means × 8,760 hours at a time
        z = (means[k : k + 64, None] + cycle[None, :] - level_c) / weather_sd_c
        if kind == "degree_hours":
            # E[max(T - base, 0)] for T ~ N(mu, sd²): sd·φ(z) + (mu - base)·Φ(z).
            pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            part = weather_sd_c * (pdf + z * special.ndtr(z))
        else:
            part = special.ndtr(z)  # P(T > threshold)
        out[k : k + 64] = part.sum(axis=1)
    return out


def _typical_cooling(
    kind: str,
    mean_temp_c: Any,
    level_c: float,
    seasonal_amplitude_c: float,
    diurnal_amplitude_c: float,
    weather_sd_c: float,
    southern: bool,
) -> NDArray[np.float64]:
    level = _number(level_c, "base or threshold temperature", low=-50, high=60)
    a_s = _number(seasonal_amplitude_c, "seasonal_amplitude_c", low=0, high=40)
    a_d = _number(diurnal_amplitude_c, "diurnal_amplitude_c", low=0, high=30)
    sd = _number(weather_sd_c, "weather_sd_c", low=0, low_open=True, high=20)
    means = np.asarray(mean_temp_c, dtype=float)
    _check_range(means, (-40.0, 40.0), "annual-mean air temperature (°C)")
    lattice = _cooling_lattice(kind, level, a_s, a_d, sd, bool(southern))
    lower, weight = _lattice_index(means, _TEMP_RANGE[0], _TEMP_STEP, lattice.size)
    values = lattice[lower] * (1 - weight) + lattice[lower + 1] * weight
    return np.where(np.isfinite(means), values, np.nan)


_TYPICAL_TEMPERATURE_DOC = """
    The hourly temperature of a typical year is the annual mean plus a seasonal cosine
    (warmest on 19 July; 18 January south of the equator) of ``seasonal_amplitude_c``, a
    daily cosine (warmest at 15:00 local time) of ``diurnal_amplitude_c``, and weather:
    a normal deviation of ``weather_sd_c`` around that cycle. The result is the expected
    value under that model, computed exactly on a 0.1 °C lattice of annual means and
    interpolated per cell. The defaults are those of the interior US West; on NREL's
    Daggett, CA weather file (annual mean 19.8 °C) they give 43,400 °C·h and 2,340 hours
    above 27 °C against 41,850 and 2,206 measured. Humid coasts have smaller amplitudes:
    set them from a nearby station's monthly means and daily range.
"""


def typical_cooling_degree_hours(
    mean_temp_c: Any,
    *,
    base_c: float = 18.3,
    seasonal_amplitude_c: float = 12.0,
    diurnal_amplitude_c: float = 6.0,
    weather_sd_c: float = 3.0,
    southern: bool = False,
) -> NDArray[np.float64]:
    """Cooling degree-hours (°C·h a year, base ``base_c``) from an annual-mean temperature.

    For rasters of annual-mean air temperature (PRISM, Daymet, ERA5 climatologies) where
    :func:`cooling_degree_hours` would need hourly values at every cell.
    {doc}
    Examples
    --------
    >>> cdh = typical_cooling_degree_hours([5.0, 12.0, 20.0])
    >>> bool(cdh[0] < cdh[1] < cdh[2])
    True
    """
    return _typical_cooling(
        "degree_hours",
        mean_temp_c,
        base_c,
        seasonal_amplitude_c,
        diurnal_amplitude_c,
        weather_sd_c,
        southern,
    )


def typical_hours_above(
    mean_temp_c: Any,
    threshold_c: float = 27.0,
    *,
    seasonal_amplitude_c: float = 12.0,
    diurnal_amplitude_c: float = 6.0,
    weather_sd_c: float = 3.0,
    southern: bool = False,
) -> NDArray[np.float64]:
    """Expected hours a year above ``threshold_c`` (27 °C: see :func:`hours_above`).

    The annual-mean counterpart of :func:`hours_above`, as
    :func:`typical_cooling_degree_hours` is of :func:`cooling_degree_hours`.
    {doc}
    Examples
    --------
    >>> hours = typical_hours_above([0.0, 20.0])
    >>> bool(hours[0] < 1 < 1000 < hours[1] < 8760)
    True
    """
    return _typical_cooling(
        "hours_above",
        mean_temp_c,
        threshold_c,
        seasonal_amplitude_c,
        diurnal_amplitude_c,
        weather_sd_c,
        southern,
    )


for _function in (typical_cooling_degree_hours, typical_hours_above):
    _function.__doc__ = (_function.__doc__ or "").replace("{doc}", _TYPICAL_TEMPERATURE_DOC)


@functools.lru_cache(maxsize=512)
def _typical_wind(latitude: float, longitude: float, speed_m_s: float) -> np.ndarray:
    profile = typical_profile(
        "wind", latitude=latitude, longitude=longitude, wind_speed_m_s=speed_m_s
    )
    return profile.to_numpy()[:8760]
