"""The simulator answers like Datadog (shapes checked against recordings); its oracle is exact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import time_machine

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
    BILLABLE_SUMMARY,
    COST_PRODUCTS,
    Account,
    month_start,
    parse_instant,
)
from tests.fixtures import extract_recorded
from tests.support.clock import clock_env
from tests.support.endpoints import (
    ACTIVE,
    ESTIMATED,
    HISTORICAL,
    HOURLY,
    MAPPING,
    ORGS,
    PROJECTED,
    SUMMARY,
    VALIDATE,
)
from tests.support.paths import ROOT

UTC = timezone.utc

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = datetime(2024, 3, 10, 15, tzinfo=UTC)  # Feb is available but not final; Jan is final
RECORDED = Path(__file__).parent / "fixtures" / "recorded"
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


@pytest.fixture(scope="module")
def api() -> Iterator[DatadogSimulator]:
    """One simulator for the module, frozen at NOW (tests that mutate it start their own)."""
    with DatadogSimulator(now=NOW) as sim:
        yield sim


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


def json_type(value: Any) -> str:
    """JSON type name; ints and floats are both numbers in JSON."""
    for kind, name in (
        (bool, "boolean"),
        ((int, float), "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, kind):
            return name
    return "null"


def assert_covers(reference: Any, ours: Any, path: str = "$") -> None:
    """Every key path of ``reference`` exists in ``ours`` with the same JSON type.

    Null on either side matches anything; lists are compared through the reference's first
    element, which every element of ours must cover (an empty list of ours has nothing to check).
    """
    if reference is None or ours is None:
        return
    assert json_type(ours) == json_type(reference), (
        f"{path}: {json_type(ours)} != {json_type(reference)}"
    )
    if isinstance(reference, dict):
        for key, value in reference.items():
            assert key in ours, f"{path}.{key} missing"
            assert_covers(value, ours[key], f"{path}.{key}")
    elif isinstance(reference, list) and reference:
        for index, element in enumerate(ours):
            assert_covers(reference[0], element, f"{path}[{index}]")
            assert_compatible(ours[0], element, f"{path}[{index}]")


def assert_compatible(first: Any, other: Any, path: str) -> None:
    """Elements of one list share a structure: same types on common key paths (null matches)."""
    if first is None or other is None:
        return
    assert json_type(first) == json_type(other), path
    if isinstance(first, dict):
        for key in first.keys() & other.keys():
            assert_compatible(first[key], other[key], f"{path}.{key}")
    elif isinstance(first, list) and first and other:
        assert_compatible(first[0], other[0], f"{path}[0]")


# ---- (1) shapes against recordings -------------------------------------------------------
SHAPE_CASES = [
    (
        "hourly_usage_ok",
        HOURLY,
        {
            "filter[timestamp][start]": "2024-03-05T14:57:41.821Z",
            "filter[product_families]": "infra_hosts",
        },
        PARENT_KEYS,
        200,
    ),
    (
        "hourly_usage_400",
        HOURLY,
        {
            "filter[timestamp][start]": "2024-03-05T14:57:41.335Z",
            "filter[timestamp][end]": "2024-03-03T14:57:41.335Z",
            "filter[product_families]": "infra_hosts",
        },
        PARENT_KEYS,
        400,
    ),
    ("cost_by_org_ok", HISTORICAL, {"start_month": "2023-06", "view": "sub-org"}, PARENT_KEYS, 200),
    (
        "historical_cost_ok",
        HISTORICAL,
        {"start_month": "2023-09-21T21:58:43.871Z", "view": "sub-org"},
        PARENT_KEYS,
        200,
    ),
    (
        "estimated_cost_by_org_month_ok",
        ESTIMATED,
        {"start_month": "2024-02-20T17:07:01.561Z", "end_month": "2024-03-22T17:07:01.561Z"},
        PARENT_KEYS,
        200,
    ),
    (
        "estimated_cost_by_org_date_ok",
        ESTIMATED,
        {"start_date": "2024-03-01T17:07:01.561Z", "end_date": "2024-03-03T17:07:01.561Z"},
        PARENT_KEYS,
        200,
    ),
    (
        "estimated_cost_month_ok",
        ESTIMATED,
        {"view": "sub-org", "start_month": "2024-03-04T18:40:14.021Z"},
        PARENT_KEYS,
        200,
    ),
    (
        "estimated_cost_date_ok",
        ESTIMATED,
        {"start_date": "2024-03-08T14:22:55.359Z", "view": "sub-org"},
        PARENT_KEYS,
        200,
    ),
    (
        "estimated_cost_both_params_400",
        ESTIMATED,
        {
            "view": "sub-org",
            "start_month": "2024-03-03T21:08:41.229Z",
            "start_date": "2024-02-28T21:08:41.229Z",
        },
        PARENT_KEYS,
        400,
    ),
    ("cost_attribution_non_parent_400", HISTORICAL, {"start_month": "2024-01"}, CHILD_KEYS, 400),
    ("billing_dimension_mapping_400", MAPPING, {}, CHILD_KEYS, 400),
    ("validate_ok", VALIDATE, {}, PARENT_KEYS, 200),
    ("validate_forbidden", VALIDATE, {}, None, 403),
    ("active_billing_dimensions_ok", ACTIVE, {}, PARENT_KEYS, 200),
    ("projected_cost_ok", PROJECTED, {"view": "sub-org"}, PARENT_KEYS, 200),
    ("from_openapi_org_ok", ORGS, {}, PARENT_KEYS, 200),
    (
        "from_openapi_usage_summary_ok",
        SUMMARY,
        {"start_month": "2024-01", "include_org_details": "true"},
        PARENT_KEYS,
        200,
    ),
    (
        "from_openapi_billing_dimension_mapping_ok",
        MAPPING,
        {"filter[month]": "2024-03"},
        PARENT_KEYS,
        200,
    ),
    ("from_openapi_billable_summary_ok", BILLABLE, {"month": "2024-01"}, PARENT_KEYS, 200),
    (  # the first of several pages, so with meta.pagination
        "from_openapi_monthly_cost_attribution_ok",
        ATTRIBUTION,
        {"start_month": "2023-06", "fields": "*", "tag_breakdown_keys": "team,service"},
        PARENT_KEYS,
        200,
    ),
]
SAME_BODY = {
    "hourly_usage_400",
    "estimated_cost_both_params_400",
    "cost_attribution_non_parent_400",
    "billing_dimension_mapping_400",
    "validate_ok",
    "validate_forbidden",
}


@pytest.mark.parametrize(
    ("name", "path", "params", "keys", "status"), SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES]
)
def test_answer_has_the_recorded_structure(  # noqa: PLR0913, PLR0917
    api: DatadogSimulator,
    name: str,
    path: str,
    params: dict[str, str],
    keys: tuple[str, str] | None,
    status: int,
) -> None:
    if path == PROJECTED:  # projected cost comes from the 12th: ask on a later day
        with DatadogSimulator(now=NOW.replace(day=12)) as later:
            response = call(later, path, params, keys)
    else:
        response = call(api, path, params, keys)
    assert response.status_code == status
    body, reference = response.json(), recorded(name)
    assert_covers(reference, body)
    if isinstance(reference.get("data"), list) and reference["data"]:
        assert body["data"], "nothing to compare with the recording"
    if name in SAME_BODY:
        assert body == reference
    if name == "hourly_usage_ok":  # one page: Datadog leaves "meta" out, and so do we
        assert body.keys() == reference.keys() == {"data"}
        assert len(body["data"]) == len(reference["data"]) == 24


def test_json_api_errors_carry_their_media_type(api: DatadogSimulator) -> None:
    response = call(api, MAPPING, keys=CHILD_KEYS)
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    assert response.json()["errors"][0]["detail"] == NON_PARENT["errors"][0]


# ---- (2) pagination ----------------------------------------------------------------------
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


# ---- (3) windows and parameters ----------------------------------------------------------
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


# ---- (4) keys ----------------------------------------------------------------------------
ALL_PATHS = (ORGS, HOURLY, *COST_PATHS)


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize(
    "keys", [("sim-api-key", "wrong"), ("wrong", "sim-app-key"), ("sim-api-key",), None]
)
def test_bad_or_missing_keys_are_forbidden(
    api: DatadogSimulator, path: str, keys: tuple[str, ...] | None
) -> None:
    response = call(api, path, {"start_month": "2024-01"}, keys)
    assert response.status_code == 403
    assert response.json() == {"errors": ["Forbidden"]}


def test_validate_checks_only_the_api_key(api: DatadogSimulator) -> None:
    assert call(api, VALIDATE, keys=("sim-api-key", "wrong")).json() == {"valid": True}
    assert call(api, VALIDATE, keys=("child-api-key",)).status_code == 200
    wrong = call(api, VALIDATE, keys=("wrong",))
    assert wrong.status_code == 403
    assert wrong.json() == {"errors": ["Forbidden"]}


@pytest.mark.parametrize("path", COST_PATHS)
def test_child_keys_get_400_on_cost_endpoints(api: DatadogSimulator, path: str) -> None:
    response = call(api, path, COST_PARAMS.get(path), CHILD_KEYS)
    assert response.status_code == 400
    expected = recorded("billing_dimension_mapping_400") if path == MAPPING else NON_PARENT
    assert response.json() == expected


def test_child_keys_see_only_their_own_org(api: DatadogSimulator) -> None:
    assert [org["public_id"] for org in call(api, ORGS, keys=CHILD_KEYS).json()["orgs"]] == [
        "child00001"
    ]
    params = {
        **DAY_OF_USAGE,
        "filter[product_families]": "all",
        "filter[include_descendants]": "true",
    }
    items = call(api, HOURLY, params, CHILD_KEYS).json()["data"]
    assert len(items) == 3 * 24
    assert {item["attributes"]["public_id"] for item in items} == {"child00001"}
    # As in the recorded answers: usage items carry no account_* fields.
    assert not any("account_public_id" in item["attributes"] for item in items)


def test_empty_keys_are_valid_but_see_nothing(api: DatadogSimulator) -> None:
    assert call(api, ORGS, keys=EMPTY_KEYS).json() == {"orgs": []}
    params = {
        **DAY_OF_USAGE,
        "filter[product_families]": "all",
        "filter[include_descendants]": "true",
    }
    assert call(api, HOURLY, params, EMPTY_KEYS).json() == {"data": []}
    for path in (HISTORICAL, ESTIMATED, PROJECTED, MAPPING):
        assert call(api, path, COST_PARAMS.get(path), EMPTY_KEYS).json() == {"data": []}


def test_unknown_path_is_404_and_every_request_is_logged(api: DatadogSimulator) -> None:
    api.clear_requests()
    assert call(api, "/api/v2/nope", {"a": "1"}).json() == {"errors": ["Not found"]}
    call(api, ORGS, keys=("bad", "bad"))
    assert api.requests == [
        {"method": "GET", "path": "/api/v2/nope", "params": {"a": "1"}, "status": 404},
        {"method": "GET", "path": ORGS, "params": {}, "status": 403},
    ]


# ---- (5) faults --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_json(api: DatadogSimulator, kind: str) -> None:
    api.inject(VALIDATE, kind, count=2)
    statuses = [call(api, VALIDATE).status_code for _ in range(3)]
    assert statuses == [int(kind), int(kind), 200]
    api.inject(VALIDATE, kind)
    assert isinstance(call(api, VALIDATE).json()["errors"][0], str)


def test_injected_429_carries_reset(api: DatadogSimulator) -> None:
    api.inject(VALIDATE, "429", seconds=3)
    response = call(api, VALIDATE)
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Reset"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert {name.lower() for name in recorded("rate_limit_429_headers")} <= {
        n.lower() for n in response.headers
    }


def test_reset_closes_the_connection_without_answer(api: DatadogSimulator) -> None:
    api.clear_requests()
    api.inject(VALIDATE, "reset")
    with pytest.raises(requests.ConnectionError):
        call(api, VALIDATE)
    assert call(api, VALIDATE).status_code == 200
    assert [entry["status"] for entry in api.requests] == [0, 200]


def test_slow_answers_late_but_normally(api: DatadogSimulator) -> None:
    api.inject(ORGS, "slow", seconds=0.3)
    started = time.monotonic()
    response = call(api, ORGS)
    assert time.monotonic() - started >= 0.3
    assert response.json()["orgs"] == api.expected_orgs()  # the top-level org alone


def test_truncated_body_fails_to_read(api: DatadogSimulator) -> None:
    api.clear_requests()
    api.inject(ORGS, "truncated")
    with pytest.raises(requests.RequestException):
        call(api, ORGS)
    assert api.requests[-1]["status"] == 200
    assert call(api, ORGS).json() == {"orgs": api.expected_orgs()}


def test_nonjson_is_html(api: DatadogSimulator) -> None:
    api.inject(HISTORICAL, "nonjson")
    response = call(api, HISTORICAL, COST_PARAMS[HISTORICAL])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html"
    assert response.text == "<html>upstream error</html>"
    with pytest.raises(ValueError, match="meteor"):
        api.inject(HISTORICAL, "meteor")


# ---- (6) rate limits ---------------------------------------------------------------------
def test_every_answer_has_rate_limit_headers(api: DatadogSimulator) -> None:
    headers = call(api, HISTORICAL, COST_PARAMS[HISTORICAL]).headers
    assert headers["X-RateLimit-Name"] == "usage_historical_cost"
    assert headers["X-RateLimit-Limit"] == "1000"
    assert headers["X-RateLimit-Period"] == "10"
    assert 1 <= int(headers["X-RateLimit-Reset"]) <= 10
    assert int(headers["X-RateLimit-Remaining"]) < 1000


def test_rate_limit_answers_429_until_reset() -> None:
    with DatadogSimulator(now=NOW) as sim:
        sim.set_rate_limit(ORGS, 3, 1)
        for _ in range(20):  # a burst may straddle a window boundary: keep going until throttled
            response = call(sim, ORGS)
            if response.status_code == 429:
                break
        assert response.status_code == 429
        assert response.json() == {"errors": ["Rate limit exceeded"]}
        headers = response.headers
        assert (
            headers["X-RateLimit-Limit"],
            headers["X-RateLimit-Period"],
            headers["X-RateLimit-Remaining"],
        ) == ("3", "1", "0")
        assert headers["X-RateLimit-Name"] == "orgs"
        assert {name.lower() for name in recorded("rate_limit_429_headers")} <= {
            n.lower() for n in headers
        }
        assert call(sim, ORGS, keys=CHILD_KEYS).status_code == 200  # counted per key pair
        time.sleep(int(headers["X-RateLimit-Reset"]))
        after = call(sim, ORGS)
        assert after.status_code == 200
        assert after.headers["X-RateLimit-Remaining"] == "2"
        with pytest.raises(ValueError, match="unknown"):
            sim.set_rate_limit("/api/v9/unknown", 1, 1)


# ---- (7) oracle == naive client ----------------------------------------------------------
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


# ---- data rules --------------------------------------------------------------------------
def test_summary_sums_the_orgs_and_totals_add_up(api: DatadogSimulator) -> None:
    sub_org = api.expected_costs("historical", "2024-01", "2024-01", "sub-org")
    summary = api.expected_costs("historical", "2024-01", "2024-01", "summary")
    assert {row["public_id"] for row in summary} == {PARENT_ID}
    for row in summary:
        parts = [
            r["cost"]
            for r in sub_org
            if (r["product_name"], r["charge_type"]) == (row["product_name"], row["charge_type"])
        ]
        assert row["cost"] == round(sum(parts), 2)
        assert row["total_cost"] == round(
            sum(r["cost"] for r in summary if r["charge_type"] == "total"), 2
        )
    for org_rows in (
        [r for r in sub_org if r["public_id"] == org] for org in {r["public_id"] for r in sub_org}
    ):
        for product in {r["product_name"] for r in org_rows}:
            cost = {r["charge_type"]: r["cost"] for r in org_rows if r["product_name"] == product}
            assert cost["total"] == round(cost["committed"] + cost["on_demand"], 2)


def test_historical_month_calendar() -> None:
    def months(now: datetime) -> list[str]:
        return [month.strftime("%Y-%m") for month in Account(now).cost_months("historical")][-2:]

    assert months(datetime(2024, 3, 2, 23, tzinfo=UTC)) == ["2023-12", "2024-01"]
    assert months(datetime(2024, 3, 3, tzinfo=UTC)) == ["2024-01", "2024-02"]
    assert not Account(datetime(2024, 3, 16, 23, tzinfo=UTC)).is_final("2024-02")
    assert Account(datetime(2024, 3, 17, tzinfo=UTC)).is_final("2024-02")


def test_old_months_come_back_with_odd_hours(api: DatadogSimulator) -> None:
    items = call(api, HISTORICAL, {"start_month": "2023-02", "end_month": "2023-09"}).json()["data"]
    dates = [item["attributes"]["date"] for item in items]
    assert dates[:2] == ["2023-02-15T13:00:00+00:00", "2023-03"]  # odd hours; month only
    assert dates[-1] == "2023-09-01T00:00:00+00:00"
    assert call(api, PROJECTED).json()["data"] == []  # the 10th: no projection yet


def test_projected_cost_comes_from_the_12th_dated_the_last_day() -> None:
    with DatadogSimulator(now=datetime(2024, 3, 12, tzinfo=UTC)) as sim:
        projected = call(sim, PROJECTED).json()["data"]
    assert [item["attributes"]["date"] for item in projected] == ["2024-03-31T00:00:00Z"]


def test_revise_changes_late_data_estimates_and_this_months_mapping() -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = NOW - timedelta(hours=80)
        before_usage = {
            (r["timestamp"], r["public_id"], r["usage_type"]): r["value"]
            for r in sim.expected_hourly_usage(start, NOW)
        }
        before = {
            kind: sim.expected_costs(kind, "2024-01", "2024-03", "sub-org")
            for kind in ("historical", "estimated")
        }
        sim.revise()
        assert sim.generation == 1
        after_usage = usage_over_http(sim, NOW - timedelta(hours=24), NOW)
        assert after_usage == sim.expected_hourly_usage(NOW - timedelta(hours=24), NOW)
        assert {r["timestamp"] for r in after_usage} >= {
            (NOW - timedelta(hours=h)).isoformat() for h in (1, 2, 3)
        }
        revised = {
            (r["timestamp"], r["public_id"], r["usage_type"]): r["value"]
            for r in sim.expected_hourly_usage(start, NOW)
        }
        late = (NOW - timedelta(hours=72)).isoformat()
        for key, value in before_usage.items():
            if value is not None:
                assert revised[key] == value + (1 if key[0] >= late else 0)
        after = {
            kind: sim.expected_costs(kind, "2024-01", "2024-03", "sub-org")
            for kind in ("historical", "estimated")
        }
        for kind, shift in (("historical", -1.0), ("estimated", 0.25)):
            for old, new in zip(before[kind], after[kind], strict=True):
                final_month = kind == "historical" and sim.is_final(old["month"])
                moved = (
                    shift if old["charge_type"] in ("on_demand", "total") and not final_month else 0
                )
                if kind == "estimated" and old["month"].startswith("2024-03"):
                    moved *= 10 / 31  # this month's estimate: the 10 days so far of 31
                assert new["cost"] == pytest.approx(old["cost"] + moved, abs=0.011)
        keys = sim.expected_mappings("2024-03")[0]["keys"]
        assert keys[-1] == "gen1"
        assert "gen1" not in sim.expected_mappings("2024-02")[0]["keys"]


# ---- construction and CLI ----------------------------------------------------------------
def test_defaults_and_constructor_validation() -> None:
    with time_machine.travel(datetime(2027, 1, 1, 0, 59, 59, tzinfo=UTC), tick=False):
        sim = DatadogSimulator()
    assert sim.now == datetime(2027, 1, 1, tzinfo=UTC)  # the clock's hour, by default
    assert sim.generation == 0
    with pytest.raises(ValueError, match="flux_capacitors"):
        DatadogSimulator(families=("flux_capacitors",))
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.url


def test_module_entry_point_serves_until_sigterm() -> None:
    """`python -m simulator` (scripts/quickstart.py starts it) runs on its process's clock:
    started under libfaketime, it is at that instant."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=clock_env(NOW),
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Datadog API simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(
            url + VALIDATE, headers={"DD-API-KEY": PARENT_KEYS[0]}, timeout=5
        ).json() == {"valid": True}
        answer = requests.get(
            url + SUMMARY,
            params={"start_month": "2024-03"},
            headers=dict(zip(("DD-API-KEY", "DD-APPLICATION-KEY"), PARENT_KEYS, strict=True)),
            timeout=5,
        ).json()
        assert answer["last_updated"] == "2024-03-10T15:00:00Z"  # NOW, the clock it was given
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        process.stdout.close()


