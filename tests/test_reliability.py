"""Reliability: rate-limit pacing, retries, clear errors, no leaked keys, no lost records.

Every fault comes from the simulator (``inject``, ``set_rate_limit``) or from killing the CLI.
Waits are checked by what the tap logs and what the simulator saw, never by a stopwatch.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import typing as t

import pytest
import requests
import time_machine
from singer_sdk.exceptions import ConfigValidationError

from simulator import CHILD_KEYS, PARENT_KEYS, DatadogSimulator
from tap_datadog_costs.errors import DatadogAPIError
from tap_datadog_costs.rate_limit import RateLimitPacer
from tap_datadog_costs.tap import TapDatadogCosts
from tests.support.clock import NOW
from tests.support.endpoints import (
    ESTIMATED,
    HISTORICAL,
    HOURLY,
    MAPPING,
    PRIMARY_KEYS,
    SUMMARY,
    VALIDATE,
)
from tests.support.logs import pacing_waits, retries, tap_log
from tests.support.records import assert_same_records, merge_on_keys
from tests.support.running import (
    SyncResult,
    finish,
    nth,
    parse_messages,
    run_cli,
    run_until_killed,
    start_cli,
    sync,
)
from tests.support.seen import statuses, wait_for_requests
from tests.support.settings import KEY_SETTINGS, ONE_AT_A_TIME, URL_SECRET, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def clean(live: DatadogSimulator) -> SyncResult:
    """What an undisturbed run emits."""
    result = sync(recent_config(live))
    assert result.records("hourly_usage")
    return result


# ---- rate limits -------------------------------------------------------------------------
def test_rate_limited_sync_paces_itself_and_gets_the_same_records() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = recent_config(sim, days=8)
        unlimited = sync(config)
        sim.set_rate_limit(HOURLY, 4, 2)
        sim.clear_requests()
        with tap_log() as log:
            limited = sync(config)
        hourly = statuses(sim, HOURLY)

    assert_same_records(limited, unlimited)
    assert hourly.count(429) <= 1  # paced from the headers: a 429 is the exception
    assert len(hourly) == 8 + hourly.count(429)
    waits = pacing_waits(log)
    assert waits  # 8 requests at 4 per 2 s: the budget ran out at least once
    assert all(0 < wait <= 2 + 0.25 for wait in waits)  # never more than Reset + margin
    assert all("Rate limit 'usage_hourly_usage' spent" in line for line in log if "spent" in line)


def test_429_is_retried_after_exactly_the_reset_it_announces(
    api: DatadogSimulator, clean: SyncResult
) -> None:
    api.inject(HOURLY, "429", seconds=1, after=1)
    with tap_log() as log:
        result = sync(recent_config(api, **ONE_AT_A_TIME))

    assert retries(log) == [
        (
            f"Datadog answered 429 to GET {HOURLY}: Rate limit exceeded; retrying in 1.25 s"
            " = X-RateLimit-Reset 1 s + 0.25 s (attempt 2 of 6)"
        )
    ]
    assert pacing_waits(log) == []  # the retry's wait covered the reset: no second wait
    assert statuses(api, HOURLY) == [200, 429, 200, 200, 200, 200]
    assert_same_records(result, clean)


def answer(status: int = 200, **rate_limit: t.Any) -> requests.Response:
    """A bare answer carrying X-RateLimit-* headers."""
    response = requests.Response()
    response.status_code = status
    response.headers.update({f"X-RateLimit-{k}": str(v) for k, v in rate_limit.items()})
    return response


def test_pacer_shares_one_budget_between_paths_with_the_same_rate_limit_name() -> None:
    pacer = RateLimitPacer(max_wait=300)
    pacer.observe("/a", answer(Name="shared", Remaining=5, Reset=0.5))
    pacer.observe("/b", answer(Name="shared", Remaining=0, Reset=0.5))
    pacer.observe("/c", answer(Name="other", Remaining=3, Reset=0.5))
    with tap_log() as log:
        pacer.wait_before("/c")
        pacer.wait_before("/a")
    assert len(log) == 1
    assert log[0].startswith("Rate limit 'shared' spent: waiting ")
    assert 0 < pacing_waits(log)[0] <= 0.75


def test_pacer_counts_requests_whose_answer_never_came() -> None:
    pacer = RateLimitPacer(max_wait=300)
    pacer.observe("/a", answer(Name="a", Remaining=1, Reset=0.4))
    with tap_log() as log:
        pacer.wait_before("/a")  # the last unit of the budget: no wait
        assert log == []
        pacer.wait_before("/a")  # the answer to the previous one was lost: still counted
    assert 0 < pacing_waits(log)[0] <= 0.65


def test_pacer_falls_back_to_the_period_when_reset_is_missing() -> None:
    pacer = RateLimitPacer(max_wait=300)
    half_past = dt.datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=dt.timezone.utc)  # even second
    with time_machine.travel(half_past, tick=False):
        assert pacer.observe("/a", answer(Name="a", Remaining=0, Period=2)) == 1.5
        assert pacer.observe("/a", answer(429, Name="a", Period=10)) == 9.5
    assert pacer.observe("/a", answer(Name="a", Remaining=3)) is None  # nothing to pace by


# ---- faults ------------------------------------------------------------------------------
TRANSIENT_FAULTS = {
    "500": f"Datadog answered 500 to GET {HOURLY}: Internal Server Error",
    "503": f"Datadog answered 503 to GET {HOURLY}: Service Unavailable",
    "reset": f"GET {HOURLY}: the connection to 127.0.0.1 failed or was reset",
    "truncated": f"GET {HOURLY}: the answer from 127.0.0.1 was cut off",
    "nonjson": f"Datadog answered 200 to GET {HOURLY} with a body that is not JSON",
    "slow": f"GET {HOURLY}: no whole answer from 127.0.0.1 within request_timeout (1 s)",
}


#: How the backoff library and the SDK's default handlers word retries and failed answers.
SDK_RETRY_WORDS = re.compile(r"Backing off|Giving up|with args|content is|headers: ")


@pytest.mark.parametrize("kind", TRANSIENT_FAULTS)
def test_transient_fault_is_retried_with_one_log_line_and_loses_nothing(
    api: DatadogSimulator, clean: SyncResult, kind: str
) -> None:
    api.inject(HOURLY, kind, seconds=2, after=1)
    with tap_log() as log:
        result = sync(recent_config(api, request_timeout=1))

    (line,) = retries(log)
    assert not [line for line in log if SDK_RETRY_WORDS.search(line)]  # logged once, by us
    assert re.fullmatch(
        re.escape(TRANSIENT_FAULTS[kind]) + r"; retrying in 0\.\d\d s \(attempt 2 of 6\)", line
    )
    assert len(wait_for_requests(api, HOURLY, 6)) == 6  # five windows, one of them twice
    assert_same_records(result, clean)


def test_persistent_failure_exits_non_zero_with_one_line_and_state_covers_only_emitted_rows(
    api: DatadogSimulator, clean: SyncResult, tmp_path: Path
) -> None:
    config = recent_config(api, max_retries=1, lookback_hours=0, **ONE_AT_A_TIME)
    api.inject(HOURLY, "500", count=2, after=3)  # windows 1-3 answer, window 4 fails twice
    failed = run_cli(config=config, tmp_path=tmp_path)

    assert failed.returncode != 0
    assert (
        f"| Datadog answered 500 to GET {HOURLY}: Internal Server Error; "
        "gave up after 2 attempts (max_retries: 1)\n"
    ).encode() in failed.stderr
    assert statuses(api, HOURLY) == [200, 200, 200, 500, 500]
    assert not SDK_RETRY_WORDS.search(failed.stderr.decode())
    messages = parse_messages(failed.stdout)
    emitted = [
        m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "hourly_usage"
    ]
    window_4 = (api.now - dt.timedelta(days=2)).isoformat()
    assert emitted == [r for r in clean.records("hourly_usage") if r["timestamp"] < window_4]
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert state["bookmarks"]["hourly_usage"]["replication_key_value"] <= emitted[-1]["timestamp"]

    resumed = sync(config, state)
    for stream in PRIMARY_KEYS:
        emitted_now = [
            m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream
        ]
        merged = merge_on_keys(stream, emitted_now, resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream


# ---- refusals: not retried, one clear message ---------------------------------------------
FORBIDDEN = "Forbidden (check api_key, app_key and site: the keys are invalid or revoked"


def refusal(config: dict[str, t.Any], stream: str) -> str:
    """The error a stream stops with."""
    tap = TapDatadogCosts(config=config)
    with pytest.raises(DatadogAPIError) as raised:
        list(tap.streams[stream].get_records(None))
    return str(raised.value)


@pytest.mark.parametrize(
    ("stream", "path", "permission"),
    [
        ("organizations", SUMMARY, "usage_read"),
        ("hourly_usage", HOURLY, "usage_read"),
        ("billing_dimension_mappings", MAPPING, "usage_read"),
        ("historical_costs", HISTORICAL, "usage_read and billing_read"),
        ("estimated_costs", ESTIMATED, "usage_read and billing_read"),
    ],
)
def test_403_is_not_retried_and_names_the_permission_the_endpoint_needs(
    api: DatadogSimulator, stream: str, path: str, permission: str
) -> None:
    api.inject(path, "403")
    message = refusal(recent_config(api, days=40, **ONE_AT_A_TIME), stream)
    assert message == (
        f"Datadog answered 403 to GET {path}: {FORBIDDEN}, "
        f"or the application key lacks {permission})"
    )
    assert [r["status"] for r in api.requests] == [403]


def test_invalid_keys_are_refused_once_with_advice(api: DatadogSimulator) -> None:
    message = refusal(recent_config(api, keys=("wrong-api-key", "wrong-app-key")), "hourly_usage")
    assert message.startswith(f"Datadog answered 403 to GET {HOURLY}: {FORBIDDEN}")
    # The windows in flight (the first answer told the budget, and then they went) are each
    # refused once: none is asked again.
    asked = [tuple(sorted(r["params"].items())) for r in api.requests]
    assert {r["status"] for r in api.requests} == {403}
    assert len(asked) == len(set(asked))


@pytest.mark.parametrize(
    ("stream", "path"),
    [
        ("historical_costs", HISTORICAL),
        ("billing_dimension_mappings", MAPPING),
    ],  # strings, JSON:API
)
def test_child_org_keys_are_told_to_use_the_parent_org(
    api: DatadogSimulator, stream: str, path: str
) -> None:
    message = refusal(recent_config(api, days=40, keys=CHILD_KEYS, **ONE_AT_A_TIME), stream)
    assert message == (
        f"Datadog answered 400 to GET {path}: API called with non-parent org keys. Data is only "
        "available at the root level org (these keys belong to a child organization or to a plan "
        "without cost access: use keys of the parent organization on a Pro or Enterprise plan)"
    )
    assert [r["status"] for r in api.requests] == [400]


def test_a_family_datadog_does_not_know_is_refused_by_datadog_in_one_line_naming_the_setting(
    api: DatadogSimulator,
) -> None:
    message = refusal(
        recent_config(api, product_families=["flux_capacitors"], **ONE_AT_A_TIME), "hourly_usage"
    )
    assert message == (
        f"Datadog answered 400 to GET {HOURLY}: Invalid product family: flux_capacitors "
        "(Datadog refused the request: check start_date, end_date and product_families)"
    )
    assert [r["status"] for r in api.requests] == [400]


def test_a_redirect_is_refused_not_followed_so_keys_stay_home(api: DatadogSimulator) -> None:
    api.inject(SUMMARY, "redirect")
    message = refusal(recent_config(api, **ONE_AT_A_TIME), "organizations")
    assert message.startswith(f"Datadog answered 302 to GET {SUMMARY}:")
    assert "check site and api_url" in message
    assert [r["status"] for r in api.requests] == [302]  # and nothing sent to 127.0.0.2


# ---- an interrupted sync loses nothing ----------------------------------------------------
def test_killed_sync_resumed_from_its_last_state_yields_exactly_the_clean_rows(
    live: DatadogSimulator, clean: SyncResult, tmp_path: Path
) -> None:
    config = recent_config(
        live, lookback_hours=0
    )  # no look-back: a bookmark too far would lose rows
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    total = sum(m["type"] == "RECORD" for m in clean.messages)
    for kill_at in random.Random(20261110).sample(range(1, total), 3):  # noqa: S311
        killed, interrupted = run_until_killed(
            config_file, nth(lambda m: m["type"] == "RECORD", kill_at)
        )
        assert interrupted
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        resumed = sync(config, states[-1] if states else None)
        for stream in PRIMARY_KEYS:
            before = [
                m["record"] for m in killed if m["type"] == "RECORD" and m["stream"] == stream
            ]
            merged = merge_on_keys(stream, before, resumed.records(stream))
            assert merged == merge_on_keys(stream, clean.records(stream)), (kill_at, stream)


# ---- bad input -----------------------------------------------------------------------------
MORE_BAD_SETTINGS: list[tuple[dict[str, t.Any], str]] = [
    ({**KEY_SETTINGS, "api_key": " "}, "api_key"),
    ({**KEY_SETTINGS, "app_key": ""}, "app_key"),
    ({**KEY_SETTINGS, "end_date": "2026-13-45"}, "end_date"),
    ({**KEY_SETTINGS, "max_retries": -1}, "max_retries"),
    ({**KEY_SETTINGS, "request_timeout": 0}, "request_timeout"),
]
NUMERIC_KEY = 99887766554433


@pytest.mark.parametrize(("config", "setting"), MORE_BAD_SETTINGS)
def test_more_bad_settings_are_refused_with_one_error_naming_them(
    config: dict[str, t.Any], setting: str
) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapDatadogCosts(config=config)
    assert len(raised.value.errors) == 1
    assert (
        raised.value.errors[0].startswith(setting)
        or f"config['{setting}']" in raised.value.errors[0]
    )
    assert not [s for s in (*PARENT_KEYS, "sim-api", "sim-app") if s in str(raised.value)]


def test_a_key_of_the_wrong_type_is_named_but_not_shown() -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapDatadogCosts(config={**KEY_SETTINGS, "api_key": NUMERIC_KEY})
    assert raised.value.errors == ["api_key: *** is not of type 'string'"]


# ---- secrets ------------------------------------------------------------------------------
SECRET_PIECES = (*PARENT_KEYS, "sim-api", "sim-app", str(NUMERIC_KEY), URL_SECRET)
#: Every fault kind on hourly usage, at most two in a row: (kind, good answers before, seconds).
USAGE_FAULTS = [
    ("500", 0, 0), ("reset", 0, 0), ("truncated", 1, 0),
    ("nonjson", 0, 0), ("slow", 1, 2), ("429", 0, 1),
]  # fmt: skip


def test_keys_appear_in_nothing_the_tap_writes_under_faults_in_every_mode(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    # A sync that meets every fault, and ends on a refusal; a connection test on a 503.
    for kind, after, seconds in USAGE_FAULTS:
        api.inject(HOURLY, kind, seconds=seconds, after=after)
    api.inject(ESTIMATED, "503")
    api.inject(MAPPING, "nonjson")
    api.inject(SUMMARY, "403")
    api.inject(VALIDATE, "503", count=2)
    good = recent_config(api, request_timeout=1)
    ran = finish(
        {
            "sync": start_cli(tmp_path, "sync", good),
            "test": start_cli(tmp_path, "test", {**good, "max_retries": 1}, "--test"),
            "about": start_cli(tmp_path, "about", good, "--about"),
            "about-json": start_cli(tmp_path, "about-json", good, "--about", "--format=json"),
            "about-md": start_cli(tmp_path, "about-md", good, "--about", "--format=markdown"),
            "discover": start_cli(tmp_path, "discover", good, "--discover"),
        }
    )

    sync_code, sync_out, sync_err = ran["sync"]
    assert sync_code != 0
    assert len(retries(sync_err.decode().splitlines())) == 8  # six faults on usage, two on costs
    assert f"| Datadog answered 403 to GET {SUMMARY}: {FORBIDDEN}".encode() in sync_err
    assert b'"type":"RECORD"' in sync_out
    assert ran["test"][0] != 0
    # --test retries like a sync, then stops with one ERROR line and no traceback.
    test_err = ran["test"][2].decode()
    gave_up = (
        f"Datadog answered 503 to GET {VALIDATE}: Service Unavailable; gave up after 2 attempts"
    )
    assert any("| ERROR " in line and gave_up in line for line in test_err.splitlines())
    assert "Traceback" not in test_err
    assert len(retries(test_err.splitlines())) == 1
    assert all(
        code == 0 for name, (code, _, _) in ran.items() if name.startswith(("about", "disc"))
    )
    everything = b"".join(out + err for _, out, err in ran.values())
    assert b"DEBUG" in everything
    assert not SDK_RETRY_WORDS.search(everything.decode())
    for piece in SECRET_PIECES:
        assert piece.encode() not in everything, piece
