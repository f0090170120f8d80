"""Choosing sites from scored candidates: top-k with a minimum spacing."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

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
    order, n_valid = _best_first(scores[np.newaxis, :], candidates[tie_breaker].to_numpy())
    if n_valid[0] == 0:
        raise NoFeasibleSitesError(
            "no candidate has a score; check the scorer's criteria for missing data"
        )
    chosen = _greedy_spaced(order[0, : n_valid[0]], _metres_xy(candidates), n, min_spacing_m)
    sites = candidates.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    return sites


# --- the selection core, shared with siting.scoring.uncertainty ------------------------


def _check_projected(candidates: gpd.GeoDataFrame, caller: str) -> None:
    if candidates.crs is None or not candidates.crs.is_projected:
        raise CRSError(
            f"{caller} measures spacing in metres and needs candidates in a projected CRS; "
            f"got {candidates.crs!r}. Reproject with .to_crs('EPSG:5070') first."
        )


def _metres_xy(candidates: gpd.GeoDataFrame) -> np.ndarray:
    """Point coordinates of a projected GeoDataFrame in metres, shape ``(n, 2)``."""
    factor = float(candidates.crs.axis_info[0].unit_conversion_factor)
    return (
        np.column_stack([candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()])
        * factor
    )


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
    # Unranked scores sort last as +inf (numpy's fast sorts slow down several times on NaN).
    keys = np.where(finite, -scores, np.inf)
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
    limit2 = float(min_spacing_m) ** 2
    if limit2 == 0:
        return [int(i) for i in order[:n]]
    chosen: list[int] = []
    taken = np.empty((n, 2))
    start, batch = 0, _FIRST_BATCH
    while start < len(order) and len(chosen) < n:
        # The next candidates against every site taken, a batch at a time: on a large grid
        # the best cells cluster, and most are passed over for a site next to them.
        size = max(1, min(batch, _MAX_PAIRS // max(1, len(chosen))))
        block = order[start : start + size]
        points = xy[block]
        if chosen:
            d2 = ((taken[None, : len(chosen)] - points[:, None]) ** 2).sum(axis=2)
            free = ~(d2 < limit2).any(axis=1)
        else:
            free = np.ones(len(block), dtype=bool)
        if not free.any():
            start += len(block)
            batch = min(2 * batch, _MAX_BATCH)
            continue
        first = int(np.argmax(free))
        taken[len(chosen)] = points[first]
        chosen.append(int(block[first]))
        start += first + 1
        batch = _FIRST_BATCH
    return chosen


# Candidates examined at once by the greedy selection: a batch doubles while every
# candidate in it is passed over, and starts small again after a site is taken.
_FIRST_BATCH = 16
_MAX_BATCH = 1 << 16
_MAX_PAIRS = 1 << 22  # candidate-site distances held at once (32 MiB)
