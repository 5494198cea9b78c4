"""Answers without the documented shape, rows outside the window, bookmarks in the future.

None of them may move a bookmark over data that was never read.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import typing as t

import pytest
import requests

from tap_datadog_costs.answers import (
    BEYOND_A_FLOAT,
    NOT_A_NUMBER,
    STRICT_JSON,
    decode,
    repairs,
)
from tap_datadog_costs.errors import DatadogAPIError, DatadogGaveUpError
from tap_datadog_costs.paging import PAGES_WITHOUT_A_ROW
from tests.support.endpoints import HISTORICAL, HOURLY
from tests.support.logs import tap_log
from tests.support.records import assert_same_records
from tests.support.running import parse_messages, run_cli, sync
from tests.support.seen import requests_to
from tests.support.settings import ONE_AT_A_TIME, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator
    from tests.support.running import SyncResult

GOOD_ATTRIBUTES = {
    "timestamp": "2026-11-01T10:00:00+00:00",
    "public_id": "parent00001",
    "org_name": "Acme Parent",
    "product_family": "logs",
    "measurements": [],
}
#: 200 answers that carry no usable data, and how the tap names each.
SHAPELESS = {
    "empty object": ({}, "without a 'data' list"),
    "null data": ({"data": None}, "without a 'data' list"),
    "errors only": ({"errors": ["Internal error"]}, "without a 'data' list"),
    "data not a list": ({"data": {"id": 1}}, "without a 'data' list"),
    "item not an object": ({"data": ["x"]}, "with an item that is not an object"),
    "no timestamp": (
        {"data": [{"attributes": {}}]},
        "with an item that has no attributes.timestamp",
    ),
    "value not a number": (
        {
            "data": [
                {
                    "attributes": {
                        **GOOD_ATTRIBUTES,
                        "measurements": [{"usage_type": "x", "value": "NaN-ish"}],
                    }
                }
            ]
        },
        "with an item that has a measurement's value = 'NaN-ish', which its schema does not allow",
    ),
    "null public_id": (
        {"data": [{"attributes": {**GOOD_ATTRIBUTES, "public_id": None}}]},
        "with an item that has attributes.public_id = None, which its schema does not allow",
    ),
    "garbage timestamp": (
        {"data": [{"attributes": {"timestamp": "soon"}}]},
        "with an item that has an attributes.timestamp that is not a date-time: 'soon'",
    ),
}


@pytest.fixture(scope="module")
def clean(live: DatadogSimulator) -> SyncResult:
    return sync(recent_config(live, days=2))


@pytest.mark.parametrize("case", SHAPELESS)
def test_a_shapeless_answer_is_retried_and_then_fails_the_stream_in_one_line(
    api: DatadogSimulator, case: str
) -> None:
    body, words = SHAPELESS[case]
    api.replay(HOURLY, body, count=2)
    with pytest.raises(DatadogGaveUpError) as raised:
        sync(recent_config(api, days=2, max_retries=1, **ONE_AT_A_TIME))
    assert str(raised.value) == (
        f"Datadog answered 200 to GET {HOURLY} {words}; gave up after 2 attempts (max_retries: 1)"
    )
    assert [r["status"] for r in requests_to(api.requests, HOURLY)] == [200, 200]


def test_a_shapeless_answer_once_is_retried_and_loses_nothing(
    api: DatadogSimulator, clean: SyncResult
) -> None:
    api.replay(HOURLY, {}, count=1)
    with tap_log() as log:
        result = sync(recent_config(api, days=2))
    assert [line for line in log if "retrying in" in line] == [
        line for line in log if f"200 to GET {HOURLY} without a 'data' list; retrying" in line
    ]
    assert len(requests_to(api.requests, HOURLY)) == 3  # two windows, the first one twice
    assert_same_records(result, clean)


def test_the_cli_stops_on_a_shapeless_answer_with_no_bookmark_past_it(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    api.replay(HOURLY, {"data": None}, count=2)
    result = run_cli(
        config=recent_config(api, days=2, max_retries=1, **ONE_AT_A_TIME), tmp_path=tmp_path
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.decode().splitlines() if "| ERROR " in line]
    assert any("without a 'data' list; gave up after 2 attempts" in line for line in errors)
    messages = parse_messages(result.stdout)
    assert not [m for m in messages if m["type"] == "RECORD" and m["stream"] == "hourly_usage"]
    states = [m["value"]["bookmarks"] for m in messages if m["type"] == "STATE"]
    assert all("replication_key_value" not in s.get("hourly_usage", {}) for s in states)


def future_item(sim: DatadogSimulator) -> dict[str, t.Any]:
    """A real-looking usage item stamped ten days after the simulator's now."""
    return {
        "type": "usage_timeseries",
        "attributes": {
            "timestamp": (sim.now + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "public_id": "parent00001",
            "org_name": "Acme Parent",
            "product_family": "infra_hosts",
            "measurements": [{"usage_type": "host_count", "value": 1}],
        },
    }


def test_a_row_stamped_outside_the_window_is_dropped_and_never_bookmarked(
    api: DatadogSimulator,
) -> None:
    config = recent_config(api, days=1)
    api.replay(HOURLY, {"data": [future_item(api)]})
    with tap_log() as log:
        first = sync(config)
    assert first.records("hourly_usage") == []
    window = f"{(api.now - dt.timedelta(days=1)).isoformat()} to {api.now.isoformat()}"
    assert [line for line in log if "outside the timestamp range asked for" in line] == [
        (
            f"hourly_usage: Datadog answered 1 row(s) outside the timestamp range asked for, "
            f"{window}: dropped, and no bookmark covers them"
        )
    ]
    assert first.bookmark("hourly_usage") is None
    api.clear_requests()
    second = sync(config, first.final_state)  # starts where it would have: start_date
    assert second.records("hourly_usage")
    assert len(requests_to(api.requests, HOURLY)) == 1


def test_a_bookmark_later_than_now_is_ignored_with_a_warning_naming_it(
    api: DatadogSimulator,
) -> None:
    future = "2030-01-01T00:00:00+00:00"
    state = {
        "bookmarks": {
            stream: {"replication_key": key, "replication_key_value": future}
            for stream, key in (("hourly_usage", "timestamp"), ("historical_costs", "month"))
        }
    }
    with tap_log() as log:
        # Only the two streams: focus_costs reads historical cost for months of its own.
        result = sync(
            recent_config(api, days=40), state, streams=("hourly_usage", "historical_costs")
        )
    warned = [line for line in log if f"the bookmark in the state, {future}, is later" in line]
    assert sorted(line.split(":")[0] for line in warned) == ["historical_costs", "hourly_usage"]
    hourly = requests_to(api.requests, HOURLY)
    # Read from the look-back before now (72 hours), not from the future.
    assert hourly[0]["params"]["filter[timestamp][start]"] == (
        f"{api.now - dt.timedelta(hours=72):%Y-%m-%dT%H}"
    )
    assert result.records("hourly_usage")
    # Months: read from the first one still open; the bookmark written is not the future one.
    assert [r["params"]["start_month"] for r in requests_to(api.requests, HISTORICAL)] in (
        [],  # after the 16th, no past month is open and the current one is not published
        [f"{api.now.replace(day=1) - dt.timedelta(days=1):%Y-%m}"],
    )
    assert result.bookmark("historical_costs") <= api.now.isoformat()
    assert result.bookmark("hourly_usage") < future


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"data": [{"attributes": {"public_id": "p", "charges": []}}]},
            "has no date-time in attributes.date: 'None'",
        ),
        ({"data": [{"attributes": {"date": "2026-10"}}]}, "has no attributes.public_id"),
        (
            {
                "data": [
                    {
                        "attributes": {
                            "date": "2026-10",
                            "public_id": "p",
                            "charges": [
                                {
                                    "product_name": "apm_host",
                                    "charge_type": "committed",
                                    "cost": "12.50",
                                }
                            ],
                        }
                    }
                ]
            },
            "has a charge's cost = '12.50', which its schema does not allow",
        ),
    ],
)
def test_a_cost_item_without_its_month_or_org_fails_the_stream_after_retries(
    api: DatadogSimulator, body: dict[str, t.Any], words: str
) -> None:
    api.replay(HISTORICAL, body, count=2)
    with pytest.raises(DatadogGaveUpError) as raised:
        sync(recent_config(api, days=70, max_retries=1))
    assert str(raised.value) == (
        f"Datadog answered 200 to GET {HISTORICAL} with an item that {words}; "
        "gave up after 2 attempts (max_retries: 1)"
    )


