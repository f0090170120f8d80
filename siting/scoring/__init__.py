"""Scoring candidates: the MCDA baseline (:class:`WeightedOverlay`); the ML scorer grows here."""

from __future__ import annotations

from siting.scoring.ahp import AHPResult, ahp_weights
from siting.scoring.overlay import TRANSFORMS, WeightedOverlay, suitability

__all__ = [
    "TRANSFORMS",
    "AHPResult",
    "WeightedOverlay",
    "ahp_weights",
    "suitability",
]
