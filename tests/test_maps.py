"""The interactive map: one marker per site, data escaped, context layers, offline file."""

from __future__ import annotations

import json
import re
import struct
import zlib
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from pyproj import Transformer
from shapely.geometry import LineString, Polygon

from siting.errors import CRSError, InvalidLayerError, OutputError
from siting.maps import save_map, site_map
from siting.maps.overlays import (
    Overlay,
    OverlayImage,
    render_overlay,
    rgba_bytes,
    to_web_mercator,
)
from siting.testing import coordinate_image, small_grid

folium = pytest.importorskip(
    "folium", reason="the maps extra is not installed: pip install 'siting[maps]'"
)
colormaps = pytest.importorskip("branca.colormap")

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


def test_site_map__context_styled_by_its_columns_whatever_its_name():
    context = _context()
    renamed = {
        "Lines 2024": context["transmission_lines"],
        "land (PAD-US)": context["federal_land"],
    }
    page = site_map(_sites(), context=renamed).get_root().render()
    assert "Lines 2024 (by voltage)" in page
    assert "Land (pad-us) (by manager)" in page
    assert "500 kV and above" in page


class _LegendSections(HTMLParser):
    """Each context legend section: its layer, whether it shows at first, its swatch labels."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict] = []
        self.groups: dict[str, str] = {}  # heading → its style
        self._depth = 0  # nesting inside the current section (0: outside)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if "siting-context-group" in classes:
            self.groups[attrs["data-group"]] = attrs["style"]
        if self._depth:
            self._depth += tag == "div"
        elif "siting-context-legend" in classes:
            self.sections.append(
                {"id": attrs["id"], "layer": attrs["data-layer"], "style": attrs["style"],
                 "group": list(self.groups)[-1], "labels": []}
            )  # fmt: skip
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth and tag == "div":
            self._depth -= 1

    def handle_data(self, data):
        if self._depth and data.strip():
            self.sections[-1]["labels"].append(data.strip())


def _legend_sections(page: str) -> _LegendSections:
    parser = _LegendSections()
    parser.feed(page)
    return parser


def test_site_map__each_context_layer_has_a_legend_section_named_by_its_layer():
    context = _context()
    context["more_land"] = context["federal_land"].assign(manager=["USFS"])
    page = site_map(_sites(), context=context).get_root().render()
    legend = _legend_sections(page)
    assert [(s["group"], s["layer"], s["labels"]) for s in legend.sections] == [
        ("Federal land", "Federal land (by manager)", ["BLM"]),
        ("Federal land", "More land (by manager)", ["USFS"]),
        ("Transmission lines", "Transmission lines (by voltage)",
         ["500 kV and above", "under 115 kV"]),
        ("Points", "Towns", ["Towns"]),
    ]  # fmt: skip
    # every layer is on when the map opens, so is every section and heading
    assert all(s["style"] == "display:block" for s in legend.sections)
    assert set(legend.groups.values()) == {"display:block"}
    # each section is bound to its layer's add/remove events
    for section in legend.sections:
        assert f'document.getElementById("{section["id"]}")' in page
    assert page.count('layer.on("remove"') == len(legend.sections)


def test_site_map__a_context_layer_without_swatches_has_no_legend_section():
    plain = _context()["federal_land"].drop(columns="manager")
    page = site_map(_sites(), context={"study areas": plain}).get_root().render()
    assert _legend_sections(page).sections == []
    assert "Study areas" in page  # still a layer-control entry


def test_legend__a_layer_off_at_first_starts_with_its_section_and_heading_hidden():
    from branca.colormap import LinearColormap

    from siting.maps.interactive import _ContextLegend, _legend_html

    off = _ContextLegend(
        "siting-context-legend-0", "Points", "Towns", [("Towns", "#6baed6")], False
    )
    on = off._replace(id="siting-context-legend-1", layer="Airports", show=True)
    ramp = LinearColormap(["#000000", "#ffffff"], vmin=0, vmax=1)
    alone = _legend_sections(_legend_html(ramp, 0, 1, "Site score", [off]))
    assert [s["style"] for s in alone.sections] == ["display:none"]
    assert alone.groups == {"Points": "display:none"}
    shared = _legend_sections(_legend_html(ramp, 0, 1, "Site score", [off, on]))
    assert [s["style"] for s in shared.sections] == ["display:none", "display:block"]
    assert shared.groups == {"Points": "display:block"}  # the heading of the layer still on


def test_site_map__popup_units_recorded_by_the_run_and_24_7_fit():
    sites = _sites().assign(
        cfe_share_2x=[0.61, 0.5],
        cfe_reachable=[True, False],
        cfe_overbuild=[7.9, float("nan")],
    )
    sites.attrs["criteria"] = ["ghi_kwh_m2_day", "cfe_share_2x"]
    sites.attrs["units"] = {"cfe_share_2x": "fraction"}
    markers = _markers(site_map(sites).get_root().render())
    first, second = markers[0]["popup"], markers[1]["popup"]
    assert "0.61 fraction" in first
    assert "kWh/m²/day" in first  # units from the column name where none are recorded
    assert "7.9 MW of solar and wind per MW of load" in first
    assert "target out of reach" in second


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


# --- raster overlays ----------------------------------------------------------------------


def _read_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGBA PNG (one image, rows filtered with None or Up) to an array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack("!I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack("!I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(
            tag + body
        )
        if tag == b"IHDR":
            width, height, depth, colour = struct.unpack("!2I2B", body[:10])
            assert (depth, colour) == (8, 6)
            size = (height, width)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    assert size is not None
    height, width = size
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 4 * width)
    filters, rows = raw[:, 0], raw[:, 1:]
    assert set(filters.tolist()) <= {0, 2}
    out = rows.copy()
    for r in range(1, height):
        if filters[r] == 2:
            out[r] = out[r] + out[r - 1]  # uint8 arithmetic wraps, as PNG's modulo 256
    return out.reshape(height, width, 4)


def _pixel(image: OverlayImage, lon: float, lat: float) -> tuple[int, ...]:
    """The image's pixel under a point, found from the image's corners alone."""
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    (south, west), (north, east) = image.bounds
    left, bottom = to_merc.transform(west, south)
    right, top = to_merc.transform(east, north)
    x, y = to_merc.transform(lon, lat)
    rows, cols = image.shape
    col = int((x - left) / (right - left) * cols)
    row = int((top - y) / (top - bottom) * rows)
    return tuple(int(v) for v in _read_png(image.png)[row, col])


def _quadrants() -> xr.DataArray:
    """Four 20 x 20-cell blocks: 1.0, 2.5, 4.0 and no data (NaN), on an EPSG:5070 grid."""
    grid = small_grid(shape=(40, 40), resolution=250)
    values = np.full((40, 40), np.nan, dtype="float32")
    values[:20, :20], values[:20, 20:], values[20:, :20] = 1.0, 2.5, 4.0
    layer = grid.to_xarray(name="ghi_kwh_m2_day")
    layer.values[...] = values
    return layer


def _centre(layer: xr.DataArray, row: int, col: int) -> tuple[float, float]:
    x, y = float(layer.x[col]), float(layer.y[row])
    return Transformer.from_crs(5070, 4326, always_xy=True).transform(x, y)


def test_rgba_bytes__is_branca_colour_for_colour():
    ramp = colormaps.LinearColormap(
        ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"], vmin=-3.0, vmax=7.5
    )
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(-4, 8.5, 5000), ramp.index, [-3.0, 7.5, 1e-9]])
    got = rgba_bytes(ramp, values)
    assert [tuple(c) for c in got.tolist()] == [ramp.rgba_bytes_tuple(float(v)) for v in values]


def test_overlay__pixel_colour_of_a_value_is_its_legend_colour():
    layer = _quadrants()
    image = render_overlay("ghi_kwh_m2_day", layer)
    ramp = image.colormap
    assert (ramp.vmin, ramp.vmax) == (1.0, 4.0)
    for (row, col), value in [((10, 10), 1.0), ((10, 30), 2.5), ((30, 10), 4.0)]:
        assert _pixel(image, *_centre(layer, row, col)) == ramp.rgba_bytes_tuple(value)
    assert _pixel(image, *_centre(layer, 30, 30))[3] == 0  # no data: transparent
    # the legend's colour bar is drawn from the same colormap, stop for stop
    legend = site_map(_sites(), overlays={"ghi_kwh_m2_day": layer}).get_root().render()
    for stop in ramp.index:
        assert ramp.rgba_hex_str(stop) in legend
    assert "GHI (kWh/m²/day)" in legend


def test_overlay__categories_get_one_colour_each_in_pixels_and_legend():
    layer = _quadrants()
    image = render_overlay("codes", Overlay(layer, kind="categorical"))
    assert list(image.categories) == [1.0, 2.5, 4.0]
    for (row, col), value in [((10, 10), 1.0), ((10, 30), 2.5), ((30, 10), 4.0)]:
        colour = image.categories[value]
        expected = (*(int(colour[i : i + 2], 16) for i in (1, 3, 5)), 255)
        assert _pixel(image, *_centre(layer, row, col)) == expected
    page = site_map(_sites(), overlays={"codes": Overlay(layer, kind="categorical")})
    assert page.get_root().render().count("siting-overlay-category") == 3


def test_overlay__too_many_categories_is_refused_with_the_fix():
    layer = coordinate_image(small_grid(shape=(5, 30)))  # 30 distinct values
    with pytest.raises(InvalidLayerError, match="kind='continuous'"):
        render_overlay("codes", Overlay(layer, kind="categorical"))


@pytest.mark.parametrize(
    ("kind", "resampling"), [("continuous", "average"), ("categorical", "mode")]
)
def test_to_web_mercator__shrinks_a_large_raster_to_max_px(kind, resampling):
    grid = small_grid(shape=(60, 3000), resolution=100)
    stripes = grid.to_xarray(name="stripes")
    stripes.values[...] = (np.arange(3000) % 2)[None, :]  # columns 0, 1, 0, 1, ...
    shown = to_web_mercator(stripes, kind=kind, max_px=500)
    assert max(shown.shape) == 500
    assert shown.attrs["resampling"] == resampling
    inner = shown.values[5:-5, 5:-5]
    if kind == "continuous":  # six stripes per pixel: their mean
        assert np.nanmean(inner) == pytest.approx(0.5, abs=0.02)
    else:  # only the codes themselves
        assert set(np.unique(inner[np.isfinite(inner)]).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", ["continuous", "categorical"])
def test_to_web_mercator__huge_raster_reduced_by_blocks_first_lazily(kind):
    grid = small_grid(shape=(120, 2400), resolution=100)
    stripes = grid.to_xarray(name="stripes")
    stripes.values[...] = (np.arange(2400) % 2)[None, :]
    stripes.values[:, :300] = np.nan  # a missing band stays missing
    eager = to_web_mercator(stripes, kind=kind, max_px=200)  # 2400 > 4 x 200: blocks of 6
    lazy = to_web_mercator(stripes.chunk({"y": 50, "x": 500}), kind=kind, max_px=200)
    np.testing.assert_array_equal(eager.values, lazy.values)
    assert max(eager.shape) == 200
    inner = eager.values[3:-3, 40:-3]
    if kind == "continuous":
        assert np.nanmean(inner) == pytest.approx(0.5, abs=0.02)
    else:
        assert set(np.unique(inner[np.isfinite(inner)]).tolist()) <= {0.0, 1.0}
    assert np.isnan(eager.values[3:-3, :15]).all()
    image = render_overlay("stripes", Overlay(stripes.chunk({"y": 50}), kind=kind), max_px=200)
    if kind == "continuous":  # the ramp spans the full-resolution values, not the averages
        assert (image.colormap.vmin, image.colormap.vmax) == (0.0, 1.0)


def test_to_web_mercator__small_raster_keeps_true_values_at_twice_the_resolution():
    layer = _quadrants()
    shown = to_web_mercator(layer, max_px=2048)
    assert shown.attrs["resampling"] == "nearest"
    assert 80 <= max(shown.shape) <= 100  # 40 cells, twice, plus the reprojection's skew
    finite = shown.values[np.isfinite(shown.values)]
    assert set(np.unique(finite).tolist()) == {1.0, 2.5, 4.0}


def test_overlay__needs_a_crs():
    layer = xr.DataArray(np.ones((3, 3)), dims=("y", "x"), name="bare")
    with pytest.raises(CRSError, match="write_crs"):
        render_overlay("bare", layer)


def test_site_map__overlays_are_toggles_with_legends_in_a_self_contained_file(tmp_path):
    layer = _quadrants()
    overlays = {
        "score": layer.rename("score"),
        "ghi_kwh_m2_day": layer,
        EVIL: Overlay(layer, label=EVIL, units=EVIL),
    }
    fmap = site_map(_sites(), context=_context(), overlays=overlays)
    page = save_map(fmap, tmp_path / "m.html").read_text()
    assert page.count("L.imageOverlay(") == 3
    assert page.count('"data:image/png;base64,') == 3
    assert EVIL not in page  # the label and units are escaped in the control and the legend
    assert page.count("siting-overlay-legend'") == 3
    # only the score overlay is on at first; the others' legends wait for their toggle
    assert "id='siting-overlay-legend-0' class='siting-overlay-legend' data-overlay='score' " \
        "style='margin-bottom:6px;display:block'" in page  # fmt: skip
    assert page.count("display:none'>") == 2
    assert not re.search(r"""(src|href)\s*=\s*\\?["']?(https?:)?//""", page)
    for name in ("Score", "GHI"):
        assert f'"{name}"' in page  # a layer-control entry


