"""Answers have the structure of Datadog's recorded answers, and its very body where they must."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import (
    CHILD_KEYS,
    PARENT_KEYS,
    DatadogSimulator,
)
from tests.simulator.common import (
    ATTRIBUTION,
    BILLABLE,
    NON_PARENT,
    NOW,
    call,
    recorded,
)
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
