"""The oracle (expected_*) equals what a naive client makes of the answers over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from simulator.data import (
    month_start,
    parse_instant,
)
from tests.simulator.common import (
    NOW,
    call,
    usage_over_http,
)
from tests.support.endpoints import ESTIMATED, HISTORICAL, MAPPING, ORGS

if TYPE_CHECKING:
    from simulator import DatadogSimulator


def flatten_costs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per charge, dated the first instant of its month."""
    return [
        {
            "month": month_start(parse_instant(item["attributes"]["date"])).isoformat(),
            **{k: v for k, v in item["attributes"].items() if k not in ("date", "charges")},
            "last_aggregation_function": None,
            **charge,
        }
        for item in items
        for charge in item["attributes"]["charges"]
    ]


def flatten_mappings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (billing dimension, endpoint), one with "(none)" where there is none."""
    no_endpoint = {"id": "(none)", "keys": None, "status": None}
    return [
        {
            "month": month_start(item["attributes"]["timestamp"]).isoformat(),
            "billing_dimension": item["id"],
            "in_app_label": item["attributes"]["in_app_label"],
            "endpoint": endpoint["id"],
            "keys": endpoint["keys"],
            "status": endpoint["status"],
            "timestamp": parse_instant(item["attributes"]["timestamp"]).isoformat(),
        }
        for item in items
        for endpoint in item["attributes"]["endpoints"] or [no_endpoint]
    ]


def test_oracle_matches_hourly_usage_over_http(api: DatadogSimulator) -> None:
    start = NOW - timedelta(hours=6)
    expected = api.expected_hourly_usage(start, NOW)
    assert usage_over_http(api, start, NOW) == expected
    assert len(expected) == 3 * 3 * 5  # 3 hours (the last 3 are late) x orgs x usage types
    assert {r["timestamp"] for r in expected} == {
        (start + timedelta(hours=h)).isoformat() for h in range(3)
    }
    assert any(
        r["value"] is None for r in api.expected_hourly_usage("2024-03-08T03", "2024-03-08T04")
    )


@pytest.mark.parametrize("view", ["sub-org", "summary"])
@pytest.mark.parametrize("kind", ["historical", "estimated"])
def test_oracle_matches_costs_over_http(api: DatadogSimulator, kind: str, view: str) -> None:
    path, start = (HISTORICAL, "2022-01") if kind == "historical" else (ESTIMATED, "2024-01")
    items = call(api, path, {"start_month": start, "end_month": "2024-03", "view": view}).json()[
        "data"
    ]
    expected = api.expected_costs(kind, start, "2024-03", view)
    served = flatten_costs(items)
    # As in Datadog's recorded answers: no `total` line, and one charge split over two lines.
    assert {row["charge_type"] for row in served} == {"committed", "on_demand"}
    keys = [(r["month"], r["public_id"], r["product_name"], r["charge_type"]) for r in served]
    split = {key for key in keys if keys.count(key) > 1}
    assert split
    assert {key[2:] for key in split} == {("infra_host", "committed")}
    # The oracle's rows are the served lines added up per key, plus a derived total.
    cents: dict[tuple[str, ...], int] = {}
    for key, row in zip(keys, served, strict=True):
        cents[key] = cents.get(key, 0) + round(row["cost"] * 100)
    for row in expected:
        key = (row["month"], row["public_id"], row["product_name"], row["charge_type"])
        lines = keys.count(key)
        assert row["charge_lines"] == lines
        if row["charge_type"] == "total":
            assert lines == 0
            parts = [c for k, c in cents.items() if k[:3] == key[:3]]
            assert round(row["cost"] * 100) == sum(parts)
        else:
            assert round(row["cost"] * 100) == cents[key]
        assert row["view"] == view
    assert len(expected) == len(cents) + len({key[:3] for key in cents})
    months = sorted({row["month"] for row in expected})
    if kind == "historical":
        assert months[0] == "2022-11-01T00:00:00+00:00"
        assert months[-1] == "2024-02-01T00:00:00+00:00"
    else:
        assert months == ["2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"]
    assert {row["last_aggregation_function"] for row in expected} == {"sum", None}


def test_oracle_matches_mappings_and_orgs_over_http(api: DatadogSimulator) -> None:
    for month in ("2024-03", "2023-05-01T00:00:00Z", "2022-10", "2024-04"):
        items = call(api, MAPPING, {"filter[month]": month, "filter[view]": "all"}).json()["data"]
        assert flatten_mappings(items) == api.expected_mappings(month)
    assert len(api.expected_mappings("2024-03")) == 7
    assert api.expected_mappings("2022-10") == []
    assert call(api, ORGS).json()["orgs"] == api.expected_orgs()
