"""Screen sites against permitting layers: what each site touches or is near, with evidence.

For every site and every screening layer the scenario provides, :func:`screen` records

- whether the site intersects a feature of the layer,
- the nearest feature (its id, its distance in metres, its attributes), however far,
- every feature within the layer's search distance (id, distance, attributes).

Each layer gets one status:

``ok``
    screened; the sites may or may not have hits;
``empty``
    provided, but no feature lies within the search distance of any site (the layer may
    not cover the area: check it before reading this as "no concern");
``not_provided``
    the scenario gave no such layer: nothing is known, which is never "no concern";
``failed``
    the layer could not be read or used (no CRS, unreadable file, bad column); the
    message is kept.

Layers are reprojected to the sites' CRS, which must be projected (distances are metres,
never degrees). The work is vectorised with a shapely ``STRtree`` per layer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from siting._typing import PathLike
from siting.errors import CRSError, InvalidLayerError, LayerError, SitingError

__all__ = [
    "DEFAULT_ATTRIBUTES",
    "DEFAULT_SEARCH_M",
    "FALLBACK_SEARCH_M",
    "ROLES",
    "STATUSES",
    "Hit",
    "LayerReport",
    "LayerStatus",
    "Screening",
    "ScreeningLayer",
    "read_screening_layer",
    "screen",
]

#: Layer roles the shipped rules know. Any other name is a custom layer.
ROLES = (
    "land_manager",
    "critical_habitat",
    "wetlands",
    "historic_places",
    "tribal_lands",
    "flood_zones",
    "airports",
)

LayerStatus = Literal["ok", "empty", "not_provided", "failed"]

#: Every layer status, in order of how much is known.
STATUSES: tuple[LayerStatus, ...] = ("ok", "empty", "not_provided", "failed")

#: Search distance in metres when no other is given, for any role not in
#: :data:`DEFAULT_SEARCH_M`.
FALLBACK_SEARCH_M = 1000.0

#: Search distance in metres by role. Airports: 6,100 m covers the 20,000 ft (6,096 m) of
#: 14 CFR 77.9(b)(1), so every airport the FAA notice test needs is recorded.
DEFAULT_SEARCH_M: dict[str, float] = {"airports": 6100.0}

#: Evidence attributes kept for each known role when the layer does not list its own:
#: evidence name -> source columns to look for (first present wins, case-insensitive).
#: Covers the sample region, the PAD-US/BLM readers of :mod:`siting.datasets.land` and the
#: usual public formats (NWI wetlands, FEMA NFHL flood zones, USFWS critical habitat).
DEFAULT_ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "land_manager": {
        "name": ("name", "unit_name", "Unit_Nm"),
        "manager": ("manager", "manager_name", "Mang_Name", "ADMIN_AGENCY_CODE"),
        "manager_type": ("manager_type", "Mang_Type"),
        "designation": ("designation", "Des_Tp"),
        "gap_status": ("gap_status", "GAP_Sts"),
    },
    "airports": {
        "name": ("name",),
        "code": ("code", "ident", "faa_id"),
        "kind": ("kind", "use"),
        "runway_length_ft": ("runway_length_ft", "longest_runway_ft"),
    },
    "critical_habitat": {
        "species": ("species", "comname"),
        "scientific_name": ("scientific_name", "sciname"),
        "listing_status": ("listing_status", "listing_st"),
    },
    "wetlands": {
        "wetland_type": ("wetland_type", "WETLAND_TYPE"),
        "code": ("code", "ATTRIBUTE"),
    },
    "historic_places": {"name": ("name", "RESNAME")},
    "tribal_lands": {"name": ("name", "NAME")},
    "flood_zones": {"zone": ("zone", "FLD_ZONE"), "sfha": ("sfha", "SFHA_TF")},
}


def _role_name(role: object) -> str:
    if not isinstance(role, str) or not role.strip() or not role.isidentifier():
        raise InvalidLayerError(
            f"a screening layer's role must be a name such as 'wetlands' (letters, digits and "
            f"underscores), got {role!r}. Known roles: {', '.join(ROLES)}; any other name is "
            "a custom layer."
        )
    return role


def _check_search_m(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidLayerError(f"{what} must be a number of metres, got {value!r}.")
    if not (math.isfinite(value) and value >= 0):
        raise InvalidLayerError(f"{what} must be finite and >= 0 metres, got {value!r}.")
    return float(value)


@dataclass(frozen=True, eq=False)
class ScreeningLayer:
    """One screening layer: its role, its features and what to keep as evidence.

    Parameters
    ----------
    role
        What the layer means: one of :data:`ROLES` (``land_manager``, ``critical_habitat``,
        ``wetlands``, ``historic_places``, ``tribal_lands``, ``flood_zones``, ``airports``)
        or any other name (a custom layer, which rules files declare under ``[layers]``).
    frame
        The features, with a CRS (reprojected to the sites' CRS when screened). ``None``
        means the layer was not provided.
    id_column
        Column that identifies a feature in the evidence; ``None`` uses the frame's index.
    attributes
        Columns kept as evidence: a sequence of column names, or a mapping of evidence name
        to column name (to rename, e.g. ``{"manager": "Mang_Name"}``). ``None`` keeps, for a
        known role, the columns of :data:`DEFAULT_ATTRIBUTES` that are present, and for a
        custom role every non-geometry column.
    search_m
        Search distance in metres: features within it are recorded as hits. ``None`` uses
        :func:`screen`'s ``search_m``, else :data:`DEFAULT_SEARCH_M`, else
        :data:`FALLBACK_SEARCH_M`.
    error
        Why the layer failed (set by :meth:`failed` and :func:`read_screening_layer`); a
        layer with an error is reported as ``failed``.
    source
        Where the features came from (a path or a description), for the record.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> wetlands = gpd.GeoDataFrame({"wid": ["W1"]}, geometry=[box(0, 0, 10, 10)],
    ...                             crs="EPSG:5070")
    >>> layer = ScreeningLayer("wetlands", wetlands, id_column="wid", search_m=250)
    >>> layer.role, layer.search_m
    ('wetlands', 250.0)
    >>> ScreeningLayer.failed("flood_zones", "file is corrupt").error
    'file is corrupt'
    """

    role: str
    frame: gpd.GeoDataFrame | None = None
    id_column: str | None = None
    attributes: Mapping[str, str] | Sequence[str] | None = None
    search_m: float | None = None
    error: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        _role_name(self.role)
        if self.frame is not None and not isinstance(self.frame, gpd.GeoDataFrame):
            raise InvalidLayerError(
                f"the {self.role!r} screening layer must be a GeoDataFrame or None, got "
                f"{type(self.frame).__name__}. Read files with read_screening_layer(...)."
            )
        if self.search_m is not None:
            object.__setattr__(
                self, "search_m", _check_search_m(self.search_m, f"{self.role!r} search_m")
            )
        if self.attributes is not None:
            if isinstance(self.attributes, str):
                raise InvalidLayerError(
                    f"attributes of the {self.role!r} layer must be a list of column names or "
                    f"a mapping, got the string {self.attributes!r}; write [{self.attributes!r}]."
                )
            pairs = (
                dict(self.attributes)
                if isinstance(self.attributes, Mapping)
                else {str(c): str(c) for c in self.attributes}
            )
            object.__setattr__(self, "attributes", pairs)

    @classmethod
    def failed(cls, role: str, message: str, *, source: str | None = None) -> ScreeningLayer:
        """A layer that could not be read: screened as ``failed`` with ``message`` kept."""
        return cls(role, None, error=str(message), source=source)

    @property
    def provided(self) -> bool:
        """True when the layer has a frame and no error."""
        return self.frame is not None and self.error is None


def read_screening_layer(
    role: str,
    path: PathLike,
    *,
    layer: str | int | None = None,
    id_column: str | None = None,
    attributes: Mapping[str, str] | Sequence[str] | None = None,
    search_m: float | None = None,
) -> ScreeningLayer:
    """Read a vector file into a :class:`ScreeningLayer`; a failure becomes a failed layer.

    A missing or unreadable file, or one without a CRS, does not raise: it gives a layer
    whose status will be ``failed`` with the reason, so one bad layer never hides the
    others and is never mistaken for "no concern".

    Parameters
    ----------
    role
        The layer's role (see :class:`ScreeningLayer`).
    path
        Any vector file GDAL opens (GeoPackage, shapefile, file geodatabase, GeoJSON ...).
    layer
        Layer inside a multi-layer file; ``None`` reads the first.
    id_column, attributes, search_m
        As for :class:`ScreeningLayer`.

    Returns
    -------
    ScreeningLayer

    Examples
    --------
    >>> read_screening_layer("wetlands", "/no/such/file.gpkg").error  # doctest: +ELLIPSIS
    "Could not read the 'wetlands' screening layer: '/no/such/file.gpkg' does not exist."
    """
    from siting.datasets._io import read_vector

    kwargs: dict[str, Any] = {} if layer is None else {"layer": layer}
    source = str(path) if layer is None else f"{path} (layer {layer!r})"
    try:
        frame = read_vector(path, f"the {role!r} screening layer", **kwargs)
    except (SitingError, OSError) as exc:
        return ScreeningLayer.failed(role, str(exc), source=source)
    return ScreeningLayer(
        role,
        frame,
        id_column=id_column,
        attributes=attributes,
        search_m=search_m,
        source=source,
    )


@dataclass(frozen=True)
class LayerReport:
    """What happened to one layer in a screening.

    Attributes
    ----------
    role
        The layer's role.
    status
        ``ok``, ``empty``, ``not_provided`` or ``failed`` (see :mod:`siting.permitting.screening`).
    search_m
        Search distance used, in metres (``None`` when not screened).
    n_features
        Features in the layer (after dropping missing geometries); 0 when not screened.
    n_sites_hit
        Sites with at least one feature within the search distance.
    attributes
        Evidence names kept for each hit.
    message
        Why the layer failed, or a note (e.g. geometries repaired); ``None`` otherwise.
    source
        Where the features came from, if known.
    """

    role: str
    status: LayerStatus
    search_m: float | None = None
    n_features: int = 0
    n_sites_hit: int = 0
    attributes: tuple[str, ...] = ()
    message: str | None = None
    source: str | None = None

    @property
    def screened(self) -> bool:
        """True for ``ok`` and ``empty``: the layer was looked at."""
        return self.status in ("ok", "empty")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "role": self.role,
            "status": self.status,
            "search_m": self.search_m,
            "n_features": self.n_features,
            "n_sites_hit": self.n_sites_hit,
            "attributes": list(self.attributes),
            "message": self.message,
            "source": self.source,
        }


@dataclass(frozen=True)
class Hit:
    """One feature of one layer near one site.

    Attributes
    ----------
    layer
        The layer's role.
    feature_id
        The feature's id (from the layer's ``id_column`` or index), as given.
    distance_m
        Distance from the site to the feature, metres (0 when they intersect).
    intersects
        Whether the site intersects the feature.
    attributes
        The evidence attributes of the feature (missing values are ``None``).
    """

    layer: str
    feature_id: Any
    distance_m: float
    intersects: bool
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "layer": self.layer,
            "feature_id": _plain(self.feature_id),
            "distance_m": self.distance_m,
            "intersects": self.intersects,
            "attributes": {k: _plain(v) for k, v in self.attributes.items()},
        }


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/NaT/NA as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


@dataclass(frozen=True, eq=False)
class Screening:
    """The result of :func:`screen`: per layer a report, per site and layer the evidence.

    Attributes
    ----------
    site_ids
        The sites, in input order.
    crs
        The sites' CRS (as ``"EPSG:5070"`` or WKT), in which distances were measured.
    layers
        Report of every layer given, by role.
    nearest
        One row per (site, screened layer): ``site_id``, ``layer``, ``intersects``,
        ``nearest_id``, ``nearest_distance_m`` (NaN and None when the layer has no
        feature), ``n_hits`` (features within the search distance).
    hits
        One row per (site, layer, feature within the search distance): ``site_id``,
        ``layer``, ``feature_id``, ``distance_m``, ``intersects``, ``attributes`` (a dict),
        sorted by site, layer and distance.
    """

    site_ids: tuple[Any, ...]
    crs: str
    layers: Mapping[str, LayerReport]
    nearest: pd.DataFrame
    hits: pd.DataFrame

    def status(self, layer: str) -> LayerStatus:
        """The status of ``layer``; ``not_provided`` for a layer the screening never saw."""
        report = self.layers.get(layer)
        return "not_provided" if report is None else report.status

    @functools.cached_property
    def _hit_index(self) -> dict[tuple[Any, str], list[Hit]]:
        index: dict[tuple[Any, str], list[Hit]] = {}
        h = self.hits
        rows = zip(
            h["site_id"].tolist(),
            h["layer"].tolist(),
            h["feature_id"].tolist(),
            h["distance_m"].tolist(),
            h["intersects"].tolist(),
            h["attributes"].tolist(),
            strict=True,
        )
        for site_id, layer, feature_id, distance_m, intersects, attributes in rows:
            index.setdefault((site_id, str(layer)), []).append(
                Hit(
                    layer=str(layer),
                    feature_id=feature_id,
                    distance_m=float(distance_m),
                    intersects=bool(intersects),
                    attributes=dict(attributes),
                )
            )
        return index

    @functools.cached_property
    def _nearest_index(self) -> dict[tuple[Any, str], tuple[bool, Any, float]]:
        n = self.nearest
        rows = zip(
            n["site_id"].tolist(),
            n["layer"].tolist(),
            n["intersects"].tolist(),
            n["nearest_id"].tolist(),
            n["nearest_distance_m"].tolist(),
            strict=True,
        )
        return {
            (site_id, str(layer)): (bool(intersects), nearest_id, float(distance_m))
            for site_id, layer, intersects, nearest_id, distance_m in rows
        }

    @functools.cached_property
    def _site_set(self) -> frozenset[Any]:
        return frozenset(self.site_ids)

    def site_hits(self, site_id: Any, layer: str | None = None) -> list[Hit]:
        """Hits of one site (on one layer, or all), nearest first within each layer.

        Raises
        ------
        KeyError
            If the site is not in the screening.
        """
        self._check_site(site_id)
        if layer is not None:
            return list(self._hit_index.get((site_id, layer), []))
        return [hit for role in self.layers for hit in self._hit_index.get((site_id, role), [])]

    def site_nearest(self, site_id: Any, layer: str) -> Hit | None:
        """The nearest feature of ``layer`` to a site (None when not screened or no feature).

        Its ``attributes`` are empty unless the feature is also a hit (within the search
        distance).

        Raises
        ------
        KeyError
            If the site is not in the screening.
        """
        self._check_site(site_id)
        entry = self._nearest_index.get((site_id, layer))
        if entry is None or entry[1] is None:
            return None
        intersects, feature_id, distance_m = entry
        attributes: dict[str, Any] = {}
        for hit in self._hit_index.get((site_id, layer), []):
            if hit.feature_id == feature_id:
                attributes = dict(hit.attributes)
                break
        return Hit(
            layer=layer,
            feature_id=feature_id,
            distance_m=distance_m,
            intersects=intersects,
            attributes=attributes,
        )

    def _check_site(self, site_id: Any) -> None:
        try:
            known = site_id in self._site_set
        except TypeError:
            known = False
        if not known:
            shown = ", ".join(repr(s) for s in self.site_ids[:10])
            more = " ..." if len(self.site_ids) > 10 else ""
            raise KeyError(f"no site {site_id!r} in this screening; its sites are {shown}{more}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary: layers, then per site the nearest and hits per layer."""
        sites = []
        for site_id in self.site_ids:
            per_layer: dict[str, Any] = {}
            for role in self.layers:
                entry = self._nearest_index.get((site_id, role))
                if entry is None:
                    continue
                per_layer[role] = {
                    "intersects": entry[0],
                    "nearest_id": _plain(entry[1]),
                    "nearest_distance_m": _plain(entry[2]),
                    "hits": [h.to_dict() for h in self._hit_index.get((site_id, role), [])],
                }
            sites.append({"site_id": _plain(site_id), "layers": per_layer})
        return {
            "crs": self.crs,
            "layers": {role: report.to_dict() for role, report in self.layers.items()},
            "sites": sites,
        }


