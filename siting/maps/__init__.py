"""Maps of results: interactive (folium / Leaflet) and static (matplotlib, PNG and PDF).

folium and matplotlib are optional dependencies (``pip install 'siting[maps]'``), imported
only when a map is made.
"""

from __future__ import annotations

from siting.maps.interactive import save_map, site_map
from siting.maps.overlays import Overlay, result_overlays
from siting.maps.static import data_attributions, save_static_map, static_map, static_map_of

__all__ = [
    "Overlay",
    "data_attributions",
    "result_overlays",
    "save_map",
    "save_static_map",
    "site_map",
    "static_map",
    "static_map_of",
]
