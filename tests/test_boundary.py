"""One error boundary: the traceback at DEBUG only, signals (stop before the next record, never
exit 0), a reader that closes stdout, and state files. Each failure's one ERROR line and status
are tests/test_troubleshooting.py's cases.
"""

from __future__ import annotations

import json
import signal
import subprocess
import typing as t

import pytest

from simulator import PARENT_KEYS
from tests.support.clock import clock_env
from tests.support.endpoints import HOURLY, PRIMARY_KEYS, SUMMARY
from tests.support.logs import error_lines, starting_bookmarks
from tests.support.paths import ROOT
from tests.support.records import merge_on_keys
from tests.support.running import cli_command, records_of, run_cli, sync
from tests.support.settings import ONE_AT_A_TIME, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator


def test_the_traceback_is_there_at_debug_level(api: DatadogSimulator, tmp_path: Path) -> None:
    api.inject(HOURLY, "500", count=2)
    result = run_cli(
        config=recent_config(api, max_retries=1, **ONE_AT_A_TIME),
        tmp_path=tmp_path,
        LOGLEVEL="DEBUG",
    )
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1
    assert b"Traceback (most recent call last)" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_before_the_next_record_fails_and_leaves_a_safe_state(
    live: DatadogSimulator, tmp_path: Path, signum: int
) -> None:
    config = recent_config(live, days=10, lookback_hours=0)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    with subprocess.Popen(
        cli_command("--config", str(config_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=clock_env(live.now),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if len(lines) == 1500:  # mid hourly usage, past its first STATE
                process.send_signal(signum)
                break
        lines += process.stdout.readlines()  # what it writes until it stops
        stderr = process.stderr.read()
        status = process.wait(timeout=60)
    assert status == 128 + signum
    (line,) = error_lines(stderr)
    assert f"Stopped by {signal.Signals(signum).name} before the sync finished" in line
    messages = [json.loads(line) for line in lines]  # every line whole
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states
    clean = sync(config)
    assert sum(m["type"] == "RECORD" for m in messages) < len(clean.messages)
    resumed = sync(config, states[-1])
    for stream in PRIMARY_KEYS:
        merged = merge_on_keys(stream, records_of(messages, stream), resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream


def test_a_reader_that_closes_stdout_ends_the_run_quietly_and_non_zero(
    live: DatadogSimulator, tmp_path: Path
) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(recent_config(live, days=10)))
    with subprocess.Popen(
        cli_command("--config", str(config_file)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=clock_env(live.now),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # the target goes away
        stderr = process.stderr.read()
        status = process.wait(timeout=60)
    assert status == 1
    assert b"Traceback" not in stderr
    assert b"Exception ignored" not in stderr
    assert error_lines(stderr) == []  # quietly: the target's own error says why it stopped


BAD_STATE_FILES = {
    "empty": ("", "is empty"),
    "not json": ('{"bookmarks": ', "is not JSON (line 1, column 15: Expecting value)"),
    "an int": ("42", "holds a JSON int that is not a state"),
    "a list": ('[{"bookmarks": {}}]', "holds a JSON list that is not a state"),
    "bookmarks not an object": ('{"bookmarks": []}', "holds a JSON object that is not a state"),
    "a bookmark not a date": (
        '{"bookmarks": {"hourly_usage": {"replication_key_value": "not-a-date"}}}',
        "holds for hourly_usage the bookmark 'not-a-date', not a date-time",
    ),
    "a bookmark a number": (
        '{"bookmarks": {"historical_costs": {"replication_key_value": 12345}}}',
        "holds for historical_costs the bookmark '12345', not a date-time",
    ),
    "a bookmark in month 13": (
        '{"bookmarks": {"organizations": {"replication_key_value": "2026-13-01"}}}',
        "holds for organizations the bookmark '2026-13-01', not a date-time",
    ),
    "partitions not a list": (
        '{"bookmarks": {"hourly_usage": {"partitions": "nope"}}}',
        "holds for hourly_usage partitions that are not a list of objects",
    ),
}


@pytest.mark.parametrize("case", BAD_STATE_FILES)
def test_a_state_file_that_is_no_state_is_one_line_naming_the_file(
    live: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    text, words = BAD_STATE_FILES[case]
    state_file = tmp_path / "state.json"
    state_file.write_text(text)
    result = run_cli("--state", str(state_file), config=recent_config(live), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"The state file {state_file} {words}: pass a JSON object such as" in line
    assert b"Traceback" not in result.stderr
    assert b'"type":"RECORD"' not in result.stdout


@pytest.mark.parametrize("form", ["bookmarks", "STATE message", "a run's output", "with a BOM"])
def test_a_state_file_may_be_bookmarks_or_a_state_message_or_a_whole_run_output(
    live: DatadogSimulator, tmp_path: Path, form: str
) -> None:
    config = recent_config(live, days=3)
    first = run_cli(config=config, tmp_path=tmp_path)
    lines = first.stdout.decode().splitlines()
    last_state = next(line for line in reversed(lines) if '"type":"STATE"' in line)
    text = {
        "bookmarks": json.dumps(json.loads(last_state)["value"]),
        "STATE message": last_state,
        "a run's output": first.stdout.decode(),
        "with a BOM": "\ufeff" + json.dumps(json.loads(last_state)["value"]),
    }[form]
    state_file = tmp_path / "state.json"
    state_file.write_text(text)
    second = run_cli("--state", str(state_file), config=config, tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    resumed = starting_bookmarks(second.stderr.decode())["hourly_usage"]
    assert (
        resumed
        == json.loads(last_state)["value"]["bookmarks"]["hourly_usage"]["replication_key_value"]
    )  # resumed, not re-extracted


@pytest.mark.parametrize("mode", [(), ("--test",)])
def test_a_server_that_echoes_the_keys_never_gets_them_printed(
    api: DatadogSimulator, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    api.inject(SUMMARY, "echo")
    keys = (f"{PARENT_KEYS[0]}\n", PARENT_KEYS[1])  # a trailing newline, as from a file
    config = recent_config(api, keys=keys)
    result = run_cli(*mode, config=config, tmp_path=tmp_path, LOGLEVEL="DEBUG")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    for secret in PARENT_KEYS:
        assert secret.encode() not in output
    (line,) = error_lines(result.stderr)
    assert "Forbidden: API key *** with application key *** is not valid" in line
    if not mode:
        assert b"Traceback" in result.stderr  # at DEBUG, and redacted too
