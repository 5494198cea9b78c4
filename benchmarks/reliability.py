"""One sync against the simulator with rate limits and faults on, measured against a clean one.

Both are the tap's command line, as a user runs it; the benchmark imports nothing from the
tests.

    .venv/bin/python -m benchmarks.reliability [--days 30]

Prints requests sent, 429s received, retries, pacing waits, wall time, and whether the
records equal those of an undisturbed run of the same sync. docs/reliability.md quotes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import PARENT_KEYS, DatadogSimulator  # noqa: E402

# The endpoints, as Datadog's API reference spells them.
HOURLY = "/api/v2/usage/hourly_usage"
ESTIMATED = "/api/v2/usage/estimated_cost"
MAPPING = "/api/v2/usage/billing_dimension_mapping"
ORGS = "/api/v1/org"
#: When a run read a row: the tap's clock, which differs between two runs by design.
RUN_FIELDS = ("read_at", "x_ReadAt")


def sync(config: dict, folder: Path) -> tuple[list[dict], list[str]]:
    """The tap's CLI, as a user runs it: its records (without RUN_FIELDS) and its log lines."""
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-m", "tap_datadog_costs", "--config", str(config_file)],
        capture_output=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    records = [
        {"stream": m["stream"], **{k: v for k, v in m["record"].items() if k not in RUN_FIELDS}}
        for m in map(json.loads, result.stdout.splitlines())
        if m["type"] == "RECORD"
    ]
    return records, result.stderr.decode().splitlines()


#: Faults per endpoint: (kind, good answers before it, seconds) — at most two in a row.
FAULTS = {
    HOURLY: [("500", 2, 0), ("reset", 0, 0), ("truncated", 3, 0), ("nonjson", 3, 0),
             ("slow", 3, 2), ("503", 3, 0), ("429", 3, 1)],
    ESTIMATED: [("503", 0, 0)],
    MAPPING: [("truncated", 0, 0)],
    ORGS: [("reset", 0, 0)],
}  # fmt: skip
LIMIT, PERIOD = 4, 2  # hourly usage: 4 requests per 2 seconds


def main() -> None:
    """Run a clean sync, then the same one under rate limits and faults, and compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of hourly usage to sync")
    days = parser.parse_args().days
    with DatadogSimulator() as sim, tempfile.TemporaryDirectory() as folder:
        start = sim.now - dt.timedelta(days=days)
        config = {
            "api_key": PARENT_KEYS[0],
            "app_key": PARENT_KEYS[1],
            "api_url": sim.url,
            "start_date": start.isoformat(),
            "end_date": sim.now.isoformat(),
            "request_timeout": 1,
        }
        clean, _ = sync(config, Path(folder))
        clean_requests = len(sim.requests)
        sim.set_rate_limit(HOURLY, LIMIT, PERIOD)
        for path, faults in FAULTS.items():
            for kind, after, seconds in faults:
                sim.inject(path, kind, seconds=seconds, after=after)
        sim.clear_requests()
        started = time.monotonic()
        faulty, log = sync(config, Path(folder))
        wall = time.monotonic() - started
        answers = [r["status"] for r in sim.requests]
    equal = faulty == clean  # read_at, the run's own instant, left out
    retries = [line for line in log if "; retrying in " in line]
    waits = [float(m[1]) for line in log if (m := re.search(r"spent: waiting ([\d.]+) s", line))]
    print(
        f"sync: {days} days, hourly usage limited to {LIMIT} requests per {PERIOD} s, "
        f"{sum(map(len, FAULTS.values()))} faults injected, request_timeout=1"
    )
    for label, value in [
        ("requests (clean run)", clean_requests),
        ("requests", len(answers)),
        ("429s received", sum(" answered 429 " in line for line in retries)),
        ("retries", len(retries)),
        ("pacing waits", f"{len(waits)} ({sum(waits):.1f} s)"),
        ("wall time", f"{wall:.1f} s"),
        ("records", len(faulty)),
        ("records equal a clean run's", equal),
    ]:
        print(f"  {label:<28} {value}")


if __name__ == "__main__":
    main()
