"""One sync against the simulator with rate limits and faults on, measured against a clean one.

    .venv/bin/python -m benchmarks.reliability [--days 30]

Prints requests sent, 429s received, retries, pacing waits, wall time, and whether the
records equal those of an undisturbed run of the same sync. docs/reliability.md quotes it.
"""

from __future__ import annotations

import argparse
import time

from simulator import DatadogSimulator
from tests.harness import (
    ESTIMATED,
    HOURLY,
    MAPPING,
    ORGS,
    PRIMARY_KEYS,
    data_of,
    pacing_waits,
    recent_config,
    retries,
    sync,
    tap_log,
)

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
    with DatadogSimulator() as sim:
        config = recent_config(sim, days=days, request_timeout=1)
        clean = sync(config)
        clean_requests = len(sim.requests)
        sim.set_rate_limit(HOURLY, LIMIT, PERIOD)
        for path, faults in FAULTS.items():
            for kind, after, seconds in faults:
                sim.inject(path, kind, seconds=seconds, after=after)
        sim.clear_requests()
        started = time.monotonic()
        with tap_log() as log:
            faulty = sync(config)
        wall = time.monotonic() - started
        answers = [r["status"] for r in sim.requests]
    equal = all(
        [data_of(r) for r in faulty.records(s)] == [data_of(r) for r in clean.records(s)]
        for s in PRIMARY_KEYS
    )  # read_at, the run's own instant, differs by design
    waits = pacing_waits(log)
    print(
        f"sync: {days} days, hourly usage limited to {LIMIT} requests per {PERIOD} s, "
        f"{sum(map(len, FAULTS.values()))} faults injected, request_timeout=1"
    )
    for label, value in [
        ("requests (clean run)", clean_requests),
        ("requests", len(answers)),
        ("429s received", sum(" answered 429 " in line for line in retries(log))),
        ("retries", len(retries(log))),
        ("pacing waits", f"{len(waits)} ({sum(waits):.1f} s)"),
        ("wall time", f"{wall:.1f} s"),
        ("records", sum(len(faulty.records(s)) for s in PRIMARY_KEYS)),
        ("records equal a clean run's", equal),
    ]:
        print(f"  {label:<28} {value}")


if __name__ == "__main__":
    main()
