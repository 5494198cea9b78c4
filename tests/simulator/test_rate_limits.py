"""Rate limits: headers on every answer, and 429 until the window resets."""

from __future__ import annotations

import time

import pytest

from simulator import (
    CHILD_KEYS,
    DatadogSimulator,
)
from tests.simulator.common import (
    COST_PARAMS,
    NOW,
    call,
    recorded,
)
from tests.support.endpoints import HISTORICAL, ORGS


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
