"""daily_costs, projected_costs and active_billing_dimensions against the simulator."""

from __future__ import annotations

import datetime as dt
import typing as t
from collections import defaultdict
from decimal import Decimal

from simulator import DatadogSimulator
from tests.support.endpoints import ACTIVE, ESTIMATED, HISTORICAL, PROJECTED
from tests.support.logs import tap_log
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import sync
from tests.support.seen import requests_to
from tests.support.settings import tap_config

UTC = dt.timezone.utc
START = "2026-08-01T00:00:00+00:00"
OCTOBER, NOVEMBER = "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"
BEFORE_FINAL = dt.datetime(2026, 11, 10, 12, tzinfo=UTC)
AFTER_FINAL = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
DAILY = ("daily_costs",)

ChargeKey = tuple[str, str, str]


def key(row: dict[str, t.Any]) -> ChargeKey:
    return (row["public_id"], row["product_name"], row["charge_type"])


def cents(amount: float | None) -> Decimal:
    return round(Decimal(repr(amount or 0)), 2)


def days_of(rows: list[dict[str, t.Any]], month: str) -> list[dict[str, t.Any]]:
    return sorted(
        (r for r in rows if r["month"] == month and r["row_type"] == "day"),
        key=lambda r: r["date"],
    )


def test_each_days_cost_adds_up_to_the_month_to_date_total_of_that_day() -> None:
    with DatadogSimulator(now=BEFORE_FINAL) as sim:
        result = sync(tap_config(sim.url, start_date=START), now=BEFORE_FINAL, streams=DAILY)
        monthly = sim.expected_costs("estimated", OCTOBER, NOVEMBER, "sub-org")
        asked = requests_to(sim.requests, ESTIMATED)
    rows = result.records("daily_costs")
    assert duplicate_keys("daily_costs", rows) == []
    for month in (OCTOBER, NOVEMBER):
        running: dict[ChargeKey, Decimal] = defaultdict(Decimal)
        days = days_of(rows, month)
        assert days, month
        for row in days:
            running[key(row)] += Decimal(repr(row["cost"]))
            assert round(running[key(row)], 2) == cents(row["cumulative_cost"]), row
    # October is whole: its last day's running total is the month's estimate, to the cent.
    last = {key(r): r for r in days_of(rows, OCTOBER)}
    for estimate in (r for r in monthly if r["month"] == OCTOBER):
        assert cents(last[key(estimate)]["cumulative_cost"]) == cents(estimate["cost"]), estimate
    assert {r["row_type"] for r in rows} == {"day"}  # October is not final on the 10th
    assert {r["cost_status"] for r in rows} == {"estimate"}
    assert result.bookmark("daily_costs") == OCTOBER  # read again until final
    assert [(r["params"]["start_date"], r["params"]["end_date"]) for r in asked] == [
        ("2026-10-01", "2026-10-31"),
        ("2026-11-01", "2026-11-10"),
    ]
    assert {r["params"]["cost_aggregation"] for r in asked} == {"cumulative"}


def test_once_final_a_months_rows_add_up_to_historical_cost_with_one_adjustment_each() -> None:
    with DatadogSimulator(now=BEFORE_FINAL) as sim:
        first = sync(tap_config(sim.url, start_date=START), now=BEFORE_FINAL, streams=DAILY)
    with DatadogSimulator(now=AFTER_FINAL) as later:
        second = sync(
            tap_config(later.url, start_date=START),
            first.final_state,
            now=AFTER_FINAL,
            streams=DAILY,
        )
        final = later.expected_costs("historical", OCTOBER, OCTOBER, "sub-org")
        historical_asks = requests_to(later.requests, HISTORICAL)
    rows = second.records("daily_costs")
    october = [r for r in rows if r["month"] == OCTOBER]
    adjustments = [r for r in october if r["row_type"] == "adjustment"]
    assert {r["date"] for r in adjustments} == {"2026-10-31T00:00:00+00:00"}
    assert len(adjustments) == len({key(r) for r in october})  # one per org, product, charge
    sums: dict[ChargeKey, Decimal] = defaultdict(Decimal)
    for row in october:
        sums[key(row)] += Decimal(repr(row["cost"]))
    assert {k: round(v, 2) for k, v in sums.items()} == {key(r): cents(r["cost"]) for r in final}
    assert {r["cost_status"] for r in october} == {"final"}
    assert [r["params"]["start_month"] for r in historical_asks] == ["2026-10"]
    assert second.bookmark("daily_costs") == NOVEMBER  # October is closed for good

    with DatadogSimulator(now=AFTER_FINAL) as again:
        third = sync(
            tap_config(again.url, start_date=START),
            second.final_state,
            now=AFTER_FINAL,
            streams=DAILY,
        )
        asked = requests_to(again.requests, ESTIMATED)
    assert [r["params"]["start_date"] for r in asked] == ["2026-11-01"]
    assert {r["month"] for r in third.records("daily_costs")} == {NOVEMBER}


