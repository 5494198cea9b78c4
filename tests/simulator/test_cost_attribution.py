"""Monthly cost attribution: pages, sums to the historical cost, calendar, fields, keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from simulator import (
    CHILD_KEYS,
    EMPTY_KEYS,
    NO_ATTRIBUTION_KEYS,
    PARENT_ID,
    PARENT_KEYS,
    USAGE_ONLY_KEYS,
    DatadogSimulator,
)
from simulator.data import (
    ATTRIBUTION_FIELDS,
    ATTRIBUTION_TAGS,
    COST_PRODUCTS,
    Account,
    month_start,
)
from tests.simulator.common import (
    ATTRIBUTION,
    ATTRIBUTION_ALL,
    BILLABLE,
    COST_PARAMS,
    NOW,
    UTC,
    call,
    recorded,
    sorted_rows,
)
from tests.support.endpoints import ACTIVE, ESTIMATED, HISTORICAL, ORGS, SUMMARY, VALIDATE


def attribution_pages(
    sim: DatadogSimulator, params: dict[str, str], keys: tuple[str, str] = PARENT_KEYS
) -> list[list[dict[str, Any]]]:
    """Follow meta.pagination.next_record_id until it is null or absent."""
    pages, cursor = [], None
    while True:
        page_params = {**params, **({"next_record_id": cursor} if cursor else {})}
        response = call(sim, ATTRIBUTION, page_params, keys)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        cursor = body.get("meta", {}).get("pagination", {}).get("next_record_id")
        if cursor is None:
            return pages


def flatten_attribution(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per item and billing dimension named in its values."""
    records = []
    for item in items:
        attributes = item["attributes"]
        values = attributes["values"]
        dimensions = dict.fromkeys(
            field[: -len(suffix) - 1]
            for field in values
            for suffix in ATTRIBUTION_FIELDS
            if field.endswith(f"_{suffix}")
        )
        records += [
            {
                "month": month_start(attributes["month"]).isoformat(),
                "public_id": attributes["public_id"],
                "org_name": attributes["org_name"],
                "tags": attributes["tags"],
                "billing_dimension": dimension,
                **{suffix: values.get(f"{dimension}_{suffix}") for suffix in ATTRIBUTION_FIELDS},
            }
            for dimension in dimensions
        ]
    return records


def cents(value: float) -> int:
    """Dollars as served, in cents."""
    return round(value * 100)


def test_cost_attribution_pages_return_every_item_once(api: DatadogSimulator) -> None:
    params = {"start_month": "2023-11", "end_month": "2024-01", **ATTRIBUTION_ALL}
    pages = attribution_pages(api, params)
    assert len(pages) > 2
    assert all(len(page) == 100 for page in pages[:-1])
    assert 0 < len(pages[-1]) <= 100
    items = [item for page in pages for item in page]
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    expected = api.expected_cost_attribution("2023-11", "2024-01", ["team", "service", "env"])
    assert sorted_rows(flatten_attribution(items)) == sorted_rows(expected)
    first = call(api, ATTRIBUTION, params).json()
    cursor = first["meta"]["pagination"]["next_record_id"]
    other = {**params, "tag_breakdown_keys": "team", "next_record_id": cursor}
    assert call(api, ATTRIBUTION, other).status_code == 400
    assert call(api, ATTRIBUTION, {**params, "next_record_id": "garbage"}).status_code == 400


