"""Scoring candidates: the MCDA baseline (:class:`WeightedOverlay`); the ML scorer grows here."""

from __future__ import annotations

from siting.scoring.overlay import WeightedOverlay

__all__ = ["WeightedOverlay"]
