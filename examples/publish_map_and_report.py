"""An agency publishes ranked sites: an offline map, a plain report and the GIS files.

Usage: python examples/publish_map_and_report.py OUTPUT_DIR

Runs the demo scenario on the synthetic sample region (OUTPUT_DIR/run), then assembles a
folder to publish, OUTPUT_DIR/publish: a self-contained interactive map (map.html, opens
with no network), a static map for print (map.png, map.pdf), a one-page report
(report.html: method, exclusions, ranked sites, data sources with checksums), the ranked
sites for GIS (sites.gpkg, sites.csv) and the run's manifest; and the same folder zipped
(OUTPUT_DIR/publish.zip) for sending.
The tutorial docs/tutorials/agency.md explains each step.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

import siting
from siting.datasets import SYNTHETIC_NOTICE, write_demo_inputs
from siting.maps import (
    data_attributions,
    result_overlays,
    save_map,
    save_static_map,
    site_map,
    static_map,
)
from siting.scenario import Scenario

#: Columns of the report's site table, in order, with their headings.
REPORT_COLUMNS = {
    "rank": "Rank",
    "score": "Score (0-1)",
    "lat": "Latitude",
    "lon": "Longitude",
    "ghi_kwh_m2_day": "Solar (kWh/m²/day)",
    "distance_to_substation_km": "Substation (km)",
    "people_within_2ms": "People within 2 ms",
    "permit_nepa_level": "Likely NEPA level",
    "p_top_k": "Rank stability",
}


# --8<-- [start:run]
def run_scenario(out: Path) -> tuple[siting.Result, gpd.GeoDataFrame]:
    """Rank the sites and return the result with the region's outline."""
    scenario = Scenario.from_toml(write_demo_inputs(out / "inputs"))
    # The map is made below with our own title; the run writes the tables and manifest.
    scenario = scenario.model_copy(
        update={"outputs": scenario.outputs.model_copy(update={"formats": ["gpkg", "csv"]})}
    )
    result = siting.run(scenario, out_dir=out / "run", overwrite=True)
    region = siting.pipeline.read_vector(
        scenario.resolve(scenario.region.path), layer=scenario.region.layer
    )
    return result, region


# --8<-- [end:run]


# --8<-- [start:map]
def publish_map(result: siting.Result, region: gpd.GeoDataFrame, path: Path) -> Path:
    """An interactive map that opens on a machine with no network access."""
    fmap = site_map(
        result.sites,
        context={  # drawn under the sites, each with its own toggle
            "federal land": result.context["federal_land"],
            "transmission lines": result.context["transmission_lines"],
            "substations": result.context["substations"],
            "towns": result.context["towns"],
        },
        region=region,  # the region's outline is the basemap: no tiles to download
        # Rasters under the sites, each a toggle with its own colour bar: the score of every
        # available cell (shown first) and the land left after the exclusion rules.
        overlays=result_overlays(result, ["score", "availability"]),
        title="Candidate edge-compute sites, Sample Basin (SYNTHETIC DATA)",
    )
    save_map(fmap, path)  # Leaflet inlined; refuses to save a map that links remote files
    remote = re.findall(r"""(?:src|href)=["']https?://""", path.read_text(encoding="utf-8"))
    if remote:
        raise RuntimeError(f"{path} links {len(remote)} remote file(s)")
    return path


# --8<-- [end:map]


# --8<-- [start:static]
def publish_static_maps(
    result: siting.Result, region: gpd.GeoDataFrame, manifest: dict[str, Any], folder: Path
) -> list[Path]:
    """The same sites as a printable map, over the score raster: PNG and PDF."""
    figure = static_map(
        result.sites,
        score_raster=result.raster("score"),  # every available cell's score
        context={
            name: result.context[name]
            for name in ("federal_land", "transmission_lines", "substations", "towns")
        },
        region=region,
        title="Candidate edge-compute sites, Sample Basin (SYNTHETIC DATA)",
        attributions=data_attributions(manifest=manifest),  # the credit line of each input
    )
    return [save_static_map(figure, folder / name) for name in ("map.png", "map.pdf")]


