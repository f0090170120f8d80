"""The project keeps its promises: README commands, CI script, folder READMEs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_has_exactly_two_commands_demo_and_tests():
    commands = _readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert demo.rstrip().endswith("siting demo --out siting-demo")
    assert tests.rstrip().endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1].strip() in ci.splitlines()


@pytest.mark.parametrize("folder", ["datasets", "maps", "examples", "docs", "tests", "benchmarks"])
def test_top_level_folders_say_what_lives_there(folder):
    readme = ROOT / folder / "README.md"
    assert readme.is_file()
    assert len(readme.read_text().split()) > 20


def test_no_top_level_package_shadows_well_known_names():
    for folder in ("datasets", "maps"):
        assert not (ROOT / folder / "__init__.py").exists()


def test_package_ships_type_information_and_the_demo_scenario():
    from importlib import resources

    assert (resources.files("siting") / "py.typed").is_file()
    assert (resources.files("siting.datasets") / "demo.toml").is_file()