def test_site_map__full_screen_and_measure_controls_by_default():
    page = site_map(_sites()).get_root().render()
    assert "new Fullscreen().addTo(" in page
    assert "new Measure().addTo(" in page
    assert "control.scale" in page  # Leaflet's scale bar
    assert "siting-measure" not in site_map(_sites(), controls=False).get_root().render()


def test_site_map__sites_beyond_max_badges_are_canvas_dots_with_the_same_popups():
    page = site_map(_sites(), max_badges=1).get_root().render()
    badge, dot = _markers(page)
    assert badge["title"] == "#1"
    assert "icon" not in dot
    assert dot["fill"].startswith("#")
    assert dot["r"] > 0
    assert "Site #2" in dot["popup"]
    assert "L.canvas(" in page
    assert "after the best 1, dots" in page  # the legend says which sites are dots
    assert "dots</div>" not in site_map(_sites()).get_root().render()


def test_site_map__script_data_cannot_close_its_script():
    sites = _sites()
    sites["rank"] = ["</script><script>alert(2)</script>", "<!--"]  # labels as given
    page = site_map(sites).get_root().render()
    data = re.search(r"var sites = (\[.*?\]);\n", page).group(1)
    assert "</" not in data
    assert "<!--" not in data
    titles = [m["title"] for m in json.loads(data)]  # the text itself is intact
    assert titles == ["#</script><script>alert(2)</script>", "#<!--"]


