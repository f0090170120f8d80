"""Spatial validation of presence–background site scorers.

Random cross-validation puts samples that sit next to each other on both sides of a split.
When the data are spatially autocorrelated, a model can then score well by interpolating
from neighbours instead of learning how the features relate to suitability, and the
reported accuracy says little about how the model does in a region it has not seen
(Roberts et al. 2017). This module reports random and spatial splits side by side:

- :class:`SpatialBlockKFold` assigns whole square blocks of a grid to folds;
- :class:`BufferedKFold` also drops training points within a buffer of the test points;
- :func:`suggest_block_size` picks the block size from the range of the features'
  empirical variograms (the approach of blockCV, Valavi et al. 2019);
- :func:`roc_auc`, :func:`pr_auc`, :func:`boyce_index` and :func:`precision_at_k` score
  a fold; :func:`validation_scorers` wraps them for :func:`sklearn.model_selection.cross_validate`;
- :func:`compare_validation` runs both schemes with the same estimator and returns a table.

Coordinates are always in a projected CRS, in metres.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyproj
from scipy import optimize, stats
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist
from sklearn.base import clone
from sklearn.metrics import average_precision_score, make_scorer, roc_auc_score
from sklearn.model_selection import BaseCrossValidator, StratifiedKFold

from siting.errors import CRSError, ScenarioError

__all__ = [
    "BlockSizeSuggestion",
    "BufferedKFold",
    "SpatialBlockKFold",
    "SpatialFoldWarning",
    "boyce_curve",
    "boyce_index",
    "compare_models",
    "compare_validation",
    "positive_scores",
    "pr_auc",
    "precision_at_k",
    "roc_auc",
    "suggest_block_size",
    "validation_scorers",
]

VariogramModel = Literal["spherical", "exponential", "gaussian"]
RandomState = int | np.random.Generator | None


class SpatialFoldWarning(UserWarning):
    """A spatial fold lacks presences or background, so some metrics are undefined."""


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def _coords_in_metres(coords: Any, what: str = "coords") -> np.ndarray:
    """An ``(n, 2)`` float array of x, y in metres from an array or a GeoSeries of points.

    A GeoSeries or GeoDataFrame must carry a projected CRS; its coordinates are converted
    to metres with the CRS's axis unit. A plain array is taken to be in metres already.
    """
    geometry = getattr(coords, "geometry", None)
    if geometry is not None and hasattr(coords, "crs"):
        crs = coords.crs
        if crs is None:
            raise CRSError(
                f"{what} has no CRS. Set the CRS it is really in with .set_crs(...), then "
                "reproject to a projected CRS in metres with .to_crs(...), for example "
                "'EPSG:5070' (US equal-area) or the local UTM zone."
            )
        crs = pyproj.CRS.from_user_input(crs)
        if not crs.is_projected:
            raise CRSError(
                f"{what} is in the geographic CRS {crs.to_string()!r} (degrees); block sizes "
                "and buffers are in metres. Reproject first with .to_crs(...), for example "
                "'EPSG:5070' (US equal-area) or the local UTM zone."
            )
        factor = float(crs.axis_info[0].unit_conversion_factor or 1.0)
        geoms = geometry
        types = set(geoms[~geoms.is_empty & geoms.notna()].geom_type)
        if types - {"Point"}:
            raise ScenarioError(
                f"{what} must hold points; got geometry types {sorted(types)}. Pass "
                "representative points instead, for example gdf.geometry.centroid."
            )
        xy = np.full((len(geoms), 2), np.nan)
        ok = (~geoms.is_empty & geoms.notna()).to_numpy()
        xy[ok, 0] = geoms[ok].x.to_numpy()
        xy[ok, 1] = geoms[ok].y.to_numpy()
        xy *= factor
        labels = np.asarray(geoms.index)
    else:
        try:
            xy = np.asarray(coords, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(
                f"{what} must be an (n, 2) array of x, y in metres or a GeoSeries of points "
                f"in a projected CRS; got {type(coords).__name__} that is not numeric"
            ) from exc
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ScenarioError(
                f"{what} must be an (n, 2) array of x, y in metres or a GeoSeries of points "
                f"in a projected CRS; got an array of shape {xy.shape}"
            )
        labels = (
            np.asarray(coords.index) if isinstance(coords, pd.DataFrame) else np.arange(len(xy))
        )
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        rows = labels[bad].tolist()
        shown = rows[:10]
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise ScenarioError(
            f"{what} has missing or non-finite coordinates in {len(rows)} row(s): "
            f"{shown}{more}. Drop those rows (from X and y too) or fill their locations."
        )
    return xy


def _binary_labels(y: Any, what: str = "y") -> np.ndarray:
    """Labels as an int array of 0 (background) and 1 (presence), or a ScenarioError."""
    values = np.asarray(y)
    if values.ndim != 1:
        values = values.reshape(-1) if values.ndim == 2 and 1 in values.shape else values
    if values.ndim != 1:
        raise ScenarioError(f"{what} must be one label per sample; got shape {values.shape}")
    if values.dtype == bool:
        return values.astype(int)
    try:
        as_float = values.astype(float)
    except (TypeError, ValueError):
        as_float = None
    if as_float is None or not np.isin(as_float, (0.0, 1.0)).all():
        uniques = pd.unique(pd.Series(values, dtype=object))
        bad = [v for v in uniques if as_float is None or v not in (0, 1)]
        raise ScenarioError(
            f"{what} must be 0 (background) or 1 (presence); got the value(s) "
            f"{sorted(map(repr, bad))[:10]}. Recode the labels to 0/1."
        )
    return as_float.astype(int)


def _check_n_splits(n_splits: Any) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, int | np.integer) or n_splits < 2:
        raise ScenarioError(
            f"n_splits={n_splits!r}: cross-validation needs an integer of at least 2"
        )
    return int(n_splits)


def _check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{name}={value!r} must be a number of metres") from exc
    ok = number >= 0 if allow_zero else number > 0
    if not (math.isfinite(number) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ScenarioError(f"{name}={value!r} must be a finite number of metres {bound}")
    return number


def _n_samples(X: Any) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _take(X: Any, rows: np.ndarray) -> Any:
    """Rows of an array or a pandas object by position."""
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[rows]
    return np.asarray(X)[rows]


# --------------------------------------------------------------------------------------
# splitters
# --------------------------------------------------------------------------------------


class SpatialBlockKFold(BaseCrossValidator):
    """K-fold cross-validation with whole square blocks of space held out together.

    The blocks are the cells of a square grid of side ``block_size_m`` anchored at the
    minimum x and minimum y of ``coords``. Every non-empty block goes to exactly one fold,
    so nearby samples never sit on both sides of a split. Blocks are dealt to folds
    largest first (equal blocks in an order drawn from ``random_state``), each to the fold
    whose share of the samples and, when ``y`` is given, share of the presences stay
    lowest, so folds are balanced by sample count and by presences. A fold whose test or
    training set still lacks presences or background emits a
    :class:`SpatialFoldWarning` naming the fold.

    Follows scikit-learn's splitter protocol, so it can be passed as ``cv=`` to
    :func:`~sklearn.model_selection.cross_validate` and friends.

    Parameters
    ----------
    block_size_m
        Side of the square blocks, in metres. :func:`suggest_block_size` proposes one from
        the data's spatial autocorrelation.
    n_splits
        Number of folds (at least 2, at most the number of non-empty blocks).
    coords
        Locations of the samples, in the order of the rows of ``X``: an ``(n, 2)`` array of
        x, y in metres, or a GeoSeries / GeoDataFrame of points in a projected CRS.
    random_state
        Seed or :class:`numpy.random.Generator` for the order in which equal-sized blocks
        are dealt; the same integer gives the same folds.

    Raises
    ------
    siting.errors.CRSError
        ``coords`` has no CRS or a geographic one.
    siting.errors.ScenarioError
        Non-finite coordinates (the rows are named), ``block_size_m <= 0``, or fewer
        non-empty blocks than ``n_splits`` (the extent is in the message).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(200, 2))
    >>> cv = SpatialBlockKFold(2_000, n_splits=4, coords=xy, random_state=0)
    >>> folds = list(cv.split(xy))
    >>> len(folds), sum(len(test) for _, test in folds)
    (4, 200)
    >>> block = cv.block_labels()
    >>> all(set(block[test]).isdisjoint(block[train]) for train, test in folds)
    True
    """

    def __init__(
        self,
        block_size_m: float,
        n_splits: int = 5,
        *,
        coords: Any,
        random_state: RandomState = None,
    ) -> None:
        self.block_size_m = block_size_m
        self.n_splits = n_splits
        self.coords = coords
        self.random_state = random_state
        self._n_splits = _check_n_splits(n_splits)
        self._size = _check_positive(block_size_m, "block_size_m")
        self._xy = _coords_in_metres(coords)
        if len(self._xy) < self._n_splits:
            raise ScenarioError(
                f"{len(self._xy)} sample(s) cannot be split into n_splits={self._n_splits} "
                "folds; use fewer folds or more samples"
            )
        self._blocks = self._block_labels(self._xy)
        n_blocks = len(np.unique(self._blocks))
        if n_blocks < self._n_splits:
            left, bottom = self._xy.min(axis=0)
            right, top = self._xy.max(axis=0)
            one = " (one block holds every sample: no cross-validation)" if n_blocks == 1 else ""
            raise ScenarioError(
                f"block_size_m={self._size:g} gives {n_blocks} non-empty block(s){one}, "
                f"fewer than n_splits={self._n_splits}. The samples span "
                f"{right - left:,.0f} m × {top - bottom:,.0f} m (x {left:,.0f}..{right:,.0f}, "
                f"y {bottom:,.0f}..{top:,.0f}); use a smaller block_size_m or fewer n_splits."
            )

    def _block_labels(self, xy: np.ndarray) -> np.ndarray:
        origin = xy.min(axis=0)
        cells = np.floor((xy - origin) / self._size).astype(np.int64)
        _, labels = np.unique(cells, axis=0, return_inverse=True)
        return labels.reshape(-1)

    def block_labels(self) -> np.ndarray:
        """The block of every sample: integers ``0..n_blocks-1`` in the order of ``coords``."""
        return self._blocks.copy()

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds."""
        return self._n_splits

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(block_size_m={self.block_size_m!r}, "
            f"n_splits={self.n_splits!r}, coords=<{len(self._xy)} points>, "
            f"random_state={self.random_state!r})"
        )

    def _fold_of_samples(self, labels: np.ndarray | None) -> np.ndarray:
        """Fold index of every sample (whole blocks per fold, balanced loads)."""
        n_blocks = int(self._blocks.max()) + 1
        counts = np.bincount(self._blocks, minlength=n_blocks).astype(float)
        positives = (
            np.bincount(self._blocks, weights=labels, minlength=n_blocks)
            if labels is not None
            else np.zeros(n_blocks)
        )
        share = counts / counts.sum()
        p_total = positives.sum()
        p_share = positives / p_total if p_total > 0 else np.zeros(n_blocks)
        rng = np.random.default_rng(self.random_state)
        shuffled = rng.permutation(n_blocks)
        order = shuffled[np.argsort(-(share + p_share)[shuffled], kind="stable")]
        load = np.zeros(self._n_splits)
        p_load = np.zeros(self._n_splits)
        block_fold = np.empty(n_blocks, dtype=np.int64)
        for block in order:
            # the fold whose larger share (samples or presences) stays smallest; among
            # equals, the least loaded one
            after = np.maximum(load + share[block], p_load + p_share[block])
            fold = int(np.lexsort((load + p_load, after))[0])
            block_fold[block] = fold
            load[fold] += share[block]
            p_load[fold] += p_share[block]
        return block_fold[self._blocks]

    def _check_inputs(self, X: Any, y: Any) -> np.ndarray | None:
        n = _n_samples(X)
        if n != len(self._xy):
            raise ScenarioError(
                f"X has {n} rows but coords has {len(self._xy)}: give one location per "
                "sample, in the same order as the rows of X"
            )
        if y is None:
            return None
        labels = _binary_labels(y)
        if len(labels) != n:
            raise ScenarioError(f"y has {len(labels)} labels but X has {n} rows")
        return labels

    def _train_indices(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        return train

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` index arrays, one pair per fold.

        Parameters
        ----------
        X
            The samples (only their number is used; it must match ``coords``).
        y
            Optional 0/1 labels: folds are balanced by presences too, and a fold without
            presences or background emits a :class:`SpatialFoldWarning`.
        groups
            Ignored (the blocks are the groups).
        """
        labels = self._check_inputs(X, y)
        folds = self._fold_of_samples(labels)
        index = np.arange(len(folds))
        for fold in range(self._n_splits):
            test = index[folds == fold]
            train = self._train_indices(index[folds != fold], test)
            if len(train) == 0:
                raise ScenarioError(
                    f"fold {fold}: no training sample is left; the buffer around the test "
                    "points covers the whole study area. Use a smaller buffer_m or more "
                    "n_splits."
                )
            if labels is not None:
                _warn_about_fold(fold, labels[train], labels[test])
            yield train, test


def _warn_about_fold(fold: int, train_labels: np.ndarray, test_labels: np.ndarray) -> None:
    problems = []
    n_test_pos = int(test_labels.sum())
    if n_test_pos == 0:
        problems.append(f"its test set has no presence (0 of {len(test_labels)} samples)")
    elif n_test_pos == len(test_labels):
        problems.append(f"its test set has no background ({n_test_pos} presences only)")
    if int(train_labels.sum()) == 0:
        problems.append(f"its training set has no presence (0 of {len(train_labels)} samples)")
    if problems:
        warnings.warn(
            f"spatial fold {fold}: {'; '.join(problems)}, even after balancing the folds by "
            "presences. ROC-AUC, PR-AUC and the Boyce index are undefined there (reported "
            "as NaN). Use a smaller block_size_m or fewer n_splits.",
            SpatialFoldWarning,
            stacklevel=3,
        )


class BufferedKFold(SpatialBlockKFold):
    """Spatial block folds whose training sets keep a distance from the test points.

    The folds are those of :class:`SpatialBlockKFold`; then every training point within
    ``buffer_m`` (distance ``<= buffer_m``) of any test point of the fold is dropped from
    that fold's training set, so no training sample is a close neighbour of a test sample
    across a block edge (Roberts et al. 2017; Valavi et al. 2019).

    Parameters
    ----------
    block_size_m
        Side of the square blocks, in metres.
    buffer_m
        Exclusion distance around the test points, in metres (0 gives plain block folds).
    n_splits, coords, random_state
        As for :class:`SpatialBlockKFold`.

    Raises
    ------
    siting.errors.ScenarioError
        As for :class:`SpatialBlockKFold`, and when ``buffer_m < 0`` or the buffer leaves a
        fold without any training sample.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial import cKDTree
    >>> xy = np.random.default_rng(0).uniform(0, 10_000, size=(300, 2))
    >>> cv = BufferedKFold(2_500, 500, n_splits=4, coords=xy, random_state=0)
    >>> train, test = next(cv.split(xy))
    >>> float(cKDTree(xy[test]).query(xy[train])[0].min()) > 500
    True
    >>> len(train) + len(test) < len(xy)
    True
    """

    def __init__(
        self,
        block_size_m: float,
        buffer_m: float,
        n_splits: int = 5,
        *,
        coords: Any,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(block_size_m, n_splits, coords=coords, random_state=random_state)
        self.buffer_m = buffer_m
        self._buffer = _check_positive(buffer_m, "buffer_m", allow_zero=True)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(block_size_m={self.block_size_m!r}, "
            f"buffer_m={self.buffer_m!r}, n_splits={self.n_splits!r}, "
            f"coords=<{len(self._xy)} points>, random_state={self.random_state!r})"
        )

    def _train_indices(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        if self._buffer == 0 or len(train) == 0:
            return train
        distance, _ = cKDTree(self._xy[test]).query(self._xy[train], k=1)
        return train[distance > self._buffer]


# --------------------------------------------------------------------------------------
# block size from the variogram
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BlockSizeSuggestion:
    """A block size chosen from the range of spatial autocorrelation of the features.

    Attributes
    ----------
    block_size_m
        The suggested block side: the median of the finite per-feature ranges.
    ranges_m
        Practical range of each feature's fitted variogram, in metres (NaN when the
        feature is constant or shows no spatial structure).
    model
        The variogram model fitted.
    max_distance_m
        Largest lag used; a range that reaches it is only a lower bound.
    capped
        Features whose fitted range reached ``max_distance_m``.
    n_points
        Number of points used (after subsampling).
    variograms
        Per feature, the binned empirical variogram of the standardised values: columns
        ``lag_m``, ``semivariance``, ``n_pairs`` and ``fitted``.
    """

    block_size_m: float
    ranges_m: dict[str, float]
    model: str
    max_distance_m: float
    capped: tuple[str, ...]
    n_points: int
    variograms: dict[str, pd.DataFrame] = field(repr=False)


def _variogram_shape(model: str) -> Callable[[np.ndarray, float], np.ndarray]:
    """Normalised variogram (0 at lag 0, 1 at the sill) parametrised by the practical range.

    The practical range is where the model reaches 95% of its sill (exactly the range for
    the spherical model).
    """
    if model == "spherical":

        def shape(h: np.ndarray, r: float) -> np.ndarray:
            u = np.minimum(h / r, 1.0)
            return 1.5 * u - 0.5 * u**3

    elif model == "exponential":

        def shape(h: np.ndarray, r: float) -> np.ndarray:
            return 1.0 - np.exp(-3.0 * h / r)

    elif model == "gaussian":

        def shape(h: np.ndarray, r: float) -> np.ndarray:
            return 1.0 - np.exp(-3.0 * (h / r) ** 2)

    else:
        raise ScenarioError(
            f"model={model!r} is not a variogram model; use 'spherical', 'exponential' "
            "or 'gaussian'"
        )
    return shape


def _fit_range(
    lag: np.ndarray,
    gamma: np.ndarray,
    n_pairs: np.ndarray,
    shape: Callable[[np.ndarray, float], np.ndarray],
    max_distance: float,
) -> tuple[float, np.ndarray]:
    """Fit nugget + partial sill × shape(h, range), weighted by pair counts."""

    def model(h: np.ndarray, nugget: float, psill: float, r: float) -> np.ndarray:
        return nugget + psill * shape(h, r)

    sigma = 1.0 / np.sqrt(n_pairs)
    top = float(max(gamma.max(), 1e-12))
    lower = (0.0, 0.0, max_distance * 1e-3)
    upper = (top * 2.0, top * 3.0, max_distance)
    best: tuple[float, np.ndarray] | None = None
    for start in (0.1, 0.3, 0.7):
        p0 = (float(gamma.min()) * 0.5, top, max_distance * start)
        try:
            params, _ = optimize.curve_fit(
                model, lag, gamma, p0=p0, sigma=sigma, bounds=(lower, upper), maxfev=5000
            )
        except (RuntimeError, ValueError):
            continue
        residual = float(np.sum(((model(lag, *params) - gamma) / sigma) ** 2))
        if best is None or residual < best[0]:
            best = (residual, params)
    if best is None:
        return math.nan, np.full(lag.shape, np.nan)
    nugget, psill, r = best[1]
    fitted = model(lag, nugget, psill, r)
    if psill <= 0.05 * (nugget + psill):  # pure nugget: no spatial structure to speak of
        return math.nan, fitted
    return float(r), fitted


def suggest_block_size(
    coords: Any,
    values: Any,
    *,
    model: VariogramModel = "spherical",
    n_bins: int = 20,
    max_distance_m: float | None = None,
    max_points: int = 2000,
    random_state: RandomState = 0,
) -> BlockSizeSuggestion:
    """Suggest a block size from the range of spatial autocorrelation of the features.

    For every feature, the empirical semivariance of the standardised values is binned by
    distance, and a variogram ``nugget + sill × model(h, range)`` is fitted by weighted
    least squares (weights: pairs per bin). The suggestion is the median practical range
    across features, as blockCV's ``cv_spatial_autocor`` does: blocks that size or larger
    keep most of the autocorrelation inside a block.

    Parameters
    ----------
    coords
        ``(n, 2)`` array of x, y in metres, or a GeoSeries of points in a projected CRS.
    values
        The features, one row per point: a DataFrame (numeric columns are used), a Series
        or an array of shape ``(n,)`` or ``(n, p)``. Missing values are left out per
        feature.
    model
        ``"spherical"`` (default), ``"exponential"`` or ``"gaussian"``. The range reported
        is the practical range: the lag at which the model reaches 95% of its sill.
    n_bins
        Number of equal-width distance bins from 0 to ``max_distance_m``.
    max_distance_m
        Largest lag; default a third of the diagonal of the points' bounding box (the usual
        variogram cutoff).
    max_points
        At most this many points, drawn at random, are used (pairwise distances grow with
        the square of the number of points).
    random_state
        Seed or generator for the subsample.

    Returns
    -------
    BlockSizeSuggestion

    Raises
    ------
    siting.errors.CRSError
        ``coords`` has no CRS or a geographic one.
    siting.errors.ScenarioError
        Mismatched lengths, fewer than 10 points, no numeric feature, or no feature with
        spatial structure (then choose a block size yourself).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.ndimage import gaussian_filter
    >>> rng = np.random.default_rng(0)
    >>> field = gaussian_filter(rng.normal(size=(100, 100)), 5, mode="wrap")  # 100 m cells
    >>> rows, cols = rng.integers(0, 100, size=(2, 500))
    >>> xy = np.c_[cols * 100.0, rows * 100.0]
    >>> result = suggest_block_size(xy, {"field": field[rows, cols]})
    >>> list(result.ranges_m), 1_000 < result.block_size_m < 3_500  # true range ≈ 1,730 m
    (['field'], True)
    """
    xy = _coords_in_metres(coords)
    table = _feature_table(values, len(xy))
    if not int(n_bins) >= 2:
        raise ScenarioError(f"n_bins={n_bins!r} must be at least 2")
    if int(max_points) < 10:
        raise ScenarioError(f"max_points={max_points!r} must be at least 10")
    shape = _variogram_shape(model)
    rng = np.random.default_rng(random_state)
    if len(xy) > max_points:
        keep = np.sort(rng.choice(len(xy), size=int(max_points), replace=False))
        xy, table = xy[keep], table.iloc[keep]
    if len(xy) < 10:
        raise ScenarioError(f"a variogram needs at least 10 points; got {len(xy)}")
    span = xy.max(axis=0) - xy.min(axis=0)
    cutoff = (
        float(np.hypot(*span)) / 3.0
        if max_distance_m is None
        else _check_positive(max_distance_m, "max_distance_m")
    )
    if cutoff <= 0:
        raise ScenarioError("all points share one location: no distances to fit a variogram")
    edges = np.linspace(0.0, cutoff, int(n_bins) + 1)

    ranges: dict[str, float] = {}
    variograms: dict[str, pd.DataFrame] = {}
    capped: list[str] = []
    for name in table.columns:
        z = table[name].to_numpy(dtype=float)
        ok = np.isfinite(z)
        z = z[ok]
        std = float(z.std()) if len(z) else 0.0
        if len(z) < 10 or std == 0:
            ranges[str(name)] = math.nan
            continue
        z = (z - z.mean()) / std
        distance = pdist(xy[ok])
        half_sq = 0.5 * pdist(z[:, None], "sqeuclidean")
        inside = distance <= cutoff
        bins = np.clip(np.digitize(distance[inside], edges) - 1, 0, int(n_bins) - 1)
        n_pairs = np.bincount(bins, minlength=int(n_bins)).astype(float)
        sum_gamma = np.bincount(bins, weights=half_sq[inside], minlength=int(n_bins))
        sum_lag = np.bincount(bins, weights=distance[inside], minlength=int(n_bins))
        used = n_pairs >= 30
        lag = sum_lag[used] / n_pairs[used]
        gamma = sum_gamma[used] / n_pairs[used]
        if used.sum() < 4:
            ranges[str(name)] = math.nan
            continue
        r, fitted = _fit_range(lag, gamma, n_pairs[used], shape, cutoff)
        ranges[str(name)] = r
        if math.isfinite(r) and r >= 0.99 * cutoff:
            capped.append(str(name))
        variograms[str(name)] = pd.DataFrame(
            {"lag_m": lag, "semivariance": gamma, "n_pairs": n_pairs[used], "fitted": fitted}
        )
    finite = [r for r in ranges.values() if math.isfinite(r)]
    if not finite:
        raise ScenarioError(
            f"none of the features {list(ranges)} shows spatial autocorrelation up to "
            f"{cutoff:,.0f} m (constant, or pure nugget), so the variogram suggests no block "
            "size; choose block_size_m yourself (a random split may then be fair)"
        )
    if capped:
        warnings.warn(
            f"the variogram range of {capped} reaches the largest lag fitted "
            f"({cutoff:,.0f} m): their autocorrelation may reach further. Consider a larger "
            "max_distance_m.",
            UserWarning,
            stacklevel=2,
        )
    return BlockSizeSuggestion(
        block_size_m=float(np.median(finite)),
        ranges_m=ranges,
        model=model,
        max_distance_m=cutoff,
        capped=tuple(capped),
        n_points=len(xy),
        variograms=variograms,
    )


def _feature_table(values: Any, n: int) -> pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        table = values.select_dtypes(include="number")
    elif isinstance(values, pd.Series):
        table = values.to_frame(name=values.name if values.name is not None else "x0")
    elif isinstance(values, Mapping):
        table = pd.DataFrame({str(k): np.asarray(v, dtype=float) for k, v in values.items()})
    else:
        array = np.asarray(values, dtype=float)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ScenarioError(f"values must be 1-D or 2-D; got shape {array.shape}")
        table = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if len(table) != n:
        raise ScenarioError(f"values has {len(table)} rows but coords has {n}")
    if table.shape[1] == 0:
        raise ScenarioError("values has no numeric feature to fit a variogram to")
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------


def _labels_and_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = _binary_labels(y_true, "y_true")
    values = np.asarray(scores, dtype=float).reshape(-1)
    if len(values) != len(labels):
        raise ScenarioError(f"{len(values)} scores for {len(labels)} labels")
    if not np.isfinite(values).all():
        raise ScenarioError(
            f"scores has {int((~np.isfinite(values)).sum())} missing or non-finite value(s); "
            "score every sample"
        )
    return labels, values


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`).

    The chance that a random presence scores higher than a random background point; 0.5
    is no skill. NaN when only one class is present.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    labels, values = _labels_and_scores(y_true, scores)
    if labels.min() == labels.max():
        return math.nan
    return float(roc_auc_score(labels, values))


