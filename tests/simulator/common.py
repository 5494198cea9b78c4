"""Constants and helpers the simulator's tests share: keyed GETs, recordings, pages, rows."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from simulator import (
    PARENT_KEYS,
    DatadogSimulator,
)
from tests.support.endpoints import ACTIVE, ESTIMATED, HISTORICAL, HOURLY, MAPPING, PROJECTED

UTC = timezone.utc

NOW = datetime(2024, 3, 10, 15, tzinfo=UTC)  # Feb is available but not final; Jan is final
RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded"
BILLABLE = "/api/v1/usage/billable-summary"
ATTRIBUTION = "/api/v2/cost_by_tag/monthly_cost_attribution"
COST_PATHS = (HISTORICAL, ESTIMATED, PROJECTED, MAPPING, ACTIVE, BILLABLE, ATTRIBUTION)
COST_PARAMS = {HISTORICAL: {"start_month": "2023-06"}, ESTIMATED: {"start_month": "2024-02"}}
NON_PARENT = {
    "errors": ["API called with non-parent org keys. Data is only available at the root level org"]
}
DAY_OF_USAGE = {
    "filter[timestamp][start]": "2024-03-08T00",
    "filter[timestamp][end]": "2024-03-09T00",
}
ATTRIBUTION_ALL = {"fields": "*", "tag_breakdown_keys": "team,service,env"}


def call(
    sim: DatadogSimulator,
    path: str,
    params: dict[str, str] | None = None,
    keys: tuple[str, ...] | None = PARENT_KEYS,
) -> requests.Response:
    """One GET with Datadog's key headers (as many as ``keys`` holds)."""
    headers = dict(zip(("DD-API-KEY", "DD-APPLICATION-KEY"), keys or (), strict=False))
    return requests.get(sim.url + path, params=params, headers=headers, timeout=10)


def recorded(name: str) -> Any:
    """A committed fixture body."""
    return json.loads((RECORDED / f"{name}.json").read_text())


def fetch_pages(
    sim: DatadogSimulator, params: dict[str, str], limit: int
) -> list[list[dict[str, Any]]]:
    """Follow next_record_id until it is null, as a client would."""
    pages, cursor = [], None
    while True:
        page_params = {
            **params,
            "page[limit]": str(limit),
            **({"page[next_record_id]": cursor} if cursor else {}),
        }
        body = call(sim, HOURLY, page_params).json()
        pages.append(body["data"])
        cursor = body.get("meta", {}).get("pagination", {}).get("next_record_id")
        if cursor is None:
            return pages


def flatten_usage(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a naive client makes of hourly usage items: one record per measurement."""
    records = [
        {
            "account_name": None,  # not in real items (recordings): None, as the tap writes
            "account_public_id": None,
            **{k: v for k, v in item["attributes"].items() if k != "measurements"},
            **measurement,
        }
        for item in items
        for measurement in item["attributes"]["measurements"]
    ]
    return sorted(
        records,
        key=lambda r: (r["timestamp"], r["public_id"], r["product_family"], r["usage_type"]),
    )


def usage_over_http(sim: DatadogSimulator, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every page of a descendants-included window, flattened."""
    params = {
        "filter[timestamp][start]": start.strftime("%Y-%m-%dT%H"),
        "filter[timestamp][end]": end.isoformat(),
        "filter[product_families]": "all",
        "filter[include_descendants]": "true",
    }
    return flatten_usage([item for page in fetch_pages(sim, params, 7) for item in page])


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in a canonical order, for comparing answers that order differently."""
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