@pytest.mark.parametrize("tag_keys", [["team", "service", "env"], ["env"], ["service", "team"], []])
def test_cost_attribution_adds_up_to_the_historical_cost(
    api: DatadogSimulator, tag_keys: list[str]
) -> None:
    rows = api.expected_cost_attribution("2023-06", "2024-01", tag_keys)
    costs = api.expected_costs("historical", "2023-06", "2024-01", "sub-org")
    historical = {
        (r["month"], r["public_id"], r["product_name"], r["charge_type"]): cents(r["cost"])
        for r in costs
    }
    sums: dict[tuple[str, ...], int] = {}
    for row in rows:
        for charge_type in ("committed", "on_demand", "total"):
            key = (row["month"], row["public_id"], row["billing_dimension"], charge_type)
            sums[key] = sums.get(key, 0) + cents(row[f"{charge_type}_cost"])
    assert sums == historical  # every month, org, product and charge type, to the cent
    assert {row["billing_dimension"] for row in rows} == set(COST_PRODUCTS)
    for (month, public_id, dimension), group in by_org_and_dimension(rows).items():
        assert abs(sum(row["percentage_in_org"] for row in group) - 100) <= 0.005 * len(group)
        in_account = [
            row["percentage_in_account"]
            for row in rows
            if (row["month"], row["billing_dimension"]) == (month, dimension)
        ]
        assert abs(sum(in_account) - 100) <= 0.005 * len(in_account), public_id
    tags = [row["tags"] for row in rows]
    if not tag_keys:
        assert tags == [None] * len(rows)  # not broken down, as Datadog answers
    else:
        assert all(list(tag) == tag_keys for tag in tags)
        assert all(len(values) <= 1 for tag in tags for values in tag.values())
        assert any(tag[key] == [] for tag in tags for key in tag_keys)  # untagged cost
        assert {value for tag in tags for value in tag[tag_keys[0]]} == set(
            ATTRIBUTION_TAGS[tag_keys[0]]
        )


def by_org_and_dimension(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Rows by (month, org, billing dimension)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["month"], row["public_id"], row["billing_dimension"])
        groups.setdefault(key, []).append(row)
    return groups


def test_cost_attribution_month_appears_on_the_19th() -> None:
    def months(now: datetime) -> list[str]:
        rows = Account(now).expected_cost_attribution("2023-12", "2024-02", [])
        return sorted({row["month"][:7] for row in rows})

    assert months(datetime(2024, 2, 18, 23, tzinfo=UTC)) == ["2023-12"]
    assert months(datetime(2024, 2, 19, tzinfo=UTC)) == ["2023-12", "2024-01"]
    assert months(datetime(2024, 3, 18, 23, tzinfo=UTC)) == ["2023-12", "2024-01"]
    assert months(datetime(2024, 3, 19, tzinfo=UTC)) == ["2023-12", "2024-01", "2024-02"]


def test_cost_attribution_answers_the_recorded_requests(api: DatadogSimulator) -> None:
    """The two recorded requests, moved to NOW: this month is not available yet; child keys."""
    ok = {
        "start_month": "2024-03-08T19:43:19.607Z",
        "end_month": "2024-03-10T19:43:19.607Z",
        "fields": "infra_host_total_cost",
    }
    assert call(api, ATTRIBUTION, ok).json() == recorded("cost_attribution_ok")
    bad = {**ok, "fields": "not_a_product"}
    response = call(api, ATTRIBUTION, bad, CHILD_KEYS)
    assert response.status_code == 400
    assert response.json() == recorded("cost_attribution_non_parent_400")
    assert call(api, BILLABLE, {}, CHILD_KEYS).json() == recorded("cost_attribution_non_parent_400")


