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


def test_threads_measure_inside_polygons_on_their_own_copies():
    # contains_xy prepares its polygon in place, and GEOS prepared geometries are not safe
    # to share: the polygons given stay unprepared, and each thread prepares its own.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    geoms = _network(seed=3, n_lines=20, n_polygons=5, n_points=2)
    index = SegmentIndex(geoms)
    xs, ys = np.arange(0.0, 20_000, 250.0), np.arange(20_000.0, 0, -250.0)
    expected = _reference(geoms, xs, ys)
    assert (expected == 0).sum() > 100  # cells inside polygons
    blocks = [
        (slice(r, r + 16), slice(c, c + 16)) for r in range(0, 80, 16) for c in range(0, 80, 16)
    ]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            tiles = pool.map(lambda b: index.distances(xs[b[1]], ys[b[0]]), blocks)
            for (rows, cols), tile in zip(blocks, tiles, strict=True):
                np.testing.assert_allclose(tile, expected[rows, cols], rtol=0, atol=1e-6)
    polygons = index._polygons  # the polygons all threads share
    assert len(polygons) == 5
    assert not shapely.is_prepared(polygons).any()

    def copies_in_a_new_thread():
        seen = []
        thread = threading.Thread(
            target=lambda: seen.append(index._prepared_polygons.get(lambda: None))
        )
        thread.start()
        thread.join()
        return seen[0]

    assert copies_in_a_new_thread() is None  # a new thread has built nothing yet
    index.distances(xs, ys)
    here = index._prepared_polygons.get(lambda: None)
    assert shapely.is_prepared(here).all()
    assert shapely.equals_exact(here, polygons, tolerance=0).all()
    assert not shapely.is_prepared(polygons).any()
