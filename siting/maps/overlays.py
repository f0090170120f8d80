"""Raster overlays for the interactive map: a georeferenced layer as a coloured PNG.

Each overlay is reprojected to web mercator (EPSG:3857, Leaflet's own projection, so the
image can be stretched linearly between its corners), coloured with a branca colormap and
inlined as a PNG ``data:`` URI, so the map file stays self-contained. The legend is drawn
from the same colormap object and the pixels are coloured with branca's own rule
(:func:`rgba_bytes`), so a value has exactly the same colour in both.

Size is bounded: an overlay is at most ``max_px`` pixels (:data:`MAX_OVERLAY_PX` by default)
on its long side; a larger raster is averaged down (continuous layers) or takes the most
common value (categorical layers).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from siting.errors import CRSError, InvalidLayerError

if TYPE_CHECKING:
    from siting.pipeline import Result

__all__ = [
    "MAX_OVERLAY_PX",
    "Overlay",
    "OverlayImage",
    "render_overlay",
    "result_overlays",
    "rgba_bytes",
    "to_web_mercator",
]

#: The longest side, in pixels, of an overlay image; larger rasters are resampled down.
MAX_OVERLAY_PX = 2048

# Rasters whose long side is at most half of max_px are drawn at twice their resolution:
# with nearest-neighbour resampling every cell then survives the change of projection.
_OVERSAMPLE = 2

# At most this many categories get their own colour in a categorical overlay.
MAX_CATEGORIES = 20

WEB_MERCATOR = "EPSG:3857"

# Sequential palettes (ColorBrewer stops) by what a layer holds.
PALETTES: dict[str, tuple[str, ...]] = {
    "score": ("#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"),
    "availability": ("#e5f5e0", "#a1d99b", "#31a354", "#006d2c"),
    "solar": ("#ffffcc", "#fed976", "#fd8d3c", "#e31a1c", "#800026"),
    "wind": ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"),
    "geothermal": ("#fcfbfd", "#dadaeb", "#9e9ac8", "#6a51a3", "#3f007d"),
    "other": ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"),
}
# Qualitative palette for categories (ColorBrewer Set1 then Dark2 and Paired).
CATEGORY_COLOURS = (
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#ffff33", "#a65628", "#f781bf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    "#a6cee3", "#b2df8a", "#fb9a99", "#cab2d6",
)  # fmt: skip

# Name fragments of the resource layers a run's default overlay set includes.
_RESOURCES: dict[str, tuple[str, ...]] = {
    "solar": ("ghi", "dni", "solar", "irradiance"),
    "wind": ("wind",),
    "geothermal": ("heat_flow", "geotherm", "temperature_at"),
}
_RESOURCE_TITLES = {"solar": "Solar", "wind": "Wind", "geothermal": "Geothermal"}
_ACRONYMS = {"ghi", "dni", "dhi", "gap", "lcot", "pv"}


@dataclass(frozen=True)
class Overlay:
    """A raster to draw on the map, with how to draw it.

    Every option left as ``None`` is taken from the data (``attrs["kind"]``,
    ``attrs["units"]``, ``attrs["long_name"]``) or from the overlay's name.

    Parameters
    ----------
    data
        A georeferenced ``(y, x)`` DataArray (CRS written the rioxarray way). NaN cells
        are transparent.
    label
        The name in the layer control and the legend.
    units
        Shown in the legend caption.
    kind
        ``"continuous"`` (a colour ramp) or ``"categorical"`` (a colour per value).
    colors
        Colour stops of the ramp (continuous) or colours in value order (categorical).
    vmin, vmax
        The ends of the ramp; default the smallest and largest value in ``data``.
    show
        Whether the overlay is on when the map opens; default on for ``score`` only.
    opacity
        Opacity of the image on the map (and of its legend bar).
    """

    data: xr.DataArray
    label: str | None = None
    units: str | None = None
    kind: str | None = None
    colors: Sequence[str] | None = None
    vmin: float | None = None
    vmax: float | None = None
    show: bool | None = None
    opacity: float = 0.75


@dataclass(frozen=True)
class OverlayImage:
    """An overlay ready for the map: the PNG, where it goes and its legend."""

    name: str
    label: str
    units: str
    kind: str
    png: bytes
    #: ``((south, west), (north, east))`` in degrees, the corners of the image.
    bounds: tuple[tuple[float, float], tuple[float, float]]
    #: ``(rows, cols)`` of the image.
    shape: tuple[int, int]
    #: The GDAL resampling used to reproject (and maybe shrink) the raster.
    resampling: str
    #: The branca colormap of a continuous overlay (pixels and legend both use it).
    colormap: Any = None
    #: Category value → ``#rrggbb`` colour of a categorical overlay, in value order.
    categories: dict[float, str] = field(default_factory=dict)
    show: bool = False
    opacity: float = 0.75

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def caption(self) -> str:
        """Label and units, as the legend shows them."""
        return f"{self.label} ({self.units})" if self.units else self.label


def rgba_bytes(colormap: Any, values: Any) -> np.ndarray:
    """Colours of many values at once, exactly as ``colormap.rgba_bytes_tuple`` gives each.

    The same piecewise-linear interpolation between the colormap's stops, in the same
    floating-point order, then branca's conversion to bytes; what the legend shows for a
    value is what its pixels get.

    Parameters
    ----------
    colormap
        A :class:`branca.colormap.LinearColormap`.
    values
        Finite numbers, any shape.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``values.shape + (4,)`` (red, green, blue, alpha).

    Examples
    --------
    >>> import branca.colormap as cm
    >>> ramp = cm.LinearColormap(["#000000", "#ffffff"], vmin=0, vmax=10)
    >>> rgba_bytes(ramp, [0.0, 5.0, 10.0]).tolist()
    [[0, 0, 0, 255], [127, 127, 127, 255], [255, 255, 255, 255]]
    >>> ramp.rgba_bytes_tuple(5.0)
    (127, 127, 127, 255)
    """
    x = np.asarray(values, dtype="float64")
    flat = x.ravel()
    index = np.asarray(colormap.index, dtype="float64")
    colours = np.asarray(colormap.colors, dtype="float64")
    # branca: i = the number of stops below x (0 < i < n for x strictly inside the ramp)
    i = np.clip(np.searchsorted(index, flat, side="left"), 1, len(index) - 1)
    low, high = index[i - 1], index[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(high > low, (flat - low) * 1.0 / (high - low), 1.0)
    below, above = flat <= index[0], flat >= index[-1]
    out = np.empty((flat.size, 4), dtype=np.uint8)
    for channel in range(4):
        floats = (1.0 - p) * colours[i - 1, channel] + p * colours[i, channel]
        floats[below] = colours[0, channel]
        floats[above] = colours[-1, channel]
        # branca's int(u * 255.9999): truncation, the values being non-negative
        out[:, channel] = floats * 255.9999
    return out.reshape(*x.shape, 4)


def _kind(overlay: Overlay) -> str:
    kind = overlay.kind if overlay.kind is not None else overlay.data.attrs.get("kind")
    kind = "continuous" if kind is None else str(kind).lower()
    if kind not in ("continuous", "categorical"):
        raise InvalidLayerError(
            f"overlay kind must be 'continuous' or 'categorical', got {kind!r}; say what the "
            "layer holds with Overlay(data, kind=...)"
        )
    return kind


def _masked(data: xr.DataArray) -> xr.DataArray:
    """The raster as float64 with every missing value NaN (nodata is never a value); lazy
    when ``data`` is (a dask-backed raster is never loaded whole here)."""
    values = data.astype("float64")
    nodata = data.attrs.get("nodata")
    if nodata is None:
        nodata = data.rio.nodata  # what rio.write_nodata wrote
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        values = values.where(values != float(nodata))
    return values


def to_web_mercator(
    data: xr.DataArray, *, kind: str = "continuous", max_px: int = MAX_OVERLAY_PX
) -> xr.DataArray:
    """Reproject a raster to web mercator for display, at most ``max_px`` on its long side.

    A raster that fits in half of ``max_px`` is drawn at twice its resolution and a larger
    one at its own, both with nearest-neighbour resampling (every pixel shows a true cell
    value). A raster too large for ``max_px`` is shrunk with ``average`` (continuous) or
    ``mode`` (categorical) resampling.

    Parameters
    ----------
    data
        A georeferenced ``(y, x)`` DataArray; NaN (or ``attrs["nodata"]``) is missing.
    kind
        ``"continuous"`` or ``"categorical"``: decides the resampling when shrinking.
    max_px
        The longest side of the result, in pixels.

    Returns
    -------
    xarray.DataArray
        float64 on an EPSG:3857 grid, NaN where there is no data; ``attrs["resampling"]``
        names the resampling used.

    Raises
    ------
    CRSError
        ``data`` has no CRS.

    Examples
    --------
    >>> from siting.testing import coordinate_image, small_grid
    >>> big = coordinate_image(small_grid(shape=(40, 300)))
    >>> shown = to_web_mercator(big, max_px=100)
    >>> max(shown.shape) <= 100, shown.attrs["resampling"], shown.rio.crs.to_epsg()
    (True, 'average', 3857)
    """
    from affine import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from siting.grid import Grid

    if data.rio.crs is None:
        raise CRSError(
            f"overlay {data.name!r} has no CRS. Please set the CRS with "
            "data.rio.write_crs(...) (rasters from siting are georeferenced already)"
        )
    if max_px < 1:
        raise ValueError(f"max_px must be a positive number of pixels, got {max_px!r}")
    grid = Grid.from_xarray(data)
    source, src_transform = _thinned(_masked(data), grid, kind=kind, max_px=max_px)
    transform, width, height = calculate_default_transform(
        grid.crs, WEB_MERCATOR, grid.width, grid.height, *grid.bounds
    )
    long_side = max(width, height)
    if long_side * _OVERSAMPLE <= max_px:
        scale = float(_OVERSAMPLE)
    else:
        scale = min(1.0, max_px / long_side)
    shrink = scale < 1.0
    out_w = max(1, min(max_px, round(width * scale)))
    out_h = max(1, min(max_px, round(height * scale)))
    transform = transform * Affine.scale(width / out_w, height / out_h)
    # nearest keeps true cell values; shrinking summarises the cells each pixel covers
    resampling = "nearest" if not shrink else "average" if kind == "continuous" else "mode"
    out = np.full((out_h, out_w), np.nan, dtype="float64")
    reproject(
        source=source,
        destination=out,
        src_transform=src_transform,
        src_crs=grid.crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=WEB_MERCATOR,
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
    )
    name = None if data.name is None else str(data.name)
    shown = Grid(WEB_MERCATOR, transform, (out_h, out_w)).to_xarray(name=name, dtype="float64")
    shown.values[...] = out
    shown.attrs = {**data.attrs, "resampling": resampling}
    return shown


def _thinned(masked: xr.DataArray, grid: Any, *, kind: str, max_px: int) -> tuple[np.ndarray, Any]:
    """The values to warp and their transform: a raster many times larger than the image is
    first reduced by whole blocks (block means, or each block's centre cell when
    categorical), still at least twice the image's resolution, so a huge (or dask-backed)
    raster is never read whole into memory."""
    from affine import Affine

    factor = max(grid.height, grid.width) // (2 * max_px)
    if factor < 2:
        return np.asarray(masked.values, dtype="float64"), grid.transform
    rows, cols = grid.height // factor, grid.width // factor
    y, x = masked.rio.y_dim, masked.rio.x_dim
    if kind == "continuous":
        block = masked.isel({y: slice(0, rows * factor), x: slice(0, cols * factor)})
        reduced = block.coarsen({y: factor, x: factor}).mean()  # NaN skipped for floats
    else:
        centre = factor // 2
        reduced = masked.isel(
            {y: slice(centre, rows * factor, factor), x: slice(centre, cols * factor, factor)}
        )
    return np.asarray(reduced.values, dtype="float64"), grid.transform * Affine.scale(factor)


def _palette(name: str, role: str | None) -> tuple[str, ...]:
    if role is not None:
        return PALETTES[role]
    lower = name.lower()
    for key in ("score", "availability"):
        if lower == key or lower.startswith(key + "_"):
            return PALETTES[key]
    for resource, fragments in _RESOURCES.items():
        if any(f in lower for f in fragments):
            return PALETTES[resource]
    return PALETTES["other"]


def _range(masked: xr.DataArray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """The ramp's ends: as given, else the smallest and largest value at full resolution."""
    if vmin is None or vmax is None:
        import dask

        # one pass over a dask-backed raster for both ends
        found = dask.compute(masked.min(skipna=True), masked.max(skipna=True))
        smallest, largest = (float(v) for v in found)
    low = float(vmin) if vmin is not None else smallest
    high = float(vmax) if vmax is not None else largest
    if math.isnan(low) or math.isnan(high):  # no data at all
        low, high = 0.0, 1.0
    if high <= low:  # one value: a ramp of 1 % around it, so the value gets the middle colour
        delta = max(abs(low) * 0.01, 1e-6)
        low, high = low - delta, high + delta
    return low, high


