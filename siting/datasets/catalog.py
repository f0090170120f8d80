"""The catalog of public data sources, and a checked, cached download of their files.

The catalog is ``catalog.toml``, shipped inside this package: one entry per public source
(publisher, URLs, licence, attribution, format, CRS, native resolution, version, the
sha256 of the file when it is fixed, and how its fields map to the library's names).

Downloads go through :func:`pooch.retrieve` with a resuming HTTP(S) downloader. The bytes
are streamed to ``<filename>.part`` beside the final file; a transfer that breaks (or is
stopped with Ctrl-C) keeps them there, and the next :func:`fetch` asks the server for the
rest only (``Range: bytes=N-``, plus ``If-Range`` with the ETag or Last-Modified of the
response that started the part, kept in ``<filename>.part.validator``). A server that
answers with the whole file (200) gets it written again from byte 0; a 416 (nothing left
to send) means the part may be complete, and it is checked like any download. Only a
complete transfer (as long as its Content-Length or Content-Range says) is handed to pooch,
which checks the sha256 of the catalog and then renames the file to its final name, so a
failed, truncated or corrupt download never leaves a file under the final name. A sha256
mismatch deletes the part too, so the next fetch starts again from byte 0 instead of
resuming corrupt bytes. URLs other than HTTP(S) use pooch's own downloaders (no resume).

Environment variables:

``SITING_DATA_DIR``
    The cache folder (default: the user cache folder from :func:`pooch.os_cache`).
``SITING_OFFLINE``
    ``1`` (or ``true``/``yes``) forbids network access: :func:`fetch` returns cached files
    and says where to put a manually downloaded copy of any other.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from siting.errors import LayerIOError, ScenarioError

__all__ = [
    "DATA_DIR_ENV",
    "OFFLINE_ENV",
    "Source",
    "cache_dir",
    "cache_status",
    "catalog",
    "fetch",
    "is_cached",
    "parse_catalog",
    "path",
    "source",
]

DATA_DIR_ENV = "SITING_DATA_DIR"
OFFLINE_ENV = "SITING_OFFLINE"

_REQUIRED = (
    "title", "publisher", "homepage", "licence", "attribution", "format", "crs",
    "resolution", "version", "filename", "fields",
)  # fmt: skip
_OPTIONAL = ("url", "sha256", "sha256_omitted", "notes")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Source:
    """One public data source of the catalog.

    Attributes
    ----------
    name : str
        The catalog key, e.g. ``"padus"``.
    title, publisher, homepage, licence, attribution : str
        What it is, who publishes it, where it is described, under which terms, and the
        credit line to print with any map or report that uses it.
    format, crs, resolution, version : str
        File format, coordinate reference system, native resolution, and the version or
        as-of date the catalog describes.
    filename : str
        The file name in the cache folder (see :func:`path`).
    fields : Mapping[str, str]
        Source field (column, dataset or band) name → the library's name.
    url : str or None
        A direct download of the file; None when the source is an API or a portal.
    sha256 : str or None
        The sha256 of the file at ``url`` when it is fixed.
    sha256_omitted : str or None
        Why there is no checksum (when ``sha256`` is None).
    notes : str or None
        Anything else a reader must know (null markers, scale factors).
    """

    name: str
    title: str
    publisher: str
    homepage: str
    licence: str
    attribution: str
    format: str
    crs: str
    resolution: str
    version: str
    filename: str
    fields: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    sha256: str | None = None
    sha256_omitted: str | None = None
    notes: str | None = None


def parse_catalog(data: Mapping[str, Any]) -> dict[str, Source]:
    """Validate a parsed catalog (the TOML as a dict) and build its sources.

    Parameters
    ----------
    data : Mapping
        ``{"sources": {name: {key: value, ...}, ...}}``.

    Returns
    -------
    dict[str, Source]
        Sources by name, in file order.

    Raises
    ------
    ScenarioError
        On an unknown or missing key, a value of the wrong type, a malformed sha256, or a
        source with both or neither of ``sha256`` and ``sha256_omitted``; the message names
        the source and the key.

    Examples
    --------
    >>> entry = {k: "x" for k in ("title", "publisher", "homepage", "licence", "attribution",
    ...          "format", "crs", "resolution", "version", "filename", "sha256_omitted")}
    >>> parse_catalog({"sources": {"demo": {**entry, "fields": {"GHI": "ghi"}}}})["demo"].fields
    mappingproxy({'GHI': 'ghi'})
    """
    extra = set(data) - {"sources"}
    if extra:
        raise ScenarioError(f"dataset catalog: unknown top-level key(s) {sorted(extra)}")
    sources = data.get("sources")
    if not isinstance(sources, Mapping) or not sources:
        raise ScenarioError("dataset catalog: expected a non-empty [sources.NAME] table")
    return {name: _parse_source(name, entry) for name, entry in sources.items()}


def _parse_source(name: str, entry: Any) -> Source:
    where = f"dataset catalog, source {name!r}"
    if not isinstance(entry, Mapping):
        raise ScenarioError(f"{where}: expected a table, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        allowed = ", ".join((*_REQUIRED, *_OPTIONAL))
        raise ScenarioError(f"{where}: unknown key(s) {unknown}; allowed keys: {allowed}")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise ScenarioError(f"{where}: missing required key(s) {missing}")
    for key, value in entry.items():
        if key != "fields" and not (isinstance(value, str) and value.strip()):
            raise ScenarioError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    fields = entry["fields"]
    if not isinstance(fields, Mapping) or not all(isinstance(v, str) for v in fields.values()):
        raise ScenarioError(f"{where}: 'fields' must map source field names to library names")
    sha256 = entry.get("sha256")
    if (sha256 is None) == (entry.get("sha256_omitted") is None):
        raise ScenarioError(
            f"{where}: give exactly one of 'sha256' (the file is fixed) or 'sha256_omitted' "
            "(say why there is no checksum)"
        )
    if sha256 is not None:
        if not _SHA256.match(sha256):
            raise ScenarioError(f"{where}: 'sha256' must be 64 lowercase hex digits: {sha256!r}")
        if "url" not in entry:
            raise ScenarioError(f"{where}: 'sha256' is given but 'url' is missing")
    values = {key: entry[key] for key in (*_REQUIRED, *_OPTIONAL) if key in entry}
    values["fields"] = MappingProxyType(dict(fields))
    return Source(name=name, **values)


@cache
def _packaged_catalog() -> dict[str, Source]:
    text = resources.files("siting.datasets").joinpath("catalog.toml").read_text("utf-8")
    return parse_catalog(tomllib.loads(text))


def catalog() -> dict[str, Source]:
    """Every source of the packaged catalog, by name.

    The TOML file is read and validated once per process.

    Returns
    -------
    dict[str, Source]
        A new dict on every call (the :class:`Source` values are frozen).

    Examples
    --------
    >>> "padus" in catalog()
    True
    """
    return dict(_packaged_catalog())


def source(name: str) -> Source:
    """The catalog entry called ``name``.

    Raises
    ------
    ScenarioError
        If there is no such source; the message lists the known names and suggests the
        closest one.

    Examples
    --------
    >>> source("us_atlas").licence.split()[0]
    'ISC'
    """
    sources = catalog()
    if name in sources:
        return sources[name]
    close = difflib.get_close_matches(name, sources, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ScenarioError(
        f"unknown dataset {name!r}.{hint} Known datasets: {', '.join(sorted(sources))}"
    )


def cache_dir() -> Path:
    """The folder downloads are cached in.

    ``$SITING_DATA_DIR`` when set, else the user cache folder for ``siting``
    (:func:`pooch.os_cache`, e.g. ``~/.cache/siting`` on Linux). Not created here.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import pooch  # type: ignore[import-untyped]

    return Path(pooch.os_cache("siting"))


