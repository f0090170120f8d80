"""Is the ML scorer worth it? An honest check on real US solar plants.

Usage: python examples/validate_scorer_eia860.py [SHARED_DATA] [--out REPORT.md]

Presences are the operating utility-scale solar plants of EIA-860 (PyPSA-USA's
``eia_plants.csv``); background points are NREL's ReEDS rural utility-PV supply points, that
is land reV found eligible for PV, so the background is "where a plant could have gone".
Every point gets the same three features:

- ``pv_resource_class``: the ReEDS PV resource class (1..7 here; higher is sunnier) of the
  nearest supply point;
- ``supply_capacity_mw``: reV's developable PV capacity at that supply point (how much
  eligible land there is);
- ``distance_to_other_plant_km``: the distance to the nearest plant that is not a solar
  plant (a proxy for roads, substations and lines).

Location itself (latitude, longitude, state or region codes) is deliberately *not* a
feature: with it a model learns where plants already cluster, which random folds reward
and spatial folds expose.

The same spatial folds (blocks sized from the features' variogram range) and, for contrast,
random folds score five models: the ML :class:`~siting.scoring.SiteScorer`, a MaxEnt model
(``elapid``, the standard presence-background baseline of species distribution modelling),
the :class:`~siting.scoring.WeightedOverlay` MCDA baseline with hand-set weights, the
resource class alone, and a constant score (the trivial baseline: ROC-AUC 0.5).

The data (``../shared/data`` in the repository's layout) is not shipped with the library;
the script stops with a message when it is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siting.datasets import read_eia860_plants
from siting.features import nearest_feature
from siting.grid import US_EQUAL_AREA

REEDS = Path(
    "nrel_revx/reeds/BAU_naris_pv_standard_pv_conus_multiyear_US_rural_pv_reeds_to_rev_agg.csv"
)
PLANTS = Path("pypsa_usa/eia_plants.csv")
FEATURES = ["pv_resource_class", "supply_capacity_mw", "distance_to_other_plant_km"]
MONOTONIC = {"pv_resource_class": +1, "supply_capacity_mw": +1, "distance_to_other_plant_km": -1}
# A plant farther than this from every supply point sits on land reV excluded for PV (or
# outside the supply-point grid), so it is dropped rather than given a made-up resource.
MAX_SUPPLY_DISTANCE_KM = 50.0


def supply_points(shared: Path) -> gpd.GeoDataFrame:
    """ReEDS PV supply points: one row per point (the file repeats each for every year)."""
    table = pd.read_csv(shared / REEDS)
    table = table.sort_values(["gid", "year"]).drop_duplicates("gid", keep="first")
    frame = gpd.GeoDataFrame(
        {
            "gid": table["gid"].to_numpy(),
            "pv_resource_class": table["c"].str.removeprefix("class").astype(int).to_numpy(),
            "supply_capacity_mw": table["capacity_reV"].to_numpy(dtype=float),
        },
        geometry=gpd.points_from_xy(table["lon"], table["lat"]),
        crs="EPSG:4326",
    )
    return frame.to_crs(US_EQUAL_AREA).reset_index(drop=True)


def plants(shared: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(operating solar plants, every other plant) in EPSG:5070, conterminous US only."""
    every = read_eia860_plants(shared / PLANTS)
    every = every[every.geometry.notna() & ~every["state"].isin(["AK", "HI", "PR"])]
    every = every.to_crs(US_EQUAL_AREA)
    solar = every["primary_technology"].eq("Solar") & every["status"].eq("OP")
    return every[solar].reset_index(drop=True), every[~solar].reset_index(drop=True)


def training_table(shared: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, Any]]:
    """Features, labels (1 solar plant, 0 supply point) and x/y in metres, plus counts."""
    supply = supply_points(shared)
    solar, others = plants(shared)

    near = nearest_feature(
        solar,
        supply,
        columns=["pv_resource_class", "supply_capacity_mw"],
        max_distance_m=MAX_SUPPLY_DISTANCE_KM * 1000,
    )
    kept = near["distance_m"].notna().to_numpy()
    presences = solar[kept].reset_index(drop=True)
    presence_features = near[kept].reset_index(drop=True)[FEATURES[:2]]

    points = pd.concat([presences.geometry, supply.geometry], ignore_index=True)
    points = gpd.GeoSeries(points, crs=US_EQUAL_AREA)
    to_other = nearest_feature(points, others)["distance_m"].to_numpy() / 1000.0
    X = pd.concat([presence_features, supply[FEATURES[:2]]], ignore_index=True)
    X["distance_to_other_plant_km"] = to_other
    y = np.r_[np.ones(len(presences), int), np.zeros(len(supply), int)]
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    counts = {
        "solar_plants": len(solar),
        "presences": len(presences),
        "dropped_far_from_supply": int((~kept).sum()),
        "background": len(supply),
        "other_plants": len(others),
    }
    return X, y, xy, counts


