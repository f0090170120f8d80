"""Finished runs: read a run folder, compare two runs, explain why a site ranks where it does.

A run folder is what :func:`siting.run` (or ``siting run``) writes: the ranked sites
(``sites.gpkg``, ``sites.parquet`` or ``sites.csv``), ``manifest.json`` (written last, so its
presence marks a complete run) and ``exclusions.csv``. Everything here reads those files
only, so runs made on another machine or by an older version can be compared and explained.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from siting._typing import PathLike
from siting.errors import CRSError, CRSMismatchError, LayerIOError, SiteNotFoundError
from siting.export import MANIFEST_NAME

__all__ = [
    "SITE_FILES",
    "RunComparison",
    "RunFolder",
    "SiteExplanation",
    "compare_runs",
    "explain_site",
    "read_run",
]

#: The files a run's ranked sites may be in, in the order they are looked for.
SITE_FILES = ("sites.gpkg", "sites.parquet", "sites.csv")
#: The top-k cut-offs :func:`compare_runs` reports the overlap of by default.
DEFAULT_KS = (1, 5, 10, 20)

_SITE_SUMMARY = ["rank", "cell_id", "score", "lon", "lat"]


@dataclass(frozen=True)
class RunFolder:
    """What a finished run wrote: its ranked sites, manifest and exclusion report."""

    path: Path
    #: Ranked sites in rank order (``rank`` 1 first), with their CRS.
    sites: gpd.GeoDataFrame
    manifest: dict[str, Any]
    #: ``exclusions.csv``: the area each exclusion rule removed; None when absent.
    exclusions: pd.DataFrame | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """The manifest's ``summary`` (CRS, grid, scorer ...), empty when it has none."""
        summary = self.manifest.get("summary")
        return dict(summary) if isinstance(summary, Mapping) else {}

    @property
    def scenario(self) -> dict[str, Any]:
        """The scenario the run was made from, as recorded in its manifest."""
        scenario = self.manifest.get("scenario")
        return dict(scenario) if isinstance(scenario, Mapping) else {}


