"""Readers for power plants, interconnection queues, geothermal indicators and PSM weather.

Every reader normalises column names (units in names: ``capacity_mw``, ``temp_c``,
``heat_flow_mw_m2``) and returns point layers in EPSG:4326 (WGS84 longitude/latitude), the
CRS all of these sources publish in.

Sources:

- EIA-860: the generator table of PyPSA-USA (``eia_plants.csv``: ``plant_id_eia,
  generator_id, plant_name_eia, capacity_mw, Status, tech_type, State, Latitude,
  Longitude, ...``) or EIA's own workbooks, schedule 2 (plants) and schedule 3_1
  (generators), which carry one title row above the header;
- interconnection queues: LBNL *Queued Up* data (``q_id, q_status, q_date, region, entity,
  project_name, county, state, poi_name, type_clean, mw1, mw2, mw3``) or the tables of the
  ``gridstatus`` package (``Queue ID, Project Name, Status, Capacity (MW), ...``);
- NOAA NCEI *Thermal Springs List for the United States* as GeoJSON (``SC, Spring Name, TF,
  TC``; temperatures may be the letters B/H/W for boiling/hot/warm);
- SMU Geothermal Laboratory heat-flow tables (``-9999`` means null);
- NSRDB Physical Solar Model (PSM) CSV downloads.

Rows that cannot be placed (no coordinates) are dropped and counted in a warning; unknown
values are kept as NaN and counted in a warning. Unreadable files and files whose header is
not the expected layout raise :class:`~siting.errors.LayerIOError`; bad arguments raise
:class:`~siting.errors.InvalidLayerError`.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._typing import PathLike
from siting.datasets._io import require_columns
from siting.datasets.resource import read_sam_csv
from siting.errors import InvalidLayerError, LayerIOError

# A file without the expected columns is a bad file, so it is a LayerIOError here.
_require = functools.partial(require_columns, error=LayerIOError)

__all__ = [
    "GENERATOR_COLUMNS",
    "HEAT_FLOW_COLUMNS",
    "PLANT_COLUMNS",
    "QUEUE_COLUMNS",
    "QUEUE_SCHEMAS",
    "SMU_NULL",
    "SPRING_COLUMNS",
    "read_eia860_plants",
    "read_psm_csv",
    "read_queue",
    "read_smu_heat_flow",
    "read_thermal_springs",
]

#: Columns of a plant table from :func:`read_eia860_plants` (plus ``geometry``).
PLANT_COLUMNS = (
    "plant_id",
    "name",
    "state",
    "capacity_mw",
    "n_generators",
    "technologies",
    "primary_technology",
    "status",
)

#: Columns of a generator table (``aggregate=False``) (plus ``geometry``).
GENERATOR_COLUMNS = (
    "plant_id",
    "generator_id",
    "name",
    "state",
    "capacity_mw",
    "technology",
    "status",
)

#: Columns of a normalised interconnection-queue table.
QUEUE_COLUMNS = (
    "queue_id",
    "project_name",
    "status",
    "capacity_mw",
    "type",
    "state",
    "county",
    "poi_name",
    "queue_date",
    "iso",
)

#: Queue layouts understood by :func:`read_queue`.
QUEUE_SCHEMAS = ("lbnl", "gridstatus")

#: Columns of a thermal-springs table (plus ``geometry``).
SPRING_COLUMNS = ("name", "state", "temp_c", "temp_class")

#: Columns of a heat-flow table (plus ``geometry``).
HEAT_FLOW_COLUMNS = ("well_name", "heat_flow_mw_m2", "depth_m")

#: SMU's sentinel for a null number.
SMU_NULL = -9999

_WGS84 = "EPSG:4326"

# -- shared helpers -------------------------------------------------------------------------


def _check_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise LayerIOError(f"{what} {str(p)!r} does not exist or is not a file.")
    return p


def _read_table(path: PathLike, what: str, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV or an Excel workbook, turning every parser failure into LayerIOError."""
    p = _check_file(path, what)
    excel = p.suffix.lower() in {".xlsx", ".xlsm", ".xls"}
    try:
        frame = pd.read_excel(p, **kwargs) if excel else pd.read_csv(p, **kwargs)
    except ImportError as exc:
        raise LayerIOError(
            f"cannot read {what} {str(p)!r}: {exc}. Reading Excel files needs openpyxl."
        ) from exc
    except Exception as exc:  # pandas/openpyxl raise many unrelated types
        raise LayerIOError(f"cannot read {what} {str(p)!r}: {exc}") from exc
    if not isinstance(frame, pd.DataFrame):  # pragma: no cover - sheet_name=None
        raise LayerIOError(f"{what} {str(p)!r}: expected one sheet.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _not_empty(frame: pd.DataFrame, what: str) -> None:
    if frame.empty:
        raise LayerIOError(f"{what} has a header but no data rows.")


def _text(values: pd.Series) -> pd.Series:
    cleaned = [
        (v.strip() or None if isinstance(v, str) else v) if pd.notna(v) else None
        for v in values.astype("object")
    ]
    return pd.Series(cleaned, index=values.index, dtype="object")  # None, never NaN


def _points(
    frame: pd.DataFrame, lon: pd.Series, lat: pd.Series, what: str, *, stacklevel: int = 3
) -> gpd.GeoDataFrame:
    """Points in EPSG:4326; rows without usable coordinates are dropped with a warning."""
    x = pd.to_numeric(lon, errors="coerce").to_numpy(dtype="float64")
    y = pd.to_numeric(lat, errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    n_bad = int((~ok).sum())
    if n_bad:
        warnings.warn(
            f"{what}: dropped {n_bad} of {len(ok)} row(s) without valid latitude/longitude.",
            UserWarning,
            stacklevel=stacklevel,
        )
    if not ok.any():
        raise LayerIOError(f"{what}: no row has a valid latitude/longitude.")
    kept = frame.loc[ok].reset_index(drop=True)
    return gpd.GeoDataFrame(kept, geometry=gpd.points_from_xy(x[ok], y[ok]), crs=_WGS84)


def _pick(frame: pd.DataFrame, aliases: Sequence[str]) -> str | None:
    """The first column whose case/space-insensitive name is one of ``aliases``."""
    keyed = {"".join(str(c).lower().split()).replace("_", ""): c for c in frame.columns}
    for alias in aliases:
        key = "".join(alias.lower().split()).replace("_", "")
        if key in keyed:
            return str(keyed[key])
    return None


# -- EIA-860 --------------------------------------------------------------------------------

_PYPSA_COLUMNS = {
    "plant_id_eia": "plant_id",
    "generator_id": "generator_id",
    "plant_name_eia": "name",
    "State": "state",
    "capacity_mw": "capacity_mw",
    "tech_type": "technology",
    "Status": "status",
    "Latitude": "latitude",
    "Longitude": "longitude",
}
_EIA2_COLUMNS = {
    "Plant Code": "plant_id",
    "Plant Name": "name",
    "State": "state",
    "Latitude": "latitude",
    "Longitude": "longitude",
}
_EIA3_COLUMNS = {
    "Plant Code": "plant_id",
    "Generator ID": "generator_id",
    "Nameplate Capacity (MW)": "capacity_mw",
    "Technology": "technology",
    "Status": "status",
}
_PYPSA_REQUIRED = ("plant_id_eia", "generator_id", "capacity_mw", "Latitude", "Longitude")


def _plant_ids(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """Keep rows whose plant id is a whole number (drops EIA's footnote rows), as int64."""
    ids = pd.to_numeric(frame["plant_id"], errors="coerce")
    ok = ids.notna() & (ids == ids.round())
    n_bad = int((~ok).sum())
    if n_bad:
        warnings.warn(
            f"{what}: dropped {n_bad} row(s) without a numeric plant id (notes, blank lines).",
            UserWarning,
            stacklevel=4,
        )
    out = frame.loc[ok].copy()
    out["plant_id"] = ids[ok].astype("int64")
    return out


def _eia_generators(
    path: PathLike, generators: PathLike | None, sheet: str | int
) -> tuple[pd.DataFrame, str]:
    """One row per generator with plant attributes and coordinates, in the normalised names."""
    p = _check_file(path, "EIA-860 file")
    if p.suffix.lower() not in {".xlsx", ".xlsm", ".xls"}:
        what = f"EIA-860 generator CSV {str(p)!r}"
        raw = _read_table(p, "EIA-860 generator CSV", low_memory=False)
        _require(raw, _PYPSA_REQUIRED, what)
        _not_empty(raw, what)
        frame = raw[[c for c in _PYPSA_COLUMNS if c in raw.columns]].rename(columns=_PYPSA_COLUMNS)
        return _plant_ids(frame, what), what
    if generators is None:
        raise InvalidLayerError(
            f"{str(p)!r} is an Excel workbook: pass the EIA-860 schedule 2 (plants) workbook "
            "as path and the schedule 3_1 (generators) workbook as generators=."
        )
    what = f"EIA-860 plants {str(p)!r} + generators {str(generators)!r}"
    plants = _read_table(p, "EIA-860 schedule 2 workbook", header=1, sheet_name=sheet)
    _require(plants, tuple(_EIA2_COLUMNS), f"EIA-860 schedule 2 (plants) {str(p)!r}")
    gens = _read_table(generators, "EIA-860 schedule 3_1 workbook", header=1, sheet_name=sheet)
    _require(
        gens,
        ("Plant Code", "Generator ID", "Nameplate Capacity (MW)"),
        f"EIA-860 schedule 3_1 (generators) {str(generators)!r}",
    )
    plants = _plant_ids(plants[list(_EIA2_COLUMNS)].rename(columns=_EIA2_COLUMNS), what)
    gens = _plant_ids(
        gens[[c for c in _EIA3_COLUMNS if c in gens.columns]].rename(columns=_EIA3_COLUMNS),
        what,
    )
    _not_empty(plants, what)
    _not_empty(gens, what)
    plants = plants.drop_duplicates("plant_id")
    unknown = ~gens["plant_id"].isin(plants["plant_id"])
    if unknown.any():
        warnings.warn(
            f"{what}: dropped {int(unknown.sum())} generator(s) whose plant code is not in "
            "the plants workbook.",
            UserWarning,
            stacklevel=3,
        )
    frame = gens.loc[~unknown].merge(plants, on="plant_id", how="left")
    return frame, what


def _id_text(value: Any) -> str | None:
    """Generator ids as text: ``1``, ``1.0`` (a numeric column with blanks) → ``"1"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _first_by_capacity(values: pd.Series, capacity: pd.Series, keys: pd.Series) -> pd.Series:
    """Per plant, the value of ``values`` that carries the most capacity (ties: first seen)."""
    table = pd.DataFrame({"key": keys, "value": values, "cap": capacity.fillna(0.0)})
    table = table[table["value"].notna()]
    sums = table.groupby(["key", "value"], sort=False)["cap"].sum().reset_index()
    best = sums.sort_values("cap", ascending=False, kind="stable").drop_duplicates("key")
    return best.set_index("key")["value"]


def read_eia860_plants(
    path: PathLike,
    *,
    generators: PathLike | None = None,
    aggregate: bool = True,
    sheet: str | int = 0,
) -> gpd.GeoDataFrame:
    """Read EIA-860 generators and return power plants (or generators) as points.

    Parameters
    ----------
    path
        Either the PyPSA-USA generator CSV (``eia_plants.csv``: one row per generator with
        ``plant_id_eia, generator_id, plant_name_eia, capacity_mw, Status, tech_type, State,
        Latitude, Longitude``), or EIA's schedule 2 workbook (``2___Plant_Y20xx.xlsx``:
        ``Plant Code, Plant Name, State, Latitude, Longitude`` under one title row).
    generators
        With a schedule 2 workbook: EIA's schedule 3_1 workbook (``3_1_Generator_Y20xx.xlsx``:
        ``Plant Code, Generator ID, Nameplate Capacity (MW), Technology, Status`` under one
        title row). Ignored for a CSV.
    aggregate
        True (default): one row per plant. False: one row per generator.
    sheet
        Sheet of the workbooks to read (default the first, "Operable" in EIA's files).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points. With ``aggregate=True``, :data:`PLANT_COLUMNS`: ``capacity_mw`` is
        the sum over the plant's generators (NaN capacities count as 0 unless all are NaN),
        ``technologies`` the sorted list of its technologies, ``primary_technology`` and
        ``status`` those carrying the most capacity. With ``aggregate=False``,
        :data:`GENERATOR_COLUMNS`. Technology names are those of the source (PyPSA-USA
        ``tech_type`` such as ``"Solar"``, ``"Gas_CC"``; EIA ``Technology`` such as
        ``"Solar Photovoltaic"``).

    Raises
    ------
    LayerIOError
        Missing or unreadable file, a header without the expected columns, or no rows.
    InvalidLayerError
        A workbook given without ``generators=``.

    Warns
    -----
    UserWarning
        Counting rows dropped for lacking a plant id or coordinates, generators of unknown
        plants, and generators with an unknown capacity.
    """
    frame, what = _eia_generators(path, generators, sheet)
    for column in GENERATOR_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["generator_id"] = _text(frame["generator_id"].map(_id_text))
    for column in ("name", "state", "technology", "status"):
        frame[column] = _text(frame[column])
    frame["capacity_mw"] = pd.to_numeric(frame["capacity_mw"], errors="coerce").astype("float64")
    n_unknown = int(frame["capacity_mw"].isna().sum())
    if n_unknown:
        warnings.warn(
            f"{what}: {n_unknown} of {len(frame)} generator(s) have an unknown capacity; "
            "kept with capacity_mw NaN.",
            UserWarning,
            stacklevel=2,
        )
    if not aggregate:
        out = frame[[*GENERATOR_COLUMNS, "longitude", "latitude"]]
        points = _points(out, out["longitude"], out["latitude"], what)
        return points.drop(columns=["longitude", "latitude"])

    grouped = frame.groupby("plant_id", sort=True)
    plants = grouped.agg(
        name=("name", "first"),
        state=("state", "first"),
        longitude=("longitude", "first"),
        latitude=("latitude", "first"),
        n_generators=("plant_id", "size"),
    )
    plants["capacity_mw"] = grouped["capacity_mw"].sum(min_count=1)
    plants["technologies"] = grouped["technology"].agg(
        lambda s: sorted({str(v) for v in s if v is not None})
    )
    plants["primary_technology"] = _first_by_capacity(
        frame["technology"], frame["capacity_mw"], frame["plant_id"]
    )
    plants["status"] = _first_by_capacity(frame["status"], frame["capacity_mw"], frame["plant_id"])
    plants = plants.reset_index()
    plants["primary_technology"] = _text(plants["primary_technology"])
    plants["status"] = _text(plants["status"])
    out = plants[[*PLANT_COLUMNS, "longitude", "latitude"]]
    points = _points(out, out["longitude"], out["latitude"], what)
    return points.drop(columns=["longitude", "latitude"])


# -- interconnection queues -----------------------------------------------------------------

_LBNL_REQUIRED = ("q_id", "q_status", "mw1")
_LBNL_OPTIONAL = (
    "q_date", "region", "entity", "project_name", "county", "state", "poi_name",
    "type_clean", "mw2", "mw3",
)  # fmt: skip
_GRIDSTATUS_REQUIRED = ("Queue ID", "Status", "Capacity (MW)")
_GRIDSTATUS_OPTIONAL = (
    "Project Name", "Generation Type", "County", "State", "Interconnection Location",
    "Queue Date",
)  # fmt: skip


def _excel_or_text_dates(values: pd.Series) -> pd.Series:
    """Dates given as text, datetimes or Excel serial day numbers (LBNL's spreadsheet)."""
    numeric = pd.to_numeric(values, errors="coerce")
    serial = numeric.notna() & (numeric > 1000) & (numeric < 100_000)
    out = pd.to_datetime(values.where(~serial), errors="coerce", format="mixed")
    if serial.any():
        out = out.where(
            ~serial, pd.Timestamp("1899-12-30") + pd.to_timedelta(numeric.where(serial), "D")
        )
    return out


def _detect_queue_schema(frame: pd.DataFrame) -> str:
    if all(c in frame.columns for c in _LBNL_REQUIRED):
        return "lbnl"
    if all(c in frame.columns for c in _GRIDSTATUS_REQUIRED):
        return "gridstatus"
    raise LayerIOError(
        "not an interconnection-queue table in a known layout: expected LBNL 'Queued Up' "
        f"columns {[*_LBNL_REQUIRED, *_LBNL_OPTIONAL]} or gridstatus columns "
        f"{[*_GRIDSTATUS_REQUIRED, *_GRIDSTATUS_OPTIONAL]}; got {list(frame.columns)[:40]}."
    )


def read_queue(
    path_or_frame: PathLike | pd.DataFrame,
    *,
    schema: Literal["lbnl", "gridstatus"] | None = None,
    iso: str | None = None,
) -> pd.DataFrame:
    """Read an interconnection queue (LBNL *Queued Up* or gridstatus) into one schema.

    Parameters
    ----------
    path_or_frame
        A CSV or Excel file, or an already loaded DataFrame.
    schema
        ``"lbnl"`` (columns ``q_id, q_status, q_date, region, entity, project_name, county,
        state, poi_name, type_clean, mw1, mw2, mw3``) or ``"gridstatus"`` (``Queue ID,
        Project Name, Status, Capacity (MW), Generation Type, County, State, Interconnection
        Location, Queue Date``). None (default) detects it from the columns.
    iso
        Value for the ``iso`` column when the table does not name it (gridstatus tables are
        per ISO); by default LBNL's ``region`` (else ``entity``) or a gridstatus ``ISO``
        column.

    Returns
    -------
    pandas.DataFrame
        :data:`QUEUE_COLUMNS`. ``capacity_mw`` is ``mw1 + mw2 + mw3`` for LBNL (missing parts
        count as 0; NaN when all are missing); ``queue_date`` is a datetime (NaT when
        unknown). Queues have no coordinates, so this is not a point layer: join on
        ``state``/``county`` or ``poi_name``.

    Raises
    ------
    InvalidLayerError
        An unknown ``schema``.
    LayerIOError
        Missing or unreadable file, a layout that is not the requested/known schema (the
        message lists the expected columns), or no rows.

    Warns
    -----
    UserWarning
        Counting projects with an unknown capacity and dates that could not be parsed.
    """
    if schema is not None and schema not in QUEUE_SCHEMAS:
        raise InvalidLayerError(
            f"schema={schema!r} is not known; use one of {list(QUEUE_SCHEMAS)} or None."
        )
    if isinstance(path_or_frame, pd.DataFrame):
        raw = path_or_frame.copy()
        raw.columns = [str(c).strip() for c in raw.columns]
        what = "interconnection queue table"
    else:
        raw = _read_table(path_or_frame, "interconnection queue file")
        what = f"interconnection queue {str(path_or_frame)!r}"
    detected = schema or _detect_queue_schema(raw)
    out = pd.DataFrame(index=raw.index)

    def col(name: str) -> pd.Series:
        if name in raw.columns:
            return raw[name]
        return pd.Series([None] * len(raw), index=raw.index, dtype="object")

    if detected == "lbnl":
        _require(raw, _LBNL_REQUIRED, f"{what} (LBNL layout, optional {list(_LBNL_OPTIONAL)})")
        parts = [pd.to_numeric(col(c), errors="coerce") for c in ("mw1", "mw2", "mw3")]
        capacity = pd.concat(parts, axis=1).sum(axis=1, min_count=1)
        county = col("county") if "county" in raw.columns else col("county_1")
        iso_values = col("region").where(col("region").notna(), col("entity"))
        mapping: dict[str, pd.Series] = {
            "queue_id": col("q_id"),
            "project_name": col("project_name"),
            "status": col("q_status"),
            "type": col("type_clean"),
            "state": col("state"),
            "county": county,
            "poi_name": col("poi_name"),
        }
        dates = col("q_date")
    else:
        _require(
            raw,
            _GRIDSTATUS_REQUIRED,
            f"{what} (gridstatus layout, optional {list(_GRIDSTATUS_OPTIONAL)})",
        )
        capacity = pd.to_numeric(col("Capacity (MW)"), errors="coerce")
        iso_values = col("ISO") if "ISO" in raw.columns else col("iso")
        mapping = {
            "queue_id": col("Queue ID"),
            "project_name": col("Project Name"),
            "status": col("Status"),
            "type": col("Generation Type"),
            "state": col("State"),
            "county": col("County"),
            "poi_name": col("Interconnection Location"),
        }
        dates = col("Queue Date")
    _not_empty(raw, what)
    for name, values in mapping.items():
        out[name] = _text(values)
    out["queue_id"] = pd.Series(
        [None if v is None else str(v) for v in out["queue_id"]], index=out.index, dtype="object"
    )
    out["capacity_mw"] = capacity.astype("float64")
    out["queue_date"] = _excel_or_text_dates(dates)
    out["iso"] = iso if iso is not None else _text(iso_values)
    out = out[list(QUEUE_COLUMNS)].reset_index(drop=True)

    n_cap = int(out["capacity_mw"].isna().sum())
    if n_cap:
        warnings.warn(
            f"{what}: {n_cap} of {len(out)} project(s) have an unknown capacity; kept with "
            "capacity_mw NaN.",
            UserWarning,
            stacklevel=2,
        )
    n_dates = int((out["queue_date"].isna() & dates.reset_index(drop=True).notna()).sum())
    if n_dates:
        warnings.warn(
            f"{what}: {n_dates} queue date(s) could not be parsed; kept as NaT.",
            UserWarning,
            stacklevel=2,
        )
    return out


# -- geothermal indicators ------------------------------------------------------------------

_TEMP_CLASSES = {"B": "boiling", "H": "hot", "W": "warm"}


def read_thermal_springs(path: PathLike) -> gpd.GeoDataFrame:
    """Read the NOAA NCEI *Thermal Springs List for the United States* (GeoJSON).

    Parameters
    ----------
    path
        A GeoJSON (or other vector file) with the NCEI fields ``SC`` (state), ``Spring
        Name`` and ``TC`` (°C) and/or ``TF`` (°F), maximum surface temperature.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`SPRING_COLUMNS` + geometry in EPSG:4326. ``temp_c`` is ``TC``, or ``(TF −
        32) × 5/9`` where only °F is given; NaN where the source has a letter instead of a
        number, in which case ``temp_class`` holds ``"boiling"``, ``"hot"`` or ``"warm"``
        (B/H/W); ``temp_class`` is None for numeric temperatures.

    Raises
    ------
    LayerIOError
        Missing or unreadable file, no name/temperature fields, no features, or
        non-point geometries.

    Warns
    -----
    UserWarning
        Counting springs without a numeric temperature (by letter class).
    """
    p = _check_file(path, "thermal springs file")
    what = f"thermal springs {str(p)!r}"
    try:
        with warnings.catch_warnings():
            # TF/TC mix numbers and letters (B/H/W): GDAL leaves them as strings, as wanted
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            raw = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several unrelated types
        raise LayerIOError(f"cannot read {what}: {exc}") from exc
    raw.columns = [c.strip() if isinstance(c, str) else c for c in raw.columns]
    tc_col = _pick(raw, ("TC", "temp_c", "Temperature (C)"))
    tf_col = _pick(raw, ("TF", "temp_f", "Temperature (F)"))
    name_col = _pick(raw, ("Spring Name", "name", "spring_name"))
    state_col = _pick(raw, ("SC", "state"))
    if name_col is None or (tc_col is None and tf_col is None):
        raise LayerIOError(
            f"{what} lacks the NCEI fields: expected 'Spring Name', 'SC' and 'TC' (°C) or "
            f"'TF' (°F); it has {[c for c in raw.columns if c != 'geometry']}."
        )
    _not_empty(raw, what)
    if raw.crs is None:
        raw = raw.set_crs(_WGS84)  # GeoJSON is WGS84 by specification (RFC 7946)
    raw = raw.to_crs(_WGS84)
    if not (raw.geometry.geom_type == "Point").all():
        raise LayerIOError(
            f"{what}: expected Point features, found "
            f"{sorted(set(raw.geometry.geom_type.dropna()))}."
        )

    def number(column: str | None) -> pd.Series:
        if column is None:
            return pd.Series(np.nan, index=raw.index)
        return pd.to_numeric(raw[column], errors="coerce")

    temp_c = number(tc_col)
    from_f = (number(tf_col) - 32.0) * 5.0 / 9.0
    temp_c = temp_c.where(temp_c.notna(), from_f)
    letters = raw[tc_col if tc_col is not None else str(tf_col)].astype("string").str.strip()
    if tf_col is not None and tc_col is not None:
        letters = letters.where(
            letters.isin(list(_TEMP_CLASSES)), raw[tf_col].astype("string").str.strip()
        )
    temp_class = letters.map(_TEMP_CLASSES).where(temp_c.isna())
    out = gpd.GeoDataFrame(
        {
            "name": _text(raw[name_col]),
            "state": _text(raw[state_col]) if state_col is not None else None,
            "temp_c": temp_c.astype("float64"),
            "temp_class": temp_class.astype("object").where(temp_class.notna(), None),
        },
        geometry=raw.geometry.values,
        crs=_WGS84,
    )
    n_missing = int(out["temp_c"].isna().sum())
    if n_missing:
        counts = out.loc[out["temp_c"].isna(), "temp_class"].fillna("unknown").value_counts()
        shown = ", ".join(f"{k}: {v}" for k, v in counts.items())
        warnings.warn(
            f"{what}: {n_missing} of {len(out)} spring(s) have no numeric temperature "
            f"({shown}); kept with temp_c NaN and the class in temp_class.",
            UserWarning,
            stacklevel=2,
        )
    return out


_SMU_LAT = ("latitude", "lat", "latdegree", "lat_dd", "latitude_dd")
_SMU_LON = ("longitude", "long", "lon", "longdegree", "long_dd", "longitude_dd")
_SMU_HF = ("heat flow", "hf", "heatflow", "heat_flow", "heat flow (mw/m2)", "hf (mw/m2)",
           "heat flow (mw/m^2)", "q")  # fmt: skip
_SMU_DEPTH = ("depth", "depth (m)", "depth_m", "max depth", "maxdepth", "depthofmeasurement",
              "bottom depth", "total depth")  # fmt: skip
_SMU_NAME = ("well name", "wellname", "well_name", "well", "site name", "name", "site")


def read_smu_heat_flow(path: PathLike) -> gpd.GeoDataFrame:
    """Read an SMU Geothermal Laboratory heat-flow table (CSV or Excel).

    Parameters
    ----------
    path
        A table with latitude/longitude (``Latitude``/``LatDegree``, ...) and heat flow in
        mW/m² (``Heat Flow``, ``HF``, ``HeatFlow``, ...); optional depth (m) and well name.
        ``-9999`` means null in any numeric column.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`HEAT_FLOW_COLUMNS` + geometry in EPSG:4326; null heat flows are NaN.

    Raises
    ------
    LayerIOError
        Missing or unreadable file, no coordinate or heat-flow column, or no rows.

    Warns
    -----
    UserWarning
        Counting null heat flows, and rows dropped for lacking coordinates.
    """
    raw = _read_table(path, "SMU heat-flow table")
    what = f"SMU heat-flow table {str(path)!r}"
    lat, lon, hf = _pick(raw, _SMU_LAT), _pick(raw, _SMU_LON), _pick(raw, _SMU_HF)
    if lat is None or lon is None or hf is None:
        raise LayerIOError(
            f"{what} lacks the expected columns: latitude (one of {list(_SMU_LAT)}), "
            f"longitude (one of {list(_SMU_LON)}) and heat flow in mW/m² (one of "
            f"{list(_SMU_HF)}); it has {list(raw.columns)[:40]}."
        )
    _not_empty(raw, what)

    def number(column: str | None) -> pd.Series:
        if column is None:
            return pd.Series(np.nan, index=raw.index, dtype="float64")
        values = pd.to_numeric(raw[column], errors="coerce").astype("float64")
        return values.mask(values == SMU_NULL)

    name = _pick(raw, _SMU_NAME)
    frame = pd.DataFrame(
        {
            "well_name": _text(raw[name]) if name is not None else None,
            "heat_flow_mw_m2": number(hf),
            "depth_m": number(_pick(raw, _SMU_DEPTH)),
        },
        index=raw.index,
    )
    n_null = int(frame["heat_flow_mw_m2"].isna().sum())
    if n_null:
        warnings.warn(
            f"{what}: {n_null} of {len(frame)} row(s) have a null heat flow ({SMU_NULL} or "
            "blank); kept with heat_flow_mw_m2 NaN.",
            UserWarning,
            stacklevel=2,
        )
    return _points(frame, number(lon), number(lat), what)


# -- NSRDB PSM ------------------------------------------------------------------------------

_TIME_COLUMNS = ("year", "month", "day", "hour", "minute")
_PSM_VARIABLES = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s")


def read_psm_csv(path: PathLike) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read an NSRDB Physical Solar Model (PSM v3/v4) CSV download.

    Parameters
    ----------
    path
        A CSV whose line 1 names metadata (``Source, Location ID, City, State, Country,
        Latitude, Longitude, Time Zone, Elevation, Local Time Zone, ...``), line 2 holds
        their values and line 3 names the data columns (``Year, Month, Day, Hour, Minute,
        GHI, DNI, DHI, Temperature, Wind Speed, ...``).

    Returns
    -------
    metadata : dict
        ``latitude``, ``longitude``, ``time_zone`` (hours from UTC of the timestamps),
        ``elevation_m`` and the other header fields (snake-cased), plus ``format="psm"``.
    data : pandas.DataFrame
        ``ghi_w_m2, dni_w_m2, dhi_w_m2, temp_air_c, wind_speed_m_s`` (those present) and
        the other columns snake-cased, indexed by a DatetimeIndex at the fixed UTC offset of
        ``Time Zone`` (0 for UTC downloads). The ``year ... minute`` columns are kept.

    Raises
    ------
    LayerIOError
        Missing or unreadable file, a header that is not the PSM layout (the message lists
        the expected columns), an unparseable time zone or timestamps, or no rows.
    """
    p = _check_file(path, "PSM CSV")
    what = f"PSM CSV {str(p)!r}"
    expected = (
        "expected line 1 'Source, Location ID, City, State, Country, Latitude, Longitude, "
        "Time Zone, Elevation, ...', line 2 their values and line 3 'Year, Month, Day, Hour, "
        "Minute, GHI, DNI, DHI, Temperature, Wind Speed, ...'"
    )
    try:
        meta, data = read_sam_csv(p)
    except LayerIOError as exc:
        raise LayerIOError(f"{what} is not a PSM download: {expected}. ({exc})") from exc
    if meta.get("format") != "sam_solar":
        raise LayerIOError(f"{what} is not a PSM download: {expected}.")
    meta["format"] = "psm"
    missing = [c for c in _TIME_COLUMNS if c not in data.columns]
    if missing:
        raise LayerIOError(
            f"{what} lacks the time column(s) {[c.title() for c in missing]}; {expected}; "
            f"line 3 has {list(data.columns)}."
        )
    _not_empty(data, what)
    tz = meta.get("time_zone", 0.0)
    if isinstance(tz, str) or not np.isfinite(tz) or abs(tz) > 14:
        raise LayerIOError(f"{what}: 'Time Zone' {tz!r} is not an offset in hours from UTC.")
    try:
        stamps = pd.to_datetime(
            data[list(_TIME_COLUMNS)].astype("int64").rename(columns=str), errors="raise"
        )
    except (ValueError, TypeError) as exc:
        raise LayerIOError(f"{what}: cannot build timestamps from Year..Minute: {exc}") from exc
    offset = dt.timezone(dt.timedelta(hours=float(tz)))
    data.index = pd.DatetimeIndex(stamps).tz_localize(offset)
    data.index.name = "time"
    return meta, data
