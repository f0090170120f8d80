"""Readers for land ownership, boundaries and resource rasters, normalised to one schema.

Vector readers return GeoDataFrames in the CRS of the source (never reprojected, never
guessed; us-atlas TopoJSON is EPSG:4326 by definition) with normalised column names:

- land managers (PAD-US, BLM SMA): ``manager_name`` (agency code such as ``BLM``,
  ``USFS``), ``manager_type`` (``FED``, ``STAT``, ``LOC``, ``TRIB``, ``PVT`` ...),
  ``geometry``; PAD-US also ``unit_name``, ``designation``, ``gap_status`` (int 1..4 as
  float, NaN when unknown), ``owner_name``, ``feature_class``;
- boundaries (us-atlas): ``geoid`` (zero-padded FIPS string), ``name``, ``geometry``.

Raster readers wrap :func:`siting.layers.read_raster` and add attrs (``units``,
``kind`` ...). Unknown values are kept (as NaN/None) and counted in a warning.

Sources:

- USGS *Protected Areas Database of the United States* (PAD-US 3.x; columns ``Unit_Nm,
  Mang_Name, Mang_Type, Des_Tp, GAP_Sts, Own_Name, FeatClass``);
- BLM *Surface Management Agency* (``ADMIN_AGENCY_CODE``, optionally ``ADMIN_DEPT_CODE``);
- us-atlas 3.x TopoJSON (``states-10m.json``, ``counties-10m.json``, ``nation-10m.json``);
- Global Wind Atlas GeoTIFFs (``USA_wind-speed_100m.tif``);
- NREL reV exclusion GeoTIFFs (``ri_exclusions/*.tif``).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from siting._typing import PathLike
from siting.datasets._io import read_vector, require_columns
from siting.errors import GridError, InvalidLayerError, LayerIOError
from siting.grid import Grid
from siting.layers import read_raster

__all__ = [
    "BLM_SMA_MANAGER_TYPES",
    "MAX_WIND_SPEED_M_S",
    "PADUS_COLUMNS",
    "TRANSFORM_TOLERANCE_CELLS",
    "flatten_padus",
    "read_blm_sma",
    "read_padus",
    "read_rev_exclusion",
    "read_rev_exclusions_h5",
    "read_us_atlas",
    "read_wind_atlas",
]

#: PAD-US source column -> normalised column.
PADUS_COLUMNS = {
    "Unit_Nm": "unit_name",
    "Mang_Name": "manager_name",
    "Mang_Type": "manager_type",
    "Des_Tp": "designation",
    "GAP_Sts": "gap_status",
    "Own_Name": "owner_name",
    "FeatClass": "feature_class",
}

#: BLM SMA ``ADMIN_AGENCY_CODE`` -> manager type (``FED``, ``STAT``, ``LOC``, ``TRIB``, ``PVT``).
BLM_SMA_MANAGER_TYPES = {
    "BLM": "FED",
    "USFS": "FED",
    "NPS": "FED",
    "FWS": "FED",
    "DOD": "FED",
    "BOR": "FED",
    "DOE": "FED",
    "USACE": "FED",
    "TVA": "FED",
    "NOAA": "FED",
    "ARS": "FED",
    "OTHFE": "FED",
    "BIA": "TRIB",
    "TRIB": "TRIB",
    "STATE": "STAT",
    "ST": "STAT",
    "SLB": "STAT",
    "STAT": "STAT",
    "LG": "LOC",
    "LOC": "LOC",
    "CITY": "LOC",
    "COUNTY": "LOC",
    "PVT": "PVT",
}

#: BLM SMA ``ADMIN_DEPT_CODE`` values that are federal departments.
_FEDERAL_DEPTS = {"DOI", "USDA", "DOD", "DOE", "DOC", "OTHFE"}

#: Highest plausible mean wind speed; larger values are flagged as suspect.
MAX_WIND_SPEED_M_S = 50.0

_ATLAS_LAYERS = ("states", "counties", "nation")
_ATLAS_GEOID_WIDTH = {"states": 2, "counties": 5, "nation": 2}


# -- shared helpers ---------------------------------------------------------------------


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("object").where(values.notna(), None)
    return text.map(lambda v: v.strip() if isinstance(v, str) else v)


# -- PAD-US -----------------------------------------------------------------------------


def _gap_status(values: pd.Series, what: str) -> np.ndarray:
    text = values.astype("object").map(lambda v: str(v).strip() if v is not None else "")
    out = np.full(len(values), np.nan)
    for status in range(1, 5):
        out[(text == str(status)).to_numpy()] = status
    n_unknown = int(np.isnan(out).sum())
    if n_unknown:
        warnings.warn(
            f"{what}: {n_unknown} of {len(out)} row(s) have a GAP_Sts other than '1'..'4'; "
            "they are kept with gap_status NaN.",
            UserWarning,
            stacklevel=3,
        )
    return out


def read_padus(path: PathLike, *, layer: str | int | None = None) -> gpd.GeoDataFrame:
    """Read a USGS PAD-US layer into the normalised land-manager schema.

    Parameters
    ----------
    path
        A PAD-US file geodatabase, GeoPackage or shapefile.
    layer
        Layer (feature class) to read, e.g. the combined layer or ``"...Fee"``,
        ``"...Easement"``, ``"...Designation"``; ``None`` reads the first layer.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_name, manager_name, manager_type, designation, gap_status, owner_name,
        feature_class, geometry``, in the CRS of the source (PAD-US is distributed in
        USA Contiguous Albers, ESRI:102039). ``gap_status`` is 1..4 (float) or NaN.
        Overlapping polygons are kept; see :func:`flatten_padus`.

    Raises
    ------
    LayerIOError
        If the file is missing or unreadable.
    InvalidLayerError
        If a PAD-US column is missing (the message lists them).
    CRSError
        If the data has no CRS.

    Warns
    -----
    UserWarning
        Counting rows whose ``GAP_Sts`` is not ``"1"``..``"4"``.
    """
    what = "PAD-US"
    kwargs: dict[str, Any] = {} if layer is None else {"layer": layer}
    frame = read_vector(path, what, **kwargs)
    require_columns(frame, tuple(PADUS_COLUMNS), what)
    out = gpd.GeoDataFrame(
        {
            new: (_gap_status(frame[old], what) if new == "gap_status" else _text(frame[old]))
            for old, new in PADUS_COLUMNS.items()
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
        index=frame.index,
    )
    return out


def flatten_padus(frame: gpd.GeoDataFrame, *, priority: str = "gap") -> gpd.GeoDataFrame:
    """Resolve overlapping PAD-US polygons into non-overlapping pieces.

    Where polygons overlap (a fee parcel and a designation over it ...), the most
    protective GAP status (lowest number) wins; rows with an unknown status come last, and
    ties keep the order of the input. Each output row keeps the attributes of the row it
    came from, with its geometry reduced to the part not claimed by a winning row.

    Parameters
    ----------
    frame
        The result of :func:`read_padus` (needs ``gap_status`` and polygon geometry).
    priority
        Only ``"gap"`` is supported.

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns and CRS, sorted by priority, without empty pieces; the pieces cover
        exactly the union of the input and do not overlap (up to floating-point slivers).

    Raises
    ------
    InvalidLayerError
        If ``priority`` is not ``"gap"`` or ``gap_status`` is missing.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> raw = gpd.GeoDataFrame({"gap_status": [4.0, 1.0]},
    ...                        geometry=[box(0, 0, 2, 1), box(1, 0, 3, 1)], crs=5070)
    >>> flat = flatten_padus(raw)
    >>> flat["gap_status"].tolist(), flat.area.tolist()
    ([1.0, 4.0], [2.0, 1.0])
    """
    if priority != "gap":
        raise InvalidLayerError(f"priority must be 'gap', got {priority!r}.")
    require_columns(frame, ("gap_status",), "flatten_padus input")
    order = frame.assign(_rank=frame["gap_status"].fillna(np.inf)).sort_values(
        "_rank", kind="stable"
    )
    geoms = shapely.make_valid(order.geometry.to_numpy())
    claimed: BaseGeometry = Polygon()
    pieces: list[BaseGeometry] = []
    for geom in geoms:
        piece = shapely.difference(geom, claimed) if not claimed.is_empty else geom
        piece = _polygonal(piece)
        pieces.append(piece)
        claimed = shapely.union(claimed, geom)
    out = order.drop(columns="_rank").set_geometry(
        gpd.GeoSeries(pieces, index=order.index, crs=frame.crs)
    )
    keep = ~out.geometry.is_empty & (out.geometry.area > 0)
    return out[keep]


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygon parts of a geometry (differences can leave lines/points)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    if not parts:
        return Polygon()
    return shapely.union_all(parts)


# -- BLM SMA ----------------------------------------------------------------------------


def read_blm_sma(path: PathLike, *, layer: str | int | None = None) -> gpd.GeoDataFrame:
    """Read the BLM Surface Management Agency layer into the land-manager schema.

    Parameters
    ----------
    path
        A vector file with ``ADMIN_AGENCY_CODE`` (and optionally ``ADMIN_DEPT_CODE``).
    layer
        Layer to read (``None``: the first).

    Returns
    -------
    geopandas.GeoDataFrame
        ``manager_name`` (the agency code, or the department code where the agency is
        blank), ``manager_type`` (see :data:`BLM_SMA_MANAGER_TYPES`; ``None`` when
        unknown), ``geometry``, in the CRS of the source.

    Raises
    ------
    LayerIOError
        If the file is missing or unreadable.
    InvalidLayerError
        If ``ADMIN_AGENCY_CODE`` is missing.
    CRSError
        If the data has no CRS.

    Warns
    -----
    UserWarning
        Counting rows whose manager type is unknown (kept with ``manager_type`` None).
    """
    what = "BLM SMA"
    kwargs: dict[str, Any] = {} if layer is None else {"layer": layer}
    frame = read_vector(path, what, **kwargs)
    require_columns(frame, ("ADMIN_AGENCY_CODE",), what)
    agency = _text(frame["ADMIN_AGENCY_CODE"]).map(
        lambda v: v.upper() if isinstance(v, str) and v else None
    )
    if "ADMIN_DEPT_CODE" in frame.columns:
        dept = _text(frame["ADMIN_DEPT_CODE"]).map(
            lambda v: v.upper() if isinstance(v, str) and v else None
        )
        name = agency.where(agency.notna(), dept)
    else:
        dept = pd.Series([None] * len(frame), index=frame.index, dtype="object")
        name = agency

    def kind(code: str | None, department: str | None) -> str | None:
        if code in BLM_SMA_MANAGER_TYPES:
            return BLM_SMA_MANAGER_TYPES[code]
        if department in _FEDERAL_DEPTS:
            return "FED"
        return None

    types = [kind(a, d) for a, d in zip(agency, dept, strict=True)]
    n_unknown = sum(t is None for t in types)
    if n_unknown:
        codes = sorted({str(a) for a, t in zip(agency, types, strict=True) if t is None})
        warnings.warn(
            f"{what}: {n_unknown} of {len(types)} row(s) have an unknown manager type "
            f"(codes {codes[:10]}); they are kept with manager_type None.",
            UserWarning,
            stacklevel=2,
        )
    return gpd.GeoDataFrame(
        {
            "manager_name": name.to_numpy(),
            "manager_type": pd.Series(types, index=frame.index, dtype="object"),
        },
        geometry=frame.geometry.to_numpy(),
        crs=frame.crs,
        index=frame.index,
    )


# -- us-atlas TopoJSON ------------------------------------------------------------------


def _decode_arcs(topology: dict[str, Any]) -> list[np.ndarray]:
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        coords = np.asarray(arc, dtype="float64").reshape(-1, 2)
        if transform is not None:
            coords = np.cumsum(coords, axis=0)
            coords = coords * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
        arcs.append(coords)
    return arcs


def _ring(indices: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts = []
    for k, i in enumerate(indices):
        coords = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(coords if k == 0 else coords[1:])  # arcs share their end points
    return np.concatenate(parts)


def _polygon(rings: list[np.ndarray]) -> Polygon | None:
    # Quantization can collapse a tiny ring to fewer than 4 points (no area): drop it.
    rings = [r for r in rings if len(r) >= 4]
    if not rings:
        return None
    return Polygon(rings[0], rings[1:])


def _geometry(obj: dict[str, Any], arcs: list[np.ndarray]) -> BaseGeometry | None:
    kind = obj.get("type")
    if kind == "Polygon":
        return _polygon([_ring(r, arcs) for r in obj["arcs"]])
    if kind == "MultiPolygon":
        parts = [_polygon([_ring(r, arcs) for r in p]) for p in obj["arcs"]]
        kept = [p for p in parts if p is not None]
        return MultiPolygon(kept) if kept else None
    if kind is None:
        return None
    raise InvalidLayerError(f"TopoJSON geometry type {kind!r} is not supported (polygons only).")


def read_us_atlas(path: PathLike, *, layer: str = "states") -> gpd.GeoDataFrame:
    """Read one object of a us-atlas TopoJSON file (states, counties or nation).

    The TopoJSON is decoded here (quantized, delta-encoded arcs; negative arc indices
    ``~i`` reversed), with no extra dependency. Invalid polygons are repaired with
    :func:`shapely.make_valid`, counted in a warning.

    Parameters
    ----------
    path
        ``states-10m.json``, ``counties-10m.json`` or ``nation-10m.json`` (us-atlas 3.x).
    layer
        ``"states"``, ``"counties"`` or ``"nation"``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``geoid`` (zero-padded FIPS string: 2 digits for states, 5 for counties; ``"US"``
        for the nation when it has no id), ``name`` (None when absent), polygon geometry,
        EPSG:4326. A feature whose rings all collapse under quantization (Falls Church,
        VA, in ``counties-10m``) keeps an empty polygon and is counted in a warning.

    Raises
    ------
    InvalidLayerError
        If ``layer`` is not one of the three, or the file has no such object.
    LayerIOError
        If the file is missing or not TopoJSON.
    """
    if layer not in _ATLAS_LAYERS:
        raise InvalidLayerError(f"layer must be one of {list(_ATLAS_LAYERS)}, got {layer!r}.")
    path_str = os.fspath(path)
    try:
        with open(path_str, encoding="utf-8") as handle:
            topology = json.load(handle)
    except (OSError, ValueError) as exc:
        raise LayerIOError(f"Could not read TopoJSON {path_str!r}: {exc}.") from exc
    if not isinstance(topology, dict) or topology.get("type") != "Topology":
        raise LayerIOError(f"{path_str!r} is not a TopoJSON Topology (no type 'Topology').")
    objects = topology.get("objects", {})
    if layer not in objects:
        raise InvalidLayerError(
            f"{path_str!r} has no object {layer!r}; it has {sorted(objects)}. Use "
            "states-10m.json for states, counties-10m.json for counties."
        )
    arcs = _decode_arcs(topology)
    obj = objects[layer]
    members = obj["geometries"] if obj.get("type") == "GeometryCollection" else [obj]
    width = _ATLAS_GEOID_WIDTH[layer]
    geoids, names, geoms = [], [], []
    for member in members:
        raw_id = member.get("id")
        if raw_id is None:
            geoids.append("US" if layer == "nation" else None)
        else:
            geoids.append(str(raw_id).zfill(width))
        names.append((member.get("properties") or {}).get("name"))
        geoms.append(_geometry(member, arcs))
    collapsed = [n for n, g in zip(names, geoms, strict=True) if g is None]
    if collapsed:
        warnings.warn(
            f"us-atlas {layer}: {len(collapsed)} feature(s) are too small to have an area at "
            f"this scale ({collapsed[:5]}); they are kept with an empty polygon.",
            UserWarning,
            stacklevel=2,
        )
    series = gpd.GeoSeries([Polygon() if g is None else g for g in geoms], crs="EPSG:4326")
    invalid = ~series.is_valid
    if invalid.any():
        warnings.warn(
            f"us-atlas {layer}: {int(invalid.sum())} of {len(series)} polygon(s) were invalid "
            "and were repaired with shapely.make_valid.",
            UserWarning,
            stacklevel=2,
        )
        series[invalid] = series[invalid].make_valid()
    return gpd.GeoDataFrame(
        {
            "geoid": pd.Series(geoids, dtype="object"),
            "name": pd.Series(names, dtype="object"),
        },
        geometry=series,
        crs="EPSG:4326",
    )


# -- rasters ----------------------------------------------------------------------------


def read_wind_atlas(
    path: PathLike, *, height_m: float | None = None, chunks: int | None = None
) -> xr.DataArray:
    """Read a Global Wind Atlas wind-speed GeoTIFF (m/s at one height above ground).

    Parameters
    ----------
    path
        GeoTIFF such as ``USA_wind-speed_100m.tif`` (EPSG:4326, about 250 m cells).
    height_m
        Height of the wind speed, in metres. Required when the filename does not carry it
        (``..._100m.tif``); if both are given they must agree.
    chunks
        Passed to :func:`siting.layers.read_raster`.

    Returns
    -------
    xarray.DataArray
        Named ``wind_speed_{h}m_m_s`` with attrs ``units="m/s"``, ``height_m``,
        ``kind="continuous"`` plus those of :func:`~siting.layers.read_raster`.

    Raises
    ------
    InvalidLayerError
        If the height is neither in the filename nor given, or the two disagree.
    LayerIOError, CRSError
        As :func:`~siting.layers.read_raster`.

    Warns
    -----
    UserWarning
        Counting cells outside 0..:data:`MAX_WIND_SPEED_M_S` m/s (kept as they are); not
        checked when ``chunks`` is given.
    """
    path_str = os.fspath(path)
    match = re.search(r"(\d+(?:\.\d+)?)m(?![a-z])", Path(path_str).stem, flags=re.IGNORECASE)
    parsed = float(match.group(1)) if match else None
    if height_m is None and parsed is None:
        raise InvalidLayerError(
            f"cannot tell the height of the wind speed in {path_str!r} from its name (expected "
            "something like 'USA_wind-speed_100m.tif'); pass height_m=..."
        )
    if height_m is not None and parsed is not None and not math.isclose(height_m, parsed):
        raise InvalidLayerError(
            f"height_m={height_m} disagrees with the filename {path_str!r} ({parsed:g} m)."
        )
    height = float(height_m if height_m is not None else parsed)  # type: ignore[arg-type]
    if not (math.isfinite(height) and height > 0):
        raise InvalidLayerError(f"height_m must be a positive number of metres, got {height!r}.")
    array = read_raster(path_str, chunks=chunks, name=f"wind_speed_{height:g}m_m_s")
    array.attrs.update({"units": "m/s", "height_m": height, "kind": "continuous"})
    if chunks is None:
        values = array.to_numpy()
        bad = int(np.count_nonzero((values < 0) | (values > MAX_WIND_SPEED_M_S)))
        if bad:
            warnings.warn(
                f"{path_str!r}: {bad} cell(s) have a wind speed outside 0..{MAX_WIND_SPEED_M_S:g} "
                "m/s; check the file's nodata value (they are kept as they are).",
                UserWarning,
                stacklevel=2,
            )
    return array


def _core_crs(crs: pyproj.CRS) -> pyproj.CRS:
    return crs.source_crs if crs.is_bound and crs.source_crs is not None else crs


def _projection_key(crs: pyproj.CRS) -> tuple[Any, ...] | None:
    core = _core_crs(crs)
    op, ellps = core.coordinate_operation, core.ellipsoid
    if op is None or ellps is None:
        return None
    params = tuple(sorted((p.name, round(float(p.value), 9), p.unit_name) for p in op.params))
    units = tuple(axis.unit_name for axis in core.axis_info)
    return (
        op.method_name,
        params,
        round(ellps.semi_major_metre, 4),
        round(ellps.inverse_flattening, 6),
        units,
    )


def _same_projection(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    if _core_crs(a).equals(_core_crs(b), ignore_axis_order=True):
        return True
    key = _projection_key(a)
    return key is not None and key == _projection_key(b)


#: Largest origin/cell-size difference, as a fraction of a cell, still read as "the same
#: transform" (GeoTIFFs of one grid differ in the last digits: 3e-5 m on 90 m cells in
#: the reV Rhode Island files, 3e-7 of a cell).
TRANSFORM_TOLERANCE_CELLS = 1e-5


def _same_transform(a: Grid, b: Grid) -> bool:
    cell = min(abs(a.transform.a), abs(a.transform.e))
    return all(
        abs(x - y) <= TRANSFORM_TOLERANCE_CELLS * cell
        for x, y in zip(tuple(a.transform)[:6], tuple(b.transform)[:6], strict=True)
    )


def read_rev_exclusion(
    path: PathLike,
    *,
    like: xr.DataArray | Grid | None = None,
    chunks: int | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Read a reV exclusion GeoTIFF, optionally re-tagging its CRS to match a sibling.

    reV exclusion layers of one region share a grid but not always the same CRS text:
    ``ri_nlcd.tif`` is tagged EPSG:3653 (NAD83(NSRS2007) / Rhode Island) while its siblings
    carry an unnamed WKT with a null TOWGS84 (EPSG:32130 parameters), and
    ``ri_reeds_regions.tif`` lacks the TOWGS84 clause. With ``like=``, the layer takes the
    CRS of ``like`` when both are the same projection (pyproj equality, or the same
    projection method, parameters, ellipsoid and units; datum names and null TOWGS84
    clauses are ignored, a sub-metre difference at most) *and* the shape is identical and the
    transform equal to within :data:`TRANSFORM_TOLERANCE_CELLS` of a cell (the files'
    origins differ by 3e-5 m), so the data is never resampled.

    Parameters
    ----------
    path
        The GeoTIFF.
    like
        A DataArray or :class:`~siting.grid.Grid` whose CRS the layer should carry.
    chunks, name
        Passed to :func:`siting.layers.read_raster`.

    Returns
    -------
    xarray.DataArray
        As :func:`~siting.layers.read_raster`; with ``like``, on exactly ``like``'s grid.

    Raises
    ------
    GridError
        If ``like`` is given and the projection, transform or shape differ (use
        :func:`siting.layers.align` to resample instead).
    LayerIOError, CRSError
        As :func:`~siting.layers.read_raster`.
    """
    array = read_raster(path, chunks=chunks, name=name)
    if like is None:
        return array
    target = like if isinstance(like, Grid) else Grid.from_xarray(like)
    own = Grid.from_xarray(array)
    if own == target:
        return array
    problems = []
    if not _same_projection(own.crs, target.crs):
        problems.append(
            f"the projections differ ({own.crs.name!r} vs {target.crs.name!r}, different "
            "method, parameters, ellipsoid or units)"
        )
    if not _same_transform(own, target):
        problems.append(
            f"the transforms differ ({tuple(own.transform)[:6]} vs {tuple(target.transform)[:6]})"
        )
    if own.shape != target.shape:
        problems.append(f"the shapes differ ({own.shape} vs {target.shape})")
    if problems:
        raise GridError(
            f"cannot re-tag {os.fspath(path)!r} onto the grid of like=: "
            + "; ".join(problems)
            + ". Only a CRS written differently for the same grid is re-tagged; to resample, "
            "use siting.layers.align(path, grid, kind=...)."
        )
    attrs = dict(array.attrs)
    attrs["original_crs"] = own.crs.to_wkt()
    bare = array.drop_vars("spatial_ref", errors="ignore").assign_coords(target.coords())
    retagged = target.georeference(bare)
    retagged.attrs.update(attrs)
    return retagged


