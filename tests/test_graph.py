"""Task graphs send each large input to the workers once, never with every tile's task.

A distributed scheduler pickles each task on its own as it sends it to a worker, so an
object captured by many tile tasks travels once per tile. These tests pickle each task of
every graph a computation runs, as that scheduler does, and check that no geometry and no
large array is pickled with more than one task.
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cloudpickle
import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

import siting
from siting._graph import call, map_blocks_each, shared
from siting.candidates import best_candidates, score_raster
from siting.constraints import min_contiguous_area
from siting.constraints.contiguity import label_components
from siting.constraints.vector import setback_factor
from siting.datasets import write_demo_inputs
from siting.features.distance import distance_to_nearest
from siting.features.latency import population_within_latency_raster
from siting.layers import coverage_fraction, rasterize
from siting.scenario import Scenario
from siting.testing import random_field, small_grid


class TaskPickles:
    """A dask scheduler that records which tasks each large object is pickled with.

    For each computation it pickles every task on its own and notes the geometries and the
    arrays of at least ``min_bytes`` met on the way, then computes on dask's threads.
    """

    def __init__(self, min_bytes: int = 10_000) -> None:
        self.min_bytes = min_bytes
        self.computations: list[dict[int, set[Any]]] = []

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        from dask._task_spec import convert_legacy_graph

        graph = convert_legacy_graph(dsk if isinstance(dsk, Mapping) else dsk.__dask_graph__())
        holders: dict[int, set[Any]] = collections.defaultdict(set)
        for key, task in graph.items():
            for large in self._large_objects_in(task):
                holders[large].add(key)
        self.computations.append(holders)
        return dask.threaded.get(graph, keys, **kwargs)

    get = __call__  # what siting.run looks for in a scheduler object

    def _large_objects_in(self, task: Any) -> set[int]:
        seen: set[int] = set()
        min_bytes = self.min_bytes

        class Recording(cloudpickle.Pickler):
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, shapely.Geometry) or (
                    isinstance(obj, np.ndarray) and obj.nbytes >= min_bytes
                ):
                    seen.add(id(obj))
                return super().reducer_override(obj)

        Recording(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL).dump(task)
        return seen

    @property
    def large_objects(self) -> int:
        return sum(len(holders) for holders in self.computations)

    def sent_more_than_once(self) -> list[int]:
        """How many tasks carry each object that is pickled with more than one task."""
        return [
            len(keys)
            for holders in self.computations
            for keys in holders.values()
            if len(keys) > 1
        ]


GRID = small_grid(shape=(96, 128), resolution=90.0)
CHUNKS = 32  # 3 x 4 tiles


def _lines(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    left, bottom, right, top = GRID.bounds
    paths = np.stack([rng.uniform(left, right, (n, 5)), rng.uniform(bottom, top, (n, 5))], -1)
    return gpd.GeoDataFrame(geometry=shapely.linestrings(paths), crs=GRID.crs)


def _discs(n: int, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    left, bottom, right, top = GRID.bounds
    centres = shapely.points(rng.uniform(left, right, n), rng.uniform(bottom, top, n))
    return gpd.GeoDataFrame(geometry=shapely.buffer(centres, 400.0), crs=GRID.crs)


def _towns(n: int, seed: int = 2) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    left, bottom, right, top = GRID.bounds
    return gpd.GeoDataFrame(
        {"population": rng.integers(100, 5_000, n)},
        geometry=gpd.points_from_xy(rng.uniform(left, right, n), rng.uniform(bottom, top, n)),
        crs=GRID.crs,
    )


class HeavyScore:
    """A scorer holding a large array, as a fitted model does."""

    def __init__(self) -> None:
        self.weights = np.linspace(0.0, 1.0, 50_000)

    def __call__(self, table: Any) -> np.ndarray:
        return np.asarray(table["field"], dtype="float64") * self.weights[-1]


def _stack() -> tuple[xr.Dataset, xr.DataArray]:
    field = random_field(GRID, seed=3).chunk(CHUNKS)
    avail = (random_field(GRID, seed=4) > 0.2).astype("float32").chunk(CHUNKS)
    return field.to_dataset(name="field"), avail


def _many_components() -> xr.DataArray:
    """A mask of thousands of patches: each tile's relabelling table is large."""
    return (random_field(GRID, seed=5) > 0.6).chunk(CHUNKS)


