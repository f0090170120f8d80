"""The demo's map in a real browser (Debian's chromium, driven by playwright), fully offline.

Every request the page makes is routed: anything but ``file:``, ``data:``, ``blob:`` or
``about:`` fails the test. Skips when chromium is not installed.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import siting
from siting.datasets import write_demo_inputs
from siting.scenario import Scenario
from siting.testing import LOCAL_URL_SCHEMES, OFFLINE_CHROMIUM_ARGS, debian_chromium

pytest.importorskip("folium", reason="the maps extra is not installed: pip install 'siting[maps]'")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install 'siting[test]'"
)

CHROMIUM = debian_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: apt-get install chromium (never a downloaded "
    "browser)",
)

FLAGS = list(OFFLINE_CHROMIUM_ARGS)
LOCAL = LOCAL_URL_SCHEMES
EVIL = "<script>alert(1)</script>"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> siting.Result:
    inputs = write_demo_inputs(tmp_path_factory.mktemp("inputs"))
    return siting.run(Scenario.from_toml(inputs), out_dir=tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # playwright starts chromium with a new, empty profile of its own each time
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


class Visit:
    """A page that records remote requests, script errors and dialogs."""

    def __init__(self, browser: Any, url: str, *, wait: bool = True) -> None:
        self.remote: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1200, "height": 800})
        self.page.route("**/*", self._route)
        self.page.on("request", self._request)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        if wait:
            self.page.wait_for_selector(".siting-site")

    def _route(self, route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            self.remote.append(route.request.url)
            route.abort()

    def _request(self, request: Any) -> None:
        if not request.url.startswith(LOCAL) and request.url not in self.remote:
            self.remote.append(request.url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_clean(self) -> None:
        assert self.remote == [], f"the map made network requests: {self.remote}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"


@pytest.fixture
def demo(browser: Any, result: siting.Result) -> Iterator[Visit]:
    visit = Visit(browser, result.files["html"].resolve().as_uri())
    yield visit
    visit.page.close()


def test_demo_map__loads_offline_with_every_site_and_the_legend(demo, result, tmp_path):
    page = demo.page
    assert page.locator(".siting-site").count() == len(result.sites) > 0
    assert page.locator(".siting-site").first.inner_text() == "1"
    legend = page.locator("#siting-legend")
    assert legend.is_visible()
    assert "Site score" in legend.inner_text()
    assert "Transmission lines" in legend.inner_text()
    assert page.locator(".leaflet-tile").count() == 0  # no tiles offline
    page.locator(".siting-site").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    for part in ("Site #1", "Score", "Top contributions", "Key features", "kWh/m²/day", "Lat "):
        assert part in text
    page.wait_for_timeout(400)  # the popup fades in
    page.screenshot(path=str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").stat().st_size > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "map.png", ARTIFACTS / "demo-map.png")
    demo.check_clean()


@pytest.mark.parametrize(
    ("layer", "css"),
    [
        ("Transmission lines (by voltage)", "path.siting-transmission-lines"),
        ("Federal land (by manager)", "path.siting-federal-land"),
        ("Substations", "path.siting-substations"),
        ("Ranked sites", ".siting-site"),
    ],
)
def test_demo_map__layer_control_hides_a_layer(demo, layer, css):
    page = demo.page
    shown = page.locator(css)
    assert shown.count() > 0
    toggle = page.locator(".leaflet-control-layers-overlays label", has_text=layer)
    toggle.locator("input").uncheck()
    assert shown.count() == 0
    toggle.locator("input").check()
    assert shown.count() > 0
    demo.check_clean()


@pytest.fixture(scope="module")
def context_map(result: siting.Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sites over areas by manager, lines by voltage and two point layers."""
    from siting.maps import save_map, site_map

    shown = ("federal_land", "transmission_lines", "substations", "towns")
    fmap = site_map(result.sites, context={name: result.context[name] for name in shown})
    return save_map(fmap, tmp_path_factory.mktemp("context") / "map.html")


