"""Interactive HTML map of ranked sites and their context (folium / Leaflet)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from siting._typing import PathLike
from siting.errors import missing_dependency
from siting.export import atomic_path

__all__ = ["save_map", "site_map"]

# Sequential palette (viridis stops) for scores in 0..1.
_SCORE_COLOURS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
_CONTEXT_STYLE: dict[str, dict[str, Any]] = {
    "transmission_lines": {"color": "#d62728", "weight": 2},
    "federal_land": {"color": "#8c6d31", "weight": 1, "fillOpacity": 0.15},
    "substations": {"color": "#000000"},
    "towns": {"color": "#1f77b4"},
}


def _folium() -> Any:
    try:
        import folium
    except ImportError:
        raise missing_dependency("folium", "maps", "The interactive map") from None
    return folium


def _text(value: Any) -> str:
    """Data → safe HTML text: every value from data is escaped."""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:,.3g}"
    return html.escape(str(value))


def _popup_html(row: Mapping[str, Any], fields: Sequence[str]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left'>{_text(f)}</th><td>{_text(row[f])}</td></tr>"
        for f in fields
    )
    return f"<table>{cells}</table>"


def site_map(
    sites: gpd.GeoDataFrame,
    *,
    context: Mapping[str, gpd.GeoDataFrame] | None = None,
    score: str = "score",
    label: str = "rank",
    popup_fields: Sequence[str] | None = None,
    title: str = "Ranked sites",
) -> Any:
    """A folium map of ranked sites, coloured by score, over optional context layers.

    Parameters
    ----------
    sites
        Ranked sites with a CRS, ``rank`` and ``score`` columns.
    context
        Named vector layers drawn underneath (each its own toggle in the layer control).
    popup_fields
        Columns shown in each site's popup (default: every non-geometry column).

    Returns
    -------
    folium.Map
    """
    folium = _folium()
    if sites.crs is None:
        from siting.errors import CRSError

        raise CRSError("sites have no CRS; set it with .set_crs(...) before mapping")
    wgs = sites.to_crs("EPSG:4326")
    fields = list(popup_fields or [c for c in wgs.columns if c != wgs.geometry.name])
    west, south, east, north = wgs.total_bounds
    fmap = folium.Map(tiles=None, control_scale=True)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)").add_to(fmap)
    fmap.get_root().html.add_child(
        folium.Element(
            f"<h3 style='position:absolute;z-index:1000;left:60px;top:0'>{_text(title)}</h3>"
        )
    )
    for name, layer in (context or {}).items():
        if layer.crs is None or layer.empty:
            continue
        group = folium.FeatureGroup(name=_text(name.replace("_", " ")))
        style: dict[str, Any] = _CONTEXT_STYLE.get(name, {"color": "#555555", "weight": 1})
        shown = layer.to_crs("EPSG:4326")
        if bool((shown.geom_type == "Point").all()):
            for geom, row in zip(
                shown.geometry,
                shown.drop(columns=shown.geometry.name).to_dict("records"),
                strict=True,
            ):
                folium.CircleMarker(
                    [geom.y, geom.x], radius=3, color=style["color"], fill=True,
                    tooltip=_text(row.get("name", name)),
                ).add_to(group)  # fmt: skip
        else:
            folium.GeoJson(
                shown[[shown.geometry.name]].to_json(), style_function=lambda _, s=style: s
            ).add_to(group)
        group.add_to(fmap)
    import branca.colormap as cm

    colours = cm.LinearColormap(_SCORE_COLOURS, vmin=0.0, vmax=1.0, caption="Site score (0-1)")
    group = folium.FeatureGroup(name="Ranked sites")
    for geom, row in zip(wgs.geometry, wgs[fields].to_dict("records"), strict=True):
        value = float(row.get(score, np.nan)) if score in row else np.nan
        colour = colours(value) if np.isfinite(value) else "#999999"
        folium.CircleMarker(
            [geom.y, geom.x], radius=8, color="#222222", weight=1, fill=True, fill_color=colour,
            fill_opacity=0.9, tooltip=f"#{_text(row.get(label, ''))} score {_text(value)}",
            popup=folium.Popup(_popup_html(row, fields), max_width=400),
        ).add_to(group)  # fmt: skip
    group.add_to(fmap)
    colours.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def save_map(fmap: Any, path: PathLike) -> Path:
    """Save a folium map as one HTML file, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fmap.save(str(tmp))
    return path
