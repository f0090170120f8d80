"""Readers for NREL point resource data, normalised to the library's names and units.

Sources:

- NSRDB / WIND Toolkit HDF5 files in the NREL *rex* layout: a ``meta`` compound table (one
  row per site, ``latitude``/``longitude`` in WGS84 plus site attributes), value datasets
  shaped ``(sites,)``, ``(years, sites)`` (annual "means" files, with a ``year_index``) or
  ``(time, sites)`` (hourly / half-hourly files, with a ``time_index`` of byte timestamps
  in UTC), optional ``scale_factor`` and ``units`` attributes;
- SAM weather CSV files: TMY2/TMY3-style solar files (2 header lines) and SRW wind files
  (5 header lines).

Names follow the library convention of units in names: ``ghi_kwh_m2_day`` for annual-mean
irradiance, ``wind_speed_100m_m_s`` for wind speed at 100 m, ``ghi_w_m2`` for hourly
irradiance, and so on.

:func:`siting.layers.points_to_grid` turns the point resources into a raster on a grid.

Scale factors: rex stores many variables as integers multiplied by ``scale_factor``; a
reader divides by it **only when the stored data are integers**. Float datasets already hold
physical values (the WIND Toolkit means files carry a leftover ``scale_factor = 100`` on
float wind speeds of 6-9 m/s; dividing would give 0.07 m/s).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._typing import PathLike
from siting.errors import InvalidLayerError, LayerIOError, SitingError, missing_dependency

if TYPE_CHECKING:
    pass

__all__ = [
    "read_rex_hourly",
    "read_rex_means",
    "read_sam_csv",
]

_IRRADIANCE = ("ghi", "dni", "dhi", "clearsky_ghi", "clearsky_dni", "clearsky_dhi")
_W_M2 = {"w/m2", "w/m^2", "w m-2", "w/m**2", "watts/m2"}
_KWH_M2_DAY = {"kwh/m2/day", "kwh/m^2/day", "kwh/m2/d", "kwh m-2 day-1"}
_M_S = {"m/s", "m s-1", "meters/second", "m/sec"}
_WIND_RE = re.compile(r"^wind_?speed(?:_(\d+)m)?$")

# Annual means of irradiance: in W/m2 they are never below ~50 anywhere on Earth, in
# kWh/m2/day never above ~9, so the two unit systems cannot be confused.
_KWH_DAY_MAX = 20.0
_W_M2_MIN = 50.0


# -- HDF5 helpers ---------------------------------------------------------------------------


def _h5py() -> Any:
    try:
        import h5py  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - h5py is a core dependency
        raise missing_dependency("h5py", "all", "Reading NREL rex HDF5 files") from None
    return h5py


@contextmanager
def _open_h5(path: PathLike) -> Iterator[Any]:
    h5py = _h5py()
    p = Path(path)
    if not p.is_file():
        raise LayerIOError(f"NREL resource file {str(p)!r} does not exist or is not a file.")
    try:
        handle = h5py.File(p, "r")
    except OSError as exc:
        raise LayerIOError(
            f"cannot open {str(p)!r} as HDF5: {exc}. The file is corrupt, truncated or not "
            "HDF5; download it again (rex files are HDF5 with a 'meta' table)."
        ) from exc
    try:
        yield handle
    except SitingError:
        raise
    except (OSError, RuntimeError, KeyError) as exc:
        raise LayerIOError(
            f"cannot read {str(p)!r}: {exc}. The HDF5 file is corrupt or truncated; "
            "download it again."
        ) from exc
    finally:
        handle.close()


def _value_datasets(handle: Any) -> list[str]:
    skip = {"meta", "time_index", "year_index", "coordinates"}
    return sorted(k for k, v in handle.items() if k not in skip and hasattr(v, "shape"))


def _dataset(handle: Any, name: str, path: PathLike) -> Any:
    if not isinstance(name, str) or name not in handle or not hasattr(handle[name], "shape"):
        raise InvalidLayerError(
            f"{str(path)!r} has no dataset {name!r}; available value datasets: "
            f"{_value_datasets(handle)}."
        )
    return handle[name]


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    if values.dtype.kind == "O":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values])
    return values


def _meta(handle: Any, path: PathLike) -> pd.DataFrame:
    if "meta" not in handle:
        raise LayerIOError(
            f"{str(path)!r} has no 'meta' table, so it is not in the NREL rex layout "
            f"(datasets found: {sorted(handle.keys())})."
        )
    raw = handle["meta"][...]
    if raw.dtype.names is None:
        raise LayerIOError(f"{str(path)!r}: 'meta' is not a compound table (dtype {raw.dtype}).")
    frame = pd.DataFrame({name: _decode(raw[name]) for name in raw.dtype.names})
    missing = [c for c in ("latitude", "longitude") if c not in frame.columns]
    if missing:
        raise LayerIOError(
            f"{str(path)!r}: the 'meta' table lacks {missing}; it has {list(frame.columns)}."
        )
    frame.insert(0, "gid", np.arange(len(frame), dtype=np.int64))
    return frame


def _attr_str(ds: Any, name: str) -> str | None:
    value = ds.attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return str(value)


def _scale(ds: Any, data: np.ndarray, override: float | None) -> np.ndarray:
    """Divide integer data by the scale factor (attribute, or ``override``)."""
    factor: float | None = override
    if factor is None and "scale_factor" in ds.attrs:
        factor = float(np.asarray(ds.attrs["scale_factor"]).ravel()[0])
    out = data.astype("float64")
    if factor is not None:
        if not np.isfinite(factor) or factor == 0:
            raise InvalidLayerError(f"scale_factor must be finite and non-zero, got {factor!r}")
        if data.dtype.kind in "iu" or override is not None:
            out /= factor
    elif data.dtype.kind in "iu":
        warnings.warn(
            f"dataset {ds.name!r} holds integers but has no 'scale_factor' attribute; values "
            "are used as stored. Pass scale_factor= if they are scaled (NSRDB stores wind "
            "speed as m/s x 10).",
            UserWarning,
            stacklevel=4,
        )
    return out


def _unit_key(units: str | None) -> str | None:
    return None if units is None else units.strip().lower().replace(" ", "").replace("²", "2")


def _means_name_and_values(
    dataset: str, values: np.ndarray, units: str | None
) -> tuple[str, np.ndarray, str, str]:
    """Library name, converted values, units and where the units came from."""
    key = dataset.lower()
    unit = _unit_key(units)
    if key in _IRRADIANCE:
        if unit is None:
            finite = values[np.isfinite(values)]
            top = float(finite.max()) if finite.size else float("nan")
            low = float(finite.min()) if finite.size else float("nan")
            if finite.size and top <= _KWH_DAY_MAX:
                unit, source = "kwh/m2/day", "inferred from the value range"
            elif finite.size and low >= _W_M2_MIN:
                unit, source = "w/m2", "inferred from the value range"
            else:
                raise InvalidLayerError(
                    f"dataset {dataset!r} has no 'units' attribute and its values "
                    f"({low:g}..{top:g}) fit neither W/m2 nor kWh/m2/day; pass units=."
                )
        else:
            source = "file" if units is not None else "default"
        if unit in _W_M2:
            return f"{key}_kwh_m2_day", values * 24.0 / 1000.0, "kWh/m2/day", source
        if unit in _KWH_M2_DAY:
            return f"{key}_kwh_m2_day", values, "kWh/m2/day", source
        raise InvalidLayerError(
            f"dataset {dataset!r} has units {units!r}; expected W/m2 or kWh/m2/day."
        )
    match = _WIND_RE.match(key)
    if match:
        if unit is not None and unit not in _M_S:
            raise InvalidLayerError(f"dataset {dataset!r} has units {units!r}; expected m/s.")
        height = f"_{match.group(1)}m" if match.group(1) else ""
        return f"wind_speed{height}_m_s", values, "m/s", "file" if unit else "default (m/s)"
    return key, values, units or "", "file" if units else "unknown"


# -- rex readers ----------------------------------------------------------------------------


def read_rex_means(
    path: PathLike, dataset: str, *, year: str | int | None = None, units: str | None = None
) -> gpd.GeoDataFrame:
    """Read one variable of an NSRDB / WIND Toolkit "means" HDF5 file (rex layout).

    Parameters
    ----------
    path
        HDF5 file with a ``meta`` table and ``dataset`` shaped ``(sites,)`` or
        ``(years, sites)`` (then a ``year_index`` names the rows, e.g. ``2012``,
        ``2013``, ``2012_2013``).
    dataset
        Name of the value dataset, e.g. ``"ghi"``, ``"dni"``, ``"windspeed_100m"``.
    year
        For ``(years, sites)`` datasets: the ``year_index`` entry to read (``2012`` or
        ``"2012_2013"``). ``None`` reads every year, in long form with a ``year`` column.
    units
        Units of the stored values when the file has no ``units`` attribute (it wins over
        the attribute if both are given). Irradiance without units is recognised from its
        range: annual means <= 20 are kWh/m2/day, >= 50 are W/m2 (anything else is an error).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per site (per site and year when ``year`` is None) with ``gid`` (row of
        ``meta``), the ``meta`` columns (bytes decoded), ``year`` when the dataset has years,
        the value column under the library name (``ghi_kwh_m2_day``,
        ``wind_speed_100m_m_s``, ...; unknown datasets keep their name), and point
        geometries in EPSG:4326. ``attrs`` record the source dataset, units and scale.

    Raises
    ------
    LayerIOError
        Missing, truncated or non-rex file.
    InvalidLayerError
        Unknown dataset or year (the message lists the available ones), unusable units.

    Notes
    -----
    Irradiance in W/m2 is converted with W/m2 x 24 / 1000 = kWh/m2/day. Integer data are
    divided by ``scale_factor``; float data are used as stored (see the module notes).
    """
    with _open_h5(path) as handle:
        ds = _dataset(handle, dataset, path)
        meta = _meta(handle, path)
        n_sites = len(meta)
        data = _scale(ds, ds[...], None)
        file_units = _attr_str(ds, "units")
        if data.ndim == 1 and data.shape[0] == n_sites:
            years: list[str] | None = None
            data = data[np.newaxis, :]
        elif data.ndim == 2 and data.shape[1] == n_sites:
            if "year_index" in handle:
                years = [str(v) for v in _decode(handle["year_index"][...])]
            else:
                years = [str(i) for i in range(data.shape[0])]
            if len(years) != data.shape[0]:
                raise LayerIOError(
                    f"{str(path)!r}: 'year_index' has {len(years)} entries but {dataset!r} "
                    f"has {data.shape[0]} rows."
                )
        else:
            raise LayerIOError(
                f"{str(path)!r}: dataset {dataset!r} has shape {ds.shape}, expected "
                f"({n_sites},) or (years, {n_sites}) for {n_sites} sites in 'meta'."
            )
    if years is not None and year is not None:
        wanted = str(year)
        if wanted not in years:
            raise InvalidLayerError(
                f"{str(path)!r}: year {year!r} is not in the file; available: {years}."
            )
        index = years.index(wanted)
        data, years = data[index : index + 1], [wanted]
    name, values, out_units, source = _means_name_and_values(dataset, data, units or file_units)
    frames = []
    for i in range(values.shape[0]):
        frame = meta.copy()
        if years is not None:
            frame["year"] = years[i]
        frame[name] = values[i]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    geometry = gpd.points_from_xy(table["longitude"], table["latitude"])
    out = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    out.attrs.update(
        {"source_dataset": dataset, "column": name, "units": out_units, "units_source": source}
    )
    return out


def read_rex_hourly(
    path: PathLike,
    dataset: str,
    *,
    sites: Sequence[int] | None = None,
    scale_factor: float | None = None,
) -> pd.DataFrame:
    """Read a time series dataset ``(time, sites)`` of an NSRDB / WIND Toolkit rex file.

    Parameters
    ----------
    path
        HDF5 file with ``time_index`` (byte timestamps, UTC) and ``dataset``.
    dataset
        Name of the value dataset, e.g. ``"ghi"`` or ``"windspeed_100m"``.
    sites
        Site gids (rows of ``meta``) to read, in the order wanted; ``None`` reads all.
    scale_factor
        Divisor for stored values when the file lacks a ``scale_factor`` attribute (it wins
        over the attribute). Without either, integer data are used as stored, with a warning.

    Returns
    -------
    pandas.DataFrame
        Index: UTC :class:`~pandas.DatetimeIndex` named ``time``; columns: site gids;
        float64 values after scaling. ``attrs`` hold ``source_dataset``, ``units`` (the
        file's attribute, or ``""``) and ``scale_factor``.

    Raises
    ------
    LayerIOError
        Missing, truncated or non-rex file, or a ``time_index`` that does not match.
    InvalidLayerError
        Unknown dataset (the message lists the available ones) or site gids out of range.
    """
    with _open_h5(path) as handle:
        ds = _dataset(handle, dataset, path)
        if "time_index" not in handle:
            raise LayerIOError(
                f"{str(path)!r} has no 'time_index', so {dataset!r} is not a time series."
            )
        try:
            times = pd.to_datetime(_decode(handle["time_index"][...]), utc=True)
        except (ValueError, TypeError) as exc:
            raise LayerIOError(f"{str(path)!r}: cannot parse 'time_index': {exc}") from exc
        if ds.ndim != 2 or ds.shape[0] != len(times):
            raise LayerIOError(
                f"{str(path)!r}: dataset {dataset!r} has shape {ds.shape}, expected "
                f"({len(times)}, sites) to match 'time_index'."
            )
        n_sites = ds.shape[1]
        if sites is None:
            gids = np.arange(n_sites)
            raw = ds[...]
        else:
            gids = np.asarray(list(sites), dtype=np.int64)
            bad = gids[(gids < 0) | (gids >= n_sites)]
            if bad.size or gids.size == 0:
                raise InvalidLayerError(
                    f"sites must be gids in 0..{n_sites - 1}, got {list(sites)!r}."
                )
            unique, inverse = np.unique(gids, return_inverse=True)
            raw = ds[:, unique][:, inverse]  # h5py needs increasing indices
        data = _scale(ds, raw, scale_factor)
        units = _attr_str(ds, "units") or ""
        stored_scale = ds.attrs.get("scale_factor")
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(times, name="time"), columns=gids)
    frame.columns.name = "gid"
    used = scale_factor if scale_factor is not None else stored_scale
    frame.attrs.update(
        {
            "source_dataset": dataset,
            "units": units,
            "scale_factor": None if used is None else float(np.asarray(used).ravel()[0]),
        }
    )
    return frame


# -- SAM CSV --------------------------------------------------------------------------------

_SOLAR_COLUMNS = {
    "year": "year",
    "month": "month",
    "day": "day",
    "hour": "hour",
    "minute": "minute",
    "ghi": "ghi_w_m2",
    "dni": "dni_w_m2",
    "dhi": "dhi_w_m2",
    "tdry": "temp_air_c",
    "temperature": "temp_air_c",
    "tdew": "temp_dew_c",
    "dew point": "temp_dew_c",
    "rh": "relative_humidity_pct",
    "relative humidity": "relative_humidity_pct",
    "pres": "pressure_mbar",
    "pressure": "pressure_mbar",
    "wspd": "wind_speed_m_s",
    "wind speed": "wind_speed_m_s",
    "wdir": "wind_direction_deg",
    "wind direction": "wind_direction_deg",
    "snow depth": "snow_depth_cm",
    "albedo": "albedo",
}

_SOLAR_META = {
    "source": "source",
    "location id": "location_id",
    "city": "city",
    "state": "state",
    "country": "country",
    "latitude": "latitude",
    "longitude": "longitude",
    "time zone": "time_zone",
    "elevation": "elevation_m",
}

_SRW_QUANTITIES = {
    "temperature": ("temp_air", {"c": "c"}),
    "pressure": ("pressure", {"atm": "atm", "mbar": "mbar", "pa": "pa", "kpa": "kpa"}),
    "direction": ("wind_direction", {"degrees": "deg", "deg": "deg"}),
    "speed": ("wind_speed", {"m/s": "m_s"}),
}

_SRW_META = ("location_id", "city", "state", "country", "year", "latitude", "longitude",
             "elevation_m", "interval_hours", "n_records")  # fmt: skip


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _read_csv_body(path: Path, skiprows: int, names: list[str] | None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, skiprows=skiprows, header=None if names else 0, names=names)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LayerIOError(f"cannot parse the data rows of SAM CSV {str(path)!r}: {exc}") from exc


def _read_sam_solar(path: Path, head: list[list[str]]) -> tuple[dict[str, Any], pd.DataFrame]:
    keys, values = head[0], head[1]
    meta: dict[str, Any] = {"format": "sam_solar"}
    for key, value in zip(keys, values, strict=False):
        name = _SOLAR_META.get(key.strip().lower(), _snake(key))
        meta[name] = _number(value) if name not in {"city", "state", "country"} else value
    body = _read_csv_body(path, 2, None)
    columns = {c: _SOLAR_COLUMNS.get(c.strip().lower(), _snake(c)) for c in body.columns}
    body = body.rename(columns=columns)
    if "ghi_w_m2" not in body.columns:
        raise LayerIOError(
            f"SAM solar CSV {str(path)!r} has no GHI column (columns: {list(columns)}); "
            "expected Year, Month, Day, Hour, GHI, DNI, DHI, Tdry, ... on line 3."
        )
    return meta, body


def _read_sam_srw(path: Path, head: list[list[str]]) -> tuple[dict[str, Any], pd.DataFrame]:
    meta: dict[str, Any] = {"format": "sam_srw"}
    for key, value in zip(_SRW_META, head[0], strict=False):
        parsed = _number(value)
        if key in {"latitude", "longitude", "elevation_m", "year"} and isinstance(parsed, str):
            parsed = float("nan")  # placeholders such as "lat??" mean unknown
        meta[key] = value.strip() if key in {"city", "state", "country"} else parsed
    meta["description"] = ",".join(head[1]).strip()
    quantities, units, heights = head[2], head[3], head[4]
    if not (len(quantities) == len(units) == len(heights)):
        raise LayerIOError(
            f"SRW file {str(path)!r}: header lines 3-5 (quantities, units, heights) have "
            f"{len(quantities)}, {len(units)} and {len(heights)} fields; they must match."
        )
    names = []
    for quantity, unit, height in zip(quantities, units, heights, strict=True):
        q = quantity.strip().lower()
        if q not in _SRW_QUANTITIES:
            raise LayerIOError(
                f"SRW file {str(path)!r}: unknown quantity {quantity!r} on line 3; expected "
                "Temperature, Pressure, Direction or Speed."
            )
        base, unit_names = _SRW_QUANTITIES[q]
        u = unit.strip().lower()
        if u not in unit_names:
            raise LayerIOError(
                f"SRW file {str(path)!r}: unit {unit!r} for {quantity!r} is not one of "
                f"{sorted(unit_names)}."
            )
        h = _number(height)
        if isinstance(h, str):
            raise LayerIOError(f"SRW file {str(path)!r}: height {height!r} is not a number.")
        names.append(f"{base}_{h:g}m_{unit_names[u]}")
    if len(set(names)) != len(names):
        raise LayerIOError(f"SRW file {str(path)!r}: duplicate columns {names}.")
    meta["heights_m"] = sorted({float(h) for h in heights})
    return meta, _read_csv_body(path, 5, names)


def read_sam_csv(path: PathLike) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read a SAM weather CSV: solar (TMY2/TMY3-style) or wind (SRW).

    Parameters
    ----------
    path
        A SAM solar CSV (line 1 metadata names such as ``Source, Location ID, ...,
        Latitude, Longitude, Time Zone, Elevation``, line 2 their values, line 3 column
        names ``Year, Month, Day, Hour, GHI, DNI, DHI, Tdry, ...``) or an SRW wind file
        (line 1 ``loc_id, city, state, country, year, lat, lon, elevation, interval,
        n_records``, line 2 description, lines 3-5 quantity / unit / height per column).

    Returns
    -------
    metadata : dict
        ``format`` (``"sam_solar"`` or ``"sam_srw"``), ``latitude``, ``longitude``,
        ``elevation_m`` (NaN when the file has a placeholder), and the other header fields;
        SRW adds ``heights_m`` and ``description``.
    data : pandas.DataFrame
        One row per record. Solar columns: ``year, month, day, hour, ghi_w_m2, dni_w_m2,
        dhi_w_m2, temp_air_c, temp_dew_c, relative_humidity_pct, pressure_mbar,
        wind_speed_m_s, wind_direction_deg, snow_depth_cm`` (others snake-cased). SRW
        columns: ``temp_air_{h}m_c, pressure_{h}m_atm, wind_direction_{h}m_deg,
        wind_speed_{h}m_m_s`` for each height ``h``.

    Raises
    ------
    LayerIOError
        Missing file, or a header that is neither layout (the message says what was seen).
    """
    p = Path(path)
    if not p.is_file():
        raise LayerIOError(f"SAM CSV {str(p)!r} does not exist or is not a file.")
    try:
        with p.open(newline="", encoding="utf-8-sig") as handle:
            head = [row for _, row in zip(range(5), csv.reader(handle), strict=False)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayerIOError(f"cannot read SAM CSV {str(p)!r}: {exc}") from exc
    first = [c.strip().lower() for c in head[0]] if head else []
    if "latitude" in first and len(head) >= 3:
        return _read_sam_solar(p, head)
    if len(head) == 5 and head[2] and head[2][0].strip().lower() in _SRW_QUANTITIES:
        return _read_sam_srw(p, head)
    shown = " | ".join(",".join(r)[:80] for r in head[:3])
    raise LayerIOError(
        f"{str(p)!r} is not a SAM weather CSV: expected a solar header (line 1 with "
        "'Latitude', line 3 'Year,Month,Day,Hour,GHI,...') or an SRW wind header (line 3 "
        f"'Temperature,Pressure,Direction,Speed,...'); the file starts with: {shown!r}."
    )


# -- points to grid -------------------------------------------------------------------------
