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
#: case -> (faults on hourly usage as (kind, count, seconds, headers), settings, signal after s)
CASES: dict[str, tuple[list[tuple[str, int, float, dict[str, str]]], dict[str, int], float]] = {
    "pages that never end": ([("fresh_cursor", FOREVER, 0, {})], {}, 0),
}


def run(code: Path, case: str, cap: float) -> str:
    """One case on a simulator of its own: how it ended, its seconds, its requests."""
    faults, settings, signal_after = CASES[case]
    with DatadogSimulator() as sim, tempfile.TemporaryDirectory() as folder:
        for kind, count, seconds, headers in faults:
            sim.inject(HOURLY, kind, count=count, seconds=seconds, headers=headers)
        config = {
            "api_key": PARENT_KEYS[0],
            "app_key": PARENT_KEYS[1],
            "api_url": sim.url,
            "start_date": (sim.now - dt.timedelta(days=2)).isoformat(),
            "end_date": sim.now.isoformat(),
            "max_retries": 1,
            **settings,
        }
        config_file = Path(folder) / "config.json"
        config_file.write_text(json.dumps(config))
        process = subprocess.Popen(
            [sys.executable, "-m", "tap_datadog_costs", "--config", str(config_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=code,
            env={**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"},
        )  # fmt: skip
        started = time.monotonic()
        if signal_after:
            time.sleep(signal_after)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
        try:
            _, stderr = process.communicate(timeout=cap)
            ended = f"status {process.returncode}"
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            ended = f"still running after {cap:g} s: killed"
        seconds = time.monotonic() - started
        requests = sum(entry["path"] == HOURLY for entry in sim.requests)
    errors = sum(" | ERROR " in line for line in stderr.decode().splitlines())
    since = "after the signal" if signal_after else "in all"
    return f"{ended}, {seconds:.1f} s {since}, {requests} requests, {errors} ERROR line(s)"


def main() -> None:
    """Each case, one after the other."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose tap to run")
    parser.add_argument("--cap", type=float, default=90, help="seconds before a run is killed")
    options = parser.parse_args()
    for case in CASES:
        print(f"  {case:<36} {run(options.code.resolve(), case, options.cap)}")


if __name__ == "__main__":
    main()
