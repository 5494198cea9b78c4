"""A full run against the simulator: every stream, exact records, requests Datadog accepts."""

from __future__ import annotations

import datetime as dt
import itertools
import typing as t
from collections import Counter

import pytest

from simulator import USAGE_ONLY_KEYS, DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tests.support.clock import NOW
from tests.support.endpoints import HOURLY, ORGS, PRIMARY_KEYS
from tests.support.logs import tap_log
from tests.support.records import data_of, duplicate_keys
from tests.support.running import SyncResult, sync
from tests.support.seen import requests_to
from tests.support.settings import tap_config

START = NOW - dt.timedelta(days=30)
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
NOVEMBER = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def as_set(records: list[dict[str, t.Any]]) -> Counter[str]:
    return Counter(repr(sorted(data_of(r).items())) for r in records)


@pytest.fixture(scope="module")
def run(simulator: DatadogSimulator) -> tuple[SyncResult, list[dict[str, t.Any]]]:
    """One 30-day multi-org run, and the requests it made."""
    simulator.clear_requests()
    result = sync(tap_config(simulator.url, start_date=START.isoformat()), now=NOW)
    return result, list(simulator.requests)


def test_hourly_usage_equals_the_simulators_data(run: t.Any, simulator: DatadogSimulator) -> None:
    result, _ = run
    expected = simulator.expected_hourly_usage(START, NOW, include_descendants=True)
    records = result.records("hourly_usage")
    assert (
        len(records) == len(expected) == 30 * 24 * 3 * 5 - 3 * 3 * 5
    )  # 3 latest hours not there yet
    assert as_set(records) == as_set(expected)
    assert sum(r["value"] or 0 for r in records) == sum(r["value"] or 0 for r in expected)
    assert {r["public_id"] for r in records} == {"parent00001", "child00001", "child00002"}
    assert any(r["value"] is None for r in records)


def test_no_state_covers_an_hour_of_a_window_still_being_read(run: t.Any) -> None:
    """Rows leave page by page, in Datadog's order; the bookmark moves per window read whole.

    So every row written after a STATE is later than its bookmark: a run resumed from any
    STATE misses nothing (and re-reads ``lookback_hours`` before it besides).
    """
    bookmark, states, after = None, 0, []
    for message in run[0].messages:
        if message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"].get("hourly_usage", {})
            bookmark = bookmark.get("replication_key_value")
            states += bookmark is not None
        elif message["type"] == "RECORD" and message["stream"] == "hourly_usage" and bookmark:
            after.append((message["record"]["timestamp"], bookmark))
    assert states > 10  # a STATE every 1,000 rows, many inside a window
    assert after
    assert all(timestamp > bookmark for timestamp, bookmark in after)
    timestamps = [r["timestamp"] for r in run[0].records("hourly_usage")]
    assert min(timestamps) == START.isoformat()
    assert run[0].bookmark("hourly_usage") == max(timestamps)


def test_costs_equal_the_simulators_data(run: t.Any, simulator: DatadogSimulator) -> None:
    result, _ = run
    for stream, kind in (("historical_costs", "historical"), ("estimated_costs", "estimated")):
        expected = simulator.expected_costs(kind, OCTOBER, NOVEMBER, "sub-org")
        records = result.records(stream)
        assert records, stream
        assert as_set(records) == as_set(expected), stream
        totals = sum(r["cost"] for r in records if r["charge_type"] == "total")
        assert totals == pytest.approx(
            sum(r["cost"] for r in expected if r["charge_type"] == "total")
        )
    # Historical cost has October (not final yet) but not the current month.
    assert {r["month"] for r in result.records("historical_costs")} == {OCTOBER.isoformat()}
    assert {r["month"] for r in result.records("estimated_costs")} == {
        OCTOBER.isoformat(),
        NOVEMBER.isoformat(),
    }


def test_mappings_and_orgs_equal_the_simulators_data(
    run: t.Any, simulator: DatadogSimulator
) -> None:
    result, _ = run
    expected = simulator.expected_mappings(OCTOBER) + simulator.expected_mappings(NOVEMBER)
    assert as_set(result.records("billing_dimension_mappings")) == as_set(expected)
    assert result.records("organizations") == simulator.expected_organizations(START, NOW)