def _png(rgba: np.ndarray) -> bytes:
    """An RGBA ``uint8`` array as PNG bytes, each row stored as its difference to the one above."""
    height, width, _ = rgba.shape
    rows = rgba.astype(np.uint8)
    up = np.empty_like(rows)
    up[0] = rows[0]
    up[1:] = rows[1:] - rows[:-1]  # PNG filter 2 ("Up"), modulo 256
    raw = np.concatenate([np.full((height, 1), 2, np.uint8), up.reshape(height, -1)], axis=1)

    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = struct.pack("!I", zlib.crc32(tag + body))
        return struct.pack("!I", len(body)) + tag + body + crc

    header = struct.pack("!2I5B", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)),
            chunk(b"IEND", b""),
        ]
    )


def _hex(colour: str) -> str:
    from branca.colormap import _parse_color

    return "#" + "".join(f"{int(c * 255.9999):02x}" for c in _parse_color(colour)[:3])


def render_overlay(
    name: str,
    overlay: Overlay | xr.DataArray,
    *,
    max_px: int = MAX_OVERLAY_PX,
    role: str | None = None,
) -> OverlayImage:
    """Reproject, colour and encode one overlay.

    Parameters
    ----------
    name
        The overlay's name (``score``, ``availability``, a layer name ...): the default
        label, units (from a suffix such as ``_kwh_m2_day``) and palette come from it.
    overlay
        The raster, bare or with drawing options.
    max_px
        The longest side of the image (see :func:`to_web_mercator`).
    role
        A key of :data:`PALETTES` to colour with, instead of guessing from ``name``.

    Returns
    -------
    OverlayImage

    Raises
    ------
    CRSError
        The raster has no CRS.
    InvalidLayerError
        Unknown ``kind``, or a categorical raster with more than ``MAX_CATEGORIES`` values.
    """
    import branca.colormap as cm

    from siting.maps.interactive import _unit

    spec = overlay if isinstance(overlay, Overlay) else Overlay(overlay)
    kind = _kind(spec)
    attrs = spec.data.attrs
    label = spec.label or attrs.get("long_name") or _label_of(name)
    units = spec.units if spec.units is not None else attrs.get("units") or _unit(name)
    shown = to_web_mercator(spec.data, kind=kind, max_px=max_px)
    values = shown.values
    missing = ~np.isfinite(values)
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    colormap = None
    categories: dict[float, str] = {}
    if kind == "continuous":
        low, high = _range(_masked(spec.data), spec.vmin, spec.vmax)
        colours = list(spec.colors) if spec.colors else list(_palette(name, role))
        colormap = cm.LinearColormap(colours, vmin=low, vmax=high, caption=str(label))
        rgba[~missing] = rgba_bytes(colormap, values[~missing])
    else:
        codes = np.unique(values[~missing])  # the categories the image shows
        if codes.size > MAX_CATEGORIES:
            raise InvalidLayerError(
                f"overlay {name!r} is categorical with {codes.size} distinct values; at most "
                f"{MAX_CATEGORIES} can get their own colour. Pass kind='continuous' if the "
                "values are measurements, or group the categories first"
            )
        palette = list(spec.colors) if spec.colors else list(CATEGORY_COLOURS)
        categories = {float(c): _hex(palette[i % len(palette)]) for i, c in enumerate(codes)}
        for code, colour in categories.items():
            where = values == code
            rgba[where] = [int(colour[k : k + 2], 16) for k in (1, 3, 5)] + [255]
    rgba[missing] = 0  # transparent
    left, bottom, right, top = shown.rio.bounds()
    south, west, north, east = _degrees(left, bottom, right, top)
    return OverlayImage(
        name=name,
        label=str(label),
        units=str(units),
        kind=kind,
        png=_png(rgba),
        bounds=((south, west), (north, east)),
        shape=(int(values.shape[0]), int(values.shape[1])),
        resampling=str(shown.attrs["resampling"]),
        colormap=colormap,
        categories=categories,
        show=spec.show if spec.show is not None else name == "score",
        opacity=float(spec.opacity),
    )


