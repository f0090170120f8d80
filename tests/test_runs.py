"""Finished runs: reading run folders, comparing two rankings, explaining one site."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import siting
from siting.datasets import write_demo_inputs
from siting.errors import CRSMismatchError, GridError, LayerIOError, SiteNotFoundError
from siting.runs import compare_runs, explain_site, read_run
from siting.scenario import Scenario


def _variant(base: Scenario, **changes: object) -> Scenario:
    data = base.model_dump()
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[key] = value
    return Scenario.from_dict(data, base_dir=base.base_dir)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    scenario = Scenario.from_toml(write_demo_inputs(tmp_path_factory.mktemp("inputs")))
    # No energy fit: it is slow and compare/explain do not need it.
    return _variant(scenario, energy=None, ranking__top_n=12, outputs={"formats": ["gpkg"]})


@pytest.fixture(scope="module")
def run_a(base: Scenario, tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    return siting.run(base, out_dir=tmp_path_factory.mktemp("runs") / "a")


@pytest.fixture(scope="module")
def run_b(base: Scenario, tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """Same grid, sunshine weighs less: written as CSV only."""
    scenario = _variant(
        base,
        scorer__criteria__ghi_kwh_m2_day__weight=0.5,
        permitting=None,
        outputs={"formats": ["csv"]},
    )
    return siting.run(scenario, out_dir=tmp_path_factory.mktemp("runs") / "b")


@pytest.fixture(scope="module")
def run_coarse(base: Scenario, tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    """A 500 m grid: no cell id is shared with the 250 m runs. Written as GeoParquet."""
    scenario = _variant(
        base,
        grid={"crs": "EPSG:5070", "resolution_m": 500},
        permitting=None,
        outputs={"formats": ["parquet"]},
    )
    return siting.run(scenario, out_dir=tmp_path_factory.mktemp("runs") / "coarse")


def _folder(result: siting.Result) -> Path:
    return result.files["manifest"].parent


# -- reading ---------------------------------------------------------------------------------


def test_read_run__every_site_format_gives_the_same_table(run_a, run_b, run_coarse):
    for result in (run_a, run_b, run_coarse):
        folder = read_run(_folder(result))
        assert folder.sites.crs.to_epsg() == 5070
        assert folder.sites["rank"].tolist() == result.sites["rank"].tolist()
        np.testing.assert_array_equal(folder.sites["cell_id"], result.sites["cell_id"])
        np.testing.assert_allclose(folder.sites["score"], result.sites["score"])
        np.testing.assert_allclose(folder.sites.geometry.x, result.sites.geometry.x)


def test_read_run__missing_folder_and_unfinished_run(tmp_path, run_a):
    with pytest.raises(LayerIOError, match="does not exist"):
        read_run(tmp_path / "nowhere")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(_folder(run_a), unfinished)
    (unfinished / "manifest.json").unlink()
    with pytest.raises(LayerIOError, match=r"not a finished run.*manifest\.json"):
        read_run(unfinished)
    (unfinished / "manifest.json").write_text("{}")
    (unfinished / "sites.gpkg").unlink()
    with pytest.raises(LayerIOError, match="no ranked sites"):
        read_run(unfinished)


# -- compare ---------------------------------------------------------------------------------


def test_compare__a_run_with_itself_agrees_everywhere(run_a):
    result = compare_runs(_folder(run_a), _folder(run_a))
    assert result.matched_by == "cell_id"
    assert len(result.common) == len(run_a.sites)
    assert result.only_in_a.empty
    assert result.only_in_b.empty
    assert (result.common["rank_change"] == 0).all()
    assert (result.common["score_change"] == 0).all()
    assert result.spearman == pytest.approx(1.0)
    assert result.kendall == pytest.approx(1.0)
    assert set(result.top_k_jaccard) == {1, 5, 10}  # 20 is beyond both runs' 12 sites
    assert all(v == 1.0 for v in result.top_k_jaccard.values())
    assert result.scenario_changes == ()


def test_compare__changed_weights_on_the_same_grid(run_a, run_b):
    result = compare_runs(_folder(run_a), _folder(run_b), ks=(3, 12))
    a = run_a.sites.set_index("cell_id")
    b = run_b.sites.set_index("cell_id")
    shared = a.index.intersection(b.index)
    assert result.matched_by == "cell_id"
    assert 2 <= len(shared) < len(a)  # the weights matter, but not entirely
    assert sorted(result.common["cell_id_a"]) == sorted(shared)
    assert (result.common["cell_id_a"] == result.common["cell_id_b"]).all()
    assert set(result.only_in_a["cell_id"]) == set(a.index.difference(b.index))
    assert set(result.only_in_b["cell_id"]) == set(b.index.difference(a.index))
    for row in result.common.itertuples():
        assert row.rank_a == a.loc[row.cell_id_a, "rank"]
        assert row.rank_change == b.loc[row.cell_id_a, "rank"] - a.loc[row.cell_id_a, "rank"]
        assert row.score_change == pytest.approx(
            b.loc[row.cell_id_a, "score"] - a.loc[row.cell_id_a, "score"]
        )
        assert row.distance_m == 0

    # Rank correlation from the textbook formulas on the shared sites' re-ranked positions.
    ra = pd.Series(a.loc[shared, "rank"].to_numpy()).rank().to_numpy()
    rb = pd.Series(b.loc[shared, "rank"].to_numpy()).rank().to_numpy()
    n = len(shared)
    spearman = 1 - 6 * ((ra - rb) ** 2).sum() / (n * (n * n - 1))
    signs = [np.sign(ra[i] - ra[j]) * np.sign(rb[i] - rb[j])
             for i, j in itertools.combinations(range(n), 2)]  # fmt: skip
    kendall = sum(signs) / len(signs)
    assert result.spearman == pytest.approx(spearman)
    assert result.kendall == pytest.approx(kendall)

    for k in (3, 12):
        top_a = set(a.index[a["rank"] <= k])
        top_b = set(b.index[b["rank"] <= k])
        assert result.top_k_jaccard[k] == pytest.approx(len(top_a & top_b) / len(top_a | top_b))
    changes = {path: (va, vb) for path, va, vb in result.scenario_changes}
    assert changes["scorer.criteria.ghi_kwh_m2_day.weight"] == (3.0, 0.5)
    assert changes["outputs.formats"] == (["gpkg"], ["csv"])
    # A section only one scenario has: every key of it, absent (None) on the other side.
    assert changes["permitting.facts.capacity_mw"] == (10.0, None)
    assert all(p.startswith(("scorer.", "outputs.", "permitting.")) for p in changes)


def test_compare__different_grids_match_by_nearest_location(run_a, run_coarse):
    result = compare_runs(_folder(run_a), _folder(run_coarse))
    assert result.matched_by == "location"
    assert result.tolerance_m == 500  # the coarser cell size
    assert len(result.common) > 0
    assert (result.common["distance_m"] <= 500).all()
    # One to one: no site is used twice.
    assert result.common["cell_id_a"].is_unique
    assert result.common["cell_id_b"].is_unique
    assert len(result.common) + len(result.only_in_a) == len(run_a.sites)
    assert len(result.common) + len(result.only_in_b) == len(run_coarse.sites)
    for row in result.common.itertuples():
        here = run_a.sites.set_index("cell_id").loc[row.cell_id_a].geometry
        there = run_coarse.sites.set_index("cell_id").loc[row.cell_id_b].geometry
        assert row.distance_m == pytest.approx(here.distance(there))
    assert ("grid.resolution_m", 250.0, 500.0) in result.scenario_changes

    # Cell centres of a 250 m and a 500 m grid never coincide.
    exact = compare_runs(_folder(run_a), _folder(run_coarse), tolerance_m=0)
    assert exact.common.empty
    assert len(exact.only_in_a) == len(run_a.sites)
    assert np.isnan(exact.spearman)
    assert np.isnan(exact.kendall)
    assert json.loads(json.dumps(exact.to_dict(), allow_nan=False))["spearman"] is None
    with pytest.raises(GridError, match="identical grid"):
        compare_runs(_folder(run_a), _folder(run_coarse), match="cell_id")
    # On the command line the runs are fine and the option is wrong: a usage error.
    from click.testing import CliRunner

    from siting.cli import main

    args = ["compare", str(_folder(run_a)), str(_folder(run_coarse)), "--match", "cell_id"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2
    assert "--match cell_id" in refused.output
    assert "identical grid" in refused.output


def test_compare__forced_location_matching_on_one_grid_pairs_the_same_cells(run_a, run_b):
    by_cell = compare_runs(_folder(run_a), _folder(run_b))
    by_place = compare_runs(_folder(run_a), _folder(run_b), match="location", tolerance_m=1)
    pd.testing.assert_frame_equal(by_cell.common, by_place.common)


def test_compare__different_crs_is_refused(base, run_a, tmp_path):
    utm = _variant(
        base, grid={"crs": "EPSG:32611", "resolution_m": 1000}, outputs={"formats": ["gpkg"]}
    )
    siting.run(utm, out_dir=tmp_path / "utm")
    with pytest.raises(CRSMismatchError, match=r"EPSG:5070.*EPSG:32611.*same \[grid\] crs"):
        compare_runs(_folder(run_a), tmp_path / "utm")


def test_compare__to_dict_is_json(run_a, run_b):
    data = json.loads(json.dumps(compare_runs(_folder(run_a), _folder(run_b)).to_dict()))
    assert data["matched_by"] == "cell_id"
    assert data["sites_a"] == data["sites_b"] == 12
    assert {"path", "a", "b"} == set(data["scenario_changes"][0])
    assert set(data["top_k_jaccard"]) == {"1", "5", "10"}


# -- explain ---------------------------------------------------------------------------------


def test_explain__the_score_is_its_contributions(run_a):
    sites = run_a.sites
    site = explain_site(_folder(run_a), 2)
    row = sites[sites["rank"] == 2].iloc[0]
    assert site.rank == 2
    assert site.n_sites == len(sites)
    assert site.cell_id == row["cell_id"]
    assert site.score == pytest.approx(row["score"])
    assert site.p_top_k == pytest.approx(row["p_top_k"])
    parts = site.contributions
    assert {p["criterion"] for p in parts} == set(run_a.scenario.scorer.criteria)
    magnitudes = [abs(p["contribution"]) for p in parts]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert sum(p["contribution"] for p in parts) == pytest.approx(site.score)
    assert sum(p["weight"] for p in parts) == pytest.approx(1.0)
    by_name = {p["criterion"]: p for p in parts}
    assert by_name["distance_to_substation_km"]["value"] == pytest.approx(
        row["distance_to_substation_km"]
    )
    assert by_name["distance_to_substation_km"]["units"] == "km"
    assert by_name["people_within_2ms"]["units"] == "people"  # recorded by the run
    assert by_name["ghi_kwh_m2_day"]["units"] == "kWh/m²/day"  # read from the name


def test_explain__neighbours_permits_and_rules(run_a):
    sites = run_a.sites.set_index("rank")
    first = explain_site(_folder(run_a), 1)
    assert first.neighbours["above"] is None
    below = first.neighbours["below"]
    assert below["rank"] == 2
    assert below["score_difference"] == pytest.approx(
        sites.loc[2, "score"] - sites.loc[1, "score"]
    )
    assert below["score_difference"] <= 0
    assert below["distance_km"] * 1000 == pytest.approx(
        sites.loc[1].geometry.distance(sites.loc[2].geometry)
    )
    assert below["distance_km"] >= run_a.scenario.ranking.min_spacing_km
    last = explain_site(_folder(run_a), len(sites))
    assert last.neighbours["below"] is None
    assert last.neighbours["above"]["score_difference"] >= 0

    assert first.permitting is not None
    assert first.permitting["permit_nepa_level"] == sites.loc[1, "permit_nepa_level"]
    rules = first.rules
    assert [r["rule"] for r in rules] == run_a.exclusions["rule"].tolist()
    by_layer = {r["layer"]: r for r in rules}
    assert by_layer["gap_status"]["value"] not in (1, 2)
    assert 0 <= by_layer["slope_pct"]["value"] <= 10
    assert by_layer["slope_pct"]["units"] == "%"
    assert by_layer["150 m from transmission lines"]["value"] == 1.0
    assert rules[-1]["layer"] is None
    assert rules[-1]["rule"].startswith("minimum contiguous")


def test_explain__by_cell_id_is_the_same_site(run_a):
    cell = run_a.sites["cell_id"].iloc[4]
    assert explain_site(_folder(run_a), cell, by="cell_id") == explain_site(_folder(run_a), 5)


def test_explain__without_permits_or_stability(run_b):
    site = explain_site(_folder(run_b), 1)
    assert site.permitting is None
    assert site.score_interval is None
    json.dumps(site.to_dict(), allow_nan=False)


def test_explain__unknown_site_names_the_valid_ones(run_a):
    with pytest.raises(SiteNotFoundError, match="ranks go from 1 to 12"):
        explain_site(_folder(run_a), 13)
    with pytest.raises(LookupError, match="ranks go from 1 to 12"):  # also the built-in
        explain_site(_folder(run_a), 0)
    first = str(run_a.sites["cell_id"].iloc[0])
    with pytest.raises(SiteNotFoundError, match=rf"cell_id -1 .*{first}"):
        explain_site(_folder(run_a), -1, by="cell_id")
