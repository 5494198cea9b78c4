"""A signal stops the run whatever it is doing: waiting for a rate limit, an announced wait or
back-off, or reading empty pages. Through the CLI: the status of the signal, one ERROR line, a
final STATE that a resumed run continues from exactly, well within the subprocess timeout
(seconds, where the wait it cut is minutes).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import typing as t

import pytest

from tests.support.clock import clock_env
from tests.support.endpoints import HOURLY, PRIMARY_KEYS
from tests.support.logs import error_lines
from tests.support.paths import ROOT
from tests.support.records import merge_on_keys
from tests.support.running import cli_command, parse_messages, records_of, sync
from tests.support.settings import ONE_AT_A_TIME, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator

#: The wait each case announces: far longer than the time the tap is given to stop.
LONG = 250
#: How long the tap has to stop once signalled (a subprocess timeout, not a measure).
STOPS_WITHIN = 10
#: Windows of hourly usage read whole before the case's fault: the final STATE must keep them.
WINDOWS_BEFORE = 2


def fresh_pages(api: DatadogSimulator) -> int:
    """Requests for an empty page the fault ``fresh_cursor`` named."""
    return sum(
        entry["path"] == HOURLY and entry["params"].get("page[next_record_id]", "")[:6] == "fresh-"
        for entry in api.requests
    )


class Case(t.NamedTuple):
    """Faults on hourly usage (kind, count, seconds, headers), the signal, and when to send it:
    when stderr holds ``words``, or the simulator answered ``pages`` empty pages."""

    faults: list[tuple[str, int, float, dict[str, str]]]
    signum: int
    words: str = ""
    pages: int = 0
    settings: dict[str, t.Any] = {}  # noqa: RUF012 - read only


CASES = {
    "a 429 announcing a 250 s wait": Case(
        [("429", 1, LONG, {})], signal.SIGTERM, words=f"retrying in {LONG}.25 s"
    ),
    "a Retry-After of 250 s on a 503": Case(
        [("503", 1, 0, {"Retry-After": str(LONG)})], signal.SIGINT, words=f"retrying in {LONG}.25 s"
    ),
    "a spent rate-limit budget for 250 s": Case(
        [("headers", 1, 0, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(LONG)})],
        signal.SIGTERM,
        words="s for it to reset",
    ),
    # The fifth wait, 8 to 10 s: the back-off the backoff library used to sleep through.
    "back-off after five 500s": Case(
        [("500", 6, 0, {})], signal.SIGTERM, words="(attempt 6 of 6)", settings={"max_retries": 5}
    ),
    "empty pages, each naming a new next page": Case(
        [("fresh_cursor", 1000, 0.5, {})], signal.SIGINT, pages=2
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_signal_stops_the_run_at_once_whatever_it_waits_for(
    api: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    spec = CASES[case]
    for kind, count, seconds, headers in spec.faults:
        api.inject(
            HOURLY, kind, count=count, seconds=seconds, headers=headers, after=WINDOWS_BEFORE
        )
    config = recent_config(api, days=4, lookback_hours=0, **ONE_AT_A_TIME, **spec.settings)
    (tmp_path / "config.json").write_text(json.dumps(config))
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            cli_command("--config", str(tmp_path / "config.json")),
            stdout=stdout, stderr=stderr, cwd=ROOT, env=clock_env(api.now),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # the fault comes within seconds
        while not (
            (spec.words and spec.words in err.read_text())
            or (spec.pages and fresh_pages(api) >= spec.pages)
        ):
            assert process.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.05)
        process.send_signal(spec.signum)
        status = process.wait(timeout=STOPS_WITHIN)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        api.clear_faults()

    assert status == 128 + spec.signum
    (line,) = error_lines(err.read_bytes())
    assert f"Stopped by {signal.Signals(spec.signum).name} before the sync finished" in line
    messages = parse_messages(out.read_bytes())  # every line whole
    assert messages[-1]["type"] == "STATE"
    final = messages[-1]["value"]
    written = [r["timestamp"] for r in records_of(messages, "hourly_usage")]
    bookmark = final["bookmarks"]["hourly_usage"]["replication_key_value"]
    assert bookmark == max(written)  # the windows read whole before the fault, all of them
    clean = sync(config)
    resumed = sync(config, final)
    for stream in PRIMARY_KEYS:
        merged = merge_on_keys(stream, records_of(messages, stream), resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream
