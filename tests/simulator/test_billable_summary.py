"""Billable usage summary: its oracle, dates, prices, retention, keys and spec fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator import (
    CHILD_KEYS,
    EMPTY_KEYS,
    NO_ATTRIBUTION_KEYS,
    PARENT_ID,
    USAGE_ONLY_KEYS,
    DatadogSimulator,
)
from simulator.data import (
    BILLABLE_SUMMARY,
    COST_PRODUCTS,
    month_start,
)
from tests.fixtures import extract_recorded
from tests.simulator.common import (
    ATTRIBUTION,
    ATTRIBUTION_ALL,
    BILLABLE,
    NON_PARENT,
    NOW,
    call,
    sorted_rows,
)

#: Each product's billable summary key, as the simulator documents it.
BILLABLE_PRODUCTS = {key: product for product, (key, *_) in BILLABLE_SUMMARY.items()}
BILLABLE_SPEC = extract_recorded.DEFAULT_SOURCE / "openapi" / "v1_GetUsageBillableSummary.json"


def flatten_billable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per org and billable key, named after the cost model's product."""
    return [
        {
            "month": month_start(item["start_date"]).isoformat(),
            **{k: item[k] for k in ("public_id", "org_name", "account_name", "account_public_id")},
            "billable_key": key,
            "product_name": BILLABLE_PRODUCTS[key],
            **body,
        }
        for item in items
        for key, body in item["usage"].items()
    ]


def test_billable_summary_matches_its_oracle_and_adds_up(api: DatadogSimulator) -> None:
    for month in ("2023-03", "2024-01", "2024-03"):
        items = call(api, BILLABLE, {"month": month}).json()["usage"]
        assert [item["public_id"] for item in items] == [PARENT_ID, "child00001", "child00002"]
        rows = api.expected_billable_usage(month)
        assert sorted_rows(flatten_billable(items)) == sorted_rows(rows)
        assert {row["product_name"] for row in rows} == set(COST_PRODUCTS)
        for product in COST_PRODUCTS:
            own = [row for row in rows if row["product_name"] == product]
            assert len(own) == 3
            assert {row["account_billable_usage"] for row in own} == {
                sum(row["org_billable_usage"] for row in own)
            }
            # Percentages (0-100), rounded to 2 decimals each.
            assert abs(sum(row["percentage_in_account"] for row in own) - 100) <= 0.01 * len(own)
            assert all(row["org_billable_usage"] > 0 for row in own)
            # The account's usage within its commitment and beyond it: the same on every org.
            split = {(r["account_committed_usage"], r["account_on_demand_usage"]) for r in own}
            assert len(split) == 1
            ((committed, on_demand),) = split
            assert committed >= 0
            assert on_demand >= 0
            assert committed + on_demand == own[0]["account_billable_usage"]


def test_billable_summary_dates_like_the_spec_example(api: DatadogSimulator) -> None:
    january = call(api, BILLABLE, {"month": "2024-01-15T10:00:00Z"}).json()["usage"][0]
    assert (january["start_date"], january["end_date"]) == (
        "2024-01-01T00:00:00+00:00",
        "2024-01-31T00:00:00+00:00",
    )
    body = january["usage"]["infra_host_top99p"]
    assert body["elapsed_usage_hours"] == 31 * 24
    assert body["last_billable_usage_hour"] == "2024-01-31T23:00:00+00:00"
    assert body["usage_unit"] == "hosts"
    # Default: this month so far (usage of the last hours arrives late).
    current = call(api, BILLABLE).json()["usage"][0]
    assert current["start_date"] == "2024-03-01T00:00:00+00:00"
    assert current["end_date"] == "2024-03-10T00:00:00+00:00"
    assert current["usage"]["apm_host_top99p"]["elapsed_usage_hours"] == 9 * 24 + 12


def test_billable_quantity_prices_the_final_historical_cost(api: DatadogSimulator) -> None:
    """Cost / quantity gives each product's list price back, to half a unit."""
    costs = api.expected_costs("historical", "2024-01", "2024-01", "sub-org")
    for row in api.expected_billable_usage("2024-01"):
        _, _, price, per = BILLABLE_SUMMARY[row["product_name"]]
        (cost,) = [
            r["cost"]
            for r in costs
            if (r["public_id"], r["product_name"], r["charge_type"])
            == (row["public_id"], row["product_name"], "total")
        ]
        assert abs(round(cost * 100) * per - row["org_billable_usage"] * price) <= price * per / 2


def test_billable_summary_is_empty_out_of_retention_and_in_the_future(
    api: DatadogSimulator,
) -> None:
    assert call(api, BILLABLE, {"month": "2022-12"}).json()["usage"]  # 15 months back
    for month in ("2022-11", "2024-04"):
        assert call(api, BILLABLE, {"month": month}).json() == {"usage": []}
        assert api.expected_billable_usage(month) == []
    assert call(api, BILLABLE, {"month": "2024-13"}).status_code == 400
    assert call(api, BILLABLE, {"include_connected_accounts": "maybe"}).status_code == 400


def test_billable_summary_keys_and_answers() -> None:
    with DatadogSimulator(now=NOW) as sim:
        params = {"month": "2024-03", "include_connected_accounts": "true"}
        first = call(sim, BILLABLE, params).json()
        assert call(sim, BILLABLE, params).json() == first  # deterministic
        assert call(sim, BILLABLE, params, USAGE_ONLY_KEYS).json() == first
        assert call(sim, BILLABLE, params, NO_ATTRIBUTION_KEYS).json() == first
        assert call(sim, BILLABLE, params, EMPTY_KEYS).json() == {"usage": []}
        assert call(sim, BILLABLE, params, CHILD_KEYS).json() == NON_PARENT
        january = call(sim, BILLABLE, {"month": "2024-01"}).json()
        sim.revise()  # the late hours arrive: this month moves, January does not
        assert call(sim, BILLABLE, params).json() != first
        assert call(sim, BILLABLE, {"month": "2024-01"}).json() == january


@pytest.mark.skipif(
    not BILLABLE_SPEC.is_file(), reason="../shared/datadog is not beside this clone"
)
def test_new_answers_use_only_the_specs_fields_and_keys(api: DatadogSimulator) -> None:
    def properties(operation: str, schema: str) -> set[str]:
        spec = json.loads((BILLABLE_SPEC.parent / f"{operation}.json").read_text())
        return set(
            spec["referenced_components_raw"][f"#/components/schemas/{schema}"]["properties"]
        )

    hour, keys, body = (
        properties("v1_GetUsageBillableSummary", f"UsageBillableSummary{name}")
        for name in ("Hour", "Keys", "Body")
    )
    for item in call(api, BILLABLE, {"month": "2024-02"}).json()["usage"]:
        assert set(item) <= hour - {"billing_plan"}  # deprecated
        assert set(item["usage"]) <= keys
        for product_body in item["usage"].values():
            assert set(product_body) <= body
    operation = "v2_GetMonthlyCostAttribution"
    page = call(api, ATTRIBUTION, {"start_month": "2024-01", **ATTRIBUTION_ALL}).json()
    assert set(page) <= properties(operation, "MonthlyCostAttributionResponse")
    assert set(page["meta"]) <= properties(operation, "MonthlyCostAttributionMeta")
    attributes = properties(operation, "MonthlyCostAttributionAttributes")
    for item in page["data"]:
        assert set(item) <= properties(operation, "MonthlyCostAttributionBody")
        assert set(item["attributes"]) <= attributes
