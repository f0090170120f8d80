"""Shared reading helpers for the readers: one place that turns GDAL and parser failures
into the library's errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from siting._typing import PathLike
from siting.errors import CRSError, InvalidLayerError, LayerIOError

__all__ = ["read_vector", "require_columns"]


def read_vector(
    path_or_frame: PathLike | gpd.GeoDataFrame, what: str, **kwargs: Any
) -> gpd.GeoDataFrame:
    """A vector file (any OGR format) or a GeoDataFrame (copied), insisting on a CRS."""
    if isinstance(path_or_frame, gpd.GeoDataFrame):
        frame = path_or_frame.copy()
        where = what
    else:
        path = Path(path_or_frame)
        where = f"{what} from {str(path)!r}"
        if not path.exists():
            raise LayerIOError(f"Could not read {what}: {str(path)!r} does not exist.")
        try:
            frame = gpd.read_file(path, **kwargs)
        except Exception as exc:  # pyogrio raises several unrelated types
            raise LayerIOError(
                f"Could not read {where}: {exc}. Expected a vector file (GeoPackage, file "
                "geodatabase, shapefile, GeoJSON ...) that GDAL can open."
            ) from exc
    if frame.crs is None:
        raise CRSError(
            f"{where} has no CRS, and a CRS is never guessed. Set the CRS it is really in "
            "with .set_crs(...) (for example 'EPSG:4326') before reading it."
        )
    return frame


def require_columns(
    frame: pd.DataFrame,
    columns: Sequence[str],
    what: str,
    *,
    error: type[Exception] = InvalidLayerError,
) -> None:
    """Raise ``error`` naming the missing columns, the columns present and those expected."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise error(
            f"{what} lacks the column(s) {missing}; it has {list(frame.columns)[:40]}. "
            f"Expected at least {list(columns)}."
        )
