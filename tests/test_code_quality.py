"""The tap's code passes the linters its style asks for (ruff ALL, mypy strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT

BIN = Path(sys.executable).parent


def test_ruff_finds_nothing_in_the_tap() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "tap_datadog_costs"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_mypy_strict_finds_nothing_in_the_tap() -> None:
    result = subprocess.run(
        [str(BIN / "mypy"), "tap_datadog_costs"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