def usage_page(sim: DatadogSimulator, cursor: str | None, hours_ago: int = 2) -> dict[str, t.Any]:
    """One page of one real-looking usage item in the current window, pointing at ``cursor``."""
    item = future_item(sim)
    stamp = sim.now - dt.timedelta(hours=hours_ago)
    item["attributes"]["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return {"data": [item], "meta": {"pagination": {"next_record_id": cursor}}}


def test_page_cursors_that_loop_fail_the_window_in_one_line(api: DatadogSimulator) -> None:
    for cursor in ("A", "B", "A"):  # A, B, A, B, ... for ever
        api.replay(HOURLY, usage_page(api, cursor))
    with pytest.raises(DatadogAPIError) as raised:
        sync(recent_config(api, days=1))
    assert str(raised.value) == (
        f"GET {HOURLY}: Datadog sent the page cursor 'A' twice in one window, after 2 pages: "
        "the pages loop; run again later"
    )
    assert len(requests_to(api.requests, HOURLY)) == 3


def test_pages_without_a_row_that_never_end_fail_the_window_in_one_line(
    api: DatadogSimulator,
) -> None:
    api.inject(HOURLY, "fresh_cursor", count=100_000)  # a new next page each time, for ever
    try:
        with pytest.raises(DatadogAPIError) as raised:
            sync(recent_config(api, days=1))
    finally:
        api.clear_faults()
    assert str(raised.value) == (
        f"GET {HOURLY}: the pages do not end: Datadog sent {PAGES_WITHOUT_A_ROW} pages in a row "
        "without a new row, each naming a next page; run again later"
    )
    assert len(requests_to(api.requests, HOURLY)) == PAGES_WITHOUT_A_ROW


def test_empty_pages_short_of_the_bound_lose_nothing(api: DatadogSimulator) -> None:
    for number in range(PAGES_WITHOUT_A_ROW - 1):
        api.replay(HOURLY, {"data": [], "meta": {"pagination": {"next_record_id": f"e{number}"}}})
    api.replay(HOURLY, usage_page(api, None))  # then a row, and the last page
    result = sync(recent_config(api, days=1))
    assert len(result.records("hourly_usage")) == 1
    assert len(requests_to(api.requests, HOURLY)) == PAGES_WITHOUT_A_ROW


def test_a_page_sent_twice_writes_its_rows_once(api: DatadogSimulator) -> None:
    api.replay(HOURLY, usage_page(api, "A"))
    api.replay(HOURLY, usage_page(api, None))  # the same row again, last page
    with tap_log() as log:
        result = sync(recent_config(api, days=1))
    assert len(result.records("hourly_usage")) == 1
    expected = "hourly_usage: Datadog sent 1 row(s) twice in one window (a page repeated): "
    expected += "each is written once"
    assert [line for line in log if "twice in one window" in line] == [expected]


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ("next", "with a meta that is not an object: 'next'"),
        ({"pagination": "next"}, "with a meta.pagination that is not an object: 'next'"),
        (
            {"pagination": {"next_record_id": 7}},
            "with a meta.pagination.next_record_id that is not text: '7'",
        ),
    ],
)
def test_paging_that_is_not_the_documented_shape_is_a_shape_error(
    api: DatadogSimulator, meta: t.Any, words: str
) -> None:
    api.replay(HOURLY, {"data": [], "meta": meta}, count=2)
    with pytest.raises(DatadogGaveUpError) as raised:
        sync(recent_config(api, days=1, max_retries=1))
    assert str(raised.value) == (
        f"Datadog answered 200 to GET {HOURLY} {words}; gave up after 2 attempts (max_retries: 1)"
    )


