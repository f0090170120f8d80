"""The ML scorer: presence–background gradient-boosted trees, as a scikit-learn classifier.

:class:`SiteScorer` learns where facilities are (presences, ``y = 1``) against the land that
was available (background, ``y = 0``, see :func:`~siting.scoring.sample_background`). The
trees are LightGBM's, with optional monotonic constraints per feature; probabilities are
calibrated by cross-fitting and can be turned into probabilities of presence with an assumed
prevalence. Every score decomposes exactly into per-feature contributions (TreeSHAP), and a
bootstrap ensemble gives score intervals. Prediction runs in batches, so tens of millions of
candidate rows never build a matrix-sized intermediate.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from siting.errors import ScenarioError

if TYPE_CHECKING:
    from lightgbm import LGBMClassifier

__all__ = ["SiteScorer"]

#: Fewer presences than this fit, with a warning: the scores are unstable and the
#: calibration folds hold only a few presences each.
RECOMMENDED_MIN_POSITIVES = 10

# Calibrated log-odds are kept finite (isotonic maps can reach probability 0 or 1).
_LOGIT_LIMIT = 50.0


class _PlattMap:
    """Platt scaling ``q = expit(a * raw + b)`` with ``a >= 0`` (never reverses the ranking)."""

    def __init__(self, a: float, b: float) -> None:
        self.a = a
        self.b = b

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> _PlattMap:
        from scipy.optimize import minimize
        from scipy.special import expit, log_expit

        n_pos = float(y.sum())
        n_neg = float(y.size - n_pos)
        # Platt's (1999) smoothed targets keep the fit finite on separable scores.
        target = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            z = params[0] * raw + params[1]
            value = -(target * log_expit(z) + (1.0 - target) * log_expit(-z)).sum()
            residual = expit(z) - target
            return float(value), np.array([(residual * raw).sum(), residual.sum()])

        prior = math.log((n_pos + 1.0) / (n_neg + 1.0))
        result = minimize(
            loss,
            np.array([1.0, prior]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, None), (None, None)],
        )
        return cls(float(result.x[0]), float(result.x[1]))

    def log_odds(self, raw: np.ndarray) -> np.ndarray:
        return self.a * raw + self.b


class _IsotonicMap:
    """Isotonic (non-decreasing, stepwise) map from the raw score to a probability."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> _IsotonicMap:
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        return cls(model.fit(raw, y.astype("float64")))

    def log_odds(self, raw: np.ndarray) -> np.ndarray:
        q = self.model.predict(raw)
        with np.errstate(divide="ignore"):
            return np.log(q) - np.log1p(-q)


