"""Weighted overlay (multi-criteria decision analysis), as a scikit-learn estimator.

Each criterion is rescaled linearly to 0..1 suitability over a value range (1 at the better
end), clipped, then weighted; the score is the weighted mean, so it is in 0..1 and the
per-criterion contributions add up to it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from siting.errors import ScenarioError

__all__ = ["WeightedOverlay"]


class WeightedOverlay(BaseEstimator):
    """Weighted linear combination of criteria rescaled to 0..1.

    Parameters
    ----------
    criteria
        ``{feature: {"weight": w, "better": "higher" | "lower", "range": (low, high)}}``.
        ``range`` is optional; without it the range is learned by :meth:`fit` as the
        feature's min and max (so scores are relative to the candidates seen in ``fit``).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    ranges_ : dict of feature → (low, high)
    weights_ : dict of feature → weight normalised to sum to 1

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"ghi": [5.0, 6.0], "dist_km": [0.0, 10.0]})
    >>> model = WeightedOverlay({"ghi": {"weight": 3, "better": "higher", "range": (5, 6)},
    ...                          "dist_km": {"weight": 1, "better": "lower", "range": (0, 20)}})
    >>> model.fit(X).predict(X).round(3).tolist()
    [0.25, 0.875]
    """

    def __init__(self, criteria: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.criteria = criteria

    def fit(self, X: pd.DataFrame, y: Any = None) -> WeightedOverlay:
        """Check the criteria against ``X`` and learn missing ranges."""
        if not self.criteria:
            raise ScenarioError("WeightedOverlay needs at least one criterion")
        missing = [name for name in self.criteria if name not in X.columns]
        if missing:
            raise ScenarioError(
                f"criteria {missing} are not columns of the candidate table; "
                f"available columns: {sorted(map(str, X.columns))}"
            )
        ranges: dict[str, tuple[float, float]] = {}
        weights: dict[str, float] = {}
        for name, spec in self.criteria.items():
            better = spec.get("better")
            if better not in ("higher", "lower"):
                raise ScenarioError(
                    f"criterion {name!r}: better={better!r}; use 'higher' or 'lower'"
                )
            weight = float(spec.get("weight", 1.0))
            if not np.isfinite(weight) or weight < 0:
                raise ScenarioError(f"criterion {name!r}: weight={weight!r} must be >= 0")
            given = spec.get("range")
            if given is None:
                values = X[name].to_numpy(dtype=float)
                if not np.isfinite(values).any():
                    raise ScenarioError(
                        f"criterion {name!r} has no finite value to learn a range from; "
                        "give its range explicitly"
                    )
                low, high = float(np.nanmin(values)), float(np.nanmax(values))
            else:
                low, high = (float(v) for v in given)
            ranges[name] = (low, high)
            weights[name] = weight
        total = sum(weights.values())
        if total <= 0:
            raise ScenarioError("at least one criterion needs a positive weight")
        self.ranges_ = ranges
        self.weights_ = {name: w / total for name, w in weights.items()}
        self.feature_names_in_ = np.array(list(self.criteria), dtype=object)
        self.n_features_in_ = len(self.criteria)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Suitability 0..1 per criterion (NaN stays NaN: a missing value is never zero)."""
        check_is_fitted(self, "ranges_")
        out = {}
        for name in self.feature_names_in_:
            low, high = self.ranges_[name]
            values = X[name].to_numpy(dtype=float)
            scaled = np.ones_like(values) if high == low else (values - low) / (high - low)
            scaled = np.clip(scaled, 0.0, 1.0)
            if self.criteria[name]["better"] == "lower":  # type: ignore[index]
                scaled = 1.0 - scaled
            out[name] = np.where(np.isnan(values), np.nan, scaled)
        return pd.DataFrame(out, index=X.index)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-criterion share of the score; each row sums to :meth:`predict`."""
        suitability = self.transform(X)
        return suitability * pd.Series(self.weights_)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Score in 0..1 per candidate (NaN where any weighted criterion is missing)."""
        return self.contributions(X).sum(axis=1, skipna=False).to_numpy()
