"""Static maps (PNG/PDF) of ranked sites: content, geometry of the scale bar and north arrow,
colours shared with the interactive map, plain-text labels, bad input and atomic writes."""

from __future__ import annotations

import json
import math
import re

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import Point

pytest.importorskip("matplotlib")

import matplotlib.image as mpimg
from matplotlib.colors import to_rgb

import siting
from siting.datasets import write_demo_inputs
from siting.errors import CRSError, InvalidLayerError, OutputError
from siting.maps import (
    _style,
    data_attributions,
    save_static_map,
    static_map,
    static_map_of,
)
from siting.maps.static import (
    COLOUR_BAR_GID,
    MAP_GID,
    NORTH_ARROW_GID,
    SCALE_BAR_GID,
    north_angle,
    scale_bar_length,
)
from siting.scenario import Scenario


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("static-demo")
    scenario = Scenario.from_toml(write_demo_inputs(root / "inputs"))
    return siting.run(scenario, out_dir=root / "run")


@pytest.fixture(scope="module")
def figure(demo):
    fig = static_map_of(demo)
    fig.canvas.draw()
    return fig


def _by_gid(fig, gid):
    found = [a for a in fig.findobj() if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def _map_axes(fig):
    return next(ax for ax in fig.axes if ax.get_gid() == MAP_GID)


def _pixels(fig):
    """The rendered figure as an (rows, cols, 3) float array, row 0 at the top."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(float) / 255


def _viridis_stops(share):
    """The interactive map's score colour at ``share`` (0..1) of the score range."""
    stops = np.array([to_rgb(c) for c in _style.SCORE_COLOURS])
    at = np.linspace(0, 1, len(stops))
    return np.array([np.interp(share, at, stops[:, k]) for k in range(3)])


# -- outputs ---------------------------------------------------------------------------------


def test_run__demo_writes_map_png_listed_in_the_manifest(demo):
    png = demo.files["png"]
    assert png.name == "map.png"
    image = mpimg.imread(png)
    height, width = image.shape[:2]
    assert (width, height) == (1350, 975)  # 9 x 6.5 inches at 150 dpi
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 500  # a real picture
    manifest = json.loads(demo.files["manifest"].read_text())
    assert manifest["outputs"]["png"] == "map.png"


def test_save_static_map__png_and_pdf_by_suffix(demo, figure, tmp_path):
    png = save_static_map(figure, tmp_path / "map.png", dpi=60)
    pdf = save_static_map(figure, tmp_path / "map.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert mpimg.imread(png).shape[:2] == (390, 540)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.pdf", "map.png"]


def test_save_static_map__same_map_same_bytes(figure, tmp_path):
    a = save_static_map(figure, tmp_path / "a.pdf").read_bytes()
    b = save_static_map(figure, tmp_path / "b.pdf").read_bytes()
    assert a == b
    a = save_static_map(figure, tmp_path / "a.png", dpi=40).read_bytes()
    b = save_static_map(figure, tmp_path / "b.png", dpi=40).read_bytes()
    assert a == b


def test_save_static_map__builds_the_map_from_sites(demo, tmp_path):
    path = save_static_map(demo.sites, tmp_path / "sites.png", title="Only sites", dpi=40)
    assert mpimg.imread(path).shape[0] == 260


@pytest.mark.parametrize("name", ["map.svg", "map", "map.PNG.txt"])
def test_save_static_map__unknown_suffix_names_the_allowed_ones(figure, tmp_path, name):
    with pytest.raises(OutputError, match=r"\.png, \.pdf"):
        save_static_map(figure, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_static_map__failure_leaves_the_old_file_and_no_temporary(demo, tmp_path):
    target = tmp_path / "map.png"
    target.write_bytes(b"previous map")
    fig = static_map(demo.sites)
    # Math text that cannot be parsed makes drawing fail half way through the save.
    _map_axes(fig).text(0, 0, r"$\frac{$")
    with pytest.raises(ValueError, match="Expected"):
        save_static_map(fig, target)
    assert target.read_bytes() == b"previous map"
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]


# -- content ---------------------------------------------------------------------------------


def test_site_marker_colour_matches_the_colour_bar(demo, figure):
    ax = _map_axes(figure)
    bar = next(a for a in figure.axes if a.get_gid() == COLOUR_BAR_GID)
    low, high = bar.get_ylim()
    pixels = _pixels(figure)
    rows = pixels.shape[0]
    sites = demo.sites
    # The site farthest from the others (no neighbour's marker or label on it), below the
    # top score (which sits on the colour bar's outline).
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    gaps = np.where(sites["score"].to_numpy() < high - 0.01 * (high - low), gaps.min(axis=1), 0)
    site = sites.iloc[int(np.argmax(gaps))]
    score = float(site["score"])
    x, y = ax.transData.transform((site.geometry.x, site.geometry.y))
    # Above the rank label, inside the marker (15 pt across).
    offset = 5.0 * figure.dpi / 72
    marker = pixels[round(rows - (y + offset)), round(x)]
    bx, by = bar.transData.transform((np.mean(bar.get_xlim()), score))
    on_bar = pixels[round(rows - by), round(bx)]
    assert np.abs(marker - on_bar).max() <= 6 / 255
    # ... and it is the interactive map's viridis ramp.
    expected = _viridis_stops((score - low) / (high - low))
    assert np.abs(marker - expected).max() <= 6 / 255


def test_score_raster_is_drawn_and_nan_transparent(demo, figure):
    ax = _map_axes(figure)
    (image,) = ax.get_images()
    left, right, bottom, top = image.get_extent()
    assert (left, bottom, right, top) == pytest.approx(demo.raster("score").rio.bounds())
    data = image.get_array()
    assert np.ma.is_masked(data)
    assert data.mask.sum() == int(np.isnan(demo.raster("score").values).sum())
    # Where the raster is NaN the background shows through: a pixel outside the region.
    pixels = _pixels(figure)
    x, y = ax.transAxes.transform((0.005, 0.5))
    assert np.allclose(pixels[round(pixels.shape[0] - y), round(x)], to_rgb(_style.BACKGROUND))


def test_legend_groups_and_colours_follow_the_interactive_map(figure):
    legend = figure.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    groups = [t for t in texts if t in [*_style.LEGEND_GROUPS, "Ranked sites"]]
    assert groups == [*_style.LEGEND_GROUPS, "Ranked sites"]
    assert texts[0] == "Region"
    handles = dict(zip(texts, legend.legend_handles, strict=True))
    assert to_rgb(handles["BLM"].get_facecolor()) == pytest.approx(
        to_rgb(_style.MANAGER_COLOURS["BLM"])
    )
    classes = [name for _, name, _, _ in _style.VOLTAGE_CLASSES]
    shown = [t for t in texts if t in classes]
    assert shown == sorted(shown, key=classes.index)
    assert len(shown) >= 3
    for name in shown:
        colour = next(c for _, n, c, _ in _style.VOLTAGE_CLASSES if n == name)
        assert to_rgb(handles[name].get_color()) == pytest.approx(to_rgb(colour))
    assert {"Substations", "Towns", "Airports"} <= set(texts)


def test_sites_are_labelled_by_rank(demo, figure):
    labels = {t.get_text() for t in _map_axes(figure).texts}
    assert {str(r) for r in demo.sites["rank"]} <= labels


def test_title_and_attribution(demo, figure):
    ax = _map_axes(figure)
    assert ax.get_title(loc="left") == demo.scenario.name
    credits = [t.get_text() for t in figure.texts if t.get_text().startswith("Data: ")]
    assert credits == ["Data: Synthetic data generated by siting.datasets.sample (not real)"]


# -- scale bar -------------------------------------------------------------------------------


def test_scale_bar__drawn_length_equals_its_label(figure):
    ax = _map_axes(figure)
    bar = _by_gid(figure, SCALE_BAR_GID)
    label = _by_gid(figure, f"{SCALE_BAR_GID}-label").get_text()
    number, unit = re.fullmatch(r"([\d.]+) (km|m)", label).groups()
    metres = float(number) * (1000 if unit == "km" else 1)
    assert bar.get_width() == pytest.approx(metres)  # EPSG:5070 is in metres
    width = np.diff(ax.get_xlim())[0]
    assert 0.1 * width <= bar.get_width() <= 0.25 * width


@pytest.mark.parametrize("width_m", [900.0, 4_000.0, 131_750.0, 2.5e6, 7.3e3])
def test_scale_bar_length__round_and_at_most_a_quarter(width_m):
    length = scale_bar_length(width_m)
    mantissa = length / 10 ** math.floor(math.log10(length))
    assert mantissa in (1.0, 2.0, 5.0)
    assert 0.25 * width_m / 2.5 <= length <= 0.25 * width_m


def test_scale_bar__feet_crs_draws_feet(demo):
    feet = demo.sites.to_crs("EPSG:2227")  # California zone 3, US survey feet
    fig = static_map(feet)
    bar = _by_gid(fig, SCALE_BAR_GID)
    label = _by_gid(fig, f"{SCALE_BAR_GID}-label").get_text()
    metres = float(label.split()[0]) * (1000 if label.endswith(" km") else 1)
    assert bar.get_width() == pytest.approx(metres / 0.3048006096012192)


# -- north arrow -----------------------------------------------------------------------------


def test_north_angle__zero_on_the_central_meridian():
    to_map = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    x, y = to_map.transform(-96.0, 40.0)  # EPSG:5070's central meridian
    assert north_angle("EPSG:5070", x, y) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(("lon", "lat"), [(-117.5, 40.5), (-80.0, 35.0), (-124.0, 47.0)])
def test_north_angle__matches_the_meridian_convergence_away_from_it(lon, lat):
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True).transform(
        lon, lat
    )
    angle = north_angle("EPSG:5070", x, y)
    convergence = pyproj.Proj("EPSG:5070").get_factors(lon, lat).meridian_convergence
    assert abs(angle) > 5
    assert abs(angle) == pytest.approx(abs(convergence), abs=0.05)
    # West of the central meridian the meridians lean east going north, and vice versa.
    assert math.copysign(1, angle) == (1 if lon < -96 else -1)


