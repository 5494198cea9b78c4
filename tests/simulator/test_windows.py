"""Time windows and parameters: Datadog's limits, timestamp spellings and refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.simulator.common import (
    DAY_OF_USAGE,
    call,
)
from tests.support.endpoints import ESTIMATED, HOURLY

if TYPE_CHECKING:
    from simulator import DatadogSimulator


@pytest.mark.parametrize(
    ("descendants", "start", "end", "status", "says"),
    [
        ("true", "2024-03-08T00", "2024-03-09T00", 200, None),
        ("true", "2024-03-08T00", "2024-03-09T01", 400, "24 hours"),
        ("false", "2024-01-01T00", "2024-03-01T00", 200, None),
        ("false", "2024-01-01T00", "2024-03-01T01", 400, "2 months"),
    ],
)
def test_window_limits(  # noqa: PLR0913, PLR0917
    api: DatadogSimulator, descendants: str, start: str, end: str, status: int, says: str | None
) -> None:
    params = {
        "filter[timestamp][start]": start,
        "filter[timestamp][end]": end,
        "filter[product_families]": "application_performance_monitoring",
        "filter[include_descendants]": descendants,
    }
    response = call(api, HOURLY, params)
    assert response.status_code == status
    if says:
        assert says in response.json()["errors"][0]


@pytest.mark.parametrize(
    "params",
    [
        {"filter[product_families]": "application_performance_monitoring"},
        {"filter[timestamp][start]": "2024-03-08T00"},
        {
            "filter[timestamp][start]": "2024-03-08T00",
            "filter[product_families]": "application_performance_monitoring,flux_capacitors",
        },
        {
            "filter[timestamp][start]": "yesterday",
            "filter[product_families]": "application_performance_monitoring",
        },
        {
            "filter[timestamp][start]": "2024-03-08T00",
            "filter[product_families]": "application_performance_monitoring",
            "filter[include_descendants]": "maybe",
        },
    ],
    ids=["no-start", "no-families", "unknown-family", "bad-timestamp", "bad-boolean"],
)
def test_bad_hourly_parameters_are_refused(api: DatadogSimulator, params: dict[str, str]) -> None:
    response = call(api, HOURLY, params)
    assert response.status_code == 400
    assert isinstance(response.json()["errors"][0], str)


def test_timestamp_spellings_are_equivalent(api: DatadogSimulator) -> None:
    answers = [
        call(
            api,
            HOURLY,
            {
                "filter[timestamp][start]": start,
                "filter[product_families]": "infra_hosts",
                "filter[timestamp][end]": "2024-03-08T06:00:00Z",
            },
        ).json()["data"]
        for start in (
            "2024-03-08T00",
            "2024-03-08T00:00:00+00:00",
            "2024-03-08T00:00:00Z",
            "2024-03-08T00:42:00.123Z",
        )
    ]
    assert len(answers[0]) == 6
    assert all(answer == answers[0] for answer in answers)


def test_documented_family_gets_one_usage_type(api: DatadogSimulator) -> None:
    item = call(api, HOURLY, {**DAY_OF_USAGE, "filter[product_families]": "rum"}).json()["data"][0]
    assert [m["usage_type"] for m in item["attributes"]["measurements"]] == ["rum_count"]


def test_estimated_cost_refuses_old_starts_and_missing_starts(api: DatadogSimulator) -> None:
    assert call(api, ESTIMATED, {"start_month": "2023-12"}).status_code == 400
    assert call(api, ESTIMATED, {"start_date": "2023-12-31"}).status_code == 400
    assert call(api, ESTIMATED, {"view": "sub-org"}).status_code == 400
    months = {
        item["attributes"]["date"]
        for item in call(api, ESTIMATED, {"start_month": "2024-01"}).json()["data"]
    }
    assert months == {"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"}


def test_estimated_cost_by_day_lists_each_day(api: DatadogSimulator) -> None:
    daily = call(api, ESTIMATED, {"start_date": "2024-03-07", "view": "sub-org"}).json()["data"]
    assert sorted({item["attributes"]["date"] for item in daily}) == [
        f"2024-03-{d:02d}T00:00:00Z" for d in (7, 8, 9, 10)
    ]
    cumulative = call(
        api, ESTIMATED, {"start_date": "2024-03-07", "cost_aggregation": "cumulative"}
    ).json()["data"]
    totals = [item["attributes"]["total_cost"] for item in cumulative]
    assert totals == sorted(totals)
    assert totals[0] < totals[-1]
