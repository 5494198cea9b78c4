# ruff: noqa: E501 - the case table reads best one case a line
"""How soon the tap stops: on pages that never end, and on SIGTERM whatever it is doing.

The tap's command line, as a user runs it, against the simulator; the benchmark imports
nothing from the tests. ``--code DIR`` runs the tap package found in DIR instead (another
checkout, to measure the code before a change).

    .venv/bin/python -m benchmarks.stopping [--code DIR] [--cap 90]

Prints, per case, how the run ended, its seconds and its hourly usage requests.
docs/reliability.md quotes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import PARENT_KEYS, DatadogSimulator  # noqa: E402

HOURLY = "/api/v2/usage/hourly_usage"
#: More faults than any run should ask for.
FOREVER = 1_000_000
#: Windows of hourly usage read whole before the fault of a signal case.
WINDOWS_BEFORE = 2
#: Empty pages asked for before SIGTERM in the empty pages' case.
PAGES_BEFORE = 2
#: case -> (faults on hourly usage as (kind, count, seconds, headers), settings, and the words
#: of the tap's log (or "fresh-": the second empty page asked for) at which SIGTERM is sent,
#: or None: no signal)
CASES: dict[str, tuple[list[tuple[str, int, float, dict[str, str]]], dict[str, int], str | None]] = {
    "pages that never end": ([("fresh_cursor", FOREVER, 0, {})], {}, None),
    "SIGTERM in a 429's 250 s wait": ([("429", 1, 250, {})], {}, "retrying in 250.25 s"),
    "SIGTERM in a Retry-After of 250 s": ([("503", 1, 0, {"Retry-After": "250"})], {}, "retrying in 250.25 s"),
    "SIGTERM in a spent budget's 250 s": ([("headers", 1, 0, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "250"})], {}, "for it to reset"),
    "SIGTERM in the 5th back-off (8-10 s)": ([("500", 6, 0, {})], {"max_retries": 5}, "(attempt 6 of 6)"),
    "SIGTERM in a 60 s answer": ([("slow", 1, 60, {})], {"request_timeout": 120}, "slow"),
    "SIGTERM in empty pages (0.5 s each)": ([("fresh_cursor", FOREVER, 0.5, {})], {}, "fresh-"),
}  # fmt: skip


def signalled(sim: DatadogSimulator, log: Path, words: str) -> bool:
    """Whether the moment to signal came: the words logged, or a request shows it."""
    if words == "fresh-":
        cursors = [e["params"].get("page[next_record_id]", "") for e in sim.requests]
        return sum(c.startswith("fresh-") for c in cursors) >= PAGES_BEFORE
    if words == "slow":  # the first windows answered, and a second for the slow request to go
        if sum(e["path"] == HOURLY for e in sim.requests) < WINDOWS_BEFORE:
            return False
        time.sleep(1)
        return True
    return words in log.read_text()


def run(code: Path, case: str, cap: float) -> str:
    """One case on a simulator of its own: how it ended, its seconds, its requests."""
    faults, settings, words = CASES[case]
    with DatadogSimulator() as sim, tempfile.TemporaryDirectory() as folder:
        for kind, count, seconds, headers in faults:
            sim.inject(HOURLY, kind, count=count, seconds=seconds, headers=headers,
                       after=WINDOWS_BEFORE if words else 0)  # fmt: skip
        config = {
            "api_key": PARENT_KEYS[0],
            "app_key": PARENT_KEYS[1],
            "api_url": sim.url,
            "start_date": (sim.now - dt.timedelta(days=4)).isoformat(),
            "end_date": sim.now.isoformat(),
            "max_retries": 1,
            **settings,
        }
        config_file = Path(folder) / "config.json"
        config_file.write_text(json.dumps(config))
        log = Path(folder) / "stderr"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "tap_datadog_costs", "--config", str(config_file)],
                stdout=subprocess.DEVNULL, stderr=stderr, cwd=code,
                env={**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"},
            )  # fmt: skip
        started = time.monotonic()
        if words:
            while not signalled(sim, log, words) and process.poll() is None:
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
        try:
            process.wait(timeout=cap)
            ended = f"status {process.returncode}"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            ended = f"still running after {cap:g} s: killed"
        seconds = time.monotonic() - started
        requests = sum(entry["path"] == HOURLY for entry in sim.requests)
        errors = sum(" | ERROR " in line for line in log.read_text().splitlines())
    since = "after the signal" if words else "in all"
    return f"{ended}, {seconds:.1f} s {since}, {requests} requests, {errors} ERROR line(s)"


def main() -> None:
    """Each case, one after the other."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose tap to run")
    parser.add_argument("--cap", type=float, default=90, help="seconds before a run is killed")
    parser.add_argument("--only", default="", help="the cases whose name holds these words")
    options = parser.parse_args()
    for case in (case for case in CASES if options.only in case):
        print(f"  {case:<36} {run(options.code.resolve(), case, options.cap)}")


if __name__ == "__main__":
    main()
