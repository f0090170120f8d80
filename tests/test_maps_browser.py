"""The demo's map in a real browser (Debian's chromium, driven by playwright), fully offline.

Every request the page makes is routed: anything but ``file:``, ``data:``, ``blob:`` or
``about:`` fails the test. Skips when chromium is not installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import siting
from siting.datasets import write_demo_inputs
from siting.scenario import Scenario

pytest.importorskip("folium", reason="the maps extra is not installed: pip install 'siting[maps]'")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install 'siting[test]'"
)

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: apt-get install chromium (never a downloaded "
    "browser)",
)

# Chromium on a machine with no network: no background connections, no sandbox as root.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = ("file:", "data:", "blob:", "about:")
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
