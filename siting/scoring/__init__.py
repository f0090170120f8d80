"""Scoring candidates: the MCDA baseline (:class:`WeightedOverlay`), the ML scorer
(:class:`SiteScorer`, trained on presences and :func:`sample_background` points) and spatial
validation."""

from __future__ import annotations

from siting.scoring.ahp import AHPResult, ahp_weights
from siting.scoring.background import label_presences, sample_background, training_table
from siting.scoring.model import SiteScorer
from siting.scoring.overlay import TRANSFORMS, WeightedOverlay, learned_statistics, suitability
from siting.scoring.uncertainty import (
    rank_stability,
    score_replicates_model,
    score_replicates_overlay,
)
from siting.scoring.validation import (
    BlockSizeSuggestion,
    BufferedKFold,
    SpatialBlockKFold,
    SpatialFoldWarning,
    boyce_curve,
    boyce_index,
    compare_models,
    compare_validation,
    positive_scores,
    pr_auc,
    precision_at_k,
    roc_auc,
    suggest_block_size,
    validation_scorers,
)

__all__ = [
    "TRANSFORMS",
    "AHPResult",
    "BlockSizeSuggestion",
    "BufferedKFold",
    "SiteScorer",
    "SpatialBlockKFold",
    "SpatialFoldWarning",
    "WeightedOverlay",
    "ahp_weights",
    "boyce_curve",
    "boyce_index",
    "compare_models",
    "compare_validation",
    "label_presences",
    "learned_statistics",
    "positive_scores",
    "pr_auc",
    "precision_at_k",
    "rank_stability",
    "roc_auc",
    "sample_background",
    "score_replicates_model",
    "score_replicates_overlay",
    "suggest_block_size",
    "suitability",
    "training_table",
    "validation_scorers",
]
