"""The `siting` command: demo end to end, run, validate, exit codes."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from siting.cli import main
from siting.datasets import write_demo_inputs


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli") / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--top", "12"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo__prints_top_sites_and_paths(demo_run):
    out, output = demo_run
    assert "Top 10 of 12 ranked sites" in output
    # In 80 columns no value is cut to an ellipsis: criteria that do not fit are left out.
    table = output.split("Wrote:")[0]
    assert "…" not in table
    assert "more criteria in sites.csv" in table
    for name in ("sites.gpkg", "sites.csv", "map.html", "manifest.json", "exclusions.csv"):
        assert (out / name).is_file()
        assert str(out / name) in output
    assert len(pd.read_csv(out / "sites.csv")) == 12
    assert (out / "inputs" / "scenario.toml").is_file()


def test_demo__map_escapes_data_and_shows_every_site(demo_run):
    out, _ = demo_run
    html = (out / "map.html").read_text()
    assert html.count("score 0.") >= 12  # one tooltip per ranked site
    assert "L.map" in html


def test_demo__refuses_to_overwrite_without_force(demo_run):
    out, _ = demo_run
    before = (out / "sites.csv").read_bytes()
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--top", "12"])
    assert result.exit_code == 5
    assert "--force" in result.output
    assert (out / "sites.csv").read_bytes() == before


def test_demo__unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["demo", "--out", str(blocker / "out")])
    assert result.exit_code == 5
    assert "cannot be created" in result.output


def test_run_and_validate_a_scenario_file(tmp_path):
    scenario = write_demo_inputs(tmp_path / "inputs")
    runner = CliRunner()
    valid = runner.invoke(main, ["validate", str(scenario)])
    assert valid.exit_code == 0
    assert "valid" in valid.output
    ran = runner.invoke(main, ["run", str(scenario), "--out", str(tmp_path / "run"), "--quiet"])
    assert ran.exit_code == 0, ran.output
    assert ran.output == ""
    assert (tmp_path / "run" / "manifest.json").is_file()


def test_validate__exit_codes_for_bad_scenarios(tmp_path):
    scenario = write_demo_inputs(tmp_path / "inputs")
    text = scenario.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('kind = "continuous"', 'kind = "smooth"', 1))
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "kind" in result.output
    assert "smooth" in result.output
    (tmp_path / "inputs" / "slope_pct.tif").unlink()
    missing = CliRunner().invoke(main, ["validate", str(scenario)])
    assert missing.exit_code == 3  # as run gives for a missing input
    assert "slope_pct.tif" in missing.output


def test_validate__opens_the_inputs_as_a_run_would(tmp_path):
    import rasterio
    from affine import Affine

    scenario = write_demo_inputs(tmp_path / "inputs")
    text = scenario.read_text()
    cases = tmp_path / "cases"
    cases.mkdir()

    def validated(name: str, scenario_text: str) -> tuple[int, str]:
        path = tmp_path / "inputs" / f"{name}.toml"
        path.write_text(scenario_text)
        result = CliRunner().invoke(main, ["validate", str(path)])
        return result.exit_code, result.output

    # A vector layer the file does not have.
    code, output = validated("layer", text.replace('layer = "federal_land"', 'layer = "fed"'))
    assert code == 3
    assert "vectors.federal_land" in output
    # A geographic grid CRS, which the run refuses.
    code, output = validated("grid", text.replace('crs = "EPSG:5070"', 'crs = "EPSG:4326"', 1))
    assert code in (2, 3)
    assert "EPSG:4326" in output or "geographic" in output
    # A raster with no CRS, and a raster in the wrong place.
    source = tmp_path / "inputs" / "slope_pct.tif"
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    for name, crs, shift in (("nocrs", None, 0.0), ("far", profile["crs"], 5e6)):
        # 5,000 km east: the same CRS, nowhere near the region.
        moved = profile | {"crs": crs, "transform": Affine.translation(shift, 0) * src.transform}
        with rasterio.open(cases / f"{name}.tif", "w", **moved) as dst:
            dst.write(data, 1)
        code, output = validated(name, text.replace('"slope_pct.tif"', f'"../cases/{name}.tif"'))
        assert code == 3, output
        assert f"{name}.tif" in output
        assert ("no CRS" in output) if crs is None else ("does not overlap" in output)
    assert validated("ok", text)[0] == 0


def test_run__corrupt_input_exit_code(tmp_path):
    scenario = write_demo_inputs(tmp_path / "inputs")
    (tmp_path / "inputs" / "heat_flow_mw_m2.tif").write_bytes(b"\x00" * 100)
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(tmp_path / "run")])
    assert result.exit_code == 3
    assert "heat_flow_mw_m2.tif" in result.output
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_console_script_runs_without_a_terminal(tmp_path):
    """As CI runs it: no TTY, CI=true; progress must not break and the table must print."""
    env = {**os.environ, "CI": "true", "TERM": "dumb"}
    proc = subprocess.run(
        [sys.executable, "-m", "siting.cli", "demo", "--out", str(tmp_path / "d"), "--top", "3"],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ranked sites" in proc.stdout
    assert "stage" in proc.stderr or "done" in proc.stderr


def test_cli__error_messages_keep_square_brackets(tmp_path):
    path = write_demo_inputs(tmp_path / "inputs")
    text = path.read_text()
    start = text.index("[region]")
    path.write_text(text[:start] + text[text.index("[grid]") :])  # no [region] section
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "[region]" in result.output


def test_demo__progress_shows_elapsed_and_remaining_time(demo_run):
    _, output = demo_run
    # The finished bar: stages done, then elapsed time, then time remaining (the ETA).
    assert re.search(r"done .*(\d+)/\1\s+\d+:\d\d:\d\d\s+\d+:\d\d:\d\d", output)


@pytest.fixture(scope="module")
def second_run(demo_run) -> Path:
    """The demo's scenario with sunshine weighing less, no energy fit, CSV only."""
    out, _ = demo_run
    text = (out / "inputs" / "scenario.toml").read_text()
    text = re.sub(r"\[energy\][^\[]*", "", text)
    text = text.replace("weight = 3\nbetter = \"higher\"\nrange = [5.0, 6.5]",
                        "weight = 1\nbetter = \"higher\"\nrange = [5.0, 6.5]")  # fmt: skip
    text = text.replace("top_n = 20", "top_n = 12")
    text = re.sub(r"formats = \[.*\]", 'formats = ["csv"]', text)
    path = out / "inputs" / "less_sun.toml"
    path.write_text(text)
    second = out.parent / "less-sun"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(second), "--quiet"])
    assert result.exit_code == 0, result.output
    return second