# -- screening --------------------------------------------------------------------------

_NEAREST_COLUMNS = ["site_id", "layer", "intersects", "nearest_id", "nearest_distance_m", "n_hits"]
_HIT_COLUMNS = ["site_id", "layer", "feature_id", "distance_m", "intersects", "attributes"]


def _site_geometries(
    sites: gpd.GeoDataFrame | gpd.GeoSeries, id_column: str | None
) -> tuple[np.ndarray, list[Any], pyproj.CRS, float]:
    if not isinstance(sites, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InvalidLayerError(
            f"sites must be a GeoDataFrame or GeoSeries of points, got {type(sites).__name__}."
        )
    crs = sites.crs
    if crs is None:
        raise CRSError(
            "the sites have no CRS, and a CRS is never guessed. Set the CRS their coordinates "
            "are in with sites.set_crs(...), then reproject to a projected CRS such as "
            "'EPSG:5070' with sites.to_crs(...)."
        )
    if not crs.is_projected:
        kind = "geographic, degrees" if crs.is_geographic else "not projected"
        raise CRSError(
            f"screening measures distances in metres and needs the sites in a projected CRS; "
            f"got {crs.to_string()!r} ({kind}). "
            "Reproject them first, e.g. sites.to_crs('EPSG:5070') for the contiguous US."
        )
    metres_per_unit = float(crs.axis_info[0].unit_conversion_factor)
    geoms = np.asarray(sites.geometry.to_numpy() if hasattr(sites, "geometry") else sites)
    if id_column is None:
        ids = list(sites.index)
    else:
        if not isinstance(sites, gpd.GeoDataFrame) or id_column not in sites.columns:
            columns = list(sites.columns) if isinstance(sites, gpd.GeoDataFrame) else []
            raise InvalidLayerError(
                f"sites have no id column {id_column!r}; they have {columns}. Pass "
                "id_column=None to use the index."
            )
        ids = list(sites[id_column])
    ids = [_plain(i) for i in ids]
    if len(set(map(repr, ids))) != len(ids):
        raise InvalidLayerError(
            "site ids must be unique (they name the sites in the evidence); "
            f"{'the index' if id_column is None else repr(id_column)} has duplicates. "
            "Reset the index or pass id_column=... with unique values."
        )
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        which = [ids[i] for i in np.flatnonzero(bad)[:5]]
        raise InvalidLayerError(
            f"{int(bad.sum())} site(s) have no coordinates (missing or empty geometry), e.g. "
            f"site(s) {which}. Give every site a point, or drop those rows first."
        )
    coords = shapely.get_coordinates(geoms)
    if not np.isfinite(coords).all():
        raise InvalidLayerError(
            "some sites have non-finite coordinates (NaN or infinity). Give every site a "
            "real point, or drop those rows first."
        )
    return geoms, ids, crs, metres_per_unit


def _as_layer(key: str, value: ScreeningLayer | gpd.GeoDataFrame | None) -> ScreeningLayer:
    if isinstance(value, ScreeningLayer):
        if value.role != key:
            raise InvalidLayerError(
                f"the layer given under {key!r} says its role is {value.role!r}; the key and "
                "the role must be the same name."
            )
        return value
    if value is None or isinstance(value, gpd.GeoDataFrame):
        return ScreeningLayer(_role_name(key), value)
    raise InvalidLayerError(
        f"the screening layer {key!r} must be a ScreeningLayer, a GeoDataFrame or None (not "
        f"provided), got {type(value).__name__}."
    )


def _evidence_columns(layer: ScreeningLayer, frame: gpd.GeoDataFrame) -> dict[str, str]:
    present = [c for c in frame.columns if c != frame.geometry.name]
    if layer.attributes is not None:
        assert isinstance(layer.attributes, Mapping)  # normalised in __post_init__
        pairs = dict(layer.attributes)
        missing = [c for c in pairs.values() if c not in frame.columns]
        if missing:
            raise InvalidLayerError(
                f"the {layer.role!r} layer lacks the attribute column(s) {missing}; it has "
                f"{present[:40]}. Fix attributes=... or leave it None for the defaults."
            )
        return pairs
    defaults = DEFAULT_ATTRIBUTES.get(layer.role)
    if defaults is None:
        return {str(c): str(c) for c in present}
    by_lower = {str(c).lower(): str(c) for c in present}
    out: dict[str, str] = {}
    for name, candidates in defaults.items():
        for candidate in candidates:
            if candidate.lower() in by_lower:
                out[name] = by_lower[candidate.lower()]
                break
    return out


def _screen_layer(
    layer: ScreeningLayer,
    site_geoms: np.ndarray,
    site_ids: list[Any],
    crs: pyproj.CRS,
    metres_per_unit: float,
    search_m: float,
) -> tuple[LayerReport, pd.DataFrame, pd.DataFrame]:
    frame = layer.frame
    assert frame is not None
    try:
        geometry = frame.geometry
    except AttributeError as exc:
        raise InvalidLayerError(
            f"the {layer.role!r} layer has no active geometry column ({exc}). Set one with "
            ".set_geometry(...)."
        ) from exc
    if frame.crs is None:
        raise CRSError(
            f"the {layer.role!r} layer has no CRS, and a CRS is never guessed. Set the CRS "
            "it is really in with .set_crs(...) before screening."
        )
    if layer.id_column is not None and layer.id_column not in frame.columns:
        raise InvalidLayerError(
            f"the {layer.role!r} layer has no id column {layer.id_column!r}; it has "
            f"{[c for c in frame.columns if c != frame.geometry.name][:40]}. Fix id_column=..., "
            "or leave it None to use the index."
        )
    columns = _evidence_columns(layer, frame)
    geoms = np.asarray(geometry.to_crs(crs).to_numpy())
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[keep]
    ids = (frame[layer.id_column] if layer.id_column else frame.index.to_series()).to_numpy()[keep]
    table = frame.loc[keep, list(columns.values())] if columns else None
    notes: list[str] = []
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        notes.append(f"{int(invalid.sum())} invalid geometries repaired with make_valid")
    n_sites = len(site_geoms)
    if len(geoms) == 0:
        nearest = pd.DataFrame(
            {
                "site_id": site_ids,
                "layer": layer.role,
                "intersects": False,
                "nearest_id": [None] * n_sites,
                "nearest_distance_m": np.nan,
                "n_hits": 0,
            },
            columns=_NEAREST_COLUMNS,
        )
        report = LayerReport(
            layer.role,
            "empty",
            search_m=search_m,
            n_features=0,
            attributes=tuple(columns),
            message="; ".join(["the layer has no features", *notes]),
            source=layer.source,
        )
        return report, nearest, pd.DataFrame(columns=_HIT_COLUMNS)

    tree = shapely.STRtree(geoms)
    (near_site, near_feature), near_distance = tree.query_nearest(
        site_geoms, return_distance=True, all_matches=False
    )
    nearest_id: list[Any] = [None] * n_sites
    nearest_distance = np.full(n_sites, np.nan)
    for s, f, d in zip(near_site, near_feature, near_distance, strict=True):
        nearest_id[s] = _plain(ids[f])
        nearest_distance[s] = d * metres_per_unit

    pair_site, pair_feature = tree.query(
        site_geoms, predicate="dwithin", distance=search_m / metres_per_unit
    )
    distance = shapely.distance(site_geoms[pair_site], geoms[pair_feature]) * metres_per_unit
    touching = shapely.intersects(site_geoms[pair_site], geoms[pair_feature])
    order = np.lexsort((distance, pair_site))
    pair_site, pair_feature = pair_site[order], pair_feature[order]
    distance, touching = distance[order], touching[order]
    records = (
        table.iloc[pair_feature].to_dict("records") if table is not None else [{}] * len(order)
    )
    names = list(columns)
    hits = pd.DataFrame(
        {
            "site_id": [site_ids[s] for s in pair_site],
            "layer": layer.role,
            "feature_id": [_plain(ids[f]) for f in pair_feature],
            "distance_m": distance.astype("float64"),
            "intersects": touching.astype(bool),
            "attributes": [
                {name: _plain(rec[columns[name]]) for name in names} for rec in records
            ],
        },
        columns=_HIT_COLUMNS,
    )
    intersects = np.zeros(n_sites, dtype=bool)
    intersects[pair_site[touching]] = True
    n_hits = np.bincount(pair_site, minlength=n_sites)
    nearest = pd.DataFrame(
        {
            "site_id": site_ids,
            "layer": layer.role,
            "intersects": intersects,
            "nearest_id": nearest_id,
            "nearest_distance_m": nearest_distance,
            "n_hits": n_hits.astype("int64"),
        },
        columns=_NEAREST_COLUMNS,
    )
    n_sites_hit = int((n_hits > 0).sum())
    report = LayerReport(
        layer.role,
        "ok" if n_sites_hit else "empty",
        search_m=search_m,
        n_features=len(geoms),
        n_sites_hit=n_sites_hit,
        attributes=tuple(names),
        message=(
            "; ".join(
                [
                    *(
                        []
                        if n_sites_hit
                        else [
                            f"no feature within {search_m:g} m of any site: check that the "
                            "layer covers the area before reading this as no concern"
                        ]
                    ),
                    *notes,
                ]
            )
            or None
        ),
        source=layer.source,
    )
    return report, nearest, hits


def screen(
    sites: gpd.GeoDataFrame | gpd.GeoSeries,
    layers: Mapping[str, ScreeningLayer | gpd.GeoDataFrame | None] | Iterable[ScreeningLayer],
    *,
    search_m: float | None = None,
    id_column: str | None = None,
) -> Screening:
    """Screen every site against every layer: intersections, nearest features and hits.

    Parameters
    ----------
    sites
        Sites (points, or parcels as polygons) in a projected CRS; distances are reported in
        metres whatever the CRS's linear unit.
    layers
        Layers by role: a :class:`ScreeningLayer`, a GeoDataFrame (screened with the role's
        defaults) or ``None`` (the layer was not provided; reported as ``not_provided``).
        An iterable of :class:`ScreeningLayer` is also accepted (keyed by their roles).
    search_m
        Search distance in metres for layers that do not set their own; ``None`` uses
        :data:`DEFAULT_SEARCH_M` for the role, else :data:`FALLBACK_SEARCH_M` (1 km).
    id_column
        Column of ``sites`` that names each site; ``None`` uses the index.

    Returns
    -------
    Screening
        Layer reports, the nearest feature per (site, layer), and every hit within the
        search distance with its attributes.

    Raises
    ------
    CRSError
        If the sites have no CRS or a geographic (or otherwise unprojected) one.
    InvalidLayerError
        If a site has no coordinates, site ids repeat, or a layer argument has the wrong
        type. Problems with a layer's data (no CRS, missing column, unreadable) do not
        raise: the layer is reported as ``failed`` with the message.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> sites = gpd.GeoDataFrame({"site": ["a", "b"]},
    ...                          geometry=[Point(5, 5), Point(500, 5)], crs="EPSG:5070")
    >>> wetlands = gpd.GeoDataFrame({"wid": ["W1"]}, geometry=[box(0, 0, 10, 10)],
    ...                             crs="EPSG:5070")
    >>> result = screen(sites, {"wetlands": ScreeningLayer("wetlands", wetlands,
    ...                                                    id_column="wid", search_m=100),
    ...                         "critical_habitat": None}, id_column="site")
    >>> result.status("wetlands"), result.status("critical_habitat")
    ('ok', 'not_provided')
    >>> result.nearest[["site_id", "intersects", "nearest_id", "nearest_distance_m"]]
      site_id  intersects nearest_id  nearest_distance_m
    0       a        True         W1                 0.0
    1       b       False         W1               490.0
    >>> [(h.feature_id, h.distance_m) for h in result.site_hits("b")]
    []
    """
    site_geoms, site_ids, crs, metres_per_unit = _site_geometries(sites, id_column)
    if search_m is not None:
        search_m = _check_search_m(search_m, "search_m")
    if isinstance(layers, Mapping):
        items = [(str(k), _as_layer(str(k), v)) for k, v in layers.items()]
    else:
        items = []
        for value in layers:
            if not isinstance(value, ScreeningLayer):
                raise InvalidLayerError(
                    "layers must be a mapping of role to layer, or an iterable of "
                    f"ScreeningLayer; got an item of type {type(value).__name__}."
                )
            items.append((value.role, value))
    roles = [role for role, _ in items]
    if len(set(roles)) != len(roles):
        raise InvalidLayerError(f"each role may be given once; got {roles}.")
    reports: dict[str, LayerReport] = {}
    nearest_tables: list[pd.DataFrame] = []
    hit_tables: list[pd.DataFrame] = []
    for role, layer in items:
        distance = (
            layer.search_m
            if layer.search_m is not None
            else search_m
            if search_m is not None
            else DEFAULT_SEARCH_M.get(role, FALLBACK_SEARCH_M)
        )
        if layer.error is not None:
            reports[role] = LayerReport(role, "failed", message=layer.error, source=layer.source)
            continue
        if layer.frame is None:
            reports[role] = LayerReport(role, "not_provided", source=layer.source)
            continue
        try:
            report, nearest, hits = _screen_layer(
                layer, site_geoms, site_ids, crs, metres_per_unit, distance
            )
        except (
            LayerError,
            CRSError,
            pyproj.exceptions.CRSError,
            shapely.errors.GEOSException,
        ) as exc:
            reports[role] = LayerReport(
                role, "failed", search_m=distance, message=str(exc), source=layer.source
            )
            continue
        reports[role] = report
        nearest_tables.append(nearest)
        if not hits.empty:
            hit_tables.append(hits)
    nearest_all = (
        pd.concat(nearest_tables, ignore_index=True)
        if nearest_tables
        else pd.DataFrame(columns=_NEAREST_COLUMNS)
    )
    hits_all = (
        pd.concat(hit_tables, ignore_index=True)
        if hit_tables
        else pd.DataFrame(columns=_HIT_COLUMNS)
    )
    return Screening(
        site_ids=tuple(site_ids),
        crs=crs.to_string(),
        layers=reports,
        nearest=nearest_all,
        hits=hits_all,
    )
