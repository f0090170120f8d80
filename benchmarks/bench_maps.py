"""Interactive map: HTML size, build time and time to first render in headless chromium.

Usage: python benchmarks/bench_maps.py [--repeats N] [--chromium PATH] [--out FILE]

Cases (synthetic, no data files needed; sites spread over 300 km x 300 km in EPSG:5070,
each with the columns a run's site table has: score, contributions, criteria with units,
permitting summary, so the popups are full size):

- 100, 1,000 and 10,000 ranked sites, no overlay;
- 300 sites over a 100,000-cell score overlay (316 x 316 cells of 950 m, every cell scored),
  the size of a large run's map.

For each case: the time to build the map (``site_map``) and to write it (``save_map``),
the file's size, and in Debian's chromium (headless, offline: every request other than
``file:`` and ``data:`` is refused) the time from navigation start until every site is a
marker on the map (rank badges in the DOM, the others dots on a canvas) and the overlay
image is decoded (``performance.now()`` when a ``requestAnimationFrame`` poll first sees
them), and until the page's ``load`` event ended. Each repeat opens the file in a new
browser context (no cache). Medians of the repeats. Writes a markdown table to ``--out``
(default ``benchmarks/results/maps.md``) and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siting.testing import LOCAL_URL_SCHEMES as LOCAL  # noqa: E402
from siting.testing import OFFLINE_CHROMIUM_ARGS, debian_chromium  # noqa: E402

FLAGS = list(OFFLINE_CHROMIUM_ARGS)

ORIGIN = (-1_900_000.0, 2_100_000.0)  # Nevada in EPSG:5070 (left, top)
SIDE_M = 300_000.0


def synthetic_sites(n: int, seed: int = 0) -> Any:
    """``n`` ranked sites with the columns of a run's site table."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    score = np.sort(rng.uniform(0.3, 0.9, n))[::-1]
    sites = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, n + 1),
            "score": score,
            "p_top_k": rng.uniform(0, 1, n).round(2),
            "ghi_kwh_m2_day": rng.uniform(5.0, 6.5, n),
            "wind_speed_100m_m_s": rng.uniform(4.0, 9.0, n),
            "heat_flow_mw_m2": rng.uniform(60, 200, n),
            "distance_to_substation_km": rng.uniform(0, 30, n),
            "people_within_2ms": rng.integers(0, 50_000, n),
            "slope_pct": rng.uniform(0, 10, n),
            "contribution_ghi_kwh_m2_day": rng.uniform(0, 0.2, n),
            "contribution_distance_to_substation_km": rng.uniform(0, 0.2, n),
            "contribution_people_within_2ms": rng.uniform(0, 0.2, n),
            "contribution_slope_pct": rng.uniform(0, 0.1, n),
            "permits_triggered": rng.integers(0, 6, n),
            "permits_unknown": rng.integers(0, 4, n),
            "permit_nepa_level": rng.choice(["none", "CE", "EA", "EIS"], n),
            "permit_timeline_months_low": rng.integers(3, 12, n),
            "permit_timeline_months_high": rng.integers(12, 36, n),
        },
        geometry=gpd.points_from_xy(
            ORIGIN[0] + rng.uniform(0, SIDE_M, n), ORIGIN[1] - rng.uniform(0, SIDE_M, n)
        ),
        crs="EPSG:5070",
    )
    sites.attrs["criteria"] = [
        "ghi_kwh_m2_day",
        "wind_speed_100m_m_s",
        "heat_flow_mw_m2",
        "distance_to_substation_km",
        "people_within_2ms",
        "slope_pct",
    ]
    return sites


def score_raster(cells: int, seed: int = 0) -> Any:
    """A square score raster of about ``cells`` cells of 1 km, every cell scored."""
    from siting.testing import small_grid

    side = round(cells**0.5)
    grid = small_grid(shape=(side, side), resolution=SIDE_M / side, origin=ORIGIN)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    smooth = 0.5 + 0.2 * np.sin(6 * xx) * np.cos(4 * yy)
    layer = grid.to_xarray(name="score")
    layer.values[...] = smooth + rng.normal(0, 0.05, (side, side))
    return layer