def test_compare__prints_tables_and_json(demo_run, second_run):
    out, _ = demo_run
    result = CliRunner().invoke(main, ["compare", str(out), str(second_run), "--limit", "3"])
    assert result.exit_code == 0, result.output
    for text in ("matched by cell_id", "Spearman", "top-5 overlap", "Only in A",
                 "scorer.criteria.ghi_kwh_m2_day.weight", "(absent)"):  # fmt: skip
        assert text in result.stdout
    as_json = CliRunner().invoke(
        main, ["compare", str(out), str(second_run), "--json", "--top-k", "2", "--top-k", "4"]
    )
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["sites_a"] == data["sites_b"] == 12
    assert set(data["top_k_jaccard"]) == {"2", "4"}
    assert {"path": "scorer.criteria.ghi_kwh_m2_day.weight", "a": 3.0, "b": 1.0} in data[
        "scenario_changes"
    ]
    assert len(data["common"]) + len(data["only_in_a"]) == 12


def test_compare__missing_or_unfinished_run_is_exit_3(demo_run, tmp_path):
    out, _ = demo_run
    missing = CliRunner().invoke(main, ["compare", str(out), str(tmp_path / "nowhere")])
    assert missing.exit_code == 3
    assert "does not exist" in missing.output
    not_a_run = CliRunner().invoke(main, ["compare", str(out / "inputs"), str(out)])
    assert not_a_run.exit_code == 3
    assert "not a finished run" in not_a_run.output


def test_explain__prints_the_site_and_json(demo_run):
    out, _ = demo_run
    sites = pd.read_csv(out / "sites.csv")
    result = CliRunner().invoke(main, ["explain", str(out), "2"])
    assert result.exit_code == 0, result.output
    for text in ("Site ranked 2 of 12", "Contributions to the score", "distance_to_substation_km",
                 "Neighbours in rank", "Permitting", "Exclusion rules that did not exclude it",
                 "slope_pct include range"):  # fmt: skip
        assert text in result.stdout
    cell = int(sites["cell_id"].iloc[1])
    as_json = CliRunner().invoke(main, ["explain", str(out), str(cell), "--cell-id", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["rank"] == 2
    assert data["cell_id"] == cell
    assert data["neighbours"]["above"]["rank"] == 1
    assert data["score"] == sites["score"].iloc[1]


def test_json_is_printed_under_quiet_and_nothing_else(demo_run, second_run):
    out, _ = demo_run
    for args in (["compare", str(out), str(second_run)], ["explain", str(out), "1"]):
        quiet = CliRunner().invoke(main, [*args, "--json", "--quiet"])
        assert quiet.exit_code == 0, quiet.output
        loud = CliRunner().invoke(main, [*args, "--json"])
        assert json.loads(quiet.stdout) == json.loads(loud.stdout)
        assert CliRunner().invoke(main, [*args, "--quiet"]).stdout == ""


def test_output_read_no_further_ends_quietly_as_unix_filters_do(demo_run):
    out, _ = demo_run
    proc = subprocess.Popen(
        [sys.executable, "-m", "siting.cli", "explain", str(out), "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before anything is written (| head -0)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGPIPE
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr


def test_explain__unknown_site_is_exit_2_with_the_valid_range(demo_run):
    out, _ = demo_run
    result = CliRunner().invoke(main, ["explain", str(out), "13"])
    assert result.exit_code == 2
    assert "ranks go from 1 to 12" in result.output
    by_cell = CliRunner().invoke(main, ["explain", str(out), "1", "--cell-id"])
    assert by_cell.exit_code == 2
    assert "cell_id 1 is not a ranked site" in by_cell.output


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        # a layer file that is not there: unusable input
        (lambda t: t.replace('path = "slope_pct.tif"', 'path = "no_such.tif"'), 3, "no_such.tif"),
        # an unknown scorer: invalid scenario
        (lambda t: t.replace('method = "weighted_overlay"', 'method = "magic"'), 2, "magic"),
        # a region where the data has no values: unusable input
        (
            lambda t: t.replace(
                'path = "sample_vectors.gpkg"\nlayer = "region"',
                'bounds = [-80.0, 35.0, -79.5, 35.5]\ncrs = "EPSG:4326"',
            ),
            3,
            "ghi_kwh_m2_day",
        ),
    ],
    ids=["missing-input", "unknown-scorer", "region-outside-data"],
)
def test_run__exit_codes_and_nothing_written(demo_run, tmp_path, change, code, message):
    out, _ = demo_run
    text = (out / "inputs" / "scenario.toml").read_text()
    changed = change(text)
    assert changed != text
    path = out / "inputs" / f"broken_{tmp_path.name}.toml"
    path.write_text(changed)
    target = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(target)])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert _files(target) == []


