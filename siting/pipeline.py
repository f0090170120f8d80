"""``run(scenario)``: the stages of DESIGN.md chained into one straight pipeline.

Each stage is a plain function from :mod:`siting` called on the previous stage's value; this
module only wires them, times them and reports progress. Planners can call any stage alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import box
from sklearn.base import clone

from siting import constraints, layers
from siting._typing import PathLike
from siting.candidates import (
    best_candidates,
    candidates_to_raster,
    cells_to_candidates,
    score_raster,
)
from siting.checkpoint import scratch_folder
from siting.energy import match_sites
from siting.errors import ScenarioError
from siting.export import (
    MANIFEST_NAME,
    InputChecksums,
    check_scratch_dir,
    manifest,
    prepare_output_dir,
    remove_earlier_run,
    write_cogs,
    write_csv,
    write_json,
    write_sites,
)
from siting.features import (
    LatencyModel,
    cfe_share_layer,
    cooling_layer,
    distance_to_nearest,
    population_within_latency_raster,
)
from siting.grid import Grid
from siting.ranking import select_top
from siting.scenario import (
    CleanEnergyFeatureSpec,
    CoolingFeatureSpec,
    DistanceFeatureSpec,
    LatencyFeatureSpec,
    Scenario,
    ScorerSpec,
)
from siting.scoring import (
    SiteScorer,
    WeightedOverlay,
    ahp_weights,
    learned_statistics,
    rank_stability,
    score_replicates_model,
    score_replicates_overlay,
    training_table,
)

__all__ = ["STAGES", "Progress", "Result", "check_inputs", "read_vector", "run"]

#: The stages in order, as reported to a progress callback.
STAGES = (
    "grid",
    "layers",
    "constraints",
    "features",
    "candidates",
    "scoring",
    "ranking",
    "outputs",
)

#: ``progress(stage, index, total)`` is called as each stage starts.
Progress = Callable[[str, int, int], None]


@dataclass
class Result:
    """Everything a run produced, for further work in a notebook."""

    scenario: Scenario
    grid: Grid
    stack: xr.Dataset
    availability: xr.DataArray
    exclusions: pd.DataFrame
    candidates: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    context: dict[str, gpd.GeoDataFrame]
    #: The fitted scorer (:class:`~siting.scoring.WeightedOverlay` or ``SiteScorer``).
    scorer: Any = None
    #: Permit screening of the sites (``permitting.json``), when the scenario asks for it.
    permitting: dict[str, Any] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    #: Rasters already written by the run, read back lazily instead of computed again.
    _written: dict[str, xr.DataArray] = field(default_factory=dict, repr=False)

    def raster(self, column: str = "score") -> xr.DataArray:
        """A candidate column (``score`` by default) back on the grid; NaN off the candidates.

        Any per-cell column of :attr:`candidates` works, for example a criterion or a
        ``contribution_*`` column when the scorer explains every cell. When a chunked run
        kept only the best candidates, the score is computed for every cell tile by tile.
        """
        if column in self._written:
            return self._written[column]
        kept = len(self.candidates)
        if column == "score" and self.candidates.attrs.get("n_candidates", kept) > kept:
            return score_raster(
                self.stack,
                self.availability,
                self.scorer.predict,
                columns=self.scenario.scorer.inputs(),
                min_availability=self.scenario.ranking.min_availability,
            )
        return candidates_to_raster(self.candidates, self.grid, column)


def read_vector(
    path: PathLike, *, layer: str | None = None, what: str = "vector"
) -> gpd.GeoDataFrame:
    """Read a vector file (any OGR format), insisting on a CRS."""
    from siting.datasets._io import read_vector as read

    return read(path, what, layer=layer, engine="pyogrio")


def check_inputs(scenario: Scenario) -> Grid:
    """Open every input of ``scenario`` as a run would, reading headers, not data.

    Checks that each file exists and opens, that rasters have a CRS, the band asked for and
    cover the grid, that vector layers exist and have a CRS, and that the region makes a
    grid; with the same errors as a run (``siting validate``). Damage inside a file's data
    shows only when a run reads it.

    Returns
    -------
    Grid
        The grid the run would use.
    """
    import pyogrio

    from siting.errors import CRSError, LayerIOError
    from siting.schedulers import DEFAULT_CHUNKS

    inputs = scenario.input_paths()
    missing = sorted({str(path) for path in inputs.values() if not path.is_file()})
    if missing:
        raise LayerIOError(f"input files not found: {', '.join(missing)}")
    grid = Grid.from_geometry(_region(scenario), scenario.grid.resolution_m, scenario.grid.crs)
    grid.metres_per_unit  # noqa: B018 (the ranking's spacing needs a projected CRS: raises)
    _aligned_layers(scenario, inputs, grid, DEFAULT_CHUNKS)  # lazily: headers, not data
    for name, vspec in scenario.vectors.items():
        path = inputs[f"vector:{name}"]
        try:
            info = pyogrio.read_info(path, layer=vspec.layer)
        except Exception as exc:  # pyogrio raises several unrelated types
            raise LayerIOError(f"Could not read vectors.{name} from {str(path)!r}: {exc}") from exc
        if not info.get("crs"):
            raise CRSError(
                f"vectors.{name} from {str(path)!r} has no CRS, and a CRS is never guessed. "
                "Set the CRS it is really in (e.g. ogr2ogr -a_srs EPSG:4326)."
            )
    return grid


def _aligned_layers(
    scenario: Scenario, inputs: dict[str, Path], grid: Grid, chunks: int | None
) -> dict[str, xr.DataArray]:
    """The scenario's raster layers on ``grid`` (lazy with ``chunks``)."""
    return {
        name: layers.align(
            inputs[f"layer:{name}"],
            grid,
            kind=spec.kind,
            resampling=spec.resampling,
            name=name,
            chunks=chunks,
        )
        for name, spec in scenario.layers.items()
    }