_SCENARIO = {
    "region": {"bounds": [-118, 39, -117, 40], "crs": "EPSG:4326"},
    "layers": {"ghi_kwh_m2_day": {"path": "ghi.tif", "kind": "continuous"}},
    "scorer": {"criteria": {"ghi_kwh_m2_day": {"weight": 1, "better": "higher"}}},
}


def test_scenario__map_overlays_names_the_allowed_values():
    from siting.errors import ScenarioError
    from siting.scenario import Scenario

    assert Scenario.from_dict(_SCENARIO).outputs.map_overlays is None  # the default set
    chosen = {**_SCENARIO, "outputs": {"map_overlays": ["score", "ghi_kwh_m2_day"]}}
    assert Scenario.from_dict(chosen).outputs.map_overlays == ["score", "ghi_kwh_m2_day"]
    wrong = {**_SCENARIO, "outputs": {"map_overlays": ["score", "ghi"]}}
    with pytest.raises(ScenarioError, match=r"map_overlays.*'ghi'.*allowed.*'ghi_kwh_m2_day'"):
        Scenario.from_dict(wrong)


@pytest.mark.realdata
def test_site_map__state_outlines_near_the_sites_are_the_basemap(shared_data):
    from siting.datasets import read_us_atlas

    with pytest.warns(UserWarning, match="repaired"):  # one of the file's outlines
        states = read_us_atlas(shared_data / "us_atlas" / "states-10m.json")
    page = site_map(_sites(), states=states).get_root().render()
    assert "State outlines" in page
    assert "siting-states" in page
    # The sites lie in Nevada (about 117.2° W, 39.2° N): it and its neighbours are drawn,
    # far-away states are not.
    assert "Nevada" in page
    assert "California" in page
    assert "Maine" not in page
    assert "Hawaii" not in page


def test_site_map__state_outlines_need_a_crs():
    outlines = gpd.GeoDataFrame(
        {"name": ["X"]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])], crs=None
    )
    with pytest.raises(CRSError, match="state outlines have no CRS"):
        site_map(_sites(), states=outlines)


@pytest.mark.realdata
def test_run_maps_draw_state_outlines_once_us_atlas_is_cached(shared_data, tmp_path, monkeypatch):
    import shutil

    from siting.datasets import catalog
    from siting.pipeline import _cached_state_outlines

    monkeypatch.setenv(catalog.DATA_DIR_ENV, str(tmp_path / "cache"))
    assert _cached_state_outlines() is None  # nothing cached: no outlines, no download
    target = catalog.path("us_atlas")
    target.parent.mkdir(parents=True)
    shutil.copyfile(shared_data / "us_atlas" / "states-10m.json", target)
    with pytest.warns(UserWarning, match="repaired"):
        states = _cached_state_outlines()
    assert states is not None
    assert "Nevada" in set(states["name"])
