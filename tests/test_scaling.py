"""Scaling out: chunked runs on dask schedulers and clusters give the in-memory results."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import siting
from siting.candidates import best_candidates, cells_to_candidates
from siting.checkpoint import scratch_folder
from siting.cli import main
from siting.datasets import write_demo_inputs
from siting.errors import ClusterError, OutputError, ScenarioError, SitingError
from siting.grid import Grid
from siting.pipeline import _cells_within
from siting.scenario import Scenario
from siting.schedulers import use_scheduler
from siting.testing import random_field, small_grid

CHUNKS = 128  # the demo grid is 460 x 527 cells: 4 x 5 tiles


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def scenario(scenario_file: Path) -> Scenario:
    return Scenario.from_toml(scenario_file)


@pytest.fixture(scope="module")
def in_memory(scenario: Scenario) -> siting.Result:
    return siting.run(scenario)


def _free_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_same_run(a: siting.Result, b: siting.Result) -> None:
    np.testing.assert_array_equal(a.availability.values, b.availability.values)
    pd.testing.assert_frame_equal(a.exclusions, b.exclusions)
    plain = [c for c in a.candidates.columns if c != "geometry"]
    pd.testing.assert_frame_equal(a.candidates[plain], b.candidates[plain])
    assert a.candidates.geometry.equals(b.candidates.geometry)
    pd.testing.assert_frame_equal(pd.DataFrame(a.sites), pd.DataFrame(b.sites))


def test_distributed_cluster_run_equals_the_in_memory_run(scenario, in_memory):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'siting[test]')"
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        distributed.get_task_stream(client) as tasks,
    ):
        tiled = siting.run(scenario, chunks=CHUNKS, scheduler=client)
    assert np.prod(tiled.availability.data.numblocks) >= 4
    assert tiled.stack["ghi_kwh_m2_day"].chunks is not None
    assert len(tasks.data) > 20  # the tiles were computed on the cluster's workers
    assert tiled.candidates.attrs["n_candidates"] == len(in_memory.candidates)
    _assert_same_run(in_memory, tiled)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_local_schedulers_give_the_in_memory_run(scenario, in_memory, scheduler):
    _assert_same_run(in_memory, siting.run(scenario, chunks=CHUNKS, scheduler=scheduler))


def test_chunked_run_keeps_only_the_best_candidates_and_ranks_the_same(scenario):
    ranking = scenario.ranking.model_copy(update={"top_n": 3, "min_spacing_km": 1.0})
    small = scenario.model_copy(update={"ranking": ranking})
    whole = siting.run(small)
    tiled = siting.run(small, chunks=CHUNKS)
    # 3 sites x 5 (rank stability's shortlist) x 49 cells within 1 km of a 250 m cell
    assert len(tiled.candidates) == 3 * 5 * 49 < len(whole.candidates)
    assert tiled.candidates.attrs["n_candidates"] == len(whole.candidates)
    best = whole.candidates.sort_values(["score", "cell_id"], ascending=[False, True])
    assert sorted(tiled.candidates["cell_id"]) == sorted(best["cell_id"].iloc[: 3 * 5 * 49])
    pd.testing.assert_frame_equal(pd.DataFrame(whole.sites), pd.DataFrame(tiled.sites))


def test_unreachable_scheduler_is_a_clear_error_and_writes_nothing(scenario, tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    started = time.perf_counter()
    with pytest.raises(ClusterError, match="cannot reach a dask scheduler") as caught:
        siting.run(scenario, out_dir=out, scheduler="distributed", address=address)
    assert time.perf_counter() - started < 30
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value, SitingError)
    assert address in str(caught.value)
    assert "--workers" in str(caught.value)
    assert not out.exists()


def test_cli_run_on_an_unreachable_scheduler_exits_6(scenario_file, tmp_path):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{_free_port()}"
    args = ["run", str(scenario_file), "--out", str(out), "--scheduler", "distributed"]
    result = CliRunner().invoke(main, [*args, "--address", address])
    assert result.exit_code == 6, result.output
    assert "cannot reach a dask scheduler" in result.output
    assert not out.exists()


def test_cli_run_refuses_workers_on_a_local_scheduler(scenario_file, tmp_path):
    args = ["run", str(scenario_file), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, [*args, "--scheduler", "threads", "--workers", "2"])
    assert result.exit_code == 2
    assert "scheduler='distributed'" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scheduler": "gpu"}, "not known"),
        ({"scheduler": "threads", "address": "tcp://127.0.0.1:1"}, "not 'threads'"),
        ({"scheduler": "distributed", "address": "tcp://x:1", "workers": 2}, "not both"),
        ({"scheduler": "distributed", "workers": 0}, "from 1 to 1024"),
        ({"scheduler": object()}, "neither a scheduler name"),
    ],
)
def test_use_scheduler__bad_combinations_name_the_fix(kwargs, message):
    with pytest.raises(ScenarioError, match=message), use_scheduler(**kwargs):
        pass


@pytest.mark.parametrize("lazy", [False, True])
def test_best_candidates_are_the_top_rows_of_the_whole_table(lazy):
    grid = small_grid(shape=(40, 50))
    stack = random_field(grid, seed=1).to_dataset(name="a")
    stack["b"] = random_field(grid, seed=2)
    avail = (random_field(grid, seed=3) > 0.3).astype("float32")
    stack["a"] = stack["a"].round(1)  # many equal scores: ties go to the smaller cell_id
    if lazy:
        stack, avail = stack.chunk(16), avail.chunk(16)
    whole = cells_to_candidates(stack, avail)
    whole = whole.assign(score=whole["a"].to_numpy(dtype="float64"))
    best = best_candidates(stack, avail, score=lambda t: t["a"], n=37)
    expected = whole.sort_values(["score", "cell_id"], ascending=[False, True]).head(37)
    expected = expected.sort_values("cell_id", ignore_index=True)
    pd.testing.assert_frame_equal(pd.DataFrame(best), pd.DataFrame(expected))
    assert best.attrs["n_candidates"] == len(whole)


@pytest.mark.parametrize(("resolution", "distance"), [(90, 5000), (250, 1000), (30, 95), (10, 0)])
def test_cells_within__counts_every_cell_centre_closer_than_the_distance(resolution, distance):
    grid = Grid.from_bounds((0, 0, 1000 * resolution, 1000 * resolution), resolution)
    k = int(distance // resolution) + 1
    i, j = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1))
    brute = int(((i * resolution) ** 2 + (j * resolution) ** 2 < distance**2).sum())
    assert brute <= _cells_within(grid, distance) <= brute + 4 * k + 4
    assert _cells_within(grid, 0) == 1


def test_chunked_run_keeps_more_rows_when_the_first_cut_is_too_short(scenario, monkeypatch):
    ranking = scenario.ranking.model_copy(update={"top_n": 3, "min_spacing_km": 1.0})
    small = scenario.model_copy(update={"ranking": ranking})
    whole = siting.run(small)
    monkeypatch.setattr(siting.pipeline, "KEEP_CANDIDATES", 20)  # fewer than 15 spaced sites
    tiled = siting.run(small, chunks=CHUNKS)
    assert 20 < len(tiled.candidates) <= 3 * 5 * 49
    pd.testing.assert_frame_equal(pd.DataFrame(whole.sites), pd.DataFrame(tiled.sites))


def _with_criteria(scenario_file: Path, **changes: dict | None) -> Scenario:
    """The demo scenario, 3 sites 1 km apart, with some criteria replaced (None drops one)."""
    data = Scenario.from_toml(scenario_file).to_toml_dict()
    criteria = {**data["scorer"]["criteria"]}
    for name, spec in changes.items():
        if spec is None:
            criteria.pop(name, None)
        else:
            criteria[name] = spec
    scorer = {**data["scorer"], "criteria": criteria}
    ranking = {**data["ranking"], "top_n": 3, "min_spacing_km": 1.0}  # keeps few rows
    data = {**data, "scorer": scorer, "ranking": ranking}
    return Scenario.from_dict(data, base_dir=scenario_file.parent)


def test_chunked_overlay_that_learns_from_the_data_streams_and_ranks_the_same(scenario_file):
    learning = _with_criteria(
        scenario_file,
        ghi_kwh_m2_day={"weight": 3, "better": "higher"},  # learns its range
        slope_pct={"weight": 1, "transform": "ms_small"},  # learns mean and std
    )
    whole = siting.run(learning)
    tiled = siting.run(learning, chunks=CHUNKS)
    # Streamed: only the best rows are kept, with the whole table's learned parameters.
    assert len(tiled.candidates) < tiled.candidates.attrs["n_candidates"] == len(whole.candidates)
    learned, expected = tiled.scorer.criteria_, whole.scorer.criteria_
    assert learned["ghi_kwh_m2_day"]["range"] == expected["ghi_kwh_m2_day"]["range"]
    for key in ("mean", "std"):
        assert learned["slope_pct"][key] == pytest.approx(expected["slope_pct"][key], rel=1e-12)
    assert tiled.sites["cell_id"].tolist() == whole.sites["cell_id"].tolist()
    np.testing.assert_allclose(tiled.sites["score"], whole.sites["score"], rtol=1e-12)


def test_tune_malloc_takes_effect_on_linux():
    import sys

    from siting.schedulers import tune_malloc

    assert tune_malloc() is sys.platform.startswith("linux")


def test_local_cluster_workers_get_the_malloc_tuning():
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with use_scheduler("distributed", workers=1) as client:
        tuned = client.run(lambda dask_worker: "siting-malloc-tuning" in dask_worker.plugins)
    assert list(tuned.values()) == [True]


def _with_formats(scenario_file: Path, formats: list[str]) -> Scenario:
    data = Scenario.from_toml(scenario_file).to_toml_dict()
    outputs = {**data.get("outputs", {}), "formats": formats, "map_overlays": ["score"]}
    ranking = {**data["ranking"], "top_n": 3, "min_spacing_km": 1.0}  # keeps few rows
    data = {**data, "outputs": outputs, "ranking": ranking}
    return Scenario.from_dict(data, base_dir=scenario_file.parent)


@pytest.mark.parametrize("cog", [True, False])
def test_chunked_run_scores_every_cell_once_for_its_rasters_and_maps(
    scenario_file, tmp_path, monkeypatch, cog
):
    from siting.scoring import WeightedOverlay

    calls = []
    predict = WeightedOverlay.predict

    def counted(self, X):
        calls.append(len(X))
        return predict(self, X)

    monkeypatch.setattr(WeightedOverlay, "predict", counted)
    plain = siting.run(
        _with_formats(scenario_file, ["csv"]), out_dir=tmp_path / "a", chunks=CHUNKS
    )
    scored_plain = sum(calls)
    calls.clear()
    formats = ["csv", "html", "png", *(["cog"] if cog else [])]
    mapped = siting.run(
        _with_formats(scenario_file, formats), out_dir=tmp_path / "b", chunks=CHUNKS
    )
    # The score raster's one pass scores every candidate cell once more, whatever reads it
    # after (the COG, the map overlay, the static map).
    assert len(plain.candidates) < plain.candidates.attrs["n_candidates"]
    assert sum(calls) - scored_plain == plain.candidates.attrs["n_candidates"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir() if p.name.startswith(".")) == []
    assert ("score_cog" in mapped.files) is cog
    whole = siting.run(_with_formats(scenario_file, ["csv"]))
    np.testing.assert_array_equal(mapped.raster("score").values, whole.raster("score").values)
    np.testing.assert_array_equal(mapped.availability.values, whole.availability.values)


def _tiles_seen_at_features(scratch_dir: Path) -> tuple[list[Any], Any]:
    """A progress callback that lists the scratch folders as the features stage starts."""
    seen: list[Any] = []

    def progress(stage: str, index: int, total: int) -> None:
        if stage == "features":
            seen.extend(
                (folder.name, len(list(folder.iterdir()))) for folder in scratch_dir.iterdir()
            )

    return seen, progress


def test_run__scratch_dir_holds_the_tiles_and_is_left_empty(scenario, in_memory, tmp_path):
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    seen, progress = _tiles_seen_at_features(scratch_dir)
    tiled = siting.run(
        scenario, chunks=CHUNKS, scheduler="threads", scratch_dir=scratch_dir, progress=progress
    )
    [(name, n_tiles)] = seen  # one folder of the run's tiles, once availability is computed
    assert name.startswith("siting-scratch-")
    assert n_tiles >= np.prod(tiled.availability.data.numblocks)
    assert list(scratch_dir.iterdir()) == []  # removed when the run ended
    _assert_same_run(in_memory, tiled)


def test_distributed_run_without_output_checkpoints_into_the_scratch_dir(
    scenario, in_memory, tmp_path
):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'siting[test]')"
    )
    scratch_dir = tmp_path / "shared"
    scratch_dir.mkdir()
    seen, progress = _tiles_seen_at_features(scratch_dir)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        tiled = siting.run(
            scenario, chunks=CHUNKS, scheduler=client, scratch_dir=scratch_dir, progress=progress
        )
    [(_, n_tiles)] = seen  # the worker processes wrote the tiles there
    assert n_tiles >= np.prod(tiled.availability.data.numblocks)
    assert list(scratch_dir.iterdir()) == []
    _assert_same_run(in_memory, tiled)


@pytest.mark.parametrize("problem", ["missing", "a file"])
def test_run__bad_scratch_dir_is_a_clear_error_before_anything_is_written(
    scenario, tmp_path, problem
):
    scratch_dir = tmp_path / "scratch"
    if problem == "a file":
        scratch_dir.write_text("not a folder")
    out = tmp_path / "out"
    expected = "does not exist" if problem == "missing" else "is not a folder"
    with pytest.raises(OutputError, match=f"scratch folder .*scratch.* {expected}"):
        siting.run(scenario, out_dir=out, chunks=CHUNKS, scratch_dir=scratch_dir)
    assert not out.exists()


def test_cli_run_with_a_missing_scratch_dir_exits_5_and_writes_nothing(scenario_file, tmp_path):
    out = tmp_path / "out"
    args = ["run", str(scenario_file), "--out", str(out), "--chunks", "128"]
    result = CliRunner().invoke(main, [*args, "--scratch", str(tmp_path / "nowhere")])
    assert result.exit_code == 5, result.output
    assert "scratch folder" in result.output
    assert "does not exist" in result.output
    assert not out.exists()


def test_cli_run_puts_its_tiles_in_the_scratch_dir(scenario_file, tmp_path, monkeypatch):
    import siting.pipeline

    made = []

    def recording(*, prefix: str, dir: Path | None = None) -> Any:
        made.append(dir)
        return scratch_folder(prefix=prefix, dir=dir)

    monkeypatch.setattr(siting.pipeline, "scratch_folder", recording)
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    out = tmp_path / "out"
    args = ["run", str(scenario_file), "--out", str(out), "--chunks", "128", "--quiet"]
    result = CliRunner().invoke(main, [*args, "--scratch", str(scratch_dir)])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").exists()
    assert made == [scratch_dir]
    assert list(scratch_dir.iterdir()) == []
