"""Incremental state: look-back re-reads, month finality, resuming an interrupted run."""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tests.support.clock import NOW
from tests.support.endpoints import HISTORICAL, HOURLY, MAPPING, PRIMARY_KEYS
from tests.support.logs import tap_log
from tests.support.records import merge_on_keys
from tests.support.running import nth, records_of, run_until_killed, sync
from tests.support.seen import requests_to
from tests.support.settings import recent_config, tap_config

UTC = dt.timezone.utc
START = NOW - dt.timedelta(days=10)


def test_rerun_rereads_only_the_lookback_window_and_open_months() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START.isoformat())
        first = sync(config, now=NOW)
        sim.clear_requests()
        second = sync(config, first.final_state, now=NOW)
        usage = requests_to(sim.requests, HOURLY)
        historical = requests_to(sim.requests, HISTORICAL)
        mappings = requests_to(sim.requests, MAPPING)

    bookmark = parse_instant(first.bookmark("hourly_usage"))
    assert bookmark == NOW - dt.timedelta(hours=4)  # the latest hour Datadog had
    assert (
        usage[0]["params"]["filter[timestamp][start]"]
        == f"{bookmark - dt.timedelta(hours=72):%Y-%m-%dT%H}"
    )
    assert len(usage) == 4  # 76 hours in 24-hour windows
    second_hours = {r["timestamp"] for r in second.records("hourly_usage")}
    assert min(second_hours) == (bookmark - dt.timedelta(hours=72)).isoformat()
    # October is not final on November 10th: it is read again; nothing older is.
    assert [r["params"]["start_month"] for r in historical] == ["2026-10"]
    assert first.bookmark("historical_costs") == "2026-10-01T00:00:00+00:00"
    # Mappings: only the current month is re-read.
    assert [r["params"]["filter[month]"][:7] for r in mappings] == ["2026-11"]
    assert first.bookmark("billing_dimension_mappings") == "2026-11-01T00:00:00+00:00"


def test_late_usage_is_picked_up_by_the_lookback() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START.isoformat())
        first = sync(config, now=NOW)
        sim.revise()  # late data: values change in the last 72 h, 3 new hours appear
        second = sync(config, first.final_state, now=NOW)
        expected = sim.expected_hourly_usage(START, NOW, include_descendants=True)
        estimated = sim.expected_costs("estimated", NOW - dt.timedelta(days=40), NOW, "sub-org")

    merged = merge_on_keys(
        "hourly_usage", first.records("hourly_usage"), second.records("hourly_usage")
    )
    assert merged == merge_on_keys("hourly_usage", expected)
    assert len(second.records("hourly_usage")) < len(first.records("hourly_usage"))
    assert merge_on_keys("estimated_costs", second.records("estimated_costs")) == merge_on_keys(
        "estimated_costs", estimated
    )


#: The stream whose requests these tests count (daily_costs asks historical cost too).
HISTORICAL_ONLY = ("historical_costs",)


def test_a_month_not_final_when_read_is_read_again_once_final() -> None:
    november_20 = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    start = "2026-08-01T00:00:00+00:00"
    with DatadogSimulator(now=NOW) as sim:
        first = sync(tap_config(sim.url, start_date=start), now=NOW, streams=HISTORICAL_ONLY)
    assert first.bookmark("historical_costs") == "2026-10-01T00:00:00+00:00"
    assert {r["month"][:7] for r in first.records("historical_costs")} == {
        "2026-08",
        "2026-09",
        "2026-10",
    }

    with DatadogSimulator(now=november_20) as later:
        second = sync(
            tap_config(later.url, start_date=start),
            first.final_state,
            now=november_20,
            streams=HISTORICAL_ONLY,
        )
        historical = requests_to(later.requests, HISTORICAL)
        final_october = later.expected_costs(
            "historical", parse_instant(start), november_20, "sub-org"
        )
        assert later.is_final(dt.datetime(2026, 10, 1, tzinfo=UTC))
        later.clear_requests()
        third = sync(
            tap_config(later.url, start_date=start),
            second.final_state,
            now=november_20,
            streams=HISTORICAL_ONLY,
        )
        third_historical = requests_to(later.requests, HISTORICAL)

    assert [r["params"]["start_month"] for r in historical] == ["2026-10"]
    assert second.bookmark("historical_costs") == "2026-11-01T00:00:00+00:00"
    # November is only in estimated cost until December: nothing to ask historical cost for.
    assert third_historical == []
    assert third.records("historical_costs") == []
    assert third.bookmark("historical_costs") == "2026-11-01T00:00:00+00:00"
    october = [r for r in final_october if r["month"].startswith("2026-10")]
    assert merge_on_keys("historical_costs", second.records("historical_costs")) == merge_on_keys(
        "historical_costs", october
    )
    # The revised (final) figures differ from the ones first read.
    first_october = [
        r for r in first.records("historical_costs") if r["month"].startswith("2026-10")
    ]
    assert merge_on_keys("historical_costs", first_october) != merge_on_keys(
        "historical_costs", october
    )


