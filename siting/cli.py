"""The ``siting`` command line.

Exit codes scripts can rely on:

===  ==========================================================
0    success
1    unexpected error (a bug: please report it with the traceback from ``--verbose``)
2    bad command-line usage or an invalid scenario
3    unusable input data (missing or corrupt file, CRS, grid)
4    no feasible site (every cell excluded)
5    output cannot be written (unwritable folder, existing run without ``--force``)
6    the dask cluster cannot be reached (``--address``) or started (``--workers``)
130  interrupted (Ctrl-C); 143 terminated (SIGTERM); no partial output is left
141  the reader of the output stopped early (``| head``), as for other Unix tools
===  ==========================================================
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.markup import escape as rich_escape

from siting import __version__
from siting.errors import (
    ClusterError,
    ConstraintError,
    CRSError,
    GridError,
    LayerError,
    NoFeasibleSitesError,
    OutputError,
    ScenarioError,
    SiteNotFoundError,
    SitingError,
)

__all__ = ["main"]

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ScenarioError, 2),
    (SiteNotFoundError, 2),
    (LayerError, 3),
    (CRSError, 3),
    (GridError, 3),
    (ConstraintError, 2),
    (NoFeasibleSitesError, 4),
    (OutputError, 5),
    (ClusterError, 6),
)


def _exit_code(exc: BaseException) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


class _Console:
    """Where the CLI writes: rich on stderr for progress, stdout for results."""

    def __init__(self, quiet: bool, verbose: bool) -> None:
        from rich.console import Console

        self.quiet, self.verbose = quiet, verbose
        # Piped output (logs, CI) gets a wide table rather than wrapped 80-column cells.
        width = None if sys.stdout.isatty() else 160
        self.out = Console(quiet=quiet, highlight=False, soft_wrap=True, width=width)
        self.out.on_broken_pipe = _reader_gone  # type: ignore[method-assign]
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @contextmanager
    def progress(self) -> Iterator[Callable[[str, int, int], None] | None]:
        if self.quiet:
            yield None
            return
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.err,
        )
        task = bar.add_task("starting", total=None)
        # The stage's own bar: its tile tasks, with their time remaining (dask's local
        # schedulers report each task; a distributed cluster's tasks are not seen here).
        tiles = bar.add_task("  tasks", total=None, visible=False)
        stage_name = ["starting"]

        def report(stage: str, index: int, total: int) -> None:
            stage_name[0] = stage
            bar.update(tiles, visible=False)
            bar.update(task, description=f"stage: {stage}", completed=index, total=total)

        def tasks(done: int, total: int) -> None:
            if done == 0:  # a new pass over the tiles: its own time remaining
                bar.reset(tiles, total=total, description=f"  {stage_name[0]}: tasks")
            bar.update(tiles, completed=done, total=total, visible=True)

        with bar, _TaskProgress(tasks):
            yield report
            bar.update(tiles, visible=False)
            bar.update(task, description="done", completed=bar.tasks[0].total or 0)


class _TaskProgress:
    """Calls ``report(done, total)`` as the tasks of each dask computation finish.

    A context manager. dask's local schedulers (threads, processes, synchronous) call a
    :class:`dask.callbacks.Callback` for each task; a ``dask.distributed`` client, once a
    run makes it dask's scheduler, is asked every ``every_s`` seconds how far its latest
    computation is (:mod:`siting._cluster_progress`). Reports are at most one per
    ``every_s``, and ``report(0, total)`` starts each computation.
    """

    def __init__(self, report: Callable[[int, int], None], every_s: float = 0.1) -> None:
        from dask.callbacks import Callback

        outer = self

        class _Callback(Callback):
            def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
                outer._total = sum(len(state[k]) for k in ("ready", "waiting", "running"))
                outer._total += len(state["finished"])
                outer._done, outer._last = len(state["finished"]), 0.0
                report(0, outer._total)

            def _posttask(self, *args: Any) -> None:
                outer._done += 1
                now = time.monotonic()
                if now - outer._last >= every_s or outer._done == outer._total:
                    outer._last = now
                    report(outer._done, outer._total)

        self._report, self._every_s = report, every_s
        self._callback = _Callback()
        self._total = self._done = 0
        self._last = 0.0
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_cluster, daemon=True)
        self._client: Any = None
        self._generation, self._watching = 0, False

    def __enter__(self) -> _TaskProgress:
        self._callback.__enter__()
        self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._watcher.join()
        self._callback.__exit__(*exc)

    def _watch_cluster(self) -> None:
        # Each poll is a round trip to the scheduler: twice a second at most.
        while not self._stop.wait(max(self._every_s, 0.5)):
            self._poll_cluster()
        self._poll_cluster()  # the end of the last computation

    def _poll_cluster(self) -> None:
        from siting.schedulers import active_client

        client = active_client()
        if client is None or client.status != "running":
            return
        from siting._cluster_progress import progress_of, watch

        if client is not self._client:
            self._client, self._generation, self._watching = client, 0, False
            try:
                watch(client)
                self._watching = True
            except Exception:  # a scheduler that cannot load the plugin: no bar for tasks
                return
        if not self._watching:
            return
        try:
            state = progress_of(client)
        except Exception:  # the cluster went away between two polls
            return
        if state is None:
            return
        generation, done, total = state
        if generation != self._generation:
            self._generation = generation
            self._report(0, total)
        self._report(done, total)


def _reader_gone() -> None:
    """Rich's own handling exits with 1, the code of a bug here: let :func:`_errors` end it."""
    raise BrokenPipeError


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch system's time limit), raised where the command is."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated


@contextmanager
def _terminated_like_interrupted() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so temporary and scratch files are removed; Python's
    default would end the process at once and leave them."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _errors(console: _Console) -> Iterator[None]:
    try:
        with _terminated_like_interrupted():
            yield
        sys.stdout.flush()  # here, where a reader gone early (| head) is handled below
    except SitingError as exc:
        # Escaped: messages name scenario sections such as [permitting] literally.
        console.err.print(f"[bold red]error:[/] {rich_escape(str(exc))}", markup=True)
        if console.verbose:
            console.err.print_exception()
        sys.exit(_exit_code(exc))
    except BrokenPipeError:
        # The reader of stdout stopped early (| head): end quietly, as Unix filters do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        console.err.print(f"{what}: no partial output was left under a final name")
        sys.exit(128 + signal.SIGTERM if isinstance(exc, _Terminated) else 130)


def _site_table(sites: Any, limit: int = 10, width: int = 120) -> Any:
    """The top sites: rank, score and location always, then as many criteria as fit."""
    from rich.table import Table

    head = sites.head(limit)
    criteria = [c for c in sites.columns if c in sites.attrs.get("criteria", ())]
    cells = {
        column: [_cell(column, value) for value in head[column]]
        for column in ["rank", "score", "lon", "lat", *criteria]
    }
    # Columns are never squeezed into ellipses: criteria that do not fit are left out.
    used = 4  # the table's outer borders
    columns: list[str] = []
    for column, texts in cells.items():
        needed = max(len(column), *(len(t) for t in texts), 1) + 3
        if len(columns) >= 4 and used + needed > width:
            break
        columns.append(column)
        used += needed
    left_out = len(cells) - len(columns)
    caption = f"{left_out} more criteria in sites.csv" if left_out else None
    table = Table(
        title=f"Top {min(limit, len(sites))} of {len(sites)} ranked sites", caption=caption
    )
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    for row in zip(*(cells[c] for c in columns), strict=True):
        table.add_row(*row)
    return table


def _cell(column: str, value: Any) -> str:
    if column == "rank":
        return str(value)
    if column in ("lon", "lat"):
        return f"{value:.4f}"
    return f"{value:.4g}"


