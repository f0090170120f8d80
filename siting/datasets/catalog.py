"""The catalog of public data sources, and a checked, cached download of their files.

The catalog is ``catalog.toml``, shipped inside this package: one entry per public source
(publisher, URLs, licence, attribution, format, CRS, native resolution, version, the
sha256 of the file when it is fixed, and how its fields map to the library's names).

Downloads go through :func:`pooch.retrieve`: the file is streamed to a temporary name in
the cache folder and moved to its final name only once the transfer is complete and its
sha256 matches the catalog, so a failed, truncated or corrupt download never leaves a file
under the final name. Partial downloads are not resumed: a failed download starts again
from the first byte on the next :func:`fetch`.

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
    only when complete and, when the catalog has one, when its sha256 matches. An
    interrupted download is not resumed: the next call starts again.

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
        none was given; if the server fails, the transfer is cut short, or the sha256 does
        not match (the message names the URL, and the expected and actual sha256).
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

    progressbar = progress and importlib.util.find_spec("tqdm") is not None
    known_hash = f"sha256:{entry.sha256}" if entry.sha256 else None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fetched = pooch.retrieve(
            url,
            known_hash=known_hash,
            fname=target.name,
            path=target.parent,
            progressbar=progressbar,
        )
    except ValueError as exc:
        actual = re.search(r"but got ([0-9a-f]{64})", str(exc))
        if known_hash is None or actual is None:
            raise LayerIOError(
                f"download of dataset {entry.name!r} from {url} failed: {exc}"
            ) from exc
        raise LayerIOError(
            f"download of dataset {entry.name!r} from {url} does not match the catalog: "
            f"expected sha256 {entry.sha256}, got {actual.group(1)}. Nothing was cached. "
            "The server may have sent a corrupt or different file: try again, or check "
            "the URL."
        ) from None
    except requests.exceptions.RequestException as exc:
        raise LayerIOError(
            f"download of dataset {entry.name!r} from {url} failed: {_cause(exc)}. "
            f"Nothing was cached; try again later or download it by hand to {target}."
        ) from exc
    except OSError as exc:
        raise LayerIOError(
            f"download of dataset {entry.name!r} from {url} could not be written to "
            f"{target.parent}: {exc}"
        ) from exc
    return Path(fetched)


def _cause(exc: BaseException) -> str:
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"the transfer was cut short ({exc})"
    return f"{type(exc).__name__}: {exc}"
