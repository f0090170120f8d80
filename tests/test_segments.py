"""The block-wise exact distance kernel agrees with shapely everywhere."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.features._segments import SegmentIndex


def _reference(geoms, xs, ys):
    px, py = np.meshgrid(xs, ys)
    tree = shapely.STRtree(geoms)
    _, d = tree.query_nearest(
        shapely.points(px.ravel(), py.ravel()), return_distance=True, all_matches=False
    )
    return d.reshape(px.shape)


def _network(seed: int, n_lines: int, n_polygons: int, n_points: int):
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 20_000, (n_lines, 2))
    mids = starts + rng.normal(0, 2_000, (n_lines, 2))
    ends = mids + rng.normal(0, 2_000, (n_lines, 2))
    lines = shapely.linestrings(np.stack([starts, mids, ends], 1))
    polygons = shapely.buffer(shapely.points(rng.uniform(0, 20_000, (n_polygons, 2))), 1_500)
    points = shapely.points(rng.uniform(0, 20_000, (n_points, 2)))
    return np.concatenate([lines, polygons, points])


@given(
    seed=st.integers(0, 10_000),
    n_lines=st.integers(0, 400),
    n_polygons=st.integers(0, 5),
    n_points=st.integers(0, 5),
    step=st.sampled_from([37.0, 100.0, 333.0]),
)
@settings(max_examples=40, deadline=None)
def test_distances_equal_shapely(seed, n_lines, n_polygons, n_points, step):
    geoms = _network(
        seed, n_lines, n_polygons, max(n_points, 1 if n_lines + n_polygons == 0 else 0)
    )
    xs = np.arange(step / 2, 20_000, step)[:90]
    ys = np.arange(20_000 - step / 2, 0, -step)[:70]
    got = SegmentIndex(geoms).distances(xs, ys)
    np.testing.assert_allclose(got, _reference(geoms, xs, ys), atol=1e-6)


def test_inside_a_polygon_and_on_a_line_is_zero():
    square = shapely.box(0, 0, 10, 10)
    line = shapely.linestrings([(20, 0), (20, 10)])
    index = SegmentIndex(np.array([square, line]))
    got = index.distances(np.array([5.0, 20.0, 25.0]), np.array([5.0]))
    assert got.tolist() == [[0.0, 0.0, 5.0]]


def test_dense_network_splits_blocks_and_stays_exact():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5_000, (3_000, 2))
    segments = shapely.linestrings(np.stack([xy, xy + rng.normal(0, 50, xy.shape)], 1))
    xs = np.arange(5.0, 5_000, 25.0)
    ys = np.arange(4_995.0, 0, -25.0)
    np.testing.assert_allclose(
        SegmentIndex(segments).distances(xs, ys), _reference(segments, xs, ys), atol=1e-6
    )
