"""Choosing sites from scored candidates: top-k with a minimum spacing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import shapely

from siting.errors import CRSError, NoFeasibleSitesError

__all__ = ["select_top"]


def select_top(
    candidates: gpd.GeoDataFrame,
    *,
    n: int,
    min_spacing_m: float = 0.0,
    score: str = "score",
    tie_breaker: str = "cell_id",
) -> gpd.GeoDataFrame:
    """The ``n`` best candidates, no two closer than ``min_spacing_m``.

    Greedy in score order: a candidate is taken unless it lies within ``min_spacing_m`` of
    one already taken. Ties in score are broken by ``tie_breaker`` (ascending), so the same
    input always gives the same ranking. Candidates with a missing score are never taken.

    Returns
    -------
    geopandas.GeoDataFrame
        The chosen candidates with a ``rank`` column (1 = best) first, in rank order;
        fewer than ``n`` rows if spacing leaves fewer.

    Examples
    --------
    >>> import geopandas as gpd
    >>> cands = gpd.GeoDataFrame({"cell_id": [0, 1, 2], "score": [0.9, 0.8, 0.7]},
    ...     geometry=gpd.points_from_xy([0, 100, 5000], [0, 0, 0]), crs="EPSG:5070")
    >>> select_top(cands, n=2, min_spacing_m=1000)["cell_id"].tolist()
    [0, 2]
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if min_spacing_m < 0 or not np.isfinite(min_spacing_m):
        raise ValueError(f"min_spacing_m must be a finite distance >= 0, got {min_spacing_m}")
    _check_projected(candidates, "select_top")
    scores = candidates[score].to_numpy(dtype=float)
    n_valid = int(np.isfinite(scores).sum())
    if n_valid == 0:
        raise NoFeasibleSitesError(
            "no candidate has a score; check the scorer's criteria for missing data"
        )
    geoms = _points(candidates)
    # The position of each row among the tie keys: a total order, so a subset of the rows
    # sorts exactly as it does within the whole table.
    perm = np.argsort(candidates[tie_breaker].to_numpy(), kind="stable")
    tie_rank = np.empty(len(perm), dtype=np.intp)
    tie_rank[perm] = np.arange(len(perm))
    first = n if min_spacing_m == 0 else max(_FIRST_ROWS_PER_SITE * n, _FIRST_ROWS)
    segments = _best_rows(scores, tie_rank, n_valid, first)
    factor = _metres_per_unit(candidates)
    chosen = _take_spaced(_located(segments, geoms, factor), n, min_spacing_m)
    sites = candidates.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    return sites


# Rows put in order before the greedy selection starts (more are ordered, twice as many
# at a time, only if it has not taken ``n`` sites within them): the selection of a few
# sites rarely looks past the first few percent of a large table.
_FIRST_ROWS = 4096
_FIRST_ROWS_PER_SITE = 64


def _sort_keys(scores: np.ndarray) -> np.ndarray:
    """Ascending sort keys of scores, best first; unranked scores sort last as +inf."""
    # numpy's fast sorts slow down several times on NaN, hence +inf.
    return np.where(np.isfinite(scores), -scores, np.inf)


def _best_rows(
    scores: np.ndarray, tie_rank: np.ndarray, n_valid: int, first: int
) -> Iterator[np.ndarray]:
    """The rows of finite key in best-first order, a segment at a time, the next on demand.

    Each segment continues the order of the ones before. A prefix of the order is found by
    partitioning: the rows at or below the ``size``-th smallest key (all its ties too), put
    in order among themselves by key then ``tie_rank``, are the first rows of the order of
    the whole table.
    """
    keys = _sort_keys(scores)
    done, size = 0, first
    while done < n_valid:
        if size < n_valid:
            kth = np.partition(keys, size - 1)[size - 1]
            rows = np.flatnonzero(keys <= kth)
        else:
            rows = np.flatnonzero(np.isfinite(keys))
        order, _ = _best_first(scores[np.newaxis, rows], tie_rank[rows])
        yield rows[order[0, done:]]
        done, size = len(rows), 2 * size


