"""A planner ranks edge-compute sites in the sample region from Python.

Usage: python examples/rank_sample_sites.py OUTPUT_DIR

Writes the synthetic sample region's files and the demo scenario into OUTPUT_DIR/inputs,
runs the scenario with a tighter slope rule, and prints what each exclusion rule removed
and the five best sites with the contributions behind their scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import siting
from siting.datasets import write_demo_inputs
from siting.scenario import Scenario


def main(out: Path) -> None:
    scenario = Scenario.from_toml(write_demo_inputs(out / "inputs"))

    # Scenarios are immutable values: change a rule by building a new one.
    rules = [
        rule.model_copy(update={"include_range": (0.0, 5.0)})
        if rule.layer == "slope_pct"
        else rule
        for rule in scenario.rules
    ]
    scenario = scenario.model_copy(update={"rules": rules})

    result = siting.run(scenario, out_dir=out / "run", overwrite=True)
    print(
        result.exclusions[["rule", "excluded_alone_km2", "excluded_in_sequence_km2"]].to_string(
            index=False
        )
    )
    contributions = [c for c in result.sites.columns if c.startswith("contribution_")]
    print(
        result.sites[["rank", "score", "lon", "lat", *contributions]]
        .head(5)
        .to_string(index=False)
    )
    print(f"outputs in {out / 'run'}: {', '.join(sorted(p.name for p in result.files.values()))}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