def test_north_arrow__points_to_true_north_at_the_map_centre(figure):
    ax = _map_axes(figure)
    arrow = _by_gid(figure, NORTH_ARROW_GID)
    dx, dy = arrow.xyann  # the tail, in points from the tip
    drawn = math.degrees(math.atan2(-dx, -dy))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    expected = north_angle("EPSG:5070", (x0 + x1) / 2, (y0 + y1) / 2)
    assert drawn == pytest.approx(expected, abs=1e-6)
    assert abs(drawn) > 5  # the sample region lies far west of the central meridian


# -- text from data --------------------------------------------------------------------------


def test_text_from_data_is_plain_not_math(demo, tmp_path):
    from matplotlib import mathtext

    name = r"$\alpha$ <b>x</b> $\frac{"
    with pytest.raises(ValueError, match="Expected"):  # as math text it cannot be parsed
        mathtext.MathTextParser("agg").parse(r"$\frac{$")
    sites = demo.sites.head(3).copy()
    sites["name"] = [name, "cost $5", "<script>"]
    fig = static_map(sites, label="name", title=name, attributions=[name])
    path = save_static_map(fig, tmp_path / "plain.png", dpi=40)
    assert path.is_file()
    ax = _map_axes(fig)
    texts = {t.get_text(): t for t in ax.texts}
    assert texts[name].get_parse_math() is False
    assert ax.get_title(loc="left") == name
    assert any(t.get_text() == f"Data: {name}" for t in fig.texts)