def _voltage_filtered(
    features: gpd.GeoDataFrame, spec: DistanceFeatureSpec, what: str
) -> gpd.GeoDataFrame:
    if spec.min_voltage_kv is None:
        return features
    if spec.voltage_column not in features.columns:
        raise ScenarioError(
            f"{what}.voltage_column = {spec.voltage_column!r} is not a column of the "
            f"{spec.vector!r} features; columns: {sorted(map(str, features.columns))}"
        )
    voltage = pd.to_numeric(features[spec.voltage_column], errors="coerce")
    return features[voltage >= spec.min_voltage_kv]


def _population_within(
    population: gpd.GeoDataFrame,
    spec: LatencyFeatureSpec,
    grid: Grid,
    name: str,
    chunks: int | None = None,
) -> xr.DataArray:
    if spec.weight_column not in population.columns:
        raise ScenarioError(
            f"features.{name}.weight_column = {spec.weight_column!r} is not a column of "
            f"vectors.{spec.vector}; columns: {sorted(map(str, population.columns))}"
        )
    model = LatencyModel(route_factor=spec.route_factor, fixed_overhead_ms=spec.fixed_overhead_ms)
    reached = population_within_latency_raster(
        population,
        grid,
        budget_ms=spec.budget_ms,
        model=model,
        weight_column=spec.weight_column,
        chunks=chunks,
    )
    reached.attrs.update(
        units="people",
        long_name=f"population within {spec.budget_ms:g} ms round trip ({spec.vector})",
    )
    return grid.georeference(reached.rename(name))


def _climate_feature(
    stack: xr.Dataset, spec: CleanEnergyFeatureSpec | CoolingFeatureSpec, name: str
) -> xr.DataArray:
    if isinstance(spec, CleanEnergyFeatureSpec):
        use_solar, use_wind = spec.solar_share > 0, spec.solar_share < 1
        return cfe_share_layer(
            stack[spec.ghi_layer] if use_solar and spec.ghi_layer else None,
            stack[spec.wind_layer] if use_wind and spec.wind_layer else None,
            overbuild=spec.overbuild,
            battery_hours=spec.battery_hours,
            solar_share=spec.solar_share,
            name=name,
        )
    return cooling_layer(
        stack[spec.temperature_layer],
        spec.kind,
        base_c=spec.base_c,
        threshold_c=spec.threshold_c,
        seasonal_amplitude_c=spec.seasonal_amplitude_c,
        diurnal_amplitude_c=spec.diurnal_amplitude_c,
        weather_sd_c=spec.weather_sd_c,
        name=name,
    )


def _cached_state_outlines() -> gpd.GeoDataFrame | None:
    """US state outlines for the map's basemap, if the ``us_atlas`` source is cached.

    Never downloads: ``siting datasets fetch us_atlas`` once puts them in the cache, and
    every map after that draws them, offline.
    """
    from siting.datasets import catalog, read_us_atlas

    if not catalog.is_cached("us_atlas"):
        return None
    return read_us_atlas(catalog.path("us_atlas"), layer="states")


def _region(scenario: Scenario) -> gpd.GeoDataFrame:
    spec = scenario.region
    if spec is None:
        raise ScenarioError("the scenario has no [region]: give bounds with a crs, or a path")
    if spec.bounds is not None:
        return gpd.GeoDataFrame(geometry=[box(*spec.bounds)], crs=spec.crs)
    assert spec.path is not None
    return read_vector(scenario.resolve(spec.path), layer=spec.layer, what="region")


