"""Exclusion rules: each condition, nodata meanings, combination, attribution."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from siting.constraints import Rule, availability, exclusion_report, require_available
from siting.errors import ConstraintError, NoFeasibleSitesError
from siting.grid import Grid

NAN = float("nan")


@pytest.fixture
def stack() -> xr.Dataset:
    grid = Grid.from_bounds((0, 0, 500, 100), 100)  # 1 x 5 cells of 0.01 km²
    gap = grid.to_xarray()
    gap[:] = [[1, 2, 3, 4, NAN]]
    slope = grid.to_xarray()
    slope[:] = [[0.0, 5.0, 12.0, NAN, 3.0]]
    return grid.georeference(xr.Dataset({"gap_status": gap, "slope_pct": slope}))


def row(array: xr.DataArray) -> list:
    return array.values[0].tolist()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            Rule("gap_status", exclude_values=(1, 2), nodata="ignore"),
            [True, True, False, False, False],
        ),
        (
            Rule("gap_status", exclude_values=(1, 2), nodata="exclude"),
            [True, True, False, False, True],
        ),
        (
            Rule("gap_status", include_values=(3,), nodata="ignore"),
            [True, True, False, True, False],
        ),
        (
            Rule("slope_pct", include_range=(0, 10), nodata="exclude"),
            [False, False, True, True, False],
        ),
        (
            Rule("slope_pct", include_range=(0, 10), nodata="ignore"),
            [False, False, True, False, False],
        ),
        (
            Rule("slope_pct", exclude_range=(5, float("inf")), nodata="ignore"),
            [False, True, True, False, False],
        ),
    ],
)
def test_rule__each_condition_and_nodata_meaning(stack, rule, expected):
    assert row(rule.excludes(stack[rule.layer])) == expected


def test_availability__intersection_of_rules_and_region(stack):
    rules = [
        Rule("gap_status", exclude_values=(1, 2), nodata="ignore"),
        Rule("slope_pct", include_range=(0, 10), nodata="exclude"),
    ]
    avail = availability(stack, rules)
    assert row(avail) == [0, 0, 0, 0, 1]
    assert avail.dtype == np.float32
    assert Grid.from_xarray(avail) == Grid.from_xarray(stack)
    within = xr.zeros_like(stack["gap_status"], dtype=bool)
    assert row(availability(stack, [], within=within)) == [0] * 5


def test_availability__lazy_stack_stays_lazy_and_equal(stack):
    rules = [Rule("slope_pct", include_range=(0, 10), nodata="exclude")]
    lazy = availability(stack.chunk({"x": 2}), rules)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, availability(stack, rules).values)


def test_exclusion_report__alone_and_in_sequence(stack):
    rules = [
        Rule("gap_status", exclude_values=(1, 2), nodata="ignore"),
        Rule("slope_pct", include_range=(0, 10), nodata="exclude"),
    ]
    report = exclusion_report(stack, rules)
    assert report["excluded_alone_cells"].tolist() == [2, 2]
    assert report["excluded_in_sequence_cells"].tolist() == [2, 2]
    assert report["excluded_alone_km2"].tolist() == pytest.approx([0.02, 0.02])
    reordered = exclusion_report(
        stack, [*rules, Rule("gap_status", exclude_values=(1,), nodata="ignore")]
    )
    assert reordered["excluded_in_sequence_cells"].tolist() == [2, 2, 0]


def test_rule__bad_definitions_are_refused():
    with pytest.raises(ConstraintError, match="exactly one"):
        Rule("x", nodata="ignore")
    with pytest.raises(ConstraintError, match="exactly one"):
        Rule("x", include_values=(1,), exclude_values=(2,), nodata="ignore")
    with pytest.raises(ConstraintError, match="nodata"):
        Rule("x", include_values=(1,), nodata="zero")  # type: ignore[arg-type]
    with pytest.raises(ConstraintError, match="low <= high"):
        Rule("x", include_range=(5, 1), nodata="ignore")


def test_rule__unknown_layer_names_the_layers_present(stack):
    with pytest.raises(ConstraintError, match="gap_status"):
        availability(stack, [Rule("landcover", include_values=(1,), nodata="ignore")])


def test_require_available__everything_excluded(stack):
    rules = [Rule("gap_status", include_values=(99,), nodata="exclude")]
    with pytest.raises(NoFeasibleSitesError, match="Relax a rule"):
        require_available(availability(stack, rules), rules=rules)
