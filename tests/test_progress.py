"""What a person watching a run reads: a plan, progress at a steady interval, a summary."""

from __future__ import annotations

import logging
import re
import typing as t

from simulator import DatadogSimulator
from tap_datadog_costs.progress import Progress, duration
from tap_datadog_costs.rate_limit import AnnouncedRate
from tests.support.clock import NOW
from tests.support.endpoints import (
    ACTIVE,
    ESTIMATED,
    HISTORICAL,
    HOURLY,
    MAPPING,
    ORGS,
    PRIMARY_KEYS,
    PROJECTED,
    SUMMARY,
)
from tests.support.logs import PLAN_LINE, tap_log
from tests.support.running import run_cli, sync
from tests.support.seen import requests_to
from tests.support.settings import ONE_AT_A_TIME, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

    import pytest


#: The paths each stream asks.
BILLABLE = "/api/v1/usage/billable-summary"
#: The endpoints each stream may ask (some share one: estimated cost, by month and by day).
STREAM_PATHS = {
    "organizations": {SUMMARY, ORGS},
    "hourly_usage": {HOURLY},
    "billing_dimension_mappings": {MAPPING},
    "historical_costs": {HISTORICAL},
    "estimated_costs": {ESTIMATED},
    "daily_costs": {ESTIMATED, HISTORICAL},
    "projected_costs": {PROJECTED},
    "active_billing_dimensions": {ACTIVE},
    "billable_usage": {BILLABLE},
    "cost_attribution": {"/api/v2/cost_by_tag/monthly_cost_attribution"},
    "focus_costs": {HISTORICAL, ESTIMATED, BILLABLE},
}
PROGRESS = re.compile(
    r"^(\w+): ([\d,]+)/([\d,]+) (windows?|months?) \((\d+)%\), ([\d,]+) rows?, "
    r"([\d,]+)(?: of about [\d,]+)? requests?, "
    r"([\d,]+) rate-limit waits? \(([\d.]+ s|\d+ min \d+ s) waited\), "
    r"(?:.+ so far, at least .+ in all at Datadog's rate, )?"
    r"(about .+ left|time left not known yet)$"
)
SUMMARY_LINE = re.compile(
    r"^(?P<stream>\w+): done in .+?: (?P<rows>[\d,]+) rows?, (?P<requests>[\d,]+) requests?"
    r"(?: \((?P<reused>[\d,]+) answers? an earlier stream asked for, reused\))?, "
    r"(?P<retries>[\d,]+) (?:retry|retries), (?P<waited>.+?) waited, read (?P<read>.+?), "
    r"bookmark (?P<bookmark>.+)$"
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def matches(pattern: re.Pattern[str], log: list[str]) -> list[re.Match[str]]:
    return [match for line in log if (match := pattern.match(line))]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def read_windows(progress: Progress, clock: FakeClock, count: int, *, before: t.Any = None) -> None:
    """``count`` windows, a second and two requests each; ``before()`` after the first request."""
    for _ in range(count):
        clock.now += 0.5
        progress.request()
        if before is not None:
            before()
            before = None
        clock.now += 0.5
        progress.request()
        progress.advance(100)


def test_progress_lines_come_at_the_interval_with_what_is_done_and_the_time_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    progress = Progress("hourly_usage", interval=3, clock=clock)
    caplog.set_level(logging.INFO, logger="tap-datadog-costs")
    progress.plan("first extract (no bookmark)", 10, "window", "A", "B", each="of 24 h")
    read_windows(progress, clock, 10)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "hourly_usage: first extract (no bookmark): 10 windows of 24 h, A to B"
    ticks = lines[1:]
    assert len(ticks) == 3, ticks  # at 3, 6 and 9 seconds: not one per request (20)
    assert ticks[0] == (
        "hourly_usage: 2/10 windows (20%), 200 rows, 6 requests, 0 rate-limit waits "
        "(0.0 s waited), about 12 s left"
    )
    assert [match.group(2) for match in matches(PROGRESS, ticks)] == ["2", "5", "8"]


def ten_windows_at(rate: AnnouncedRate, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines of a plan of 10 windows (2 requests each), Datadog announcing ``rate`` twice
    at the first answer."""
    clock = FakeClock()
    progress = Progress("hourly_usage", interval=3, clock=clock)
    caplog.set_level(logging.INFO, logger="tap-datadog-costs")
    progress.plan("first extract (no bookmark)", 10, "window", "A", "B", least_requests=10)

    def rate_announced() -> None:  # by the first answer; said once
        progress.rate_known(rate)
        progress.rate_known(rate)

    read_windows(progress, clock, 10, before=rate_announced)
    return [record.getMessage() for record in caplog.records]


def test_the_plan_says_the_requests_and_their_time_at_datadogs_announced_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once the rate is known: the least time the plan takes; progress compares against it."""
    lines = ten_windows_at(AnnouncedRate("usage", 4, 60), caplog)
    assert lines[:2] == [
        "hourly_usage: first extract (no bookmark): 10 windows, at least 10 requests, A to B",
        # 10 requests at 4 a minute: 4 now, 4 after 60 s, 2 after 120 s
        (
            "hourly_usage: Datadog's rate limit is 'usage', 4 requests per 60 s: the 10 "
            "requests take at least 2 min 0 s at that rate"
        ),
    ]
    # Two windows read in four requests (the fifth and sixth are window 3's, under way): 2 a
    # window, about 20 in all (4 min at 4 a minute), 14 left (3 min).
    assert lines[2] == (
        "hourly_usage: 2/10 windows (20%), 200 rows, 6 of about 20 requests, 0 rate-limit "
        "waits (0.0 s waited), 3.0 s so far, at least 4 min 0 s in all at Datadog's rate, "
        "about 3 min 0 s left"
    )
    assert [match.group(2) for match in matches(PROGRESS, lines[2:])] == ["2", "5", "8"]


def test_a_run_says_the_rate_datadog_announces_and_the_requests_it_needs(
    sim: DatadogSimulator,
) -> None:
    sim.set_rate_limit(HOURLY, 600, 60)
    with tap_log() as log:
        sync(recent_config(sim, days=3), now=NOW)
    windows = len(requests_to(sim.requests, HOURLY))  # one page per window: 3 orgs
    (plan,) = [line for line in log if line.startswith("hourly_usage: first extract")]
    assert f"{windows} windows of 24 h, at least {windows} requests, " in plan
    rates = [line for line in log if "Datadog's rate limit is" in line]
    # Far fewer requests than the limit: no "at least 0.0 s", which says nothing.
    assert rates == [
        (
            f"hourly_usage: Datadog's rate limit is 'usage_hourly_usage', 600 requests per 60 s: "
            f"the {windows} requests fit in one period of it: no rate-limit wait expected"
        )
    ]


def test_a_rate_that_does_not_bound_the_run_is_not_compared_with_the_time_so_far(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Within one period of the limit, progress says no "at least 0.0 s in all" beside it."""
    lines = ten_windows_at(AnnouncedRate("usage", 600, 60), caplog)
    assert lines[1] == (
        "hourly_usage: Datadog's rate limit is 'usage', 600 requests per 60 s: the 10 requests "
        "fit in one period of it: no rate-limit wait expected"
    )
    ticks = matches(PROGRESS, lines)
    assert [tick.group(2) for tick in ticks] == ["2", "5", "8"]
    assert ticks[0].group(0) == (
        "hourly_usage: 2/10 windows (20%), 200 rows, 6 of about 20 requests, 0 rate-limit "
        "waits (0.0 s waited), about 12 s left"
    )


def test_time_left_and_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (0.25, 42, 185, 7800)] == [
        "0.2 s",
        "42 s",
        "3 min 5 s",
        "2 h 10 min",
    ]


def test_a_run_plans_each_stream_and_ends_with_a_summary_that_matches_what_it_did(
    sim: DatadogSimulator,
) -> None:
    """Rows, requests and retries as the output and the simulator count them; the bookmark."""
    sim.inject(HOURLY, "500", count=2)
    config = recent_config(sim, days=5)
    with tap_log() as log:
        result = sync(config, now=NOW)
    plans = {match.group(1): match.group(2) for match in matches(PLAN_LINE, log)}
    assert plans == {
        "organizations": "full table",
        "hourly_usage": "first extract (no bookmark)",
        "billing_dimension_mappings": "first extract (no bookmark)",
        "historical_costs": "first extract (no bookmark)",
        "estimated_costs": "full table",
        "daily_costs": "first extract (no bookmark)",
        "active_billing_dimensions": "first extract (no bookmark)",
        "billable_usage": "first extract (no bookmark)",
        "cost_attribution": "first extract (no bookmark)",
        "focus_costs": "first extract (no bookmark)",
    }
    summaries = {match.group("stream"): match for match in matches(SUMMARY_LINE, log)}
    assert set(summaries) == set(PRIMARY_KEYS)
    assert sum(number(m.group("requests")) for m in summaries.values()) == len(sim.requests)
    requests = sim.requests  # streams run one after another: their requests come in turn
    for stream, summary in summaries.items():  # in the order the streams ran
        asked, requests = (
            requests[: number(summary.group("requests"))],
            requests[number(summary.group("requests")) :],
        )
        assert number(summary.group("rows")) == len(result.records(stream)), stream
        assert {r["path"] for r in asked} <= STREAM_PATHS[stream], stream
        assert number(summary.group("retries")) == (2 if stream == "hourly_usage" else 0), stream
        full_table = stream in {"organizations", "estimated_costs"}
        assert summary.group("bookmark") == (
            result.bookmark(stream)
            or ("none (full table: read whole every run)" if full_table else "none yet (no rows)")
        )
    usage = summaries["hourly_usage"]
    assert usage.group("waited") != "0.0 s"  # two back-offs waited
    first, last = usage.group("read").split(" to ")
    assert first == config["start_date"].replace("Z", "+00:00")[:13] + ":00:00+00:00"
    assert last == NOW.isoformat()


def test_projected_cost_says_it_reads_todays_snapshot_not_a_first_extract_every_run(
    sim: DatadogSimulator,
) -> None:
    """Before the 12th Datadog has no projection: no rows, so no bookmark, run after run."""
    config = recent_config(sim, days=3)
    logs = []
    state = None
    for _ in range(2):
        with tap_log() as log:
            state = sync(config, state, now=NOW).final_state
        logs.append([line for line in log if line.startswith("projected_costs: ")])
    for log in logs:
        assert (
            log[0]
            == f"projected_costs: the snapshot of {NOW:%Y-%m-%d}, one a day: 1 month, {NOW:%Y-%m}"
        )
        (summary,) = matches(SUMMARY_LINE, log)
        assert summary.group("rows") == "0"
        assert summary.group("bookmark") == "none yet (no rows)"  # not "full table"


def test_a_stream_served_by_an_answer_an_earlier_stream_asked_for_says_so(
    sim: DatadogSimulator,
) -> None:
    """daily_costs and focus_costs ask for historical cost first: its own stream sends nothing."""
    with tap_log() as log:
        result = sync(recent_config(sim, days=40), now=NOW)
    summaries = {match.group("stream"): match for match in matches(SUMMARY_LINE, log)}
    historical = summaries["historical_costs"]
    assert number(historical.group("rows")) == len(result.records("historical_costs")) > 0
    assert historical.group("requests") == "0"
    assert historical.group("reused") == "1"  # one query for the months still open
    assert summaries["hourly_usage"].group("reused") is None  # nothing said where none was


def test_the_second_run_says_it_is_incremental_and_from_which_bookmark(
    sim: DatadogSimulator,
) -> None:
    config = recent_config(sim, days=3)
    first = sync(config, now=NOW)
    with tap_log() as log:
        sync(config, first.final_state, now=NOW)
    plans = {match.group(1): match.group(3) for match in matches(PLAN_LINE, log) if match.group(3)}
    for stream in ("hourly_usage", "billing_dimension_mappings", "historical_costs"):
        assert plans[stream] == first.bookmark(stream), stream
    (usage_plan,) = [line for line in log if line.startswith("hourly_usage: incremental")]
    assert ", 72 h before it re-read: " in usage_plan


def test_rate_limit_waits_are_counted_in_progress_and_summary(sim: DatadogSimulator) -> None:
    sim.inject(HOURLY, "429", count=1)
    with tap_log() as log:
        sync(recent_config(sim, days=2, progress_seconds=1), now=NOW)
    (usage,) = [m for m in matches(SUMMARY_LINE, log) if m.group("stream") == "hourly_usage"]
    assert number(usage.group("retries")) == 1
    assert usage.group("waited") != "0.0 s"


def test_slow_windows_give_progress_lines_not_one_per_request(sim: DatadogSimulator) -> None:
    sim.inject(HOURLY, "slow", count=3, seconds=1.1, after=1)
    with tap_log() as log:
        sync(recent_config(sim, days=6, progress_seconds=1, **ONE_AT_A_TIME), now=NOW)
    ticks = [m for m in matches(PROGRESS, log) if m.group(1) == "hourly_usage"]
    requests = len(requests_to(sim.requests, HOURLY))
    assert 2 <= len(ticks) < requests, (ticks, requests)
    done = [number(m.group(2)) for m in ticks]
    assert done == sorted(done)
    assert all(number(m.group(3)) == requests for m in ticks)  # one request per 24 h window
    assert all(m.group(10).startswith("about ") for m in ticks)
    # The simulator's rate limit allows these few requests at once: no least time to compare.
    assert not any(" in all at Datadog's rate, " in m.group(0) for m in ticks)


def test_the_cli_shows_no_metric_line_per_request_unless_debugging(
    sim: DatadogSimulator, tmp_path: Path
) -> None:
    config = recent_config(sim, days=2)
    quiet = run_cli(config=config, tmp_path=tmp_path).stderr.decode()
    assert "http_request_count" not in quiet
    assert '"metric":"record_count"' in quiet  # one per stream, for machines
    assert "Starting incremental sync of" not in quiet  # names start_date as a bookmark
    # No projection before the 12th: the SDK's "Pagination stopped after 0 pages", not ours.
    assert "projected_costs: done in " in quiet
    assert "Pagination stopped" not in quiet
    assert re.search(r"hourly_usage: done in .+, bookmark ", quiet)
    debugging = run_cli(config=config, tmp_path=tmp_path, LOGLEVEL="DEBUG").stderr.decode()
    assert "http_request_count" in debugging


def test_with_windows_in_flight_the_requests_a_run_needs_are_counted_from_windows_done() -> None:
    """Requests sent for windows still in flight do not make a window seem to need more."""
    with DatadogSimulator(now=NOW, latency=0.5) as sim, tap_log() as log:
        sync(recent_config(sim, days=16, progress_seconds=1, max_concurrency=4), now=NOW)
    about = [
        number(m.group(1))
        for line in log
        if line.startswith("hourly_usage: ") and (m := re.search(r"of about ([\d,]+) req", line))
    ]
    assert about  # progress lines were written
    assert set(about) == {16}  # one page a window: never more than the 16 the plan says