def answer_of(body: bytes) -> requests.Response:
    """A 200 answer carrying ``body``."""
    response = requests.Response()
    response.status_code = 200
    response._content = body  # what requests keeps once it read the body
    return response


#: Bodies the strict path (msgspec) reads: ``json.loads`` reads each as the same values.
STRICT = {
    "a usage page": json.dumps({"data": [{"attributes": GOOD_ATTRIBUTES}], "meta": None}).encode(),
    "past 64 bits": b"[18446744073709551616, -9223372036854775809, 10000000000000000000000]",
    "floats at their edges": b"[1.7976931348623157e308, 4.9e-324, 2.4e-324, -0.0, -0, 0.1, 1E5]",
    "escapes, a surrogate pair": b'["\\ud83d\\ude00", "\\u0000", "\\u00e9\\n", "\x7f", "\xc3\xa9"]',
    "a field twice": b'{"a": 1, "a": 2}',
}
#: Bodies only the lenient path (json.loads) reads: what they become, and what was repaired.
LENIENT: dict[str, tuple[bytes, t.Any, dict[str, int]]] = {
    "NaN and Infinity": (
        b"[NaN, Infinity, -Infinity, 1]", [math.nan, math.inf, -math.inf, 1], {NOT_A_NUMBER: 3}
    ),
    "numbers beyond a float's range": (
        b"[1e400, -1E+999, 1.5e308, 1e-400]",
        [math.inf, -math.inf, 1.5e308, 0.0],
        {BEYOND_A_FLOAT: 2},
    ),
    "a lone surrogate": (
        b'{"org_name": "\\ud800bad"}',
        {"org_name": "\ufffdbad"},
        {"values of org_name holding a lone surrogate (no Unicode text): written with U+FFFD": 1},
    ),
    "a pair in the wrong order": (
        b'{"org_name": "\\ude00\\ud83d"}',
        {"org_name": "\ufffd\ufffd"},
        {"values of org_name holding a lone surrogate (no Unicode text): written with U+FFFD": 1},
    ),
    "a byte order mark": (b'\xef\xbb\xbf{"data": []}', {"data": []}, {}),
    "UTF-16": ('{"data": ["\u00e9"]}'.encode("utf-16"), {"data": ["\u00e9"]}, {}),
}  # fmt: skip
#: Bodies neither path reads, and the words of their ValueError.
NOT_JSON = {
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested deeper than the tap reads"),
    "cut short": (b'{"data": [', "Expecting value"),
    "text after the value": (b"{} x", "Extra data"),
    "a raw tab in a string": (b'"\t"', "Invalid control character"),
    "not UTF-8": (b'"\xff"', "codec can't decode"),
}


@pytest.mark.parametrize("case", STRICT)
def test_strict_json_reads_the_common_answer_as_json_loads_does(case: str) -> None:
    body = STRICT[case]
    STRICT_JSON.decode(body)  # the fast path: it raises for what it does not read
    response = answer_of(body)
    assert decode(response) == json.loads(body)
    assert repairs(response) == {}


@pytest.mark.parametrize("case", LENIENT)
def test_what_strict_json_refuses_the_lenient_path_reads_and_repairs(case: str) -> None:
    body, expected, repaired = LENIENT[case]
    with pytest.raises(ValueError):  # noqa: PT011 - msgspec's DecodeError, or UnicodeDecodeError
        STRICT_JSON.decode(body)
    response = answer_of(body)
    assert repr(decode(response)) == repr(expected)  # repr: nan equals no nan
    assert repairs(response) == repaired


@pytest.mark.parametrize("case", NOT_JSON)
def test_a_body_neither_path_reads_is_a_value_error(case: str) -> None:
    body, words = NOT_JSON[case]
    with pytest.raises(ValueError, match=re.escape(words)):
        decode(answer_of(body))
