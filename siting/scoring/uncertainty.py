"""Rank stability: how often each site stays in the top k when the scores are perturbed.

A ranking is only as firm as the scores behind it. Two sources of doubt are covered:

- the **weights** of a :class:`~siting.scoring.WeightedOverlay`, which are judgements:
  :func:`score_replicates_overlay` redraws them from a Dirichlet distribution centred on the
  given weights and rescores the candidates;
- the **training sample** of a :class:`~siting.scoring.SiteScorer`:
  :func:`score_replicates_model` scores the candidates with each bootstrap refit.

Both return a matrix with one row of scores per replicate; :func:`rank_stability` turns it
into the share of replicates in which each site is among the top k (optionally with the
minimum spacing of :func:`siting.ranking.select_top`) and the spread of its rank.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from siting.errors import ScenarioError
from siting.ranking import _best_first, _check_projected, _greedy_spaced, _metres_xy
from siting.scoring.model import SiteScorer
from siting.scoring.overlay import WeightedOverlay

__all__ = ["rank_stability", "score_replicates_model", "score_replicates_overlay"]

# Scores handled per block when ranking: bounds the sort's temporary arrays.
_BLOCK_ELEMENTS = 1 << 22

RandomState = int | np.random.Generator | np.random.SeedSequence | None


def score_replicates_overlay(
    overlay: WeightedOverlay,
    X: pd.DataFrame,
    *,
    n_replicates: int = 200,
    concentration: float = 50.0,
    random_state: RandomState = 0,
) -> np.ndarray:
    """Overlay scores under randomly perturbed weights, one row per replicate.

    Each replicate draws weights from a Dirichlet distribution centred on the overlay's
    normalised weights :math:`w` (``overlay.weights_``), with parameters
    :math:`\\alpha_i = c\\, w_i` for the concentration :math:`c`. The draws sum to 1, their
    mean is :math:`w`, and each weight's standard deviation is
    :math:`\\sqrt{w_i (1 - w_i) / (c + 1)}`: a **larger concentration keeps the weights
    closer to the given ones** (``c = 50`` moves a weight of 0.25 by about 0.06), a smaller
    one lets them roam (``c = len(w)`` with equal weights is uniform over all weightings).
    A criterion with weight 0 keeps weight 0. The per-criterion suitability
    (:meth:`WeightedOverlay.transform`) is computed once; each replicate's score is its
    weighted sum, exactly as :meth:`WeightedOverlay.predict` computes it, so a row with a
    missing criterion is NaN in every replicate.

    Parameters
    ----------
    overlay
        A fitted :class:`~siting.scoring.WeightedOverlay` (it is not refitted).
    X
        Candidate table with every criterion column.
    n_replicates
        Number of weight draws (>= 1).
    concentration
        Dirichlet concentration :math:`c > 0`; ``math.inf`` gives every replicate the
        overlay's own weights (no perturbation).
    random_state
        Seed or :class:`numpy.random.Generator`; the same seed gives the same replicates.

    Returns
    -------
    numpy.ndarray of shape (n_replicates, len(X))
        Scores in 0..1, for :func:`rank_stability`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``overlay`` is not fitted.
    ScenarioError
        For another kind of model, ``n_replicates < 1``, a concentration that is not a
        number > 0, or a table without the criterion columns.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"ghi": [5.0, 6.0, 7.0], "dist_km": [0.0, 10.0, 20.0]})
    >>> overlay = WeightedOverlay({
    ...     "ghi": {"weight": 1, "better": "higher", "range": (5, 7)},
    ...     "dist_km": {"weight": 1, "better": "lower", "range": (0, 20)},
    ... }).fit(X)
    >>> reps = score_replicates_overlay(overlay, X, n_replicates=4, random_state=1)
    >>> reps.shape
    (4, 3)
    >>> reps[:, 1].round(6).tolist()  # the middle site scores 0.5 whatever the weights
    [0.5, 0.5, 0.5, 0.5]
    >>> bool(np.allclose(reps[:, 0] + reps[:, 2], 1.0))  # the weights always sum to 1
    True
    >>> bool(reps[:, 0].std() > 0)
    True
    """
    if not isinstance(overlay, WeightedOverlay):
        raise ScenarioError(
            f"score_replicates_overlay takes a fitted WeightedOverlay, got "
            f"{type(overlay).__name__}; for a SiteScorer use score_replicates_model"
        )
    check_is_fitted(overlay, "weights_")
    if not _is_int(n_replicates) or n_replicates < 1:
        raise ScenarioError(f"n_replicates={n_replicates!r}; give a whole number >= 1, e.g. 200")
    if not (_is_real(concentration) and float(concentration) > 0):
        raise ScenarioError(
            f"concentration={concentration!r}; give a number > 0 (larger keeps the weights "
            "closer to the overlay's, e.g. 50; math.inf for no perturbation)"
        )
    names = list(overlay.weights_)
    weights = np.array([overlay.weights_[name] for name in names], dtype=float)
    suitability = overlay.transform(X)[names].to_numpy(dtype=float)
    missing = np.isnan(suitability).any(axis=1)

    draws = np.zeros((int(n_replicates), weights.size))
    positive = weights > 0
    if math.isinf(concentration):
        draws[:, positive] = weights[positive]
    else:
        rng = np.random.default_rng(random_state)
        alpha = float(concentration) * weights[positive]
        draws[:, positive] = rng.dirichlet(alpha, size=int(n_replicates))

    scores = draws @ np.where(missing[:, np.newaxis], 0.0, suitability).T
    scores[:, missing] = np.nan
    return scores


def score_replicates_model(model: SiteScorer, X: Any) -> np.ndarray:
    """Scores of every bootstrap refit of a :class:`~siting.scoring.SiteScorer`.

    Row ``b`` is the presence probability from bootstrap refit ``b``, through the same
    calibration and prevalence maps as :meth:`SiteScorer.predict_proba` (the calibration map
    is held fixed, as in :meth:`SiteScorer.predict_interval`, whose quantiles are taken over
    exactly these rows). It shows how much the ranking depends on the particular training
    rows. Rows are scored in batches of the model's ``batch_size``.

    Parameters
    ----------
    model
        A :class:`~siting.scoring.SiteScorer` fitted with ``n_bootstrap >= 2``.
    X
        Candidate features, as for :meth:`SiteScorer.predict_proba`.

    Returns
    -------
    numpy.ndarray of shape (n_bootstrap, n_rows)
        Probabilities in 0..1, for :func:`rank_stability`.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ScenarioError
        For another kind of model, or a model fitted with ``n_bootstrap=0``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"ghi_kwh_m2_day": rng.uniform(4, 7, 300)})
    >>> y = (rng.random(300) < (X["ghi_kwh_m2_day"] - 4) / 3).astype(int)
    >>> model = SiteScorer(n_estimators=20, n_bootstrap=5).fit(X, y)
    >>> score_replicates_model(model, X.head(4)).shape
    (5, 4)
    """
    if not isinstance(model, SiteScorer):
        raise ScenarioError(
            f"score_replicates_model takes a fitted SiteScorer, got {type(model).__name__}; "
            "for a WeightedOverlay use score_replicates_overlay"
        )
    check_is_fitted(model)
    if not model.bootstrap_estimators_:
        raise ScenarioError(
            "score_replicates_model needs bootstrap refits, but this SiteScorer was fitted "
            "with n_bootstrap=0; refit with n_bootstrap=30 (or any number >= 2)"
        )
    return model.predict_members(X)


def rank_stability(
    replicates: Any,
    *,
    k: int,
    candidates: pd.DataFrame | None = None,
    min_spacing_m: float = 0.0,
    tie_breaker: str | None = "cell_id",
) -> pd.DataFrame:
    """Share of score replicates in which each site is among the top ``k``, and its ranks.

    In every replicate (a row of ``replicates``) the sites are ranked by score, 1 = best;
    equal scores are ordered by the ``tie_breaker`` column of ``candidates`` (ascending) and
    then by position, as in :func:`~siting.ranking.select_top`; a missing (NaN) or
    infinite score is never ranked. Without spacing, the top ``k`` of a replicate are its
    ranks 1 to ``k``. With ``candidates`` and ``min_spacing_m > 0`` they are chosen by the
    greedy rule of :func:`~siting.ranking.select_top` (the same code): in rank order, a site
    is taken unless it lies within ``min_spacing_m`` of one already taken, so a site can be
    outranked by ``k`` others and still be chosen. The rank columns are always ranks by
    score.

    Parameters
    ----------
    replicates
        Scores, shape ``(n_replicates, n_rows)``, higher is better; column ``j`` is row
        ``j`` of ``candidates``. From :func:`score_replicates_overlay`,
        :func:`score_replicates_model`, or any other source.
    k
        Size of the selection (>= 1).
    candidates
        The candidate table, one row per column of ``replicates``: gives the output index,
        the ``tie_breaker`` column and, for spacing, point geometries in a projected CRS.
    min_spacing_m
        Minimum distance between chosen sites, in metres (0 = no spacing rule); needs
        ``candidates``.
    tie_breaker
        Column of ``candidates`` that orders equal scores; None (or no ``candidates``)
        orders them by position.

    Returns
    -------
    pandas.DataFrame
        One row per site (the index of ``candidates``, else 0..n_rows − 1), with

        - ``p_top_k``: share of all replicates in which the site is in the top ``k``;
        - ``rank_median``, ``rank_p05``, ``rank_p95``: median, 5th and 95th percentiles
          (numpy's linear interpolation) of its rank over the replicates where it has a
          score; ``rank_p05`` is the better end. NaN if it never has one.

        ``attrs`` records ``k``, ``n_replicates`` and ``min_spacing_m``.

    Raises
    ------
    ScenarioError
        For replicates that are not a non-empty 2-D array of numbers, ``k < 1``, a
        negative or non-finite spacing, spacing without ``candidates``, ``candidates``
        whose row count differs from the replicates' columns, or a missing
        ``tie_breaker`` column.
    CRSError
        If spacing is asked for and ``candidates`` are not in a projected CRS.

    Examples
    --------
    Three replicates of four sites' scores:

    >>> import numpy as np
    >>> reps = np.array([[0.9, 0.8, 0.1, 0.7],
    ...                  [0.6, 0.8, 0.2, 0.7],
    ...                  [0.9, 0.5, np.nan, 0.7]])
    >>> rank_stability(reps, k=2).round(3)
       p_top_k  rank_median  rank_p05  rank_p95
    0    0.667          1.0       1.0       2.8
    1    0.667          2.0       1.1       2.9
    2    0.000          4.0       4.0       4.0
    3    0.667          2.0       2.0       2.9

    With spacing, the top k of each replicate follow :func:`~siting.ranking.select_top`:

    >>> import geopandas as gpd
    >>> cands = gpd.GeoDataFrame({"cell_id": [0, 1, 2, 3]},
    ...     geometry=gpd.points_from_xy([0, 500, 20_000, 40_000], [0, 0, 0, 0]),
    ...     crs="EPSG:5070")
    >>> rank_stability(reps, k=2, candidates=cands, min_spacing_m=1_000)["p_top_k"].tolist()
    [0.6666666666666666, 0.3333333333333333, 0.0, 1.0]
    """
    scores = _replicate_matrix(replicates)
    n_reps, n_rows = scores.shape
    if not _is_int(k) or k < 1:
        raise ScenarioError(f"k={k!r}; give the number of sites to select, a whole number >= 1")
    if not (_is_real(min_spacing_m) and math.isfinite(min_spacing_m) and min_spacing_m >= 0):
        raise ScenarioError(
            f"min_spacing_m={min_spacing_m!r}; give a finite distance in metres >= 0 "
            "(0 = no spacing rule)"
        )
    spaced = min_spacing_m > 0
    tie_keys = None
    xy = None
    if candidates is None:
        if spaced:
            raise ScenarioError(
                f"min_spacing_m={min_spacing_m!r} needs the candidates' locations; pass "
                "candidates=<GeoDataFrame with one row per column of replicates>"
            )
        index: pd.Index = pd.RangeIndex(n_rows)
    else:
        if len(candidates) != n_rows:
            raise ScenarioError(
                f"candidates has {len(candidates)} rows but replicates score {n_rows} sites "
                f"(shape {scores.shape}); score the same table, one column per candidate row"
            )
        if tie_breaker is not None:
            if tie_breaker not in candidates.columns:
                raise ScenarioError(
                    f"tie_breaker={tie_breaker!r} is not a column of candidates "
                    f"(columns: {sorted(map(str, candidates.columns))}); name one, or give "
                    "tie_breaker=None to order equal scores by position"
                )
            tie_keys = candidates[tie_breaker].to_numpy()
        if spaced:
            if not isinstance(candidates, gpd.GeoDataFrame):
                raise ScenarioError(
                    "min_spacing_m needs candidates as a GeoDataFrame with point geometries, "
                    f"got {type(candidates).__name__}"
                )
            _check_projected(candidates, "rank_stability")
            xy = _metres_xy(candidates)
        index = candidates.index

    ranks = np.full((n_reps, n_rows), np.nan)
    in_top = np.zeros(n_rows, dtype=np.int64)
    positions = np.arange(1, n_rows + 1, dtype=float)
    block = max(1, _BLOCK_ELEMENTS // n_rows)
    for start in range(0, n_reps, block):
        stop = min(start + block, n_reps)
        order, n_valid = _best_first(scores[start:stop], tie_keys)
        for row, (best, count) in enumerate(zip(order, n_valid, strict=True)):
            ranks[start + row, best[:count]] = positions[:count]
            if xy is None:
                in_top[best[: min(count, k)]] += 1
            else:
                in_top[_greedy_spaced(best[:count], xy, int(k), min_spacing_m)] += 1

    median, p05, p95 = _nan_quantiles(ranks, (0.5, 0.05, 0.95))
    table = pd.DataFrame(
        {"p_top_k": in_top / n_reps, "rank_median": median, "rank_p05": p05, "rank_p95": p95},
        index=index,
    )
    table.attrs.update(k=int(k), n_replicates=n_reps, min_spacing_m=float(min_spacing_m))
    return table


# --- helpers ---------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(value)


def _replicate_matrix(replicates: Any) -> np.ndarray:
    try:
        scores = np.asarray(replicates, dtype=float)
    except (TypeError, ValueError) as error:
        raise ScenarioError(
            f"replicates must be numbers, shape (n_replicates, n_rows); could not read them "
            f"as floats ({error})"
        ) from None
    if scores.ndim != 2 or 0 in scores.shape:
        raise ScenarioError(
            f"replicates must be a non-empty 2-D array (n_replicates, n_rows), got shape "
            f"{scores.shape}; score_replicates_overlay and score_replicates_model return "
            "one, and a single score vector s is s[np.newaxis, :]"
        )
    return scores


def _nan_quantiles(values: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """Quantiles over axis 0 ignoring NaN (numpy's linear method), shape ``(levels, n)``.

    Same values as :func:`numpy.nanquantile`, without its per-column loop when NaN occur.
    """
    n_rows, n_cols = values.shape
    out = np.full((len(levels), n_cols), np.nan)
    block = max(1, _BLOCK_ELEMENTS // max(n_rows, 1))
    for start in range(0, n_cols, block):
        cols = slice(start, min(start + block, n_cols))
        ordered = np.sort(values[:, cols], axis=0)  # NaN last
        count = np.isfinite(ordered).sum(axis=0)
        last = np.maximum(count - 1, 0)
        for i, level in enumerate(levels):
            h = level * last
            low = np.floor(h).astype(np.intp)
            high = np.minimum(low + 1, last)
            below = np.take_along_axis(ordered, low[np.newaxis], axis=0)[0]
            above = np.take_along_axis(ordered, high[np.newaxis], axis=0)[0]
            value = below + (h - low) * (above - below)
            out[i, cols] = np.where(count > 0, value, np.nan)
    return out
