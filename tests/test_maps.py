"""The interactive map: one marker per site, data escaped, context layers."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from siting.errors import CRSError
from siting.maps import save_map, site_map

pytest.importorskip("folium", reason="the maps extra is not installed: pip install 'siting[maps]'")

EVIL = "<script>alert(1)</script>"


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"rank": [1, 2], "score": [0.9, 0.4], "name": [EVIL, "Plain & simple"]},
        geometry=gpd.points_from_xy([-1_800_000, -1_790_000], [2_000_000, 2_005_000]),
        crs="EPSG:5070",
    )


def test_site_map__escapes_text_from_data(tmp_path):
    lines = gpd.GeoDataFrame(
        {"name": [EVIL]},
        geometry=[LineString([(-1_801_000, 1_999_000), (-1_780_000, 2_010_000)])],
        crs=5070,
    )
    path = save_map(
        site_map(_sites(), context={"transmission_lines": lines}, title=EVIL), tmp_path / "m.html"
    )
    html = path.read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Plain &amp; simple" in html


def test_site_map__one_marker_per_site_and_layer_control(tmp_path):
    html = save_map(site_map(_sites()), tmp_path / "m.html").read_text()
    assert html.count("L.circleMarker(") == 2
    assert "L.control.layers" in html
    assert "Site score (0-1)" in html  # the legend


def test_site_map__needs_a_crs():
    sites = _sites().set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="set_crs"):
        site_map(sites)
