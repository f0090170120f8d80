"""Data for siting: the bundled synthetic sample region and the demo built on it.

The top-level ``datasets/`` folder of the repository holds catalogs and provenance; the
code lives here, in ``siting.datasets``.
"""

from __future__ import annotations

from siting.datasets.demo import write_demo_inputs
from siting.datasets.sample import SYNTHETIC_NOTICE, SampleRegion, load_sample
from siting.datasets.transmission import (
    GridFeatures,
    read_hifld_lines,
    read_hifld_substations,
    read_rev_transmission,
)

__all__ = [
    "SYNTHETIC_NOTICE",
    "GridFeatures",
    "SampleRegion",
    "load_sample",
    "read_hifld_lines",
    "read_hifld_substations",
    "read_rev_transmission",
    "write_demo_inputs",
]
