"""Interactive HTML map of ranked sites and their context (folium / Leaflet).

The map needs only Leaflet: site markers are plain ``L.divIcon`` badges, popups and tooltips
are bound with Leaflet's own calls, and the legends are plain HTML. That is what lets
:func:`save_map` write one self-contained file, with Leaflet inlined from the
``xstatic-leaflet`` package, that renders with no network at all.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from siting._typing import PathLike
from siting.errors import CRSError, OutputError, missing_dependency
from siting.export import atomic_path

# Colours and classes shared with the static map (siting.maps.static).
from siting.maps._style import BACKGROUND as _BACKGROUND
from siting.maps._style import LEGEND_GROUPS as _LEGEND_GROUPS
from siting.maps._style import MANAGER_COLOURS as _MANAGER_COLOURS
from siting.maps._style import OTHER_MANAGER as _OTHER_MANAGER
from siting.maps._style import OTHER_POINT as _OTHER_POINT
from siting.maps._style import POINT_STYLE as _POINT_STYLE
from siting.maps._style import SCORE_COLOURS as _SCORE_COLOURS
from siting.maps._style import UNKNOWN_VOLTAGE as _UNKNOWN_VOLTAGE
from siting.maps._style import VOLTAGE_CLASSES as _VOLTAGE_CLASSES
from siting.maps._style import manager_column as _manager_column
from siting.maps._style import voltage_class as _voltage_class
from siting.maps._style import voltage_column as _voltage_column
from siting.maps.controls import CONTROLS_CSS, map_controls
from siting.maps.overlays import MAX_OVERLAY_PX, Overlay, OverlayImage, render_overlays

#: Sites beyond this many (by rank) are drawn as canvas dots rather than rank badges.
MAX_BADGES = 1000

# Leaflet panes (z-index): tiles 200 < region outline 250 < rasters 350 < vectors 400.
_BASEMAP_PANE = "siting-basemap"
_RASTER_PANE = "siting-rasters"

__all__ = ["save_map", "site_map"]

# Units by column-name suffix, longest first (the column names of the pipeline's site table).
_UNITS = [
    ("_kwh_m2_day", "kWh/m²/day"),
    ("_mw_m2", "mW/m²"),
    ("_m_s", "m/s"),
    ("_km", "km"),
    ("_pct", "%"),
    ("_kv", "kV"),
    ("_mw", "MW"),
    ("_m", "m"),
]
_UNIT_PREFIXES = [("people_", "people")]

_PERMIT_COLUMNS = [
    ("permits_triggered", "Permits triggered"),
    ("permits_unknown", "Permits not yet known"),
    ("permit_nepa_level", "NEPA level"),
]


def _folium() -> Any:
    try:
        import folium
    except ImportError:
        raise missing_dependency("folium", "maps", "The interactive map") from None
    return folium


def _text(value: Any) -> str:
    """Data → safe HTML text: every value from data is escaped."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:,.3g}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    return html.escape(str(value))


def _unit(column: str) -> str:
    lower = column.lower()
    for prefix, unit in _UNIT_PREFIXES:
        if lower.startswith(prefix):
            return unit
    for suffix, unit in _UNITS:
        if lower.endswith(suffix):
            return unit
    return ""


def _label(column: str) -> str:
    """``ghi_kwh_m2_day`` → ``ghi`` (the unit is shown beside the value)."""
    lower = column.lower()
    for suffix, _ in _UNITS:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            column = column[: -len(suffix)]
            break
    return column.replace("_", " ")


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _row(th: str, td: str) -> str:
    return f"<tr><th>{th}</th><td>{td}</td></tr>"  # styled by the page's .siting-popup rules


def _with_unit(value: Any, column: str, units: Mapping[str, str] | None = None) -> str:
    unit = (units or {}).get(column) or _unit(column)
    return f"{_text(value)} {html.escape(unit)}" if unit else _text(value)


