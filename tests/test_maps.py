"""The interactive map: one marker per site, data escaped, context layers, offline file."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Polygon

from siting.errors import CRSError, OutputError
from siting.maps import save_map, site_map

folium = pytest.importorskip(
    "folium", reason="the maps extra is not installed: pip install 'siting[maps]'"
)

EVIL = "<script>alert(1)</script>"


def _sites() -> gpd.GeoDataFrame:
    sites = gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "score": [0.9, 0.4],
            "name": [EVIL, "Plain & simple"],
            "ghi_kwh_m2_day": [5.9, 5.1],
            "distance_to_substation_km": [0.2, 6.7],
            "contribution_ghi_kwh_m2_day": [0.15, 0.05],
            "contribution_distance_to_substation_km": [0.25, 0.01],
            "contribution_slope_pct": [0.08, 0.02],
            "contribution_people_within_2ms": [0.01, 0.2],
            "permits_triggered": [2, 3],
            "permit_nepa_level": ["none", EVIL],
        },
        geometry=gpd.points_from_xy([-1_800_000, -1_790_000], [2_000_000, 2_005_000]),
        crs="EPSG:5070",
    )
    sites.attrs["criteria"] = ["ghi_kwh_m2_day", "distance_to_substation_km"]
    return sites


def _context() -> dict[str, gpd.GeoDataFrame]:
    lines = gpd.GeoDataFrame(
        {"name": [EVIL, "B"], "voltage_kv": [500.0, 69.0]},
        geometry=[
            LineString([(-1_801_000, 1_999_000), (-1_780_000, 2_010_000)]),
            LineString([(-1_801_000, 2_001_000), (-1_780_000, 2_012_000)]),
        ],
        crs=5070,
    )
    land = gpd.GeoDataFrame(
        {"name": ["Range"], "manager": ["BLM"]},
        geometry=[
            Polygon([(-1_805_000, 1_995_000), (-1_795_000, 1_995_000), (-1_795_000, 2_003_000)])
        ],
        crs=5070,
    )
    towns = gpd.GeoDataFrame(
        {"name": ["Town"], "population": [1200]},
        geometry=gpd.points_from_xy([-1_785_000], [2_001_000]),
        crs=5070,
    )
    return {"transmission_lines": lines, "federal_land": land, "towns": towns}


class _Links(HTMLParser):
    """Every src/href attribute of the page's elements (script and style text is data)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in {"src", "href"}]


def _links(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _markers(page: str) -> list[dict]:
    data = re.search(r"var sites = (\[.*?\]);\n", page)
    assert data is not None
    return json.loads(data.group(1))


def test_site_map__escapes_text_from_data(tmp_path):
    path = save_map(site_map(_sites(), context=_context(), title=EVIL), tmp_path / "m.html")
    page = path.read_text()
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title, in the page body
    assert "Plain &amp;amp; simple" not in page  # escaped once, not twice
    # popups and tooltips sit in a JSON array; their HTML is escaped there too
    markers = _markers(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markers[0]["popup"]
    assert "&lt;script&gt;" in markers[1]["popup"]  # the NEPA level of site 2
    assert "Plain &amp; simple" in markers[1]["tooltip"]
    assert all("<script" not in m["popup"] + m["tooltip"] for m in markers)
    assert "script" not in [t for t in _links(page).tags if t != "script"]


def test_site_map__one_marker_per_site_labelled_by_rank_with_legend(tmp_path):
    page = save_map(site_map(_sites()), tmp_path / "m.html").read_text()
    markers = _markers(page)
    assert len(markers) == 2
    assert [m["title"] for m in markers] == ["#1", "#2"]
    assert ">1</div>" in markers[0]["icon"]
    assert markers[0]["size"] > markers[1]["size"]  # sized by score
    assert "L.control.layers" in page
    assert "siting-legend" in page
    assert "Site score" in page


def test_site_map__popup_has_score_contributions_units_permits_coordinates():
    fmap = site_map(_sites())
    popup = _markers(fmap.get_root().render())[0]["popup"]
    assert "Top contributions" in popup
    # the three largest contributions of site 1, in order; people (0.01) is left out
    assert popup.index("distance to substation") < popup.index("ghi") < popup.index("slope")
    assert "people within 2ms" not in popup.split("Key features")[0]
    assert "kWh/m²/day" in popup
    assert "km" in popup
    assert "Permits triggered" in popup
    assert "NEPA level" in popup
    assert "Lat 3" in popup
    assert "lon -1" in popup


def test_site_map__context_by_manager_and_voltage_in_the_layer_control():
    page = site_map(_sites(), context=_context()).get_root().render()
    for name in ["Federal land (by manager)", "Transmission lines (by voltage)", "Towns"]:
        assert name in page
    assert "500 kV and above" in page
    assert "under 115 kV" in page
    assert "siting-transmission-lines" in page
    assert "siting-federal-land" in page


def test_save_map__self_contained_by_default_has_no_remote_links(tmp_path):
    page = save_map(site_map(_sites(), context=_context()), tmp_path / "m.html").read_text()
    remote = [u for u in _links(page).links if re.match(r"(https?:)?//", u.strip())]
    assert remote == []
    assert not re.search(r"""(src|href)\s*=\s*\\?["']?(https?:)?//""", page)
    assert "tile.openstreetmap.org" not in page  # offline: no tile layer by default
    assert "L.map(" in page
    assert "var L" not in page[:200]
    assert "leaflet" in page.lower()
    assert "jquery" not in page.lower()
    assert "data:image/png;base64," in page  # Leaflet's CSS images are inlined


def test_site_map__region_outline_is_the_offline_basemap():
    region = gpd.GeoSeries(
        [Polygon([(-1_850_000, 1_950_000), (-1_750_000, 1_950_000), (-1_750_000, 2_050_000)])],
        crs=5070,
    )
    page = site_map(_sites(), region=region).get_root().render()
    assert "Region outline" in page
    assert "siting-region" in page
    numbers = re.findall(r"-?\d+\.\d+", page.split("fitBounds", 1)[1][:200])
    south, west, north, east = map(float, numbers[:4])
    r_west, r_south, r_east, r_north = region.to_crs(4326).total_bounds
    assert (south, west, north, east) == pytest.approx((r_south, r_west, r_north, r_east))


def test_save_map__online_tiles_is_an_option(tmp_path):
    fmap = site_map(_sites(), online_tiles=True)
    page = save_map(fmap, tmp_path / "m.html").read_text()
    assert "tile.openstreetmap.org" in page
    linked = save_map(fmap, tmp_path / "cdn.html", self_contained=False).read_text()
    assert any(u.endswith("leaflet.js") for u in _links(linked).links)


def test_save_map__refuses_assets_it_cannot_inline(tmp_path):
    fmap = folium.Map(tiles=None)  # folium's defaults: jQuery, Bootstrap, ...
    with pytest.raises(OutputError, match="self_contained=False"):
        save_map(fmap, tmp_path / "m.html")
    assert not (tmp_path / "m.html").exists()


def test_site_map__needs_a_crs():
    sites = _sites().set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="set_crs"):
        site_map(sites)
