"""A developer feeds per-site permitting dossiers into a permitting workflow.

Usage: python examples/permitting_workflow.py OUTPUT_DIR

Runs the demo scenario on the synthetic sample region with permit screening
(OUTPUT_DIR/run), writes a dossier per ranked site from the run folder (OUTPUT_DIR/dossiers),
reads the dossier JSON back and checks it against the published JSON Schema, sorts the
sites by likely NEPA level (OUTPUT_DIR/by_nepa_level.csv), exports one row per site and
permit for a tracker (OUTPUT_DIR/tracker.csv), and re-screens the sites for a bigger,
taller project (OUTPUT_DIR/dossiers_tall). The tutorial docs/tutorials/permitting.md
explains each step.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import jsonschema
import pandas as pd

import siting
from siting.datasets import write_demo_inputs
from siting.permitting import (
    ProjectFacts,
    build_dossiers,
    dossier_schema,
    dossiers_from_run,
    permitting_pathways,
    screen,
    validate_dossier,
    write_dossiers,
)
from siting.scenario import Scenario

#: Columns of the tracker export, one row per site and permit.
TRACKER_COLUMNS = [
    "site_id", "rank", "lon", "lat", "permit_id", "permit", "kind", "status", "agency",
    "months_low", "months_high", "on_critical_path", "evidence", "citation",
]  # fmt: skip


# --8<-- [start:run]
def run_with_screening(out: Path) -> Path:
    """Rank the sample region's sites and screen them for permits; return the run folder.

    The demo scenario's ``[permitting]`` section screens land management and airports and
    states the project facts; the run writes ``permitting.json`` beside ``sites.gpkg``.
    """
    scenario = Scenario.from_toml(write_demo_inputs(out / "inputs"))
    tables_only = scenario.outputs.model_copy(update={"formats": ["gpkg", "csv"]})
    scenario = scenario.model_copy(update={"outputs": tables_only})
    siting.run(scenario, out_dir=out / "run", overwrite=True)
    return out / "run"


# --8<-- [end:run]


# --8<-- [start:write]
def write_run_dossiers(run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """A dossier per ranked site of a finished run: JSON, HTML report, summary CSV, GPKG."""
    dossiers = dossiers_from_run(run_dir)  # reads sites.gpkg, permitting.json, manifest.json
    sites = gpd.read_file(run_dir / "sites.gpkg")
    return write_dossiers(dossiers, out_dir, sites=sites, overwrite=True)


# --8<-- [end:write]


# --8<-- [start:read]
def read_dossiers(folder: Path) -> list[dict[str, Any]]:
    """Every ``<site_id>.json`` of a dossier folder, checked against the published schema."""
    # The same schema file ships in the package (siting/permitting/dossier.schema.json);
    # any JSON Schema (draft 2020-12) validator, in any language, can check the files.
    validator = jsonschema.Draft202012Validator(dossier_schema())
    dossiers = []
    for path in sorted(folder.glob("*.json")):
        dossier = json.loads(path.read_text(encoding="utf-8"))
        validator.validate(dossier)  # raises jsonschema.ValidationError on a bad file
        validate_dossier(dossier)  # the library's check: the same schema, clearer messages
        dossiers.append(dossier)
    return sorted(dossiers, key=lambda d: d["site"]["rank"])


# --8<-- [end:read]


# --8<-- [start:nepa]
NEPA_ORDER = ["none", "CE", "EA", "EIS"]  # lightest to heaviest federal review


def by_nepa_level(dossiers: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per site: its likely NEPA level, lead agency and timeline, lightest first."""
    rows = [
        {
            "site_id": d["site"]["id"],
            "rank": d["site"]["rank"],
            "score": d["site"]["score"],
            "nepa_level": d["permitting"]["nepa_level"],
            "lead_agency": d["permitting"]["lead_agency"],
            "months_low": d["permitting"]["likely_timeline_months"]["low"],
            "months_high": d["permitting"]["likely_timeline_months"]["high"],
            "timeline_complete": d["permitting"]["likely_timeline_months"]["complete"],
            "layers_not_screened": ", ".join(n["layer"] for n in d["permitting"]["not_screened"]),
        }
        for d in dossiers
    ]
    table = pd.DataFrame(rows)
    table["nepa_level"] = pd.Categorical(table["nepa_level"], NEPA_ORDER, ordered=True)
    return table.sort_values(["nepa_level", "rank"]).reset_index(drop=True)