def _site_popup(
    row: Mapping[str, Any],
    *,
    score: str,
    label: str,
    features: Sequence[str],
    lat: float,
    lon: float,
    top: int,
    units: Mapping[str, str] | None = None,
) -> str:
    """The popup of one site: score, top contributions, key features, permits, coordinates.

    ``units`` (column → units, as a run records in ``sites.attrs["units"]``) win over the
    units a column's name says.
    """
    parts = [f"<div class='siting-popup'><b>Site #{_text(row.get(label, ''))}</b>"]
    if "name" in row and not _is_missing(row["name"]):
        parts.append(f"<div class='siting-site-name'>{_text(row['name'])}</div>")
    rows = [_row("Score", _text(row.get(score)))]
    if "p_top_k" in row and not _is_missing(row["p_top_k"]):
        rows.append(_row("Chance of staying in the top", _text(row["p_top_k"])))
    parts.append(f"<table>{''.join(rows)}</table>")
    contributions = {
        k.removeprefix("contribution_"): float(v)
        for k, v in row.items()
        if str(k).startswith("contribution_") and not _is_missing(v)
    }
    if contributions:
        best = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))[:top]
        items = "".join(f"<li>{_text(_label(k))}: {_text(v)}</li>" for k, v in best)
        parts.append(f"<div><b>Top contributions</b><ol>{items}</ol></div>")
    shown = [f for f in features if f in row and not _is_missing(row[f])]
    if shown:
        rows = [_row(_text(_label(f)), _with_unit(row[f], f, units)) for f in shown]
        parts.append(f"<div><b>Key features</b><table>{''.join(rows)}</table></div>")
    if "cfe_reachable" in row and not _is_missing(row["cfe_reachable"]):
        overbuild = row.get("cfe_overbuild")
        reached = bool(row["cfe_reachable"]) and not _is_missing(overbuild)
        text = (
            f"{_text(overbuild)} MW of solar and wind per MW of load"
            if reached
            else "target out of reach"
        )
        parts.append(
            f"<div><b>24/7 clean energy</b><table>{_row('Plant needed', text)}</table></div>"
        )
    permits = [(c, t) for c, t in _PERMIT_COLUMNS if c in row and not _is_missing(row[c])]
    if permits:
        rows = [_row(t, _text(row[c])) for c, t in permits]
        low, high = row.get("permit_timeline_months_low"), row.get("permit_timeline_months_high")
        if low is not None and high is not None and not (_is_missing(low) or _is_missing(high)):
            rows.append(_row("Permit timeline", f"{_text(low)}-{_text(high)} months"))
        parts.append(f"<div><b>Permitting</b><table>{''.join(rows)}</table></div>")
    parts.append(f"<div>Lat {lat:.5f}, lon {lon:.5f}</div></div>")
    return "".join(parts)


def _field_popup(row: Mapping[str, Any], fields: Sequence[str], lat: float, lon: float) -> str:
    cells = "".join(_row(_text(f), _with_unit(row[f], f)) for f in fields if f in row)
    return (
        f"<div class='siting-popup'><table>{cells}</table>"
        f"<div>Lat {lat:.5f}, lon {lon:.5f}</div></div>"
    )


def _key_features(sites: gpd.GeoDataFrame, score: str, label: str) -> list[str]:
    criteria = sites.attrs.get("criteria")
    if criteria:
        return [str(c) for c in criteria if c in sites.columns]
    skip = {score, label, "lon", "lat", "x", "y", "row", "col", "cell_id", "p_top_k"}
    return [
        str(c)
        for c in sites.columns
        if c not in skip
        and c != sites.geometry.name
        and not str(c).startswith(("contribution_", "permit", "cfe_"))
        and _unit(str(c))
    ]


def _score_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    return low, high


def _text_colour(fill: str) -> str:
    r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"


def _feature_label(name: str, row: Mapping[str, Any]) -> str:
    """A short escaped description of one context feature (its tooltip)."""
    title = row.get("name")
    bits = [_text(title) if title is not None and not _is_missing(title) else _text(name)]
    for column in ("manager", "manager_name", "designation", "population", "code"):
        if column in row and not _is_missing(row[column]):
            bits.append(f"{_text(_label(column))}: {_text(row[column])}")
    volts = row.get("voltage_kv", row.get("max_kv"))
    if volts is not None and not _is_missing(volts):
        bits.append(f"{_text(volts)} kV")
    return "<br>".join(bits)


class _ContextLegend(NamedTuple):
    """One context layer's section of the legend, shown while the layer is on."""

    #: The element id of the section (its layer's toggle shows and hides it).
    id: str
    #: The heading it is listed under (one of ``LEGEND_GROUPS``, or another kind).
    group: str
    #: The layer's name in the layer control.
    layer: str
    #: (escaped label, colour) of each swatch.
    entries: list[tuple[str, str]]
    #: Whether the layer is on when the map opens.
    show: bool


