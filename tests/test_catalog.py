"""The dataset catalog and checked downloads, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from siting.cli import main
from siting.datasets import catalog as cat
from siting.errors import LayerIOError, ScenarioError

BODY = b"state,ghi\nNV,6.1\n" * 100
BODY_SHA = hashlib.sha256(BODY).hexdigest()
WRONG_SHA = "0" * 64


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``/good.csv``, ``/error`` (HTTP 500) and ``/truncated`` (short body)."""

    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path == "/good.csv":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY) * 10))
            self.end_headers()
            self.wfile.write(BODY)
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(500, "boom")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.hits  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test caches into its own folder and starts online."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cat.DATA_DIR_ENV, str(folder))
    monkeypatch.delenv(cat.OFFLINE_ENV, raising=False)
    return folder


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch, server: tuple[str, list[str]]) -> cat.Source:
    """A catalog whose source 'toy' points at the local server with the right sha256."""
    base = cat.source("us_atlas")
    toy = replace(base, name="toy", url=f"{server[0]}/good.csv", sha256=BODY_SHA,
                  filename="toy.csv")  # fmt: skip
    sources = {**cat.catalog(), "toy": toy}
    monkeypatch.setattr(cat, "catalog", lambda: dict(sources))
    return toy


def _cached_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- catalog ---------------------------------------------------------------------------

REQUIRED_SOURCES = (
    "nsrdb", "wtk", "global_wind_atlas", "smu_heat_flow", "noaa_thermal_springs", "padus",
    "blm_sma", "hifld_transmission_lines", "hifld_substations", "eia860", "lbnl_queued_up",
    "us_atlas", "rev_ri_exclusions",
)  # fmt: skip


def test_catalog__has_every_required_source_with_fields() -> None:
    sources = cat.catalog()
    assert set(REQUIRED_SOURCES) <= set(sources)
    for entry in sources.values():
        assert entry.fields, entry.name
        assert (entry.sha256 is None) != (entry.sha256_omitted is None), entry.name
        assert entry.homepage.startswith("https://"), entry.name


def test_catalog__sources_are_frozen() -> None:
    entry = cat.source("padus")
    with pytest.raises(AttributeError):
        entry.url = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.fields["x"] = "y"  # type: ignore[index]


