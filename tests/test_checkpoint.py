"""A chunked run computes its availability once to scratch tiles and reads them back."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import siting
import siting.features.distance as distance
from siting.checkpoint import checkpoint, remove_abandoned, scratch_folder, store
from siting.constraints import (
    Contiguity,
    Rule,
    availability,
    exclusion_report,
    stored_availability,
)
from siting.datasets import write_demo_inputs
from siting.errors import ConstraintError
from siting.grid import Grid
from siting.scenario import Scenario
from siting.testing import category_field, random_field, small_grid

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


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool", "uint8", "int16"])
def test_checkpoint_reads_back_every_tile_bit_for_bit(tmp_path, dtype):
    grid = small_grid(shape=(40, 30))
    field = random_field(grid, seed=5)
    values = (field.values > 0.5).astype(dtype)  # tiles of only 0 and 1 go as bits
    if values.dtype.kind == "f":
        values[:5, :7] = 0.25  # a partial cell: its tile goes as it is
        values[20:23, :4] = -0.0  # a zero with its sign: as it is, not as 0.0
        values[30:, 20:] = np.nan
    if values.dtype.kind == "i":
        values[:3, :3] = -1
    lazy = field.copy(data=values).chunk({"y": 10, "x": 15})
    back, _ = checkpoint(lazy, tmp_path)
    assert back.dtype == values.dtype
    assert back.values.tobytes() == values.tobytes()
    sizes = {p.name: p.stat().st_size for p in tmp_path.glob("tile-*.z")}
    assert len(sizes) == 8
    # A tile of 0s and 1s goes as a bit per cell: 150 cells in 19 bytes before zlib (about
    # 30 after); as a byte per cell zlib leaves more than 50 of these random 0s and 1s.
    assert min(sizes.values()) < 40


def test_checkpoint_refuses_a_raster_in_memory(tmp_path):
    field = random_field(small_grid(shape=(4, 5)), seed=0)
    with pytest.raises(ValueError, match="dask-backed"):
        checkpoint(field, tmp_path)
    with pytest.raises(ValueError, match="2-D"):
        checkpoint(xr.DataArray(da.zeros((2, 3, 4), chunks=2)), tmp_path)


def test_store__several_rasters_sums_and_summaries_in_one_pass(tmp_path):
    calls: list[tuple[int, int]] = []
    lazy = _lazy_field(calls)
    expected = lazy.values
    calls.clear()
    above = lazy > 1

    def summary(doubled: np.ndarray, flags: np.ndarray) -> tuple[int, float]:
        return int(flags.sum()), float(doubled.max())

    stored = store([lazy, above], tmp_path, sums=[lazy.data], summarize=summary, name="pair")
    assert sorted(calls) == sorted(set(calls))  # each tile once
    assert len(calls) == 12
    calls.clear()
    np.testing.assert_array_equal(stored.rasters[0].values, expected)
    np.testing.assert_array_equal(stored.rasters[1].values, expected > 1)
    assert stored.rasters[1].dtype == bool
    assert calls == []
    np.testing.assert_allclose(stored.totals, [expected.sum(dtype=np.float64)], rtol=1e-12)
    assert stored.summaries is not None
    assert stored.summaries.shape == (4, 3)
    row, column = lazy.chunks
    tile = expected[row[0] : row[0] + row[1], : column[0]]  # tile (1, 0)
    assert stored.summaries[1, 0] == (int((tile > 1).sum()), float(tile.max()))
    assert len(list(tmp_path.glob("pair-*.z"))) == 2 * 12


def test_store_and_scratch_folder_name_their_files_by_absolute_paths(tmp_path, monkeypatch):
    # Tasks on cluster workers resolve paths in their own working folder, not the client's.
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    lazy = _lazy_field([])
    with scratch_folder(prefix="rel-", dir=Path(".")) as folder:
        assert folder.is_absolute()
        assert folder.parent == tmp_path / "a"
    Path("tiles").mkdir()
    back, _ = checkpoint(lazy, Path("tiles"))
    monkeypatch.chdir(tmp_path)  # elsewhere, as a worker would be
    np.testing.assert_array_equal(back.values, lazy.values)


def test_store__refuses_rasters_of_other_chunks(tmp_path):
    lazy = _lazy_field([])
    with pytest.raises(ValueError, match="same chunks"):
        store([lazy, lazy.chunk({"y": 7})], tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        store([], tmp_path)


def _rules_stack(layer_calls: collections.Counter) -> xr.Dataset:
    """Layers whose tiles count their evaluations, on a grid of 5 x 4 uneven tiles."""
    grid = small_grid(shape=(70, 61))
    layers = {
        "land": category_field(grid, seed=1, categories=(1, 2, 3), block=3),
        "slope": random_field(grid, seed=2, high=30.0, nodata_fraction=0.02),
        "road": (random_field(grid, seed=3) > 0.93).astype("float32"),
    }
    # Its value rules are checked for values that never occur (a typo), in the same pass.
    layers["land"].attrs["kind"] = "categorical"
    stack = xr.Dataset(layers).chunk({"y": 16, "x": 17})

    def counted(name: str):
        def tile(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
            if block_info:
                layer_calls[name, tuple(block_info[0]["chunk-location"])] += 1
            return block

        return tile

    for name in stack.data_vars:
        stack[name] = stack[name].copy(data=stack[name].data.map_blocks(counted(name)))
    return grid.georeference(stack)


_RULES = [
    Rule("land", exclude_values=(1,), nodata="ignore"),
    Rule("slope", include_range=(0, 20), nodata="exclude", keep=0.4),
    Rule("road", exclude_values=(1,), nodata="ignore", exempt_from_contiguity=True),
    Rule("land", include_values=(3,), nodata="ignore", force_include=True),
]


@pytest.mark.parametrize(
    ("rules", "contiguity", "combine"),
    [
        (_RULES, Contiguity(min_area_km2=0.25, connectivity="queen"), "multiply"),
        (_RULES, Contiguity(min_area_km2=0.12, connectivity="rook"), "minimum"),
        (_RULES[:2], Contiguity(min_area_km2=0.4, connectivity="queen"), "multiply"),
        (_RULES, Contiguity(min_area_km2=0.01), "multiply"),  # one cell: nothing to label
        (_RULES, None, "multiply"),
    ],
)
def test_stored_availability_equals_the_whole_array_and_runs_each_rule_once(
    tmp_path, rules, contiguity, combine
):
    layer_calls: collections.Counter = collections.Counter()
    stack = _rules_stack(layer_calls)
    within = (random_field(Grid.from_xarray(stack), seed=9) < 0.97).chunk({"y": 16, "x": 17})
    whole = stack.compute()
    layer_calls.clear()
    stored = stored_availability(
        stack,
        rules,
        tmp_path,
        within=within,
        contiguity=contiguity,
        combine=combine,
        layers=["slope", "road"],
    )
    # Each layer's tiles were evaluated once: the rules, the report's sums, the
    # contiguity labels and the stored layers came from the same tasks.
    used = {r.layer for r in rules} | {"slope", "road"}
    assert set(layer_calls.values()) == {1}
    assert len(layer_calls) == len(used) * 5 * 4
    layer_calls.clear()
    expected = availability(
        whole, rules, within=within.compute(), contiguity=contiguity, combine=combine
    )
    np.testing.assert_array_equal(stored.availability.values, expected.values)
    for name in ("slope", "road"):
        np.testing.assert_array_equal(stored.layers[name].values, whole[name].values)
        assert stored.layers[name].attrs == whole[name].attrs
    assert layer_calls == collections.Counter()  # read back from the tiles
    assert stored.availability.name == expected.name
    assert stored.availability.attrs == expected.attrs
    assert stored.availability.rio.crs == expected.rio.crs
    report = exclusion_report(
        whole, rules, within=within.compute(), contiguity=contiguity, combine=combine
    )
    assert stored.report["rule"].tolist() == report["rule"].tolist()
    np.testing.assert_allclose(
        stored.report.drop(columns="rule").to_numpy(),
        report.drop(columns="rule").to_numpy(),
        rtol=1e-9,
        atol=1e-12,
    )
    if contiguity is not None and contiguity.min_area_km2 > 0.1:
        assert stored.report["excluded_in_sequence_km2"].iloc[-1] > 0  # the filter did work
    # Only the availability's and the layers' tiles are left: the rules pass's
    # availability went once read.
    assert len(list(tmp_path.iterdir())) == 3 * 5 * 4
    np.testing.assert_array_equal(stored.layers["road"].values, whole["road"].values)
    for tile in tmp_path.iterdir():
        tile.unlink()
    # Once the tiles are gone, the availability is still there, from the inputs.
    np.testing.assert_array_equal(stored.from_inputs.values, expected.values)


def test_stored_availability_refuses_a_stack_in_memory(tmp_path):
    stack = _rules_stack(collections.Counter()).compute()
    with pytest.raises(ConstraintError, match="chunked"):
        stored_availability(stack, _RULES, tmp_path)


@pytest.mark.parametrize("contiguity", [None, Contiguity(min_area_km2=0.25)])
def test_stored_availability_names_a_categorical_value_that_never_occurs(tmp_path, contiguity):
    stack = _rules_stack(collections.Counter())
    rules = [*_RULES, Rule("land", include_values=(7, 8), nodata="ignore")]
    with pytest.raises(
        ConstraintError, match=r"none of the values \[7, 8\].*values present: \[1, 2, 3\]"
    ):
        stored_availability(stack, rules, tmp_path, contiguity=contiguity)
    rules = [*_RULES, Rule("land", exclude_values=(7, 8), nodata="ignore")]
    (tmp_path / "excluded").mkdir()
    with pytest.warns(UserWarning, match=r"none of the values \[7, 8\].*changes nothing"):
        stored_availability(stack, rules, tmp_path / "excluded", contiguity=contiguity)


def test_stored_availability_names_a_layer_to_store_that_is_not_in_the_stack(tmp_path):
    stack = _rules_stack(collections.Counter())
    with pytest.raises(ConstraintError, match=r"\['roads'\].*not in the stack.*'road'"):
        stored_availability(stack, _RULES, tmp_path, layers=["roads"])
    assert list(tmp_path.iterdir()) == []


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


@pytest.mark.parametrize("exempt", [False, True])
def test_chunked_run_evaluates_its_setbacks_once_for_rules_labels_and_report(
    scenario, tmp_path, setback_calls, monkeypatch, exempt
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    formats = ["csv", "html", "png", "cog"]
    outputs = scenario.outputs.model_copy(update={"formats": formats})
    rules = [r.model_copy(update={"exempt_from_contiguity": exempt}) for r in scenario.rules]
    assert scenario.contiguity is not None
    scenario = scenario.model_copy(update={"outputs": outputs, "rules": rules})
    run = siting.run(scenario, out_dir=tmp_path / "run", chunks=CHUNKS, scheduler="synchronous")
    tiles = int(np.prod(run.availability.data.numblocks))
    (setbacks,) = [n for (count, limit), n in setback_calls.items() if np.isfinite(limit)]
    # Once, for the rules, the contiguity labels and the report's areas together: the
    # later passes read the availability and the setback column back. Labelling in a pass
    # of its own made it three times when the setback split patches, and the candidates
    # measured the setback column again.
    assert setbacks == tiles
    # The scratch tiles went with the run; what it returns is computed from the inputs.
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")] == []
    assert list((tmp_path / "temp").iterdir()) == []
    whole = siting.run(scenario)
    np.testing.assert_array_equal(run.availability.values, whole.availability.values)
    (layer,) = {rule.stack_layer for rule in scenario.rules if rule.vector is not None}
    np.testing.assert_array_equal(run.stack[layer].values, whole.stack[layer].values)
    pd.testing.assert_frame_equal(
        run.sites.drop(columns="geometry"), whole.sites.drop(columns="geometry")
    )
    assert run.exclusions["rule"].tolist() == whole.exclusions["rule"].tolist()
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
    import siting.checkpoint

    real = siting.checkpoint.store

    def spied(rasters, folder, **kwargs):
        seen.append(Path(folder))
        return real(rasters, folder, **kwargs)

    with (
        pytest.MonkeyPatch.context() as patch,
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        patch.setattr(siting.checkpoint, "store", spied)
        tiled = siting.run(scenario, out_dir=tmp_path / "run", chunks=CHUNKS, scheduler=client)
        # Without an output folder the workers, maybe on other machines, share no scratch:
        # the availability is computed again where needed.
        siting.run(scenario, chunks=CHUNKS, scheduler=client)
    # The rules pass and the filtered availability, both in the run's scratch folder.
    assert len(seen) == 2
    assert {p.parent for p in seen} == {tmp_path / "run"}
    assert not seen[0].exists()
    whole = siting.run(scenario)
    np.testing.assert_array_equal(tiled.availability.values, whole.availability.values)
    assert tiled.sites["cell_id"].tolist() == whole.sites["cell_id"].tolist()


_HOLD_A_SCRATCH_FOLDER = """
import sys, time
from pathlib import Path
from siting.checkpoint import scratch_folder
with scratch_folder(prefix=".scratch-", dir=Path(sys.argv[1])) as folder:
    (folder / "tile-0-0-0.z").write_bytes(b"x" * 1000)
    print(folder, flush=True)
    time.sleep(600)