def path(name: str) -> Path:
    """Where the file of source ``name`` is cached, or would be once fetched.

    This is also where to put a copy downloaded by hand: ``<cache_dir>/<name>/<filename>``.

    Raises
    ------
    ScenarioError
        If there is no such source.
    """
    entry = source(name)
    return cache_dir() / entry.name / entry.filename


def is_cached(name: str) -> bool:
    """Whether the file of source ``name`` is in the cache (its checksum is not checked)."""
    return path(name).is_file()


def cache_status(name: str) -> str:
    """``"yes"``, ``"no"``, or ``"damaged"`` when the cached file of source ``name`` does not
    match the catalog's sha256 (:func:`fetch` downloads it again, or refuses it offline).

    Only sources with a sha256 are hashed; the others are ``"yes"`` when the file is there.
    """
    file = path(name)
    if not file.is_file():
        return "no"
    expected = source(name).sha256
    return "yes" if expected is None or _sha256(file) == expected else "damaged"


def _offline_default() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    name: str, *, offline: bool | None = None, url: str | None = None, progress: bool = False
) -> Path:
    """The local path of the file of source ``name``, downloading it first if needed.

    A cached file is returned without network access (when the catalog has a sha256 and
    the cached copy does not match it, it is downloaded again, or refused offline). A
    download is written to a temporary file in the cache folder and moved to :func:`path`
    only when complete and, when the catalog has one, when its sha256 matches. The bytes
    of an interrupted HTTP(S) download are kept beside :func:`path` (same name, plus
    ``.part``), and the next call resumes from them when the server supports ranges.

    Parameters
    ----------
    name : str
        A catalog name (see :func:`catalog`).
    offline : bool, optional
        Never use the network. Default: true when ``$SITING_OFFLINE`` is ``1``.
    url : str, optional
        Download from here instead of the catalog URL (a mirror, or a pinned release of a
        source without a fixed URL). The catalog sha256, if any, is still enforced.
    progress : bool
        Show a progress bar on stderr (needs ``tqdm``; ignored without it).

    Returns
    -------
    pathlib.Path
        The cached file.

    Raises
    ------
    ScenarioError
        If there is no such source.
    LayerIOError
        If offline and the file is not cached or fails its sha256 (the message gives the
        URL and where to put a downloaded copy); if the source has no download URL and
        none was given; if the server fails or the transfer is cut short (the message
        names the URL and says whether the partial download was kept for the next call
        to resume); or if the sha256 does not match (the message names the URL and the
        expected and actual sha256; nothing is kept, the next call starts from byte 0).
    """
    entry = source(name)
    target = path(name)
    offline = _offline_default() if offline is None else offline
    download_url = url or entry.url
    where = download_url or entry.homepage
    if target.is_file() and (entry.sha256 is None or _sha256(target) == entry.sha256):
        return target
    if offline:
        state = "is not cached" if not target.is_file() else "is cached but its sha256 is wrong"
        raise LayerIOError(
            f"dataset {name!r} {state} and offline mode is on ({OFFLINE_ENV}=1 or "
            f"offline=True). Download {where} on a connected machine and put the file at "
            f"{target} (file name {entry.filename!r}), or turn offline mode off."
        )
    if download_url is None:
        raise LayerIOError(
            f"dataset {name!r} has no direct download URL ({entry.sha256_omitted}). "
            f"Download it from {entry.homepage} and put the file at {target}, or pass "
            "url=... (--url on the command line)."
        )
    return _download(entry, download_url, target, progress=progress)


