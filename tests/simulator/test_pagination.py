"""Hourly usage pages hold every item once; bad page limits and foreign cursors are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.simulator.common import (
    DAY_OF_USAGE,
    call,
    fetch_pages,
)
from tests.support.endpoints import HOURLY

if TYPE_CHECKING:
    from simulator import DatadogSimulator


def test_pagination_returns_every_item_once(api: DatadogSimulator) -> None:
    params = {
        **DAY_OF_USAGE,
        "filter[product_families]": "all",
        "filter[include_descendants]": "true",
    }
    whole = call(api, HOURLY, params).json()
    assert "meta" not in whole
    assert len(whole["data"]) == 3 * 3 * 24
    pages = fetch_pages(api, params, 50)
    assert [len(page) for page in pages] == [50, 50, 50, 50, 16]
    ids = [item["id"] for page in pages for item in page]
    assert ids == [item["id"] for item in whole["data"]]
    assert len(set(ids)) == len(ids)
    order = [
        (
            i["attributes"]["product_family"],
            i["attributes"]["public_id"],
            i["attributes"]["timestamp"],
        )
        for i in whole["data"]
    ]
    assert order == sorted(order)
    timestamps = [stamp for *_, stamp in order]
    assert timestamps != sorted(timestamps)  # deliberately not in time order


def test_last_page_of_many_has_a_null_cursor(api: DatadogSimulator) -> None:
    params = {**DAY_OF_USAGE, "filter[product_families]": "logs", "page[limit]": "12"}
    first = call(api, HOURLY, params).json()
    cursor = first["meta"]["pagination"]["next_record_id"]
    last = call(api, HOURLY, {**params, "page[next_record_id]": cursor}).json()
    assert len(last["data"]) == 12
    assert last["meta"] == {"pagination": {"next_record_id": None}}


@pytest.mark.parametrize("limit", ["0", "501", "ten"])
def test_page_limit_outside_1_to_500_is_refused(api: DatadogSimulator, limit: str) -> None:
    params = {
        **DAY_OF_USAGE,
        "filter[product_families]": "application_performance_monitoring",
        "page[limit]": limit,
    }
    assert call(api, HOURLY, params).status_code == 400


def test_cursor_from_another_query_is_refused(api: DatadogSimulator) -> None:
    params = {**DAY_OF_USAGE, "filter[product_families]": "logs", "page[limit]": "5"}
    cursor = call(api, HOURLY, params).json()["meta"]["pagination"]["next_record_id"]
    other = {
        **params,
        "filter[product_families]": "application_performance_monitoring",
        "page[next_record_id]": cursor,
    }
    assert call(api, HOURLY, other).status_code == 400
    assert call(api, HOURLY, {**params, "page[next_record_id]": "garbage"}).status_code == 400
