"""Per-site permitting dossiers: JSON records, HTML reports, a CSV summary, a GeoPackage.

A dossier gathers, for one ranked site, what a developer or an agency needs to start a
permitting conversation:

``site``
    id, rank, coordinates (lon/lat and x/y with their CRS), score, its interval and rank
    stability, the largest contributions to the score (with the feature values and their
    units the run recorded, else those the column name says), and every feature;
``permitting``
    the NEPA level, the likely lead agency, every permit with its status, citation,
    agency, typical timeline and evidence, the layers that were not screened, the likely
    timeline and the permitting complexity;
``energy``
    the 24/7 clean-energy fit (the run's ``cfe_*`` columns), when computed;
``provenance``
    library version, run time, scenario name, inputs with sha256, licences and
    attributions recorded in the run manifest;
``disclaimer``
    screening is not a legal determination.

Every dossier is checked against the published JSON Schema ``dossier.schema.json``
(draft 2020-12) shipped beside this module. :func:`write_dossiers` writes a folder with
``<site_id>.json`` and ``<site_id>.html`` per site, ``summary.csv`` and ``dossiers.gpkg``,
all at once: the files are made in a temporary folder that is renamed into place, so a
failure never leaves a partial set behind. The HTML reports are self-contained (inline CSS
and SVG, no script, no external asset) and every text that comes from data is escaped.

Screening is not a legal determination; see ``docs/permitting.md``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import math
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from siting._typing import PathLike
from siting.errors import InvalidLayerError, LayerIOError, OutputError
from siting.export import MANIFEST_NAME
from siting.permitting.pathway import DISCLAIMER, NEPA_RANK, Pathway
from siting.permitting.screening import LayerReport, _plain

__all__ = [
    "DOSSIER_FORMAT",
    "PERMITTING_NAME",
    "SCHEMA_PATH",
    "SITES_NAME",
    "SUMMARY_COLUMNS",
    "DossierError",
    "build_dossiers",
    "dossier_html",
    "dossier_schema",
    "dossiers_from_run",
    "feature_units",
    "validate_dossier",
    "write_dossiers",
]

#: Version of the dossier format (the schema's ``dossier_format``).
DOSSIER_FORMAT = 1

#: The published JSON Schema of one dossier.
SCHEMA_PATH = Path(__file__).with_name("dossier.schema.json")

#: Files of a run folder that the dossiers are made from.
SITES_NAME = "sites.gpkg"
PERMITTING_NAME = "permitting.json"

#: Columns of ``summary.csv`` and of the ``dossiers`` GeoPackage layer.
SUMMARY_COLUMNS = (
    "site_id",
    "rank",
    "score",
    "nepa_level",
    "lead_agency",
    "permits_triggered",
    "permits_unknown",
    "timeline_months_low",
    "timeline_months_high",
    "timeline_complete",
    "layers_not_screened",
    "lon",
    "lat",
)

_SUMMARY = "summary.csv"
_GPKG = "dossiers.gpkg"

#: Site columns that are not features.
_SITE_COLUMNS = frozenset(
    {"rank", "score", "cell_id", "lon", "lat", "x", "y", "row", "col", "availability",
     "name", "score_lower", "score_upper", "p_top_k", "contribution_bias"}
)  # fmt: skip

#: Units read from the end of a column name (longest match first).
_UNIT_SUFFIXES = (
    ("_kwh_m2_day", "kWh/m²/day"),
    ("_usd_mwh", "USD/MWh"),
    ("_usd_mw", "USD/MW"),
    ("_mw_m2", "mW/m²"),
    ("_acres", "acres"),
    ("_hours", "h"),
    ("_m_s", "m/s"),
    ("_km2", "km²"),
    ("_mwh", "MWh"),
    ("_kwh", "kWh"),
    ("_pct", "%"),
    ("_deg", "degrees"),
    ("_usd", "USD"),
    ("_m2", "m²"),
    ("_km", "km"),
    ("_ft", "ft"),
    ("_mw", "MW"),
    ("_kv", "kV"),
    ("_ms", "ms"),
    ("_m", "m"),
)
_UNIT_PREFIXES = (("people_", "people"), ("population_", "people"))

_PATHWAY_KEYS = (
    "site_id",
    "nepa_level",
    "lead_agency",
    "likely_timeline_months",
    "critical_path",
    "timeline_complete",
    "n_reviews",
    "permits",
    "not_screened",
)


class DossierError(InvalidLayerError):
    """A dossier, or what it is made from, does not fit the published format."""


def feature_units(name: str) -> str | None:
    """Units of a feature, read from its column name; ``None`` when the name does not say.

    Examples
    --------
    >>> feature_units("distance_to_substation_km"), feature_units("heat_flow_mw_m2")
    ('km', 'mW/m²')
    >>> feature_units("ghi_kwh_m2_day"), feature_units("gap_status")
    ('kWh/m²/day', None)
    """
    lower = name.lower()
    for suffix, units in _UNIT_SUFFIXES:
        if lower.endswith(suffix):
            return units
    for prefix, units in _UNIT_PREFIXES:
        if lower.startswith(prefix):
            return units
    return None


# -- schema ---------------------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


def dossier_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of one dossier, as a new dictionary.

    Examples
    --------
    >>> schema = dossier_schema()
    >>> schema["$schema"].endswith("2020-12/schema"), schema["required"][-1]
    (True, 'disclaimer')
    """
    return json.loads(json.dumps(_schema()))


@functools.cache
def _validator() -> Any:
    import jsonschema  # type: ignore[import-untyped]

    return jsonschema.Draft202012Validator(_schema())


