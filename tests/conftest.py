"""Shared fixtures for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data folder (``../shared/data``), or skip the test.

    Looks for ``shared/data`` next to the repository (``<repo>/../shared/data``); the
    environment variable ``SITING_SHARED_DATA`` overrides the location.
    """
    override = os.environ.get("SITING_SHARED_DATA")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(
            f"{path} not found: real-data tests need ../shared/data (set SITING_SHARED_DATA)"
        )
    return path
