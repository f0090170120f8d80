"""Maps of results: interactive (folium) for now; static maps and offline assets grow here.

folium is an optional dependency (``pip install 'siting[maps]'``), imported only when a map
is made.
"""

from __future__ import annotations

from siting.maps.interactive import save_map, site_map

__all__ = ["save_map", "site_map"]