def test_a_rerun_after_datadog_revised_the_open_days_keeps_one_row_per_key() -> None:
    with DatadogSimulator(now=BEFORE_FINAL) as sim:
        config = tap_config(sim.url, start_date=START)
        first = sync(config, now=BEFORE_FINAL, streams=DAILY)
        sim.revise()  # Datadog's next estimate of the open days
        second = sync(config, first.final_state, now=BEFORE_FINAL, streams=DAILY)
    for run in (first, second):
        assert duplicate_keys("daily_costs", run.records("daily_costs")) == []
    merged = merge_on_keys(
        "daily_costs", first.records("daily_costs"), second.records("daily_costs")
    )
    assert len(merged) == len(second.records("daily_costs"))  # the open months, read again whole


def test_projected_cost_is_one_snapshot_per_day_with_our_charge_types() -> None:
    days = (dt.datetime(2026, 11, 20, 9, tzinfo=UTC), dt.datetime(2026, 11, 21, 9, tzinfo=UTC))
    runs = []
    for now in days:
        with DatadogSimulator(now=now) as sim:
            runs.append(sync(tap_config(sim.url), now=now, streams=("projected_costs",)))
            projected = requests_to(sim.requests, PROJECTED)
    assert [r["params"]["view"] for r in projected] == ["sub-org"]
    rows = [row for run in runs for row in run.records("projected_costs")]
    assert duplicate_keys("projected_costs", rows) == []
    assert {r["snapshot_date"] for r in rows} == {
        "2026-11-20T00:00:00+00:00",
        "2026-11-21T00:00:00+00:00",
    }
    assert {r["month"] for r in rows} == {NOVEMBER}
    assert {r["charge_type"] for r in rows} == {"committed", "on_demand", "total"}
    assert {r["cost_status"] for r in rows} == {"projection"}
    by_charge = {(r["snapshot_date"], *key(r)): r["cost"] for r in rows}
    for (day, org, product, charge), cost in by_charge.items():
        if charge == "total":
            parts = [by_charge[(day, org, product, part)] for part in ("committed", "on_demand")]
            assert cents(cost) == cents(sum(parts)), (org, product)


def test_before_datadog_has_a_projection_one_info_line_and_no_rows() -> None:
    now = dt.datetime(2026, 11, 5, 9, tzinfo=UTC)
    with DatadogSimulator(now=now) as sim, tap_log() as log:  # Datadog's: from the 12th
        result = sync(tap_config(sim.url), now=now, streams=("projected_costs",))
    assert result.records("projected_costs") == []
    said = [line for line in log if "no projection for 2026-11 yet" in line]
    assert len(said) == 1


def test_active_billing_dimensions_are_kept_per_month() -> None:
    with DatadogSimulator(now=AFTER_FINAL) as sim:
        result = sync(tap_config(sim.url), now=AFTER_FINAL, streams=("active_billing_dimensions",))
        (ask,) = requests_to(sim.requests, ACTIVE)
    rows = result.records("active_billing_dimensions")
    assert ask["params"] == {}
    assert duplicate_keys("active_billing_dimensions", rows) == []
    assert {r["month"] for r in rows} == {NOVEMBER}
    assert {"infra_host", "apm_host"} <= {r["billing_dimension"] for r in rows}


def test_a_month_that_aged_out_before_it_was_closed_is_said_once() -> None:
    """No run between the 17th and the month's end: Datadog no longer serves September by day."""
    september = {"replication_key": "month", "replication_key_value": "2026-09-01T00:00:00+00:00"}
    state = {"bookmarks": {"daily_costs": september}}
    with DatadogSimulator(now=AFTER_FINAL) as sim, tap_log() as log:
        result = sync(tap_config(sim.url, start_date=START), state, now=AFTER_FINAL, streams=DAILY)
    said = [line for line in log if "no longer serves it by day" in line]
    assert len(said) == 1
    assert said[0].startswith("daily_costs: 2026-09 was still open")
    assert {r["month"] for r in result.records("daily_costs")} == {OCTOBER, NOVEMBER}