CONTEXT_LEGEND = {  # layer-control name → the heading its legend section is listed under
    "Federal land (by manager)": "Federal land",
    "Transmission lines (by voltage)": "Transmission lines",
    "Substations": "Points",
    "Towns": "Points",
}


def _display(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "e => getComputedStyle(e).display")


def _section(layer: str) -> str:
    return f".siting-context-legend[data-layer='{layer}']"


def _heading(group: str) -> str:
    return f".siting-context-group[data-group='{group}']"


def _assert_context_legend(page: Any, off: set[str]) -> None:
    """Sections of the layers in ``off`` are hidden, the others show, with their headings."""
    for layer, group in CONTEXT_LEGEND.items():
        section = page.locator(_section(layer))
        if layer in off:
            assert _display(page, _section(layer)) == "none", layer
            assert not section.is_visible(), layer
        else:
            assert _display(page, _section(layer)) == "block", layer
            assert section.is_visible(), layer
        heading = page.locator(_heading(group))
        shown = any(g == group and n not in off for n, g in CONTEXT_LEGEND.items())
        assert heading.is_visible() == shown, group
        assert _display(page, _heading(group)) == ("block" if shown else "none"), group


@pytest.mark.parametrize("layer", list(CONTEXT_LEGEND))
def test_map__context_legend_section_hides_and_shows_with_its_layer(browser, context_map, layer):
    visit = Visit(browser, context_map.as_uri())
    page = visit.page
    _assert_context_legend(page, off=set())  # every context layer is on at first
    toggle = _overlay_toggle(page, layer)
    toggle.uncheck()
    _assert_context_legend(page, off={layer})
    assert "Site score" in page.locator("#siting-legend").inner_text()  # the rest stays
    toggle.check()
    _assert_context_legend(page, off=set())
    visit.check_clean()
    page.close()


def test_map__context_legend_heading_hides_when_all_its_layers_are_off(browser, context_map):
    visit = Visit(browser, context_map.as_uri())
    page = visit.page
    off: set[str] = set()
    for layer in ("Substations", "Towns", "Transmission lines (by voltage)"):
        _overlay_toggle(page, layer).uncheck()
        off.add(layer)
        _assert_context_legend(page, off=off)
    assert not page.locator(_heading("Points")).is_visible()
    _overlay_toggle(page, "Towns").check()
    _assert_context_legend(page, off=off - {"Towns"})
    assert "Towns" in page.locator(_heading("Points")).inner_text()
    visit.check_clean()
    page.close()


def test_map__site_named_like_a_script_shows_as_text(browser, result, tmp_path):
    from siting.maps import save_map, site_map

    sites = result.sites.copy()
    sites["name"] = [EVIL, *[f"Site {i}" for i in range(2, len(sites) + 1)]]
    path = save_map(site_map(sites, context=result.context, title=EVIL), tmp_path / "evil.html")
    visit = Visit(browser, path.as_uri())
    page = visit.page
    assert page.locator(".siting-title").inner_text() == EVIL
    page.locator(".siting-site").first.hover()
    assert EVIL in page.locator(".leaflet-tooltip").inner_text()
    page.locator(".siting-site").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert EVIL in popup.inner_text()
    assert page.locator(".leaflet-popup-content script").count() == 0
    assert page.evaluate("document.querySelectorAll('body script:not([src])').length") > 0
    assert page.evaluate("Array.from(document.scripts).every(s => s.text.trim() !== 'alert(1)')")
    page.wait_for_timeout(200)
    visit.check_clean()
    page.close()


def test_map__linked_to_the_cdn_is_caught_by_the_network_guard(browser, result, tmp_path):
    from siting.maps import save_map, site_map

    path = save_map(site_map(result.sites), tmp_path / "cdn.html", self_contained=False)
    visit = Visit(browser, path.as_uri(), wait=False)
    assert any(url.endswith("leaflet.js") for url in visit.remote)
    assert visit.page.locator(".siting-site").count() == 0
    visit.page.close()