def test_cost_attribution_fields_sorting_and_breakdown(api: DatadogSimulator) -> None:
    params = {
        "start_month": "2024-01",
        "fields": "apm_host_total_cost,infra_host_percentage_in_org",
    }
    items = call(api, ATTRIBUTION, params).json()["data"]
    assert "meta" not in call(api, ATTRIBUTION, params).json()  # one page: no meta
    assert [item["attributes"]["tags"] for item in items] == [None] * 3
    assert all(
        list(item["attributes"]["values"])
        == ["apm_host_total_cost", "infra_host_percentage_in_org"]
        for item in items
    )
    assert {item["attributes"]["values"]["infra_host_percentage_in_org"] for item in items} == {
        100.0
    }
    totals = [item["attributes"]["values"]["apm_host_total_cost"] for item in items]
    assert totals == sorted(totals, reverse=True)  # by the first field's total cost, desc
    ascending = call(api, ATTRIBUTION, {**params, "sort_direction": "asc"}).json()["data"]
    assert [i["attributes"]["values"]["apm_host_total_cost"] for i in ascending] == sorted(totals)
    by_logs = call(
        api, ATTRIBUTION, {**params, "fields": "*", "sort_name": "logs_indexed_15day"}
    ).json()["data"]
    logs = [i["attributes"]["values"]["logs_indexed_15day_total_cost"] for i in by_logs]
    assert logs == sorted(logs, reverse=True)
    # A tag key not configured for usage attribution: no breakdown (tags null), whole cost.
    unknown = call(api, ATTRIBUTION, {**params, "tag_breakdown_keys": "team,cost_center"}).json()
    assert [item["attributes"]["tags"] for item in unknown["data"]] == [None] * 3
    parent = call(api, ATTRIBUTION, {**params, "include_descendants": "false"}).json()["data"]
    assert [item["attributes"]["public_id"] for item in parent] == [PARENT_ID]
    # An active billing dimension the account is not billed for: zero.
    synthetics = {**params, "fields": "synthetics_api_tests_total_cost"}
    assert {
        item["attributes"]["values"]["synthetics_api_tests_total_cost"]
        for item in call(api, ATTRIBUTION, synthetics).json()["data"]
    } == {0.0}
    attributes = items[0]["attributes"]
    assert attributes["tag_config_source"] == "Acme Parent:::team///service///env"
    assert (attributes["month"], attributes["updated_at"]) == (
        "2024-01-01T00:00:00+00:00",
        "2024-01-31T23:00:00Z",
    )


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"tag_breakdown_keys": "team,service,env,region"}, "more than 3 tag keys"),
        ({"fields": "flux_capacitor_total_cost"}, "Invalid fields"),
        ({"fields": ""}, "fields is required"),
        ({"start_month": ""}, "start_month is required"),
        ({"sort_direction": "sideways"}, "sort_direction"),
        ({"sort_name": "flux_capacitor"}, "sort_name"),
        ({"include_descendants": "maybe"}, "include_descendants"),
    ],
)
def test_bad_cost_attribution_parameters_are_refused(
    api: DatadogSimulator, params: dict[str, str], says: str
) -> None:
    response = call(api, ATTRIBUTION, {"start_month": "2024-01", "fields": "*", **params})
    assert response.status_code == 400
    assert says in response.json()["errors"][0]
    three = {"start_month": "2024-01", "fields": "*", "tag_breakdown_keys": "env,team,service,env"}
    assert call(api, ATTRIBUTION, three).status_code == 200  # a repeated key counts once


def test_no_attribution_keys_get_403_there_only(api: DatadogSimulator) -> None:
    params = {"start_month": "2024-01", "fields": "*"}
    response = call(api, ATTRIBUTION, params, NO_ATTRIBUTION_KEYS)
    assert response.status_code == 403
    (message,) = response.json()["errors"]
    assert "not available for your plan" in message
    assert call(api, ATTRIBUTION, params).status_code == 200
    assert call(api, ATTRIBUTION, params, USAGE_ONLY_KEYS).status_code == 200
    assert call(api, ATTRIBUTION, params, EMPTY_KEYS).json() == {"data": []}
    for path, path_params in (
        (HISTORICAL, COST_PARAMS[HISTORICAL]),
        (ESTIMATED, COST_PARAMS[ESTIMATED]),
        (BILLABLE, {}),
        (ORGS, {}),
        (ACTIVE, {}),
        (SUMMARY, {"start_month": "2024-01"}),
    ):
        answer = call(api, path, path_params, NO_ATTRIBUTION_KEYS)
        assert answer.status_code == 200, path
        assert answer.json() == call(api, path, path_params).json(), path
    assert call(api, VALIDATE, keys=NO_ATTRIBUTION_KEYS[:1]).json() == {"valid": True}


def test_new_routes_meter_fault_and_replay() -> None:
    params = {"start_month": "2024-01", "fields": "*"}
    with DatadogSimulator(now=NOW) as sim:
        for path, name in (
            (BILLABLE, "usage_billable_summary"),
            (ATTRIBUTION, "cost_by_tag_monthly_cost_attribution"),
        ):
            assert call(sim, path, params).headers["X-RateLimit-Name"] == name
            sim.inject(path, "503")
            assert call(sim, path, params).status_code == 503
            sim.replay(path, recorded("from_openapi_billable_summary_ok"))
            assert call(sim, path, params).json() == recorded("from_openapi_billable_summary_ok")
            assert call(sim, path, params).status_code == 200
            sim.set_rate_limit(path, 1, 60)
            statuses = [call(sim, path, params).status_code for _ in range(3)]  # may straddle
            assert 429 in statuses  # a window boundary once, never twice