@pytest.fixture(scope="module")
def wide_run() -> SyncResult:
    """75 days to the 20th, with tag keys: every stream has rows (this month's projection,
    last month's cost attribution, its adjustment rows)."""
    later = NOW.replace(day=20)
    start = (later - dt.timedelta(days=75)).isoformat()
    with DatadogSimulator(now=later) as sim:
        config = tap_config(sim.url, start_date=start, cost_attribution_tag_keys=["team", "env"])
        return sync(config, now=later)


@pytest.mark.parametrize("stream", sorted(PRIMARY_KEYS))
def test_primary_keys_are_unique_and_not_null(wide_run: SyncResult, stream: str) -> None:
    records = wide_run.records(stream)
    assert records
    assert duplicate_keys(stream, records) == []


def test_every_month_and_timestamp_is_a_utc_first_instant(run: t.Any) -> None:
    result, _ = run
    for stream in ("historical_costs", "estimated_costs", "billing_dimension_mappings"):
        for record in result.records(stream):
            month = parse_instant(record["month"])
            assert (month.day, month.hour, month.minute) == (1, 0, 0)
            assert record["month"].endswith("+00:00")
    assert all(r["timestamp"].endswith(":00:00+00:00") for r in result.records("hourly_usage"))


def window(request: dict[str, t.Any]) -> tuple[dt.datetime, dt.datetime]:
    params = request["params"]
    return parse_instant(params["filter[timestamp][start]"] + ":00:00"), parse_instant(
        params["filter[timestamp][end]"] + ":00:00"
    )


def test_requests_are_made_once_in_windows_datadog_accepts(run: t.Any) -> None:
    _, requests = run
    assert all(r["status"] == 200 for r in requests)
    keys = [(r["path"], tuple(sorted(r["params"].items()))) for r in requests]
    assert len(keys) == len(set(keys)), "a request was made twice"
    usage = requests_to(requests, HOURLY)
    windows = sorted(window(r) for r in usage)  # read side by side: any order
    assert len(usage) == 30
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(end - start <= dt.timedelta(hours=24) for start, end in windows)
    assert windows[0][0] == START
    assert windows[-1][1] == NOW
    assert all(r["params"]["page[limit]"] == "500" for r in usage)
    assert all(r["params"]["filter[include_descendants]"] == "true" for r in usage)
    counts = Counter(r["path"] for r in requests)
    assert counts == {
        "/api/v2/usage/hourly_usage": 30,
        "/api/v1/org": 1,
        "/api/v1/usage/summary": 1,
        "/api/v2/usage/billing_dimension_mapping": 2,
        "/api/v2/usage/historical_cost": 1,
        # estimated_costs, daily_costs per open month, focus_costs for the billing account
        "/api/v2/usage/estimated_cost": 4,
        "/api/v2/usage/projected_cost": 1,
        "/api/v2/cost_by_tag/active_billing_dimensions": 1,
        "/api/v1/usage/billable-summary": 2,  # October and November
        "/api/v2/cost_by_tag/monthly_cost_attribution": 1,  # October: not attributed yet
    }


def test_pages_are_followed_with_next_record_id() -> None:
    with DatadogSimulator(now=NOW, child_orgs=10) as sim:
        start = NOW - dt.timedelta(days=2)
        result = sync(tap_config(sim.url, start_date=start.isoformat()), now=NOW)
        usage = requests_to(sim.requests, HOURLY)
        expected = sim.expected_hourly_usage(start, NOW, include_descendants=True)
    assert any("page[next_record_id]" in r["params"] for r in usage)
    assert len(usage) > 2
    assert as_set(result.records("hourly_usage")) == as_set(expected)
    assert len({r["public_id"] for r in result.records("hourly_usage")}) == 11


