"""Static maps for reports: PNG and PDF with matplotlib (Agg), no browser needed.

The figure shows the score raster, the context layers in the colours of the interactive
map, the ranked sites labelled by rank and coloured by score, a colour bar, a legend, a
scale bar in metres, a north arrow turned to true north, the title and a data attribution.
The figure is built on :class:`matplotlib.figure.Figure` directly, never through pyplot, so
making a map changes no global matplotlib state and needs no display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import xarray as xr

from siting._typing import PathLike
from siting.errors import CRSError, InvalidLayerError, OutputError, missing_dependency
from siting.export import atomic_path
from siting.maps import _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "STATIC_FORMATS",
    "data_attributions",
    "north_angle",
    "save_static_map",
    "scale_bar_length",
    "static_map",
    "static_map_of",
]

#: File suffixes :func:`save_static_map` writes.
STATIC_FORMATS = ("png", "pdf")

# Screen pixels (the interactive map's units) → points on paper.
_PX = 0.75
# Gids of the artists a caller (or a test) can find on the figure.
MAP_GID = "siting-map"
COLOUR_BAR_GID = "siting-colour-bar"
SITES_GID = "siting-sites"
SCALE_BAR_GID = "siting-scale-bar"
NORTH_ARROW_GID = "siting-north-arrow"


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise missing_dependency("matplotlib", "maps", "The static map") from None
    return matplotlib


# -- geometry helpers ------------------------------------------------------------------------


def _metres_per_unit(crs: pyproj.CRS) -> float:
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else None
    return float(factor) if factor else 1.0


def north_angle(crs: Any, x: float, y: float) -> float:
    """The direction of true north at ``(x, y)``, in degrees clockwise from grid north.

    In a conic projection such as EPSG:5070 the meridians converge, so away from the
    central meridian true north is not "up": about 13 degrees off in Nevada.

    Parameters
    ----------
    crs
        A projected CRS (anything :class:`pyproj.CRS` accepts).
    x, y
        A point in that CRS.

    Examples
    --------
    >>> abs(round(north_angle("EPSG:5070", 0.0, 2_000_000.0), 6))  # on the central meridian
    0.0
    >>> north_angle("EPSG:5070", -1_800_000.0, 2_000_000.0) > 5  # far to the west
    True
    """
    crs = pyproj.CRS.from_user_input(crs)
    to_geo = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    to_map = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    step = 0.01 if lat < 89.0 else -0.01  # near the pole, step south and turn round
    x2, y2 = to_map.transform(lon, lat + step)
    dx, dy = (x2 - x, y2 - y) if step > 0 else (x - x2, y - y2)
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise CRSError(f"cannot find true north at ({x}, {y}) in {crs.to_string()}")
    return math.degrees(math.atan2(dx, dy))


def scale_bar_length(width_m: float, *, share: float = 0.25) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten metres) at most ``share``
    of ``width_m``.

    Examples
    --------
    >>> scale_bar_length(131_750.0)
    20000.0
    >>> scale_bar_length(4_000.0)
    1000.0
    """
    if not (math.isfinite(width_m) and width_m > 0):
        raise ValueError(f"map width must be a positive number of metres, got {width_m!r}")
    target = width_m * share
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power  # pragma: no cover - the loop always ends at 1 x power


def _scale_label(length_m: float) -> str:
    if length_m >= 1000:
        return f"{length_m / 1000:g} km"
    return f"{length_m:g} m"


def _polygon_path(geom: Any) -> Any:
    """A shapely (multi)polygon → one matplotlib Path, holes wound opposite to shells."""
    from matplotlib.path import Path as MplPath

    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for part in getattr(geom, "geoms", [geom]):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        part = shapely.geometry.polygon.orient(part, 1.0)
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            ring_codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            ring_codes[0] = MplPath.MOVETO
            ring_codes[-1] = MplPath.CLOSEPOLY
            vertices.append(xy)
            codes.append(ring_codes)
    if not vertices:
        return None
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _line_parts(geom: Any) -> list[np.ndarray]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = geom.boundary
    parts = getattr(geom, "geoms", [geom])
    return [
        np.asarray(p.coords)[:, :2] for p in parts if p.geom_type in ("LineString", "LinearRing")
    ]