def pr_auc(y_true: Any, scores: Any) -> float:
    """Area under the precision–recall curve, as average precision.

    Uses :func:`sklearn.metrics.average_precision_score` (step-wise, no optimistic
    interpolation). Its no-skill level is the share of presences, not 0.5. NaN when only
    one class is present.

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 3)
    0.833
    """
    labels, values = _labels_and_scores(y_true, scores)
    if labels.min() == labels.max():
        return math.nan
    return float(average_precision_score(labels, values))


def boyce_curve(
    y_true: Any,
    scores: Any,
    *,
    window_width: float | None = None,
    n_windows: int = 101,
) -> pd.DataFrame:
    """Predicted-to-expected ratio of presences in moving windows over the scores.

    Windows of width ``window_width`` slide in ``n_windows`` equal steps from the lowest to
    the highest background score (both ends inclusive). In each window, the share of all
    presences that fall in it (predicted) is divided by the share of all background points
    that fall in it (expected). Windows without background are dropped.

    Parameters
    ----------
    y_true
        1 for presences, 0 for background points (the available area).
    scores
        Predicted suitability of each sample.
    window_width
        Width of a window in score units; default a tenth of the background's score range.
    n_windows
        Number of window positions.

    Returns
    -------
    pandas.DataFrame
        Columns ``lower``, ``upper``, ``mid``, ``n_presence``, ``n_background`` and
        ``pe_ratio``, one row per window that holds background.

    Examples
    --------
    >>> curve = boyce_curve([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 2, 3],
    ...                     window_width=1, n_windows=3)
    >>> curve[["lower", "upper", "pe_ratio"]].to_numpy().tolist()
    [[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [2.0, 3.0, 2.0]]
    """
    labels, values = _labels_and_scores(y_true, scores)
    presence, background = values[labels == 1], values[labels == 0]
    columns = ["lower", "upper", "mid", "n_presence", "n_background", "pe_ratio"]
    if len(presence) == 0 or len(background) == 0:
        return pd.DataFrame(columns=columns, dtype=float)
    low, high = float(background.min()), float(background.max())
    width = (high - low) / 10.0 if window_width is None else float(window_width)
    if not (math.isfinite(width) and width > 0):
        if high == low:
            return pd.DataFrame(columns=columns, dtype=float)
        raise ScenarioError(f"window_width={window_width!r} must be a positive number")
    if int(n_windows) < 2:
        raise ScenarioError(f"n_windows={n_windows!r} must be at least 2")
    lower = np.linspace(low, max(high - width, low), int(n_windows))
    upper = lower + width
    presence = np.sort(presence)
    background = np.sort(background)

    def count(sorted_values: np.ndarray) -> np.ndarray:
        left = np.searchsorted(sorted_values, lower, side="left")
        right = np.searchsorted(sorted_values, upper, side="right")
        return (right - left).astype(float)

    n_p, n_a = count(presence), count(background)
    keep = n_a > 0
    ratio = (n_p[keep] / len(presence)) / (n_a[keep] / len(background))
    return pd.DataFrame(
        {
            "lower": lower[keep],
            "upper": upper[keep],
            "mid": (lower[keep] + upper[keep]) / 2.0,
            "n_presence": n_p[keep],
            "n_background": n_a[keep],
            "pe_ratio": ratio,
        }
    )