def run(
    scenario: Scenario,
    *,
    out_dir: PathLike | None = None,
    overwrite: bool = False,
    chunks: int | None = None,
    progress: Progress | None = None,
    scheduler: str | Any | None = None,
    address: str | None = None,
    workers: int | None = None,
    scratch_dir: PathLike | None = None,
) -> Result:
    """Run a scenario from layers to ranked sites, optionally writing the outputs.

    Parameters
    ----------
    scenario
        A validated :class:`~siting.scenario.Scenario`.
    out_dir
        Folder for the outputs; checked before any work starts. None writes nothing.
    overwrite
        Replace an earlier run in ``out_dir``.
    chunks
        Tile edge in cells: raster stages run lazily tile by tile (dask); None runs in memory.
    progress
        Called with ``(stage, index, total)`` as each stage starts.
    scheduler
        Where the tiles are computed: ``"threads"`` (dask's default), ``"processes"``,
        ``"synchronous"``, ``"distributed"`` or a ``distributed.Client`` (see
        :func:`siting.schedulers.use_scheduler`). Implies ``chunks`` (default
        :data:`~siting.schedulers.DEFAULT_CHUNKS`).
    address
        ``tcp://host:port`` of a running dask scheduler (``scheduler="distributed"``).
    workers
        Start a local cluster of this many worker processes (``scheduler="distributed"``).
    scratch_dir
        An existing folder for a tiled run's intermediate tiles (in a ``siting-scratch-*``
        folder removed when the run ends). Default: the output folder, or without one a
        temporary folder. On a cluster every worker must see it; a cluster run with neither
        computes the availability again in each pass that needs it.

    Returns
    -------
    Result
        With ``chunks``, ``candidates`` holds only the best candidates, enough for an exact
        ranking (``attrs["n_candidates"]`` counts them all; see docs/pipeline.md, "Scaling
        out").

    Raises
    ------
    ClusterError
        The dask scheduler at ``address`` does not answer (before anything is written).
    OutputError
        ``out_dir`` cannot be written or holds a run, or ``scratch_dir`` is not a folder
        that can be written (before anything is written).
    """
    if scratch_dir is not None:
        scratch_dir = check_scratch_dir(scratch_dir)
    if scheduler is not None or address is not None or workers is not None:
        from siting.schedulers import DEFAULT_CHUNKS, use_scheduler

        # Connected before anything is written, so an unreachable cluster leaves nothing.
        with use_scheduler(scheduler, address=address, workers=workers):
            return run(
                scenario,
                out_dir=out_dir,
                overwrite=overwrite,
                chunks=chunks or DEFAULT_CHUNKS,
                progress=progress,
                scratch_dir=scratch_dir,
            )
    target = prepare_output_dir(out_dir, overwrite=overwrite) if out_dir is not None else None
    with ExitStack() as cleanup:
        scratch = None if chunks is None else _scratch_folder(target, scratch_dir, cleanup)
        inputs = scenario.input_paths()
        # The manifest's checksums are computed while the run works, not after it.
        checksums = None
        if target is not None:
            checksums = cleanup.enter_context(InputChecksums(inputs))
        return _run_stages(
            scenario, inputs, target, overwrite, chunks, progress, scratch, checksums
        )


def _scratch_folder(
    target: Path | None, scratch_dir: Path | None, cleanup: ExitStack
) -> Path | None:
    """A folder for the run's intermediate tiles, removed when the run ends; None where the
    tiles could not be shared: on a cluster, whose workers may be other machines, the
    folder must be one they see, as the inputs (``scratch_dir`` or the output folder)."""
    from siting.schedulers import on_cluster

    if scratch_dir is not None:
        return cleanup.enter_context(scratch_folder(prefix="siting-scratch-", dir=scratch_dir))
    if target is None and on_cluster():
        return None
    return cleanup.enter_context(
        scratch_folder(prefix=".scratch-" if target else "siting-", dir=target)
    )


