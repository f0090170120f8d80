"""The `siting` command: demo end to end, run, validate, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
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
    assert missing.exit_code == 2
    assert "slope_pct.tif" in missing.output


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