@pytest.fixture(scope="module")
def overlay_map(result: siting.Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sites and context over the run's default overlays, with the controls."""
    from siting.maps import result_overlays, save_map, site_map

    fmap = site_map(
        result.sites,
        context=result.context,
        title=result.scenario.name,
        overlays=result_overlays(result),
    )
    return save_map(fmap, tmp_path_factory.mktemp("overlays") / "map.html")


@pytest.fixture
def mapped(browser: Any, overlay_map: Path) -> Iterator[Visit]:
    visit = Visit(browser, overlay_map.as_uri())
    yield visit
    visit.page.close()


def _overlay_toggle(page: Any, label: str) -> Any:
    return page.locator(".leaflet-control-layers-overlays label", has_text=label).locator("input")


def test_map__overlays_toggle_with_their_legends_offline(mapped):
    page = mapped.page
    score = page.locator("img.siting-overlay")
    assert score.count() == 1  # only the score overlay is on when the map opens
    assert score.get_attribute("src").startswith("data:image/png;base64,")
    assert page.evaluate("document.querySelector('img.siting-overlay').naturalWidth") > 0
    legend = page.locator(".siting-overlay-legend[data-overlay='score']")
    assert legend.is_visible()
    ghi = page.locator(".siting-overlay-legend[data-overlay='ghi_kwh_m2_day']")
    assert not ghi.is_visible()
    _overlay_toggle(page, "Solar: GHI").check()
    assert page.locator("img.siting-overlay").count() == 2
    assert ghi.is_visible()
    assert "kWh/m²/day" in ghi.inner_text()
    assert page.locator(".siting-overlay-legend:visible .siting-overlay-bar").count() == 2
    _overlay_toggle(page, "Score").uncheck()
    assert not legend.is_visible()
    assert page.locator("img.siting-overlay").count() == 1
    for label in ("Available land", "Wind: Wind speed", "Geothermal: Heat flow"):
        _overlay_toggle(page, label).check()
    assert page.locator("img.siting-overlay").count() == 4
    assert page.locator(".siting-overlay-legend:visible").count() == 4
    page.wait_for_timeout(200)
    mapped.check_clean()


def test_map__overlay_pixels_in_the_browser_are_the_legend_colours(mapped, result):
    from siting.maps.overlays import render_overlay, result_overlays, to_web_mercator

    overlay = result_overlays(result)["score"]
    image = render_overlay("score", overlay)
    values = to_web_mercator(overlay.data).values
    assert values.shape == image.shape
    rows, cols = np.nonzero(np.isfinite(values))
    pick = np.random.default_rng(0).choice(rows.size, size=60, replace=False)
    points = [[int(rows[i]), int(cols[i])] for i in pick]
    page = mapped.page
    page.wait_for_function("document.querySelector('img.siting-overlay').complete")
    seen = page.evaluate(
        """points => {
            const img = document.querySelector("img.siting-overlay");
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(img, 0, 0);
            return {
                shape: [canvas.height, canvas.width],
                pixels: points.map(([r, c]) => Array.from(ctx.getImageData(c, r, 1, 1).data)),
            };
        }""",
        points,
    )
    assert tuple(seen["shape"]) == image.shape
    expected = [list(image.colormap.rgba_bytes_tuple(float(values[r, c]))) for r, c in points]
    assert seen["pixels"] == expected
    legend = page.locator(".siting-overlay-legend[data-overlay='score'] .siting-overlay-bar")
    style = legend.get_attribute("style")
    for stop in image.colormap.index:
        assert image.colormap.rgba_hex_str(stop) in style
    mapped.check_clean()


def test_map__full_screen_button_fills_the_screen_and_back(mapped):
    page = mapped.page
    button = page.locator(".siting-fullscreen a")
    assert button.is_visible()
    assert button.get_attribute("title") == "Full screen"
    # The title follows the browser's fullscreenchange event, which fires after
    # fullscreenElement is set: wait for both before reading it.
    title = "document.querySelector('.siting-fullscreen a').title"
    button.click()
    page.wait_for_function(
        f"document.fullscreenElement === document.documentElement && {title} !== 'Full screen'"
    )
    assert button.get_attribute("title") == "Exit full screen"
    button.click()
    page.wait_for_function(
        f"document.fullscreenElement === null && {title} !== 'Exit full screen'"
    )
    assert button.get_attribute("title") == "Full screen"
    mapped.check_clean()


def _haversine_m(a: dict[str, float], b: dict[str, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["lng"], b["lat"], b["lng"]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))  # mean Earth radius


def test_map__measure_shows_the_great_circle_distance_of_two_clicks(mapped):
    page = mapped.page
    _overlay_toggle(page, "Ranked sites").uncheck()  # so the clicks land on the map itself
    page.locator(".siting-measure a").click()
    result = page.locator(".siting-measure-result")
    assert result.is_visible()
    box = page.locator(".folium-map").bounding_box()
    clicks = [(250, 300), (900, 650)]  # container pixels, away from the controls
    for x, y in clicks:
        page.mouse.click(box["x"] + x, box["y"] + y)
    assert result.get_attribute("data-points") == "2"
    where = page.evaluate(
        """clicks => {
            const map = window[document.querySelector(".folium-map").id];
            return clicks.map(([x, y]) => map.containerPointToLatLng([x, y]));
        }""",
        [list(c) for c in clicks],
    )
    expected = _haversine_m(where[0], where[1])
    shown = float(result.get_attribute("data-metres"))
    assert shown == pytest.approx(expected, rel=0.01)
    km = float(re.match(r"([\d.]+) km", result.inner_text()).group(1))
    assert km == pytest.approx(expected / 1000, rel=0.01)
    assert "mi)" in result.inner_text()
    page.locator(".siting-measure a").click()  # ends the measure and clears the path
    assert not result.is_visible()
    mapped.check_clean()


def test_map__dots_beyond_max_badges_open_their_popups(browser, result, tmp_path):
    from siting.maps import save_map, site_map

    path = save_map(site_map(result.sites, max_badges=5), tmp_path / "dots.html")
    visit = Visit(browser, path.as_uri())
    page = visit.page
    assert page.locator(".siting-site").count() == 5
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1
    last = result.sites.sort_values("rank").iloc[-1]
    x, y = page.evaluate(
        """([lat, lon]) => {
            const map = window[document.querySelector(".folium-map").id];
            const p = map.latLngToContainerPoint([lat, lon]);
            return [p.x, p.y];
        }""",
        [float(last["lat"]), float(last["lon"])],
    )
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert f"Site #{int(last['rank'])}" in popup.inner_text()
    visit.check_clean()
    page.close()


def test_result_overlays__default_set_and_chosen_names(result):
    from siting.maps import result_overlays

    default = result_overlays(result)
    assert list(default) == [
        "score",
        "availability",
        "ghi_kwh_m2_day",
        "wind_speed_100m_m_s",
        "heat_flow_mw_m2",
    ]
    assert default["score"].show is None  # on by default, being the score
    excluded = result.availability.values == 0
    assert np.isnan(default["availability"].data.values[excluded]).all()  # excluded: clear
    chosen = result_overlays(result, ["slope_pct", "score"])
    assert list(chosen) == ["slope_pct", "score"]
    with pytest.raises(KeyError, match=r"'ghi'.*allowed.*'ghi_kwh_m2_day'"):
        result_overlays(result, ["ghi"])


def test_demo_map__a_run_draws_its_overlays(demo):
    page = demo.page
    assert page.locator("img.siting-overlay").count() == 1  # the score, on at first
    names = page.eval_on_selector_all(
        ".siting-overlay-legend", "els => els.map(e => e.dataset.overlay)"
    )
    assert names == [
        "score",
        "availability",
        "ghi_kwh_m2_day",
        "wind_speed_100m_m_s",
        "heat_flow_mw_m2",
    ]
    assert page.locator(".siting-fullscreen a").is_visible()
    demo.check_clean()