def _plain(text: Any) -> Any:
    """Mark a matplotlib Text as plain text: ``$`` in data never starts mathtext or TeX."""
    text.set_parse_math(False)
    text.set_usetex(False)
    return text


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _luminance(rgba: Sequence[float]) -> float:
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


# -- input checks ----------------------------------------------------------------------------


def _check_sites(sites: gpd.GeoDataFrame) -> pyproj.CRS:
    if not isinstance(sites, gpd.GeoDataFrame):
        raise InvalidLayerError(
            f"sites must be a GeoDataFrame of points, got {type(sites).__name__}; "
            "pass result.sites or read sites.gpkg with geopandas.read_file"
        )
    if sites.crs is None:
        raise CRSError("sites have no CRS; set it with .set_crs(...) before mapping")
    if sites.empty:
        raise InvalidLayerError(
            "sites is empty (0 rows): there is nothing to map; check the run's ranking "
            "(exclusions.csv says what each rule removed)"
        )
    crs = pyproj.CRS.from_user_input(sites.crs)
    if not crs.is_projected:
        raise CRSError(
            f"sites are in {crs.to_string()}, a geographic CRS; the static map measures its "
            "scale bar in metres and needs a projected CRS: reproject with "
            ".to_crs('EPSG:5070') (or the analysis CRS) first"
        )
    return crs


def _raster_on(raster: xr.DataArray, crs: pyproj.CRS) -> xr.DataArray:
    """The score raster in the map's CRS (reprojected by nearest neighbour when it differs)."""
    if not isinstance(raster, xr.DataArray) or set(raster.dims) != {"y", "x"}:
        dims = getattr(raster, "dims", None)
        raise InvalidLayerError(
            f"score_raster must be an xarray.DataArray with dims (y, x), got {dims!r}; "
            "use result.raster('score')"
        )
    raster_crs = raster.rio.crs
    if raster_crs is None:
        raise CRSError(
            "score_raster has no CRS. Please set the CRS with 'rio.write_crs()' "
            "(result.raster('score') carries the grid's CRS)."
        )
    if pyproj.CRS.from_user_input(raster_crs) != crs:
        from rasterio.enums import Resampling

        # Nearest keeps NaN (no candidate) cells out of the neighbouring scores.
        raster = raster.rio.reproject(crs, resampling=Resampling.nearest, nodata=np.nan)
    return raster


def _on(layer: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS, what: str) -> Any:
    if layer.crs is None:
        raise CRSError(f"{what} has no CRS; set it with .set_crs(...) before mapping")
    return layer.to_crs(crs)


def _coarsened(raster: xr.DataArray, limit: int = 2000) -> xr.DataArray:
    """At most ``limit`` cells a side: a report figure shows no more, and memory stays small."""
    factor = math.ceil(max(raster.sizes["y"], raster.sizes["x"]) / limit)
    if factor <= 1:
        return raster
    return raster.coarsen(y=factor, x=factor, boundary="trim").mean()


# -- attributions ----------------------------------------------------------------------------