def _report(console: _Console, result: Any) -> None:
    console.out.print(_site_table(result.sites, width=max(console.out.width, 60)))
    console.out.print("Wrote:")
    for name, path in sorted(result.files.items()):
        console.out.print(f"  {name:<10} {path}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="siting")
def main() -> None:
    """Find where to build edge compute next to clean energy."""


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "-q", "--quiet", is_flag=True, help="Print nothing but errors (and what --json asks for)."
    )(func)
    func = click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")(func)
    return func


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by the commands that run a scenario."""
    func = click.option("--force", is_flag=True, help="Replace an earlier run in --out.")(func)
    func = click.option(
        "--chunks",
        type=click.IntRange(16),
        default=None,
        help="Run tile by tile with this tile edge (cells), out of core.",
    )(func)
    return _common(func)


def _scheduler_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Where the tiles of a run are computed (see siting.schedulers)."""
    func = click.option(
        "--scheduler",
        type=click.Choice(["threads", "processes", "synchronous", "distributed"]),
        default=None,
        help="Compute the tiles on this dask scheduler (implies --chunks 2048 if not given).",
    )(func)
    func = click.option(
        "--address",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Join the running dask scheduler at this address, tcp://host:port (port 8786 "
        "by default; not the dashboard's http:// address), with --scheduler distributed.",
    )(func)
    func = click.option(
        "--workers",
        type=click.IntRange(1, 1024),
        default=None,
        help="Start a local dask cluster of N worker processes (with --scheduler distributed).",
    )(func)
    return func


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("siting-demo"),
              show_default=True, help="Folder for the sample inputs and the outputs.")  # fmt: skip
@click.option(
    "--top", type=click.IntRange(1, 10_000), default=None, help="How many sites to rank."
)
@_run_options
def demo(
    out_dir: Path, force: bool, top: int | None, chunks: int | None, quiet: bool, verbose: bool
) -> None:
    """Rank sites in the bundled synthetic sample region and write the outputs."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.datasets import write_demo_inputs
        from siting.export import prepare_output_dir
        from siting.pipeline import run
        from siting.scenario import Scenario

        out = prepare_output_dir(out_dir, overwrite=force)
        if not quiet:
            console.err.print(f"Writing the synthetic sample region to {out / 'inputs'} ...")
        scenario = Scenario.from_toml(write_demo_inputs(out / "inputs"))
        if top is not None:
            scenario = scenario.model_copy(
                update={"ranking": scenario.ranking.model_copy(update={"top_n": top})}
            )
        with console.progress() as progress:
            result = run(scenario, out_dir=out, overwrite=True, chunks=chunks, progress=progress)
        _report(console, result)


@main.command(name="run")
@click.argument("scenario_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder."
)
@click.option(
    "--scratch",
    "scratch_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Existing folder for a tiled run's intermediate tiles (default: in --out); "
    "on a cluster, one every worker sees.",
)
@_run_options
@_scheduler_options
def run_command(
    scenario_file: Path,
    out_dir: Path,
    scratch_dir: Path | None,
    force: bool,
    chunks: int | None,
    scheduler: str | None,
    address: str | None,
    workers: int | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run SCENARIO_FILE (TOML) and write ranked sites, map and manifest to --out."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.pipeline import run
        from siting.scenario import Scenario

        scenario = Scenario.from_toml(scenario_file)
        with console.progress() as progress:
            result = run(
                scenario,
                out_dir=out_dir,
                overwrite=force,
                chunks=chunks,
                progress=progress,
                scheduler=scheduler,
                address=address,
                workers=workers,
                scratch_dir=scratch_dir,
            )
        _report(console, result)


@main.command()
@click.argument("scenario_file", type=click.Path(path_type=Path, dir_okay=False))
@_common
def validate(scenario_file: Path, quiet: bool, verbose: bool) -> None:
    """Check SCENARIO_FILE without running it: its fields and values, and that every input
    file opens as a run needs it (headers: CRS, band, coverage of the grid, vector layers).
    Exit codes as for run."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.pipeline import check_inputs
        from siting.scenario import Scenario

        scenario = Scenario.from_toml(scenario_file)
        grid = check_inputs(scenario)
        counts = f"{len(scenario.layers)} layers, {len(scenario.vectors)} vectors"
        shape = f"{grid.height:,} x {grid.width:,} cells"
        console.out.print(
            f"{scenario_file}: valid ({counts}, {len(scenario.rules)} rules; grid {shape})"
        )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the dossiers  [default: RUN_DIR/dossiers]")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace the dossiers already in --out.")
