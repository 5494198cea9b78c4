"""The planner (`python -m tap_datadog_costs.plan`): requests and time before a backfill."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from simulator import DatadogSimulator
from tap_datadog_costs.plan import hourly_usage_requests
from tap_datadog_costs.rate_limit import AnnouncedRate
from tests.support.endpoints import HOURLY
from tests.support.paths import ROOT
from tests.support.running import sync
from tests.support.seen import requests_to
from tests.support.settings import recent_config

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)


def test_the_planner_counts_the_requests_a_run_makes() -> None:
    """25 orgs x 3 families x 24 hours: 1,800 items a window, 4 pages of 500."""
    with DatadogSimulator(now=NOW, child_orgs=24) as sim:
        start = sim.now - dt.timedelta(days=3)
        sync(recent_config(sim, days=3), now=NOW, streams=("hourly_usage",))
        made = len(requests_to(sim.requests, HOURLY))
    # The simulator's last hours have no data yet: its last window is a page short at most.
    windows, planned = hourly_usage_requests(start, NOW, orgs=25, families=3)
    assert (windows, planned) == (3, 12)
    assert made == planned


def test_time_at_a_rate_counts_whole_periods_after_the_first_budget() -> None:
    rate = AnnouncedRate("usage", 60, 60)
    assert [rate.seconds_for(n) for n in (1, 60, 61, 120, 121)] == [0, 0, 60, 60, 120]


def test_the_command_plans_a_backfill_and_splits_it_into_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tap_datadog_costs.plan", "--orgs", "500", "--families", "20",
         "--months", "1", "--end", "2026-11-01T00:00:00+00:00", "--limit", "60",
         "--period", "60", "--hours-per-run", "2"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    # 31 days of 500 x 20 x 24 = 240,000 items: 480 pages each; 248 minutes at 60 a minute.
    assert result.stdout.splitlines() == [
        (
            "hourly_usage, 500 orgs x 20 families, 2026-10-01T00:00:00+00:00 to "
            "2026-11-01T00:00:00+00:00:"
        ),
        "  31 windows, 14,880 requests (pages of 500)",
        "  at 'hourly usage', 60 requests per 60 s: at least 4 h 7 min",
        "  in runs of at most 2 h: 3 runs, each up to its end_date:",
        "    run 1: 2026-10-12T00:00:00+00:00",
        "    run 2: 2026-10-23T00:00:00+00:00",
        "    run 3: 2026-11-01T00:00:00+00:00",
    ]
