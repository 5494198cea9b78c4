"""focus_costs against every rule of the FOCUS summary (../shared/focus/README.md), row by row."""

from __future__ import annotations

import datetime as dt
import json
import re
import typing as t
from collections import defaultdict
from decimal import Decimal

import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tap_datadog_costs.withdrawals import STATE_KEY
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import sync
from tests.support.settings import tap_config

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
EARLY = dt.datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
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
    "RegionId", "RegionName", "Tags", "SkuId", "SkuPriceId",
)  # fmt: skip
RECOMMENDED = ("ChargeFrequency", "PricingCategory", "InvoiceId", "ServiceSubcategory")
FOCUS_13 = ("ServiceProviderName", "HostProviderName")
#: Null on a credit (FOCUS requires them on Usage and Purchase rows only).
PRICING = ("PricingQuantity", "PricingUnit")
NEVER_NULL = tuple(c for c in MANDATORY if c not in {"ChargeClass", "BillingAccountName", *PRICING})
#: FOCUS's DateTimeFormat: YYYY-MM-DDTHH:mm:ssZ.
FOCUS_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
DATETIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
CHILD = "child00001"
OCTOBER = "2026-10-01T00:00:00Z"
NOVEMBER = "2026-11-01T00:00:00Z"
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
    """A full run at NOW, where a child's October APM on-demand charge is a credit."""
    with DatadogSimulator(now=NOW) as sim:
        sim.credit(org=CHILD, product="apm_host", month=parse_instant(OCTOBER))
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
            assert row["PricingCategory"] in {"Committed", "Standard"}
            # FOCUS 1.3: ConsumedQuantity is null when SkuPriceId is; 1.2: not null on usage
            assert row["ConsumedQuantity"] is not None
            assert row["SkuPriceId"] == f"{row['ServiceName']}/{row['x_ChargeType']}"
        else:  # a credit prices and consumes nothing
            assert row["ChargeCategory"] == "Credit"
            assert row["BilledCost"] < 0
            for column in (
                *PRICING,
                "PricingCategory",
                "ConsumedQuantity",
                "ConsumedUnit",
                "SkuPriceId",
            ):
                assert row[column] is None, column
        assert row["InvoiceId"] is None  # Datadog's API names no invoice
        billing = [parse_instant(row[c]) for c in ("BillingPeriodStart", "BillingPeriodEnd")]
        charge = [parse_instant(row[c]) for c in ("ChargePeriodStart", "ChargePeriodEnd")]
        for column in DATETIMES:
            assert FOCUS_DATETIME.fullmatch(row[column]), column  # UTC, FOCUS's format
        assert billing[0] < billing[1]
        assert charge[0] < charge[1]
        assert billing[0] <= charge[0]
        assert charge[1] <= billing[1]
        assert row["ServiceCategory"] in SERVICE_CATEGORIES
        assert row["ServiceSubcategory"]
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
        month = parse_instant(row["BillingPeriodStart"]).isoformat()  # as cost rows spell it
        billed[(month, row["SubAccountId"])] += Decimal(repr(row["BilledCost"]))
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
    assert status[OCTOBER] == {"final"}
    assert status[NOVEMBER] == {"estimate"}


def test_a_negative_charge_is_a_credit(run: t.Any) -> None:
    """A credit is FOCUS's Credit, not Usage with a negative quantity (issue 21)."""
    rows = run.records("focus_costs")
    credited = [row for row in rows if row["ChargeCategory"] == "Credit"]
    assert {(r["BillingPeriodStart"], r["SubAccountId"], r["ServiceName"]) for r in credited} == {
        (OCTOBER, CHILD, "apm_host")
    }
    (credit,) = credited
    assert credit["x_ChargeType"] == "on_demand"
    assert credit["BilledCost"] == credit["EffectiveCost"] == credit["ListCost"] < 0
    assert credit["ChargeFrequency"] == "One-Time"
    assert credit["PricingQuantity"] is None
    assert credit["x_QuantitySource"] == "none"
    assert all(row["BilledCost"] >= 0 for row in rows if row["ChargeCategory"] == "Usage")


def billable_by_key(run: t.Any) -> dict[tuple[str, str, str], dict[str, t.Any]]:
    """The billable usage rows that price a product (hosts: top99p; logs: sum), by key."""
    return {
        (parse_instant(r["month"]).isoformat(), r["public_id"], r["product_name"]): r
        for r in run.records("billable_usage")
        if r["usage_aggregation"] == "top99p" or r["product_name"].startswith("logs")
    }


def test_quantities_are_the_committed_and_on_demand_usage_of_billable_usage(run: t.Any) -> None:
    """Each row's quantity is the account's committed or on-demand usage, in the org's share
    of the account's usage, so committed and on-demand rows have their own unit prices and
    add up to the org's usage (not a split by cost: issue 21)."""
    usage = billable_by_key(run)
    quantities: dict[tuple[str, str, str], float] = defaultdict(float)
    for row in run.records("focus_costs"):
        if row["ChargeCategory"] == "Credit":
            continue
        assert row["x_QuantitySource"] == "billable_usage"
        assert row["ConsumedQuantity"] == row["PricingQuantity"]
        key = (parse_instant(row["BillingPeriodStart"]).isoformat(), row["SubAccountId"])
        billable = usage[(*key, row["ServiceName"])]
        account_part = billable[f"account_{row['x_ChargeType']}_usage"]
        share = billable["org_billable_usage"] / billable["account_billable_usage"]
        assert row["PricingQuantity"] == pytest.approx(account_part * share, rel=1e-6)
        assert row["PricingUnit"] == billable["usage_unit"]
        quantities[(*key, row["ServiceName"])] += row["PricingQuantity"]
    whole = [key for key in quantities if not key[0].startswith("2026-10")]  # no credit there
    assert whole
    for key in whole:
        assert quantities[key] == pytest.approx(usage[key]["org_billable_usage"], rel=1e-6), key