@pytest.mark.skipif(
    not extract_recorded.DEFAULT_SOURCE.is_dir(),
    reason="../shared/datadog is not beside this clone",
)
def test_fixtures_are_the_recorded_responses_unchanged() -> None:
    """The copies in tests/fixtures still say what ../shared/datadog/recorded says."""
    for name, body in extract_recorded.extract().items():
        committed = json.loads((extract_recorded.OUTPUT_DIR / f"{name}.json").read_text())
        assert committed == body, name


def test_org_lists_the_top_level_org_only_and_needs_org_management(api: DatadogSimulator) -> None:
    assert [o["public_id"] for o in call(api, ORGS).json()["orgs"]] == [PARENT_ID]
    assert call(api, ORGS, keys=USAGE_ONLY_KEYS).status_code == 403


def test_usage_summary_lists_every_org_per_month_for_the_parent_only(api: DatadogSimulator) -> None:
    params = {"start_month": "2024-01", "include_org_details": "true"}
    for keys in (PARENT_KEYS, USAGE_ONLY_KEYS):
        usage = call(api, SUMMARY, params, keys).json()["usage"]
        assert [month["date"][:7] for month in usage] == ["2024-01", "2024-02", "2024-03"]
        assert all(len(month["orgs"]) == 3 for month in usage)
    assert "orgs" not in call(api, SUMMARY, {"start_month": "2024-03"}).json()["usage"][0]
    assert call(api, SUMMARY, params, CHILD_KEYS).json() == NON_PARENT
    assert call(api, SUMMARY, {"start_month": "2022-11"}).status_code == 400  # 16 months back


# ---- billable summary --------------------------------------------------------------------
#: Each product's billable summary key, as the simulator documents it.
BILLABLE_PRODUCTS = {key: product for product, (key, *_) in BILLABLE_SUMMARY.items()}
BILLABLE_SPEC = extract_recorded.DEFAULT_SOURCE / "openapi" / "v1_GetUsageBillableSummary.json"
ATTRIBUTION_ALL = {"fields": "*", "tag_breakdown_keys": "team,service,env"}


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


# ---- cost attribution --------------------------------------------------------------------
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
