"""The project's loaders: the Quickstart (``make run``) and Meltano runs, what they loaded, and a
copy of the project to run them in."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

from tests.support.clock import NOW, clock_env
from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    import datetime as dt


def quickstart(
    tmp_path: Path, now: dt.datetime = NOW, **env: str
) -> subprocess.CompletedProcess[str]:
    """`make run`'s script, into a DuckDB file and Meltano database of ``tmp_path``.

    Its clock, and so that of the simulator it starts (``python -m simulator``), of Meltano,
    the tap and dbt, starts at ``now``.
    """
    clean = {k: v for k, v in clock_env(now).items() if not k.startswith("TAP_DATADOG_COSTS_")}
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


#: The tap's record count per stream, as Meltano logs it in JSON (a metric line per stream; the
#: console drops the stream of the tap's structured-logging metrics).
RECORD_COUNT = re.compile(
    r'"metric":\s*"record_count",\s*"value":\s*(\d+),\s*"tags":\s*\{"stream":\s*"(\w+)"'
)


def meltano(*args: str, env: dict[str, str], json_log: bool = False) -> str:
    """Run the project's meltano; return its log (tap and target output included), in JSON
    lines with ``json_log`` (for ``records_emitted``)."""
    log_format = ("--log-format=json",) if json_log else ()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "meltano"), *log_format, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def records_emitted(log: str) -> dict[str, int]:
    """Records the tap sent per stream, from a Meltano log in JSON (``meltano(json_log=True)``)."""
    counts: dict[str, int] = {}
    for value, stream in RECORD_COUNT.findall(log):
        counts[stream] = counts.get(stream, 0) + int(value)
    return counts


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table of target-duckdb's schema ``datadog``."""
    import duckdb  # noqa: PLC0415 - only the tests that load DuckDB need it

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_name from information_schema.tables where table_schema = 'datadog'"
        ).fetchall()
        return {
            name: connection.execute(f'select count(*) from datadog."{name}"').fetchone()[0]  # type: ignore[index]
            for (name,) in tables
        }


def project_copy(project: Path) -> Path:
    """A copy of the project's files at ``project``, as a clone has them, with this checkout's
    installs (``.venv``, ``.meltano``) linked in."""
    project_files(project)
    for installed in (".venv", ".meltano"):
        (project / installed).symlink_to(ROOT / installed)
    return project


def project_files(project: Path) -> Path:
    """A copy of the project's files at ``project``, as a clone has them: nothing installed."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)
    return project
