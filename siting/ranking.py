"""Choosing sites from scored candidates: top-k with a minimum spacing."""

from __future__ import annotations

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
    if candidates.crs is None or not candidates.crs.is_projected:
        raise CRSError(
            "select_top measures spacing in metres and needs candidates in a projected CRS; "
            f"got {candidates.crs!r}. Reproject with .to_crs('EPSG:5070') first."
        )
    scores = candidates[score].to_numpy(dtype=float)
    valid = np.flatnonzero(np.isfinite(scores))
    if valid.size == 0:
        raise NoFeasibleSitesError(
            "no candidate has a score; check the scorer's criteria for missing data"
        )
    order = valid[np.lexsort((candidates[tie_breaker].to_numpy()[valid], -scores[valid]))]
    factor = float(candidates.crs.axis_info[0].unit_conversion_factor)
    xy = (
        np.column_stack([candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()])
        * factor
    )
    limit2 = float(min_spacing_m) ** 2
    chosen: list[int] = []
    taken = np.empty((n, 2))
    for i in order:
        if chosen and limit2 > 0:
            d2 = ((taken[: len(chosen)] - xy[i]) ** 2).sum(axis=1)
            if (d2 < limit2).any():
                continue
        taken[len(chosen)] = xy[i]
        chosen.append(int(i))
        if len(chosen) == n:
            break
    sites = candidates.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(sites) + 1))
    return sites
