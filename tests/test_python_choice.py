"""`make run` and `make test` on the Python a machine has: the newest 3.10 or later on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e

PYENV = Path.home() / ".pyenv" / "versions"
#: What make and the chooser need besides a Python.
TOOLS = ("make", "sh", "cat", "mkdir", "rm", "echo")


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
