"""The Quickstart's main job (`make run` runs scripts/quickstart.py after installing)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t

import duckdb

from tests.harness import ROOT

if t.TYPE_CHECKING:
    from pathlib import Path

KEYS = ("TAP_DATADOG_COSTS_API_KEY", "TAP_DATADOG_COSTS_APP_KEY")


def quickstart(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAP_DATADOG_COSTS_")}
    isolated = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "costs.duckdb"),
    }
    return subprocess.run(
        [sys.executable, "scripts/quickstart.py"],
        cwd=ROOT,
        env={**clean, **isolated, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_without_keys_it_extracts_from_the_simulator_and_prints_a_summary(tmp_path: t.Any) -> None:
    result = quickstart(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No Datadog keys in the environment")
    assert "bundled Datadog API simulator at http://127.0.0.1:" in lines[0]
    assert any(
        line.startswith("Datadog cost per month, in the account's billing") for line in lines
    )
    assert "USD" not in result.stdout  # Datadog's answers name no currency
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as connection:
        (rows,) = connection.execute("select count(*) from datadog.hourly_usage").fetchone()  # type: ignore[misc]
        months = connection.execute(
            "select count(distinct month) from datadog.historical_costs"
        ).fetchone()[0]  # type: ignore[index]
    assert re.search(rf"^  hourly_usage +{rows:,}$", result.stdout, re.MULTILINE)
    cost_lines = [line.split() for line in lines if re.match(r"  20\d\d-\d\d ", line)]
    statuses = [line[1] for line in cost_lines]
    # Every historical month (final, or preliminary before the 17th), and this month's estimate.
    assert len(cost_lines) == months + 1
    assert set(statuses[:-1]) <= {"final", "preliminary"}
    assert statuses[-1] == "estimate"
    assert all(re.fullmatch(r"[\d,]+\.\d\d", line[2]) for line in cost_lines)  # to the cent
    assert any(line.startswith("  Acme Child 2 (child00002) ") for line in lines)  # per org


def test_one_key_alone_is_refused(tmp_path: t.Any) -> None:
    result = quickstart(tmp_path, TAP_DATADOG_COSTS_API_KEY="only-one")
    assert result.returncode == 2
    assert "set TAP_DATADOG_COSTS_APP_KEY too" in result.stdout
    assert "only-one" not in result.stdout + result.stderr
