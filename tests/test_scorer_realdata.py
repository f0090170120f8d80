"""The ML scorer on real data: EIA-860 solar plants against NREL ReEDS PV supply points.

The study itself is ``examples/validate_scorer_eia860.py`` (its numbers are in
docs/validation.md); this test reruns its core on the same spatial folds and checks that
the scorer beats the trivial baseline and that random folds are not less optimistic.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from siting.scoring import SiteScorer, compare_models

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "validate_scorer_eia860.py"


def _study():
    spec = importlib.util.spec_from_file_location("validate_scorer_eia860", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def table(shared_data):
    study = _study()
    X, y, xy, counts = study.training_table(shared_data)
    # Counts against pypsa_usa/SOURCE.md and the ReEDS file: thousands of operating solar
    # plants, one background point per ReEDS supply point (4,573 unique gids).
    assert counts["background"] == 4573
    assert 3000 < counts["presences"] <= counts["solar_plants"]
    assert set(np.unique(y)) == {0, 1}
    assert X.notna().all().all()
    from elapid import MaxentModel

    models = {
        "scorer": SiteScorer(monotonic=study.MONOTONIC, random_state=0),
        "maxent": MaxentModel(random_state=0, n_cpus=1),
        "constant": DummyClassifier(strategy="prior"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return compare_models(models, X, y, xy, block_size_m=500_000, n_splits=5)


def _mean(table, model, scheme, metric):
    rows = table[(table["model"] == model) & (table["scheme"] == scheme)]
    return float(rows.loc[rows["fold"] == "mean", metric].iloc[0])


def test_scorer_beats_the_trivial_baseline_on_spatial_folds(table):
    scorer = _mean(table, "scorer", "spatial_block", "roc_auc")
    constant = _mean(table, "constant", "spatial_block", "roc_auc")
    assert constant == pytest.approx(0.5)
    assert scorer > constant + 0.05
    assert _mean(table, "scorer", "spatial_block", "pr_auc") > _mean(
        table, "constant", "spatial_block", "pr_auc"
    )
    folds = table[(table["model"] == "scorer") & (table["scheme"] == "spatial_block")]
    per_fold = folds[folds["fold"].isin(range(5))]["roc_auc"].to_numpy(dtype=float)
    assert (per_fold > 0.5).sum() >= 4  # not one lucky fold


def test_random_folds_are_at_least_as_optimistic_as_spatial_ones(table):
    random_auc = _mean(table, "scorer", "random", "roc_auc")
    spatial_auc = _mean(table, "scorer", "spatial_block", "roc_auc")
    assert random_auc >= spatial_auc - 0.01
    assert table.attrs["optimism"]["scorer"]["roc_auc"] == pytest.approx(random_auc - spatial_auc)


def test_maxent_baseline_runs_on_the_same_folds(table):
    folds = table[table["fold"].isin(range(5)) & (table["scheme"] == "spatial_block")]
    per_model = folds.groupby("model")["n_test"].apply(list)
    assert per_model["maxent"] == per_model["scorer"] == per_model["constant"]  # same folds
    assert 0.5 < _mean(table, "maxent", "spatial_block", "roc_auc") < 1.0
