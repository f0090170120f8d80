"""Data for siting: the public-source catalog, the synthetic sample region and its demo.

The top-level ``datasets/`` folder of the repository holds catalogs and provenance; the
code lives here, in ``siting.datasets``.
"""

from __future__ import annotations

from siting.datasets.catalog import Source, fetch
from siting.datasets.demo import write_demo_inputs
from siting.datasets.land import (
    flatten_padus,
    read_blm_sma,
    read_padus,
    read_rev_exclusion,
    read_rev_exclusions_h5,
    read_us_atlas,
    read_wind_atlas,
)
from siting.datasets.plants import (
    read_eia860_plants,
    read_psm_csv,
    read_queue,
    read_smu_heat_flow,
    read_thermal_springs,
)
from siting.datasets.resource import (
    read_rex_hourly,
    read_rex_means,
    read_sam_csv,
)
from siting.datasets.sample import SYNTHETIC_NOTICE, SampleRegion, load_sample
from siting.datasets.transmission import (
    GridFeatures,
    read_hifld_lines,
    read_hifld_substations,
    read_rev_transmission,
)
from siting.layers import points_to_grid  # also here: the companion of the resource readers

__all__ = [
    "SYNTHETIC_NOTICE",
    "GridFeatures",
    "SampleRegion",
    "Source",
    "fetch",
    "flatten_padus",
    "load_sample",
    "points_to_grid",
    "read_blm_sma",
    "read_eia860_plants",
    "read_hifld_lines",
    "read_hifld_substations",
    "read_padus",
    "read_psm_csv",
    "read_queue",
    "read_rev_exclusion",
    "read_rev_exclusions_h5",
    "read_rev_transmission",
    "read_rex_hourly",
    "read_rex_means",
    "read_sam_csv",
    "read_smu_heat_flow",
    "read_thermal_springs",
    "read_us_atlas",
    "read_wind_atlas",
    "write_demo_inputs",
]
