"""Keys: bad ones are forbidden, child keys see only their org, empty keys see nothing."""

from __future__ import annotations

import pytest

from simulator import (
    CHILD_KEYS,
    EMPTY_KEYS,
    DatadogSimulator,
)
from tests.simulator.common import (
    COST_PARAMS,
    COST_PATHS,
    DAY_OF_USAGE,
    NON_PARENT,
    call,
    recorded,
)
from tests.support.endpoints import (
    ESTIMATED,
    HISTORICAL,
    HOURLY,
    MAPPING,
    ORGS,
    PROJECTED,
    VALIDATE,
)

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