def _run_stages(
    scenario: Scenario,
    inputs: dict[str, Path],
    target: Path | None,
    overwrite: bool,
    chunks: int | None,
    progress: Progress | None,
    scratch: Path | None,
    checksums: InputChecksums | None,
) -> Result:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if progress is not None:
            progress(name, STAGES.index(name), len(STAGES))
        t0 = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - t0

    with stage("grid"):
        region = _region(scenario)
        grid = Grid.from_geometry(region, scenario.grid.resolution_m, scenario.grid.crs)
        within = (
            layers.rasterize(region, grid, value=1.0, fill=0.0, name="in_region", chunks=chunks)
            > 0
        )

    with stage("layers"):
        aligned = _aligned_layers(scenario, inputs, grid, chunks)
        context: dict[str, gpd.GeoDataFrame] = {}
        for name, vspec in scenario.vectors.items():
            path = inputs[f"vector:{name}"]
            context[name] = read_vector(path, layer=vspec.layer, what=f"vectors.{name}").to_crs(
                grid.crs
            )
        for name, rspec in scenario.rasterize.items():
            burned = layers.rasterize(
                context[rspec.vector], grid, column=rspec.column, name=name, chunks=chunks
            )
            burned.attrs["kind"] = rspec.kind
            aligned[name] = burned
        stack = layers.build_stack(aligned, grid)

    with stage("constraints"):
        setbacks = {
            spec.stack_layer: constraints.setback_factor(
                context[spec.vector],
                grid,
                distance_m=spec.setback_distance_m,
                partial=spec.partial,
                name=spec.stack_layer,
                chunks=chunks,
            )
            for spec in scenario.rules
            if spec.vector is not None
        }
        stack = stack.assign(setbacks)
        rules = [constraints.Rule.from_spec(r) for r in scenario.rules]
        contiguity = (
            None
            if scenario.contiguity is None
            else constraints.Contiguity(**scenario.contiguity.model_dump())
        )
        combine = scenario.combine_rules
        if scratch is None:
            avail = constraints.availability(
                stack, rules, within=within, contiguity=contiguity, combine=combine
            )
            if chunks is None:
                constraints.require_available(avail, rules=rules)
            report = constraints.exclusion_report(
                stack, rules, within=within, contiguity=contiguity, combine=combine, result=avail
            )
            computed = avail
        else:
            # Each tile's rules and setbacks run once, in the pass that also labels the
            # contiguity patches and sums the report's areas; the later passes (learned
            # statistics, candidates, rasters) read the tiles back, setbacks included.
            avail, report, computed, stored = constraints.stored_availability(
                stack,
                rules,
                scratch,
                within=within,
                contiguity=contiguity,
                combine=combine,
                layers=list(setbacks),
            )
            stack = stack.assign(stored)
        if chunks is not None and (report.empty or not report["available_km2"].iloc[-1] > 0):
            # Chunked: availability is never held whole; the report's sums say if any is left.
            constraints.require_available(avail, rules=rules)

    with stage("features"):
        derived = {}
        for name, fspec in scenario.features.items():
            if isinstance(fspec, LatencyFeatureSpec):
                derived[name] = _population_within(
                    context[fspec.vector], fspec, grid, name, chunks
                )
                continue
            if isinstance(fspec, CleanEnergyFeatureSpec | CoolingFeatureSpec):
                derived[name] = _climate_feature(stack, fspec, name)
                continue
            features = _voltage_filtered(context[fspec.vector], fspec, f"features.{name}")
            metres = distance_to_nearest(features, grid, name=name, chunks=chunks)
            km = metres / 1000.0
            km.attrs = {"units": "km", "long_name": f"distance to nearest {fspec.vector}"}
            if fspec.min_voltage_kv is not None:
                km.attrs["min_voltage_kv"] = fspec.min_voltage_kv
            derived[name] = grid.georeference(km.rename(name))
        stack = stack.assign(derived)

    with stage("candidates"):
        # A chunked run fits its scorer first and scores tile by tile, keeping only the best
        # rows: the ML scorer learns from presences and background cells drawn block by
        # block, an overlay from one streaming pass of statistics, neither from the table.
        streamed = None
        if chunks is not None and scenario.scorer.method == "site_scorer":
            streamed = _fit_scorer(scenario.scorer, stack, avail, None, context)
        elif chunks is not None:
            streamed = _streamed_overlay(
                scenario.scorer, stack, avail, scenario.ranking.min_availability
            )
        if streamed is not None:
            candidates = _streamed_candidates(stack, avail, streamed, scenario)
        else:
            candidates = cells_to_candidates(
                stack, avail, min_availability=scenario.ranking.min_availability
            )

    with stage("scoring"):
        if streamed is not None:
            scorer = streamed
        else:
            scorer = _fit_scorer(scenario.scorer, stack, avail, candidates, context)
            candidates = candidates.assign(score=_scores(scorer, candidates, scenario.scorer))

    with stage("ranking"):
        _require_data_in_criteria(candidates, scenario, stack, avail)
        min_spacing_m = scenario.ranking.min_spacing_km * 1000.0
        top_n = scenario.ranking.top_n
        # The greedy selection of more sites starts with the top_n it would choose alone:
        # one selection gives the sites and the shortlist of their rank stability.
        shortlist = select_top(candidates, n=SHORTLIST_FACTOR * top_n, min_spacing_m=min_spacing_m)
        if scenario.ranking.portfolio is None:
            sites = shortlist.iloc[:top_n].copy()
        else:
            sites = _portfolio(candidates, scenario, context, min_spacing_m)
        portfolio = sites.attrs.get("portfolio")
        sites = _explain(scorer, sites, shortlist, scenario)
        if scenario.energy is not None:
            energy = scenario.energy
            fit = match_sites(
                sites,
                load_mw=energy.load_mw,
                target_cfe=energy.target_cfe,
                battery_hours=energy.battery_hours,
                solar_share=energy.solar_share,
                ghi_column=energy.ghi_layer,
                wind_column=energy.wind_layer,
                max_overbuild=energy.max_overbuild,
            )
            sites = pd.concat([sites, fit], axis=1)
        permitting = None
        if scenario.permitting is not None:
            sites, permitting = _screen_permits(sites, scenario, context)
        first = ["rank", "score", "cell_id", "lon", "lat", "x", "y", "availability"]
        rest = [c for c in sites.columns if c not in first and c != sites.geometry.name]
        sites = sites[[*first, *rest, sites.geometry.name]]
        sites.attrs["criteria"] = scenario.scorer.inputs()
        # Units the layers and features carry, for readers of the site table.
        layer_units = {
            str(name): str(layer.attrs["units"])
            for name, layer in stack.data_vars.items()
            if layer.attrs.get("units")
        }
        sites.attrs["units"] = {k: v for k, v in layer_units.items() if k in sites.columns}
        if portfolio is not None:
            sites.attrs["portfolio"] = portfolio

    result = Result(
        scenario, grid, stack, avail, report, candidates, sites, context, scorer, permitting
    )
    with stage("outputs"):
        if target is not None:
            if overwrite:  # only now: a run that fails before this leaves the earlier one
                remove_earlier_run(target)
            formats = tuple(scenario.outputs.formats)
            result.files = write_sites(sites, target, formats=formats)
            result.files["exclusions"] = write_csv(report, target / "exclusions.csv")
            if permitting is not None:
                result.files["permitting"] = write_json(permitting, target / "permitting.json")
            with _rasters_written(result, target, formats, scratch) as rasters:
                result.files.update(rasters)
                if "html" in formats:
                    from siting.maps import save_map, site_map
                    from siting.maps.overlays import result_overlays

                    overlays = result_overlays(result, scenario.outputs.map_overlays)
                    fmap = site_map(
                        sites,
                        context=context,
                        title=scenario.name,
                        region=region,
                        overlays=overlays,
                        states=_cached_state_outlines(),
                    )
                    result.files["html"] = save_map(fmap, target / "map.html")
                if "png" in formats or "pdf" in formats:
                    from siting.maps import save_static_map, static_map_of

                    figure = static_map_of(result, region=region)
                    for kind in ("png", "pdf"):
                        if kind in formats:
                            result.files[kind] = save_static_map(figure, target / f"map.{kind}")
    timings["total"] = time.perf_counter() - started
    result.timings_s = timings
    if target is not None:
        from siting import __version__

        record = manifest(
            version=__version__,
            checksums=None if checksums is None else checksums.result(),
            scenario=scenario.to_toml_dict(),
            inputs=inputs,
            outputs=result.files,
            timings_s=timings,
            summary={
                "crs": grid.crs.to_string(),
                "grid_shape": list(grid.shape),
                "grid_transform": list(grid.transform)[:6],
                "resolution_m": scenario.grid.resolution_m,
                "units": layer_units,
                "cells_available": candidates.attrs.get("n_candidates", len(candidates)),
                "sites": len(sites),
                "scorer": _scorer_summary(scorer),
                **({} if portfolio is None else {"portfolio": portfolio}),
            },
        )
        if permitting is not None and "dossier" in scenario.outputs.formats:
            from siting.permitting import build_dossiers, write_dossiers

            dossiers = build_dossiers(
                sites,
                permitting["pathways"],
                manifest=record,
                layers=permitting["layers"],
                rules_version=permitting["rules_version"],
            )
            write_dossiers(dossiers, target / "dossiers", sites=sites, overwrite=overwrite)
            result.files["dossiers"] = target / "dossiers"
            record["outputs"] = {**record["outputs"], "dossiers": "dossiers"}
        # Written last: its presence marks a complete run.
        result.files["manifest"] = write_json(record, target / MANIFEST_NAME)
    # The scratch tiles go with the run: what read them computes from the inputs again.
    result.availability = computed
    result.stack = result.stack.assign(setbacks)
    return result