def _located(
    segments: Iterable[np.ndarray], geoms: np.ndarray, factor: float
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each segment of rows with the coordinates of its points in metres."""
    whole = None
    for rows in segments:
        if whole is None and 4 * len(rows) > len(geoms):
            # Reading every point in table order is then quicker than reading these.
            whole = _coordinates(geoms, slice(None)) * factor
        yield rows, (_coordinates(geoms, rows) * factor if whole is None else whole[rows])


# --- the selection core, shared with siting.scoring.uncertainty ------------------------


def _check_projected(candidates: gpd.GeoDataFrame, caller: str) -> None:
    if candidates.crs is None or not candidates.crs.is_projected:
        raise CRSError(
            f"{caller} measures spacing in metres and needs candidates in a projected CRS; "
            f"got {candidates.crs!r}. Reproject with .to_crs('EPSG:5070') first."
        )


def _metres_xy(candidates: gpd.GeoDataFrame) -> np.ndarray:
    """Point coordinates of a projected GeoDataFrame in metres, shape ``(n, 2)``.

    Missing and empty points give NaN.

    Raises
    ------
    ValueError
        If a geometry is not a point.
    """
    geoms = _points(candidates)
    return _coordinates(geoms, slice(None)) * _metres_per_unit(candidates)


def _metres_per_unit(candidates: gpd.GeoDataFrame) -> float:
    return float(candidates.crs.axis_info[0].unit_conversion_factor)


def _points(candidates: gpd.GeoDataFrame) -> np.ndarray:
    """The geometries as an array of shapely objects, after checking every one is a point."""
    geoms = np.asarray(candidates.geometry.array)
    if (shapely.get_type_id(geoms) > 0).any():  # -1 is a missing geometry, 0 a point
        raise ValueError(
            "distances are measured between points, but some geometries are not points; "
            "use their centroids (table.set_geometry(table.centroid))"
        )
    return geoms


def _coordinates(geoms: np.ndarray, rows: Any) -> np.ndarray:
    """``(x, y)`` of the points ``geoms[rows]``, shape ``(len, 2)``; NaN where missing/empty."""
    if isinstance(rows, slice):
        return _point_xy(geoms[rows])
    # Read in table order: points far apart in memory (a table in score order) read
    # several times slower.
    where = np.argsort(rows)
    xy = np.empty((len(where), 2))
    xy[where] = _point_xy(geoms[rows[where]])
    return xy


def _point_xy(points: np.ndarray) -> np.ndarray:
    xy = np.full((len(points), 2), np.nan)
    # One pass over the points; missing and empty points have no coordinates and stay NaN.
    coords, index = shapely.get_coordinates(points, return_index=True)
    xy[index] = coords
    return xy


def _best_first(scores: np.ndarray, tie_keys: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Column order, best score first, of every row of a 2-D score matrix.

    Higher scores come first; equal scores are ordered by ``tie_keys`` (ascending, one per
    column) and then by column position; non-finite scores come last.

    Returns
    -------
    order : ndarray of int, shape ``scores.shape``
    n_valid : ndarray of int, shape ``(scores.shape[0],)``
        Number of finite scores per row: ``order[i, :n_valid[i]]`` are the ranked columns.
    """
    scores = np.asarray(scores, dtype=float)
    n_cols = scores.shape[1]
    perm = None if tie_keys is None else np.argsort(tie_keys, kind="stable")
    finite = np.isfinite(scores)
    keys = _sort_keys(scores)
    if perm is not None:
        keys = keys[:, perm]
    order = np.empty(scores.shape, dtype=np.intp)
    for row, key in enumerate(keys):
        # An unstable sort is several times faster than a stable one; equal scores are then
        # put back in column (= tie-key) order by sorting (run of equal keys, column) pairs.
        best = np.argsort(key)
        ordered = key[best]
        tied = (ordered[1:] == ordered[:-1]) & np.isfinite(ordered[1:])
        if tied.any():
            run = np.concatenate([[0], np.cumsum(~tied)])
            best = np.sort(run * n_cols + best) % n_cols
        order[row] = best if perm is None else perm[best]
    return order, finite.sum(axis=1)


def _greedy_spaced(order: np.ndarray, xy: np.ndarray, n: int, min_spacing_m: float) -> list[int]:
    """Take candidates in ``order`` unless within ``min_spacing_m`` of one taken; stop at ``n``.

    ``xy`` holds every candidate's coordinates in metres (indexed by the values of
    ``order``).
    """
    order = np.asarray(order)
    return _take_spaced([(order, xy[order])], n, min_spacing_m)


def _take_spaced(
    segments: Iterable[tuple[np.ndarray, np.ndarray]], n: int, min_spacing_m: float
) -> list[int]:
    """The greedy selection of :func:`_greedy_spaced` over candidates given in segments.

    Each segment is ``(ids, xy)``: the next candidates in order and their coordinates in
    metres. A candidate is taken unless its squared distance to one taken is below
    ``min_spacing_m ** 2``; the next segment is asked for only while fewer than ``n`` are
    taken, so a lazy iterable can order a large table only as far as the selection looks.
    """
    limit2 = float(min_spacing_m) ** 2
    chosen: list[int] = []
    taken: list[np.ndarray] = []
    for ids, xy in segments:
        if limit2 == 0:
            chosen.extend(int(i) for i in ids[: n - len(chosen)])
        else:
            # Instead of testing each candidate against every site taken, each site taken
            # rules out the candidates near it, found through buckets of the spacing's size.
            buckets = _buckets(xy, float(min_spacing_m))
            blocked = np.zeros(len(ids), dtype=bool)
            if taken:
                _rule_out(blocked, xy, np.concatenate(taken), buckets, limit2)
            start = 0
            while len(chosen) < n:
                free = _next_free(blocked, start)
                if free < 0:
                    break
                chosen.append(int(ids[free]))
                taken.append(xy[free : free + 1])
                _rule_out(blocked, xy, taken[-1], buckets, limit2)
                start = free + 1
        if len(chosen) >= n:
            break
    return chosen


def _next_free(blocked: np.ndarray, start: int) -> int:
    """Position of the first False in ``blocked`` from ``start`` on, or -1."""
    window = _FIRST_BATCH
    while start < len(blocked):
        # A growing window: on a large grid the best cells cluster, and runs of candidates
        # next to a site taken are passed over.
        free = np.flatnonzero(~blocked[start : start + window])
        if len(free):
            return start + int(free[0])
        start += window
        window = min(2 * window, _MAX_BATCH)
    return -1


class _Buckets(NamedTuple):
    """Candidates with finite coordinates sorted by bucket (see :func:`_buckets`)."""

    keys: np.ndarray
    positions: np.ndarray  # of each candidate in the segment
    xy: np.ndarray  # its coordinates, one bucket after the other
    width: float


def _buckets(xy: np.ndarray, spacing: float) -> _Buckets | None:
    """The candidates at ``xy`` sorted by bucket, or None (compare every pair).

    Buckets are squares a little wider than the spacing, so two points closer than the
    spacing (their squared distance in floating point below its square) are always in the
    same or neighbouring buckets, rounding included. None for a few candidates, or for
    coordinates too far out for the bucket numbers to be exact.
    """
    if len(xy) < _BUCKET_MIN_ROWS:
        return None
    width = spacing * (1 + 2.0**-20)
    positions = np.flatnonzero(np.isfinite(xy).all(axis=1))
    cells = np.floor(xy[positions] / width)
    if not (np.abs(cells) < _BUCKET_LIMIT).all():
        return None
    keys = _bucket_keys(cells[:, 0].astype(np.int64), cells[:, 1].astype(np.int64))
    order = np.argsort(keys, kind="stable")
    positions = positions[order]
    return _Buckets(keys[order], positions, xy[positions], width)


def _bucket_keys(bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    # Ordered as (bx, by) while |by| < 2**31: a column of buckets is one run of keys.
    return bx * (1 << 32) + by


def _rule_out(
    blocked: np.ndarray,
    xy: np.ndarray,
    sites: np.ndarray,
    buckets: _Buckets | None,
    limit2: float,
) -> None:
    """Set ``blocked`` where a point of ``xy`` is closer than the spacing to one of ``sites``."""
    if buckets is None:
        step = max(1, _MAX_PAIRS // len(sites))
        for start in range(0, len(xy), step):
            d2 = ((sites[None] - xy[start : start + step, None]) ** 2).sum(axis=2)
            blocked[start : start + step] |= (d2 < limit2).any(axis=1)
        return
    # A site with a non-finite coordinate is near nothing; one beyond the buckets' next
    # neighbours is near no candidate here.
    sites = sites[np.isfinite(sites).all(axis=1)]
    cells = np.floor(sites / buckets.width)
    inside = (np.abs(cells) < _BUCKET_LIMIT + 2).all(axis=1)
    sites, cells = sites[inside], cells[inside]
    # The three columns of buckets around each site, each a run of sorted keys.
    bx = cells[:, :1].astype(np.int64) + np.array([-1, 0, 1])
    by = cells[:, 1:].astype(np.int64)
    lo = np.searchsorted(buckets.keys, _bucket_keys(bx, by - 1), "left")
    hi = np.searchsorted(buckets.keys, _bucket_keys(bx, by + 1), "right")
    if len(sites) == 1:  # a site just taken: three slices, nothing to gather
        for start, stop in zip(lo[0].tolist(), hi[0].tolist(), strict=True):
            d2 = ((sites[0] - buckets.xy[start:stop]) ** 2).sum(axis=1)
            blocked[buckets.positions[start:stop][d2 < limit2]] = True
        return
    per_site = (hi - lo).sum(axis=1)
    ends = np.cumsum(per_site)
    first = 0
    while first < len(sites):
        # Sites a group at a time, so that at most _MAX_PAIRS distances are held at once.
        held = ends[first] - per_site[first] + _MAX_PAIRS
        last = max(first + 1, int(np.searchsorted(ends, held, "right")))
        counts = (hi[first:last] - lo[first:last]).ravel()
        total = int(counts.sum())
        if total:
            offsets = np.cumsum(counts) - counts
            slots = np.arange(total) + np.repeat(lo[first:last].ravel() - offsets, counts)
            site = np.repeat(np.arange(first, last).repeat(3), counts)
            d2 = ((sites[site] - buckets.xy[slots]) ** 2).sum(axis=1)
            blocked[buckets.positions[slots[d2 < limit2]]] = True
        first = last


# Candidates searched at once for the next one not ruled out: the window doubles while
# every candidate in it is ruled out, and starts small again after a site is taken.
_FIRST_BATCH = 16
_MAX_BATCH = 1 << 16
_MAX_PAIRS = 1 << 22  # candidate-site distances held at once (32 MiB)
# Segments shorter than this are compared with every site taken, without buckets.
_BUCKET_MIN_ROWS = 256
# Largest bucket number: keys stay exact in int64, and the rounding of a coordinate divided
# by the bucket width stays far below the margin the width leaves over the spacing.
_BUCKET_LIMIT = 1 << 30