def read_run(path: PathLike) -> RunFolder:
    """Read the output folder of a finished run.

    Parameters
    ----------
    path
        A folder written by :func:`siting.run` or ``siting run``/``siting demo``.

    Returns
    -------
    RunFolder

    Raises
    ------
    LayerIOError
        The folder does not exist, is not a run (no ``manifest.json``: not a run, or one
        that did not finish), has no sites file, or a file is unreadable.
    """
    run = Path(path).expanduser()
    if not run.is_dir():
        kind = "is not a folder" if run.exists() else "does not exist"
        raise LayerIOError(
            f"run folder {str(run)!r} {kind}. Give the output folder of `siting run` or "
            "`siting demo`."
        )
    manifest_path = run / MANIFEST_NAME
    if not manifest_path.is_file():
        raise LayerIOError(
            f"{str(run)!r} is not a finished run: it has no {MANIFEST_NAME} (written last by "
            "every run). Give the output folder of `siting run`, or run the scenario again."
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerIOError(f"{str(manifest_path)!r} is not readable JSON ({exc}).") from None
    if not isinstance(manifest, dict):
        raise LayerIOError(f"{str(manifest_path)!r} is not a JSON object.")
    # What the manifest lists is this run's; another file of the same name may be left from
    # an earlier run (manifests of older versions list no outputs: any file then).
    outputs = manifest.get("outputs")
    listed = set(outputs.values()) if isinstance(outputs, Mapping) else None
    ours = [name for name in SITE_FILES if listed is None or name in listed]
    sites_path = next((run / name for name in ours if (run / name).is_file()), None)
    if sites_path is None:
        raise LayerIOError(
            f"run folder {str(run)!r} has no ranked sites (none of {', '.join(SITE_FILES)}). "
            'Run the scenario again with "gpkg", "parquet" or "csv" in [outputs] formats.'
        )
    sites = _read_sites(sites_path)
    missing = [c for c in ("rank", "score") if c not in sites.columns]
    if missing:
        raise LayerIOError(f"{str(sites_path)!r} has no {missing} column(s): not a site table.")
    sites = sites.sort_values("rank", kind="stable").reset_index(drop=True)
    exclusions = None
    if (run / "exclusions.csv").is_file() and (listed is None or "exclusions.csv" in listed):
        exclusions = pd.read_csv(run / "exclusions.csv")
    return RunFolder(run, sites, manifest, exclusions)


def _read_sites(path: Path) -> gpd.GeoDataFrame:
    what = f"the ranked sites {str(path)!r}"
    try:
        if path.suffix == ".gpkg":
            from siting.datasets._io import read_vector

            return read_vector(path, what)
        if path.suffix == ".parquet":
            return gpd.read_parquet(path)
        table = pd.read_csv(path)
    except LayerIOError:
        raise
    except Exception as exc:
        raise LayerIOError(f"cannot read {what}: {exc}") from None
    needed = [c for c in ("x", "y", "crs") if c not in table.columns]
    if needed:
        raise LayerIOError(f"{what} has no {needed} column(s): cannot place the sites.")
    crs = table["crs"].dropna().unique()
    if len(crs) != 1:
        raise LayerIOError(f"{what} names {len(crs)} CRSs in its 'crs' column; expected one.")
    geometry = gpd.points_from_xy(table["x"], table["y"])
    return gpd.GeoDataFrame(table.drop(columns="crs"), geometry=geometry, crs=str(crs[0]))


def _as_run(run: RunFolder | PathLike) -> RunFolder:
    return run if isinstance(run, RunFolder) else read_run(run)


# -- compare ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunComparison:
    """How the rankings of two runs differ (see :func:`compare_runs`).

    Attributes
    ----------
    run_a, run_b
        The two run folders.
    matched_by
        ``"cell_id"`` (identical grids) or ``"location"`` (nearest site within
        ``tolerance_m``).
    tolerance_m
        The matching distance for ``"location"``; None for ``"cell_id"``.
    common
        One row per site in both runs, in A's rank order: ``cell_id_a``, ``cell_id_b``,
        ``rank_a``, ``rank_b``, ``rank_change`` (B minus A: negative means it ranks higher
        in B), ``score_a``, ``score_b``, ``score_change`` (B minus A), ``distance_m``.
    only_in_a, only_in_b
        Sites of one run without a match in the other: rank, cell_id, score, lon, lat.
    spearman, kendall
        Rank correlation of the common sites (NaN with fewer than two).
    top_k_jaccard
        For each k, the Jaccard overlap of the two top-k lists: matched pairs in both top-k
        over the sites in either.
    scenario_changes
        ``(key path, value in A, value in B)`` for every scenario value that differs; None
        stands for a key one scenario does not have.
    """

    run_a: Path
    run_b: Path
    matched_by: Literal["cell_id", "location"]
    tolerance_m: float | None
    common: pd.DataFrame
    only_in_a: pd.DataFrame
    only_in_b: pd.DataFrame
    spearman: float
    kendall: float
    top_k_jaccard: dict[int, float]
    scenario_changes: tuple[tuple[str, Any, Any], ...]
    n_sites: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN becomes None)."""
        return _plain(
            {
                "run_a": str(self.run_a),
                "run_b": str(self.run_b),
                "sites_a": self.n_sites[0],
                "sites_b": self.n_sites[1],
                "matched_by": self.matched_by,
                "tolerance_m": self.tolerance_m,
                "common_sites": len(self.common),
                "spearman": self.spearman,
                "kendall": self.kendall,
                "top_k_jaccard": {str(k): v for k, v in self.top_k_jaccard.items()},
                "common": self.common.to_dict("records"),
                "only_in_a": self.only_in_a.to_dict("records"),
                "only_in_b": self.only_in_b.to_dict("records"),
                "scenario_changes": [
                    {"path": path, "a": a, "b": b} for path, a, b in self.scenario_changes
                ],
            }
        )


def compare_runs(
    run_a: RunFolder | PathLike,
    run_b: RunFolder | PathLike,
    *,
    match: Literal["auto", "cell_id", "location"] = "auto",
    tolerance_m: float | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> RunComparison:
    """Compare the rankings of two runs: shared and lost sites, rank and score changes.

    Sites are matched by ``cell_id`` when both runs used the identical grid (CRS, shape and
    transform); otherwise each site is paired with the nearest unpaired site of the other
    run within ``tolerance_m`` (closest pairs first).

    Parameters
    ----------
    run_a, run_b
        Run folders (paths or :class:`RunFolder`).
    match
        ``"auto"`` (by cell id on identical grids, else by location), or force one way.
    tolerance_m
        How far apart two sites may be and still be the same site when matched by
        location; default the coarser of the two grids' cell sizes.
    ks
        The top-k cut-offs of :attr:`RunComparison.top_k_jaccard` (those above both
        runs' site counts are dropped, keeping the smallest).

    Returns
    -------
    RunComparison

    Raises
    ------
    LayerIOError
        A folder is missing or not a finished run.
    CRSMismatchError
        The runs' sites are in different CRSs.
    GridError
        ``match="cell_id"`` on runs whose grids differ.
    ValueError
        A bad ``tolerance_m`` or ``ks``.
    """
    from scipy import stats

    from siting.errors import GridError

    a, b = _as_run(run_a), _as_run(run_b)
    if a.sites.crs is None or b.sites.crs is None or a.sites.crs != b.sites.crs:
        raise CRSMismatchError(
            f"the runs are in different CRSs ({_crs_name(a)} in {str(a.path)!r}, "
            f"{_crs_name(b)} in {str(b.path)!r}): their sites cannot be matched. Run both "
            "scenarios on the same [grid] crs."
        )
    if tolerance_m is not None and not (math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise ValueError(f"tolerance_m must be a finite distance >= 0, got {tolerance_m}")
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"ks must be whole numbers >= 1, got {list(ks)}")
    same_grid = _grids_equal(_grid_key(a), _grid_key(b))
    if match == "cell_id" and not same_grid:
        raise GridError(
            "match='cell_id' needs both runs on the identical grid (CRS, shape, transform); "
            "these differ. Use match='location' (--match location) with a tolerance."
        )
    by_cell = match == "cell_id" or (match == "auto" and same_grid)
    if by_cell:
        pairs = _match_cells(a.sites, b.sites)
        tolerance = None
    else:
        if a.sites.crs.is_geographic:
            raise CRSError(
                f"the runs' sites are in a geographic CRS ({_crs_name(a)}); matching by "
                "location needs metres. Run the scenarios on a projected [grid] crs."
            )
        tolerance = float(tolerance_m) if tolerance_m is not None else _default_tolerance(a, b)
        pairs = _match_locations(a.sites, b.sites, tolerance)

    ia, ib, distance = pairs
    sa, sb = a.sites, b.sites
    common = pd.DataFrame(
        {
            "cell_id_a": _column(sa, "cell_id", ia),
            "cell_id_b": _column(sb, "cell_id", ib),
            "rank_a": sa["rank"].to_numpy()[ia],
            "rank_b": sb["rank"].to_numpy()[ib],
            "score_a": sa["score"].to_numpy(dtype=float)[ia],
            "score_b": sb["score"].to_numpy(dtype=float)[ib],
            "distance_m": distance,
        }
    )
    common.insert(4, "rank_change", common["rank_b"] - common["rank_a"])
    common["score_change"] = common["score_b"] - common["score_a"]
    common = common.sort_values("rank_a", kind="stable").reset_index(drop=True)
    if len(common) >= 2:
        spearman = float(stats.spearmanr(common["rank_a"], common["rank_b"]).statistic)
        kendall = float(stats.kendalltau(common["rank_a"], common["rank_b"]).statistic)
    else:
        spearman = kendall = math.nan

    rank_a, rank_b = sa["rank"].to_numpy()[ia], sb["rank"].to_numpy()[ib]
    longest = max(len(sa), len(sb))
    wanted = sorted({int(k) for k in ks})
    kept = [k for k in wanted if k <= longest] or wanted[:1]
    jaccard = {}
    for k in kept:
        both = int(((rank_a <= k) & (rank_b <= k)).sum())
        either = int((sa["rank"] <= k).sum() + (sb["rank"] <= k).sum()) - both
        jaccard[k] = both / either if either else math.nan

    return RunComparison(
        run_a=a.path,
        run_b=b.path,
        matched_by="cell_id" if by_cell else "location",
        tolerance_m=tolerance,
        common=common,
        only_in_a=_unmatched(sa, ia),
        only_in_b=_unmatched(sb, ib),
        spearman=spearman,
        kendall=kendall,
        top_k_jaccard=jaccard,
        scenario_changes=tuple(_diff(a.scenario, b.scenario)),
        n_sites=(len(sa), len(sb)),
    )


def _crs_name(run: RunFolder) -> str:
    crs = run.sites.crs
    return "no CRS" if crs is None else crs.to_string()


def _grid_key(run: RunFolder) -> tuple[str, tuple[int, ...], tuple[float, ...]] | None:
    """CRS, shape and transform of the run's grid; None when the run does not say."""
    summary = run.summary
    shape = summary.get("grid_shape")
    if shape is None or run.sites.crs is None:
        return None
    transform = summary.get("grid_transform")
    if transform is None:
        # Older manifests: recover the grid origin from a site's cell and its centre.
        res = summary.get("resolution_m")
        cols = ("row", "col", "x", "y")
        if res is None or run.sites.empty or any(c not in run.sites for c in cols):
            return None
        site = run.sites.iloc[0]
        left = float(site["x"]) - (float(site["col"]) + 0.5) * res
        top = float(site["y"]) + (float(site["row"]) + 0.5) * res
        transform = [res, 0.0, left, 0.0, -res, top]
    return run.sites.crs.to_string(), tuple(shape), tuple(float(v) for v in transform)


def _grids_equal(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    if a is None or b is None or a[:2] != b[:2]:
        return False
    # A millimetre is far below any cell size and above float noise in the origin.
    return bool(np.allclose(a[2], b[2], rtol=0.0, atol=1e-3))


def _default_tolerance(a: RunFolder, b: RunFolder) -> float:
    sizes = [r.summary.get("resolution_m") for r in (a, b)]
    known = [float(s) for s in sizes if isinstance(s, int | float)]
    return max(known) if known else 250.0


def _match_cells(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for name, sites in (("A", a), ("B", b)):
        if "cell_id" not in sites.columns:
            raise LayerIOError(f"the sites of run {name} have no cell_id column to match on.")
    index_b = {cell: i for i, cell in enumerate(b["cell_id"].tolist())}
    ia = [i for i, cell in enumerate(a["cell_id"].tolist()) if cell in index_b]
    ib = [index_b[a["cell_id"].iloc[i]] for i in ia]
    ia_arr, ib_arr = np.asarray(ia, dtype=int), np.asarray(ib, dtype=int)
    return ia_arr, ib_arr, _distances(a, b, ia_arr, ib_arr)


def _match_locations(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one pairs within the tolerance, closest first (ties by rank in A, then B)."""
    from scipy.spatial import cKDTree

    xy_a = np.column_stack([a.geometry.x, a.geometry.y])
    xy_b = np.column_stack([b.geometry.x, b.geometry.y])
    near = cKDTree(xy_a).sparse_distance_matrix(cKDTree(xy_b), tolerance_m, output_type="ndarray")
    order = np.lexsort((near["j"], near["i"], near["v"]))
    used_a, used_b = np.zeros(len(a), bool), np.zeros(len(b), bool)
    ia, ib = [], []
    for i, j in zip(near["i"][order], near["j"][order], strict=True):
        if not used_a[i] and not used_b[j]:
            used_a[i] = used_b[j] = True
            ia.append(int(i))
            ib.append(int(j))
    ia_arr, ib_arr = np.asarray(ia, dtype=int), np.asarray(ib, dtype=int)
    return ia_arr, ib_arr, _distances(a, b, ia_arr, ib_arr)


def _distances(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, ia: np.ndarray, ib: np.ndarray
) -> np.ndarray:
    ga, gb = a.geometry.to_numpy()[ia], b.geometry.to_numpy()[ib]
    return np.array([p.distance(q) for p, q in zip(ga, gb, strict=True)], dtype=float)


def _column(sites: gpd.GeoDataFrame, name: str, index: np.ndarray) -> np.ndarray:
    if name not in sites.columns:
        return np.full(len(index), None, dtype=object)
    return sites[name].to_numpy()[index]


def _unmatched(sites: gpd.GeoDataFrame, matched: np.ndarray) -> pd.DataFrame:
    keep = np.ones(len(sites), bool)
    keep[matched] = False
    columns = [c for c in _SITE_SUMMARY if c in sites.columns]
    return pd.DataFrame(sites.loc[keep, columns]).reset_index(drop=True)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested scenario data → ``{"scorer.criteria.ghi.weight": 3, "rules[0].layer": ...}``.

    Lists of scalars (ranges, bounds, formats) stay whole: they are one value each.
    """
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        out = {}
        for i, item in enumerate(value):
            out |= _flatten(item, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def _diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    flat_a, flat_b = _flatten(a), _flatten(b)
    keys = sorted(set(flat_a) | set(flat_b))
    return [
        (key, flat_a.get(key), flat_b.get(key))
        for key in keys
        if key not in flat_a or key not in flat_b or flat_a[key] != flat_b[key]
    ]


# -- explain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteExplanation:
    """Why a site ranks where it does (see :func:`explain_site`).

    ``contributions`` lists each criterion's additive part of the score, largest magnitude
    first, with the site's value of the criterion, its units and, for the weighted overlay,
    its weight (normalised to sum to 1, as the manifest records it);
    ``neighbours`` the sites ranked just above and below; ``permitting`` the ``permit*``
    columns when the run screened permits; ``rules`` every exclusion rule of the run
    (none of which excluded this site) with the site's value of the layer it reads.
    """

    run: Path
    rank: int
    n_sites: int
    cell_id: Any
    score: float
    location: dict[str, float]
    availability: float | None = None
    score_interval: tuple[float, float] | None = None
    p_top_k: float | None = None
    contributions: list[dict[str, Any]] = field(default_factory=list)
    neighbours: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    permitting: dict[str, Any] | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN becomes None)."""
        return _plain(
            {
                "run": str(self.run),
                "rank": self.rank,
                "sites": self.n_sites,
                "cell_id": self.cell_id,
                "score": self.score,
                "score_interval": (
                    None
                    if self.score_interval is None
                    else {"lower": self.score_interval[0], "upper": self.score_interval[1]}
                ),
                "p_top_k": self.p_top_k,
                "availability": self.availability,
                "location": self.location,
                "contributions": self.contributions,
                "neighbours": self.neighbours,
                "permitting": self.permitting,
                "rules_not_excluding": self.rules,
            }
        )


def explain_site(
    run: RunFolder | PathLike,
    site: int,
    *,
    by: Literal["rank", "cell_id"] = "rank",
) -> SiteExplanation:
    """Why the site of a run ranks where it does: score, contributions, neighbours, rules.

    Parameters
    ----------
    run
        A run folder (path or :class:`RunFolder`).
    site
        The site's rank (1 = best) or, with ``by="cell_id"``, its cell id.
    by
        What ``site`` is.

    Returns
    -------
    SiteExplanation

    Raises
    ------
    LayerIOError
        The folder is missing or not a finished run.
    SiteNotFoundError
        No site has that rank or cell id; the message gives the valid ones.
    """
    folder = _as_run(run)
    sites = folder.sites
    if by == "rank":
        hits = np.flatnonzero(sites["rank"].to_numpy() == site)
        if not len(hits):
            raise SiteNotFoundError(
                f"run {str(folder.path)!r} has no site of rank {site}: ranks go from "
                f"{int(sites['rank'].min())} to {int(sites['rank'].max())}."
                if len(sites)
                else f"run {str(folder.path)!r} has no ranked sites."
            )
    elif by == "cell_id":
        if "cell_id" not in sites.columns:
            raise SiteNotFoundError(
                f"the sites of run {str(folder.path)!r} have no cell_id; give a rank instead."
            )
        hits = np.flatnonzero(sites["cell_id"].to_numpy() == site)
        if not len(hits):
            ids = sites["cell_id"].tolist()
            shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
            raise SiteNotFoundError(
                f"cell_id {site} is not a ranked site of run {str(folder.path)!r}; its "
                f"{len(ids)} sites have cell_id {shown} (or give a rank from 1 to {len(ids)})."
            )
    else:
        raise ValueError(f"by must be 'rank' or 'cell_id', got {by!r}")
    i = int(hits[0])
    row = sites.iloc[i]
    interval = None
    if {"score_lower", "score_upper"} <= set(sites.columns):
        interval = (float(row["score_lower"]), float(row["score_upper"]))
    return SiteExplanation(
        run=folder.path,
        rank=int(row["rank"]),
        n_sites=len(sites),
        cell_id=row.get("cell_id"),
        score=float(row["score"]),
        location={k: float(row[k]) for k in ("lon", "lat", "x", "y") if k in sites.columns},
        availability=float(row["availability"]) if "availability" in sites.columns else None,
        score_interval=interval,
        p_top_k=float(row["p_top_k"]) if "p_top_k" in sites.columns else None,
        contributions=_contributions(folder, row),
        neighbours={
            "above": _neighbour(sites, i, i - 1),
            "below": _neighbour(sites, i, i + 1),
        },
        permitting=_permitting(sites, row),
        rules=_rules(folder, row),
    )


def _units(folder: RunFolder, column: str) -> str | None:
    from siting.permitting.dossier import feature_units

    recorded = folder.summary.get("units")
    if isinstance(recorded, Mapping) and recorded.get(column):
        return str(recorded[column])
    return feature_units(column)


def _contributions(folder: RunFolder, row: pd.Series) -> list[dict[str, Any]]:
    scorer = folder.summary.get("scorer")
    weights = scorer.get("weights") if isinstance(scorer, Mapping) else None
    weights = weights if isinstance(weights, Mapping) else {}
    parts: list[dict[str, Any]] = []
    for column in row.index:
        if not str(column).startswith("contribution_"):
            continue
        name = str(column).removeprefix("contribution_")
        weight = weights.get(name)
        parts.append(
            {
                "criterion": name,
                "contribution": float(row[column]),
                "value": row[name] if name in row.index else None,
                "units": _units(folder, name) if name in row.index else None,
                "weight": None if weight is None else float(weight),
            }
        )
    magnitude = [abs(p["contribution"]) if math.isfinite(p["contribution"]) else -1 for p in parts]
    order = sorted(range(len(parts)), key=lambda k: (-magnitude[k], parts[k]["criterion"]))
    return [parts[k] for k in order]


def _neighbour(sites: gpd.GeoDataFrame, i: int, j: int) -> dict[str, Any] | None:
    if not 0 <= j < len(sites):
        return None
    here, there = sites.iloc[i], sites.iloc[j]
    distance = None
    if sites.crs is not None and not sites.crs.is_geographic:
        distance = float(here.geometry.distance(there.geometry)) / 1000.0
    return {
        "rank": int(there["rank"]),
        "cell_id": there.get("cell_id"),
        "score": float(there["score"]),
        # Positive: the neighbour scores higher.
        "score_difference": float(there["score"]) - float(here["score"]),
        "distance_km": distance,
    }


def _permitting(sites: gpd.GeoDataFrame, row: pd.Series) -> dict[str, Any] | None:
    columns = [c for c in sites.columns if str(c).startswith("permit")]
    return {str(c): row[c] for c in columns} if columns else None


def _rules(folder: RunFolder, row: pd.Series) -> list[dict[str, Any]]:
    """The run's exclusion rules beside the site's value of the layer each one reads.

    ``exclusions.csv`` lists the rules in scenario order (then contiguity, when set), so
    its rows pair with the manifest's scenario rules by position.
    """
    report = folder.exclusions
    if report is None or "rule" not in report.columns:
        return []
    specs = folder.scenario.get("rules")
    specs = specs if isinstance(specs, list) else []
    out = []
    for k, record in enumerate(report.to_dict("records")):
        spec = specs[k] if k < len(specs) and isinstance(specs[k], Mapping) else None
        layer: str | None = None
        if spec is not None:
            # The stack layer the rule reads: vector rules read the setback factor they made.
            vector = spec.get("vector")
            named = spec.get("layer") or spec.get("name") or (vector and f"setback_{vector}")
            layer = None if named is None else str(named)
        value = row[layer] if layer is not None and layer in row.index else None
        out.append(
            {
                "rule": str(record["rule"]),
                "layer": layer,
                "value": value,
                "units": None if layer is None or value is None else _units(folder, layer),
                "excluded_alone_km2": record.get("excluded_alone_km2"),
                "excluded_in_sequence_km2": record.get("excluded_in_sequence_km2"),
            }
        )
    return out


def _plain(value: Any) -> Any:
    """Numpy and pandas values → JSON types; NaN and NA → None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