def _download(entry: Source, url: str, target: Path, *, progress: bool) -> Path:
    import pooch
    import requests

    part = _part_path(target)
    downloader: _ResumingDownloader | None = None
    if url.lower().startswith(("http://", "https://")):
        downloader = _ResumingDownloader(part, checked=entry.sha256 is not None, progress=progress)
    progressbar = progress and importlib.util.find_spec("tqdm") is not None
    known_hash = f"sha256:{entry.sha256}" if entry.sha256 else None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fetched = pooch.retrieve(
            url,
            known_hash=known_hash,
            fname=target.name,
            path=target.parent,
            downloader=downloader,
            progressbar=progressbar,
        )
    except ValueError as exc:
        actual = re.search(r"but got ([0-9a-f]{64})", str(exc))
        if known_hash is None or actual is None or isinstance(exc, requests.RequestException):
            raise _failed(entry, url, target, part, exc) from exc
        # The part file (and its validator) became the download pooch has just deleted.
        resumed = downloader.resumed_from if downloader is not None else 0
        origin = f", resumed from byte {resumed} of an earlier transfer" if resumed else ""
        raise LayerIOError(
            f"download of dataset {entry.name!r} from {url} does not match the catalog: "
            f"expected sha256 {entry.sha256}, got {actual.group(1)}{origin}. The download "
            "was deleted, partial file included, and nothing was cached. Fetch again to "
            "download it from the first byte; if the sha256 still differs, the server sends "
            "a different file than the catalog describes: check the URL."
        ) from None
    except (requests.RequestException, _TransferError) as exc:
        raise _failed(entry, url, target, part, exc) from exc
    except OSError as exc:
        raise LayerIOError(
            f"download of dataset {entry.name!r} from {url} could not be written to "
            f"{target.parent}: {exc}"
        ) from exc
    return Path(fetched)