def data_attributions(
    *,
    manifest: Mapping[str, Any] | None = None,
    sources: Iterable[str] = (),
    paths: Iterable[PathLike] = (),
) -> list[str]:
    """The data attributions for a map: from a run manifest, the catalog and input files.

    Parameters
    ----------
    manifest
        A run manifest (``manifest.json``): the ``attribution`` of each input under
        ``licences`` (those of catalog sources), any ``attributions`` entries, and the tags
        of the raster files listed under ``inputs``.
    sources
        Names of catalog sources (:func:`siting.datasets.catalog.source`): their
        ``attribution``.
    paths
        Input files: GeoTIFF tags ``attribution`` (or, for generated data, ``synthetic``
        with ``source``) are read; other files are skipped.

    Returns
    -------
    list of str
        Each attribution once, in the order found. Placeholders such as "unknown — not
        from the catalog" are left out: they credit no one.
    """
    found: list[str] = []

    def add(text: Any) -> None:
        text = " ".join(str(text).split())
        if text and not text.lower().startswith("unknown") and text not in found:
            found.append(text)

    input_paths = list(paths)
    if manifest is not None:
        for key in ("licences", "licenses", "attributions"):
            value = manifest.get(key)
            entries = value.values() if isinstance(value, Mapping) else value or []
            for entry in [entries] if isinstance(entries, str) else entries:
                if isinstance(entry, Mapping):
                    add(entry.get("attribution") or "")
                elif key == "attributions":  # a bare licence names no one to credit
                    add(entry)
        for record in (manifest.get("inputs") or {}).values():
            if isinstance(record, Mapping) and record.get("path"):
                input_paths.append(record["path"])
    if sources:
        from siting.datasets.catalog import source

        for name in sources:
            add(source(name).attribution)
    for path in input_paths:
        tags = _raster_tags(path)
        if tags.get("attribution"):
            add(tags["attribution"])
        elif tags.get("synthetic", "").strip().lower() in ("1", "true", "yes"):
            origin = tags.get("source", "generated data")
            add(f"Synthetic data generated by {origin} (not real)")
    return found


def _raster_tags(path: PathLike) -> dict[str, str]:
    if Path(path).suffix.lower() not in (".tif", ".tiff", ".vrt"):
        return {}
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as src:
            return dict(src.tags())
    except (RasterioError, OSError):
        return {}


# -- drawing ---------------------------------------------------------------------------------


def _draw_context(
    ax: Axes, name: str, layer: gpd.GeoDataFrame, legend: dict[str, list[tuple[str, Any]]]
) -> None:
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    layer = layer[~layer.geometry.is_empty & layer.geometry.notna()]
    if layer.empty:
        return
    kinds = set(layer.geom_type)
    title = name.replace("_", " ").capitalize()
    manager = _style.manager_column(layer) if name == "federal_land" else None
    voltage = _style.voltage_column(layer) if name == "transmission_lines" else None
    if kinds <= {"Point", "MultiPoint"}:
        style = _style.POINT_STYLE.get(name, _style.OTHER_POINT)
        xy = shapely.get_coordinates(layer.geometry.values)
        size = (2 * style["radius"] * _PX) ** 2
        ax.scatter(
            xy[:, 0], xy[:, 1], s=size, c=style["fillColor"], edgecolors=style["color"],
            linewidths=0.6, zorder=5,
        )  # fmt: skip
        handle = Line2D(
            [], [], linestyle="", marker="o", markersize=2 * style["radius"] * _PX,
            markerfacecolor=style["fillColor"], markeredgecolor=style["color"],
        )  # fmt: skip
        legend.setdefault("Points", []).append((title, handle))
        return
    if kinds <= {"Polygon", "MultiPolygon"}:
        patches, colours = [], []
        for geom, value in zip(
            layer.geometry, layer[manager] if manager else [None] * len(layer), strict=True
        ):
            path = _polygon_path(geom)
            if path is None:
                continue
            patches.append(PathPatch(path))
            colours.append(_style.manager_colour(_style.manager_key(value)) if manager else None)
        if manager:
            # Fill beneath the score raster, outline above it: the land shows where it
            # was excluded and its boundary shows everywhere.
            ax.add_collection(
                PatchCollection(patches, facecolors=colours, edgecolors="none", alpha=0.35,
                                zorder=1)
            )  # fmt: skip
            ax.add_collection(
                PatchCollection(
                    [PathPatch(p.get_path()) for p in patches], facecolors="none",
                    edgecolors=colours, linewidths=0.8, zorder=3,
                )
            )  # fmt: skip
            keys = sorted({_style.manager_key(v) for v in layer[manager]})
            entries = legend.setdefault("Federal land", [])
            for key in keys:
                colour = _style.manager_colour(key)
                entries.append((key, Patch(facecolor=colour, edgecolor=colour, alpha=0.6)))
        else:
            ax.add_collection(
                PatchCollection(patches, facecolors="#555555", edgecolors="#555555",
                                alpha=0.1, linewidths=0.8, zorder=3)
            )  # fmt: skip
        return
    segments, colours, widths, classes = [], [], [], set()
    for geom, value in zip(
        layer.geometry, layer[voltage] if voltage else [None] * len(layer), strict=True
    ):
        if voltage:
            label, colour, weight = _style.voltage_class(value)
            classes.add(label)
        else:
            colour, weight = "#555555", 1.0
        for part in _line_parts(geom):
            segments.append(part)
            colours.append(colour)
            widths.append(weight * _PX)
    ax.add_collection(
        LineCollection(segments, colors=colours, linewidths=widths, alpha=0.9, zorder=4)
    )
    if voltage:
        order = [c[1] for c in _style.VOLTAGE_CLASSES] + [_style.UNKNOWN_VOLTAGE[0]]
        entries = legend.setdefault("Transmission lines", [])
        styles = {name: (colour, weight) for _, name, colour, weight in _style.VOLTAGE_CLASSES}
        styles[_style.UNKNOWN_VOLTAGE[0]] = _style.UNKNOWN_VOLTAGE[1:]
        for label in sorted(classes, key=order.index):
            colour, weight = styles[label]
            entries.append((label, Line2D([], [], color=colour, linewidth=weight * _PX)))