# -- reV exclusions HDF5 ---------------------------------------------------------------------

# Datasets of a reV exclusions file that are coordinates, not layers.
_REV_H5_COORDINATES = ("latitude", "longitude")


def read_rev_exclusions_h5(
    path: PathLike,
    layers: list[str] | None = None,
    *,
    chunks: int | tuple[int, int] | None = None,
) -> xr.Dataset:
    """Read the layers of an NREL reV exclusions file (``.h5``) as a stack.

    reV and reVX keep exclusion layers of one region in one HDF5 file (reVX
    ``LayeredH5``; read by reV's ``ExclusionLayers``): a JSON ``profile`` attribute on the
    file (rasterio profile: ``crs`` as PROJ or WKT text, ``transform`` as six numbers,
    ``height``, ``width``), ``latitude``/``longitude`` datasets, and one dataset per layer
    shaped ``(1, rows, cols)`` (or ``(rows, cols)``) whose own ``profile`` attribute (or a
    ``nodata`` attribute) gives its nodata value. Reading the file a reV user already has
    means no conversion to GeoTIFF.

    Parameters
    ----------
    path
        The ``.h5`` file.
    layers
        Names of the layers to read (default: every layer in the file).
    chunks
        ``None`` reads into memory; an int or ``(rows, cols)`` gives lazy dask arrays whose
        chunks each read only their window of the file.

    Returns
    -------
    xarray.Dataset
        The stack: one float ``(y, x)`` layer per name (float64 if stored as float64,
        else float32; nodata is NaN; attrs ``source``, ``nodata``), on the file's grid.

    Raises
    ------
    LayerIOError
        If the file is missing, not HDF5, truncated, or lacks the reV layout (the message
        says which part).
    InvalidLayerError
        If a requested layer is not in the file (the message lists those that are).
    CRSError
        If the profile has no CRS.
    """
    from siting import layers as raster

    path_str = os.fspath(path)
    with _open_h5(path_str) as h5:
        grid = _rev_h5_grid(h5, path_str)

        def is_layer(name: str) -> bool:
            item = h5.get(name)
            return (
                name not in _REV_H5_COORDINATES
                and hasattr(item, "shape")
                and len(item.shape) in (2, 3)
                and tuple(item.shape[-2:]) == grid.shape
            )

        wanted = [name for name in h5 if is_layer(name)] if layers is None else list(layers)
        missing = [name for name in wanted if not is_layer(name)]
        if missing:
            present = sorted(name for name in h5 if is_layer(name))
            raise InvalidLayerError(
                f"layers {missing} are not in the reV exclusions file {path_str!r}; it has "
                f"{present}. Check the names (they are the HDF5 dataset names)."
            )
        if not wanted:
            raise LayerIOError(
                f"{path_str!r} has no exclusion layer of shape {grid.shape}; is it a reV "
                "exclusions file?"
            )
        specs = {name: _rev_h5_layer_spec(h5[name], path_str) for name in wanted}
        # In memory, every layer comes from this one open file; chunked layers read their
        # own windows later, each task opening the file itself.
        whole = (slice(0, grid.height), slice(0, grid.width))
        values = (
            {
                name: _read_rev_h5_window(h5, path_str, name, *specs[name], *whole)
                for name in wanted
            }
            if chunks is None
            else {
                name: raster._lazy_blocks(
                    _RevH5Reader(path_str, name, *specs[name]), grid.shape, chunks, specs[name][0]
                )
                for name in wanted
            }
        )
    stack = xr.Dataset(
        {
            name: (
                ("y", "x"),
                data,
                {"source": f"{path_str}:{name}"}
                | ({} if specs[name][1] is None else {"nodata": specs[name][1]}),
            )
            for name, data in values.items()
        },
        coords=grid.coords(),
    )
    return grid.georeference(stack)


