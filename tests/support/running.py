"""Running the tap: in-process (``sync``) or as the CLI (``run_cli``, ``start_cli``,
``run_until_killed``), and its Singer messages as a target reads them (``SyncResult``)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
import typing as t

import pendulum

from tap_datadog_costs.tap import TapDatadogCosts
from tests.support.clock import NOW, clock_env
from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable
    from pathlib import Path


@dataclasses.dataclass
class SyncResult:
    """The Singer messages of one run."""

    messages: list[dict[str, t.Any]]

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return records_of(self.messages, stream)

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1]

    def bookmark(self, stream: str) -> str | None:
        value = self.final_state["bookmarks"].get(stream, {})
        return value.get("replication_key_value")


def records_of(messages: list[dict[str, t.Any]], stream: str) -> list[dict[str, t.Any]]:
    """The records of one stream among Singer messages."""
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def parse_messages(output: bytes) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def sync(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    *,
    now: dt.datetime | None = None,
    streams: tuple[str, ...] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> SyncResult:
    """One in-process run of every stream (or of ``streams`` only, or of ``catalog``), as
    `tap --config --state` (with a catalog selecting them) would do it.

    ``now`` moves the clock (time-machine, ticking) so that calendar rules such as
    month finality can be exercised on any day; the simulator must share that "now".
    """
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    clock = (
        pendulum.travel_to(pendulum.instance(now), freeze=False)
        if now
        else contextlib.nullcontext()
    )
    with clock, contextlib.redirect_stdout(stdout):
        if streams is not None:
            catalog = selecting(config, streams)
        tap = TapDatadogCosts(config=config, state=state, catalog=catalog)
        tap.sync_all()
        stdout.flush()
    return SyncResult(parse_messages(buffer.getvalue()))


def selecting(config: dict[str, t.Any], streams: tuple[str, ...]) -> dict[str, t.Any]:
    """The tap's catalog with only ``streams`` selected."""
    catalog = TapDatadogCosts(config=config).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def cli_command(*args: str) -> list[str]:
    """The installed tap's command line, as a user runs it."""
    return [sys.executable, "-m", "tap_datadog_costs", *args]


def run_cli(
    *args: str,
    config: dict[str, t.Any] | None = None,
    tmp_path: Path,
    now: dt.datetime = NOW,
    **environ: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run the tap CLI in a child process (real exit codes, real stderr), ``environ`` set.

    Its clock starts at ``now``: the instant of the simulator it talks to.
    """
    command = cli_command(*args)
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        command += ["--config", str(config_file)]
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT), **environ})
    return subprocess.run(command, capture_output=True, check=False, env=env, timeout=300)


#: Runs a command and writes its peak RSS (kB) to a file: a small process of its own, as Linux
#: counts in a child's peak the memory of the process it was forked from (pytest is large).
MEASURE = """
import resource, subprocess, sys
status = subprocess.run(sys.argv[2:], check=False).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(str(peak))
sys.exit(status)
"""


def run_cli_measured(
    config: dict[str, t.Any],
    tmp_path: Path,
    *args: str,
    timeout: float = 300,
    now: dt.datetime = NOW,
    **environ: str,
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """A sync (or ``args``: another mode) through the CLI, its clock at ``now`` and ``environ``
    set, and the peak memory (RSS, MB) of the tap's process."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    peak_file = tmp_path / "peak_kb"
    command = [
        sys.executable,
        "-c",
        MEASURE,
        str(peak_file),
        *cli_command(*args, "--config", str(config_file)),
    ]
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT), **environ})
    result = subprocess.run(command, capture_output=True, check=False, env=env, timeout=timeout)
    return result, int(peak_file.read_text()) / 1024


def start_cli(
    tmp_path: Path, name: str, config: dict[str, t.Any], *args: str, now: dt.datetime = NOW
) -> subprocess.Popen[bytes]:
    """The CLI in a child process at DEBUG level (its clock at ``now``), its output piped back."""
    config_file = tmp_path / f"{name}.json"
    config_file.write_text(json.dumps(config))
    command = cli_command(*args, "--config", str(config_file))
    env = clock_env(now, {**os.environ, "PYTHONPATH": str(ROOT), "LOGLEVEL": "DEBUG"})
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def finish(processes: dict[str, subprocess.Popen[bytes]]) -> dict[str, tuple[int, bytes, bytes]]:
    """Exit code, stdout and stderr of each process."""
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = (process.returncode, stdout, stderr)
    return results


def nth(
    predicate: Callable[[dict[str, t.Any]], bool], count: int
) -> Callable[[dict[str, t.Any]], bool]:
    """True at the ``count``-th message that satisfies ``predicate``."""
    seen = 0

    def reached(message: dict[str, t.Any]) -> bool:
        nonlocal seen
        seen += predicate(message)
        return seen == count

    return reached


def run_until_killed(
    config_file: Path, kill_when: Callable[[dict[str, t.Any]], bool], now: dt.datetime = NOW
) -> tuple[list[dict[str, t.Any]], bool]:
    """Run the CLI (its clock at ``now``) and kill it at the first message ``kill_when`` accepts.

    Returns what a target got by then, and whether the kill came before the run ended.
    """
    messages = []
    with subprocess.Popen(
        cli_command("--config", str(config_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=clock_env(now),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            messages.append(json.loads(line))
            if kill_when(messages[-1]):
                process.kill()  # near the end it may have written all: the rest goes unread
                return messages, True
    return messages, False
