"""Top-k selection with spacing on large tables: the same choice as the definition."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siting.ranking import _greedy_spaced, _metres_xy, select_top


def _reference(cands: gpd.GeoDataFrame, n: int, spacing: float, tie: str = "cell_id") -> list:
    """The definition, one candidate at a time: best score first, ties by ``tie`` then
    position, NaN never; skip any whose squared distance to one taken is below spacing²."""
    scores = cands["score"].to_numpy(dtype=float)
    valid = np.flatnonzero(np.isfinite(scores))
    ties = pd.Series(cands[tie].to_numpy()[valid]).rank(method="first").to_numpy()
    order = valid[np.lexsort((ties, -scores[valid]))]
    xy = np.column_stack([cands.geometry.x, cands.geometry.y])
    taken: list[int] = []
    for i in order:
        if len(taken) == n:
            break
        d2 = ((xy[taken] - xy[i]) ** 2).sum(axis=1)
        if spacing == 0 or not (d2 < spacing**2).any():
            taken.append(int(i))
    return cands[tie].to_numpy()[taken].tolist()


def _clustered(seed: int, size: int) -> gpd.GeoDataFrame:
    """Candidates in tight clusters, on a 90 m lattice, scores with many ties and NaNs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 200_000, (8, 2))
    xy = centres[rng.integers(0, 8, size)] + rng.normal(0, 4_000, (size, 2))
    xy = np.round(xy / 90) * 90  # points exactly a spacing apart, and shared points
    score = np.round(rng.normal(0, 1, size) - np.hypot(*(xy - centres[0]).T) / 20_000, 1)
    score[rng.random(size) < 0.05] = np.nan
    return gpd.GeoDataFrame(
        {"cell_id": rng.permutation(size), "score": score},
        geometry=gpd.points_from_xy(*xy.T),
        crs="EPSG:5070",
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("n", "spacing"), [(5, 0.0), (30, 900.0), (60, 5_000.0), (400, 40_000.0)])
def test_select_top__large_clustered_table_gives_the_one_by_one_choice(seed, n, spacing):
    # 30,000 rows: the order is built in several segments, the spacing check uses buckets,
    # and at 40 km the selection runs out of room before n sites.
    cands = _clustered(seed, 30_000)
    chosen = select_top(cands, n=n, min_spacing_m=spacing)
    assert chosen["cell_id"].tolist() == _reference(cands, n, spacing)
    assert chosen["rank"].tolist() == list(range(1, len(chosen) + 1))
    pd.testing.assert_frame_equal(
        chosen.drop(columns="rank"),
        cands.set_index("cell_id").loc[chosen["cell_id"]].reset_index()[cands.columns],
    )


def test_select_top__string_tie_breaker_and_missing_or_empty_points():
    cands = _clustered(7, 5_000)
    cands["name"] = [f"site {i:05d}" for i in cands["cell_id"]]
    geoms = cands.geometry.to_numpy().copy()
    geoms[::97] = None
    geoms[1::89] = shapely.Point()
    cands = cands.set_geometry(geoms)  # no location: never too close to anything
    chosen = select_top(cands, n=80, min_spacing_m=3_000, tie_breaker="name")
    assert chosen["name"].tolist() == _reference(cands, 80, 3_000, tie="name")


def test_greedy_spaced__far_out_coordinates_compare_every_pair():
    # Coordinates of 1e15 m with a 1 m spacing are beyond exact bucket numbers.
    rng = np.random.default_rng(3)
    xy = 1e15 + np.round(rng.uniform(0, 20, (2_000, 2)))
    xy[::50] = np.nan
    order = rng.permutation(2_000)
    taken: list[int] = []
    for i in order:
        d2 = ((xy[taken] - xy[i]) ** 2).sum(axis=1)
        if not (d2 < 1.0).any():
            taken.append(int(i))
    assert _greedy_spaced(order, xy, 10_000, 1.0) == taken


def test_metres_xy__matches_geoseries_coordinates_with_nan_for_missing_and_empty():
    points = [shapely.Point(1, 2), shapely.Point(), None, shapely.Point(3, 4)]
    cands = gpd.GeoDataFrame(geometry=points, crs="EPSG:2263")  # US survey feet
    factor = cands.crs.axis_info[0].unit_conversion_factor
    expected = np.column_stack([cands.geometry.x, cands.geometry.y]) * factor
    np.testing.assert_array_equal(_metres_xy(cands), expected)
    with pytest.raises(ValueError, match="not points"):
        _metres_xy(cands.set_geometry([shapely.box(0, 0, 1, 1), *points[1:]]))