def models(random_state: int = 0) -> dict[str, Any]:
    """The contenders, each a scikit-learn classifier (fresh, unfitted)."""
    from elapid import MaxentModel
    from sklearn.dummy import DummyClassifier

    from siting.scoring import SiteScorer, WeightedOverlay

    overlay = WeightedOverlay(
        {
            "pv_resource_class": {"weight": 2, "better": "higher", "range": (1, 7)},
            "supply_capacity_mw": {"weight": 1, "better": "higher", "range": (0, 300)},
            "distance_to_other_plant_km": {"weight": 1, "better": "lower", "range": (0, 50)},
        }
    )
    resource_only = WeightedOverlay(
        {"pv_resource_class": {"weight": 1, "better": "higher", "range": (1, 7)}}
    )
    return {
        "SiteScorer (gradient-boosted trees)": SiteScorer(
            monotonic=MONOTONIC, random_state=random_state
        ),
        "MaxEnt (elapid)": MaxentModel(random_state=random_state, n_cpus=1),
        "WeightedOverlay (hand-set weights)": overlay,
        "resource class alone": resource_only,
        "constant (trivial baseline)": DummyClassifier(strategy="prior"),
    }


def run(
    shared: Path, *, n_splits: int = 5, random_state: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The comparison table (every model, random and spatial folds) and the study's facts."""
    from siting.scoring import compare_models, suggest_block_size

    X, y, xy, counts = training_table(shared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # capped ranges: handled below
        block = suggest_block_size(xy, X, random_state=random_state)
    # The resource class and the supply capacity vary along continental gradients whose
    # variograms never level off (their ranges are capped at the largest lag), so only the
    # features that do reach a sill set the block size; blocks at the capped range would
    # leave about six blocks for five folds.
    bounded = [r for name, r in block.ranges_m.items() if name not in block.capped]
    block_size_m = float(np.median(bounded)) if bounded else block.block_size_m
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # constant-score ties, etc.
        table = compare_models(
            models(random_state),
            X,
            y,
            xy,
            block_size_m=block_size_m,
            n_splits=n_splits,
            random_state=random_state,
        )
    facts = dict(
        counts,
        block_size_km=block_size_m / 1000,
        capped=", ".join(block.capped) or "none",
        seconds=time.perf_counter() - started,
    )
    return table, facts


def report(table: pd.DataFrame, facts: dict[str, Any]) -> str:
    """Markdown: mean ± std over folds per model and scheme."""
    means = table[table["fold"] == "mean"].set_index(["model", "scheme"])
    stds = table[table["fold"] == "std"].set_index(["model", "scheme"])
    metrics = ["roc_auc", "pr_auc", "boyce", "precision_at_k"]
    lines = [
        "| model | folds | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for model, scheme in means.index:
        cells = [
            f"{means.loc[(model, scheme), m]:.3f} ± {stds.loc[(model, scheme), m]:.3f}"
            for m in metrics
        ]
        lines.append(f"| {model} | {scheme} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{facts['presences']:,} operating solar plants as presences "
        f"({facts['dropped_far_from_supply']:,} of {facts['solar_plants']:,} dropped: farther "
        f"than {MAX_SUPPLY_DISTANCE_KM:g} km from any supply point), {facts['background']:,} "
        f"supply points as background; spatial blocks of {facts['block_size_km']:.0f} km (the "
        f"variogram range of the features that level off; no sill within the largest lag: "
        f"{facts['capped']}); "
        f"{facts['seconds']:.0f} s on this machine.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("shared", nargs="?", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if not (args.shared / REEDS).exists() or not (args.shared / PLANTS).exists():
        print(
            f"real data not found under {args.shared}: this study needs {REEDS} and {PLANTS}",
            file=sys.stderr,
        )
        return 2
    table, facts = run(args.shared)
    text = report(table, facts)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
