"""Map controls written with Leaflet alone: full screen and a distance measure.

folium's plugins for these load their scripts from CDNs, which an offline map cannot do, and
no package on PyPI ships those plugins' files; these two controls are small enough to write
against Leaflet's own API and inline with the map.

- **Full screen** puts the whole page (map, title and legend) in full screen with the
  browser's Fullscreen API; the button is hidden where the API is not available.
- **Measure** draws a path with one click per point and shows its length along great
  circles (Leaflet's ``map.distance``, the haversine formula on a 6,371 km sphere), in km
  and miles. Clicking the button again ends the measure and clears the path.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTROLS_CSS", "map_controls"]

CONTROLS_CSS = (
    ".siting-control a{display:flex !important;align-items:center;justify-content:center;"
    "cursor:pointer}"
    ".siting-measure.siting-active a{background:#ffe082}"
    ".siting-measure-result{display:none;background:#fff;padding:3px 6px;"
    "font:12px sans-serif;white-space:nowrap;border-top:1px solid #ccc}"
    ".siting-measure.siting-active .siting-measure-result{display:block}"
    ".siting-measuring{cursor:crosshair !important}"
)

_SCRIPT = """
{% macro script(this, kwargs) %}
(function () {
    var map = {{ this._parent.get_name() }};
    function button(bar, title, icon) {
        var a = L.DomUtil.create("a", "", bar);
        a.href = "#";
        a.title = title;
        a.setAttribute("role", "button");
        a.setAttribute("aria-label", title);
        // icons are drawn inline: an offline machine may lack fonts with these symbols
        a.innerHTML = '<svg width="16" height="16" viewBox="0 0 16 16" fill="none" '
            + 'stroke="#333" stroke-width="2" aria-hidden="true">' + icon + "</svg>";
        return a;
    }
    var root = document.documentElement;
    var canFull = !!(root.requestFullscreen || root.webkitRequestFullscreen);
    var Fullscreen = L.Control.extend({
        options: {position: "topleft"},
        onAdd: function () {
            var bar = L.DomUtil.create("div", "leaflet-bar siting-control siting-fullscreen");
            var a = button(bar, "Full screen",
                '<path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5"/>');
            if (!canFull) { bar.style.display = "none"; }
            L.DomEvent.disableClickPropagation(bar);
            L.DomEvent.on(a, "click", function (e) {
                L.DomEvent.preventDefault(e);
                var full = document.fullscreenElement || document.webkitFullscreenElement;
                if (full) {
                    (document.exitFullscreen || document.webkitExitFullscreen).call(document);
                } else {
                    (root.requestFullscreen || root.webkitRequestFullscreen).call(root);
                }
            });
            function changed() {
                var on = !!(document.fullscreenElement || document.webkitFullscreenElement);
                a.title = on ? "Exit full screen" : "Full screen";
                a.setAttribute("aria-label", a.title);
                L.DomUtil[on ? "addClass" : "removeClass"](bar, "siting-active");
                map.invalidateSize();
            }
            document.addEventListener("fullscreenchange", changed);
            document.addEventListener("webkitfullscreenchange", changed);
            return bar;
        }
    });
    var Measure = L.Control.extend({
        options: {position: "topleft"},
        onAdd: function () {
            var bar = L.DomUtil.create("div", "leaflet-bar siting-control siting-measure");
            var a = button(bar, "Measure distance",
                '<path d="M1 11L11 1l4 4L5 15z"/><path d="M4 8l2 2M6 6l2 2M8 4l2 2" '
                + 'stroke-width="1.2"/>');
            var out = L.DomUtil.create("div", "siting-measure-result", bar);
            var path = L.layerGroup();
            var points = [];
            var active = false;
            L.DomEvent.disableClickPropagation(bar);
            function show() {
                var metres = 0;
                for (var i = 1; i < points.length; i++) {
                    metres += map.distance(points[i - 1], points[i]);
                }
                out.setAttribute("data-metres", metres.toFixed(3));
                out.setAttribute("data-points", points.length);
                out.textContent = points.length < 2
                    ? "Click the map to add points"
                    : (metres / 1000).toFixed(metres < 10000 ? 3 : 2) + " km ("
                      + (metres / 1609.344).toFixed(metres < 16093 ? 3 : 2) + " mi)";
            }
            function add(e) {
                points.push(e.latlng);
                L.circleMarker(e.latlng, {radius: 3, color: "#000", weight: 1,
                                          fillColor: "#ffeb3b", fillOpacity: 1,
                                          interactive: false}).addTo(path);
                if (points.length > 1) {
                    L.polyline(points.slice(-2), {color: "#000", weight: 2, dashArray: "4 4",
                                                  interactive: false}).addTo(path);
                }
                show();
            }
            function stop() {
                active = false;
                points = [];
                path.clearLayers();
                path.remove();
                map.off("click", add);
                map.doubleClickZoom.enable();
                L.DomUtil.removeClass(bar, "siting-active");
                L.DomUtil.removeClass(map.getContainer(), "siting-measuring");
                a.title = "Measure distance";
            }
            L.DomEvent.on(a, "click", function (e) {
                L.DomEvent.preventDefault(e);
                if (active) { stop(); return; }
                active = true;
                path.addTo(map);
                map.on("click", add);
                map.doubleClickZoom.disable();
                L.DomUtil.addClass(bar, "siting-active");
                L.DomUtil.addClass(map.getContainer(), "siting-measuring");
                a.title = "Stop measuring";
                show();
            });
            return bar;
        }
    });
    new Fullscreen().addTo(map);
    new Measure().addTo(map);
})();
{% endmacro %}
"""


def map_controls() -> Any:
    """A folium element that adds the full-screen and measure controls to its map."""
    from branca.element import MacroElement
    from jinja2 import Template

    class MapControls(MacroElement):
        _template = Template(_SCRIPT)

        def __init__(self) -> None:
            super().__init__()
            self._name = "MapControls"

    return MapControls()