def boyce_index(
    y_true: Any,
    scores: Any,
    *,
    window_width: float | None = None,
    n_windows: int = 101,
    drop_repeats: bool = True,
) -> float:
    """Continuous Boyce index (Hirzel et al. 2006).

    The Spearman correlation between the predicted-to-expected ratio of presences in
    moving windows over the scores (:func:`boyce_curve`) and the windows' mid-points. A
    model whose higher scores hold ever more presences than the area alone would predict
    gets +1; a random model about 0; an inverted one −1. It needs presences and
    background (available) points only, no true absences, which suits siting data.

    Parameters
    ----------
    y_true, scores, window_width, n_windows
        As for :func:`boyce_curve`.
    drop_repeats
        Drop a window whose ratio equals the previous window's (as ecospat does), so long
        flat stretches of the curve do not inflate the correlation.

    Returns
    -------
    float
        In −1..1; NaN without presences or background, or with fewer than three windows
        left, or a constant ratio.

    Examples
    --------
    >>> boyce_index([0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 2, 3], window_width=1, n_windows=3)
    1.0
    """
    curve = boyce_curve(y_true, scores, window_width=window_width, n_windows=n_windows)
    ratio, mid = curve["pe_ratio"].to_numpy(), curve["mid"].to_numpy()
    if drop_repeats and len(ratio):
        first = np.r_[True, ratio[1:] != ratio[:-1]]
        ratio, mid = ratio[first], mid[first]
    if len(ratio) < 3 or np.all(ratio == ratio[0]):
        return math.nan
    return float(stats.spearmanr(ratio, mid)[0])