def _require_data_in_criteria(
    candidates: gpd.GeoDataFrame, scenario: Scenario, stack: xr.Dataset, avail: xr.DataArray
) -> None:
    """A criterion with no data on any available cell leaves no score: name it.

    A chunked run keeps only scored rows: with none kept, a pass over the tiles finds which
    criteria have no value on a candidate cell (only then, as the run fails anyway).
    """
    scores = candidates["score"].to_numpy(dtype=float)
    if np.isfinite(scores).any() or candidates.attrs.get("n_candidates", len(scores)) == 0:
        return
    names = [name for name in scenario.scorer.inputs() if name in stack]
    if not candidates.empty:
        has_data = {name: bool(candidates[name].notna().any()) for name in names}
    else:
        import dask

        qualifies = avail.fillna(0.0) >= scenario.ranking.min_availability
        lazy = [stack[name].notnull().where(qualifies, False).any().data for name in names]
        found = dask.compute(*lazy)
        has_data = {name: bool(value) for name, value in zip(names, found, strict=True)}
    empty = [name for name, value in has_data.items() if not value]
    if empty:
        from siting.errors import NoDataInRegionError

        raise NoDataInRegionError(
            f"no available cell has data in {empty}: the layers hold only nodata there, so "
            "no cell has a score. Check that they cover the region, or drop them from "
            "[scorer]."
        )


