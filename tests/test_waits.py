"""Every wait is bounded by max_wait_seconds; garbage headers are ignored; Retry-After is read.

A hostile or broken server can announce a wait of a day, or headers no number fits; the tap
neither sleeps a day nor crashes.
"""

from __future__ import annotations

import email.utils
import time
import typing as t

import pytest

from tap_datadog_costs.errors import DatadogAPIError
from tests.support.endpoints import HOURLY, VALIDATE
from tests.support.logs import retries, tap_log
from tests.support.records import assert_same_records
from tests.support.running import run_cli, sync
from tests.support.seen import statuses
from tests.support.settings import recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator
    from tests.support.running import SyncResult

DAY = "86400"


@pytest.fixture(scope="module")
def clean(live: DatadogSimulator) -> SyncResult:
    return sync(recent_config(live, days=2))


def refused(api: DatadogSimulator, **settings: t.Any) -> str:
    """The one error a sync stops with."""
    with pytest.raises(DatadogAPIError) as raised:
        sync(recent_config(api, days=2, **settings))
    return str(raised.value)


def test_a_429_announcing_a_day_stops_the_stream_at_once_in_one_line(api: DatadogSimulator) -> None:
    api.inject(HOURLY, "429", headers={"X-RateLimit-Reset": DAY})
    assert refused(api) == (
        f"Datadog answered 429 to GET {HOURLY}: Rate limit exceeded; Datadog asks to wait "
        "86,400 s (X-RateLimit-Reset), more than max_wait_seconds (300 s): run again later, "
        "or raise max_wait_seconds"
    )
    assert statuses(api, HOURLY) == [429]


def test_a_spent_budget_resetting_in_a_day_stops_before_the_next_request(
    api: DatadogSimulator,
) -> None:
    api.inject(HOURLY, "headers", headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": DAY})
    message = refused(api)
    assert message.startswith(
        f"GET {HOURLY}: the rate limit 'usage_hourly_usage' is spent; Datadog asks to wait 86,40"
    )
    assert message.endswith(
        "more than max_wait_seconds (300 s): run again later, or raise max_wait_seconds"
    )
    assert statuses(api, HOURLY) == [200]  # the second window was never asked for


def test_max_wait_seconds_is_the_bound(api: DatadogSimulator) -> None:
    api.inject(HOURLY, "429", headers={"X-RateLimit-Reset": "5"})
    assert "more than max_wait_seconds (2 s)" in refused(api, max_wait_seconds=2)


@pytest.mark.parametrize("garbage", ["-5", "inf", "nan", "soon", ""])
def test_a_garbage_reset_header_is_ignored_and_the_request_retried(
    api: DatadogSimulator, clean: SyncResult, garbage: str
) -> None:
    api.inject(HOURLY, "429", headers={"X-RateLimit-Reset": garbage, "X-RateLimit-Period": garbage})
    with tap_log() as log:
        result = sync(recent_config(api, days=2))
    (line,) = retries(log)
    assert line.startswith(
        f"Datadog answered 429 to GET {HOURLY}: Rate limit exceeded; retrying in 0."
    )
    assert statuses(api, HOURLY) == [429, 200, 200]
    assert_same_records(result, clean)


def test_a_reset_too_large_for_any_clock_is_a_wait_too_long(api: DatadogSimulator) -> None:
    api.inject(HOURLY, "429", headers={"X-RateLimit-Reset": "1e308"})
    assert "Datadog asks to wait" in refused(api)
    assert statuses(api, HOURLY) == [429]


@pytest.mark.parametrize("when", ["1", "date"])
def test_retry_after_on_a_503_is_honoured(
    api: DatadogSimulator, clean: SyncResult, when: str
) -> None:
    value = "1" if when == "1" else email.utils.formatdate(time.time() + 1, usegmt=True)
    api.inject(HOURLY, "503", headers={"Retry-After": value})
    with tap_log() as log:
        result = sync(recent_config(api, days=2))
    (line,) = retries(log)
    assert line.startswith(
        f"Datadog answered 503 to GET {HOURLY}: Service Unavailable; retrying in "
    )
    assert " s = Retry-After " in line
    assert_same_records(result, clean)


def test_a_retry_after_of_a_day_stops_the_stream(api: DatadogSimulator) -> None:
    api.inject(HOURLY, "503", headers={"Retry-After": DAY})
    assert refused(api).endswith(
        "Datadog asks to wait 86,400 s (Retry-After), more than max_wait_seconds (300 s): "
        "run again later, or raise max_wait_seconds"
    )


def test_the_connection_test_does_not_sleep_a_day_either(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    api.inject(VALIDATE, "429", headers={"X-RateLimit-Reset": DAY})
    result = run_cli(
        "--test", config=recent_config(api), tmp_path=tmp_path
    )  # its timeout bounds it
    assert result.returncode != 0
    assert b"Datadog asks to wait 86,400 s (X-RateLimit-Reset)" in result.stderr