"""


def _holding_a_scratch_folder(parent: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_SCRATCH_FOLDER, str(parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_scratch_folder__a_killed_run_s_folder_goes_with_the_next_one(tmp_path):
    killed, abandoned = _holding_a_scratch_folder(tmp_path)
    alive, in_use = _holding_a_scratch_folder(tmp_path)
    try:
        assert abandoned.is_dir()
        assert in_use.is_dir()
        killed.send_signal(signal.SIGKILL)  # no clean-up runs: the folder stays
        killed.wait()
        assert (abandoned / "tile-0-0-0.z").exists()
        unrelated = tmp_path / ".scratch-not-ours"  # no lock file: not a scratch folder
        unrelated.mkdir()
        with scratch_folder(prefix=".scratch-", dir=tmp_path) as folder:
            assert not abandoned.exists()
            assert in_use.is_dir()  # its run is alive
            assert (in_use / "tile-0-0-0.z").exists()
            assert unrelated.is_dir()
            assert folder.is_dir()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([in_use.name, unrelated.name])
    finally:
        alive.kill()
        alive.wait()
    assert remove_abandoned(prefix=".scratch-", dir=tmp_path) == [in_use]
    assert [p.name for p in tmp_path.iterdir()] == [unrelated.name]


def test_scratch_folder__removed_while_abandoned_tasks_still_write(tmp_path):
    # An interrupt ends a run while tasks of its graph still write tiles: the folder goes
    # anyway, and the interrupt (not a "directory not empty" error) is what propagates.
    import threading
    import time

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