def _draw_scale_bar(ax: Axes, crs: pyproj.CRS) -> None:
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    per_unit = _metres_per_unit(crs)
    length_m = scale_bar_length((x1 - x0) * per_unit)
    length = length_m / per_unit
    height = (y1 - y0) * 0.012
    left, bottom = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    ax.add_patch(
        Rectangle((left, bottom), length / 2, height, facecolor="black", edgecolor="black",
                  linewidth=0.6, zorder=8)
    )  # fmt: skip
    ax.add_patch(
        Rectangle((left + length / 2, bottom), length / 2, height, facecolor="white",
                  edgecolor="black", linewidth=0.6, zorder=8)
    )  # fmt: skip
    ax.add_patch(
        Rectangle((left, bottom), length, height, fill=False, edgecolor="black",
                  linewidth=0.6, zorder=8, gid=SCALE_BAR_GID)
    )  # fmt: skip
    for x, text in ((left, "0"), (left + length, _scale_label(length_m))):
        _plain(
            ax.text(x, bottom + height * 1.6, text, ha="center", va="bottom", fontsize=7,
                    zorder=8, gid=f"{SCALE_BAR_GID}-label" if text != "0" else None)
        )  # fmt: skip


def _draw_north_arrow(ax: Axes, crs: pyproj.CRS) -> float:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    angle = north_angle(crs, (x0 + x1) / 2, (y0 + y1) / 2)
    # The arrow is laid out in points from its tip, so its angle on paper is the true one
    # whatever the axes' shape.
    tip = (0.93, 0.93)
    length = 28.0
    dx, dy = math.sin(math.radians(angle)), math.cos(math.radians(angle))
    ax.annotate(
        "", xy=tip, xycoords="axes fraction", xytext=(-dx * length, -dy * length),
        textcoords="offset points", zorder=9, gid=NORTH_ARROW_GID,
        arrowprops={"arrowstyle": "-|>,head_length=0.6,head_width=0.3", "color": "black",
                    "linewidth": 1.4, "shrinkA": 0, "shrinkB": 0},
    )  # fmt: skip
    _plain(
        ax.annotate(
            "N", xy=tip, xycoords="axes fraction", xytext=(dx * 8, dy * 8),
            textcoords="offset points", ha="center", va="center", fontsize=9,
            fontweight="bold", zorder=9,
        )
    )  # fmt: skip
    return angle