def precision_at_k(y_true: Any, scores: Any, k: float = 0.1) -> float:
    """Share of presences among the ``k`` highest scores.

    Ties at the ``k``-th score are shared out: the value is the expected precision when
    ties are broken at random, so it does not depend on the order of the rows.

    Parameters
    ----------
    y_true, scores
        Labels (1 presence, 0 background) and scores.
    k
        How many top samples: an integer ``1..n``, or a fraction in ``(0, 1)`` of the
        samples (rounded up, at least 1).

    Examples
    --------
    >>> precision_at_k([1, 0, 1, 1], [0.9, 0.8, 0.7, 0.1], k=2)
    0.5
    >>> precision_at_k([1, 0, 1, 1], [0.9, 0.8, 0.7, 0.1], k=0.75)
    0.6666666666666666
    """
    labels, values = _labels_and_scores(y_true, scores)
    top = _k_of(k, len(values))
    kth = np.sort(values)[::-1][top - 1]
    above = values > kth
    tied = values == kth
    hits = labels[above].sum() + (top - above.sum()) * labels[tied].mean()
    return float(hits / top)


def _k_of(k: float, n: int) -> int:
    if isinstance(k, bool):
        raise ScenarioError(f"k={k!r} must be a count or a fraction")
    if isinstance(k, int | np.integer):
        if not 1 <= k <= n:
            raise ScenarioError(f"k={k} must be between 1 and the number of samples ({n})")
        return int(k)
    if isinstance(k, float | np.floating) and 0 < k < 1:
        return max(1, math.ceil(float(k) * n))
    raise ScenarioError(f"k={k!r} must be an integer 1..n or a fraction in (0, 1)")