# --8<-- [end:static]


# --8<-- [start:report]
def _table(frame: pd.DataFrame) -> str:
    """An HTML table; to_html escapes every value."""
    return frame.to_html(index=False, border=0, na_rep="", float_format="{:,.3f}".format)


def report_html(result: siting.Result, manifest: dict[str, Any]) -> str:
    """One self-contained page: what was done, what was excluded, what came out, from what."""
    scenario = result.scenario
    sites = result.sites[[c for c in REPORT_COLUMNS if c in result.sites.columns]]
    if "people_within_2ms" in sites:
        sites = sites.astype({"people_within_2ms": "Int64"})  # whole people
    sites = sites.rename(columns=REPORT_COLUMNS)
    exclusions = result.exclusions.rename(
        columns={
            "rule": "Rule",
            "excluded_alone_km2": "Excluded by this rule alone (km²)",
            "excluded_in_sequence_km2": "Excluded in sequence (km²)",
            "available_km2": "Still available (km²)",
        }
    )
    inputs = pd.DataFrame(
        [
            {"Input": name, "File": Path(entry["path"]).name, "SHA-256": entry["sha256"]}
            for name, entry in sorted(manifest["inputs"].items())
        ]
    )
    weights = manifest["summary"]["scorer"].get("weights", {})
    criteria = "".join(
        f"<li>{html.escape(name)}: weight {weight:.2f}</li>"
        for name, weight in sorted(weights.items(), key=lambda kv: -kv[1])
    )
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(scenario.name)}</title>
<style>
body {{ font: 14px/1.45 sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.notice {{ border: 2px solid #b00; padding: 0.5em 1em; background: #fff4f4; }}
</style></head><body>
<h1>{e(scenario.name)}</h1>
<p class="notice"><b>{e(SYNTHETIC_NOTICE)}</b></p>
<p>Run on {e(manifest["created_utc"])} with siting {e(manifest["siting_version"])}.
Analysis grid: {e(manifest["summary"]["crs"])}, {manifest["summary"]["resolution_m"]:g} m
cells. {manifest["summary"]["cells_available"]:,} cells remained available after the
exclusions; the {len(result.sites)} best sites at least
{scenario.ranking.min_spacing_km:g} km apart are listed below.
Interactive map: <a href="map.html">map.html</a>.
Printable map: <a href="map.pdf">map.pdf</a>. GIS files: <a href="sites.gpkg">sites.gpkg</a>,
<a href="sites.csv">sites.csv</a>. Full provenance: <a href="manifest.json">manifest.json</a>.</p>
<p><img src="map.png" alt="Map of the ranked sites over the score" style="max-width:100%"></p>
<h2>Exclusions</h2>
{_table(exclusions)}
<h2>Scoring</h2>
<p>Weighted overlay; each criterion is scaled to 0-1 and weighted:</p><ul>{criteria}</ul>
<p>Rank stability is the share of runs with perturbed weights in which the site is still
selected.</p>
<h2>Ranked sites</h2>
{_table(sites)}
<h2>Data sources</h2>
{_table(inputs)}
<p>Permitting levels are screening results, not legal determinations.</p>
</body></html>
"""


# --8<-- [end:report]


def main(out: Path) -> None:
    # --8<-- [start:publish]
    result, region = run_scenario(out)
    publish = out / "publish"
    if publish.exists():
        shutil.rmtree(publish)
    publish.mkdir(parents=True)
    publish_map(result, region, publish / "map.html")

    manifest = json.loads(result.files["manifest"].read_text(encoding="utf-8"))
    publish_static_maps(result, region, manifest, publish)
    (publish / "report.html").write_text(report_html(result, manifest), encoding="utf-8")
    for name in ("gpkg", "csv", "manifest"):
        shutil.copy2(result.files[name], publish / result.files[name].name)

    archive = shutil.make_archive(str(out / "publish"), "zip", root_dir=publish)
    print(f"published {', '.join(sorted(p.name for p in publish.iterdir()))}")
    print(f"archive: {archive}")
    # --8<-- [end:publish]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
