"""Type aliases shared by the public API (one place for "anything that names a CRS")."""

from __future__ import annotations

import os
from typing import TypeAlias

import pyproj

#: Anything :func:`pyproj.CRS.from_user_input` accepts: ``"EPSG:5070"``, ``5070``, WKT, a CRS.
CRSLike: TypeAlias = pyproj.CRS | str | int | dict[str, object]

#: A filesystem path given as a string or a :class:`os.PathLike`.
PathLike: TypeAlias = str | os.PathLike[str]
