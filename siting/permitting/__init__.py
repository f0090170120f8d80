"""Permitting: screening with evidence, likely reviews and permits, timelines.

- :mod:`~siting.permitting.screening`: :func:`screen` sites against permitting layers
  (land manager, critical habitat, wetlands, historic places, tribal lands, flood zones,
  airports, or your own), with a status per layer (``ok``, ``empty``, ``not_provided``,
  ``failed``) and every hit's evidence;
- :mod:`~siting.permitting.rules`: the rules as data (the shipped ``rules.toml``, which
  :func:`load_rules` reads, overrides and extends);
- :mod:`~siting.permitting.conditions`: the small interpreter of the rules' conditions
  (plain data, never evaluated as code);
- :mod:`~siting.permitting.facts`: :class:`ProjectFacts` and the facts derived from the
  screening (federal land, federal nexus, the FAA notice surfaces of 14 CFR 77.9);
- :mod:`~siting.permitting.pathway`: :func:`permitting_pathway` per site (triggered,
  unknown and superseded permits with evidence, NEPA level, lead agency, critical-path
  timeline) and :func:`permitting_complexity`, a feature for scoring and ranking;
- :mod:`~siting.permitting.dossier`: per-site dossiers (:func:`build_dossiers`,
  :func:`dossiers_from_run`, :func:`write_dossiers`): JSON checked against the published
  schema ``dossier.schema.json``, a self-contained HTML report, a CSV summary, a GeoPackage.

Screening is not a legal determination; see ``docs/permitting.md``.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point, box
>>> from siting.permitting import ProjectFacts, permitting_pathway, screen
>>> site = gpd.GeoDataFrame({"name": ["Mesa"]}, geometry=[Point(50, 50)], crs="EPSG:5070")
>>> wetlands = gpd.GeoDataFrame({"ATTRIBUTE": ["PEM1C"]}, geometry=[box(0, 0, 100, 100)],
...                             crs="EPSG:5070")
>>> screening = screen(site, {"wetlands": wetlands, "land_manager": None}, id_column="name")
>>> pathway = permitting_pathway(screening, ProjectFacts(capacity_mw=2, acres=3))
>>> pathway.status("cwa_section_404"), pathway.permit("cwa_section_404").evidence[0].layer
('triggered', 'wetlands')
>>> [n.layer for n in pathway.not_screened][:3]
['land_manager', 'critical_habitat', 'historic_places']
"""

from __future__ import annotations

from siting.permitting.conditions import Evidence
from siting.permitting.dossier import (
    DossierError,
    build_dossiers,
    dossier_html,
    dossier_schema,
    dossiers_from_run,
    validate_dossier,
    write_dossiers,
)
from siting.permitting.facts import FactSpec, ProjectFacts, exceeds_notice_surface
from siting.permitting.pathway import (
    DISCLAIMER,
    NotScreened,
    Pathway,
    PermitOutcome,
    permitting_complexity,
    permitting_pathway,
    permitting_pathways,
)
from siting.permitting.rules import AgencyChoice, PermitRule, Rules, load_rules
from siting.permitting.screening import (
    ROLES,
    Hit,
    LayerReport,
    Screening,
    ScreeningLayer,
    read_screening_layer,
    screen,
)

__all__ = [
    "DISCLAIMER",
    "ROLES",
    "AgencyChoice",
    "DossierError",
    "Evidence",
    "FactSpec",
    "Hit",
    "LayerReport",
    "NotScreened",
    "Pathway",
    "PermitOutcome",
    "PermitRule",
    "ProjectFacts",
    "Rules",
    "Screening",
    "ScreeningLayer",
    "build_dossiers",
    "dossier_html",
    "dossier_schema",
    "dossiers_from_run",
    "exceeds_notice_surface",
    "load_rules",
    "permitting_complexity",
    "permitting_pathway",
    "permitting_pathways",
    "read_screening_layer",
    "screen",
    "validate_dossier",
    "write_dossiers",
]