def _context_layer(
    folium: Any, index: int, name: str, layer: gpd.GeoDataFrame
) -> tuple[Any, _ContextLegend | None]:
    """One context layer as a feature group, and its legend section (None: no swatches)."""
    shown = layer.to_crs("EPSG:4326")
    records = shown.drop(columns=shown.geometry.name).to_dict("records")
    css = "siting-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    legend: dict[str, str] = {}
    styles: list[dict[str, Any]] = []
    points = bool((shown.geom_type == "Point").all())
    # Styled by what the layer holds, whatever it is called: areas with a manager column
    # by manager, lines with a voltage column by voltage class.
    kinds = set(shown.geom_type)
    areas = bool(kinds) and kinds <= {"Polygon", "MultiPolygon"}
    lines = bool(kinds) and kinds <= {"LineString", "MultiLineString"}
    manager = _manager_column(shown) if areas else None
    voltage = _voltage_column(shown) if lines else None
    for row in records:
        if manager is not None:
            value = row.get(manager)
            key = "unknown" if value is None or _is_missing(value) else str(value)
            colour = _MANAGER_COLOURS.get(key.upper(), _OTHER_MANAGER)
            legend[key] = colour
            styles.append({"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.35})
        elif voltage is not None:
            label, colour, weight = _voltage_class(row.get(voltage))
            legend[label] = colour
            styles.append({"color": colour, "weight": weight, "opacity": 0.9})
        elif points:
            style = _POINT_STYLE.get(name, _OTHER_POINT)
            styles.append(
                {"color": style["color"], "fillColor": style["fillColor"], "weight": 1,
                 "fillOpacity": 0.9, "radius": style["radius"]}
            )  # fmt: skip
        else:
            styles.append({"color": "#555555", "weight": 1, "fillOpacity": 0.1})
    for style in styles:
        style["className"] = css
    frame = gpd.GeoDataFrame(
        {
            "label": [_feature_label(name, row) for row in records],
            "style": [json.dumps(s) for s in styles],
        },
        geometry=shown.geometry.values,
        crs="EPSG:4326",
    )
    title = name.replace("_", " ").capitalize()
    if manager is not None:
        title += " (by manager)"
    elif voltage is not None:
        title += " (by voltage)"
    group = folium.FeatureGroup(name=html.escape(title))
    kwargs: dict[str, Any] = {}
    if points:
        kwargs["marker"] = folium.CircleMarker(radius=4, fill=True)
    folium.GeoJson(
        frame.to_json(),
        name=html.escape(title),
        style_function=lambda feature: json.loads(feature["properties"]["style"]),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        **kwargs,
    ).add_to(group)
    if legend and manager is not None:
        heading = "Federal land"
        entries = [(html.escape(k), c) for k, c in sorted(legend.items())]
    elif legend:
        heading = "Transmission lines"
        order = [name for _, name, _, _ in _VOLTAGE_CLASSES] + [_UNKNOWN_VOLTAGE[0]]
        ranked = sorted(legend.items(), key=lambda kv: order.index(kv[0]))
        entries = [(html.escape(k), c) for k, c in ranked]
    elif points:
        heading = "Points"
        style = _POINT_STYLE.get(name, _OTHER_POINT)
        entries = [(html.escape(title), style["fillColor"])]
    else:
        return group, None
    section = _ContextLegend(
        id=f"siting-context-legend-{index}",
        group=heading,
        layer=title,
        entries=entries,
        show=bool(group.show),
    )
    group.add_child(_legend_toggle(section.id))
    return group, section


def _legend_toggle(section: str) -> Any:
    """Shows a legend section while its parent layer is on, and its heading while any is."""
    from branca.element import MacroElement
    from jinja2 import Template

    class LegendToggle(MacroElement):
        # Bound to the layer's own add/remove events, which the layer control's checkbox
        # fires, as does any script that adds or removes the layer.
        _template = Template(
            """
            {% macro script(this, kwargs) %}
            (function (layer) {
                var section = document.getElementById({{ this.section|tojson }});
                if (!section) { return; }
                var heading = section.parentNode;
                function toggle(on) {
                    section.style.display = on ? "block" : "none";
                    var all = heading.querySelectorAll(".siting-context-legend");
                    var any = Array.prototype.some.call(all, function (s) {
                        return s.style.display !== "none";
                    });
                    heading.style.display = any ? "block" : "none";
                }
                layer.on("add", function () { toggle(true); });
                layer.on("remove", function () { toggle(false); });
            })({{ this._parent.get_name() }});
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "LegendToggle"
            self.section = section

    return LegendToggle()


def _state_outlines(
    folium: Any,
    states: gpd.GeoDataFrame,
    sites_bounds: np.ndarray,
    region: gpd.GeoDataFrame | gpd.GeoSeries | None,
) -> Any:
    """State outlines near the map's extent, as the bottom layer of the basemap."""
    if states.crs is None:
        raise CRSError(
            "the state outlines have no CRS; read them with siting.datasets.read_us_atlas "
            "(EPSG:4326) or set one with .set_crs()"
        )
    shown = states.to_crs("EPSG:4326")
    left, bottom, right, top = sites_bounds
    if region is not None and region.crs is not None and not region.empty:
        r_left, r_bottom, r_right, r_top = region.to_crs("EPSG:4326").total_bounds
        left, bottom = min(left, r_left), min(bottom, r_bottom)
        right, top = max(right, r_right), max(top, r_top)
    # The states a viewer sees around the study area, a few degrees either way.
    margin = 3.0 + 0.5 * max(right - left, top - bottom)
    near = shown.cx[left - margin : right + margin, bottom - margin : top + margin]
    # Polygons only: a repaired outline can be a collection holding stray lines or points.
    near = near.explode(index_parts=False)
    near = near[near.geom_type.isin(["Polygon", "MultiPolygon"])]
    name = "name" if "name" in near.columns else None
    frame = gpd.GeoDataFrame(
        {"label": [_text(v) for v in near[name]] if name else [""] * len(near)},
        geometry=near.geometry.values,
        crs="EPSG:4326",
    )
    group = folium.FeatureGroup(name="State outlines")
    folium.GeoJson(
        frame.to_json(),
        style_function=lambda _: {
            "color": "#8c8c8c", "weight": 1, "fillColor": "#f4f3ee", "fillOpacity": 1.0,
            "className": "siting-states",
        },
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False) if name else None,
        pane=_BASEMAP_PANE,
    ).add_to(group)  # fmt: skip
    return group


def _overlay_legend(index: int, image: OverlayImage) -> str:
    """One overlay's legend: a colour bar (or swatches) drawn from the overlay's colormap.

    Shown only while the overlay is on (its layer toggles the ``display`` of this block).
    """
    parts = [
        f"<div id='siting-overlay-legend-{index}' class='siting-overlay-legend' "
        f"data-overlay='{html.escape(image.name, quote=True)}' style='margin-bottom:6px;"
        f"display:{'block' if image.show else 'none'}'>",
        f"<div><b>{html.escape(image.caption)}</b></div>",
    ]
    if image.colormap is not None:
        ramp = image.colormap
        low, high = float(ramp.vmin), float(ramp.vmax)
        # CSS interpolates linearly between stops, as branca does between its own
        stops = ", ".join(
            f"{ramp.rgba_hex_str(v)} {100 * (v - low) / (high - low):.4f}%" for v in ramp.index
        )
        ticks = "".join(f"<span>{_text(low + (high - low) * i / 2)}</span>" for i in range(3))
        parts += [
            f"<div class='siting-overlay-bar' style='height:10px;width:200px;"
            f"opacity:{image.opacity};background:linear-gradient(to right, {stops})'></div>",
            f"<div style='display:flex;justify-content:space-between;width:200px'>{ticks}</div>",
        ]
    else:
        for value, colour in image.categories.items():
            name = _text(int(value)) if float(value).is_integer() else _text(value)
            parts.append(
                f"<div class='siting-overlay-category'><span style='display:inline-block;"
                f"width:10px;height:10px;background:{colour};opacity:{image.opacity};"
                f"border:1px solid #555;margin-right:4px;vertical-align:middle'></span>"
                f"{name}</div>"
            )
    if image.resampling != "nearest":
        parts.append(
            f"<div style='color:#555'>{image.shape[1]} x {image.shape[0]} px, "
            f"{html.escape(image.resampling)} of cells</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _legend_html(
    colormap: Any,
    low: float,
    high: float,
    caption: str,
    sections: Sequence[_ContextLegend],
    overlays: Sequence[OverlayImage] = (),
    badges: int | None = None,
) -> str:
    """The legend box: overlay colour bars, the score ramp and the context categories.

    Each context layer has its own section, under its kind's heading, shown only while the
    layer is on; a heading shows while any of its sections does.
    """
    stops = ", ".join(colormap(low + (high - low) * i / 10) for i in range(11))
    ticks = "".join(
        f"<span>{_text(low + (high - low) * i / 4)}</span>" for i in range(5)
    )  # fmt: skip
    parts = [
        "<div id='siting-legend' class='siting-legend' style='position:absolute;z-index:1000;"
        "bottom:24px;right:10px;background:rgba(255,255,255,0.92);padding:6px 8px;"
        "border-radius:4px;font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3);"
        "max-width:240px;max-height:calc(100% - 120px);overflow-y:auto'>",
        *(_overlay_legend(i, image) for i, image in enumerate(overlays)),
        f"<div><b>{html.escape(caption)}</b></div>",
        f"<div style='height:12px;width:200px;background:linear-gradient(to right, {stops})'>"
        "</div>",
        f"<div style='display:flex;justify-content:space-between;width:200px'>{ticks}</div>",
        "<div>Markers: rank; size and colour by score"
        + (f"; after the best {badges:,}, dots" if badges is not None else "")
        + "</div>",
    ]
    groups = _LEGEND_GROUPS + sorted({s.group for s in sections} - set(_LEGEND_GROUPS))
    for group in groups:
        members = [s for s in sections if s.group == group]
        if not members:
            continue
        shown = any(s.show for s in members)
        parts += [
            f"<div class='siting-context-group' data-group='{html.escape(group, quote=True)}' "
            f"style='display:{'block' if shown else 'none'}'>",
            f"<div style='margin-top:4px'><b>{html.escape(group)}</b></div>",
        ]
        for section in members:
            parts.append(
                f"<div id='{section.id}' class='siting-context-legend' "
                f"data-layer='{html.escape(section.layer, quote=True)}' "
                f"style='display:{'block' if section.show else 'none'}'>"
            )
            parts += [
                f"<div><span style='display:inline-block;width:10px;height:10px;"
                f"background:{colour};border:1px solid #555;margin-right:4px;"
                f"vertical-align:middle'></span>{label}</div>"
                for label, colour in section.entries
            ]
            parts.append("</div>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def _script_json(value: Any) -> str:
    """JSON to place inside a ``<script>``: only what could end or hide the script is escaped.

    (Jinja's ``tojson`` escapes every ``<``, ``>``, ``&`` and ``'``, which doubles the size of
    the popups' HTML; inside a script only ``</`` and ``<!--`` matter.)
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("</", "<\\/").replace("<!", "\\u003c!")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _site_markers(folium: Any) -> Any:
    """A folium element that draws every site from one JSON array with Leaflet alone."""
    from branca.element import MacroElement
    from jinja2 import Template

    class SiteMarkers(MacroElement):
        _template = Template(
            """
            {% macro script(this, kwargs) %}
            (function () {
                var sites = {{ this.sites_json }};
                var group = {{ this._parent.get_name() }};
                // one canvas for every dot: thousands of sites stay quick to draw
                var canvas = L.canvas({padding: 0.5});
                sites.forEach(function (s) {
                    var marker;
                    if (s.icon) {
                        var icon = L.divIcon({
                            html: s.icon, className: "siting-site-icon",
                            iconSize: [s.size, s.size], iconAnchor: [s.size / 2, s.size / 2]
                        });
                        marker = L.marker([s.lat, s.lon], {icon: icon, title: s.title,
                                                           zIndexOffset: s.z});
                    } else {
                        marker = L.circleMarker([s.lat, s.lon], {
                            renderer: canvas, radius: s.r, color: "#222222", weight: 1,
                            fillColor: s.fill, fillOpacity: 0.9
                        });
                    }
                    marker.bindPopup(s.popup, {maxWidth: 420}).bindTooltip(s.tooltip)
                        .addTo(group);
                });
            })();
            {% endmacro %}
            """
        )

        def __init__(self, sites: list[dict[str, Any]]) -> None:
            super().__init__()
            self._name = "SiteMarkers"
            self.sites_json = _script_json(sites)

    return SiteMarkers


def _raster_layer(folium: Any, index: int, image: OverlayImage) -> Any:
    """An overlay's image as a toggleable layer that shows its legend block while on."""
    from jinja2 import Template

    class RasterOverlay(folium.map.Layer):
        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.imageOverlay(
                {{ this.url|tojson }}, {{ this.bounds|tojson }}, {{ this.options|tojson }}
            );
            (function (layer) {
                var legend = document.getElementById({{ this.legend|tojson }});
                if (!legend) { return; }
                layer.on("add", function () { legend.style.display = "block"; });
                layer.on("remove", function () { legend.style.display = "none"; });
            })({{ this.get_name() }});
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__(name=html.escape(image.label), overlay=True, show=image.show)
            self._name = "RasterOverlay"
            self.url = image.data_uri
            self.bounds = [list(image.bounds[0]), list(image.bounds[1])]
            self.legend = f"siting-overlay-legend-{index}"
            self.options = {
                "opacity": image.opacity,
                "interactive": False,
                "pane": _RASTER_PANE,
                "className": f"siting-overlay siting-overlay-{index}",
                "alt": image.label,
            }

    return RasterOverlay()


def site_map(
    sites: gpd.GeoDataFrame,
    *,
    context: Mapping[str, gpd.GeoDataFrame] | None = None,
    score: str = "score",
    label: str = "rank",
    popup_fields: Sequence[str] | None = None,
    title: str = "Ranked sites",
    online_tiles: bool = False,
    top_contributions: int = 3,
    region: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    overlays: Mapping[str, Overlay | xr.DataArray] | None = None,
    max_overlay_px: int = MAX_OVERLAY_PX,
    controls: bool = True,
    max_badges: int = MAX_BADGES,
    states: gpd.GeoDataFrame | None = None,
) -> Any:
    """A folium map of ranked sites, labelled by rank and coloured by score, over context.

    Offline by default: there is no tile layer, and the context layers (federal land by
    manager, transmission lines by voltage, substations, towns, ...) are drawn as vector
    GeoJSON on a plain background. The map uses Leaflet and nothing else, so
    :func:`save_map` can write it as one self-contained file.

    Parameters
    ----------
    sites
        Ranked sites with a CRS, ``rank`` and ``score`` columns.
    context
        Named vector layers drawn underneath (each its own toggle in the layer control).
    score, label
        The columns that colour and size the markers, and label them.
    popup_fields
        Columns shown in each site's popup. By default the popup shows the score, the
        largest contributions (``contribution_*`` columns), the key features with units
        (``sites.attrs["criteria"]`` when set), the permitting summary
        (``permits_triggered``, ``permit_nepa_level``, ...) and the coordinates.
    title
        Shown at the top of the map (escaped).
    online_tiles
        Add an OpenStreetMap tile layer (needs the network when the map is viewed).
    top_contributions
        How many contributions the popup lists.
    region
        The region's outline, drawn first as the offline basemap (white land on grey).
    states
        State (or any other) outlines drawn beneath everything as the offline basemap, for
        example :func:`siting.datasets.read_us_atlas` of the cached ``us_atlas`` source.
        Only the features near the map's extent are kept, so the file stays small.
    overlays
        Named rasters drawn as images under the vector layers, each a toggle in the layer
        control with its own colour bar in the legend: ``{"score": result.raster("score"),
        "ghi_kwh_m2_day": result.stack["ghi_kwh_m2_day"]}``, or
        :func:`~siting.maps.result_overlays` for a run's default set. A value is a
        georeferenced DataArray or an :class:`~siting.maps.Overlay` with drawing options.
        Only ``score`` is on when the map opens. NaN cells are transparent.
    max_overlay_px
        The longest side of an overlay image; larger rasters are averaged down
        (categorical ones take the most common value).
    controls
        Add the full-screen button and the distance measure.
    max_badges
        How many sites, best ranks first, are drawn as rank badges (one HTML element each);
        the others are small dots on one canvas, with the same colours, popups and tooltips,
        so maps of many thousand sites stay quick to open.

    Returns
    -------
    folium.Map

    Raises
    ------
    CRSError
        ``sites`` or an overlay has no CRS.
    InvalidLayerError
        An overlay's kind is unknown, or a categorical overlay has too many categories.
    """
    folium = _folium()
    if sites.crs is None:
        from siting.errors import CRSError

        raise CRSError("sites have no CRS; set it with .set_crs(...) before mapping")
    import branca.colormap as cm

    wgs = sites.to_crs("EPSG:4326")
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    # Leaflet is the only library the map needs; no jQuery, Bootstrap or icon fonts.
    fmap.default_js = [(n, u) for n, u in fmap.default_js if n == "leaflet"]
    fmap.default_css = [(n, u) for n, u in fmap.default_css if n == "leaflet_css"]
    fmap.get_root().header.add_child(
        folium.Element(
            "<style>.leaflet-container{background:" + _BACKGROUND + " !important}"
            ".siting-site-icon{background:none;border:none}"
            ".siting-site{display:flex;align-items:center;justify-content:center;"
            "border-radius:50%;border:1px solid #222;font:bold 11px sans-serif;"
            "box-sizing:border-box;width:100%;height:100%}"
            ".siting-popup table{font-size:12px}"
            ".siting-popup th{text-align:left;padding-right:8px}.siting-popup ol{margin:0}"
            ".siting-overlay{image-rendering:pixelated}"
            + (CONTROLS_CSS if controls else "")
            + "</style>"
        ),
        name="siting_css",
    )
    if online_tiles:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap (online)").add_to(fmap)
    fmap.get_root().html.add_child(
        folium.Element(
            "<h3 class='siting-title' style='position:absolute;z-index:1000;left:60px;top:0;"
            f"margin:8px;font-family:sans-serif'>{_text(title)}</h3>"
        )
    )
    sections: list[_ContextLegend] = []
    bounds = [wgs.total_bounds]
    images = render_overlays(overlays or {}, max_px=max_overlay_px)
    # Panes: the region's outline under the rasters, the rasters under the vector layers.
    folium.map.CustomPane(_BASEMAP_PANE, z_index=250).add_to(fmap)
    folium.map.CustomPane(_RASTER_PANE, z_index=350).add_to(fmap)
    if states is not None:
        _state_outlines(folium, states, wgs.total_bounds, region).add_to(fmap)
    if region is not None and region.crs is not None and not region.empty:
        outline = gpd.GeoDataFrame(geometry=region.to_crs("EPSG:4326").geometry.values)
        outline = outline.set_crs("EPSG:4326")
        basemap = folium.FeatureGroup(name="Region outline")
        folium.GeoJson(
            outline.to_json(),
            style_function=lambda _: {
                "color": "#333333", "weight": 2, "fillColor": "#ffffff", "fillOpacity": 0.8,
                "className": "siting-region",
            },
            pane=_BASEMAP_PANE,
        ).add_to(basemap)  # fmt: skip
        basemap.add_to(fmap)
        bounds.append(outline.total_bounds)
    for index, image in enumerate(images):
        _raster_layer(folium, index, image).add_to(fmap)
    for index, (name, layer) in enumerate((context or {}).items()):
        if layer.crs is None or layer.empty:
            continue
        group, section = _context_layer(folium, index, name, layer)
        group.add_to(fmap)
        if section is not None:
            sections.append(section)
        bounds.append(layer.to_crs("EPSG:4326").total_bounds)

    values = pd.to_numeric(wgs[score], errors="coerce").to_numpy(float) if score in wgs else None
    values = values if values is not None else np.full(len(wgs), np.nan)
    low, high = _score_range(values)
    caption = f"Site {score} ({_text(low)} to {_text(high)})"
    colours = cm.LinearColormap(_SCORE_COLOURS, vmin=low, vmax=high, caption=caption)
    features = _key_features(wgs, score, label)
    fields = list(popup_fields) if popup_fields is not None else None
    records = wgs.drop(columns=wgs.geometry.name).to_dict("records")
    ranks = pd.to_numeric(wgs[label], errors="coerce") if label in wgs else None
    order = np.argsort(ranks.to_numpy(float), kind="stable") if ranks is not None else None
    # the best max_badges sites (by rank, else in table order) get badges; the rest dots
    badged = np.zeros(len(wgs), dtype=bool)
    badged[order[:max_badges] if order is not None else slice(0, max_badges)] = True
    units = {str(k): str(v) for k, v in sites.attrs.get("units", {}).items()}
    markers = []
    for geom, row, value, badge in zip(wgs.geometry, records, values, badged, strict=True):
        finite = bool(np.isfinite(value))
        fill = colours(value)[:7] if finite else "#999999"
        share = (value - low) / (high - low) if finite else 0.0
        size = round(20 + 12 * share)
        rank = _text(row.get(label, ""))
        popup = (
            _site_popup(
                row,
                score=score,
                label=label,
                features=features,
                lat=geom.y,
                lon=geom.x,
                top=top_contributions,
                units=units,
            )
            if fields is None
            else _field_popup(row, fields, geom.y, geom.x)
        )
        name = row.get("name")
        named = f" {_text(name)}" if name is not None and not _is_missing(name) else ""
        marker: dict[str, Any] = {"lat": float(geom.y), "lon": float(geom.x)}
        if badge:
            marker |= {
                "size": size,
                "z": size * 10,
                "icon": (
                    f"<div class='siting-site' style='background:{fill};"
                    f"color:{_text_colour(fill)}'>{rank}</div>"
                ),
                "title": html.unescape(f"#{rank}"),
            }
        else:
            marker |= {"r": round(size / 5, 1), "fill": fill}
        marker |= {"tooltip": f"#{rank}{named} score {_text(value)}", "popup": popup}
        markers.append(marker)
    group = folium.FeatureGroup(name="Ranked sites")
    group.add_child(_site_markers(folium)(markers))
    group.add_to(fmap)
    fmap.get_root().html.add_child(
        folium.Element(
            _legend_html(
                colours,
                low,
                high,
                caption,
                sections,
                images,
                badges=max_badges if not badged.all() else None,
            )
        ),
        name="siting_legend",
    )
    if controls:
        fmap.add_child(map_controls(), name="siting_controls")
    folium.LayerControl(collapsed=False).add_to(fmap)
    west = min(b[0] for b in bounds)
    south = min(b[1] for b in bounds)
    east = max(b[2] for b in bounds)
    north = max(b[3] for b in bounds)
    if all(np.isfinite([west, south, east, north])):
        fmap.fit_bounds([[south, west], [north, east]])
    return fmap


# --- offline assets ---------------------------------------------------------------------

_LINK = re.compile(
    r"<script src=\"(?P<js>[^\"]+)\"></script>"
    r"|<link rel=\"stylesheet\" href=\"(?P<css>[^\"]+)\"\s*/?>"
)
_REMOTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _leaflet_dir() -> Path:
    try:
        from xstatic.pkg import leaflet
    except ImportError:
        raise missing_dependency("xstatic-leaflet", "maps", "A self-contained map") from None
    return Path(leaflet.BASE_DIR)


@cache
def _leaflet_js() -> str:
    code = (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    code = re.sub(r"//# sourceMappingURL=\S+", "", code)
    # The attribution prefix links leafletjs.com; an offline map keeps the name, not the link.
    code = code.replace('<a href="https://leafletjs.com" ', "<a ")
    return code.replace("</script", "<\\/script")


@cache
def _leaflet_css() -> str:
    folder = _leaflet_dir()
    css = (folder / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        name = match.group(1).strip("'\"")
        image = folder / name
        if not image.is_file():
            return "none"
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{encoded})"

    return re.sub(r"url\(([^)]+\.png)\)", data_uri, css).replace("</style", "<\\/style")


def _inline_assets(page: str) -> str:
    """Replace Leaflet's CDN links with the files from xstatic-leaflet; refuse any other."""

    def inline(match: re.Match[str]) -> str:
        url = match["js"] or match["css"]
        name = url.split("?")[0].rsplit("/", 1)[-1]
        if match["js"] and name == "leaflet.js":
            return f"<script>{_leaflet_js()}</script>"
        if match["css"] and name == "leaflet.css":
            return f"<style>{_leaflet_css()}</style>"
        raise OutputError(
            f"the map links {url!r}, which cannot be inlined for an offline map (only Leaflet "
            "can); remove the plugin that needs it, or save with self_contained=False"
        )

    head, sep, rest = page.partition("<body>")
    return _LINK.sub(inline, head) + sep + _LINK.sub(inline, rest)


def _remote_links(page: str) -> list[str]:
    """Remote ``src``/``href`` attributes outside inlined scripts and styles."""
    outside = re.sub(r"<(script|style)>.*?</\1>", "", page, flags=re.DOTALL)
    return [m.group(0) for m in _REMOTE.finditer(outside)]


def save_map(fmap: Any, path: PathLike, *, self_contained: bool = True) -> Path:
    """Save a folium map as one HTML file, atomically.

    Parameters
    ----------
    fmap
        A map from :func:`site_map` (or any folium map that needs only Leaflet).
    path
        The HTML file to write.
    self_contained
        Inline Leaflet's script and stylesheet (images as data URIs) from the
        ``xstatic-leaflet`` package, so the file renders with no network. With ``False``
        the file links Leaflet from its CDN.

    Raises
    ------
    OutputError
        ``self_contained`` is set and the map links a script or stylesheet other than
        Leaflet, or a remote image.
    """
    path = Path(path)
    page = fmap.get_root().render()
    if self_contained:
        page = _inline_assets(page)
        remote = _remote_links(page)
        if remote:
            raise OutputError(
                f"the map still references remote files ({remote[:3]}); an offline map "
                "cannot load them: remove them, or save with self_contained=False"
            )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