def _open_h5(path: str) -> Any:
    import h5py  # type: ignore[import-untyped]

    if not Path(path).is_file():
        raise LayerIOError(f"cannot read reV exclusions {path!r}: no such file.")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise LayerIOError(
            f"cannot read reV exclusions {path!r}: {exc}. The file is not HDF5, or it is "
            "truncated or corrupt; download or copy it again."
        ) from None


def _rev_h5_grid(h5: Any, path: str) -> Grid:
    raw = h5.attrs.get("profile")
    if raw is None:
        raise LayerIOError(
            f"{path!r} has no 'profile' attribute, so it is not a reV exclusions file "
            "(reV/reVX write the rasterio profile there as JSON)."
        )
    try:
        profile = json.loads(raw)
        transform = [float(v) for v in profile["transform"]][:6]
        shape = (int(profile["height"]), int(profile["width"]))
        crs_text = profile.get("crs")
    except (ValueError, KeyError, TypeError) as exc:
        raise LayerIOError(
            f"{path!r}: its 'profile' attribute is not the JSON rasterio profile reV "
            f"writes (need transform, height, width, crs): {exc}"
        ) from None
    if not crs_text:
        from siting.errors import CRSError

        raise CRSError(
            f"{path!r}: the profile has no CRS, and a CRS is never guessed. Rewrite the file "
            "with reVX and a georeferenced template GeoTIFF."
        )
    from affine import Affine

    return Grid(crs_text, Affine(*transform), shape)


