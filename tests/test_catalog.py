"""The dataset catalog and checked downloads, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import re
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
HALF = len(BODY) // 2
OLD_BODY = b"X" + BODY[1:]  # an earlier version of the file: differs in the first half

Log = list[tuple[str, str | None, str | None]]  # (path, Range, If-Range) of each request


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``/good.csv``, ``/error`` (HTTP 500), ``/truncated`` (short body), and
    ``/<modes>.csv`` where ``<modes>`` joins with ``-`` any of:

    ``drop``
        the first request gets the headers of the whole file and half its body, then the
        connection is closed;
    ``ranges``
        ``Range: bytes=N-`` is honoured (206 with Content-Range; 416 past the end), and so
        is ``If-Range`` when ``etag`` is on (a stale validator gets the whole file, 200);
        without it every request gets the whole file (200);
    ``changed``
        the first request is served ``OLD_BODY``, the later ones ``BODY``;
    ``etag``
        responses carry an ETag, ``"v1"`` on the first request and ``"v2"`` after;
    ``wrongstart``
        a range request gets 206 with the whole file (Content-Range from byte 0);
    ``capped``
        a range request gets 206 with at most 400 bytes (as servers that cap ranges do);
    ``overclaim``
        a range request gets 206 with 400 bytes but a Content-Range for the whole rest.

    Every request is logged as ``(path, Range header, If-Range header)``.
    """

    def do_GET(self) -> None:
        hits: list[str] = self.server.hits  # type: ignore[attr-defined]
        hits.append(self.path)
        log: Log = self.server.log  # type: ignore[attr-defined]
        log.append((self.path, self.headers.get("Range"), self.headers.get("If-Range")))
        first = hits.count(self.path) == 1
        modes = set(Path(self.path).stem.split("-"))
        if self.path == "/good.csv":
            self._send(200, BODY)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY) * 10))
            self.end_headers()
            self.wfile.write(BODY)
            self.wfile.flush()
            self.close_connection = True
        elif self.path.endswith(".csv") and modes <= {"drop", "ranges", "changed", "etag",
                                                      "wrongstart", "capped",
                                                      "overclaim"}:  # fmt: skip
            body = OLD_BODY if "changed" in modes and first else BODY
            etag = ('"v1"' if first else '"v2"') if "etag" in modes else None
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            stale = etag is not None and self.headers.get("If-Range") not in (None, etag)
            if "drop" in modes and first:
                self._send(200, body, etag=etag, cut_at=len(body) // 2)
            elif "wrongstart" in modes and wanted:
                self._send(206, body, content_range=f"bytes 0-{len(body) - 1}/{len(body)}")
            elif "ranges" not in modes or wanted is None or stale:
                self._send(200, body, etag=etag)
            elif int(wanted[1]) >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                start = int(wanted[1])
                end = min(len(body), start + 400) if modes & {"capped", "overclaim"} else None
                last = len(body) - 1 if end is None or "overclaim" in modes else end - 1
                rng = f"bytes {start}-{last}/{len(body)}"
                self._send(206, body[start:end], etag=etag, content_range=rng)
        else:
            self.send_error(500, "boom")

    def _send(
        self, status: int, payload: bytes, *, etag: str | None = None,
        content_range: str | None = None, cut_at: int | None = None,
    ) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        if etag is not None:
            self.send_header("ETag", etag)
        if content_range is not None:
            self.send_header("Content-Range", content_range)
        self.end_headers()
        self.wfile.write(payload[:cut_at])
        if cut_at is not None:
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def request_log() -> Log:
    """``(path, Range, If-Range)`` of every request the test server received."""
    return []


@pytest.fixture
def server(request_log: Log) -> Iterator[tuple[str, list[str]]]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.hits = []  # type: ignore[attr-defined]
    httpd.log = request_log  # type: ignore[attr-defined]
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


def _part(name: str) -> Path:
    target = cat.path(name)
    return target.with_name(target.name + ".part")


def _unpin(monkeypatch: pytest.MonkeyPatch, toy: cat.Source) -> None:
    unpinned = replace(toy, sha256=None, sha256_omitted="test")
    monkeypatch.setattr(cat, "catalog", lambda: {"toy": unpinned})


def test_fetch__server_error_caches_nothing(
    toy: cat.Source, server: tuple[str, list[str]], data_dir: Path
) -> None:
    url = server[0] + "/error"
    with pytest.raises(LayerIOError, match="HTTP 500") as info:
        cat.fetch("toy", url=url)
    assert url in str(info.value)
    assert "Nothing was cached" in str(info.value)
    assert _cached_files(data_dir) == []


@pytest.mark.parametrize("pinned", [True, False])
def test_fetch__truncated_transfer_keeps_only_the_part(
    toy: cat.Source, server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    data_dir: Path, pinned: bool,
) -> None:  # fmt: skip
    if not pinned:
        _unpin(monkeypatch, toy)
    url = server[0] + "/truncated"
    with pytest.raises(LayerIOError, match="cut short") as info:
        cat.fetch("toy", url=url)
    message = str(info.value)
    assert url in message
    assert f"partial download was kept ({len(BODY)} bytes in {_part('toy')})" in message
    assert f"received {len(BODY)} of {10 * len(BODY)} bytes" in message
    assert _cached_files(data_dir) == [_part("toy")]
    assert _part("toy").read_bytes() == BODY


@pytest.mark.parametrize("pinned", [True, False])
def test_fetch__interrupted_download_resumes_from_kept_bytes(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log,
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, pinned: bool,
) -> None:  # fmt: skip
    if not pinned:
        _unpin(monkeypatch, toy)
    url = server[0] + "/drop-ranges.csv"
    with pytest.raises(LayerIOError, match=r"cut short.*partial download was kept"):
        cat.fetch("toy", url=url)
    assert not cat.path("toy").exists()
    kept = _part("toy").read_bytes()
    assert kept == BODY[:HALF]

    assert cat.fetch("toy", url=url) == cat.path("toy")
    assert request_log == [
        ("/drop-ranges.csv", None, None),
        ("/drop-ranges.csv", f"bytes={len(kept)}-", None),
    ]
    assert hashlib.sha256(cat.path("toy").read_bytes()).hexdigest() == BODY_SHA
    assert _cached_files(data_dir) == [cat.path("toy")]


def test_fetch__server_error_keeps_part_for_next_fetch(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log, data_dir: Path
) -> None:
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(BODY[:HALF])
    with pytest.raises(LayerIOError, match=r"HTTP 500.*partial download was kept \(850 bytes"):
        cat.fetch("toy", url=server[0] + "/error")
    assert _cached_files(data_dir) == [_part("toy")]
    assert _part("toy").read_bytes() == BODY[:HALF]

    assert cat.fetch("toy", url=server[0] + "/ranges.csv").read_bytes() == BODY
    assert request_log[-1] == ("/ranges.csv", f"bytes={HALF}-", None)
    assert _cached_files(data_dir) == [cat.path("toy")]


@pytest.mark.parametrize("route", ["/drop.csv", "/drop-wrongstart.csv"])
def test_fetch__server_without_ranges_restarts_from_zero(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log, data_dir: Path,
    route: str,
) -> None:  # fmt: skip
    """A 200 answer (or a 206 that does not start at the kept length) rewrites the part."""
    url = server[0] + route
    with pytest.raises(LayerIOError, match="partial download was kept"):
        cat.fetch("toy", url=url)
    assert _part("toy").read_bytes() == BODY[:HALF]

    assert cat.fetch("toy", url=url).read_bytes() == BODY
    assert request_log[1] == (route, f"bytes={HALF}-", None)
    assert _cached_files(data_dir) == [cat.path("toy")]


def test_fetch__resumed_bytes_failing_checksum_discard_the_part(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log, data_dir: Path
) -> None:
    """The file changed between the two transfers and the server gives no validator."""
    url = server[0] + "/drop-ranges-changed.csv"
    with pytest.raises(LayerIOError, match="partial download was kept"):
        cat.fetch("toy", url=url)
    assert _part("toy").read_bytes() == OLD_BODY[:HALF]

    with pytest.raises(LayerIOError) as info:
        cat.fetch("toy", url=url)
    spliced = hashlib.sha256(OLD_BODY[:HALF] + BODY[HALF:]).hexdigest()
    message = str(info.value)
    assert f"expected sha256 {BODY_SHA}, got {spliced}, resumed from byte {HALF}" in message
    assert "partial file included" in message
    assert request_log[1] == ("/drop-ranges-changed.csv", f"bytes={HALF}-", None)
    assert _cached_files(data_dir) == []

    # the corrupt bytes are not resumed again: the next fetch starts from byte 0
    assert cat.fetch("toy", url=url).read_bytes() == BODY
    assert request_log[2] == ("/drop-ranges-changed.csv", None, None)


def test_fetch__checksum_mismatch_after_restart_leaves_no_part_or_validator(
    toy: cat.Source, server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
) -> None:  # fmt: skip
    monkeypatch.setattr(cat, "catalog", lambda: {"toy": replace(toy, sha256=WRONG_SHA)})
    url = server[0] + "/drop-etag.csv"
    with pytest.raises(LayerIOError, match="partial download was kept"):
        cat.fetch("toy", url=url)
    assert _part("toy") in _cached_files(data_dir)
    with pytest.raises(LayerIOError, match=f"expected sha256 {WRONG_SHA}, got {BODY_SHA}\\."):
        cat.fetch("toy", url=url)
    assert _cached_files(data_dir) == []


def test_fetch__resume_sends_if_range_and_restarts_on_a_changed_file(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log,
    monkeypatch: pytest.MonkeyPatch, data_dir: Path,
) -> None:  # fmt: skip
    _unpin(monkeypatch, toy)  # without a checksum, only the validator can catch the change
    url = server[0] + "/drop-ranges-changed-etag.csv"
    with pytest.raises(LayerIOError, match="partial download was kept"):
        cat.fetch("toy", url=url)
    assert cat.fetch("toy", url=url).read_bytes() == BODY
    assert request_log[1] == ("/drop-ranges-changed-etag.csv", f"bytes={HALF}-", '"v1"')
    assert _cached_files(data_dir) == [cat.path("toy")]


@pytest.mark.parametrize("pinned", [True, False])
def test_fetch__complete_part_answered_416_is_verified_and_kept(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log,
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, pinned: bool,
) -> None:  # fmt: skip
    if not pinned:
        _unpin(monkeypatch, toy)
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(BODY)
    assert cat.fetch("toy", url=server[0] + "/ranges.csv").read_bytes() == BODY
    assert request_log == [("/ranges.csv", f"bytes={len(BODY)}-", None)]
    assert _cached_files(data_dir) == [cat.path("toy")]


def test_fetch__corrupt_full_length_part_answered_416_is_deleted(
    toy: cat.Source, server: tuple[str, list[str]], data_dir: Path
) -> None:
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(OLD_BODY)
    with pytest.raises(LayerIOError, match=f"expected sha256 {BODY_SHA}"):
        cat.fetch("toy", url=server[0] + "/ranges.csv")
    assert _cached_files(data_dir) == []


def test_fetch__capped_ranges_are_requested_until_the_file_is_complete(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log, data_dir: Path
) -> None:
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(BODY[:HALF])
    assert cat.fetch("toy", url=server[0] + "/ranges-capped.csv").read_bytes() == BODY
    assert [rng for _, rng, _ in request_log] == [f"bytes={n}-" for n in (850, 1250, 1650)]
    assert _cached_files(data_dir) == [cat.path("toy")]


def test_fetch__range_shorter_than_its_content_range_keeps_the_part(
    toy: cat.Source, server: tuple[str, list[str]], data_dir: Path
) -> None:
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(BODY[:HALF])
    url = server[0] + "/ranges-overclaim.csv"
    with pytest.raises(LayerIOError, match=f"received {HALF + 400} of {len(BODY)} bytes"):
        cat.fetch("toy", url=url)
    assert _cached_files(data_dir) == [_part("toy")]
    assert _part("toy").read_bytes() == BODY[: HALF + 400]
    assert cat.fetch("toy", url=server[0] + "/ranges.csv").read_bytes() == BODY


def test_fetch__part_longer_than_the_file_is_downloaded_again(
    toy: cat.Source, server: tuple[str, list[str]], request_log: Log, data_dir: Path
) -> None:
    _part("toy").parent.mkdir(parents=True)
    _part("toy").write_bytes(BODY + b"extra")
    assert cat.fetch("toy", url=server[0] + "/ranges.csv").read_bytes() == BODY
    assert request_log == [
        ("/ranges.csv", f"bytes={len(BODY) + 5}-", None),
        ("/ranges.csv", None, None),
    ]
    assert _cached_files(data_dir) == [cat.path("toy")]


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
    # A cached file that no longer matches the sha256 is not shown as cached.
    cat.path("toy").write_bytes(b"damaged on disk")
    assert cat.cache_status("toy") == "damaged"
    result = CliRunner().invoke(main, ["datasets", "list"])
    toy_line = next(line for line in result.output.splitlines() if " toy " in line)
    assert "damaged" in toy_line
    assert "yes" not in toy_line
    info = CliRunner().invoke(main, ["datasets", "info", "toy"])
    assert "damaged" in info.output
    assert "fetch it again" in info.output
    cat.path("toy").unlink()
    assert cat.cache_status("toy") == "no"


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