def test_the_summary_view_prices_the_whole_account() -> None:
    """With include_descendants false a row is the account's: the account's usage prices it."""
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START, include_descendants=False)
        result = sync(config, now=NOW, streams=("focus_costs", "billable_usage"))
    usage = billable_by_key(result)
    rows = result.records("focus_costs")
    assert rows
    assert {row["x_View"] for row in rows} == {"summary"}
    for row in rows:
        month = parse_instant(row["BillingPeriodStart"]).isoformat()
        billable = usage[(month, row["SubAccountId"], row["ServiceName"])]
        assert row["PricingQuantity"] == billable[f"account_{row['x_ChargeType']}_usage"]


def test_a_month_to_date_estimate_ends_at_the_hour_it_covers(run: t.Any) -> None:
    """This month's estimate covers the month up to the run's hour, not to the month's end."""
    ends = {
        (row["BillingPeriodStart"], row["x_CostStatus"]): row["ChargePeriodEnd"]
        for row in run.records("focus_costs")
    }
    assert ends[(NOVEMBER, "estimate")] == "2026-11-25T13:00:00Z"  # NOW is 12:00
    assert ends[(OCTOBER, "final")] == NOVEMBER
    with DatadogSimulator(now=EARLY) as sim:
        rows = sync(tap_config(sim.url, start_date=START), now=EARLY, streams=("focus_costs",))
    ends = {
        (row["BillingPeriodStart"], row["x_CostStatus"]): row["ChargePeriodEnd"]
        for row in rows.records("focus_costs")
    }
    # On November 2nd October is not published yet: its estimate covers the whole month.
    assert ends == {
        (OCTOBER, "estimate"): NOVEMBER,
        (NOVEMBER, "estimate"): "2026-11-02T07:00:00Z",
        **{
            (f"2026-{m:02d}-01T00:00:00Z", "final"): f"2026-{m + 1:02d}-01T00:00:00Z"
            for m in range(6, 10)
        },
    }


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
    october = OCTOBER
    before = [r for r in first.records("focus_costs") if r["BillingPeriodStart"] == october]
    assert {r["x_CostStatus"] for r in before} == {"preliminary"}
    merged = merge_on_keys(
        "focus_costs", first.records("focus_costs"), second.records("focus_costs")
    )
    after = [r for r in merged.values() if r["BillingPeriodStart"] == october]
    assert len(after) == len(before)  # the same keys: replaced, not added
    assert {r["x_CostStatus"] for r in after} == {"final"}
    assert first.bookmark("focus_costs") == october
    assert second.bookmark("focus_costs") == NOVEMBER


def test_a_final_month_is_not_read_again() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date=START)
        first = sync(config, now=NOW, streams=("focus_costs",))
        sim.clear_requests()
        second = sync(config, first.final_state, now=NOW, streams=("focus_costs",))
        asked = {r["path"] for r in sim.requests}
    assert {r["BillingPeriodStart"] for r in second.records("focus_costs")} == {NOVEMBER}
    assert "/api/v2/usage/historical_cost" not in asked  # October is final: nothing to read


def test_a_state_of_the_earlier_spelling_still_withdraws_and_is_respelled() -> None:
    """State written before FOCUS date-times took their Z (``+00:00`` months in the bookmark
    and the withdrawal ledger) resumes where it was, still withdraws a line Datadog no longer
    lists, and is written back in the new spelling."""
    second_day, fifth = (
        dt.datetime(2026, 11, 2, 12, tzinfo=UTC),
        dt.datetime(2026, 11, 5, 12, tzinfo=UTC),
    )
    with DatadogSimulator(now=second_day) as sim:
        first = sync(
            tap_config(sim.url, start_date=START), now=second_day, streams=("focus_costs",)
        )
    old = json.loads(json.dumps(first.final_state).replace("T00:00:00Z", "T00:00:00+00:00"))
    assert old["bookmarks"]["focus_costs"]["replication_key_value"] == "2026-10-01T00:00:00+00:00"
    with DatadogSimulator(now=fifth) as sim:
        # October is published on the 3rd without the logs its estimate had.
        sim.withdraw("historical", product="logs_indexed_15day", month=parse_instant(OCTOBER))
        second = sync(
            tap_config(sim.url, start_date=START), old, now=fifth, streams=("focus_costs",)
        )
    rows = second.records("focus_costs")
    assert {r["BillingPeriodStart"] for r in rows} == {OCTOBER, NOVEMBER}  # from the bookmark
    withdrawn = [r for r in rows if r["x_CostStatus"] == "withdrawn"]
    assert {(r["BillingPeriodStart"], r["ServiceName"]) for r in withdrawn} == {
        (OCTOBER, "logs_indexed_15day")
    }
    state = second.final_state["bookmarks"]["focus_costs"]
    assert state["replication_key_value"] == OCTOBER  # preliminary until the 16th
    assert sorted(state[STATE_KEY]["periods"]) == [f"sub-org|{OCTOBER}", f"sub-org|{NOVEMBER}"]