def _extent(
    boxes: list[np.ndarray], fallback: list[np.ndarray], pad: float = 0.03
) -> tuple[float, float, float, float]:
    chosen = np.array(boxes or fallback, dtype=float)
    chosen = chosen[np.all(np.isfinite(chosen), axis=1)]
    west, south = chosen[:, 0].min(), chosen[:, 1].min()
    east, north = chosen[:, 2].max(), chosen[:, 3].max()
    span = max(east - west, north - south, 1.0)
    return (west - pad * span, south - pad * span, east + pad * span, north + pad * span)


def static_map(
    sites: gpd.GeoDataFrame,
    *,
    score_raster: xr.DataArray | None = None,
    context: Mapping[str, gpd.GeoDataFrame] | None = None,
    region: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    score: str = "score",
    label: str = "rank",
    score_units: str | None = None,
    title: str = "Ranked sites",
    attributions: str | Sequence[str] | None = None,
    figsize: tuple[float, float] = (9.0, 6.5),
    dpi: float = 150,
) -> Figure:
    """A static map of ranked sites over the score raster and context, for reports.

    The map is drawn in the sites' CRS, which must be projected (the analysis CRS,
    EPSG:5070 by default): the scale bar is measured in its units, the north arrow is
    turned to true north at the map's centre.

    Parameters
    ----------
    sites
        Ranked sites (points) with a projected CRS, ``rank`` and ``score`` columns.
    score_raster
        The score on the grid (``result.raster("score")``), drawn under everything else;
        NaN cells are transparent. Reprojected (nearest neighbour) when its CRS differs.
    context
        Named vector layers: ``federal_land`` coloured by manager, ``transmission_lines``
        by voltage class, point layers (``substations``, ``towns``, ...) and any other
        layer in a neutral style, as on the interactive map.
    region
        The region's outline (white land on grey); it also sets the map's extent.
    score, label
        The column that colours the sites (and its colour bar), and the column written on
        each site.
    score_units
        Units shown on the colour bar; by default the raster's ``units`` attribute, or
        "unitless, higher is better".
    title
        The map's title.
    attributions
        The data attribution line (``"Data: ..."``); see :func:`data_attributions`.
    figsize, dpi
        Figure size in inches and resolution for PNG.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`save_static_map`.

    Raises
    ------
    CRSError
        The sites, the raster or a layer has no CRS; the sites' CRS is geographic.
    InvalidLayerError
        ``sites`` is empty or not a GeoDataFrame; ``score_raster`` is not a (y, x) array.
    MissingDependencyError
        matplotlib is not installed (``pip install 'siting[maps]'``).
    """
    matplotlib = _matplotlib()
    crs = _check_sites(sites)
    from matplotlib import colors as mcolors
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    raster = _raster_on(score_raster, crs) if score_raster is not None else None
    layers = {str(k): _on(v, crs, f"context layer {k!r}") for k, v in (context or {}).items()}
    outline = _on(region, crs, "region") if region is not None else None
    points = sites.geometry
    if not bool((points.geom_type == "Point").all()):
        points = points.representative_point()
    xy = shapely.get_coordinates(points.values)

    values = (
        pd.to_numeric(sites[score], errors="coerce").to_numpy(float)
        if score in sites.columns
        else np.full(len(sites), np.nan)
    )
    finite = [values[np.isfinite(values)]]
    if raster is not None:
        raster = _coarsened(raster)
        grid_values = np.asarray(raster.values, dtype=float)
        finite.append(grid_values[np.isfinite(grid_values)])
    pooled = np.concatenate(finite)
    low, high = (float(pooled.min()), float(pooled.max())) if pooled.size else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.05, high + 0.05
    cmap = mcolors.LinearSegmentedColormap.from_list(
        "siting_score", _style.SCORE_COLOURS
    ).with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    norm = mcolors.Normalize(vmin=low, vmax=high)
    if score_units is None:
        score_units = (raster.attrs.get("units") if raster is not None else None) or (
            "unitless, higher is better"
        )

    with matplotlib.rc_context({"text.usetex": False, "font.family": "DejaVu Sans"}):
        fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(fig)
        fig.set_facecolor("white")
        ax = fig.add_axes((0.02, 0.08, 0.66, 0.82), gid=MAP_GID)
        ax.set_facecolor(_style.BACKGROUND if outline is not None else "white")
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])

        boxes = [xy.min(axis=0).tolist() + xy.max(axis=0).tolist()]
        framing: list[np.ndarray] = []
        legend: dict[str, list[tuple[str, Any]]] = {}
        if outline is not None and not outline.empty:
            patches = [_polygon_path(g) for g in outline.geometry if g is not None]
            for path in filter(None, patches):
                ax.add_patch(
                    PathPatch(path, facecolor="white", edgecolor="#333333", linewidth=1.5,
                              alpha=0.8, zorder=0.5)
                )  # fmt: skip
            framing.append(np.asarray(outline.total_bounds))
        if raster is not None:
            left, bottom, right, top = raster.rio.bounds()
            y = raster["y"].values
            upper = bool(y.size < 2 or y[0] > y[-1])
            ax.imshow(
                np.ma.masked_invalid(grid_values), cmap=cmap, norm=norm, interpolation="nearest",
                extent=(left, right, bottom, top), origin="upper" if upper else "lower",
                zorder=2, alpha=0.9,
            )  # fmt: skip
            framing.append(np.array([left, bottom, right, top]))
        for name, layer in layers.items():
            if not layer.empty:
                _draw_context(ax, name, layer, legend)
                boxes.append(np.asarray(layer.total_bounds))
        west, south, east, north = _extent(
            [*framing, boxes[0]] if framing else [], [np.asarray(b) for b in boxes]
        )
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)

        # Sites: best drawn last (on top), labelled by rank, coloured by score.
        fills = [cmap(norm(v)) if np.isfinite(v) else mcolors.to_rgba("#999999") for v in values]
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[::-1]
        ax.scatter(
            xy[order, 0], xy[order, 1], s=(15.0**2), c=[fills[i] for i in order],
            edgecolors="#222222", linewidths=0.8, zorder=6, gid=SITES_GID,
        )  # fmt: skip
        labels = sites[label] if label in sites.columns else pd.Series([""] * len(sites))
        for i in order:
            text = labels.iloc[i]
            text = "" if _missing(text) else str(text)
            _plain(
                ax.text(
                    xy[i, 0], xy[i, 1], text, ha="center", va="center", fontsize=6.5,
                    fontweight="bold", zorder=7, clip_on=True,
                    color="black" if _luminance(fills[i]) > 0.59 else "white",
                )
            )  # fmt: skip

        _draw_scale_bar(ax, crs)
        _draw_north_arrow(ax, crs)
        _plain(ax.set_title(str(title), fontsize=12, loc="left", fontweight="bold"))

        cax = fig.add_axes((0.72, 0.58, 0.022, 0.3), gid=COLOUR_BAR_GID)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        bar.set_label(f"Site {score} ({score_units})", fontsize=8)
        _plain(bar.ax.yaxis.label)
        bar.ax.tick_params(labelsize=7)

        handles: list[Any] = []
        names: list[str] = []
        headers: list[int] = []
        if outline is not None and not outline.empty:
            handles.append(Patch(facecolor="white", edgecolor="#333333"))
            names.append("Region")
        for group in [*_style.LEGEND_GROUPS, *sorted(set(legend) - set(_style.LEGEND_GROUPS))]:
            if group not in legend:
                continue
            headers.append(len(names))
            handles.append(Patch(visible=False))
            names.append(group)
            for text, handle in legend[group]:
                handles.append(handle)
                names.append(text)
        headers.append(len(names))
        handles.append(Patch(visible=False))
        names.append("Ranked sites")
        handles.append(
            Line2D([], [], linestyle="", marker="o", markersize=9, markerfacecolor=cmap(0.75),
                   markeredgecolor="#222222")
        )  # fmt: skip
        names.append(f"{label} on marker, colour by {score}")
        box = fig.legend(
            handles, names, loc="upper left", bbox_to_anchor=(0.7, 0.52), fontsize=7,
            frameon=False, handlelength=1.6, borderaxespad=0.0,
        )  # fmt: skip
        for i, text in enumerate(box.get_texts()):
            _plain(text)
            if i in headers:
                text.set_fontweight("bold")

        if isinstance(attributions, str):
            attributions = [attributions]
        credit = "; ".join(a for a in (attributions or []) if a)
        if credit:
            _plain(
                fig.text(0.02, 0.015, f"Data: {credit}", fontsize=6, color="#333333",
                         ha="left", va="bottom", wrap=True)
            )  # fmt: skip
    return fig


