"""A planner ranks edge-compute sites for a region from Python, then tries other weights.

Usage: python examples/rank_sample_sites.py OUTPUT_DIR

Writes the synthetic sample region's files into OUTPUT_DIR/inputs, builds a scenario in
Python (no TOML file), ranks the region's sites with it (OUTPUT_DIR/baseline), ranks them
again with weights that favour the grid connection (OUTPUT_DIR/grid_first), and compares
the two rankings (OUTPUT_DIR/comparison.csv). Runs offline in about half a minute.
The tutorial docs/tutorials/planner.md explains each step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import siting
from siting.datasets import load_sample
from siting.scenario import (
    ContiguitySpec,
    CriterionSpec,
    DistanceFeatureSpec,
    GridSpec,
    LatencyFeatureSpec,
    LayerSpec,
    OutputSpec,
    RankingSpec,
    RasterizeSpec,
    RegionSpec,
    RuleSpec,
    Scenario,
    ScorerSpec,
    VectorSpec,
)


# --8<-- [start:inputs]
def write_inputs(folder: Path) -> Path:
    """The sample region as files: five GeoTIFFs and one GeoPackage of vector layers."""
    load_sample().write(folder)
    return folder


# --8<-- [end:inputs]


# --8<-- [start:scenario]
def build_scenario(inputs: Path) -> Scenario:
    """The whole analysis as one validated value: what to read, exclude, measure and score."""
    vectors_file = "sample_vectors.gpkg"
    return Scenario(
        name="Sample Basin: edge-compute sites",
        base_dir=inputs,  # relative paths below resolve against this folder
        region=RegionSpec(path=vectors_file, layer="region"),
        grid=GridSpec(crs="EPSG:5070", resolution_m=250),  # equal-area, 250 m cells
        layers={
            "ghi_kwh_m2_day": LayerSpec(path="ghi_kwh_m2_day.tif", kind="continuous"),
            "heat_flow_mw_m2": LayerSpec(path="heat_flow_mw_m2.tif", kind="continuous"),
            "slope_pct": LayerSpec(path="slope_pct.tif", kind="continuous", resampling="average"),
        },
        vectors={
            name: VectorSpec(path=vectors_file, layer=name)
            for name in ("federal_land", "substations", "transmission_lines", "towns")
        },
        rasterize={
            "gap_status": RasterizeSpec(
                vector="federal_land", column="gap_status", kind="categorical"
            ),
        },
        rules=[
            # protected land (GAP 1-2) is excluded; land without a GAP status is not
            RuleSpec(layer="gap_status", exclude_values=[1, 2], nodata="ignore"),
            # steep ground is excluded, and so is ground of unknown slope
            RuleSpec(layer="slope_pct", include_range=(0, 10), nodata="exclude"),
            # keep 150 m from the conductors
            RuleSpec(
                vector="transmission_lines",
                setback_m=150,
                exempt_from_contiguity=True,
                name="150 m from transmission lines",
            ),
        ],
        contiguity=ContiguitySpec(min_area_km2=1.0),
        features={
            "distance_to_substation_km": DistanceFeatureSpec(vector="substations"),
            "people_within_2ms": LatencyFeatureSpec(
                kind="population_within_latency", vector="towns", budget_ms=2.0
            ),
        },
        scorer=ScorerSpec(
            method="weighted_overlay",
            criteria={
                "ghi_kwh_m2_day": CriterionSpec(weight=3, better="higher", range=(5.0, 6.5)),
                "heat_flow_mw_m2": CriterionSpec(weight=2, better="higher", range=(60, 200)),
                "distance_to_substation_km": CriterionSpec(
                    weight=3, better="lower", range=(0, 30)
                ),
                "people_within_2ms": CriterionSpec(weight=2, better="higher", range=(0, 30_000)),
                "slope_pct": CriterionSpec(weight=1, better="lower", range=(0, 10)),
            },
        ),
        ranking=RankingSpec(top_n=10, min_spacing_km=5),
        outputs=OutputSpec(formats=["gpkg", "csv"]),
    )


# --8<-- [end:scenario]


# --8<-- [start:reweight]
def reweighted(scenario: Scenario, weights: dict[str, float], name: str) -> Scenario:
    """A copy of ``scenario`` with new criterion weights (scenarios are immutable values)."""
    criteria = {
        column: spec.model_copy(update={"weight": weights.get(column, spec.weight)})
        for column, spec in scenario.scorer.criteria.items()
    }
    scorer = scenario.scorer.model_copy(update={"criteria": criteria})
    # model_copy skips validation: validate the new scenario as a whole before running it
    return Scenario.model_validate(
        scenario.model_copy(update={"name": name, "scorer": scorer}).model_dump()
    )


# --8<-- [end:reweight]


# --8<-- [start:compare]
def compare(first: pd.DataFrame, second: pd.DataFrame, *, same_site_m: float = 1_000):
    """Both rankings side by side; two sites closer than ``same_site_m`` are the same place.

    One row per site of ``first`` (with the rank of the nearest site of ``second``, if that
    is within ``same_site_m``), then the sites only ``second`` ranked.
    """
    gap = np.hypot(
        first["x"].to_numpy()[:, None] - second["x"].to_numpy()[None, :],
        first["y"].to_numpy()[:, None] - second["y"].to_numpy()[None, :],
    )
    nearest, metres = gap.argmin(axis=1), gap.min(axis=1)
    matched = metres <= same_site_m
    table = pd.DataFrame(
        {
            "rank_baseline": first["rank"].to_numpy(),
            "rank_grid_first": np.where(matched, second["rank"].to_numpy()[nearest], np.nan),
            "km_to_nearest_grid_first_site": metres / 1000,
            "score_baseline": first["score"].to_numpy(),
            "lon": first["lon"].to_numpy(),
            "lat": first["lat"].to_numpy(),
        }
    )
    only_second = second.iloc[np.setdiff1d(np.arange(len(second)), nearest[matched])]
    table = pd.concat(
        [
            table,
            pd.DataFrame(
                {
                    "rank_grid_first": only_second["rank"].to_numpy(),
                    "lon": only_second["lon"].to_numpy(),
                    "lat": only_second["lat"].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )
    ranks = ["rank_baseline", "rank_grid_first"]
    table[ranks] = table[ranks].astype("Int64")  # whole numbers, <NA> when not ranked
    table["rank_change"] = table["rank_baseline"] - table["rank_grid_first"]  # > 0: moved up
    return table


# --8<-- [end:compare]


def main(out: Path) -> None:
    # --8<-- [start:run]
    scenario = build_scenario(write_inputs(out / "inputs"))
    baseline = siting.run(scenario, out_dir=out / "baseline", overwrite=True)

    print(
        baseline.exclusions[["rule", "excluded_alone_km2", "available_km2"]].to_string(index=False)
    )
    contributions = [c for c in baseline.sites.columns if c.startswith("contribution_")]
    print(
        baseline.sites[["rank", "score", "p_top_k", *contributions]].head(5).to_string(index=False)
    )
    # --8<-- [end:run]

    # --8<-- [start:second-run]
    grid_first = reweighted(
        scenario,
        {"distance_to_substation_km": 6, "ghi_kwh_m2_day": 2},
        name="Sample Basin: grid connection first",
    )
    second = siting.run(grid_first, out_dir=out / "grid_first", overwrite=True)

    table = compare(baseline.sites, second.sites)
    table.to_csv(out / "comparison.csv", index=False)
    kept = int((table["rank_baseline"].notna() & table["rank_grid_first"].notna()).sum())
    print(f"{kept} of {len(baseline.sites)} baseline sites are still ranked with grid first")
    print(table.to_string(index=False, float_format="{:.3f}".format))
    # --8<-- [end:second-run]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
