"""A chunked run computes its availability once to scratch tiles and reads them back."""

from __future__ import annotations

import collections
import tempfile
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import siting
import siting.features.distance as distance
from siting.checkpoint import checkpoint
from siting.datasets import write_demo_inputs
from siting.scenario import Scenario
from siting.testing import random_field, small_grid

CHUNKS = 128  # the demo grid is 460 x 527 cells: 4 x 5 tiles


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return Scenario.from_toml(write_demo_inputs(tmp_path_factory.mktemp("inputs")))


def _lazy_field(calls: list[tuple[int, int]]) -> xr.DataArray:
    grid = small_grid(shape=(50, 70))
    field = random_field(grid, seed=3).astype("float32")
    field.attrs = {"units": "1", "long_name": "a field"}

    def counted(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        if block_info:  # dask also calls it once on an empty block to learn the dtype
            calls.append(tuple(block_info[0]["chunk-location"]))
        return block * np.float32(2)

    lazy = field.chunk({"y": 16, "x": 32})
    return lazy.copy(data=lazy.data.map_blocks(counted, dtype="float32"))


def test_checkpoint_reads_back_the_raster_and_sums_in_the_same_pass(tmp_path):
    calls: list[tuple[int, int]] = []
    lazy = _lazy_field(calls)
    expected = lazy.values
    calls.clear()
    back, totals = checkpoint(lazy, tmp_path, sums=[lazy.data, lazy.data > 1, np.ones(lazy.shape)])
    # Every tile was computed once, for the raster and its sums together.
    assert sorted(calls) == sorted(set(calls))
    assert len(calls) == 4 * 3
    calls.clear()
    np.testing.assert_array_equal(back.values, expected)
    assert calls == []  # read back from the files, not computed again
    assert back.chunks == lazy.chunks
    assert back.dtype == np.float32
    assert back.name == lazy.name
    assert back.attrs == lazy.attrs
    assert back.rio.crs == lazy.rio.crs
    np.testing.assert_array_equal(back["x"], lazy["x"])
    np.testing.assert_allclose(
        totals,
        [expected.sum(dtype=np.float64), (expected > 1).sum(), expected.size],
        rtol=1e-12,
    )
    assert totals.dtype == np.float64
    assert len(list(tmp_path.glob("tile-*.z"))) == 12
    assert not list(tmp_path.glob("*.part"))


def test_checkpoint_without_sums_and_on_one_tile(tmp_path):
    lazy = _lazy_field([]).chunk({"y": -1, "x": -1})
    back, totals = checkpoint(lazy, tmp_path)
    assert totals.shape == (0,)
    np.testing.assert_array_equal(back.values, lazy.values)


def test_checkpoint_refuses_a_raster_in_memory(tmp_path):
    field = random_field(small_grid(shape=(4, 5)), seed=0)
    with pytest.raises(ValueError, match="dask-backed"):
        checkpoint(field, tmp_path)
    with pytest.raises(ValueError, match="2-D"):
        checkpoint(xr.DataArray(da.zeros((2, 3, 4), chunks=2)), tmp_path)


@pytest.fixture
def setback_calls(monkeypatch: pytest.MonkeyPatch) -> collections.Counter:
    """How often each distance function is evaluated, by (features, limit)."""
    calls: collections.Counter = collections.Counter()
    nearest_function = distance._nearest_function

    def counted_function(geoms, limit=np.inf):
        nearest = nearest_function(geoms, limit)

        def counted(xs, ys):
            calls[(len(geoms), limit)] += 1
            return nearest(xs, ys)

        return counted

    monkeypatch.setattr(distance, "_nearest_function", counted_function)
    return calls


def test_chunked_run_evaluates_its_rules_once_after_the_contiguity_labels(
    scenario, tmp_path, setback_calls, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    formats = ["csv", "html", "png", "cog"]
    outputs = scenario.outputs.model_copy(update={"formats": formats})
    run = siting.run(
        scenario.model_copy(update={"outputs": outputs}),
        out_dir=tmp_path / "run",
        chunks=CHUNKS,
        scheduler="synchronous",
    )
    tiles = int(np.prod(run.availability.data.numblocks))
    (setbacks,) = [n for (count, limit), n in setback_calls.items() if np.isfinite(limit)]
    # Once to label the contiguous areas, once for the availability the later passes
    # (report, candidates, rasters, maps) read back; it was four times per tile before.
    assert setbacks == 2 * tiles
    # The scratch tiles went with the run; what it returns is computed from the inputs.
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")] == []
    assert list((tmp_path / "temp").iterdir()) == []
    whole = siting.run(scenario)
    np.testing.assert_array_equal(run.availability.values, whole.availability.values)
    np.testing.assert_allclose(
        run.exclusions.drop(columns="rule").to_numpy(),
        whole.exclusions.drop(columns="rule").to_numpy(),
        rtol=1e-12,
    )


def test_failed_chunked_run_leaves_no_scratch_tiles(scenario, tmp_path, monkeypatch):
    import siting.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr(siting.pipeline, "best_candidates", broken)
    for out_dir in (tmp_path / "run", None):
        with pytest.raises(RuntimeError, match="scoring failed"):
            siting.run(scenario, out_dir=out_dir, chunks=CHUNKS, scheduler="synchronous")
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")] == []
    assert not (tmp_path / "run" / "manifest.json").exists()
    assert list((tmp_path / "temp").iterdir()) == []


def test_cluster_run_with_an_output_folder_checkpoints_there(scenario, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'siting[test]')"
    )
    seen: list[Path] = []
    import siting.pipeline

    real = siting.pipeline.checkpoint

    def spied(raster, folder, **kwargs):
        seen.append(Path(folder))
        return real(raster, folder, **kwargs)

    with (
        pytest.MonkeyPatch.context() as patch,
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        patch.setattr(siting.pipeline, "checkpoint", spied)
        tiled = siting.run(scenario, out_dir=tmp_path / "run", chunks=CHUNKS, scheduler=client)
        # Without an output folder the workers, maybe on other machines, share no scratch:
        # the availability is computed again where needed.
        siting.run(scenario, chunks=CHUNKS, scheduler=client)
    assert [p.parent for p in seen] == [tmp_path / "run"]
    assert not seen[0].exists()
    whole = siting.run(scenario)
    np.testing.assert_array_equal(tiled.availability.values, whole.availability.values)
    assert tiled.sites["cell_id"].tolist() == whole.sites["cell_id"].tolist()


def test_scratch_folder__removed_while_abandoned_tasks_still_write(tmp_path):
    # An interrupt ends a run while tasks of its graph still write tiles: the folder goes
    # anyway, and the interrupt (not a "directory not empty" error) is what propagates.
    import threading
    import time

    from siting.checkpoint import scratch_folder

    stop, writes, failed, seen = threading.Event(), [0], [0], []

    def writer(folder):
        while not stop.is_set():
            try:
                (folder / f"tile-{writes[0]}.z").write_bytes(b"x" * 1000)
                writes[0] += 1
            except FileNotFoundError:
                failed[0] += 1  # the folder is gone: the write fails, nothing is recreated

    def interrupted_while_writing():
        with scratch_folder(prefix=".scratch-", dir=tmp_path) as folder:
            seen.append(folder)
            threading.Thread(target=writer, args=(folder,), daemon=True).start()
            while writes[0] < 200:
                time.sleep(0.001)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_while_writing()
    (folder,) = seen
    assert folder.parent == tmp_path
    assert folder.name.startswith(".scratch-")
    assert not folder.exists()
    while failed[0] == 0:
        time.sleep(0.001)
    stop.set()
    assert list(tmp_path.iterdir()) == []