def _entry(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = {key: "x" for key in cat._REQUIRED if key != "fields"} | {
        "fields": {"A": "a"},
        "sha256_omitted": "changes",
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(colour="red"), r"'bad'.*unknown key\(s\) \['colour'\]"),
        (_entry(licence=None), r"'bad'.*missing required key\(s\) \['licence'\]"),
        (_entry(crs=""), r"'bad'.*'crs' must be a non-empty string"),
        (_entry(fields=["A"]), r"'bad'.*'fields' must map"),
        (_entry(sha256_omitted=None), "exactly one of 'sha256'"),
        (_entry(sha256="abc", url="https://x", sha256_omitted=None), "64 lowercase hex"),
        (_entry(sha256=WRONG_SHA, sha256_omitted=None), "'url' is missing"),
    ],
)
def test_parse_catalog__rejects_bad_entries(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        cat.parse_catalog({"sources": {"bad": entry}})


def test_parse_catalog__rejects_empty_and_unknown_top_level() -> None:
    with pytest.raises(ScenarioError, match="non-empty"):
        cat.parse_catalog({"sources": {}})
    with pytest.raises(ScenarioError, match="unknown top-level"):
        cat.parse_catalog({"sources": {"ok": _entry()}, "extra": 1})


def test_source__unknown_name_suggests_close_match() -> None:
    with pytest.raises(ScenarioError, match=r"Did you mean 'padus'\?.*Known datasets: .*eia860"):
        cat.source("pad_us")


def test_path_and_cache_dir__follow_env(data_dir: Path) -> None:
    assert cat.cache_dir() == data_dir
    assert cat.path("us_atlas") == data_dir / "us_atlas" / "states-10m.json"
    assert not cat.is_cached("us_atlas")


# -- fetch -----------------------------------------------------------------------------


def test_fetch__downloads_verifies_and_caches(
    toy: cat.Source, server: tuple[str, list[str]], data_dir: Path
) -> None:
    _, hits = server
    first = cat.fetch("toy")
    assert first == cat.path("toy")
    assert first.read_bytes() == BODY
    assert cat.fetch("toy") == first
    assert hits == ["/good.csv"]  # the second fetch did not touch the server
    assert _cached_files(data_dir) == [first]


def test_fetch__checksum_mismatch_caches_nothing(
    toy: cat.Source, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    bad = replace(toy, sha256=WRONG_SHA)
    monkeypatch.setattr(cat, "catalog", lambda: {"toy": bad})
    with pytest.raises(LayerIOError) as info:
        cat.fetch("toy")
    message = str(info.value)
    assert toy.url is not None
    assert toy.url in message
    assert f"expected sha256 {WRONG_SHA}, got {BODY_SHA}" in message
    assert _cached_files(data_dir) == []


@pytest.mark.parametrize(("route", "cause"), [("/error", "HTTP 500"), ("/truncated", "cut short")])
def test_fetch__server_failure_caches_nothing(
    toy: cat.Source, server: tuple[str, list[str]], data_dir: Path, route: str, cause: str
) -> None:
    url = server[0] + route
    with pytest.raises(LayerIOError, match=cause) as info:
        cat.fetch("toy", url=url)
    assert url in str(info.value)
    assert _cached_files(data_dir) == []


def test_fetch__truncated_without_checksum_caches_nothing(
    toy: cat.Source, server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:  # fmt: skip
    unpinned = replace(toy, sha256=None, sha256_omitted="test")
    monkeypatch.setattr(cat, "catalog", lambda: {"toy": unpinned})
    with pytest.raises(LayerIOError, match="cut short"):
        cat.fetch("toy", url=server[0] + "/truncated")
    assert _cached_files(data_dir) == []


def test_fetch__offline_uses_cache(
    toy: cat.Source, server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = cat.fetch("toy")
    monkeypatch.setenv(cat.OFFLINE_ENV, "1")
    assert cat.fetch("toy") == cached
    assert server[1] == ["/good.csv"]


@pytest.mark.parametrize("via_env", [True, False])
def test_fetch__offline_not_cached_says_url_and_path(
    toy: cat.Source, server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    via_env: bool,
) -> None:  # fmt: skip
    if via_env:
        monkeypatch.setenv(cat.OFFLINE_ENV, "1")
    with pytest.raises(LayerIOError) as info:
        cat.fetch("toy", offline=None if via_env else True)
    message = str(info.value)
    assert toy.url is not None
    assert toy.url in message
    assert str(cat.path("toy")) in message
    assert "not cached" in message
    assert server[1] == []


def test_fetch__corrupt_cached_copy_is_replaced(toy: cat.Source) -> None:
    target = cat.path("toy")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    assert cat.fetch("toy").read_bytes() == BODY


def test_fetch__offline_refuses_corrupt_cached_copy(
    toy: cat.Source, server: tuple[str, list[str]]
) -> None:
    target = cat.path("toy")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    with pytest.raises(LayerIOError, match="sha256 is wrong"):
        cat.fetch("toy", offline=True)
    assert server[1] == []


def test_cli_info__keeps_square_brackets() -> None:
    result = CliRunner().invoke(main, ["datasets", "info", "nsrdb"])
    assert result.exit_code == 0, result.output
    assert "[time, site]" in result.output


def test_fetch__source_without_url_says_where_to_download() -> None:
    with pytest.raises(LayerIOError, match=r"no direct download URL.*padus"):
        cat.fetch("padus")


# -- command line ----------------------------------------------------------------------


def test_cli_list__shows_sources_and_cache_state(toy: cat.Source) -> None:
    cat.fetch("toy")
    result = CliRunner().invoke(main, ["datasets", "list"])
    assert result.exit_code == 0, result.output
    assert "padus" in result.output
    assert "CC BY 4.0" in result.output
    toy_line = next(line for line in result.output.splitlines() if " toy " in line)
    assert "yes" in toy_line


def test_cli_info__shows_attribution_and_fields() -> None:
    result = CliRunner().invoke(main, ["datasets", "info", "smu_heat_flow"])
    assert result.exit_code == 0, result.output
    assert "Blackwell" in result.output
    assert "Heat Flow" in result.output
    assert "heat_flow" in result.output
    assert "-9999" in result.output


def test_cli_path__prints_cache_path() -> None:
    result = CliRunner().invoke(main, ["datasets", "path", "us_atlas"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(cat.path("us_atlas"))


def test_cli_fetch__with_url_downloads(server: tuple[str, list[str]]) -> None:
    url = f"{server[0]}/good.csv"
    result = CliRunner().invoke(main, ["datasets", "fetch", "eia860", "--url", url])
    assert result.exit_code == 0, result.output
    assert cat.path("eia860").read_bytes() == BODY
    assert result.output.strip().endswith(str(cat.path("eia860")))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["info", "nope"], 2),
        (["fetch", "padus_"], 2),
        (["path", "nsrd"], 2),
        (["fetch", "us_atlas", "--offline"], 3),
    ],
)
def test_cli__errors_use_documented_exit_codes(args: list[str], code: int) -> None:
    result = CliRunner().invoke(main, ["datasets", *args])
    assert result.exit_code == code, result.output


def test_cli_fetch__server_error_exit_3(server: tuple[str, list[str]]) -> None:
    result = CliRunner().invoke(main, ["datasets", "fetch", "eia860", "--url", server[0] + "/x"])
    assert result.exit_code == 3, result.output
    assert "HTTP 500" in result.output


# -- real data -------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "relative"),
    [
        ("us_atlas", "us_atlas/states-10m.json"),
        ("noaa_thermal_springs", "ncei_hot_springs/hot_springs.geojson"),
    ],
)
def test_catalog__sha256_matches_shared_copy(shared_data: Path, name: str, relative: str) -> None:
    file = shared_data / relative
    if not file.is_file():
        pytest.skip(f"{file} not found")
    assert hashlib.sha256(file.read_bytes()).hexdigest() == cat.source(name).sha256