def _check_param(name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ScenarioError(f"SiteScorer: {name}={value!r}; expected {expected}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


#: Training rows (at most) over which ``feature_importances_`` averages the contributions.
IMPORTANCE_ROWS = 10_000


class SiteScorer(ClassifierMixin, BaseEstimator):
    """Presence–background site scorer: gradient-boosted trees (LightGBM), calibrated.

    Fit it on a table with one row per point and feature columns, with ``y = 1`` for
    *presences* (existing power plants, data centers, sites a planner labelled) and
    ``y = 0`` for *background* points drawn from the eligible land
    (:func:`~siting.scoring.sample_background`). Background points are **unlabelled, not
    absent**: some of them would make good sites too. The model therefore learns how
    presences differ from what was available, and its probabilities are relative
    likelihoods unless an assumed ``prevalence`` turns them into probabilities of presence
    (see Notes).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples
        LightGBM's boosting rounds, shrinkage, leaves per tree, tree depth (-1 = no limit)
        and least rows per leaf. The depth limit (6 by default) also bounds the cost of
        :meth:`contributions`, which grows with the square of the depth.
    monotonic
        ``{feature: +1 | -1 | 0}``: the score never decreases (+1) or never increases (-1)
        as that feature grows with the others fixed, for example
        ``{"ghi_kwh_m2_day": +1, "substation_distance_km": -1}``. Keys are column names (or
        ``"x0"``, ``"x1"``, … or integer positions for arrays). Applied as LightGBM
        ``monotone_constraints``; calibration and the prevalence correction are
        non-decreasing maps, so the probabilities keep the constraint.
    calibration
        ``"sigmoid"`` (Platt scaling, default), ``"isotonic"`` or None. The map from the
        trees' raw score to a probability is fitted on out-of-fold raw scores
        (``calibration_cv`` stratified folds, each fold's trees trained on the other folds),
        then applied to the trees trained on all rows; :meth:`predict_proba` returns the
        calibrated probability. Isotonic needs more rows (hundreds of each class) than
        sigmoid. With None the probability is the trees' own sigmoid.
    calibration_cv
        Number of cross-fitting folds for the calibration (at least 2).
    prevalence
        Assumed share of presences among the background, that is among the eligible land
        the background was drawn from (0 < prevalence < 1). When given,
        :meth:`predict_proba` returns estimated probabilities of presence (see Notes).
        When None (default), it returns the calibrated probability that a point is a
        presence rather than a background point *at the training mix of presences and
        background*: a relative likelihood, good for ranking, not a probability of presence.
    n_bootstrap
        Number of bootstrap refits for :meth:`predict_interval` (0 = off, else >= 2). Each
        refit resamples presences and background separately, with replacement, and uses
        its own seed.
    batch_size
        Rows per batch when predicting; memory grows with ``batch_size``, not with the
        number of rows.
    random_state
        Seed for LightGBM, the calibration folds and the bootstrap. The same seed, data and
        ``n_jobs`` give identical outputs (LightGBM runs with ``deterministic=True`` and
        ``force_row_wise=True``).
    n_jobs
        LightGBM threads (None = LightGBM's default, negative = all cores but ``-n_jobs - 1``).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; ``classes_[1]`` is the presence label.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.
    estimator_ : lightgbm.LGBMClassifier
        The trees fitted on all rows.
    calibrator_ : object or None
        The fitted calibration map (None when ``calibration`` is None).
    bootstrap_estimators_ : list of lightgbm.LGBMClassifier
        The bootstrap refits (empty when ``n_bootstrap`` is 0).
    monotone_constraints_ : list of int
        The constraint of each feature, in feature order.
    n_presence_, n_background_ : int
        Class counts of the training rows.
    prevalence_scale_ : float or None
        ``prevalence * n_background_ / n_presence_`` (see Notes).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Mean absolute contribution of each feature (log-odds) over the training rows, or
        over :data:`IMPORTANCE_ROWS` of them evenly spaced when there are more.

    Notes
    -----
    **Prevalence correction.** Let :math:`\\pi` be the prevalence, :math:`n_p` and
    :math:`n_b` the numbers of presences and background points, and :math:`q(x)` the
    calibrated probability that a point with features :math:`x` is a presence rather than a
    background point. Presences are drawn from the feature density of presences
    :math:`f_1(x)`, background from that of all eligible land :math:`f(x)`, so
    :math:`q/(1-q) = (n_p/n_b)\\, f_1(x)/f(x)`; by Bayes' rule the probability of presence on
    the land is :math:`P(y=1 \\mid x) = \\pi f_1(x)/f(x)`. Hence

    .. math:: P(y=1 \\mid x) = \\min\\left(1,\\ \\frac{\\pi\\, n_b}{n_p}\\,
              \\frac{q(x)}{1 - q(x)}\\right)

    — the presence–background (use–availability) result of Ward et al. (2009) and
    Phillips & Elith (2013), the counterpart, for a background that still contains
    presences, of Elkan & Noto's (2008) scaling of positive–unlabelled classifiers. The
    correction is a non-decreasing map, so it never changes the ranking; it relies on the
    presences being a random sample of all presences and on :math:`q` being calibrated.

    **Scores.** :meth:`raw_score` is the trees' log-odds; it is exactly the sum of
    :meth:`contributions` (TreeSHAP). :meth:`predict_proba` is a non-decreasing function of
    it (calibration, then the prevalence correction), and :meth:`decision_function` is the
    log-odds of :meth:`predict_proba`, so ``decision_function > 0`` exactly when
    :meth:`predict` gives the presence label.

    **Input checks.** Labels may be any two values (``classes_[1]``, the larger, is the
    presence); labels other than 0/1 or False/True give a warning saying which one is
    taken as presence. More than two labels, non-integer labels or a single class raise
    :class:`~siting.errors.ScenarioError` naming the values. Fewer presences (or
    background points) than ``calibration_cv`` (at least 2) raise; fewer than
    :data:`RECOMMENDED_MIN_POSITIVES` presences warn. Missing feature values (NaN) are
    allowed — LightGBM learns which branch they take — with a warning naming the columns
    and counts; infinite values raise. Constant columns warn. Features must be numeric:
    encode categories (land manager, …) as codes or indicator columns.

    References
    ----------
    Elkan, C. & Noto, K. (2008). Learning classifiers from only positive and unlabeled
    data. *KDD '08*, 213–220.

    Ward, G., Hastie, T., Barry, S., Elith, J. & Leathwick, J. R. (2009). Presence-only
    data and the EM algorithm. *Biometrics* 65(2), 554–563.

    Phillips, S. J. & Elith, J. (2013). On estimating probability of presence from
    use–availability or presence–background data. *Ecology* 94(6), 1409–1419.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"ghi_kwh_m2_day": rng.uniform(4, 7, 400),
    ...                   "substation_distance_km": rng.uniform(0, 50, 400)})
    >>> logit = 2 * (X["ghi_kwh_m2_day"] - 5.5) - 0.08 * (X["substation_distance_km"] - 25)
    >>> y = (rng.random(400) < 1 / (1 + np.exp(-logit))).astype(int)
    >>> model = SiteScorer(n_estimators=50,
    ...                    monotonic={"ghi_kwh_m2_day": +1, "substation_distance_km": -1})
    >>> model = model.fit(X, y)
    >>> model.predict_proba(X.head(3)).shape
    (3, 2)
    >>> parts = model.contributions(X.head(3))
    >>> list(parts.columns)
    ['ghi_kwh_m2_day', 'substation_distance_km', 'bias']
    >>> bool(np.allclose(parts.sum(axis=1), model.raw_score(X.head(3))))
    True
    >>> model.global_importance().index.tolist()
    ['ghi_kwh_m2_day', 'substation_distance_km']
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        max_depth: int = 6,
        min_child_samples: int = 10,
        monotonic: Mapping[str | int, int] | None = None,
        calibration: Literal["sigmoid", "isotonic"] | None = "sigmoid",
        calibration_cv: int = 3,
        prevalence: float | None = None,
        n_bootstrap: int = 0,
        batch_size: int = 100_000,
        random_state: int | np.random.RandomState | None = 0,
        n_jobs: int | None = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.monotonic = monotonic
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.prevalence = prevalence
        self.n_bootstrap = n_bootstrap
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    # -- fit ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> SiteScorer:
        """Fit the trees, the calibration map and the bootstrap refits.

        Parameters
        ----------
        X
            DataFrame (column names are kept in ``feature_names_in_``) or 2-D array of
            numeric features, one row per presence or background point; NaN allowed.
        y
            Two labels: 1 = presence, 0 = background.

        Returns
        -------
        SiteScorer
            ``self``, fitted.

        Raises
        ------
        ScenarioError
            For bad parameters, labels that are not two classes, or too few presences or
            background points (see the class Notes).
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype="float64", ensure_all_finite="allow-nan")
        y01 = self._check_labels(y)
        n_pos = int(y01.sum())
        n_neg = int(y01.size - n_pos)
        self._check_counts(n_pos, n_neg)
        names = self._names()
        _warn_about_features(X, names)
        constraints = self._monotone_vector(names)

        seeds = np.random.SeedSequence(
            int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        ).spawn(3)
        main_seed = _seed(seeds[0])
        self.monotone_constraints_ = constraints
        self.estimator_ = self._booster(main_seed).fit(X, y01)

        self.calibrator_: _PlattMap | _IsotonicMap | None = None
        if self.calibration is not None:
            oof = self._out_of_fold_raw(X, y01, seeds[1])
            maker = _PlattMap if self.calibration == "sigmoid" else _IsotonicMap
            self.calibrator_ = maker.fit(oof, y01)

        self.bootstrap_estimators_ = self._fit_bootstrap(X, y01, seeds[2])
        self.n_presence_, self.n_background_ = n_pos, n_neg
        self.prevalence_scale_ = (
            None if self.prevalence is None else float(self.prevalence) * n_neg / n_pos
        )
        # Evenly spaced rows: deterministic, and TreeSHAP over every row of a large training
        # table would cost more than fitting the trees.
        rows = np.unique(np.linspace(0, X.shape[0] - 1, IMPORTANCE_ROWS).astype(int))
        contributions = self._booster_contributions(self.estimator_, X[rows])
        self.feature_importances_ = np.abs(contributions[:, :-1]).mean(axis=0)
        return self

    def _check_params(self) -> None:
        _check_param(
            "n_estimators",
            self.n_estimators,
            _is_int(self.n_estimators) and self.n_estimators >= 1,
            "a whole number >= 1",
        )
        _check_param(
            "learning_rate",
            self.learning_rate,
            _is_real(self.learning_rate) and 0 < self.learning_rate <= 1,
            "a number in (0, 1]",
        )
        _check_param(
            "num_leaves",
            self.num_leaves,
            _is_int(self.num_leaves) and self.num_leaves >= 2,
            "a whole number >= 2",
        )
        _check_param(
            "max_depth",
            self.max_depth,
            _is_int(self.max_depth) and (self.max_depth == -1 or self.max_depth >= 1),
            "-1 (no limit) or a whole number >= 1",
        )
        _check_param(
            "min_child_samples",
            self.min_child_samples,
            _is_int(self.min_child_samples) and self.min_child_samples >= 1,
            "a whole number >= 1",
        )
        _check_param(
            "calibration",
            self.calibration,
            self.calibration in ("sigmoid", "isotonic", None),
            "'sigmoid', 'isotonic' or None",
        )
        _check_param(
            "calibration_cv",
            self.calibration_cv,
            _is_int(self.calibration_cv) and self.calibration_cv >= 2,
            "a whole number of folds >= 2",
        )
        _check_param(
            "prevalence",
            self.prevalence,
            self.prevalence is None or (_is_real(self.prevalence) and 0 < self.prevalence < 1),
            "None or the assumed share of presences among the background, 0 < prevalence < 1",
        )
        _check_param(
            "n_bootstrap",
            self.n_bootstrap,
            _is_int(self.n_bootstrap) and (self.n_bootstrap == 0 or self.n_bootstrap >= 2),
            "0 (off) or a whole number >= 2",
        )
        _check_param(
            "batch_size",
            self.batch_size,
            _is_int(self.batch_size) and self.batch_size >= 1,
            "a whole number of rows >= 1",
        )
        _check_param(
            "n_jobs",
            self.n_jobs,
            self.n_jobs is None or (_is_int(self.n_jobs) and self.n_jobs != 0),
            "None, a positive number of threads, or a negative number (-1 = all cores)",
        )
        if self.monotonic is not None and not isinstance(self.monotonic, Mapping):
            raise ScenarioError(
                f"SiteScorer: monotonic={self.monotonic!r}; expected a mapping of feature name "
                "to +1 (increasing), -1 (decreasing) or 0, e.g. {'ghi_kwh_m2_day': 1}."
            )

    def _check_labels(self, y: np.ndarray) -> np.ndarray:
        y_type = type_of_target(y, input_name="y")
        if y_type == "unknown":
            kinds = sorted({type(v).__name__ for v in np.ravel(y)[:1000]})
            raise ScenarioError(
                f"Unknown label type: unknown. y holds values of types {kinds} that are not "
                "class labels; SiteScorer needs two labels: 1 = presence, 0 = background."
            )
        if y_type in ("continuous", "continuous-multioutput"):
            odd = [v for v in np.unique(y).tolist() if not float(v).is_integer()][:5]
            raise ScenarioError(
                f"Unknown label type: {y_type}. y holds non-integer values such as {odd}; "
                "SiteScorer needs two labels: 1 = presence, 0 = background."
            )
        classes = np.unique(y)
        if classes.size == 1:
            raise ScenarioError(
                f"y has only one class ({classes.tolist()[0]!r}, {y.size} rows); SiteScorer "
                "needs presences (1) and background points (0). Draw background points "
                "with siting.scoring.sample_background."
            )
        if y_type != "binary":
            shown = classes.tolist()[:10]
            more = f" and {classes.size - 10} more" if classes.size > 10 else ""
            raise ScenarioError(
                "Only binary classification is supported. The type of the target is "
                f"{y_type}: y has {classes.size} distinct labels {shown}{more}; SiteScorer "
                "needs exactly two, 1 = presence and 0 = background."
            )
        if not set(classes.tolist()) <= {0, 1}:
            warnings.warn(
                f"y has the labels {classes.tolist()} rather than 0/1; taking "
                f"{classes.tolist()[1]!r} (the larger) as the presence label and "
                f"{classes.tolist()[0]!r} as background. Relabel to 1/0 to silence this.",
                UserWarning,
                stacklevel=3,
            )
        self.classes_ = classes
        return (y == classes[1]).astype("int64")

    def _check_counts(self, n_pos: int, n_neg: int) -> None:
        floor = self.calibration_cv if self.calibration is not None else 2
        for count, what in ((n_pos, "presences"), (n_neg, "background points")):
            if count < floor:
                reason = (
                    f"one per calibration fold (calibration_cv={self.calibration_cv})"
                    if self.calibration is not None
                    else "to fit any trees"
                )
                raise ScenarioError(
                    f"too few {what}: got {count}, SiteScorer needs at least {floor} "
                    f"({reason}) and {RECOMMENDED_MIN_POSITIVES} or more presences for "
                    "stable scores. Add labelled sites or background points."
                )
        if n_pos < RECOMMENDED_MIN_POSITIVES:
            warnings.warn(
                f"only {n_pos} presences (y = 1); at least {RECOMMENDED_MIN_POSITIVES} are "
                "recommended: with fewer, the scores and their calibration are unstable.",
                UserWarning,
                stacklevel=3,
            )

    def _names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _monotone_vector(self, names: list[str]) -> list[int]:
        vector = [0] * len(names)
        if not self.monotonic:
            return vector
        unknown, bad = [], []
        for key, direction in self.monotonic.items():
            if _is_int(key):
                position = int(key)
                if not 0 <= position < len(names):
                    unknown.append(key)
                    continue
            elif isinstance(key, str) and key in names:
                position = names.index(key)
            else:
                unknown.append(key)
                continue
            if not (_is_real(direction) and direction in (-1, 0, 1)):
                bad.append((key, direction))
                continue
            vector[position] = int(direction)
        if unknown:
            raise ScenarioError(
                f"monotonic names features that are not in X: {unknown}; the features are {names}."
            )
        if bad:
            raise ScenarioError(
                f"monotonic directions must be +1 (increasing), -1 (decreasing) or 0, got "
                f"{dict(bad)}."
            )
        return vector

    def _threads(self) -> int:
        if self.n_jobs is None:
            return 0  # LightGBM's default
        if self.n_jobs < 0:
            return max(1, (os.cpu_count() or 1) + 1 + self.n_jobs)
        return int(self.n_jobs)

    def _booster(self, seed: int) -> LGBMClassifier:
        from lightgbm import LGBMClassifier

        constraints = self.monotone_constraints_
        return LGBMClassifier(
            objective="binary",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            max_depth=self.max_depth,
            min_child_samples=self.min_child_samples,
            monotone_constraints=constraints if any(constraints) else None,
            random_state=seed,
            n_jobs=self._threads(),
            deterministic=True,
            force_row_wise=True,
            verbosity=-1,
        )

    def _out_of_fold_raw(self, X: np.ndarray, y: np.ndarray, seeds: Any) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold

        split_seed, *fold_seeds = (int(s) for s in seeds.generate_state(1 + self.calibration_cv))
        folds = StratifiedKFold(self.calibration_cv, shuffle=True, random_state=split_seed)
        oof = np.empty(y.size)
        for (train, test), seed in zip(folds.split(X, y), fold_seeds, strict=True):
            fold_model = self._booster(seed & 0x7FFFFFFF).fit(X[train], y[train])
            oof[test] = self._booster_raw(fold_model, X[test])
        return oof

    def _fit_bootstrap(self, X: np.ndarray, y: np.ndarray, seeds: Any) -> list[LGBMClassifier]:
        if self.n_bootstrap == 0:
            return []
        positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        models = []
        for child in seeds.spawn(self.n_bootstrap):
            rng = np.random.default_rng(child)
            rows = np.sort(
                np.concatenate(
                    [
                        rng.choice(positives, positives.size, replace=True),
                        rng.choice(negatives, negatives.size, replace=True),
                    ]
                )
            )
            models.append(self._booster(_seed(child)).fit(X[rows], y[rows]))
        return models

    # -- prediction ---------------------------------------------------------------------

    def _booster_raw(self, model: LGBMClassifier, X: np.ndarray) -> np.ndarray:
        raw = model.booster_.predict(X, raw_score=True, num_threads=self._threads())
        return np.asarray(raw, dtype="float64")

    def _booster_contributions(self, model: LGBMClassifier, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], X.shape[1] + 1))
        for start in range(0, X.shape[0], self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = model.booster_.predict(
                X[start:stop], pred_contrib=True, num_threads=self._threads()
            )
        return out

    def _rows(self, X: Any) -> Any:
        """``X`` as something with a length that can be sliced into row batches."""
        check_is_fitted(self)
        if not hasattr(X, "iloc") and not isinstance(X, np.ndarray):
            from scipy import sparse

            if sparse.issparse(X):
                validate_data(self, X, reset=False)  # raises: dense data is required
            X = np.asarray(X)
        if getattr(X, "ndim", 2) != 2:
            validate_data(self, X, reset=False)  # raises with sklearn's reshape hint
        return X

    def _batches(self, X: Any) -> Iterator[tuple[slice, np.ndarray]]:
        """Validated float batches of rows of ``X`` (from :meth:`_rows`), with their slices.

        There is always at least one batch, so empty input is refused by the validation.
        """
        n = len(X)
        for start in range(0, max(n, 1), self.batch_size):
            rows = slice(start, min(start + self.batch_size, n))
            batch = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
            yield (
                rows,
                validate_data(
                    self,
                    batch,
                    reset=False,
                    dtype=("float64", "float32"),
                    ensure_all_finite="allow-nan",
                ),
            )

    def _map(self, model: LGBMClassifier, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probability of the presence label and its log-odds, from the trees' raw score."""
        from scipy.special import expit

        raw = self._booster_raw(model, X)
        z = raw if self.calibrator_ is None else self.calibrator_.log_odds(raw)
        z = np.clip(z, -_LOGIT_LIMIT, _LOGIT_LIMIT)
        if self.prevalence_scale_ is None:
            return expit(z), z
        # P = min(1, scale * q / (1 - q)) = min(1, exp(z + log(scale))), in log space.
        log_p = np.minimum(0.0, z + math.log(self.prevalence_scale_))
        p = np.exp(log_p)
        with np.errstate(divide="ignore"):
            decision = log_p - np.log(-np.expm1(log_p))
        return p, np.clip(decision, -_LOGIT_LIMIT, _LOGIT_LIMIT)

    def _collect(
        self, X: Any, fn: Callable[[np.ndarray], np.ndarray], width: int = 0
    ) -> tuple[np.ndarray, pd.Index]:
        """Apply ``fn`` batch by batch into one preallocated array; also the rows' index."""
        X = self._rows(X)
        n = len(X)
        out = np.empty((n, width) if width else n)
        for rows, batch in self._batches(X):
            out[rows] = fn(batch)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n)
        return out, index

    def raw_score(self, X: Any) -> np.ndarray:
        """The trees' log-odds, before calibration: the sum of :meth:`contributions`.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        return self._collect(X, lambda b: self._booster_raw(self.estimator_, b))[0]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities ``[background, presence]`` per row.

        With ``prevalence=None`` the presence column is a relative likelihood (the chance of
        being a presence rather than a background point at the training mix); with a
        prevalence it is the estimated probability of presence (class Notes).

        Returns
        -------
        ndarray of shape (n_rows, 2)
        """

        def both(batch: np.ndarray) -> np.ndarray:
            p = self._map(self.estimator_, batch)[0]
            return np.column_stack([1.0 - p, p])

        return self._collect(X, both, 2)[0]

    def decision_function(self, X: Any) -> np.ndarray:
        """Log-odds of :meth:`predict_proba`'s presence column (> 0: presence predicted).

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        return self._collect(X, lambda b: self._map(self.estimator_, b)[1])[0]

    def predict(self, X: Any) -> np.ndarray:
        """The more probable label per row (``classes_[1]`` when its probability > 0.5)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- explanations -------------------------------------------------------------------

    def contributions(self, X: Any) -> pd.DataFrame:
        """Per-feature additive contributions to the raw score (exact TreeSHAP).

        Each row's feature columns plus ``bias`` sum to :meth:`raw_score` (the trees'
        log-odds) to float precision. :meth:`predict_proba` is a non-decreasing function of
        that sum, so a positive contribution never lowers the probability.

        Returns
        -------
        pandas.DataFrame
            One column per feature plus ``bias``; the index of ``X`` when it is a
            DataFrame.
        """
        width = self.n_features_in_ + 1
        values, index = self._collect(
            X, lambda b: self._booster_contributions(self.estimator_, b), width
        )
        return pd.DataFrame(values, columns=[*self._names(), "bias"], index=index)

    def global_importance(self, X: Any = None) -> pd.Series:
        """Mean absolute contribution per feature (log-odds), largest first.

        Parameters
        ----------
        X
            Rows to average over; when None, those of ``feature_importances_`` (the
            training rows, or an evenly spaced sample of them).

        Returns
        -------
        pandas.Series
            Indexed by feature name, named ``"mean_abs_contribution"``.
        """
        check_is_fitted(self)
        if X is None:
            values = self.feature_importances_
        else:
            values = self.contributions(X).drop(columns="bias").abs().mean().to_numpy()
        series = pd.Series(values, index=self._names(), name="mean_abs_contribution")
        return series.sort_values(ascending=False, kind="stable")

    # -- uncertainty --------------------------------------------------------------------

    def predict_interval(self, X: Any, alpha: float = 0.1) -> pd.DataFrame:
        """Bootstrap interval of the presence probability per row.

        Every bootstrap refit scores the rows and its raw score goes through the same
        calibration and prevalence maps as :meth:`predict_proba`; the interval is the
        ``alpha / 2`` and ``1 - alpha / 2`` quantiles over the refits. It shows how much
        the trees depend on the particular training rows; the calibration map is held
        fixed.

        Parameters
        ----------
        X
            Features, as for :meth:`predict_proba`.
        alpha
            1 − coverage of the interval, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            Columns ``lower``, ``median``, ``upper``; the index of ``X`` when it is a
            DataFrame.

        Raises
        ------
        ScenarioError
            If the model was fitted with ``n_bootstrap=0`` or ``alpha`` is not in (0, 1).
        """
        check_is_fitted(self)
        if not self.bootstrap_estimators_:
            raise ScenarioError(
                "predict_interval needs bootstrap refits, but this SiteScorer was fitted "
                "with n_bootstrap=0; refit with n_bootstrap=30 (or any number >= 2)."
            )
        if not (_is_real(alpha) and 0 < alpha < 1):
            raise ScenarioError(f"alpha={alpha!r}; expected a number in (0, 1), e.g. 0.1")
        levels = [alpha / 2, 0.5, 1 - alpha / 2]

        def interval(batch: np.ndarray) -> np.ndarray:
            return np.quantile(self._member_scores(batch), levels, axis=0).T

        values, index = self._collect(X, interval, 3)
        return pd.DataFrame(values, columns=["lower", "median", "upper"], index=index)

    def predict_members(self, X: Any) -> np.ndarray:
        """Presence probability from every bootstrap refit: shape ``(n_bootstrap, n_rows)``.

        The same calibration and prevalence maps as :meth:`predict_proba` (the calibration
        map is held fixed); :meth:`predict_interval` reports quantiles over exactly these
        rows. Rows are scored ``batch_size`` at a time.
        """
        check_is_fitted(self)
        if not self.bootstrap_estimators_:
            raise ScenarioError(
                "predict_members needs bootstrap refits, but this SiteScorer was fitted "
                "with n_bootstrap=0; refit with n_bootstrap=30 (or any number >= 2)."
            )

        def each(batch: np.ndarray) -> np.ndarray:
            return self._member_scores(batch).T

        values, _ = self._collect(X, each, len(self.bootstrap_estimators_))
        return np.ascontiguousarray(values.T)

    def _member_scores(self, batch: np.ndarray) -> np.ndarray:
        return np.stack([self._map(m, batch)[0] for m in self.bootstrap_estimators_])


def _seed(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def _warn_about_features(X: np.ndarray, names: list[str]) -> None:
    missing = np.isnan(X).sum(axis=0)
    if missing.any():
        listed = ", ".join(
            f"{names[i]!r} ({int(missing[i])} of {X.shape[0]} rows)"
            for i in np.flatnonzero(missing)
        )
        warnings.warn(
            f"features have missing values (NaN): {listed}. LightGBM learns which branch "
            "missing values take; fill them first if missing means something else.",
            UserWarning,
            stacklevel=3,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        constant = np.flatnonzero(~(np.nanmax(X, axis=0) > np.nanmin(X, axis=0)))
    if constant.size:
        warnings.warn(
            f"features are constant over the training rows and cannot inform the scores: "
            f"{[names[i] for i in constant]}. Drop them, or add rows where they vary.",
            UserWarning,
            stacklevel=3,
        )