def validate_dossier(dossier: Mapping[str, Any]) -> None:
    """Check one dossier against the published schema.

    Raises
    ------
    DossierError
        Naming the first failing field (e.g. ``permitting.nepa_level``), what it holds and
        what the schema expects.
    """
    errors = sorted(_validator().iter_errors(dossier), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(the dossier itself)"
        site = dossier.get("site") if isinstance(dossier, Mapping) else None
        which = f" of site {site.get('id')!r}" if isinstance(site, Mapping) else ""
        more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise DossierError(
            f"the dossier{which} does not match the dossier schema at {where}: "
            f"{first.message}{more}. The schema is {SCHEMA_PATH}."
        )


# -- building -------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _json_plain(data: Any, what: str) -> Any:
    """A deep copy that is plain JSON (no NaN, no numpy), or DossierError."""
    try:
        return json.loads(json.dumps(data, allow_nan=False, default=_plain))
    except (TypeError, ValueError) as exc:
        raise DossierError(f"{what} is not plain JSON data: {exc}") from None


def _pathway_dicts(
    pathways: Iterable[Pathway | Mapping[str, Any]] | Mapping[Any, Pathway | Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    items = list(pathways.values()) if isinstance(pathways, Mapping) else list(pathways)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, Pathway):
            data = item.to_dict()
        elif isinstance(item, Mapping):
            data = dict(item)
        else:
            raise TypeError(
                "pathways must be Pathway objects or their to_dict() dictionaries, got "
                f"{type(item).__name__}."
            )
        missing = [key for key in _PATHWAY_KEYS if key not in data]
        if missing:
            raise DossierError(
                f"a pathway lacks {missing}; expected Pathway.to_dict() output with "
                f"{list(_PATHWAY_KEYS)}."
            )
        site_id = str(_plain(data["site_id"]))
        if site_id in out:
            raise DossierError(f"two pathways are for site {site_id!r}; give one per site.")
        out[site_id] = _json_plain(data, f"the pathway of site {site_id!r}")
    return out


def _site_ids(sites: pd.DataFrame, id_column: str) -> list[str]:
    if id_column not in sites.columns:
        raise InvalidLayerError(
            f"the sites have no id column {id_column!r}; they have {list(sites.columns)[:40]}. "
            "Pass id_column=... naming the column that the pathways' site_id refers to."
        )
    ids = [str(_plain(v)) for v in sites[id_column]]
    if len(set(ids)) != len(ids):
        raise InvalidLayerError(
            f"site ids in {id_column!r} must be unique (they name the dossier files)."
        )
    return ids


def _locations(sites: pd.DataFrame, ids: Sequence[str]) -> list[dict[str, Any]]:
    """lon/lat/x/y/crs per site, from the columns or else from the geometry."""
    n = len(sites)
    crs = None
    if isinstance(sites, gpd.GeoDataFrame) and sites.crs is not None:
        crs = sites.crs.to_string()
    columns: dict[str, list[float | None]] = {}
    for name in ("lon", "lat", "x", "y"):
        if name in sites.columns:
            columns[name] = [_number(v) for v in sites[name]]
    has_geometry = isinstance(sites, gpd.GeoDataFrame) and sites.crs is not None
    if has_geometry and ({"x", "y"} - set(columns) or {"lon", "lat"} - set(columns)):
        points = sites.geometry.representative_point()
        if {"x", "y"} - set(columns):
            columns["x"] = [_number(v) for v in points.x]
            columns["y"] = [_number(v) for v in points.y]
        if {"lon", "lat"} - set(columns):
            wgs = points.to_crs("EPSG:4326")
            columns["lon"] = [_number(v) for v in wgs.x]
            columns["lat"] = [_number(v) for v in wgs.y]
    out = []
    for i in range(n):
        values = {name: (columns[name][i] if name in columns else None) for name in columns}
        missing = [k for k in ("lon", "lat", "x", "y") if values.get(k) is None]
        if missing:
            raise InvalidLayerError(
                f"site {ids[i]!r} has no coordinates ({', '.join(missing)} missing or not "
                "finite). Give the sites lon/lat and x/y columns, or point geometries with a CRS."
            )
        location: dict[str, Any] = {k: values[k] for k in ("lon", "lat", "x", "y")}
        location["crs"] = crs
        out.append(location)
    return out


def _licences(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Licence and attribution entries of a manifest, as a list of flat objects."""
    out: list[dict[str, Any]] = []
    for key, field in (("licences", "licence"), ("licenses", "licence"),
                       ("attributions", "attribution")):  # fmt: skip
        value = manifest.get(key)
        if value is None:
            continue
        entries: list[tuple[str | None, Any]]
        if isinstance(value, Mapping):
            entries = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, list | tuple):
            entries = [(None, v) for v in value]
        else:
            entries = [(None, value)]
        for source, entry in entries:
            record: dict[str, Any] = {} if source is None else {"source": source}
            if isinstance(entry, Mapping):
                record.update({str(k): _scalar(v) for k, v in entry.items()})
            else:
                record[field] = _scalar(entry)
            out.append(record)
    return out


def _scalar(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return value


def _inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    inputs = manifest.get("inputs") or {}
    out = []
    for name, entry in sorted(inputs.items()) if isinstance(inputs, Mapping) else []:
        entry = entry if isinstance(entry, Mapping) else {"path": entry}
        size = entry.get("bytes")
        out.append(
            {
                "name": str(name),
                "path": None if entry.get("path") is None else str(entry["path"]),
                "sha256": entry.get("sha256"),
                "bytes": size if isinstance(size, int) and not isinstance(size, bool) else None,
            }
        )
    return out


def _provenance(manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    from siting import __version__

    manifest = manifest or {}
    scenario = manifest.get("scenario")
    name = scenario.get("name") if isinstance(scenario, Mapping) else None
    return {
        "siting_version": _string(manifest.get("siting_version")),
        "dossier_siting_version": __version__,
        "run_created_utc": _string(manifest.get("created_utc")),
        "scenario_name": _string(name),
        "inputs": _inputs(manifest),
        "licences": _licences(manifest),
    }


def _string(value: Any) -> str | None:
    return None if value is None else str(value)


def _scorer_method(manifest: Mapping[str, Any] | None) -> str | None:
    summary = (manifest or {}).get("summary")
    scorer = summary.get("scorer") if isinstance(summary, Mapping) else None
    method = scorer.get("method") if isinstance(scorer, Mapping) else None
    return _string(method)


def _energy(
    row: Mapping[str, Any], cfe: Sequence[str], manifest: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if not cfe:
        return None
    scenario = (manifest or {}).get("scenario")
    assumptions = scenario.get("energy") if isinstance(scenario, Mapping) else None
    return {
        "values": {c: _scalar(row[c]) for c in cfe},
        "assumptions": _json_plain(assumptions, "the manifest's scenario.energy")
        if isinstance(assumptions, Mapping)
        else None,
    }


def _complexity(pathway: Mapping[str, Any]) -> dict[str, Any]:
    """The same numbers as :func:`~siting.permitting.permitting_complexity`, from a dict."""
    low, high = pathway["likely_timeline_months"]
    rank = NEPA_RANK.get(pathway["nepa_level"])
    return {
        "permits_triggered": int(pathway["n_reviews"]),
        "permits_unknown": sum(p.get("status") == "unknown" for p in pathway["permits"]),
        "timeline_months_low": float(low),
        "timeline_months_high": float(high),
        "nepa_rank": rank,
        "layers_not_screened": len(pathway["not_screened"]),
    }


def _permitting(
    pathway: Mapping[str, Any], layers: Mapping[str, Any], rules_version: str | None
) -> dict[str, Any]:
    low, high = pathway["likely_timeline_months"]
    return {
        "rules_version": rules_version,
        "nepa_level": pathway["nepa_level"],
        "lead_agency": pathway["lead_agency"],
        "likely_timeline_months": {
            "low": low,
            "high": high,
            "complete": pathway["timeline_complete"],
            "critical_path": list(pathway["critical_path"]),
        },
        "complexity": _complexity(pathway),
        "permits": list(pathway["permits"]),
        "not_screened": list(pathway["not_screened"]),
        "layer_status": dict(pathway.get("layer_status") or {}),
        "layers": dict(layers),
        "facts": {k: _scalar(v) for k, v in (pathway.get("facts") or {}).items()},
    }


def build_dossiers(
    sites: pd.DataFrame,
    pathways: Iterable[Pathway | Mapping[str, Any]] | Mapping[Any, Pathway | Mapping[str, Any]],
    *,
    manifest: Mapping[str, Any] | None = None,
    layers: Mapping[str, LayerReport | Mapping[str, Any]] | None = None,
    top_contributions: int = 5,
    rules_version: str | None = None,
    id_column: str = "cell_id",
) -> list[dict[str, Any]]:
    """One dossier per site, matched to its permitting pathway, checked against the schema.

    Parameters
    ----------
    sites
        Ranked sites, as a run writes them (``rank``, ``score``, ``cell_id``, ``lon``,
        ``lat``, ``x``, ``y``, feature columns, ``contribution_<feature>``, optionally
        ``score_lower``/``score_upper``, ``p_top_k``, ``contribution_bias``, ``cfe_*`` and a
        ``name``). Missing ``lon``/``lat``/``x``/``y`` are taken from point geometries; a
        missing ``rank`` is the row order.
    pathways
        The sites' :class:`~siting.permitting.Pathway` objects or their ``to_dict()``
        dictionaries (as in a run's ``permitting.json``), or a mapping whose values are
        such. A site is matched by ``str(site[id_column]) == str(pathway.site_id)``;
        pathways of other sites are left out.
    manifest
        The run manifest (``manifest.json``): versions, run time, scenario, inputs with
        sha256, and ``licences``/``attributions`` when it records them.
    layers
        The screening's layer reports by role (``Screening.layers``, or their dicts).
    top_contributions
        How many of the largest score contributions (by magnitude) to list.
    rules_version
        Version of the permitting rules used.
    id_column
        Column of ``sites`` holding the site id.

    Returns
    -------
    list of dict
        Plain JSON-ready dossiers in the order of ``sites``, each valid against
        :func:`dossier_schema`.

    Raises
    ------
    InvalidLayerError
        If the id column is missing, ids repeat, or a site has no coordinates.
    DossierError
        If a site has no pathway, a pathway is malformed, or a dossier does not match the
        schema (a subclass of :class:`~siting.errors.InvalidLayerError`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> from siting.permitting import ProjectFacts, permitting_pathways, screen
    >>> sites = gpd.GeoDataFrame({"cell_id": [7], "rank": [1], "score": [0.8],
    ...                           "slope_pct": [2.0], "contribution_slope_pct": [0.8]},
    ...                          geometry=[Point(-1_800_000, 2_000_000)], crs="EPSG:5070")
    >>> land = gpd.GeoDataFrame({"manager": ["BLM"], "manager_type": ["Federal"]},
    ...                         geometry=[sites.buffer(100).iloc[0]], crs="EPSG:5070")
    >>> screening = screen(sites, {"land_manager": land}, id_column="cell_id")
    >>> pathways = permitting_pathways(screening, ProjectFacts(capacity_mw=5, acres=4))
    >>> [dossier] = build_dossiers(sites, pathways)
    >>> dossier["site"]["id"], dossier["permitting"]["nepa_level"]
    ('7', 'EA')
    >>> dossier["site"]["top_contributions"][0]
    {'feature': 'slope_pct', 'contribution': 0.8, 'value': 2.0, 'units': '%'}
    """
    if isinstance(top_contributions, bool) or not isinstance(top_contributions, int):
        raise TypeError(f"top_contributions must be an int, got {top_contributions!r}")
    if top_contributions < 0:
        raise ValueError(f"top_contributions must be >= 0, got {top_contributions}")
    by_id = _pathway_dicts(pathways)
    ids = _site_ids(sites, id_column)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise DossierError(
            f"{len(missing)} site(s) have no permitting pathway, e.g. {missing[:5]}; pathways "
            f"are for {sorted(by_id)[:5]}{' ...' if len(by_id) > 5 else ''}. Screen every "
            "site and match them by the site id (the run's cell_id as a string)."
        )
    layer_dicts = {
        str(role): (report.to_dict() if isinstance(report, LayerReport) else dict(report))
        for role, report in (layers or {}).items()
    }
    layer_dicts = _json_plain(layer_dicts, "the layer reports")
    locations = _locations(sites, ids)
    method = _scorer_method(manifest)
    provenance = _provenance(manifest)
    geometry = sites.geometry.name if isinstance(sites, gpd.GeoDataFrame) else None
    columns = [str(c) for c in sites.columns if c != geometry]
    contribution = [
        c for c in columns if c.startswith("contribution_") and c != "contribution_bias"
    ]
    cfe = [c for c in columns if c.startswith("cfe_")]
    # Units recorded by the run (from each layer's attrs) win over the column name's.
    recorded_units = {str(k): str(v) for k, v in sites.attrs.get("units", {}).items()}

    def units(feature: str) -> str | None:
        return recorded_units.get(feature) or feature_units(feature)

    features = [
        c
        for c in columns
        if c not in _SITE_COLUMNS and c != id_column and c not in contribution and c not in cfe
    ]
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in sites[columns].to_dict("records")
    ]
    dossiers = []
    for position, (site_id, row, location) in enumerate(zip(ids, records, locations, strict=True)):
        rank = _plain(row.get("rank"))
        for extra in ("row", "col"):
            if isinstance(_plain(row.get(extra)), int):
                location[extra] = _plain(row[extra])
        if "availability" in row:
            location["availability"] = _number(row["availability"])
        parts = []
        for column in contribution:
            value = _number(row[column])
            if value is not None:
                feature = column.removeprefix("contribution_")
                parts.append(
                    {
                        "feature": feature,
                        "contribution": value,
                        "value": _scalar(row.get(feature)),
                        "units": units(feature),
                    }
                )
        parts.sort(key=lambda p: -abs(p["contribution"]))
        lower, upper = _number(row.get("score_lower")), _number(row.get("score_upper"))
        name = _plain(row.get("name"))
        site = {
            "id": site_id,
            "rank": int(rank) if isinstance(rank, int | float) and rank == rank else position + 1,
            "name": None if name is None else str(name),
            "location": location,
            "score": _number(row.get("score")),
            "score_interval": (
                None if lower is None and upper is None else {"lower": lower, "upper": upper}
            ),
            "p_top_k": _number(row.get("p_top_k")),
            "scorer": method,
            "top_contributions": parts[:top_contributions],
            "contribution_bias": _number(row.get("contribution_bias")),
            "features": [
                {"name": f, "value": _scalar(row[f]), "units": units(f)} for f in features
            ],
        }
        pathway = by_id[site_id]
        dossier = {
            "dossier_format": DOSSIER_FORMAT,
            "site": site,
            "permitting": _permitting(pathway, layer_dicts, rules_version),
            "energy": _energy(row, cfe, manifest),
            "provenance": provenance,
            "disclaimer": str(pathway.get("disclaimer") or DISCLAIMER),
        }
        dossier = _json_plain(dossier, f"the dossier of site {site_id!r}")
        validate_dossier(dossier)
        dossiers.append(dossier)
    return dossiers


# -- reading a run folder -------------------------------------------------------------------


def _read_json(path: Path, what: str, fix: str) -> Any:
    if not path.is_file():
        raise LayerIOError(f"{what}: {str(path)!r} does not exist. {fix}")
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerIOError(f"{what}: {str(path)!r} is not readable JSON ({exc}). {fix}") from None


def _read_run(run_dir: PathLike) -> tuple[gpd.GeoDataFrame, dict[str, Any], dict[str, Any]]:
    from siting.datasets._io import read_vector

    run = Path(run_dir).expanduser()
    if not run.is_dir():
        kind = "is not a folder" if run.exists() else "does not exist"
        raise LayerIOError(
            f"run folder {str(run)!r} {kind}. Give the output folder of `siting run` or "
            "`siting demo`."
        )
    if not (run / SITES_NAME).is_file():
        raise LayerIOError(
            f"run folder {str(run)!r} has no {SITES_NAME}: it is not the output folder of a "
            "finished run. Run the scenario with `siting run SCENARIO --out RUN_DIR`, with "
            '"gpkg" in [outputs] formats.'
        )
    sites = read_vector(run / SITES_NAME, f"the ranked sites of {str(run)!r}")
    rerun = (
        "Add a [permitting] section to the scenario and run it again "
        "(`siting run SCENARIO --out RUN_DIR --force`)."
    )
    permitting = _read_json(
        run / PERMITTING_NAME,
        f"run folder {str(run)!r} was not screened for permits (no {PERMITTING_NAME})",
        rerun,
    )
    if not isinstance(permitting, Mapping) or not isinstance(permitting.get("pathways"), list):
        raise LayerIOError(
            f"{str(run / PERMITTING_NAME)!r} has no 'pathways' list; expected "
            '{"rules_version": ..., "disclaimer": ..., "layers": {...}, "pathways": [...]}. '
            + rerun
        )
    manifest = _read_json(
        run / MANIFEST_NAME,
        f"run folder {str(run)!r} has no usable {MANIFEST_NAME} (the run did not finish)",
        "Run the scenario again.",
    )
    if not isinstance(manifest, Mapping):
        raise LayerIOError(f"{str(run / MANIFEST_NAME)!r} is not a JSON object.")
    return sites, dict(permitting), dict(manifest)


def _from_run(
    sites: gpd.GeoDataFrame, permitting: Mapping[str, Any], manifest: Mapping[str, Any]
) -> list[dict[str, Any]]:
    layers = permitting.get("layers") or {}
    if not isinstance(layers, Mapping):
        raise DossierError(f"permitting.json 'layers' must be an object, got {layers!r:.80}.")
    version = permitting.get("rules_version")
    return build_dossiers(
        sites,
        permitting["pathways"],
        manifest=manifest,
        layers=layers,
        rules_version=None if version is None else str(version),
    )


def dossiers_from_run(run_dir: PathLike) -> list[dict[str, Any]]:
    """The dossiers of every ranked site of a run folder.

    The folder must hold ``sites.gpkg`` and ``manifest.json`` (written by every run) and
    ``permitting.json`` (written when the scenario screens for permits):
    ``{"rules_version", "disclaimer", "layers": {role: report}, "pathways": [...]}`` with
    one ``Pathway.to_dict()`` per site whose ``site_id`` is the site's ``cell_id`` as a
    string.

    Parameters
    ----------
    run_dir
        The run's output folder.

    Returns
    -------
    list of dict
        As :func:`build_dossiers`.

    Raises
    ------
    LayerIOError
        If the folder, ``sites.gpkg``, ``permitting.json`` or ``manifest.json`` is missing
        or unreadable (the message says how to produce it).
    DossierError
        If a site has no pathway or a dossier does not match the schema.
    """
    sites, permitting, manifest = _read_run(run_dir)
    return _from_run(sites, permitting, manifest)


# -- writing --------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _file_stem(site_id: str) -> str:
    stem = _SAFE_NAME.sub("_", site_id)
    return f"site_{stem}" if not stem.strip(".") or stem.startswith(".") else stem


def _is_dossier_file(path: Path) -> bool:
    return path.is_file() and (path.name in (_SUMMARY, _GPKG) or path.suffix in (".json", ".html"))


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"output {str(out)!r} is a file, not a folder. Choose another output folder."
        )
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(
                f"output folder {str(out)!r} already exists and is not empty. Choose a new "
                "folder, or pass overwrite=True (--force on the command line) to replace it."
            )
        others = [p.name for p in sorted(out.iterdir()) if not _is_dossier_file(p)]
        if others:
            raise OutputError(
                f"output folder {str(out)!r} holds files that are not dossiers ({others[:5]}), "
                "so it is not replaced even with --force. Choose a folder of its own."
            )


def _summary_row(dossier: Mapping[str, Any]) -> dict[str, Any]:
    site, permitting = dossier["site"], dossier["permitting"]
    complexity = permitting["complexity"]
    return {
        "site_id": site["id"],
        "rank": site["rank"],
        "score": site["score"],
        "nepa_level": permitting["nepa_level"],
        "lead_agency": permitting["lead_agency"],
        "permits_triggered": complexity["permits_triggered"],
        "permits_unknown": complexity["permits_unknown"],
        "timeline_months_low": complexity["timeline_months_low"],
        "timeline_months_high": complexity["timeline_months_high"],
        "timeline_complete": permitting["likely_timeline_months"]["complete"],
        "layers_not_screened": complexity["layers_not_screened"],
        "lon": site["location"]["lon"],
        "lat": site["location"]["lat"],
    }


def write_dossiers(
    dossiers: Sequence[Mapping[str, Any]],
    out_dir: PathLike,
    *,
    sites: gpd.GeoDataFrame,
    overwrite: bool = False,
    id_column: str = "cell_id",
) -> dict[str, Path]:
    """Write the dossiers to a folder, all at once.

    Writes ``<site_id>.json`` and ``<site_id>.html`` per site (characters other than
    letters, digits, ``_``, ``.`` and ``-`` in an id become ``_`` in the file name),
    ``summary.csv`` (one row per site, :data:`SUMMARY_COLUMNS`) and ``dossiers.gpkg`` (one
    layer, ``dossiers``, with the summary columns on the sites' geometries). Everything is
    written into a temporary folder beside ``out_dir`` that is renamed into place at the
    end: on any failure nothing is left, and an earlier folder is kept as it was.

    Parameters
    ----------
    dossiers
        From :func:`build_dossiers` (checked against the schema again).
    out_dir
        The folder to make (its parent is created if needed).
    sites
        The ranked sites the dossiers were built from: their geometries and CRS go into
        the GeoPackage, and the other ranked sites are drawn on each report's map.
    overwrite
        Replace an existing non-empty ``out_dir`` that holds only dossier files.
    id_column
        Column of ``sites`` holding the site id.

    Returns
    -------
    dict of str to Path
        ``"json:<site_id>"`` and ``"html:<site_id>"`` per site, ``"csv"`` and ``"gpkg"``.

    Raises
    ------
    OutputError
        If ``out_dir`` is a file, exists and is not empty without ``overwrite``, holds
        other files, or cannot be written.
    DossierError
        If a dossier does not match the schema, or site ids repeat or collide as file names.
    InvalidLayerError
        If a dossier's site is not among ``sites``.
    """
    out = Path(out_dir).expanduser()
    _check_output(out, overwrite)
    stems: dict[str, str] = {}
    for dossier in dossiers:
        validate_dossier(dossier)
        site_id = dossier["site"]["id"]
        stem = _file_stem(site_id)
        if site_id in stems or stem in stems.values():
            raise DossierError(
                f"site id {site_id!r} repeats, or its file name {stem!r} is taken by another "
                "site; give every site an id of its own."
            )
        stems[site_id] = stem
    ids = _site_ids(sites, id_column)
    position = {site_id: i for i, site_id in enumerate(ids)}
    absent = [s for s in stems if s not in position]
    if absent:
        raise InvalidLayerError(
            f"the sites given have no row for {absent[:5]} (matched on {id_column!r}); pass "
            "the sites the dossiers were built from."
        )
    rows = [_summary_row(d) for d in dossiers]
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    summary = summary.astype({"site_id": "str"})
    geometry = sites.geometry.iloc[[position[d["site"]["id"]] for d in dossiers]]
    layer = gpd.GeoDataFrame(summary, geometry=geometry.to_numpy(), crs=sites.crs)

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # mkdir (not mkdtemp, which makes 0700 folders) keeps the usual permissions.
        stage = out.parent / f".{out.name}.partial-{secrets.token_hex(6)}"
        stage.mkdir()
    except OSError as exc:
        raise OutputError(
            f"output folder {str(out)!r} cannot be created ({exc.strerror or exc}). Choose a "
            "folder you can write to."
        ) from None
    try:
        for dossier in dossiers:
            stem = stems[dossier["site"]["id"]]
            text = json.dumps(dossier, indent=2, ensure_ascii=False, allow_nan=False)
            (stage / f"{stem}.json").write_text(text + "\n", "utf-8")
            (stage / f"{stem}.html").write_text(dossier_html(dossier, dossiers), "utf-8")
        summary.to_csv(stage / _SUMMARY, index=False, lineterminator="\n")
        layer.to_file(stage / _GPKG, driver="GPKG", layer="dossiers", engine="pyogrio")
        _swap_into_place(stage, out)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(
                f"the dossiers could not be written to {str(out)!r} ({exc}); nothing was "
                "left behind. Choose a folder you can write to."
            ) from exc
        raise
    files: dict[str, Path] = {}
    for site_id, stem in stems.items():
        files[f"json:{site_id}"] = out / f"{stem}.json"
        files[f"html:{site_id}"] = out / f"{stem}.html"
    files["csv"] = out / _SUMMARY
    files["gpkg"] = out / _GPKG
    return files


def _swap_into_place(stage: Path, out: Path) -> None:
    """Rename ``stage`` to ``out``; an existing ``out`` is set aside and removed after."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        stage.rename(out)
        return
    old = out.parent / f".{out.name}.old-{secrets.token_hex(6)}"
    out.rename(old)
    try:
        stage.rename(out)
    except BaseException:
        old.rename(out)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(old)


# -- the HTML report ------------------------------------------------------------------------

# Nothing in a report may load or run anything: inline style only, no script, no request.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:62rem;padding:1rem 1.5rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.5rem;margin:.6rem 0 .2rem}
h2{font-size:1.15rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:1.8rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e3e3;vertical-align:top}
th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.disclaimer{border:2px solid #b35900;background:#fff4e5;padding:.6rem .8rem;margin:1rem 0}
.badge{display:inline-block;padding:0 .45rem;border-radius:.2rem;font-size:.85em;font-weight:600}
.triggered{background:#ffe0b2;color:#6b3600}
.unknown{background:#e1e1f7;color:#2c2c7a}
.superseded{background:#eeeeee;color:#555555}
.not_triggered{background:#e3f2e3;color:#1e5c1e}
.permit{border:1px solid #dddddd;border-radius:.3rem;padding:.5rem .8rem;margin:.5rem 0}
.permit ul{margin:.2rem 0 .2rem 1.2rem;padding:0}
.muted{color:#5c5c5c;font-size:.9em}
.bar{display:inline-block;height:.7rem;background:#3b528b}
.bar.neg{background:#b35900}
.map{display:flex;gap:1.2rem;flex-wrap:wrap;align-items:flex-start}
.map svg{border:1px solid #cccccc;background:#fbfbf8;flex:none}
code{font-size:.85em;word-break:break-all}
dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:.4rem 0}
dt{font-weight:600} dd{margin:0}
"""

_STATUS_LABEL = {
    "triggered": "Likely needed",
    "unknown": "Could not be checked",
    "superseded": "Superseded",
    "not_triggered": "Not triggered",
}
_NEPA_LABEL = {
    "none": "no NEPA review (no federal nexus found)",
    "CE": "categorical exclusion (CE)",
    "EA": "environmental assessment (EA)",
    "EIS": "environmental impact statement (EIS)",
    "unknown": "unknown (could not be decided from the layers and facts given)",
}
_LAYER_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _e(value: Any) -> str:
    """Text from data, escaped for HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        size = abs(value)
        if size >= 1000:
            return f"{value:,.0f}"
        if size >= 1:
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{value:.3g}"
    return str(value)


def _value(value: Any, units: str | None = None) -> str:
    """A value (number, text, flag) with its units, escaped."""
    text = _num(value)
    return _e(text if units is None or value is None else f"{text} {units}")


def _distance(metres: float) -> str:
    return f"{metres / 1000:,.2f} km" if metres >= 1000 else f"{metres:,.0f} m"


def _months(months: Sequence[Any]) -> str:
    low, high = months
    return f"{_num(float(low))}–{_num(float(high))} months"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table whose cells are already-escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@functools.cache
def _metres_per_unit(crs: str) -> float | None:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        return None
    if not parsed.is_projected:
        return None
    return float(parsed.axis_info[0].unit_conversion_factor)


def _screen_hits(permitting: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Screening evidence of the site, one entry per (layer, feature), nearest first."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for permit in permitting["permits"]:
        for item in [*permit.get("evidence", ()), *permit.get("context", ())]:
            distance = item.get("distance_m")
            if item.get("source") != "screen" or distance is None or item.get("layer") is None:
                continue
            attributes = item.get("attributes") or {}
            label = attributes.get("name") or attributes.get("code")
            key = (str(item["layer"]), str(item.get("feature_id")))
            if key not in found or distance < found[key]["distance_m"]:
                found[key] = {
                    "layer": key[0],
                    "feature_id": item.get("feature_id"),
                    "label": label,
                    "distance_m": float(distance),
                }
    return sorted(found.values(), key=lambda h: (h["distance_m"], h["layer"]))


def _nice_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``metres``."""
    power = 10.0 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def _map_section(dossier: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> str:
    site = dossier["site"]
    site_id = site["id"]
    location = site["location"]
    hits = _screen_hits(dossier["permitting"])
    rings = [h for h in hits if h["distance_m"] > 0]
    on_site = [h for h in hits if h["distance_m"] == 0]
    extent = max([2000.0, *(1.15 * h["distance_m"] for h in rings)])
    size, centre, radius = 340, 170.0, 150.0
    scale = radius / extent
    colours: dict[str, str] = {}
    for hit in hits:
        colours.setdefault(hit["layer"], _LAYER_COLOURS[len(colours) % len(_LAYER_COLOURS)])
    shapes = [
        f'<rect x="0" y="0" width="{size}" height="{size}" fill="#fbfbf8"/>',
        f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" stroke="#dddddd"/>',
    ]
    neighbours = 0
    factor = _metres_per_unit(location["crs"]) if location.get("crs") else None
    if factor is not None:
        for other in others:
            where = other["site"]["location"]
            if other["site"]["id"] == site["id"] or where.get("crs") != location["crs"]:
                continue
            dx = (where["x"] - location["x"]) * factor
            dy = (where["y"] - location["y"]) * factor
            if math.hypot(dx, dy) > extent:
                continue
            neighbours += 1
            other_rank, other_id = other["site"]["rank"], other["site"]["id"]
            px, py = centre + dx * scale, centre - dy * scale
            shapes.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#9a9a9a">'
                f"<title>{_e(f'rank {other_rank}, site {other_id}')}"
                "</title></circle>"
                f'<text x="{px + 6:.1f}" y="{py + 4:.1f}" font-size="10" fill="#555555">'
                f"#{_e(other['site']['rank'])}</text>"
            )
    legend = []
    for number, hit in enumerate(rings, start=1):
        r = hit["distance_m"] * scale
        colour = colours[hit["layer"]]
        lx, ly = centre + r * math.cos(math.pi / 4), centre - r * math.sin(math.pi / 4)
        name = f"{hit['layer']}: {hit['label'] or 'feature ' + str(hit['feature_id'])}"
        shapes.append(
            f'<circle cx="{centre}" cy="{centre}" r="{r:.1f}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"><title>{_e(name)}, '
            f"{_e(_distance(hit['distance_m']))}</title></circle>"
            f'<text x="{lx + 2:.1f}" y="{ly - 2:.1f}" font-size="11" font-weight="bold" '
            f'fill="{colour}">{number}</text>'
        )
        legend.append(
            f'<li><span style="color:{colour}">&#9679;</span> {number}. '
            f"<strong>{_e(hit['layer'])}</strong>: {_e(hit['label'] or '')} "
            f'<span class="muted">(feature {_e(hit["feature_id"])})</span>, '
            f"{_e(_distance(hit['distance_m']))}</li>"
        )
    for hit in on_site:
        colour = colours[hit["layer"]]
        legend.append(
            f'<li><span style="color:{colour}">&#9632;</span> on the site: '
            f"<strong>{_e(hit['layer'])}</strong>: {_e(hit['label'] or '')} "
            f'<span class="muted">(feature {_e(hit["feature_id"])})</span></li>'
        )
    if on_site:
        shapes.append(
            f'<rect x="{centre - 9}" y="{centre - 9}" width="18" height="18" fill="none" '
            f'stroke="{colours[on_site[0]["layer"]]}" stroke-width="2"/>'
        )
    shapes.append(
        f'<circle cx="{centre}" cy="{centre}" r="6" fill="#d62728" stroke="#ffffff" '
        f'stroke-width="2"><title>{_e(f"site {site_id}")}</title></circle>'
    )
    bar = _nice_length(extent / 2)
    bar_px = bar * scale
    bar_label = f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m"
    shapes.append(
        f'<path d="M12 {size - 14} h{bar_px:.1f}" stroke="#222222" stroke-width="3"/>'
        f'<text x="12" y="{size - 20}" font-size="11">{_e(bar_label)}</text>'
        f'<path d="M{size - 20} 34 v-20 l-5 8 m5 -8 l5 8" stroke="#222222" fill="none"/>'
        f'<text x="{size - 38}" y="48" font-size="10">grid N</text>'
    )
    svg = (
        f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{_e(f"Sketch map of site {site_id}")}">'
        f"<title>{_e(f'Site {site_id} and the screened features near it')}</title>"
        + "".join(shapes)
        + "</svg>"
    )
    notes = (
        '<p class="muted">Red point: the site. Dashed rings: the distance from the site to '
        "each screened feature that entered its permitting evidence (the direction is not "
        f"recorded). Grey points: other ranked sites ({neighbours} within the frame), at "
        "their true positions.</p>"
    )
    items = "".join(legend) or "<li>No screened feature entered this site's evidence.</li>"
    return f'<h2>Map</h2><div class="map">{svg}<div><ul>{items}</ul>{notes}</div></div>'


def _summary_section(dossier: Mapping[str, Any]) -> str:
    permitting = dossier["permitting"]
    timeline = permitting["likely_timeline_months"]
    complexity = permitting["complexity"]
    span = _months([timeline["low"], timeline["high"]])
    if not timeline["complete"]:
        span += " at least (some permits could not be checked, so it may be longer)"
    path = " → ".join(timeline["critical_path"]) or "none"
    rows = [
        ("NEPA review", _e(_NEPA_LABEL.get(permitting["nepa_level"], permitting["nepa_level"]))),
        ("Likely lead agency", _e(permitting["lead_agency"] or "none identified")),
        ("Likely timeline", _e(span)),
        ("Critical path", _e(path)),
        ("Permits likely needed", _e(complexity["permits_triggered"])),
        ("Permits that could not be checked", _e(complexity["permits_unknown"])),
        ("Layers not screened", _e(complexity["layers_not_screened"])),
        ("Rules version", _e(permitting["rules_version"] or "not recorded")),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<h2>Permitting at a glance</h2><dl>{items}</dl>"


def _score_section(dossier: Mapping[str, Any]) -> str:
    site = dossier["site"]
    rows = [("Score", _value(site["score"]))]
    interval = site["score_interval"]
    if interval is not None:
        rows.append(
            ("Score interval", f"{_value(interval['lower'])} to {_value(interval['upper'])}")
        )
    if site["p_top_k"] is not None:
        rows.append(("Rank stability (p_top_k)", _value(site["p_top_k"])))
    meaning = {
        "weighted_overlay": "weighted overlay: contributions add up to the score",
        "site_scorer": "ML site scorer: contributions are log-odds that add up with the bias",
    }
    if site["scorer"] is not None:
        rows.append(("Scorer", _e(meaning.get(site["scorer"], site["scorer"]))))
    if site["contribution_bias"] is not None:
        rows.append(("Bias (baseline log-odds)", _value(site["contribution_bias"])))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    parts = site["top_contributions"]
    largest = max((abs(p["contribution"]) for p in parts), default=0.0) or 1.0
    table = _table(
        ["Feature", "Value", "Contribution", ""],
        [
            (
                _e(p["feature"]),
                _value(p["value"], p["units"]),
                _value(p["contribution"]),
                f'<span class="bar{" neg" if p["contribution"] < 0 else ""}" '
                f'style="width:{8 * abs(p["contribution"]) / largest:.2f}rem"></span>',
            )
            for p in parts
        ],
        {1, 2},
    )
    heading = f"<h3>Top {len(parts)} contributions</h3>" if parts else ""
    return f"<h2>Score</h2><dl>{items}</dl>{heading}{table if parts else ''}"


def _evidence_items(items: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for item in items:
        detail = []
        if item.get("source") == "screen":
            if item.get("layer") is not None:
                detail.append(f"layer {item['layer']}")
            if item.get("feature_id") is not None:
                detail.append(f"feature {item['feature_id']}")
            if item.get("distance_m") is not None:
                detail.append(_distance(float(item["distance_m"])))
        attributes = "; ".join(
            f"{k}: {_num(v)}" for k, v in (item.get("attributes") or {}).items() if v is not None
        )
        out.append(
            f"<li>{_e(item.get('description', ''))}"
            + (f' <span class="muted">({_e(", ".join(detail))})</span>' if detail else "")
            + (f'<br><span class="muted">{_e(attributes)}</span>' if attributes else "")
            + "</li>"
        )
    return "".join(out)


def _permit_card(permit: Mapping[str, Any]) -> str:
    status = str(permit["status"])
    lines = [
        f'<span class="badge {_e(status)}">{_e(_STATUS_LABEL.get(status, status))}</span> '
        f"<strong>{_e(permit['name'])}</strong> "
        f'<span class="muted">({_e(permit["kind"])}, <code>{_e(permit["id"])}</code>)</span>',
        f"<div>Agency: {_e(permit['agency'] or 'not decided')}</div>",
        f"<div>Citation: {_e(permit['citation'])}</div>",
        f"<div>Typical timeline: {_e(_months(permit['timeline_months']))}"
        + (
            f' <span class="muted">({_e(permit["timeline_source"])})</span>'
            if permit.get("timeline_source")
            else ""
        )
        + "</div>",
    ]
    if permit.get("superseded_by"):
        lines.append(f"<div>Replaced by: <code>{_e(permit['superseded_by'])}</code></div>")
    if permit.get("check_locally"):
        lines.append(
            '<div class="muted">Check locally: state, county and utility requirements differ.'
            "</div>"
        )
    if permit.get("evidence"):
        label = "Evidence" if status in ("triggered", "superseded") else "Observed"
        lines.append(f"<div>{label}:<ul>{_evidence_items(permit['evidence'])}</ul></div>")
    if permit.get("context"):
        lines.append(f"<div>Context:<ul>{_evidence_items(permit['context'])}</ul></div>")
    if permit.get("unknown"):
        reasons = "".join(f"<li>{_e(r)}</li>" for r in permit["unknown"])
        lines.append(f"<div>Could not be checked because:<ul>{reasons}</ul></div>")
    if permit.get("notes"):
        lines.append(f'<div class="muted">{_e(permit["notes"])}</div>')
    return f'<div class="permit">{"".join(lines)}</div>'


def _permits_section(dossier: Mapping[str, Any]) -> str:
    permits = dossier["permitting"]["permits"]
    groups = [
        ("triggered", "Likely needed"),
        ("unknown", "Could not be checked (never read as not needed)"),
        ("superseded", "Superseded by a heavier review"),
    ]
    out = ["<h2>Permits checklist</h2>"]
    for status, heading in groups:
        chosen = [p for p in permits if p["status"] == status]
        if chosen:
            cards = "".join(_permit_card(p) for p in chosen)
            out.append(f"<h3>{_e(heading)} ({len(chosen)})</h3>{cards}")
    rest = [p for p in permits if p["status"] == "not_triggered"]
    if rest:
        cards = "".join(_permit_card(p) for p in rest)
        out.append(f"<details><summary>Not triggered ({len(rest)})</summary>{cards}</details>")
    if not permits:
        out.append("<p>The rules listed no permit.</p>")
    return "".join(out)


def _layers_section(dossier: Mapping[str, Any]) -> str:
    permitting = dossier["permitting"]
    missing = permitting["not_screened"]
    out = ["<h2>Screening layers</h2>"]
    if missing:
        out.append(
            "<h3>Not screened: nothing is known here, which is not the same as no concern</h3>"
        )
        out.append(
            _table(
                ["Layer", "Status", "Permits left unknown", "Message"],
                [
                    (
                        _e(n["layer"]),
                        _e(str(n["status"]).replace("_", " ")),
                        _e(", ".join(n["permits"]) or "none"),
                        _e(n.get("message") or ""),
                    )
                    for n in missing
                ],
                set(),
            )
        )
    else:
        out.append("<p>Every layer the rules use was screened.</p>")
    reports = permitting["layers"]
    statuses = permitting["layer_status"]
    rows = []
    for role in dict.fromkeys([*statuses, *reports]):
        report = reports.get(role, {})
        status = statuses.get(role, report.get("status", ""))
        screened = status in ("ok", "empty")
        search = report.get("search_m") if screened else None
        count = report.get("n_features") if screened else None
        rows.append(
            (
                _e(role),
                _e(str(status).replace("_", " ")),
                _e("" if search is None else _distance(float(search))),
                _e("" if count is None else count),
                _e(report.get("source") or ""),
                _e(report.get("message") or ""),
            )
        )
    if rows:
        out.append("<h3>All layers</h3>")
        out.append(
            _table(
                ["Layer", "Status", "Search distance", "Features", "Source", "Note"], rows, {2, 3}
            )
        )
    return "".join(out)


def _energy_section(dossier: Mapping[str, Any]) -> str:
    energy = dossier["energy"]
    if energy is None:
        return "<h2>Energy fit</h2><p>The run did not compute the 24/7 clean-energy fit.</p>"
    rows = [
        (_e(k.removeprefix("cfe_").replace("_", " ")), _value(v))
        for k, v in energy["values"].items()
    ]
    out = ["<h2>Energy fit (24/7 clean energy)</h2>", _table(["Measure", "Value"], rows, {1})]
    if energy["assumptions"]:
        items = "".join(
            f"<dt>{_e(k)}</dt><dd>{_value(v)}</dd>" for k, v in energy["assumptions"].items()
        )
        out.append(f"<h3>Assumptions (scenario [energy])</h3><dl>{items}</dl>")
    return "".join(out)


def _features_section(dossier: Mapping[str, Any]) -> str:
    features = dossier["site"]["features"]
    rows = [(_e(f["name"]), _value(f["value"]), _e(f["units"] or "")) for f in features]
    facts = dossier["permitting"]["facts"]
    fact_rows = [(_e(k), _value(v)) for k, v in facts.items()]
    return (
        "<h2>Site features</h2>"
        + (_table(["Feature", "Value", "Units"], rows, {1}) if rows else "<p>None.</p>")
        + "<h3>Project facts (given and derived)</h3>"
        + (_table(["Fact", "Value"], fact_rows, {1}) if fact_rows else "<p>None given.</p>")
    )


def _provenance_section(dossier: Mapping[str, Any]) -> str:
    p = dossier["provenance"]
    rows = [
        ("Scenario", p["scenario_name"] or "not recorded"),
        ("Run made with siting", p["siting_version"] or "not recorded"),
        ("Run time (UTC)", p["run_created_utc"] or "not recorded"),
        ("Dossier made with siting", p["dossier_siting_version"]),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    inputs = _table(
        ["Input", "Path", "SHA-256", "Bytes"],
        [
            (
                _e(i["name"]),
                f"<code>{_e(i['path'] or '')}</code>",
                f"<code>{_e(i['sha256'] or '')}</code>",
                _value(i.get("bytes")),
            )
            for i in p["inputs"]
        ],
        {3},
    )
    licences = "".join(
        "<li>"
        + "; ".join(f"{_e(k)}: {_e(_num(v))}" for k, v in entry.items() if v is not None)
        + "</li>"
        for entry in p["licences"]
    )
    return (
        f"<h2>Data provenance</h2><dl>{items}</dl>"
        + (f"<h3>Inputs</h3>{inputs}" if p["inputs"] else "<p>No inputs recorded.</p>")
        + "<h3>Licences and attributions</h3>"
        + (f"<ul>{licences}</ul>" if licences else "<p>The run manifest records none.</p>")
    )


def dossier_html(dossier: Mapping[str, Any], others: Sequence[Mapping[str, Any]] = ()) -> str:
    """One dossier as a self-contained HTML report.

    Inline CSS and SVG only: no script, no external asset, no network request (a
    Content-Security-Policy says so too), so the report opens offline. Every text that
    comes from data is escaped with :func:`html.escape`.

    Parameters
    ----------
    dossier
        From :func:`build_dossiers`.
    others
        The other sites' dossiers, drawn on the map when they are within its frame.

    Returns
    -------
    str
    """
    site = dossier["site"]
    title = f"Site {site['id']}, rank {site['rank']}"
    if site["name"]:
        title += f": {site['name']}"
    location = site["location"]
    where = (
        f"lon {location['lon']:.5f}, lat {location['lat']:.5f} (WGS84); "
        f"x {location['x']:,.1f}, y {location['y']:,.1f} ({location['crs'] or 'CRS unknown'})"
    )
    disclaimer = f'<div class="disclaimer"><strong>{_e(dossier["disclaimer"])}</strong></div>'
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{_e(where)}</p>',
        disclaimer,
        _summary_section(dossier),
        _map_section(dossier, others),
        _score_section(dossier),
        _permits_section(dossier),
        _layers_section(dossier),
        _energy_section(dossier),
        _features_section(dossier),
        _provenance_section(dossier),
        "<h2>Disclaimer</h2>",
        disclaimer,
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