@contextmanager
def _rasters_written(
    result: Result, target: Path, formats: tuple[str, ...], scratch: Path | None
) -> Iterator[dict[str, Path]]:
    """Write the score and availability rasters once; the maps after read them back.

    With ``"cog"`` they are the run's ``score.tif`` and ``availability.tif``. On a chunked
    run each is a pass over every tile (rules, features, scoring), and the map overlays
    and the static map would each compute them again, so when maps are asked for without
    COGs they go to the run's ``scratch`` folder (in ``target``). Yields the files the run
    keeps.
    """
    keep = "cog" in formats
    maps = bool({"html", "png", "pdf"} & set(formats))
    if not keep and not (result.availability.chunks is not None and maps and scratch):
        yield {}
        return
    original = result.availability
    folder = target if keep or scratch is None else scratch
    score = result.raster("score")
    # Together: the score's tiles need the availability's, computed once for both.
    score_path, availability_path = write_cogs(
        {
            folder / "score.tif": score,
            folder / "availability.tif": original.rename("availability"),
        }
    )
    files = {"score_cog": score_path, "availability_cog": availability_path}
    if original.chunks is not None:
        chunks = (max(original.chunks[0]), max(original.chunks[1]))
        result._written["score"] = _read_back(files["score_cog"], score, chunks)
        result.availability = _read_back(files["availability_cog"], original, chunks)
    try:
        yield files if keep else {}
    finally:
        if not keep:  # the scratch files go: back to computing them
            result._written.pop("score", None)
            result.availability = original


def _read_back(path: Path, like: xr.DataArray, chunks: tuple[int, int]) -> xr.DataArray:
    """A raster the run wrote on its own grid, lazily, as ``like`` (name, attrs, dtype)."""
    read = layers.align(
        path,
        Grid.from_xarray(like),
        kind="continuous",  # on the same grid: read cell for cell, nothing resampled
        name=str(like.name),
        chunks=chunks,
    )
    read = read.astype(like.dtype, copy=False)
    read.attrs = dict(like.attrs)
    return read


# -- scoring ---------------------------------------------------------------------------------

#: Rank stability re-selects among this many times ``top_n`` candidates: the best ones
#: that keep the minimum spacing (the selection's own rule, run further down the list), so
#: each stands for its neighbourhood. Sites far below them by the fitted scorer do not enter
#: the selection under the small perturbations the replicates apply.
SHORTLIST_FACTOR = 5
#: Weight perturbations drawn for the overlay's rank stability.
OVERLAY_REPLICATES = 200


def _fit_scorer(
    spec: ScorerSpec,
    stack: xr.Dataset,
    avail: xr.DataArray,
    candidates: gpd.GeoDataFrame | None,
    context: dict[str, gpd.GeoDataFrame],
) -> Any:
    """The scorer the scenario asks for, fitted (an overlay on the candidates' values)."""
    if spec.method == "weighted_overlay":
        if candidates is None:
            raise ValueError("a weighted overlay is fitted on the candidate table")
        return WeightedOverlay(_overlay_criteria(spec)).fit(candidates)
    presences = context[spec.presences or ""]
    for column, values in (spec.presence_filter or {}).items():
        if column not in presences.columns:
            raise ScenarioError(
                f"scorer.presence_filter: {column!r} is not a column of vectors."
                f"{spec.presences}; columns: {sorted(map(str, presences.columns))}"
            )
        presences = presences[presences[column].isin(values)]
    n_available = int((avail > 0).sum())
    X, y, _ = training_table(
        stack,
        avail,
        presences,
        features=spec.features,
        n_background=min(spec.background_points, n_available),
        random_state=spec.random_state,
    )
    model = SiteScorer(
        monotonic={name: int(v) for name, v in spec.monotonic.items()} or None,
        calibration=None if spec.calibration == "none" else spec.calibration,
        prevalence=spec.prevalence,
        n_bootstrap=spec.n_bootstrap if spec.n_bootstrap >= 2 else 0,
        random_state=spec.random_state,
    )
    return model.fit(X, y)


#: Most candidate rows a chunked run keeps at first (see :func:`_streamed_candidates`).
KEEP_CANDIDATES = 2_000_000


def _overlay_criteria(spec: ScorerSpec) -> dict[str, dict[str, Any]]:
    """The overlay's criteria as :class:`WeightedOverlay` takes them, AHP weights applied."""
    criteria = {name: c.overlay_spec() for name, c in spec.criteria.items()}
    judgements = spec.ahp_judgements()
    if judgements is not None:
        ahp = ahp_weights(judgements, list(criteria), on_inconsistent=spec.ahp_inconsistent)
        criteria = ahp.assign_weights(criteria)
    return criteria


#: Columns of a candidate table besides the layers (tiles have no cell centres yet).
_TILE_COLUMNS = ("cell_id", "row", "col", "availability")


