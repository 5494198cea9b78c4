"""focus_costs against every rule of the FOCUS summary (../shared/focus/README.md), row by row."""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from collections import defaultdict
from decimal import Decimal

import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import sync
from tests.support.settings import tap_config

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
START = "2026-06-01T00:00:00+00:00"
MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)  # fmt: skip
CONDITIONAL = (
    "SubAccountId", "SubAccountName", "SubAccountType", "ConsumedQuantity", "ConsumedUnit",
    "RegionId", "RegionName", "Tags",
)  # fmt: skip
RECOMMENDED = ("ChargeFrequency", "PricingCategory", "InvoiceId", "ServiceSubcategory")
FOCUS_13 = ("ServiceProviderName", "HostProviderName")
NEVER_NULL = tuple(c for c in MANDATORY if c not in {"ChargeClass", "BillingAccountName"})
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
    "Storage", "Web", "Other",
}  # fmt: skip
COSTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


def cents(amount: float | None) -> Decimal:
    return round(Decimal(repr(amount or 0)), 2)


@pytest.fixture(scope="module")
def run() -> t.Any:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START, billing_currency="EUR")
        return sync(config, now=NOW)


def test_every_row_keeps_every_rule_of_focus(run: t.Any) -> None:
    rows = run.records("focus_costs")
    assert rows
    assert duplicate_keys("focus_costs", rows) == []
    for row in rows:
        for column in (*MANDATORY, *CONDITIONAL, *RECOMMENDED, *FOCUS_13):
            assert column in row, column
        for column in NEVER_NULL:
            assert row[column] is not None, (column, row)
        assert set(row) - {*MANDATORY, *CONDITIONAL, *RECOMMENDED, *FOCUS_13} == {
            c for c in row if c.startswith("x_")
        }  # every other column is a custom x_ one
        assert row["ChargeCategory"] in CHARGE_CATEGORIES
        assert row["ChargeClass"] is None  # no correction of an invoiced period
        for column in COSTS:
            assert type(row[column]) in {int, float}, column  # a decimal, never null
        if row["ChargeCategory"] in {"Usage", "Purchase"}:
            assert row["PricingQuantity"] is not None
            assert row["PricingUnit"]
        billing = [parse_instant(row[c]) for c in ("BillingPeriodStart", "BillingPeriodEnd")]
        charge = [parse_instant(row[c]) for c in ("ChargePeriodStart", "ChargePeriodEnd")]
        for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart"):
            assert row[column].endswith("+00:00"), column  # UTC
        assert billing[0] < billing[1]
        assert charge[0] < charge[1]
        assert billing[0] <= charge[0]
        assert charge[1] <= billing[1]
        assert row["ServiceCategory"] in SERVICE_CATEGORIES
        assert re.fullmatch(r"[A-Z]{3}", row["BillingCurrency"])
        assert row["BillingCurrency"] == "EUR"  # the setting: Datadog names no currency
        assert row["ProviderName"] == row["PublisherName"] == row["InvoiceIssuerName"] == "Datadog"
        assert row["ServiceProviderName"] == row["HostProviderName"] == row["ProviderName"]
        assert row["SubAccountType"] == "Organization"
        assert row["x_ChargeType"] in {"committed", "on_demand"}  # total is never a row
        assert row["x_CostStatus"] in {"final", "preliminary", "estimate"}
    assert {r["BillingAccountId"] for r in rows} == {"parent00001"}


def test_billed_cost_adds_up_to_the_cost_stream_each_row_came_from(run: t.Any) -> None:
    """Per month and org: BilledCost summed = committed + on-demand of its source, to the cent."""
    billed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    status: dict[str, set[str]] = defaultdict(set)
    for row in run.records("focus_costs"):
        billed[(row["BillingPeriodStart"], row["SubAccountId"])] += Decimal(repr(row["BilledCost"]))
        status[row["BillingPeriodStart"]].add(row["x_CostStatus"])
    published = {r["month"] for r in run.records("historical_costs")}
    source: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for stream in ("historical_costs", "estimated_costs"):
        for cost in run.records(stream):
            from_here = (cost["month"] in published) == (stream == "historical_costs")
            if from_here and cost["charge_type"] in {"committed", "on_demand"}:
                source[(cost["month"], cost["public_id"])] += Decimal(repr(cost["cost"]))
    assert {k: round(v, 2) for k, v in billed.items()} == {
        k: round(v, 2) for k, v in source.items()
    }
    assert status["2026-10-01T00:00:00+00:00"] == {"final"}
    assert status["2026-11-01T00:00:00+00:00"] == {"estimate"}


def test_quantities_come_from_billable_usage_and_add_up_per_product(run: t.Any) -> None:
    usage = {
        (r["month"], r["public_id"], r["product_name"]): r["org_billable_usage"]
        for r in run.records("billable_usage")
        if r["usage_aggregation"] == "top99p" or r["product_name"].startswith("logs")
    }
    quantities: dict[tuple[str, str, str], float] = defaultdict(float)
    for row in run.records("focus_costs"):
        assert row["x_QuantitySource"] == "billable_usage"
        assert row["ConsumedQuantity"] == row["PricingQuantity"]
        key = (row["BillingPeriodStart"], row["SubAccountId"], row["ServiceName"])
        quantities[key] += row["PricingQuantity"]
    for key, quantity in quantities.items():
        assert quantity == pytest.approx(usage[key], rel=1e-6), key


def test_a_month_read_as_preliminary_is_replaced_once_final() -> None:
    early, late = dt.datetime(2026, 11, 10, 12, tzinfo=UTC), NOW
    with DatadogSimulator(now=early) as sim:
        first = sync(tap_config(sim.url, start_date=START), now=early, streams=("focus_costs",))
    with DatadogSimulator(now=late) as sim:
        second = sync(
            tap_config(sim.url, start_date=START),
            first.final_state,
            now=late,
            streams=("focus_costs",),
        )
    october = "2026-10-01T00:00:00+00:00"
    before = [r for r in first.records("focus_costs") if r["BillingPeriodStart"] == october]
    assert {r["x_CostStatus"] for r in before} == {"preliminary"}
    merged = merge_on_keys(
        "focus_costs", first.records("focus_costs"), second.records("focus_costs")
    )
    after = [r for r in merged.values() if r["BillingPeriodStart"] == october]
    assert len(after) == len(before)  # the same keys: replaced, not added
    assert {r["x_CostStatus"] for r in after} == {"final"}
    assert first.bookmark("focus_costs") == october
    assert second.bookmark("focus_costs") == "2026-11-01T00:00:00+00:00"


def test_a_final_month_is_not_read_again() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START)
        first = sync(config, now=NOW, streams=("focus_costs",))
        sim.clear_requests()
        second = sync(config, first.final_state, now=NOW, streams=("focus_costs",))
        asked = {r["path"] for r in sim.requests}
    assert {r["BillingPeriodStart"] for r in second.records("focus_costs")} == {
        "2026-11-01T00:00:00+00:00"
    }
    assert "/api/v2/usage/historical_cost" not in asked  # October is final: nothing to read