def _degrees(left: float, bottom: float, right: float, top: float) -> tuple[float, ...]:
    from pyproj import Transformer

    # In web mercator longitude depends on x alone and latitude on y alone: corners suffice.
    to_wgs = Transformer.from_crs(WEB_MERCATOR, "EPSG:4326", always_xy=True)
    west, south = to_wgs.transform(left, bottom)
    east, north = to_wgs.transform(right, top)
    return south, west, north, east


def _resource(name: str) -> str | None:
    lower = name.lower()
    for resource, fragments in _RESOURCES.items():
        if any(f in lower for f in fragments):
            return resource
    return None


def result_overlays(result: Result, names: Iterable[str] | None = None) -> dict[str, Overlay]:
    """The overlays of a run: score, availability and the resource layers, or chosen ones.

    Parameters
    ----------
    result
        A :class:`siting.Result`.
    names
        Which overlays: ``"score"`` (every candidate cell's score), ``"availability"``
        (the share of each cell left by the rules; excluded cells are transparent) or any
        layer of ``result.stack``. By default score, availability and every continuous
        solar, wind and geothermal layer of the stack (names containing ``ghi``, ``dni``,
        ``solar``, ``irradiance``, ``wind``, ``heat_flow``, ``geotherm``).

    Returns
    -------
    dict
        Name → :class:`Overlay`, in the order given; pass it as ``site_map(overlays=...)``.

    Raises
    ------
    KeyError
        A name is not ``score``, ``availability`` or a layer of the stack; the message lists
        the allowed names.
    """
    stack = result.stack
    allowed = ["score", "availability", *map(str, stack.data_vars)]
    if names is None:
        resources = [
            str(n)
            for n in stack.data_vars
            if _resource(str(n)) and stack[n].attrs.get("kind", "continuous") == "continuous"
        ]
        chosen = ["score", "availability", *resources]
    else:
        chosen = list(dict.fromkeys(names))
        unknown = [n for n in chosen if n not in allowed]
        if unknown:
            raise KeyError(f"unknown map overlays {unknown}; allowed: {allowed}")
    overlays: dict[str, Overlay] = {}
    for name in chosen:
        if name == "score":
            overlays[name] = Overlay(
                result.raster("score"), label="Score (every candidate cell)", units=""
            )
        elif name == "availability":
            avail = result.availability
            overlays[name] = Overlay(
                avail.where(avail > 0),
                label="Available land (excluded cells clear)",
                units="share of cell",
                kind="continuous",
                vmin=0.0,
                vmax=1.0,
            )
        else:
            layer = stack[name]
            resource = _resource(name)
            label = _label_of(name)
            if resource is not None:
                label = f"{_RESOURCE_TITLES[resource]}: {label}"
            overlays[name] = Overlay(layer, label=label)
    return overlays


def _label_of(name: str) -> str:
    """``ghi_kwh_m2_day`` → ``GHI``, ``heat_flow_mw_m2`` → ``Heat flow``."""
    from siting.maps.interactive import _label

    words = [w.upper() if w.lower() in _ACRONYMS else w for w in _label(name).split(" ")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def render_overlays(
    overlays: Mapping[str, Overlay | xr.DataArray], *, max_px: int = MAX_OVERLAY_PX
) -> list[OverlayImage]:
    """:func:`render_overlay` for each named overlay, in order."""
    return [render_overlay(name, overlay, max_px=max_px) for name, overlay in overlays.items()]