def _failed(entry: Source, url: str, target: Path, part: Path, exc: BaseException) -> LayerIOError:
    """The error for a transfer that failed before its checksum could be checked."""
    kept = part.stat().st_size if part.is_file() else 0
    if kept:
        what_next = (
            f"The partial download was kept ({kept} bytes in {part}): fetch again to resume "
            f"it from there, or download the file by hand to {target}."
        )
    else:
        _discard(part)
        what_next = f"Nothing was cached; try again later or download it by hand to {target}."
    return LayerIOError(
        f"download of dataset {entry.name!r} from {url} failed: {_cause(exc)}. {what_next}"
    )


def _cause(exc: BaseException) -> str:
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | _TransferError):
        return f"the transfer was cut short ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _part_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept (beside it)."""
    return target.with_name(target.name + ".part")


def _validator_path(part: Path) -> Path:
    """Where the ETag or Last-Modified of the response that started ``part`` is kept."""
    return part.with_name(part.name + ".validator")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _validator_path(part).unlink(missing_ok=True)


class _TransferError(Exception):
    """The server closed the transfer before sending every byte it announced."""


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)
_TIMEOUT_S = 30
_BLOCK = 1 << 16


def _content_range(header: str | None) -> tuple[int | None, int | None, int | None]:
    """``(first byte, last byte + 1, full length)`` of a Content-Range, None if not given."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None, None, None
    first, last, total = (None if value in (None, "*") else int(value) for value in match.groups())
    return first, None if last is None else last + 1, total


def _received(size: int, total: int | None) -> str:
    return f"received {size} of {'?' if total is None else total} bytes"


def _content_length(header: str | None) -> int | None:
    return int(header) if header is not None and header.strip().isdigit() else None


class _ResumingDownloader:
    """A pooch downloader over HTTP(S) that keeps unfinished transfers and resumes them.

    The bytes go to ``part`` (beside the final file), never straight to pooch's temporary
    file. When ``part`` already holds bytes, the request asks for the rest
    (``Range: bytes=N-``, with ``If-Range`` when the first response named a validator):

    - 206 with a Content-Range starting at N: the bytes are appended;
    - 200 (no range support, or the file changed): the part is rewritten from byte 0;
    - 416 (nothing left to send): the part is taken as complete when the server's length
      equals it, or, with no length given, when a checksum will verify it; otherwise
      the part is dropped and the file downloaded again from byte 0.

    Only a complete transfer (every byte of the Content-Length or Content-Range length)
    moves the part to pooch's temporary file, which pooch checks against the sha256 and
    renames to the final name. Anything else raises and leaves the part for the next call.
    """

    def __init__(self, part: Path, *, checked: bool, progress: bool) -> None:
        self.part = part
        self.checked = checked
        self.progress = progress
        self.resumed_from = 0

    def __call__(
        self, url: str, output_file: str, pooch: object, check_only: bool = False
    ) -> None:
        kept = self.part.stat().st_size if self.part.is_file() else 0
        self.resumed_from = kept
        if not (kept and self._resume(url, kept)):
            self.resumed_from = 0
            with self._get(url, {}) as response:
                self._receive_whole(response)
        os.replace(self.part, output_file)
        _validator_path(self.part).unlink(missing_ok=True)

    def _get(self, url: str, headers: dict[str, str]) -> Any:
        import requests

        # Byte offsets must count the file's own bytes, not a compressed encoding of them.
        headers = {"Accept-Encoding": "identity", **headers}
        return requests.get(url, headers=headers, stream=True, timeout=_TIMEOUT_S)

    def _resume(self, url: str, kept: int) -> bool:
        """Complete the part from byte ``kept``; False when it cannot be continued."""
        validator = _validator_path(self.part)
        while True:
            headers = {"Range": f"bytes={kept}-"}
            if validator.is_file():
                headers["If-Range"] = validator.read_text("utf-8").strip()
            with self._get(url, headers) as response:
                first, end, total = _content_range(response.headers.get("Content-Range"))
                if response.status_code == 416:
                    return total == kept or (total is None and self.checked)
                if response.status_code != 206:
                    self.resumed_from = 0
                    self._receive_whole(response)
                    return True
                if first != kept or end is None or end <= kept:
                    return False
                self._receive(response, start=kept, end=end, total=total)
            if total is None or end >= total:
                return True
            kept = end  # the server sent less than the rest (it caps ranges): ask again

    def _receive_whole(self, response: Any) -> None:
        import requests

        response.raise_for_status()
        if response.status_code != 200:
            raise requests.HTTPError(
                f"expected HTTP 200, got {response.status_code}", response=response
            )
        etag = response.headers.get("ETag", "")
        validator = etag if etag and not etag.startswith("W/") else None
        validator = validator or response.headers.get("Last-Modified")
        self.part.parent.mkdir(parents=True, exist_ok=True)
        if validator:
            _validator_path(self.part).write_text(validator, "utf-8")
        else:
            _validator_path(self.part).unlink(missing_ok=True)
        total = _content_length(response.headers.get("Content-Length"))
        self._receive(response, start=0, end=total, total=total)

    def _receive(self, response: Any, *, start: int, end: int | None, total: int | None) -> None:
        """Write the body at byte ``start`` of the part; raise unless it then ends at ``end``.

        ``total``, the length of the whole file when known, is for the progress bar.
        """
        import urllib3

        # Read the raw body (as sent, without content decoding) in the blocks as they
        # arrive: ``iter_content`` drops the bytes of a block the connection broke in.
        raw = response.raw
        read = getattr(raw, "read1", None) or raw.read
        bar = self._progress_bar(start, total)
        size = start
        try:
            with self.part.open("ab" if start else "wb") as stream:
                while block := read(_BLOCK):
                    stream.write(block)
                    size += len(block)
                    if bar is not None:
                        bar.update(len(block))
        except urllib3.exceptions.HTTPError as exc:
            raise _TransferError(f"{_received(size, end)}, then the connection broke") from exc
        finally:
            if bar is not None:
                bar.close()
        if end is not None and size != end:
            raise _TransferError(_received(size, end))

    def _progress_bar(self, start: int, total: int | None) -> Any:
        if not (self.progress and importlib.util.find_spec("tqdm") is not None):
            return None
        from tqdm.auto import tqdm  # type: ignore[import-untyped]

        return tqdm(total=total, initial=start, unit="B", unit_scale=True, file=sys.stderr)
