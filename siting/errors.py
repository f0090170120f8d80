"""One exception tree for the whole library.

Every class derives from :class:`SitingError` and also from the matching built-in, so
``except ValueError`` keeps working for callers that do not know this library. Messages say
what was received, what was expected, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CRSMismatchError",
    "ClusterError",
    "ConstraintError",
    "GridError",
    "InvalidLayerError",
    "LayerError",
    "LayerIOError",
    "MissingDependencyError",
    "NoDataInRegionError",
    "NoFeasibleSitesError",
    "OutputError",
    "ScenarioError",
    "SiteNotFoundError",
    "SitingError",
]


class SitingError(Exception):
    """Root of every error raised on purpose by ``siting``."""


class CRSError(SitingError, ValueError):
    """A CRS is missing, invalid, or geographic where metres are needed."""


class CRSMismatchError(CRSError):
    """Two inputs that must share a CRS do not."""


class GridError(SitingError, ValueError):
    """Grids that should align do not, or a resolution or bounds is unusable."""


class LayerError(SitingError):
    """A layer could not be used."""


class LayerIOError(LayerError, OSError):
    """A layer file is missing, unreadable, corrupt or truncated."""


class InvalidLayerError(LayerError, ValueError):
    """A layer argument is invalid: unknown kind, disallowed resampling, bad column or band."""


class NoDataInRegionError(LayerError, ValueError):
    """A layer has no valid value inside the region of interest."""


class ScenarioError(SitingError, ValueError):
    """A scenario is invalid: the message names the field and the allowed values."""


class ConstraintError(SitingError, ValueError):
    """An exclusion rule is invalid or cannot be applied to the data given."""


class NoFeasibleSitesError(SitingError):
    """Every cell was excluded, so there is nothing to score or rank."""


class SiteNotFoundError(SitingError, LookupError):
    """A run has no site of the rank or cell id asked for; the message gives the valid ones."""


class OutputError(SitingError, OSError):
    """An output cannot be written (unwritable directory, existing run, ...)."""


class ClusterError(SitingError, ConnectionError):
    """The dask cluster a run should compute on cannot be reached or started."""


class MissingDependencyError(SitingError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the error for an optional dependency that is not installed."""
    return MissingDependencyError(
        f"{purpose} needs the optional package {package!r}, which is not installed. "
        f"Install it with: pip install 'siting[{extra}]'"
    )