# Each builds a lazy, tiled result from an input large enough to notice if it were
# pickled with every tile's task.
BUILDERS = {
    "rasterize": lambda: rasterize(_discs(300), GRID, chunks=CHUNKS),
    "coverage_fraction": lambda: coverage_fraction(_discs(300), GRID, chunks=CHUNKS),
    "distance_to_nearest": lambda: distance_to_nearest(_lines(300), GRID, chunks=CHUNKS),
    "setback_factor": lambda: setback_factor(_lines(300), GRID, distance_m=200, chunks=CHUNKS),
    "population_within_latency_raster": lambda: population_within_latency_raster(
        _towns(3_000), GRID, budget_ms=1.05, method="points", chunks=CHUNKS
    ),
    "score_raster": lambda: score_raster(*_stack(), HeavyScore()),
    "label_components": lambda: label_components(_many_components(), connectivity="rook").labels,
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_tiled_layers_send_their_inputs_with_one_task(name):
    result = BUILDERS[name]()
    assert len(result.chunks[0]) * len(result.chunks[1]) == 12
    recorder = TaskPickles(min_bytes=500)  # a 32-cell tile's relabelling table is small
    lazy = result.data if isinstance(result, xr.DataArray) else result
    expected = lazy.compute(scheduler="threads")
    np.testing.assert_array_equal(lazy.compute(scheduler=recorder), expected)
    assert recorder.large_objects > 0  # the input did reach the graph
    assert recorder.sent_more_than_once() == []


def test_best_candidates_send_the_scorer_with_one_task():
    stack, avail = _stack()
    recorder = TaskPickles()
    with dask.config.set(scheduler=recorder):
        best = best_candidates(stack, avail, score=HeavyScore(), n=5)
    assert len(best) == 5
    assert recorder.large_objects > 0
    assert recorder.sent_more_than_once() == []


def test_contiguity_filter_sends_each_tile_only_its_own_border_table():
    avail = random_field(GRID, seed=6).chunk(CHUNKS)
    avail = (avail > 0.45).astype("float32")
    recorder = TaskPickles(min_bytes=100)  # the border tables of 32-cell tiles are small
    filtered = min_contiguous_area(GRID.georeference(avail), min_area_km2=0.1, connectivity="rook")
    with dask.config.set(scheduler=recorder):
        values = filtered.values
    assert 0 < (values > 0).sum() < (avail.values > 0).sum()  # some patches went, some stayed
    assert recorder.large_objects > 0
    assert recorder.sent_more_than_once() == []


def _demo(folder: Path, scorer: str) -> Scenario:
    path = write_demo_inputs(folder)
    if scorer == "weighted_overlay":
        return Scenario.from_toml(path)
    data = Scenario.from_toml(path).to_toml_dict()
    data["vectors"]["facilities"] = {"path": "sample_vectors.gpkg", "layer": "facilities"}
    data["scorer"] = {
        "method": "site_scorer",
        "presences": "facilities",
        "features": ["ghi_kwh_m2_day", "wind_speed_100m_m_s", "slope_pct"],
        "background_points": 2000,
        "n_bootstrap": 4,
    }
    return Scenario.from_dict(data, base_dir=path.parent)


@pytest.mark.parametrize("scorer", ["weighted_overlay", "site_scorer"])
@pytest.mark.filterwarnings("ignore:.*presences.*:UserWarning")
def test_pipeline_sends_each_large_input_with_one_task(tmp_path, scorer):
    scenario = _demo(tmp_path, scorer)
    recorder = TaskPickles()
    result = siting.run(scenario, chunks=128, scheduler=recorder)
    assert len(result.sites) == scenario.ranking.top_n
    assert len(recorder.computations) >= 3  # rules, checkpoint, candidates at least
    assert recorder.large_objects > 0
    assert recorder.sent_more_than_once() == []


def test_recorder_finds_an_input_captured_by_every_tile():
    """The check above can fail: a closure over a large array is pickled with each tile."""
    weights = np.arange(5_000, dtype="float64")
    template = da.zeros((64, 64), chunks=16)
    captured = da.map_blocks(lambda block: block + weights[0], template)
    recorder = TaskPickles()
    captured.compute(scheduler=recorder)
    assert recorder.sent_more_than_once() == [16]

    recorder = TaskPickles()
    passed = da.map_blocks(
        lambda block, w: block + w[0], template, shared(weights), meta=np.ones(())
    )
    np.testing.assert_array_equal(passed.compute(scheduler=recorder), captured.compute())
    assert recorder.large_objects == 1
    assert recorder.sent_more_than_once() == []


def test_call_applies_a_shared_function():
    offset = shared(lambda x, y=0: x + y + 1)
    assert dask.delayed(call)(offset, 2, y=3).compute() == 6


def test_map_blocks_each_gives_each_block_its_own_arguments():
    values = np.arange(12 * 15, dtype="float64").reshape(12, 15)
    array = da.from_array(values, chunks=(5, 4))
    offsets = {(i, j): {"offset": 100.0 * i + j} for i in range(3) for j in range(4)}
    result = map_blocks_each(lambda block, offset: block + offset, [array], offsets, "float64")
    assert result.chunks == array.chunks
    expected = values.copy()
    for (i, j), kwargs in offsets.items():
        expected[5 * i : 5 * i + 5, 4 * j : 4 * j + 4] += kwargs["offset"]
    np.testing.assert_array_equal(result.compute(), expected)