# --8<-- [end:nepa]


# --8<-- [start:tracker]
def tracker_rows(dossiers: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per site and permit that is triggered or could not be checked (unknown)."""
    rows = []
    for d in dossiers:
        permitting = d["permitting"]
        critical = set(permitting["likely_timeline_months"]["critical_path"])
        for permit in permitting["permits"]:
            if permit["status"] not in ("triggered", "unknown"):
                continue  # not triggered, or superseded by a heavier review
            low, high = permit["timeline_months"] or (None, None)
            rows.append(
                {
                    "site_id": d["site"]["id"],
                    "rank": d["site"]["rank"],
                    "lon": d["site"]["location"]["lon"],
                    "lat": d["site"]["location"]["lat"],
                    "permit_id": permit["id"],
                    "permit": permit["name"],
                    "kind": permit["kind"],
                    "status": permit["status"],
                    "agency": permit["agency"],
                    "months_low": low,
                    "months_high": high,
                    "on_critical_path": permit["id"] in critical,
                    "evidence": "; ".join(e["description"] for e in permit["evidence"]),
                    "citation": permit["citation"],
                }
            )
    return pd.DataFrame(rows, columns=TRACKER_COLUMNS)


# --8<-- [end:tracker]


# --8<-- [start:what-if]
def rescreen(run_dir: Path, facts: ProjectFacts, out_dir: Path) -> list[dict[str, Any]]:
    """The same sites, screened again for a different project, written as new dossiers."""
    sites = gpd.read_file(run_dir / "sites.gpkg")
    vectors = run_dir.parent / "inputs" / "sample_vectors.gpkg"
    layers = {  # screening roles: the shipped rules know these and more
        "land_manager": gpd.read_file(vectors, layer="federal_land").to_crs(sites.crs),
        "airports": gpd.read_file(vectors, layer="airports").to_crs(sites.crs),
        "wetlands": None,  # not provided: reported as not screened, never "no concern"
    }
    keyed = sites.assign(site_id=sites["cell_id"].astype(str))
    screening = screen(keyed, layers, id_column="site_id")
    pathways = permitting_pathways(screening, facts)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    dossiers = build_dossiers(sites, pathways, manifest=manifest, layers=screening.layers)
    write_dossiers(dossiers, out_dir, sites=sites, overwrite=True)
    return dossiers


def triggered(dossiers: list[dict[str, Any]], permit_id: str) -> int:
    """How many of the dossiers' sites trigger a permit."""
    return sum(
        any(
            p["id"] == permit_id and p["status"] == "triggered" for p in d["permitting"]["permits"]
        )
        for d in dossiers
    )


# --8<-- [end:what-if]


def main(out: Path) -> None:
    # --8<-- [start:main]
    run_dir = run_with_screening(out)
    files = write_run_dossiers(run_dir, out / "dossiers")
    print(f"wrote {len(files)} files to {out / 'dossiers'}")

    dossiers = read_dossiers(out / "dossiers")
    levels = by_nepa_level(dossiers)
    levels.to_csv(out / "by_nepa_level.csv", index=False)
    print(levels.to_string(index=False))
    light = levels[levels["nepa_level"].isin(["none", "CE"])]
    print(f"{len(light)} of {len(levels)} sites likely need no NEPA review or only a CE")

    tracker = tracker_rows(dossiers)
    tracker.to_csv(out / "tracker.csv", index=False)
    print(f"tracker.csv: {len(tracker)} rows; by status {dict(Counter(tracker['status']))}")

    tall = ProjectFacts(capacity_mw=40, acres=30, structure_height_ft=210, state="NV")
    bigger = rescreen(run_dir, tall, out / "dossiers_tall")
    print(
        f"FAA notice (Form 7460-1) at {triggered(dossiers, 'faa_form_7460_1')} of "
        f"{len(dossiers)} sites for the 60 ft design, at {triggered(bigger, 'faa_form_7460_1')} "
        "for a 210 ft structure"
    )
    # --8<-- [end:main]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