def _streamed_overlay(
    spec: ScorerSpec, stack: xr.Dataset, avail: xr.DataArray, min_availability: float
) -> WeightedOverlay:
    """The scenario's overlay, every parameter given, ready to score tile by tile.

    An overlay scores each candidate on its own values once every parameter is known:
    what a criterion would learn from the candidates (a range, a mean) is learned first in
    one tile-by-tile pass (:func:`~siting.scoring.learned_statistics`).
    """
    criteria = learned_statistics(
        _overlay_criteria(spec), stack, avail, min_availability=min_availability
    )
    columns = {name: np.empty(0, dtype=stack[name].dtype) for name in map(str, stack.data_vars)}
    for name in _TILE_COLUMNS:
        columns.setdefault(name, np.empty(0))
    return WeightedOverlay(criteria).fit(pd.DataFrame(columns))


def _score_tile(scorer: Any, spec: ScorerSpec, table: pd.DataFrame) -> np.ndarray:
    if isinstance(scorer, WeightedOverlay):
        # Fitted on the tile too, so a tile's values are checked as the whole table's are.
        return clone(scorer).fit(table).predict(table)
    return _scores(scorer, table, spec)  # a fitted model scores each row on its own


def _cells_within(grid: Grid, distance_m: float) -> int:
    """Cell centres closer than ``distance_m`` to a cell centre, itself included (an upper
    bound: distances within 1e-9 of the limit count as closer)."""
    rx, ry = (abs(r) * grid.metres_per_unit for r in grid.resolution)
    limit = distance_m * (1 + 1e-9)
    i = np.arange(-math.floor(limit / rx), math.floor(limit / rx) + 1)
    rest = np.clip(limit**2 - (i * rx) ** 2, 0, None)
    return int((2 * np.floor(np.sqrt(rest) / ry) + 1).sum())


def _streamed_candidates(
    stack: xr.Dataset, avail: xr.DataArray, scorer: Any, scenario: Scenario
) -> gpd.GeoDataFrame:
    """The best candidates of a chunked run, scored tile by tile, never the whole table.

    Every choice of the ranking is a greedy pass in score order that takes ``need`` sites
    at most (the top ``top_n`` and the shortlists of rank stability and portfolios) and
    passes over a candidate only when it is closer than the spacing to a site already taken.
    So it never looks past ``need`` times the cells within the spacing of one cell: keeping
    that many best rows gives exactly the ranking of the whole table. Up to
    :data:`KEEP_CANDIDATES` rows are kept first, and more only if the selection runs out.
    """
    ranking = scenario.ranking
    factor = SHORTLIST_FACTOR
    if ranking.portfolio is not None:
        factor = max(factor, ranking.portfolio.shortlist_factor)
    need = ranking.top_n * factor
    spacing_m = ranking.min_spacing_km * 1000.0
    grid = Grid.from_xarray(avail)
    bound = need * _cells_within(grid, spacing_m)
    keep = min(bound, KEEP_CANDIDATES)
    while True:
        best = best_candidates(
            stack,
            avail,
            score=partial(_score_tile, scorer, scenario.scorer),
            n=keep,
            min_availability=ranking.min_availability,
        )
        if keep >= bound or len(best) < keep:
            return best
        if len(select_top(best, n=need, min_spacing_m=spacing_m)) == need:
            return best
        keep = min(bound, 4 * keep)


def _scores(scorer: Any, table: pd.DataFrame, spec: ScorerSpec) -> np.ndarray:
    if isinstance(scorer, WeightedOverlay):
        return scorer.predict(table)
    return scorer.predict_proba(table[spec.features])[:, 1]


def _explain(
    scorer: Any, sites: gpd.GeoDataFrame, shortlist: gpd.GeoDataFrame, scenario: Scenario
) -> gpd.GeoDataFrame:
    """Add to the chosen sites what is behind their scores and how sure they are.

    ``contribution_*`` (additive parts of the score: shares of the overlay score, or the
    ML model's log-odds with a ``contribution_bias``), ``score_lower``/``score_upper``
    (90 % bootstrap interval, ML only) and ``p_top_k`` (rank stability: the share of
    perturbed replicates in which the site is still selected among the ``shortlist``, the
    greedy selection of :data:`SHORTLIST_FACTOR` times ``top_n`` candidates).
    """
    spec = scenario.scorer
    top_n = scenario.ranking.top_n
    if isinstance(scorer, WeightedOverlay):
        parts = scorer.contributions(sites)
    else:
        parts = scorer.contributions(sites[spec.features])
        if scorer.n_bootstrap >= 2:
            interval = scorer.predict_interval(sites[spec.features], alpha=0.1)
            sites = sites.assign(
                score_lower=interval["lower"].to_numpy(), score_upper=interval["upper"].to_numpy()
            )
    sites = pd.concat([sites, parts.add_prefix("contribution_").set_axis(sites.index)], axis=1)

    min_spacing_m = scenario.ranking.min_spacing_km * 1000.0
    if isinstance(scorer, WeightedOverlay):
        replicates = score_replicates_overlay(
            scorer, shortlist, n_replicates=OVERLAY_REPLICATES, random_state=0
        )
    elif scorer.n_bootstrap >= 2:
        replicates = score_replicates_model(scorer, shortlist[spec.features])
    else:
        return sites
    stability = rank_stability(
        replicates,
        k=min(top_n, len(shortlist)),
        candidates=shortlist.reset_index(drop=True),
        min_spacing_m=min_spacing_m,
    )
    p_top = pd.Series(stability["p_top_k"].to_numpy(), index=shortlist["cell_id"].to_numpy())
    return sites.assign(p_top_k=p_top.reindex(sites["cell_id"].to_numpy()).to_numpy())