@_common
def dossier(run_dir: Path, out_dir: Path | None, force: bool, quiet: bool, verbose: bool) -> None:
    """Write a permitting dossier for every ranked site of RUN_DIR.

    Per site a JSON record (checked against the published schema) and an offline HTML
    report, plus summary.csv and dossiers.gpkg. RUN_DIR must come from a scenario with a
    [permitting] section (it holds permitting.json). Screening is not a legal determination.
    """
    console = _Console(quiet, verbose)
    with _errors(console):
        from rich.markup import escape

        try:
            _dossiers(console, run_dir, out_dir, force)
        except SitingError as exc:
            # The messages name scenario sections such as [permitting]: print them as text.
            console.err.print("[bold red]error:[/]", escape(str(exc)), markup=True)
            if console.verbose:
                console.err.print_exception()
            sys.exit(_exit_code(exc))


def _dossiers(console: _Console, run_dir: Path, out_dir: Path | None, force: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from siting.permitting import dossier as dossiers_module

    out = out_dir if out_dir is not None else run_dir / "dossiers"
    sites, permitting, record = dossiers_module._read_run(run_dir)
    dossiers_module._check_output(out, force)
    dossiers = dossiers_module._from_run(sites, permitting, record)
    files = dossiers_module.write_dossiers(dossiers, out, sites=sites, overwrite=force)
    shown = min(10, len(dossiers))
    table = Table(
        title=f"Permitting screen, top {shown} of {len(dossiers)} sites "
        "(screening, not a legal determination)"
    )
    for column in ("rank", "site", "NEPA", "lead agency", "permits", "unknown", "months"):
        table.add_column(column, justify="left" if column == "lead agency" else "right")
    for item in dossiers[:shown]:
        site, screen = item["site"], item["permitting"]
        timeline = screen["likely_timeline_months"]
        months = f"{timeline['low']:g}-{timeline['high']:g}" + (
            "" if timeline["complete"] else "+"
        )
        cells = (
            site["rank"],
            site["id"],
            screen["nepa_level"],
            screen["lead_agency"] or "-",
            screen["complexity"]["permits_triggered"],
            screen["complexity"]["permits_unknown"],
            months,
        )
        table.add_row(*(escape(str(cell)) for cell in cells))
    console.out.print(table)
    console.out.print(f"Wrote {len(dossiers)} dossiers (JSON and HTML) to {out}", markup=False)
    console.out.print(f"  summary    {files['csv']}", markup=False)
    console.out.print(f"  gpkg       {files['gpkg']}", markup=False)


@main.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option(
    "--match",
    type=click.Choice(["auto", "cell_id", "location"]),
    default="auto",
    show_default=True,
    help="Match sites by cell id (identical grids) or by nearest location.",
)
@click.option(
    "--tolerance-m",
    type=click.FloatRange(min=0),
    default=None,
    help="How far apart matched sites may be (location matching) "
    "[default: the coarser cell size].",
)
@click.option(
    "--top-k",
    "ks",
    type=click.IntRange(1),
    multiple=True,
    help="A top-k cut-off for the overlap (repeat it)  [default: 1, 5, 10, 20]",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Rows shown in each table.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@_common
def compare(
    run_a: Path,
    run_b: Path,
    match: str,
    tolerance_m: float | None,
    ks: tuple[int, ...],
    limit: int,
    as_json: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """How the rankings of RUN_A and RUN_B differ.

    Sites only in one run, rank and score changes, Spearman and Kendall rank correlation
    of the shared sites, top-k overlap (Jaccard) and what changed in the scenario.
    """
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.runs import DEFAULT_KS, compare_runs

        try:
            result = compare_runs(
                run_a,
                run_b,
                match=match,  # type: ignore[arg-type]
                tolerance_m=tolerance_m,
                ks=ks or DEFAULT_KS,
            )
        except GridError as exc:
            if match != "cell_id":
                raise
            # The runs are fine; the option asked for what they cannot give: usage, exit 2.
            raise ScenarioError(f"--match cell_id: {exc}") from None
        if as_json:
            _echo_json(result.to_dict())
            return
        _print_comparison(console, result, limit)


def _echo_json(data: Any) -> None:
    """Print what ``--json`` asked for, ``--quiet`` or not: quiet silences the rest."""
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Large values (people, areas) read better whole than in exponent notation.
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.{digits}g}"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(title: str, columns: list[str], rows: list[list[Any]], *, left: int = 0) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*(rich_escape(_fmt(cell)) for cell in row))
    return table


def _print_comparison(console: _Console, result: Any, limit: int) -> None:
    data = result.to_dict()
    how = (
        "cell_id (identical grids)"
        if result.matched_by == "cell_id"
        else f"nearest location within {result.tolerance_m:g} m"
    )
    console.out.print(
        f"A: {result.run_a} ({data['sites_a']} sites)\nB: {result.run_b} ({data['sites_b']} "
        f"sites)\nmatched by {how}: {data['common_sites']} sites in both",
        markup=False,
    )
    agreement = [
        ["Spearman rank correlation", data["spearman"]],
        ["Kendall rank correlation", data["kendall"]],
    ]
    agreement += [[f"top-{k} overlap (Jaccard)", v] for k, v in data["top_k_jaccard"].items()]
    console.out.print(
        _table("Rank agreement (shared sites)", ["measure", "value"], agreement, left=1)
    )
    common = data["common"]
    moved = sorted(common, key=lambda r: -abs(r["rank_change"]))[:limit]
    columns = ["rank_a", "rank_b", "rank_change", "score_a", "score_b", "score_change"]
    columns += ["cell_id_a", "cell_id_b", "distance_m"]
    title = (
        f"Rank and score changes, largest moves first ({len(moved)} of {len(common)}; "
        "rank_change < 0: higher in B)"
    )
    console.out.print(_table(title, columns, [[r[c] for c in columns] for r in moved]))
    for name in ("a", "b"):
        records = data[f"only_in_{name}"]
        columns = list(records[0]) if records else ["rank", "cell_id", "score"]
        rows = [[r[c] for c in columns] for r in records[:limit]]
        console.out.print(_table(f"Only in {name.upper()} ({len(records)})", columns, rows))
    changes = data["scenario_changes"]
    if not changes:
        console.out.print("Scenario: identical")
        return
    rows = [
        [
            c["path"],
            "(absent)" if c["a"] is None else c["a"],
            "(absent)" if c["b"] is None else c["b"],
        ]
        for c in changes
    ]
    console.out.print(
        _table(f"Scenario differences ({len(changes)})", ["key", "A", "B"], rows, left=3)
    )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("site", type=int)
@click.option("--cell-id", "by_cell_id", is_flag=True, help="SITE is a cell_id, not a rank.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@_common
def explain(
    run_dir: Path, site: int, by_cell_id: bool, as_json: bool, quiet: bool, verbose: bool
) -> None:
    """Why SITE (a rank, 1 = best) of RUN_DIR ranks where it does.

    Its score (interval, rank stability), what each criterion contributes, the sites just
    above and below, its permitting summary and the exclusion rules it passed.
    """
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.runs import explain_site

        explanation = explain_site(run_dir, site, by="cell_id" if by_cell_id else "rank")
        data = explanation.to_dict()
        if as_json:
            _echo_json(data)
            return
        _print_explanation(console, data)


def _print_explanation(console: _Console, data: dict[str, Any]) -> None:
    where = data["location"]
    lines = [
        f"Site ranked {data['rank']} of {data['sites']} in {data['run']} "
        f"(cell_id {_fmt(data['cell_id'])})",
        f"score {_fmt(data['score'], 6)}",
    ]
    if data["score_interval"] is not None:
        interval = data["score_interval"]
        lines[-1] += f" (90 % interval {_fmt(interval['lower'])} to {_fmt(interval['upper'])})"
    if data["p_top_k"] is not None:
        lines.append(f"stays in the top sites in {data['p_top_k']:.0%} of perturbed replicates")
    if "lon" in where:
        lines.append(f"at lon {where['lon']:.5f}, lat {where['lat']:.5f}")
    console.out.print("\n".join(lines), markup=False)
    rows = [
        [c["criterion"], c["value"], c["units"], c["weight"], c["contribution"]]
        for c in data["contributions"]
    ]
    console.out.print(
        _table(
            "Contributions to the score, largest first",
            ["criterion", "value", "units", "weight", "contribution"],
            rows,
            left=1,
        )
    )
    rows = [
        [side, n["rank"], n["cell_id"], n["score"], n["score_difference"], n["distance_km"]]
        for side, n in data["neighbours"].items()
        if n is not None
    ]
    console.out.print(
        _table(
            "Neighbours in rank",
            ["", "rank", "cell_id", "score", "score difference", "distance km"],
            rows,
            left=1,
        )
    )
    if data["permitting"] is not None:
        rows = [[k, v] for k, v in data["permitting"].items()]
        console.out.print(
            _table(
                "Permitting (screening, not a legal determination)",
                ["field", "value"],
                rows,
                left=1,
            )
        )
    if data["rules_not_excluding"]:
        rows = [
            [r["rule"], r["layer"], r["value"], r["units"], r["excluded_alone_km2"]]
            for r in data["rules_not_excluding"]
        ]
        console.out.print(
            _table(
                "Exclusion rules that did not exclude it",
                ["rule", "layer", "site value", "units", "km² it excludes elsewhere"],
                rows,
                left=2,
            )
        )
    else:
        console.out.print("No exclusion report (exclusions.csv) in the run.")


@main.group()
def datasets() -> None:
    """The catalog of public data sources: list, describe, download (cached, checked)."""


@datasets.command(name="list")
@_common
def datasets_list(quiet: bool, verbose: bool) -> None:
    """List the sources of the catalog and whether each is in the local cache."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from rich.markup import escape
        from rich.table import Table

        from siting.datasets import catalog as cat

        table = Table(title=f"Dataset catalog (cache: {cat.cache_dir()})")
        for column in ("name", "publisher", "licence", "format", "cached"):
            table.add_column(column)
        for name, entry in cat.catalog().items():
            cached = cat.cache_status(name)
            cells = (name, entry.publisher, entry.licence, entry.format, cached)
            table.add_row(*(escape(cell) for cell in cells))
        console.out.print(table)


@datasets.command(name="info")
@click.argument("name")
@_common
def datasets_info(name: str, quiet: bool, verbose: bool) -> None:
    """Everything the catalog says about source NAME, with its field mapping."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from dataclasses import fields

        from siting.datasets import catalog as cat

        entry = cat.source(name)
        for item in fields(entry):
            value = getattr(entry, item.name)
            if item.name != "fields" and value is not None:
                console.out.print(f"{item.name + ':':<16}{value}", markup=False)
        status = cat.cache_status(name)
        cached = f"{cat.path(name)}" if status == "yes" else status
        if status == "damaged":
            cached += f" ({cat.path(name)} does not match the sha256; fetch it again)"
        console.out.print(f"{'cached:':<16}{cached}")
        console.out.print("fields (source -> siting):")
        for key, value in entry.fields.items():
            console.out.print(f"  {key!r} -> {value}", markup=False)


@datasets.command(name="fetch")
@click.argument("name")
@click.option("--offline", is_flag=True, default=None,
              help="Use the cache only (default: on when SITING_OFFLINE=1).")  # fmt: skip
@click.option("--url", default=None, help="Download from this URL instead of the catalog's.")
@_common
def datasets_fetch(
    name: str, offline: bool | None, url: str | None, quiet: bool, verbose: bool
) -> None:
    """Download source NAME into the cache (checked against its sha256) and print the path."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.datasets import catalog as cat

        click.echo(cat.fetch(name, offline=offline, url=url, progress=not quiet))


@datasets.command(name="path")
@click.argument("name")
@_common
def datasets_path(name: str, quiet: bool, verbose: bool) -> None:
    """Print where source NAME is (or would be) cached: put manual downloads there."""
    console = _Console(quiet, verbose)
    with _errors(console):
        from siting.datasets import catalog as cat

        click.echo(cat.path(name))


if __name__ == "__main__":  # pragma: no cover
    main()
