"""`make run` and `make test` on the Python a machine has: the newest 3.10 or later on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.clock import NOW, RETENTION_START, clock_env
from tests.support.endpoints import streams_with_rows
from tests.support.loaders import project_files, table_counts
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e

PYENV = Path.home() / ".pyenv" / "versions"
#: What make, its recipes and the chooser need besides a Python.
TOOLS = ("make", "sh", "cat", "mkdir", "rm", "echo", "touch")
#: A stream's summary line from the tap, as the Quickstart shows it: its rows.
DONE = re.compile(r"^  (\w+): done in .+?: ([\d,]+) rows?, ", re.MULTILINE)


def path_with(tmp_path: Path, *versions: str) -> str:
    """A PATH holding the tools and, of Python, only pyenv's interpreters of ``versions``."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    for version in versions:
        (installed,) = sorted(PYENV.glob(f"{version}.*"))[-1:]
        (folder / f"python{version}").symlink_to(installed / "bin" / f"python{version}")
    return str(folder)


def choose(path: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "choose_python.sh"), *arguments],
        env={"PATH": path}, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("versions", "chosen"),
    [
        (("3.10",), "3.10"),
        (("3.12",), "3.12"),
        (("3.13",), "3.13"),
        (("3.9", "3.10", "3.12"), "3.12"),
    ],
)
def test_the_newest_python_3_10_or_later_on_path_is_chosen_and_said(
    tmp_path: Path, versions: tuple[str, ...], chosen: str
) -> None:
    result = choose(path_with(tmp_path, *versions))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"python{chosen}\n"
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Python: python{chosen} (Python {chosen}.")
    assert "the newest Python 3.10 or later on PATH (PYTHON=python3.x picks another)" in line


def test_with_no_usable_python_make_run_stops_in_one_line_saying_what_it_looked_for(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        ["make", "run"],  # noqa: S607
        cwd=ROOT, env={"PATH": path_with(tmp_path, "3.9")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert (
        "no Python 3.10 or later on PATH (looked for python3.13, python3.12, python3.11, " in line
    )
    assert "name it with PYTHON=/path/to/python3" in line


def test_a_python_named_in_python_that_is_too_old_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        ["make", "test", "PYTHON=python3.9"],  # noqa: S607
        cwd=ROOT, env={"PATH": path_with(tmp_path, "3.9")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert "PYTHON=python3.9 is not a Python 3.10 or later: name one that is" in line


def user_environment(path: str) -> dict[str, str]:
    """This process's environment as a user's shell has it, PATH aside: no keys (the Quickstart
    then runs on the simulator), no virtualenv, Python or make settings of the suite's own run."""
    inherited = ("TAP_DATADOG_COSTS_", "MELTANO_", "VIRTUAL_ENV", "PYTHON", "MAKE", "MFLAGS")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return {**kept, "PATH": path}


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_make_run_on_a_machine_whose_only_python_is_another_lands_rows_in_duckdb(
    tmp_path: Path, version: str
) -> None:
    """The Quickstart's first command, in a fresh copy of the project, with one Python on PATH.

    `make run` is run twice: its install, at the real clock (pip checks the registry's
    certificates by it), then in full at the suite's pinned clock, which installs nothing more
    and runs the Quickstart on the simulator.
    """
    project = project_files(tmp_path / "project")
    environment = user_environment(path_with(tmp_path, version))
    install = subprocess.run(
        ["make", "install"],  # noqa: S607
        cwd=project, env=environment, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    said = install.stderr.splitlines()[0]
    assert said.startswith(f"Python: python{version} (Python {version}."), said
    assert (
        f"Python {version} is not requirements.lock's (3.11): pip resolves pyproject.toml's "
        "ranges for it"
    ) in install.stdout
    run = subprocess.run(
        ["make", "run"],  # noqa: S607
        cwd=project, env=clock_env(NOW, environment), capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "pip install" not in run.stdout  # the install was whole
    read = {stream: int(rows.replace(",", "")) for stream, rows in DONE.findall(run.stdout)}
    loaded = table_counts(project / "output" / "dev" / "datadog_costs.duckdb")
    # Every row the tap read is in DuckDB (the file the test's duckdb reads, whichever duckdb
    # the loader wrote it with), and every stream with rows at NOW has them.
    assert loaded == read
    assert {stream for stream, rows in loaded.items() if rows} == streams_with_rows(
        NOW, RETENTION_START
    )