def _scorer_summary(scorer: Any) -> dict[str, Any]:
    """What the manifest records of the fitted scorer: its weights or what it learned from."""
    if isinstance(scorer, WeightedOverlay):
        return {"method": "weighted_overlay", "weights": dict(scorer.weights_)}
    importance = scorer.global_importance()
    return {
        "method": "site_scorer",
        "presences": int(scorer.n_presence_),
        "background": int(scorer.n_background_),
        "global_importance_log_odds": {str(k): float(v) for k, v in importance.items()},
    }


# -- permitting ------------------------------------------------------------------------------


def _screen_permits(
    sites: gpd.GeoDataFrame, scenario: Scenario, context: dict[str, gpd.GeoDataFrame]
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Screen the ranked sites, derive their permitting pathways, add the complexity columns.

    Sites are identified by their ``cell_id`` (as text) in the screening and in
    ``permitting.json``.
    """
    from siting.permitting import (
        ProjectFacts,
        load_rules,
        permitting_complexity,
        permitting_pathways,
        screen,
    )

    spec = scenario.permitting
    assert spec is not None
    rules = load_rules(
        None if spec.rules is None else scenario.resolve(spec.rules),
        extend=[scenario.resolve(p) for p in spec.extend_rules],
    )
    layers: dict[str, Any] = dict.fromkeys(rules.layers)
    layers |= {role: context[vector] for role, vector in spec.layers.items()}
    keyed = sites.assign(site_id=sites["cell_id"].astype(str))
    screening = screen(keyed, layers, id_column="site_id")
    facts = ProjectFacts(**spec.facts.model_dump())
    pathways = permitting_pathways(screening, facts, rules)
    complexity = permitting_complexity(pathways)
    complexity = complexity.rename(
        columns=lambda c: c if c.startswith("permit") else f"permit_{c}"
    )
    complexity.index = complexity.index.astype(str)
    joined = complexity.reindex(keyed["site_id"].to_numpy()).set_axis(sites.index)
    record = {
        "rules_version": str(rules.version),
        "disclaimer": pathways[0].disclaimer if pathways else "",
        "layers": {role: report.to_dict() for role, report in screening.layers.items()},
        "pathways": [pathway.to_dict() for pathway in pathways],
    }
    return pd.concat([sites, joined], axis=1), record


# -- portfolio -------------------------------------------------------------------------------


def _portfolio(
    candidates: gpd.GeoDataFrame,
    scenario: Scenario,
    context: dict[str, gpd.GeoDataFrame],
    min_spacing_m: float,
) -> gpd.GeoDataFrame:
    """The ``top_n`` sites covering the most demand, among the best spaced candidates.

    ``rank`` is the order in which the sites add coverage (``portfolio_rank``); the run
    records the solver's status, bound and gap in the sites' ``attrs``.
    """
    from siting.portfolio import select_portfolio

    spec = scenario.ranking.portfolio
    assert spec is not None
    top_n = scenario.ranking.top_n
    demand = context[spec.demand]
    if spec.weight_column not in demand.columns:
        raise ScenarioError(
            f"ranking.portfolio.weight_column = {spec.weight_column!r} is not a column of "
            f"vectors.{spec.demand}; columns: {sorted(map(str, demand.columns))}"
        )
    shortlist = select_top(
        candidates, n=spec.shortlist_factor * top_n, min_spacing_m=min_spacing_m
    )
    model = LatencyModel(route_factor=spec.route_factor, fixed_overhead_ms=spec.fixed_overhead_ms)
    chosen = select_portfolio(
        shortlist.drop(columns="rank"),
        demand,
        k=top_n,
        coverage_m=float(model.radius_m(spec.budget_ms)),
        weight_column=spec.weight_column,
        min_spacing_m=min_spacing_m,
        method=spec.solver,
        time_limit_s=spec.time_limit_s,
        score_column="score",
    )
    sites = chosen.sites.rename(columns={"portfolio_rank": "rank"})
    sites.attrs["portfolio"] = {
        "method": str(chosen.method),
        "status": str(chosen.status),
        "covered_population": float(chosen.covered_population),
        "coverage_share": float(chosen.coverage_share),
        "upper_bound": float(chosen.upper_bound),
        "gap": float(chosen.gap),
    }
    return sites.reset_index(drop=True)
