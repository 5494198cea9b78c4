"""billable_usage and cost_attribution against the simulator."""

from __future__ import annotations

import datetime as dt
import typing as t
from collections import defaultdict
from decimal import Decimal

import pytest

from simulator import NO_ATTRIBUTION_KEYS, DatadogSimulator
from tap_datadog_costs.streams.cost_attribution import tag_set
from tests.support.logs import tap_log
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import run_cli, sync
from tests.support.seen import requests_to
from tests.support.settings import ONE_AT_A_TIME, tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
START = "2026-06-01T00:00:00+00:00"
BILLABLE = "/api/v1/usage/billable-summary"
ATTRIBUTION = "/api/v2/cost_by_tag/monthly_cost_attribution"
BILLABLE_FIELDS = (
    "month",
    "public_id",
    "org_name",
    "billable_key",
    "product_name",
    "org_billable_usage",
    "account_billable_usage",
    "percentage_in_account",
    "usage_unit",
    "elapsed_usage_hours",
    "first_billable_usage_hour",
    "last_billable_usage_hour",
)
MEASURES = ("on_demand_cost", "committed_cost", "total_cost")


def cents(amount: float | None) -> Decimal:
    return round(Decimal(repr(amount or 0)), 2)


@pytest.fixture(scope="module")
def run() -> t.Iterator[tuple[DatadogSimulator, t.Any]]:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START, cost_attribution_tag_keys=["team", "env"])
        yield sim, sync(config, now=NOW)


def test_billable_usage_is_every_org_and_product_of_every_month(run: t.Any) -> None:
    sim, result = run
    rows = result.records("billable_usage")
    assert duplicate_keys("billable_usage", rows) == []
    months = sorted({r["month"] for r in rows})
    assert months[0] == START
    assert months[-1] == "2026-11-01T00:00:00+00:00"  # the current month, so far
    expected = [row for month in months for row in sim.expected_billable_usage(month)]
    ours = {(r["month"], r["public_id"], r["billable_key"]): r for r in rows}
    assert set(ours) == {(r["month"], r["public_id"], r["billable_key"]) for r in expected}
    for row in expected:
        mine = ours[(row["month"], row["public_id"], row["billable_key"])]
        assert {f: mine[f] for f in BILLABLE_FIELDS} == {f: row[f] for f in BILLABLE_FIELDS}
    assert {r["usage_aggregation"] for r in rows} <= {"sum", "top99p", "average", "maximum"}
    costs = {r["product_name"] for r in result.records("historical_costs")}
    assert {r["product_name"] for r in rows} <= costs  # joins cost rows on the product
    statuses = {r["month"]: r["usage_status"] for r in rows}
    assert statuses["2026-10-01T00:00:00+00:00"] == "final"  # read after November 16th
    assert statuses["2026-11-01T00:00:00+00:00"] == "preliminary"
    assert result.bookmark("billable_usage") == "2026-11-01T00:00:00+00:00"
    asked = [r["params"]["month"] for r in requests_to(sim.requests, BILLABLE)]
    assert sorted(asked) == [m[:7] for m in months]  # one request per month