def validation_scorers(k: float = 0.1) -> dict[str, Any]:
    """Scorers for :func:`~sklearn.model_selection.cross_validate` (``scoring=``).

    Keys ``roc_auc``, ``pr_auc``, ``boyce`` and ``precision_at_k``; each scores the
    presence class with ``predict_proba`` or ``decision_function``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_validate
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(200, 2))
    >>> X = xy / 10_000 + rng.normal(scale=0.1, size=(200, 2))
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> cv = SpatialBlockKFold(2_500, n_splits=4, coords=xy, random_state=0)
    >>> result = cross_validate(LogisticRegression(), X, y, cv=cv,
    ...                         scoring=validation_scorers())
    >>> len(result["test_boyce"]), bool(result["test_roc_auc"].mean() > 0.5)
    (4, True)
    """
    method = ("predict_proba", "decision_function")
    return {
        "roc_auc": make_scorer(roc_auc, response_method=method),
        "pr_auc": make_scorer(pr_auc, response_method=method),
        "boyce": make_scorer(boyce_index, response_method=method),
        "precision_at_k": make_scorer(precision_at_k, response_method=method, k=k),
    }


def positive_scores(estimator: Any, X: Any) -> np.ndarray:
    """Scores of the presence class (label 1) from a fitted classifier.

    Uses ``predict_proba`` (the column of class 1) when the estimator has it, otherwise
    ``decision_function``. A model fitted without any presence scores 0 everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> scores = positive_scores(LogisticRegression().fit(X, y), X)
    >>> bool(np.all(np.diff(scores) > 0))
    True
    """
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X))
        classes = list(getattr(estimator, "classes_", [0, 1]))
        if 1 not in classes:
            return np.zeros(len(proba))
        return proba[:, classes.index(1)]
    if hasattr(estimator, "decision_function"):
        decision = np.asarray(estimator.decision_function(X), dtype=float)
        classes = list(getattr(estimator, "classes_", [0, 1]))
        if decision.ndim == 2:
            return decision[:, classes.index(1)]
        if classes and classes[-1] != 1:
            return -decision if 1 in classes else np.zeros(len(decision))
        return decision
    raise ScenarioError(
        f"{type(estimator).__name__} has neither predict_proba nor decision_function, so it "
        "cannot rank sites; use a classifier that has one of them"
    )


