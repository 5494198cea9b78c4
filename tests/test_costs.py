"""Cost rows a FinOps team can sign off: no lost charge, no early close, status and read instant."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tap_datadog_costs.tap import TapDatadogCosts
from tests.support.clock import NOW
from tests.support.endpoints import ESTIMATED, HISTORICAL
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import sync
from tests.support.seen import requests_to
from tests.support.settings import tap_config

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
#: Every recorded real answer of the two cost endpoints (month and day requests alike).
RECORDED_COST_ANSWERS = (
    "cost_by_org_ok",
    "historical_cost_ok",
    "estimated_cost_by_org_month_ok",
    "estimated_cost_month_ok",
    "estimated_cost_by_org_date_ok",
    "estimated_cost_date_ok",
)
UTC = dt.timezone.utc


def cents(amount: float) -> Decimal:
    return Decimal(repr(amount)).quantize(Decimal("0.01"))


@pytest.mark.parametrize("answer", RECORDED_COST_ANSWERS)
@pytest.mark.parametrize(
    ("stream", "path"), [("historical_costs", HISTORICAL), ("estimated_costs", ESTIMATED)]
)
def test_recorded_cost_answers_give_one_row_per_charge_adding_up_to_datadogs_total(
    live: DatadogSimulator, answer: str, stream: str, path: str
) -> None:
    body = json.loads((RECORDED / f"{answer}.json").read_text())
    live.replay(path, body)
    # Read as on 2022-05-10, when the recorded month (2022-04) was in both endpoints' range.
    config = tap_config(live.url, start_date="2022-01-01T00:00:00Z")
    with pendulum.travel_to(pendulum.datetime(2022, 5, 10, 12), freeze=True):
        records = list(TapDatadogCosts(config=config).streams[stream].get_records(None))

    assert duplicate_keys(stream, records) == []
    items = body["data"]
    assert len({(r["month"], r["public_id"]) for r in records}) == len(items)
    for item in items:
        attributes = item["attributes"]
        rows = [r for r in records if r["public_id"] == attributes["public_id"]]
        by_type: dict[str, Decimal] = {}
        for row in rows:
            by_type[row["charge_type"]] = by_type.get(row["charge_type"], Decimal(0)) + cents(
                row["cost"]
            )
            assert row["total_cost"] == attributes["total_cost"]
        assert by_type["committed"] + by_type["on_demand"] == cents(attributes["total_cost"])
        assert by_type["total"] == cents(attributes["total_cost"])
        lines = sum(r["charge_lines"] for r in rows if r["charge_type"] != "total")
        assert lines == len(attributes["charges"])
    if items:  # the recorded answer: infra_host committed in two lines, 0 and 1.17
        (infra,) = [
            r
            for r in records
            if (r["product_name"], r["charge_type"]) == ("infra_host", "committed")
        ]
        assert (infra["cost"], infra["charge_lines"]) == (1.17, 2)
        totals = {r["product_name"]: r for r in records if r["charge_type"] == "total"}
        assert {name: (r["cost"], r["charge_lines"]) for name, r in totals.items()} == {
            "infra_host": (1.17, 0),
            "synthetics_api_tests": (72.0, 0),
        }


def test_a_month_published_after_the_16th_is_read_until_datadog_has_it() -> None:
    """Datadog promises a month by the 16th; published on the 18th, it is still extracted."""
    start = "2026-08-01T00:00:00+00:00"
    october = "2026-10-01T00:00:00+00:00"
    november_17 = dt.datetime(2026, 11, 17, 12, tzinfo=UTC)
    november_19 = dt.datetime(2026, 11, 19, 12, tzinfo=UTC)
    with DatadogSimulator(now=november_17, publish_day=18) as sim:
        first = sync(
            tap_config(sim.url, start_date=start), now=november_17, streams=("historical_costs",)
        )
    assert {r["month"] for r in first.records("historical_costs")} == {
        "2026-08-01T00:00:00+00:00",
        "2026-09-01T00:00:00+00:00",
    }
    # October came back empty although its day had passed: it stays open.
    assert first.bookmark("historical_costs") == october

    with DatadogSimulator(now=november_19, publish_day=18) as later:
        second = sync(
            tap_config(later.url, start_date=start),
            first.final_state,
            now=november_19,
            streams=("historical_costs",),
        )
        asked = [r["params"]["start_month"] for r in requests_to(later.requests, HISTORICAL)]
        published = later.expected_costs("historical", october, october, "sub-org")
    assert asked == ["2026-10"]
    assert published
    assert merge_on_keys("historical_costs", second.records("historical_costs")) == merge_on_keys(
        "historical_costs", published
    )
    assert {r["cost_status"] for r in second.records("historical_costs")} == {"final"}
    assert second.bookmark("historical_costs") == "2026-11-01T00:00:00+00:00"


def test_rows_say_whether_they_are_final_preliminary_or_an_estimate_and_when_they_were_read(
    simulator: DatadogSimulator,
) -> None:
    result = sync(tap_config(simulator.url, start_date="2026-08-01T00:00:00Z"), now=NOW)
    historical = result.records("historical_costs")
    status = {r["month"][:7]: r["cost_status"] for r in historical}
    # On November 10th, October is preliminary; September and August were read after their 16th.
    assert status == {"2026-08": "final", "2026-09": "final", "2026-10": "preliminary"}
    assert {r["cost_status"] for r in result.records("estimated_costs")} == {"estimate"}
    read = {r["read_at"] for r in historical + result.records("estimated_costs")}
    assert len(read) == 1  # one run, one instant: a query picks the latest read per key
    assert NOW <= parse_instant(read.pop()) < NOW + dt.timedelta(minutes=1)


def test_the_view_is_part_of_the_key_so_switching_include_descendants_never_merges_two_meanings(
    simulator: DatadogSimulator,
) -> None:
    config = tap_config(simulator.url, start_date="2026-10-01T00:00:00Z")
    per_org = sync(config, now=NOW)
    whole_account = sync({**config, "include_descendants": False}, now=NOW)
    for stream in ("historical_costs", "estimated_costs"):
        merged = merge_on_keys(stream, per_org.records(stream), whole_account.records(stream))
        parent_rows = [r for r in merged.values() if r["public_id"] == "parent00001"]
        assert {r["view"] for r in parent_rows} == {"sub-org", "summary"}
        assert len(merged) == len(per_org.records(stream)) + len(whole_account.records(stream))
        summary_total = sum(
            r["cost"] for r in parent_rows if r["view"] == "summary" and r["charge_type"] == "total"
        )
        per_org_total = sum(
            r["cost"]
            for r in merged.values()
            if r["view"] == "sub-org" and r["charge_type"] == "total"
        )
        assert summary_total == pytest.approx(per_org_total)


def test_estimated_costs_announce_each_read_as_a_version_for_targets_that_honour_it(
    simulator: DatadogSimulator,
) -> None:
    result = sync(tap_config(simulator.url, start_date="2026-11-09T00:00:00Z"), now=NOW)
    stream_messages = [m for m in result.messages if m.get("stream") == "estimated_costs"]
    activate = [m for m in stream_messages if m["type"] == "ACTIVATE_VERSION"]
    records = [m for m in stream_messages if m["type"] == "RECORD"]
    assert len(activate) == 1
    assert records
    assert {m["version"] for m in records} == {activate[0]["version"]}
    assert stream_messages.index(activate[0]) < stream_messages.index(records[0])
    assert not [
        m for m in result.messages if m["type"] == "ACTIVATE_VERSION" and m is not activate[0]
    ]


@pytest.mark.parametrize(
    ("window", "months"),
    [
        ({"start_date": "2026-11-01T00:00:00Z"}, ["2026-11"]),
        ({"start_date": "2026-09-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, ["2026-10"]),
        ({"start_date": "2026-08-01T00:00:00Z", "end_date": "2026-09-01T00:00:00Z"}, []),
    ],
)
def test_estimated_costs_keep_to_the_months_of_start_date_and_end_date_as_focus_costs_do(
    simulator: DatadogSimulator, window: dict[str, str], months: list[str]
) -> None:
    result = sync(tap_config(simulator.url, **window), now=NOW)
    estimated = {r["month"][:7] for r in result.records("estimated_costs")}
    assert sorted(estimated) == months
    focus_estimates = {
        r["BillingPeriodStart"][:7]
        for r in result.records("focus_costs")
        if r["x_CostStatus"] == "estimate"
    }
    assert focus_estimates <= estimated