def test_run__output_is_a_file_or_an_earlier_run_is_exit_5(demo_run, second_run, tmp_path):
    out, _ = demo_run
    scenario = out / "inputs" / "less_sun.toml"
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(blocker)])
    assert result.exit_code == 5
    assert "a file is in the way" in result.output
    assert blocker.read_text() == "keep me"

    before = {p: p.read_bytes() for p in _files(second_run)}
    again = CliRunner().invoke(main, ["run", str(scenario), "--out", str(second_run)])
    assert again.exit_code == 5
    assert "--force" in again.output
    assert {p: p.read_bytes() for p in _files(second_run)} == before


_ON_A_CLUSTER = ["--scheduler", "distributed", "--workers", "2", "--chunks", "64"]


@pytest.mark.parametrize(
    ("sent", "code", "where"),
    [
        (signal.SIGTERM, 143, ["--chunks", "128"]),
        (signal.SIGINT, 130, ["--chunks", "128"]),
        (signal.SIGINT, 130, _ON_A_CLUSTER),
    ],
)
def test_run__terminated_or_interrupted_leaves_nothing_half_written(tmp_path, sent, code, where):
    scenario = write_demo_inputs(tmp_path / "inputs")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siting.cli", "run", str(scenario), "--out", str(out),
         *where, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        # a shell's background jobs start with SIGINT ignored, and Python keeps it ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    # Sent while the run's tasks write scratch tiles (from the constraints to the outputs).
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(out.glob(".scratch-*/*.z")):
            proc.send_signal(sent)
            break
        time.sleep(0.005)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    # --quiet: that line alone, on a cluster too (no worker's log, no abandoned task's).
    what = "terminated" if sent == signal.SIGTERM else "interrupted"
    assert stderr.splitlines() == [f"{what}: no partial output was left under a final name"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert not (out / "manifest.json").exists()


def test_task_progress_reports_each_computation_from_zero_to_its_total():
    import dask
    import dask.array as da

    from siting.cli import _TaskProgress

    reports: list[tuple[int, int]] = []
    with _TaskProgress(lambda done, total: reports.append((done, total)), every_s=0.0):
        tiles = da.ones((64, 64), chunks=16)
        dask.compute((tiles * 2).sum(), scheduler="synchronous")
        dask.compute((tiles + 1).mean(), scheduler="threads")
    starts = [i for i, (done, _) in enumerate(reports) if done == 0]
    assert len(starts) == 2  # one bar per computation
    for first, end in zip(starts, [*starts[1:], len(reports)], strict=True):
        done = [d for d, _ in reports[first:end]]
        (total,) = {t for _, t in reports[first:end]}
        assert total >= 16  # at least a task per tile
        assert done == sorted(done)
        assert done[-1] == total
    reports.clear()
    dask.compute(da.ones(4, chunks=2).sum(), scheduler="synchronous")
    assert reports == []  # nothing is reported once the run is over


def test_task_progress_follows_a_distributed_cluster_that_becomes_the_scheduler():
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    from siting.cli import _TaskProgress

    reports: list[tuple[int, int]] = []
    with (
        LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
        _TaskProgress(lambda done, total: reports.append((done, total)), every_s=0.0),
        # As siting.run does once it has connected: the client becomes dask's scheduler.
        dask.config.set(scheduler=client),
    ):
        tiles = da.random.default_rng(1).random((2000, 2000), chunks=250)
        for shift in range(3):
            ((tiles @ tiles.T) + shift).sum().compute()
        time.sleep(1.5)  # polled twice a second: the last computation is seen done
    assert reports, "no report from the cluster"
    done, total = reports[-1]
    assert done == total >= 64
    assert reports[0][0] == 0  # each computation the bar sees starts from 0
    for (done_a, total_a), (done_b, total_b) in itertools.pairwise(reports):
        assert done_b >= done_a or done_b == 0  # counts rise within a computation
        assert total_b == total_a or done_b == 0