# --------------------------------------------------------------------------------------
# random vs spatial
# --------------------------------------------------------------------------------------

_METRICS = ("roc_auc", "pr_auc", "boyce", "precision_at_k")


def _nan_stat(values: np.ndarray, stat: str) -> float:
    """Mean or sample standard deviation of the finite values (NaN if too few)."""
    finite = values[np.isfinite(values)]
    if stat == "mean":
        return float(finite.mean()) if len(finite) else math.nan
    return float(finite.std(ddof=1)) if len(finite) > 1 else math.nan


def compare_validation(
    estimator: Any,
    X: Any,
    y: Any,
    coords: Any,
    *,
    block_size_m: float | None = None,
    buffer_m: float = 0.0,
    n_splits: int = 5,
    k: float = 0.1,
    random_state: int = 0,
) -> pd.DataFrame:
    """Cross-validate one estimator with random and with spatial folds, side by side.

    Runs stratified random k-fold (``scheme="random"``) and spatial block k-fold
    (``"spatial_block"``; ``"spatial_buffered"`` when ``buffer_m > 0``), fitting a fresh
    clone of ``estimator`` on every training set. A spatial score well below the random
    one means the random split leaks: the model is interpolating between neighbours.

    Parameters
    ----------
    estimator
        A scikit-learn classifier with ``predict_proba`` or ``decision_function``.
    X
        Features, one row per sample (array or DataFrame).
    y
        Labels: 1 presence, 0 background.
    coords
        ``(n, 2)`` array of x, y in metres, or a GeoSeries of points in a projected CRS.
    block_size_m
        Side of the spatial blocks; default :func:`suggest_block_size` on the numeric
        features of ``X``.
    buffer_m
        Training points within this distance of a test point are dropped (0: none).
    n_splits
        Folds per scheme.
    k
        For :func:`precision_at_k` in each test fold: a count (capped at the test fold's
        size) or a fraction of the test fold.
    random_state
        Seed for the random folds, the block order and the variogram subsample.

    Returns
    -------
    pandas.DataFrame
        One row per scheme and fold (``fold`` 0..n_splits-1), then per scheme a ``"mean"``
        and a ``"std"`` row; columns ``scheme``, ``fold``, ``roc_auc``, ``pr_auc``,
        ``boyce``, ``precision_at_k``, ``n_train``, ``n_test``, ``n_positive_test``.
        ``attrs`` holds ``block_size_m``, ``block_size_from`` (``"given"`` or
        ``"variogram"``), ``buffer_m``, ``k`` and ``optimism``: per metric, the random
        mean minus the spatial mean.

    Raises
    ------
    siting.errors.ScenarioError
        Bad labels, mismatched lengths, too few samples or presences for ``n_splits``, a
        block size that leaves fewer blocks than folds.
    siting.errors.CRSError
        ``coords`` without a projected CRS.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(300, 2))
    >>> y = (np.sin(xy[:, 0] / 800) + np.cos(xy[:, 1] / 800) > 0.5).astype(int)
    >>> table = compare_validation(KNeighborsClassifier(5), xy, y, xy,
    ...                            block_size_m=2_500, n_splits=4)
    >>> table["scheme"].unique().tolist(), len(table)
    (['random', 'spatial_block'], 12)
    >>> auc = table[table["fold"] == "mean"].set_index("scheme")["roc_auc"]
    >>> bool(auc["random"] > auc["spatial_block"] + 0.1)  # random folds leak
    True
    """
    labels = _binary_labels(y)
    n = _n_samples(X)
    xy = _coords_in_metres(coords)
    n_splits = _check_n_splits(n_splits)
    if len(labels) != n:
        raise ScenarioError(f"y has {len(labels)} labels but X has {n} rows")
    if len(xy) != n:
        raise ScenarioError(
            f"X has {n} rows but coords has {len(xy)}: give one location per sample, in the "
            "same order as the rows of X"
        )
    n_positive = int(labels.sum())
    if min(n_positive, n - n_positive) < n_splits:
        raise ScenarioError(
            f"{n_positive} presence(s) and {n - n_positive} background sample(s) cannot fill "
            f"n_splits={n_splits} stratified folds; use fewer folds or more samples"
        )
    buffer = _check_positive(buffer_m, "buffer_m", allow_zero=True)
    source = "given"
    if block_size_m is None:
        values = X if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
        block_size_m = suggest_block_size(xy, values, random_state=random_state).block_size_m
        source = "variogram"
    try:
        spatial: SpatialBlockKFold = (
            BufferedKFold(block_size_m, buffer, n_splits, coords=xy, random_state=random_state)
            if buffer > 0
            else SpatialBlockKFold(block_size_m, n_splits, coords=xy, random_state=random_state)
        )
    except ScenarioError as exc:
        if source == "variogram":
            raise ScenarioError(
                f"{exc} (block_size_m={block_size_m:,.0f} was suggested by the variogram of "
                "the features; pass block_size_m= to choose another)"
            ) from exc
        raise
    schemes: list[tuple[str, Any]] = [
        ("random", StratifiedKFold(n_splits, shuffle=True, random_state=random_state)),
        ("spatial_buffered" if buffer > 0 else "spatial_block", spatial),
    ]
    rows: list[dict[str, Any]] = []
    for scheme, cv in schemes:
        for fold, (train, test) in enumerate(cv.split(X, labels)):
            model = clone(estimator).fit(_take(X, train), labels[train])
            scores = positive_scores(model, _take(X, test))
            test_labels = labels[test]
            k_fold = min(k, len(test)) if isinstance(k, int | np.integer) else k
            rows.append(
                {
                    "scheme": scheme,
                    "fold": fold,
                    "roc_auc": roc_auc(test_labels, scores),
                    "pr_auc": pr_auc(test_labels, scores),
                    "boyce": boyce_index(test_labels, scores),
                    "precision_at_k": precision_at_k(test_labels, scores, k_fold),
                    "n_train": len(train),
                    "n_test": len(test),
                    "n_positive_test": int(test_labels.sum()),
                }
            )
    folds = pd.DataFrame(rows)
    numeric = [*_METRICS, "n_train", "n_test", "n_positive_test"]
    summaries: list[dict[str, Any]] = []
    means: dict[str, dict[str, float]] = {}
    for scheme, _ in schemes:
        part = folds.loc[folds["scheme"] == scheme, numeric].to_numpy(dtype=float)
        mean = {name: _nan_stat(part[:, i], "mean") for i, name in enumerate(numeric)}
        std = {name: _nan_stat(part[:, i], "std") for i, name in enumerate(numeric)}
        means[scheme] = mean
        summaries += [{"scheme": scheme, "fold": "mean", **mean}]
        summaries += [{"scheme": scheme, "fold": "std", **std}]
    table = pd.concat([folds, pd.DataFrame(summaries)], ignore_index=True)
    table["fold"] = table["fold"].astype(object)
    spatial_name = schemes[1][0]
    table.attrs.update(
        {
            "block_size_m": float(block_size_m),
            "block_size_from": source,
            "buffer_m": buffer,
            "k": k,
            "optimism": {
                metric: means["random"][metric] - means[spatial_name][metric]
                for metric in _METRICS
            },
        }
    )
    return table