def static_map_of(
    result: Any, *, region: gpd.GeoDataFrame | gpd.GeoSeries | None = None, **options: Any
) -> Figure:
    """The static map of a pipeline run: its sites over its score raster and context.

    The title is the scenario's name; the attribution line credits the catalog sources the
    scenario's inputs name (``source = "..."``) and what the input rasters' tags say
    (:func:`data_attributions`), unless given in ``options``.

    Parameters
    ----------
    result
        A :class:`siting.pipeline.Result`.
    region
        The region's outline; read from the scenario's ``[region]`` when not given.
    **options
        Passed to :func:`static_map` (``context`` replaces the run's context layers).
    """
    scenario = result.scenario
    if region is None and scenario.region is not None:
        from siting.pipeline import _region

        region = _region(scenario)
    options.setdefault("title", scenario.name)
    options.setdefault("context", result.context)
    if "attributions" not in options:
        # Catalog sources named by the scenario's inputs, then the input files' own tags.
        specs = [*scenario.layers.values(), *scenario.vectors.values()]
        named = [s.source for s in specs if getattr(s, "source", None)]
        options["attributions"] = data_attributions(
            sources=dict.fromkeys(named), paths=scenario.input_paths().values()
        )
    return static_map(result.sites, score_raster=result.raster("score"), region=region, **options)


