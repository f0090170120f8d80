"""Readers that normalise transmission lines and substations to one schema.

Every reader returns GeoDataFrames in the CRS of the source (never reprojected, never
guessed) with the columns below, whatever the source called them:

- lines: ``line_id``, ``voltage_kv`` (float, NaN when unknown), ``capacity_mw`` (NaN when
  unknown), ``status``, ``owner``, ``from_substation``, ``to_substation``, ``geometry``;
- substations: ``substation_id``, ``name``, ``max_kv``, ``min_kv``, ``n_lines``,
  ``line_ids`` (list of ids, empty when unknown), ``geometry`` (points).

Unknown voltages are kept as NaN and counted in a warning; they are never dropped silently.
A voltage that cannot be real (negative, or above :data:`MAX_VOLTAGE_KV`) raises
:class:`~siting.errors.InvalidLayerError` naming the rows.

Sources:

- HIFLD *Electric Power Transmission Lines* and *Electric Substations* (public schema: lines
  ``ID, TYPE, STATUS, OWNER, VOLTAGE, VOLT_CLASS, SUB_1, SUB_2``; substations ``ID, NAME,
  MAX_VOLT, MIN_VOLT, LINES``; ``-999999`` means unknown);
- NREL reV/reVX ``ri_allconns.gpkg``-style feature files (``gid, category, voltage, ac_cap,
  cap_left, bgid, egid, trans_gids``), split into lines, substations and load centres.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siting._typing import PathLike
from siting.datasets._io import read_vector, require_columns
from siting.errors import InvalidLayerError

__all__ = [
    "HIFLD_UNKNOWN",
    "LINE_COLUMNS",
    "MAX_VOLTAGE_KV",
    "SUBSTATION_COLUMNS",
    "GridFeatures",
    "read_hifld_lines",
    "read_hifld_substations",
    "read_rev_transmission",
]

#: HIFLD's sentinel for "not known" in numeric fields.
HIFLD_UNKNOWN = -999999

#: Highest plausible transmission voltage (the highest AC lines in service are 1,150 kV).
MAX_VOLTAGE_KV = 1200.0

#: Columns of a normalised lines table (plus ``geometry``).
LINE_COLUMNS = (
    "line_id",
    "voltage_kv",
    "capacity_mw",
    "status",
    "owner",
    "from_substation",
    "to_substation",
)

#: Columns of a normalised substations table (plus ``geometry``).
SUBSTATION_COLUMNS = ("substation_id", "name", "max_kv", "min_kv", "n_lines", "line_ids")

#: reV feature categories, as written in ``ri_allconns.gpkg`` and reV transmission tables.
REV_LINE = "TransLine"
REV_SUBSTATION = "Substation"
REV_LOAD_CENTERS = ("LoadCen", "PCALoadCen")


class GridFeatures(NamedTuple):
    """The grid features of a reV transmission file, in its CRS.

    ``lines`` and ``substations`` follow the normalised schema and also keep reV's ``gid``
    and ``category`` columns (and ``ac_cap``/``cap_left``) so results can be matched with
    reV tables by gid. ``load_centers`` are points with ``gid``, ``category``,
    ``capacity_mw``.
    """

    lines: gpd.GeoDataFrame
    substations: gpd.GeoDataFrame
    load_centers: gpd.GeoDataFrame


def _voltage(
    values: pd.Series,
    ids: pd.Series,
    *,
    what: str,
    column: str,
    sentinel: float | None = HIFLD_UNKNOWN,
    zero_is_unknown: bool = False,
) -> np.ndarray:
    """Clean a voltage column: sentinel/missing → NaN (counted in a warning), absurd → error."""
    kv = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", copy=True)
    if sentinel is not None:
        kv[kv == sentinel] = np.nan
    if zero_is_unknown:
        kv[kv == 0] = np.nan
    bad = (kv < 0) | (kv > MAX_VOLTAGE_KV)
    if bad.any():
        bad_ids = ids.to_numpy()[bad]
        shown = ", ".join(map(str, bad_ids[:10])) + (" ..." if len(bad_ids) > 10 else "")
        raise InvalidLayerError(
            f"{what}: {int(bad.sum())} row(s) have a {column!r} outside 0..{MAX_VOLTAGE_KV:g} kV "
            f"(ids: {shown}; values: {sorted(set(kv[bad].tolist()))[:10]}). Fix or drop "
            f"these rows; use NaN{' or ' + str(sentinel) if sentinel is not None else ''} "
            "for an unknown voltage."
        )
    n_unknown = int(np.isnan(kv).sum())
    if n_unknown:
        warnings.warn(
            f"{what}: {n_unknown} of {len(kv)} row(s) have an unknown {column!r}; they are "
            "kept with voltage NaN (they count in overall distances, not in voltage classes).",
            UserWarning,
            stacklevel=3,
        )
    return kv


def _numeric(values: pd.Series, sentinel: float | None = HIFLD_UNKNOWN) -> np.ndarray:
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", copy=True)
    if sentinel is not None:
        out[out == sentinel] = np.nan
    return out


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("object").where(values.notna(), None)
    return text.replace({"NOT AVAILABLE": None, str(HIFLD_UNKNOWN): None})


def read_hifld_lines(
    path_or_frame: PathLike | gpd.GeoDataFrame, **read_kwargs: Any
) -> gpd.GeoDataFrame:
    """Read HIFLD *Electric Power Transmission Lines* into the normalised lines schema.

    Parameters
    ----------
    path_or_frame
        A file GDAL can read, or an already loaded GeoDataFrame with the HIFLD columns
        ``ID, STATUS, OWNER, VOLTAGE, SUB_1, SUB_2`` (``TYPE``, ``VOLT_CLASS`` optional).
    **read_kwargs
        Passed to :func:`geopandas.read_file` (``layer=``, ``bbox=``, ...).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`LINE_COLUMNS` + ``volt_class`` + ``type`` + geometry, CRS of the source.
        ``VOLTAGE = -999999`` becomes NaN; HIFLD has no capacity, so ``capacity_mw`` is NaN.

    Raises
    ------
    CRSError
        If the data has no CRS.
    InvalidLayerError
        If a column is missing or a voltage is negative or above :data:`MAX_VOLTAGE_KV`.
    LayerIOError
        If the file cannot be read.

    Warns
    -----
    UserWarning
        Naming how many lines have an unknown voltage.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> raw = gpd.GeoDataFrame(
    ...     {"ID": ["1", "2"], "TYPE": ["AC"] * 2, "STATUS": ["IN SERVICE"] * 2,
    ...      "OWNER": ["A", "B"], "VOLTAGE": [345.0, 115.0], "VOLT_CLASS": ["345", "100-161"],
    ...      "SUB_1": ["S1", "S2"], "SUB_2": ["S2", "S3"]},
    ...     geometry=[LineString([(0, 0), (1, 0)]), LineString([(1, 0), (2, 0)])], crs=5070)
    >>> read_hifld_lines(raw)["voltage_kv"].tolist()
    [345.0, 115.0]
    """
    what = "HIFLD transmission lines"
    frame = read_vector(path_or_frame, what, **read_kwargs)
    require_columns(frame, ("ID", "STATUS", "OWNER", "VOLTAGE", "SUB_1", "SUB_2"), what)
    ids = frame["ID"].astype(str)
    out = pd.DataFrame(
        {
            "line_id": ids.to_numpy(),
            "voltage_kv": _voltage(frame["VOLTAGE"], ids, what=what, column="VOLTAGE"),
            "capacity_mw": np.full(len(frame), np.nan),
            "status": _text(frame["STATUS"]).to_numpy(),
            "owner": _text(frame["OWNER"]).to_numpy(),
            "from_substation": _text(frame["SUB_1"]).to_numpy(),
            "to_substation": _text(frame["SUB_2"]).to_numpy(),
            "volt_class": _text(frame["VOLT_CLASS"]).to_numpy() if "VOLT_CLASS" in frame else None,
            "type": _text(frame["TYPE"]).to_numpy() if "TYPE" in frame else None,
        },
        index=frame.index,
    )
    return gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=frame.crs)


def _line_id_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except ValueError:
            pass
    return [part.strip() for part in text.strip("[]").split(",") if part.strip()]


def read_hifld_substations(
    path_or_frame: PathLike | gpd.GeoDataFrame, **read_kwargs: Any
) -> gpd.GeoDataFrame:
    """Read HIFLD *Electric Substations* into the normalised substations schema.

    Parameters
    ----------
    path_or_frame
        A file GDAL can read, or a GeoDataFrame with ``ID, NAME, MAX_VOLT, MIN_VOLT, LINES``.
        Polygon footprints are replaced by their centroid (in the source CRS).
    **read_kwargs
        Passed to :func:`geopandas.read_file`.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`SUBSTATION_COLUMNS` + point geometry, CRS of the source. ``-999999`` → NaN;
        HIFLD has no list of line ids, so ``line_ids`` is an empty list.

    Raises
    ------
    CRSError, InvalidLayerError, LayerIOError
        As :func:`read_hifld_lines`.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> raw = gpd.GeoDataFrame(
    ...     {"ID": ["7"], "NAME": ["North"], "MAX_VOLT": [345.0], "MIN_VOLT": [-999999.0],
    ...      "LINES": [3]}, geometry=[Point(0, 0)], crs=5070)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     subs = read_hifld_substations(raw)
    >>> subs[["max_kv", "min_kv", "n_lines"]].to_dict("records")
    [{'max_kv': 345.0, 'min_kv': nan, 'n_lines': 3.0}]
    """
    what = "HIFLD substations"
    frame = read_vector(path_or_frame, what, **read_kwargs)
    require_columns(frame, ("ID", "NAME", "MAX_VOLT", "MIN_VOLT", "LINES"), what)
    ids = frame["ID"].astype(str)
    out = pd.DataFrame(
        {
            "substation_id": ids.to_numpy(),
            "name": _text(frame["NAME"]).to_numpy(),
            "max_kv": _voltage(frame["MAX_VOLT"], ids, what=what, column="MAX_VOLT"),
            "min_kv": _voltage(frame["MIN_VOLT"], ids, what=what, column="MIN_VOLT"),
            "n_lines": _numeric(frame["LINES"]),
            "line_ids": [[] for _ in range(len(frame))],
        },
        index=frame.index,
    )
    return gpd.GeoDataFrame(out, geometry=_points(frame.geometry), crs=frame.crs)


def _points(geometry: gpd.GeoSeries) -> np.ndarray:
    geoms = geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    return np.where(is_point, geoms, shapely.centroid(geoms))


def read_rev_transmission(
    path_or_frame: PathLike | gpd.GeoDataFrame, *, layer: str | None = None
) -> GridFeatures:
    """Read an NREL reV/reVX transmission-feature file (``ri_allconns.gpkg`` style).

    Parameters
    ----------
    path_or_frame
        The file (or a GeoDataFrame) with ``gid, category, voltage, ac_cap, cap_left,
        bgid, egid, trans_gids``; ``category`` is ``TransLine``, ``Substation``, ``LoadCen``
        or ``PCALoadCen``.
    layer
        Layer to read (default: the file's only/first layer, ``ri_allconns`` for reVX's file).

    Returns
    -------
    GridFeatures
        ``lines`` (category TransLine; ``line_id`` = gid, ``capacity_mw`` = ``ac_cap``,
        ``from_substation``/``to_substation`` = ``bgid``/``egid``), ``substations`` (points
        at the centroid of reV's short stub lines; ``line_ids`` from ``trans_gids``;
        ``max_kv``/``min_kv`` from the voltages of those lines), ``load_centers`` (centroid
        points). All keep ``gid``, ``category``, ``ac_cap`` and ``cap_left``.

    Notes
    -----
    reV measures distances to the stub geometry itself, not to its centroid; the stubs are
    ~73 m long, so the difference is at most ~37 m. Keep the original geometry (read the
    file with geopandas) when reproducing reV's tables to the metre.

    reV writes 0 kV for some lines whose voltage is unknown; those become NaN (and are
    counted in the warning).
    """
    what = "reV transmission features"
    kwargs = {"layer": layer} if layer is not None else {}
    frame = read_vector(path_or_frame, what, **kwargs)
    require_columns(frame, ("gid", "category", "voltage", "ac_cap"), what)
    frame = frame.reset_index(drop=True)
    category = frame["category"].astype(str)
    ids = frame["gid"].astype(str)
    keep = [c for c in ("gid", "category", "ac_cap", "cap_left") if c in frame]

    is_line = (category == REV_LINE).to_numpy()
    lines_raw = frame.loc[is_line]
    kv = _voltage(
        lines_raw["voltage"],
        ids[is_line],
        what=f"{what} (lines)",
        column="voltage",
        sentinel=None,
        zero_is_unknown=True,
    )

    def ends(column: str) -> Any:
        if column not in lines_raw:
            return None
        values = pd.to_numeric(lines_raw[column], errors="coerce")
        return [None if np.isnan(v) else str(int(v)) for v in values]

    lines = gpd.GeoDataFrame(
        {
            "line_id": ids[is_line].to_numpy(),
            "voltage_kv": kv,
            "capacity_mw": _numeric(lines_raw["ac_cap"], sentinel=None),
            "status": None,
            "owner": None,
            "from_substation": ends("bgid"),
            "to_substation": ends("egid"),
            **{c: lines_raw[c].to_numpy() for c in keep},
        },
        geometry=lines_raw.geometry.to_numpy(),
        crs=frame.crs,
    )
    line_kv = dict(zip(lines["line_id"], lines["voltage_kv"], strict=True))

    is_sub = (category == REV_SUBSTATION).to_numpy()
    subs_raw = frame.loc[is_sub]
    line_ids = [
        _line_id_list(v)
        for v in (subs_raw["trans_gids"] if "trans_gids" in subs_raw else [None] * len(subs_raw))
    ]
    connected = [
        np.array([line_kv.get(i, np.nan) for i in ids_], dtype="float64") for ids_ in line_ids
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices → NaN, on purpose
        max_kv = np.array([np.nanmax(k) if k.size else np.nan for k in connected])
        min_kv = np.array([np.nanmin(k) if k.size else np.nan for k in connected])
    substations = gpd.GeoDataFrame(
        {
            "substation_id": ids[is_sub].to_numpy(),
            "name": None,
            "max_kv": max_kv,
            "min_kv": min_kv,
            "n_lines": np.array([len(i) for i in line_ids], dtype="float64"),
            "line_ids": line_ids,
            **{c: subs_raw[c].to_numpy() for c in keep},
        },
        geometry=shapely.centroid(subs_raw.geometry.to_numpy()),
        crs=frame.crs,
    )

    is_load = category.isin(REV_LOAD_CENTERS).to_numpy()
    load_raw = frame.loc[is_load]
    load_centers = gpd.GeoDataFrame(
        {
            "capacity_mw": _numeric(load_raw["ac_cap"], sentinel=None),
            **{c: load_raw[c].to_numpy() for c in keep},
        },
        geometry=shapely.centroid(load_raw.geometry.to_numpy()),
        crs=frame.crs,
    )
    other = ~(is_line | is_sub | is_load)
    if other.any():
        warnings.warn(
            f"{what}: {int(other.sum())} feature(s) have a category other than "
            f"{[REV_LINE, REV_SUBSTATION, *REV_LOAD_CENTERS]} "
            f"({sorted(set(category[other]))}); they are left out.",
            UserWarning,
            stacklevel=2,
        )
    return GridFeatures(lines, substations, load_centers)