def compare_models(
    estimators: Mapping[str, Any],
    X: Any,
    y: Any,
    coords: Any,
    *,
    block_size_m: float | None = None,
    buffer_m: float = 0.0,
    n_splits: int = 5,
    k: float = 0.1,
    random_state: int = 0,
) -> pd.DataFrame:
    """:func:`compare_validation` for several estimators on exactly the same folds.

    The block size is chosen once (from the variogram of ``X`` unless given), and every
    estimator then meets the same random and spatial folds, so differences between rows
    are differences between models, not between splits.

    Parameters
    ----------
    estimators
        ``{name: estimator}``; each needs ``predict_proba`` or ``decision_function``.
    X, y, coords, block_size_m, buffer_m, n_splits, k, random_state
        As :func:`compare_validation`.

    Returns
    -------
    pandas.DataFrame
        :func:`compare_validation`'s table with a first column ``model``; ``attrs`` as
        there, with ``optimism`` keyed by model name.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(300, 2))
    >>> y = (np.sin(xy[:, 0] / 800) + np.cos(xy[:, 1] / 800) > 0.5).astype(int)
    >>> table = compare_models({"knn": KNeighborsClassifier(5),
    ...                         "constant": DummyClassifier()}, xy, y, xy,
    ...                        block_size_m=2_500, n_splits=4)
    >>> means = table[table["fold"] == "mean"].set_index(["model", "scheme"])["roc_auc"]
    >>> float(means["constant", "spatial_block"])
    0.5
    """
    if not estimators:
        raise ScenarioError("compare_models needs at least one estimator: {name: estimator}")
    if block_size_m is None:
        values = X if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
        xy = _coords_in_metres(coords)
        block_size_m = suggest_block_size(xy, values, random_state=random_state).block_size_m
        source = "variogram"
    else:
        source = "given"
    tables = []
    optimism = {}
    for name, estimator in estimators.items():
        table = compare_validation(
            estimator,
            X,
            y,
            coords,
            block_size_m=block_size_m,
            buffer_m=buffer_m,
            n_splits=n_splits,
            k=k,
            random_state=random_state,
        )
        optimism[str(name)] = table.attrs["optimism"]
        attrs = dict(table.attrs)
        tables.append(table.assign(model=str(name)))
    combined = pd.concat(tables, ignore_index=True)
    combined = combined[["model", *[c for c in combined.columns if c != "model"]]]
    combined.attrs = {**attrs, "block_size_from": source, "optimism": optimism}
    return combined