def test_parent_only_uses_two_month_windows_and_the_summary_view() -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = NOW - dt.timedelta(days=100)
        config = tap_config(sim.url, start_date=start.isoformat(), include_descendants=False)
        result = sync(config, now=NOW)
        usage = requests_to(sim.requests, HOURLY)
        expected = sim.expected_hourly_usage(start, NOW, include_descendants=False)
        cost_views = {r["params"].get("view") for r in sim.requests if r["path"].endswith("_cost")}
    windows = [window(r) for r in usage if "page[next_record_id]" not in r["params"]]
    assert len(windows) == 2
    assert all(r["params"]["filter[include_descendants]"] == "false" for r in usage)
    assert as_set(result.records("hourly_usage")) == as_set(expected)
    assert {r["public_id"] for r in result.records("historical_costs")} == {"parent00001"}
    assert cost_views == {"summary"}


def test_selected_product_families_are_requested_and_returned() -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = NOW - dt.timedelta(days=1)
        config = tap_config(
            sim.url,
            start_date=start.isoformat(),
            product_families=["logs", "application_performance_monitoring"],
        )
        result = sync(config, now=NOW)
        families = {
            r["params"]["filter[product_families]"] for r in requests_to(sim.requests, HOURLY)
        }
    assert families == {"logs,application_performance_monitoring"}
    assert {r["product_family"] for r in result.records("hourly_usage")} == {
        "logs",
        "application_performance_monitoring",
    }


def test_a_billing_dimension_without_endpoints_still_has_a_mapping_row(run: t.Any) -> None:
    rows = [
        r
        for r in run[0].records("billing_dimension_mappings")
        if r["billing_dimension"] == "ci_visibility_committers"
    ]
    assert [(r["month"], r["endpoint"], r["keys"], r["status"]) for r in rows] == [
        (OCTOBER.isoformat(), "(none)", None, None),
        (NOVEMBER.isoformat(), "(none)", None, None),
    ]
    assert all(r["timestamp"] == r["month"] for r in run[0].records("billing_dimension_mappings"))


def test_product_families_are_sent_as_given_so_new_families_work_at_once() -> None:
    """No allow-list in the tap: families the API reference added lately are extracted."""
    new_families = ["ai", "csm_host_pro", "data_observability", "digital_experience_management"]
    with DatadogSimulator(now=NOW, families=("infra_hosts", *new_families)) as sim:
        start = NOW - dt.timedelta(days=1)
        config = tap_config(sim.url, start_date=start.isoformat(), product_families=new_families)
        result = sync(config, now=NOW)
        families = {
            r["params"]["filter[product_families]"] for r in requests_to(sim.requests, HOURLY)
        }
    assert families == {",".join(new_families)}
    assert {r["product_family"] for r in result.records("hourly_usage")} == set(new_families)


def test_every_org_in_usage_and_cost_rows_is_in_organizations(run: t.Any) -> None:
    """Joining usage or cost rows to organizations drops no child org."""
    result, _ = run
    orgs = {r["public_id"] for r in result.records("organizations")}
    for stream in ("hourly_usage", "historical_costs", "estimated_costs"):
        seen = {r["public_id"] for r in result.records(stream)}
        assert seen
        assert seen <= orgs, stream
    assert len(orgs) == 3
    assert [r["public_id"] for r in result.records("organizations") if r["is_parent"]] == [
        "parent00001"
    ]


def test_keys_without_org_management_list_every_org_and_say_what_is_missing(
    simulator: DatadogSimulator,
) -> None:
    start = NOW - dt.timedelta(days=2)
    config = tap_config(simulator.url, USAGE_ONLY_KEYS, start_date=start.isoformat())
    with tap_log() as log:
        result = sync(config, now=NOW)
    orgs = result.records("organizations")
    assert [o["public_id"] for o in orgs] == ["parent00001", "child00001", "child00002"]
    assert {o["is_parent"] for o in orgs} == {None}
    assert {o["description"] for o in orgs} == {None}
    warned = [line for line in log if "org_management" in line]
    assert len(warned) == 1
    assert warned[0].startswith("organizations: the parent's description, creation date")
    assert f"Datadog answered 403 to GET {ORGS}: Forbidden" in warned[0]
    assert result.records("hourly_usage")  # and the run went on
    assert result.records("estimated_costs")