def test_end_date_in_the_past_reads_nothing_again() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(
            sim.url, start_date="2026-06-01T00:00:00Z", end_date="2026-08-01T00:00:00Z"
        )
        first = sync(config, now=NOW)
        sim.clear_requests()
        sync(config, first.final_state, now=NOW)
        historical = requests_to(sim.requests, HISTORICAL)
    assert {r["month"][:7] for r in first.records("historical_costs")} == {"2026-06", "2026-07"}
    assert first.bookmark("historical_costs") == "2026-08-01T00:00:00+00:00"
    assert historical == []


def test_a_backfill_ending_before_the_states_bookmarks_says_the_state_stops_it() -> None:
    """docs/scaling.md's backfill run with the usual runs' state: hourly usage, whose bookmark
    is past end_date, reads nothing and says so in one warning with how to start over; never
    that its start "has not ended". With a state of its own, the backfill's next piece resumes
    and warns of nothing (mappings' bookmark is the month after the piece's: read whole)."""
    backfill = {"start_date": "2026-10-01T00:00:00Z", "end_date": "2026-10-03T00:00:00Z"}
    later = {**backfill, "end_date": "2026-10-05T00:00:00Z"}
    with DatadogSimulator(now=NOW) as sim:
        usual = sync(tap_config(sim.url, start_date=START.isoformat()), now=NOW)
        sim.clear_requests()
        with tap_log() as log:
            again = sync(tap_config(sim.url, **backfill), usual.final_state, now=NOW)
        usage = requests_to(sim.requests, HOURLY)
        piece = sync(tap_config(sim.url, **backfill), now=NOW)
        with tap_log() as next_log:
            sync(tap_config(sim.url, **later), piece.final_state, now=NOW)

    assert usage == []
    assert again.records("hourly_usage") == []
    assert piece.records("hourly_usage")
    assert [line for line in log + next_log if "has not ended" in line] == []
    (warned,) = [line for line in log if "after end_date" in line]
    resumes = parse_instant(usual.bookmark("hourly_usage")) - dt.timedelta(hours=72)
    assert warned.startswith("hourly_usage: incremental from the bookmark"), warned
    assert (
        f"nothing to read: the state's bookmark starts this run at {resumes.isoformat()}, after "
        "end_date 2026-10-03T00:00:00+00:00" in warned
    )
    assert "--state-id-suffix" in warned
    assert "--full-refresh" in warned
    assert [line for line in next_log if "after end_date" in line] == []
    assert (
        "billing_dimension_mappings: incremental from the bookmark 2026-11-01T00:00:00+00:00: "
        "nothing to read: the bookmark is at end_date 2026-10-05T00:00:00+00:00: what comes "
        "before it was read" in next_log
    )


@pytest.mark.parametrize("stop_after_states", [1, 3])
def test_interrupted_run_resumes_without_losing_a_record(
    tmp_path: t.Any, stop_after_states: int
) -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = sim.now - dt.timedelta(days=10)
        config = tap_config(sim.url, start_date=start.isoformat(), lookback_hours=0)
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        hourly_bookmark = nth(
            lambda m: m["type"] == "STATE" and "hourly_usage" in m["value"]["bookmarks"],
            stop_after_states,
        )
        killed, interrupted = run_until_killed(config_file, hourly_bookmark)
        assert interrupted, "the run finished before it could be interrupted"
        state = [m["value"] for m in killed if m["type"] == "STATE"][-1]
        resumed = sync(config, state)
        clean = sync(config)

    for stream in PRIMARY_KEYS:
        merged = merge_on_keys(stream, records_of(killed, stream), resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream
    # The resumed run did not start over.
    assert len(resumed.records("hourly_usage")) < len(clean.records("hourly_usage"))


def test_every_run_ends_on_a_state_message_even_when_no_bookmark_moved(
    simulator: DatadogSimulator,
) -> None:
    """Targets that write back the state only when the last message is one (target-jsonl)."""
    config = recent_config(simulator, days=2)
    first = sync(config, now=NOW)
    second = sync(config, first.final_state, now=NOW)  # the same hour: no bookmark moves
    for run in (first, second):
        assert run.messages[-1]["type"] == "STATE"
    assert second.final_state == first.final_state