def save_static_map(
    fig: Figure | gpd.GeoDataFrame, path: PathLike, *, dpi: float | None = None, **map_options: Any
) -> Path:
    """Write a static map as PNG or PDF (by the suffix of ``path``), atomically.

    Parameters
    ----------
    fig
        A figure from :func:`static_map`, or the sites to map: then ``map_options`` are
        passed to :func:`static_map`.
    path
        The file to write: ``.png`` or ``.pdf``.
    dpi
        Resolution of a PNG (the figure's own by default).

    Raises
    ------
    OutputError
        The suffix is not one of :data:`STATIC_FORMATS`.
    """
    matplotlib = _matplotlib()
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in STATIC_FORMATS:
        raise OutputError(
            f"cannot write a static map as {path.name!r}: the suffix must be one of "
            f"{', '.join('.' + s for s in STATIC_FORMATS)}"
        )
    if isinstance(fig, gpd.GeoDataFrame):
        fig = static_map(fig, **map_options)
    elif map_options:
        raise TypeError(f"map options {sorted(map_options)} need sites, not a figure")
    with atomic_path(path) as tmp:
        if kind == "png":
            _write_png(fig, tmp, dpi=dpi or fig.dpi)
        else:
            # Text as TrueType (searchable in the PDF); no date, so the same map gives the
            # same bytes.
            with matplotlib.rc_context({"pdf.fonttype": 42}):
                fig.savefig(
                    tmp, format="pdf", metadata={"CreationDate": None, "Creator": None},
                    facecolor="white",
                )  # fmt: skip
    return path


def _write_png(fig: Figure, path: Path, *, dpi: float) -> None:
    """An opaque RGB PNG (a quarter smaller than matplotlib's RGBA), with no software tag."""
    import io

    from PIL import Image  # matplotlib depends on Pillow

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").save(path, format="PNG", dpi=(dpi, dpi))