def _rev_h5_layer_spec(dataset: Any, path: str) -> tuple[np.dtype[Any], float | None]:
    """(float dtype of the result, nodata value or None) of one layer dataset."""
    from siting.layers import _float_dtype

    nodata = dataset.attrs.get("nodata")
    raw = dataset.attrs.get("profile")
    if raw is not None:
        try:
            nodata = json.loads(raw).get("nodata", nodata)
        except ValueError:
            raise LayerIOError(
                f"{path!r}: the 'profile' attribute of layer {dataset.name!r} is not JSON"
            ) from None
    nodata = None if nodata is None else float(np.asarray(nodata).ravel()[0])
    return _float_dtype(dataset.dtype), nodata


def _read_rev_h5_window(
    h5: Any,
    path: str,
    name: str,
    dtype: np.dtype[Any],
    nodata: float | None,
    rows: slice,
    cols: slice,
) -> np.ndarray:
    """A window of one layer as float, NaN where the layer's nodata value is."""
    from siting.layers import _is_nodata

    dataset = h5[name]
    try:
        raw = dataset[0, rows, cols] if dataset.ndim == 3 else dataset[rows, cols]
    except OSError as exc:
        raise LayerIOError(
            f"cannot read layer {name!r} of {path!r}: {exc}. The file is truncated or corrupt."
        ) from None
    data = raw.astype(dtype)
    if nodata is not None:
        data[_is_nodata(raw, nodata)] = np.nan
    return data


class _RevH5Reader:
    """Picklable ``(rows, cols) -> block`` reader of one layer of a reV exclusions file."""

    def __init__(self, path: str, name: str, dtype: np.dtype[Any], nodata: float | None) -> None:
        self.path, self.name, self.dtype, self.nodata = path, name, dtype, nodata

    def __call__(self, rows: slice, cols: slice) -> np.ndarray:
        with _open_h5(self.path) as h5:
            return _read_rev_h5_window(
                h5, self.path, self.name, self.dtype, self.nodata, rows, cols
            )
