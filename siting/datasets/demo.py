"""The demo: the sample region's files plus the scenario that ranks sites in it."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from siting._typing import PathLike
from siting.datasets.sample import load_sample

__all__ = ["DEMO_SCENARIO", "write_demo_inputs"]

#: File name of the demo scenario, shipped in this package and copied beside the inputs.
DEMO_SCENARIO = "demo.toml"


def write_demo_inputs(directory: PathLike, *, seed: int = 0) -> Path:
    """Write the sample region's files and the demo scenario into ``directory``.

    Returns the path of the scenario file (``scenario.toml``), ready for
    :meth:`siting.scenario.Scenario.from_toml` or ``siting run``.
    """
    written = load_sample(seed=seed).write(directory)
    target = Path(next(iter(written.values()))).parent / "scenario.toml"
    with resources.as_file(resources.files(__package__) / DEMO_SCENARIO) as source:
        shutil.copyfile(source, target)
    return target