def month_after(month: str) -> str:
    """``2026-12`` -> ``2027-01``."""
    year, number = map(int, month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def test_cost_attribution_is_flat_and_adds_up_to_historical_cost_per_org_and_product(
    run: t.Any,
) -> None:
    sim, result = run
    rows = result.records("cost_attribution")
    assert duplicate_keys("cost_attribution", rows) == []
    months = sorted({r["month"] for r in rows})
    assert months == [
        "2026-06-01T00:00:00+00:00",
        "2026-07-01T00:00:00+00:00",
        "2026-08-01T00:00:00+00:00",
        "2026-09-01T00:00:00+00:00",
        "2026-10-01T00:00:00+00:00",  # attributed from November 19th
    ]
    expected = sim.expected_cost_attribution(months[0], months[-1], ["team", "env"])
    ours = {(r["month"], r["public_id"], r["tag_set"], r["billing_dimension"]): r for r in rows}
    assert len(ours) == len(expected)
    for row in expected:
        mine = ours[
            (row["month"], row["public_id"], tag_set(row["tags"]), row["billing_dimension"])
        ]
        assert mine["tags"] == row["tags"]
        for measure in (*MEASURES, "percentage_in_org", "percentage_in_account"):
            assert mine[measure] == row[measure], (measure, row)
    sums: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
    for r in rows:
        for measure in MEASURES:
            sums[(r["month"], r["public_id"], r["billing_dimension"], measure)] += Decimal(
                repr(r[measure])
            )
    charge = {"on_demand": "on_demand_cost", "committed": "committed_cost", "total": "total_cost"}
    for cost in result.records("historical_costs"):
        if cost["month"] in months:
            key = (
                cost["month"],
                cost["public_id"],
                cost["product_name"],
                charge[cost["charge_type"]],
            )
            assert round(sums[key], 2) == cents(cost["cost"]), key
    assert {r["cost_status"] for r in rows} == {"final"}
    asked = requests_to(sim.requests, ATTRIBUTION)
    assert {r["params"]["tag_breakdown_keys"] for r in asked} == {"team,env"}
    # Ranges of months side by side, each read page after page with next_record_id.
    ranges = {}
    for request in asked:
        params = request["params"]
        ranges.setdefault((params["start_month"], params.get("end_month")), []).append(params)
    assert len(ranges) > 1
    for pages in ranges.values():
        assert "next_record_id" not in pages[0]
        assert all("next_record_id" in page for page in pages[1:])
    spans = sorted(ranges)  # each range starts the month after the one before it ends
    assert spans[0][0] == months[0][:7]
    assert [start for start, _ in spans[1:]] == [month_after(end) for _, end in spans[:-1]]


def test_one_request_at_a_time_reads_every_month_in_one_range_page_after_page(
    run: t.Any,
) -> None:
    sim, side_by_side = run
    sim.clear_requests()
    config = tap_config(
        sim.url, start_date=START, cost_attribution_tag_keys=["team", "env"], **ONE_AT_A_TIME
    )
    result = sync(config, now=NOW, streams=("cost_attribution",))
    asked = [r["params"] for r in requests_to(sim.requests, ATTRIBUTION)]
    assert {(page["start_month"], page["end_month"]) for page in asked} == {("2026-06", "2026-10")}
    assert len(asked) > 1
    assert all("next_record_id" in page for page in asked[1:])
    assert merge_on_keys("cost_attribution", result.records("cost_attribution")) == merge_on_keys(
        "cost_attribution", side_by_side.records("cost_attribution")
    )


def test_a_plan_without_usage_attribution_is_one_warning_and_the_run_goes_on() -> None:
    with DatadogSimulator(now=NOW) as sim, tap_log() as log:
        result = sync(tap_config(sim.url, NO_ATTRIBUTION_KEYS, start_date=START), now=NOW)
    assert result.records("cost_attribution") == []
    assert result.records("historical_costs")
    said = [line for line in log if line.startswith("cost_attribution: no rows this run")]
    assert len(said) == 1, log
    assert "403" in said[0]
    assert result.bookmark("cost_attribution") == START  # every month read again next run


def test_on_us1_fed_cost_attribution_says_why_and_asks_nothing() -> None:
    with tap_log() as log:
        result = sync(
            {"api_key": "k", "app_key": "a", "site": "ddog-gov.com", "start_date": START},
            now=NOW,
            streams=("cost_attribution",),
        )
    assert result.records("cost_attribution") == []
    assert any("does not offer cost attribution on ddog-gov.com" in line for line in log)


def test_more_than_three_tag_keys_is_a_settings_error(tmp_path: Path) -> None:
    config = tap_config(
        "http://127.0.0.1:9", cost_attribution_tag_keys=["team", "env", "service", "region"]
    )
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.decode().splitlines() if "| ERROR " in line]
    assert len(errors) == 1
    assert errors[0].split("| ")[-1].startswith("cost_attribution_tag_keys: ")