# -- bad input -------------------------------------------------------------------------------


def test_static_map__sites_without_crs(demo):
    with pytest.raises(CRSError, match=r"set_crs"):
        static_map(demo.sites.set_crs(None, allow_override=True))


def test_static_map__empty_sites(demo):
    with pytest.raises(InvalidLayerError, match="empty"):
        static_map(demo.sites.iloc[:0])


def test_static_map__geographic_sites_need_a_projected_crs(demo):
    with pytest.raises(CRSError, match=r"to_crs\('EPSG:5070'\)"):
        static_map(demo.sites.to_crs("EPSG:4326"))


def test_static_map__raster_without_crs(demo):
    raster = demo.raster("score")
    bare = raster.copy()
    bare = bare.drop_vars("spatial_ref", errors="ignore")
    bare.attrs.pop("crs", None)
    bare.encoding.pop("grid_mapping", None)
    assert bare.rio.crs is None
    with pytest.raises(CRSError, match="write_crs"):
        static_map(demo.sites, score_raster=bare)


def test_static_map__raster_in_another_crs_is_reprojected(demo):
    raster = demo.raster("score")
    utm = raster.rio.reproject("EPSG:32611", nodata=np.nan)
    fig = static_map(demo.sites, score_raster=utm)
    (image,) = _map_axes(fig).get_images()
    left, right, bottom, top = image.get_extent()
    data = image.get_array()
    rows, cols = np.nonzero(~np.ma.getmaskarray(data))
    dx, dy = (right - left) / data.shape[1], (top - bottom) / data.shape[0]
    drawn = (left + cols.min() * dx, top - (rows.max() + 1) * dy,
             left + (cols.max() + 1) * dx, top - rows.min() * dy)  # fmt: skip
    scored = demo.candidates.total_bounds  # cell centres of the scored cells
    # Back in EPSG:5070, the scores cover the same ground (to a cell or two).
    assert np.allclose(drawn, scored, atol=1_000)
    assert np.nanmax(data) == pytest.approx(float(np.nanmax(raster.values)))


def test_static_map__context_layer_without_crs(demo):
    bare = gpd.GeoDataFrame(geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match="towns"):
        static_map(demo.sites, context={"towns": bare})


# -- attributions ----------------------------------------------------------------------------


def test_data_attributions__from_the_run_manifest(demo):
    manifest = json.loads(demo.files["manifest"].read_text())
    assert data_attributions(manifest=manifest) == [
        "Synthetic data generated by siting.datasets.sample (not real)"
    ]
    manifest["licences"] = {
        "layer:ghi": {"licence": "CC-BY-4.0", "attribution": "NREL NSRDB"},
        "vector:towns": {"licence": "unknown", "attribution": "unknown — not from the catalog"},
    }
    manifest["attributions"] = {"padus": "USGS GAP, PAD-US 4.0", "again": "NREL NSRDB"}
    assert data_attributions(manifest=manifest) == [
        "NREL NSRDB",
        "USGS GAP, PAD-US 4.0",
        "Synthetic data generated by siting.datasets.sample (not real)",
    ]


def test_data_attributions__from_the_catalog():
    from siting.datasets.catalog import source

    assert data_attributions(sources=["nsrdb", "padus"]) == [
        source("nsrdb").attribution,
        source("padus").attribution,
    ]
