"""How many requests, and how long, an hourly usage extract takes: before running it.

    python -m tap_datadog_costs.plan --orgs 500 --families 20 --months 15 --limit 60 --period 60

The tap reads hourly usage in windows of 24 hours (with child orgs; `periods.hour_windows`),
one item per org, product family and hour, in pages of 500 items (`streams/usage.py`): the
requests follow from the number of orgs and families. The time is the least those requests take
at a rate limit of ``limit`` requests per ``period`` seconds: the tap says the rate Datadog
announces for your keys when a run starts (its "Datadog's rate limit is ..." line), and no
number is published for the usage endpoints. ``--hours-per-run`` splits a backfill into runs
that each end within that time, by ``end_date``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys

from tap_datadog_costs.periods import add_months, floor_hour, hour_windows, isoformat
from tap_datadog_costs.progress import duration, plural
from tap_datadog_costs.rate_limit import AnnouncedRate
from tap_datadog_costs.streams.usage import PAGE_LIMIT


def hourly_usage_requests(
    start: dt.datetime, end: dt.datetime, orgs: int, families: int
) -> tuple[int, int]:
    """The windows and the requests (pages) of hourly usage from ``start`` to ``end``."""
    windows = list(hour_windows(start, end, include_descendants=orgs > 1))
    requests = sum(
        max(1, math.ceil(orgs * families * (stop - begin) / dt.timedelta(hours=1) / PAGE_LIMIT))
        for begin, stop in windows
    )
    return len(windows), requests


def backfill_runs(
    start: dt.datetime, end: dt.datetime, runs: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` cut into ``runs`` spans of whole days, oldest first."""
    days = math.ceil((end - start) / dt.timedelta(days=1) / runs)
    spans = []
    while start < end:
        stop = min(start + dt.timedelta(days=days), end)
        spans.append((start, stop))
        start = stop
    return spans


def main(argv: list[str] | None = None) -> None:
    """Print the plan of a backfill of ``--months`` up to now (or ``--end``)."""
    parser = argparse.ArgumentParser(prog="python -m tap_datadog_costs.plan", description=__doc__)
    parser.add_argument("--orgs", type=int, required=True, help="the parent and its child orgs")
    parser.add_argument("--families", type=int, required=True, help="product families with usage")
    parser.add_argument("--months", type=int, required=True, help="whole months before --end's")
    parser.add_argument("--end", type=dt.datetime.fromisoformat, help="default: this hour (UTC)")
    parser.add_argument("--limit", type=int, required=True, help="requests per period")
    parser.add_argument("--period", type=float, required=True, help="the period, in seconds")
    parser.add_argument("--hours-per-run", type=float, help="split into runs of at most this")
    arguments = parser.parse_args(argv)
    end = floor_hour(arguments.end or dt.datetime.now(dt.timezone.utc))
    start = add_months(end.replace(day=1, hour=0), -arguments.months)
    rate = AnnouncedRate("hourly usage", arguments.limit, arguments.period)
    windows, requests = hourly_usage_requests(start, end, arguments.orgs, arguments.families)
    seconds = rate.seconds_for(requests)
    families = plural(arguments.families, "family", "families")
    extract = f"{isoformat(start)} to {isoformat(end)}"
    lines = [
        f"hourly_usage, {plural(arguments.orgs, 'org')} x {families}, {extract}:",
        f"  {plural(windows, 'window')}, {plural(requests, 'request')} (pages of {PAGE_LIMIT})",
        f"  at {rate}: at least {duration(seconds)}",
    ]
    if arguments.hours_per_run:
        runs = max(1, math.ceil(seconds / 3600 / arguments.hours_per_run))
        spans = backfill_runs(start, end, runs)
        lines.append(
            f"  in runs of at most {arguments.hours_per_run:g} h: {plural(len(spans), 'run')}, "
            "each up to its end_date:"
        )
        lines += [f"    run {n}: {isoformat(stop)}" for n, (_, stop) in enumerate(spans, 1)]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
