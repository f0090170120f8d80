"""Colours and classes shared by the interactive and the static maps, so both read alike."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import pandas as pd

# Sequential palette (viridis stops) for site scores.
SCORE_COLOURS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
BACKGROUND = "#eef0ea"  # the offline basemap's land colour (no tiles)

# Federal land managers (agency codes used by PAD-US and the BLM SMA layer).
MANAGER_COLOURS = {
    "BLM": "#f4a460",
    "USFS": "#4daf4a",
    "NPS": "#984ea3",
    "FWS": "#377eb8",
    "USBR": "#a65628",
    "BOR": "#a65628",
    "DOD": "#e41a1c",
    "DOE": "#ff7f00",
    "TRIB": "#f781bf",
    "TRIBAL": "#f781bf",
    "BIA": "#f781bf",
}
OTHER_MANAGER = "#999999"

# Transmission voltage classes (kV, lower bound inclusive), thicker and darker when higher.
# The weight is a line width in screen pixels.
VOLTAGE_CLASSES: list[tuple[float, str, str, float]] = [
    (500.0, "500 kV and above", "#67000d", 4.0),
    (345.0, "345-499 kV", "#a50f15", 3.5),
    (230.0, "230-344 kV", "#ef3b2c", 3.0),
    (115.0, "115-229 kV", "#fb6a4a", 2.5),
    (0.0, "under 115 kV", "#fc9272", 2.0),
]
UNKNOWN_VOLTAGE = ("voltage unknown", "#bdbdbd", 1.5)

# Point layers by name; the radius is in screen pixels.
POINT_STYLE: dict[str, dict[str, Any]] = {
    "substations": {"color": "#111111", "fillColor": "#ffffff", "radius": 4},
    "towns": {"color": "#08519c", "fillColor": "#6baed6", "radius": 5},
}
OTHER_POINT = {"color": "#444444", "fillColor": "#bbbbbb", "radius": 4}

# Legend groups, in the order both maps list them.
LEGEND_GROUPS = ["Federal land", "Transmission lines", "Points"]


def manager_column(layer: gpd.GeoDataFrame) -> str | None:
    """The column naming the land manager, if the layer has one."""
    for column in ("manager", "manager_name", "Mang_Name"):
        if column in layer.columns:
            return column
    return None


def voltage_column(layer: gpd.GeoDataFrame) -> str | None:
    """The column holding the line voltage in kV, if the layer has one."""
    for column in ("voltage_kv", "max_kv", "VOLTAGE", "voltage"):
        if column in layer.columns:
            return column
    return None


def voltage_class(value: Any) -> tuple[str, str, float]:
    """A voltage in kV → (class name, colour, line weight); unknown for missing or <= 0."""
    try:
        kv = float(value)
    except (TypeError, ValueError):
        return UNKNOWN_VOLTAGE
    if not math.isfinite(kv) or kv <= 0:
        return UNKNOWN_VOLTAGE
    for low, name, colour, weight in VOLTAGE_CLASSES:
        if kv >= low:
            return name, colour, weight
    return UNKNOWN_VOLTAGE


def manager_key(value: Any) -> str:
    """The legend key of a land manager value (``unknown`` when missing)."""
    try:
        missing = bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    return "unknown" if value is None or missing else str(value)


def manager_colour(key: str) -> str:
    """The colour of a land manager (by agency code, case-insensitive)."""
    return MANAGER_COLOURS.get(key.upper(), OTHER_MANAGER)
