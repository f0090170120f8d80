"""NREL reV parity: the four Rhode Island inclusion masks of reV's own tests, cell for cell.

The layers are the GeoTIFFs of reV's ``ri_exclusions.h5`` (../shared/data/nrel_revx); the
reference masks are reV's test outputs (../shared/data/nrel_rev/ri_exclusions/*.npy). The
rules restate reV's ``tests/test_supply_curve_exclusions.py`` configurations in this
library's terms, each saying explicitly what nodata means:

- ``ri_smod`` include [1]: nodata (255) is not 1 → ``nodata="exclude"``;
- ``ri_padus`` exclude [1]: reV's reference masks exclude PAD-US nodata (255) as well
  (these tests fail with any other choice), so ``nodata="exclude"``; with reV's weight 0.5
  the kept cells get 0.5;
- ``ri_srtm_slope`` inclusion range: nodata (3.4e38) is outside → ``nodata="exclude"``;
- minimum area: reV's queen adjacency and cell count ``ceil(min_area / 0.0081 km²)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from siting import layers
from siting.constraints import Contiguity, Rule, availability, exclusion_report

pytestmark = pytest.mark.realdata

SMOD_RURAL = Rule("ri_smod", include_values=(1,), nodata="exclude")
SLOPE_PV = Rule("ri_srtm_slope", include_range=(0, 5), nodata="exclude")
SLOPE_WIND = Rule("ri_srtm_slope", include_range=(0, 20), nodata="exclude")

CASES = {
    "urban_pv": ([Rule("ri_smod", exclude_values=(1,), nodata="include"), SLOPE_PV], 0.018),
    "rural_pv": ([SMOD_RURAL, SLOPE_PV], 1.0),
    "wind": (
        [SMOD_RURAL, Rule("ri_padus", exclude_values=(1,), nodata="exclude"), SLOPE_WIND],
        None,
    ),
    "weighted": (
        [
            SMOD_RURAL,
            Rule("ri_padus", exclude_values=(1,), nodata="exclude", weight=0.5),
            SLOPE_WIND,
        ],
        None,
    ),
}


@pytest.fixture(scope="module")
def ri_stack(shared_data):
    folder = shared_data / "nrel_revx" / "ri_exclusions"
    names = ("ri_smod", "ri_padus", "ri_srtm_slope")
    return layers.build_stack({name: layers.read_raster(folder / f"{name}.tif") for name in names})


def _reference(shared_data, name: str) -> np.ndarray:
    return np.load(shared_data / "nrel_rev" / "ri_exclusions" / f"{name}.npy").astype("float32")


@pytest.mark.parametrize("case", sorted(CASES))
def test_rev_inclusion_mask_cell_for_cell(ri_stack, shared_data, case):
    rules, min_area = CASES[case]
    contiguity = None if min_area is None else Contiguity(min_area, connectivity="queen")
    mask = availability(ri_stack, rules, contiguity=contiguity).values
    truth = _reference(shared_data, case)
    assert mask.shape == truth.shape == (1434, 972)
    np.testing.assert_array_equal(mask, truth)
    assert truth.sum() > 0  # the comparison is not between two empty masks


@pytest.mark.parametrize("case", ["rural_pv", "weighted"])
def test_rev_mask_tile_by_tile_equals_whole(ri_stack, shared_data, case):
    rules, min_area = CASES[case]
    contiguity = None if min_area is None else Contiguity(min_area)
    lazy = availability(ri_stack.chunk({"y": 300, "x": 250}), rules, contiguity=contiguity)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, _reference(shared_data, case))


def test_rev_mask_attribution_adds_up(ri_stack, shared_data):
    rules, min_area = CASES["rural_pv"]
    report = exclusion_report(ri_stack, rules, contiguity=Contiguity(min_area))
    area = 1434 * 972 * 0.0081
    assert report["excluded_in_sequence_km2"].sum() + report["available_km2"].iloc[
        -1
    ] == pytest.approx(area)
    assert report["available_km2"].iloc[-1] == pytest.approx(
        _reference(shared_data, "rural_pv").sum() * 0.0081
    )
    # the minimum-area filter removes small rural patches: a real, positive amount
    assert report["excluded_in_sequence_km2"].iloc[-1] > 0
