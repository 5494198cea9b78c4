"""Injected faults: server errors, 429s, resets, slow, truncated and non-JSON answers."""

from __future__ import annotations

import json
import time
import typing as t
from urllib.parse import quote_plus

import pytest
import requests

from simulator import DatadogSimulator
from simulator.faults import ECHO_CUT_AT
from tests.simulator.common import (
    COST_PARAMS,
    NOW,
    call,
    recorded,
)
from tests.support.endpoints import HISTORICAL, ORGS, VALIDATE


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


#: Keys whose JSON, URL and white space forms differ from the key (still latin-1: headers).
ODD_KEYS = ('odd-"api\\kéy  one', "odd app\\kéy  two")


@pytest.mark.parametrize(
    ("kind", "forms"),
    [
        ("echo", lambda key: json.dumps(key)[1:-1]),
        ("echo-json", lambda key: json.dumps(key)[1:-1]),
        ("echo-url", quote_plus),
        ("echo-text", lambda key: key),
        ("echo-cut", lambda key: key),
    ],
)
def test_echo_repeats_each_key_in_its_form(kind: str, forms: t.Callable[[str], str]) -> None:
    with DatadogSimulator(now=NOW, keys=ODD_KEYS) as sim:
        sim.inject(VALIDATE, kind)
        response = call(sim, VALIDATE, keys=ODD_KEYS)
    assert response.status_code == 403
    body = response.content.decode()
    for key in ODD_KEYS:
        assert forms(key) in body, (kind, body)
    if kind == "echo-json":
        assert isinstance(response.json()["errors"][0]["meta"], dict)
    if kind == "echo-cut":
        assert body.index(ODD_KEYS[0]) < ECHO_CUT_AT < body.index(ODD_KEYS[0]) + len(ODD_KEYS[0])


def test_fresh_cursor_is_an_empty_page_naming_a_new_next_page_every_time(
    api: DatadogSimulator,
) -> None:
    api.inject(VALIDATE, "fresh_cursor", count=3)
    bodies = [call(api, VALIDATE).json() for _ in range(3)]
    assert {tuple(body["data"]) for body in bodies} == {()}
    cursors = [body["meta"]["pagination"]["next_record_id"] for body in bodies]
    assert len(set(cursors)) == 3
    assert "meta" not in call(api, VALIDATE).json()  # the queue is spent: a normal answer


def test_clear_faults_forgets_what_is_still_queued(api: DatadogSimulator) -> None:
    api.inject(VALIDATE, "500", count=5)
    api.clear_faults()
    assert call(api, VALIDATE).status_code == 200