def build(sites: Any, overlays: dict[str, Any] | None, path: Path) -> tuple[float, float]:
    from siting.maps import save_map, site_map

    start = time.perf_counter()
    fmap = site_map(sites, overlays=overlays, title="Benchmark")
    built = time.perf_counter()
    save_map(fmap, path)
    return built - start, time.perf_counter() - built


def render_times(browser: Any, path: Path, n_sites: int, overlay: bool) -> tuple[float, float]:
    """(all markers and the overlay ready, load event end), ms since navigation start."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    remote: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(LOCAL):
            r.continue_()
        else:
            remote.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="commit")
    # every site is a marker with a popup (a badge or a canvas dot), added in one script
    markers = (
        "(() => { const map = window[document.querySelector('.folium-map').id]; let n = 0;"
        " if (!map) { return 0; }"
        " map.eachLayer(l => { if (l.getPopup && l.getPopup()) { n += 1; } }); return n; })()"
    )
    ready = f"document.readyState !== 'loading' && {markers} >= {n_sites}"
    if overlay:
        ready += (
            " && document.querySelector('img.siting-overlay') !== null"
            " && document.querySelector('img.siting-overlay').complete"
        )
    # the poll returns the page's clock when it first sees everything (to one frame)
    seen = page.wait_for_function(
        f"({ready}) ? performance.now() : false", polling="raf", timeout=120_000
    )
    first = seen.json_value()
    page.wait_for_function(
        "performance.getEntriesByType('navigation')[0].loadEventEnd > 0", timeout=120_000
    )
    load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    context.close()
    if remote:
        raise RuntimeError(f"the map made network requests: {remote[:3]}")
    return float(first), float(load)


def run(repeats: int, chromium: str) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    cases: list[tuple[str, int, int]] = [
        ("100 sites", 100, 0),
        ("1,000 sites", 1_000, 0),
        ("10,000 sites", 10_000, 0),
        ("300 sites + 100,000-cell score overlay", 300, 100_000),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        for label, n, cells in cases:
            sites = synthetic_sites(n)
            overlays = {"score": score_raster(cells)} if cells else None
            path = Path(tmp) / f"map-{n}-{cells}.html"
            build(sites, overlays, path)  # warm-up (imports, Leaflet read once)
            builds, saves, firsts, loads = [], [], [], []
            for _ in range(repeats):
                b, s = build(sites, overlays, path)
                builds.append(b)
                saves.append(s)
                f, lo = render_times(browser, path, n, bool(cells))
                firsts.append(f)
                loads.append(lo)
            rows.append(
                {
                    "case": label,
                    "size_mb": path.stat().st_size / 1e6,
                    "build_s": statistics.median(builds),
                    "save_s": statistics.median(saves),
                    "first_ms": statistics.median(firsts),
                    "load_ms": statistics.median(loads),
                    "browser": browser.version,
                }
            )
            print(rows[-1], flush=True)
        browser.close()
    return rows


def render(rows: list[dict[str, Any]], repeats: int) -> str:
    import folium

    import siting

    lines = [
        "# Benchmark: interactive map size and time to first render",
        "",
        f"Median of {repeats} runs. Build: `site_map`; save: `save_map` (Leaflet inlined); "
        "first render: from navigation start until every site is a marker on the map (and "
        "the overlay image is decoded), in headless chromium, offline; load: the page's "
        "`load` event end. Times in seconds (Python) and milliseconds (browser).",
        "",
        "| case | HTML MB | build s | save s | first render ms | load event ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['size_mb']:.2f} | {row['build_s']:.2f} | "
            f"{row['save_s']:.2f} | {row['first_ms']:,.0f} | {row['load_ms']:,.0f} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        f"siting {siting.__version__}, folium {folium.__version__}, chromium "
        f"{rows[0]['browser'] if rows else '?'}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--chromium",
        default=debian_chromium() or "/usr/bin/chromium",
        help="Debian's chromium (a browser downloaded by playwright is never used)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "maps.md")
    args = parser.parse_args()
    text = render(run(args.repeats, args.chromium), args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
