"""Scoring candidates: the MCDA baseline (:class:`WeightedOverlay`); the ML scorer grows here."""

from __future__ import annotations

from siting.scoring.overlay import WeightedOverlay
from siting.scoring.validation import (
    BlockSizeSuggestion,
    BufferedKFold,
    SpatialBlockKFold,
    SpatialFoldWarning,
    boyce_curve,
    boyce_index,
    compare_validation,
    positive_scores,
    pr_auc,
    precision_at_k,
    roc_auc,
    suggest_block_size,
    validation_scorers,
)

__all__ = [
    "BlockSizeSuggestion",
    "BufferedKFold",
    "SpatialBlockKFold",
    "SpatialFoldWarning",
    "WeightedOverlay",
    "boyce_curve",
    "boyce_index",
    "compare_validation",
    "positive_scores",
    "pr_auc",
    "precision_at_k",
    "roc_auc",
    "suggest_block_size",
    "validation_scorers",
]
