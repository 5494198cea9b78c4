# ruff: noqa: E501 - the case table reads best one case a line
"""Every hostile case of issue 9 through the CLI, each checked for the same six properties.

Bounded time (the subprocess timeout), bounded memory (the tap process's peak RSS), the exit
status, exactly one ERROR line for a failure (none for a run that recovers), no secret in any
byte written, and no bookmark past data that was not written.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import typing as t

import pytest

from simulator import PARENT_KEYS, DatadogSimulator
from tests.support.clock import NOW
from tests.support.endpoints import HOURLY, SUMMARY, VALIDATE
from tests.support.logs import error_lines
from tests.support.running import parse_messages, records_of, run_cli_measured
from tests.support.secrets import HEX_KEYS, ODD_KEYS, given_away
from tests.support.settings import ONE_AT_A_TIME, recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

RSS_BOUND_MB = 400
DAY = "86400"
#: Empty pages, each naming a new next page: more than any run should ever ask for.
ENDLESS = 100_000


def garbage_timestamp(_: DatadogSimulator) -> dict[str, t.Any]:
    return {"data": [{"attributes": {"timestamp": "soon"}}]}


def not_a_number(sim: DatadogSimulator) -> dict[str, t.Any]:
    stamp = (sim.now - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:00:00+00:00")
    measurement = {"usage_type": "host_count", "value": "NaN-ish"}
    return {"data": [{"attributes": {"timestamp": stamp, "public_id": "parent00001",
                                      "product_family": "infra_hosts", "measurements": [measurement]}}]}  # fmt: skip


def first_window_page(
    org_name: str = "parent", values: tuple[float, ...] = (1,)
) -> t.Callable[[DatadogSimulator], dict[str, t.Any]]:
    """A page of one item in the first window read (json.dumps writes NaN and Infinity as such,
    and a lone surrogate as its escape)."""

    def page(sim: DatadogSimulator) -> dict[str, t.Any]:
        hour = sim.now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=2, hours=-1)
        measurements = [{"usage_type": f"type_{i}", "value": v} for i, v in enumerate(values)]
        return {"data": [{"attributes": {
            "timestamp": hour.strftime("%Y-%m-%dT%H:00:00+00:00"), "public_id": "parent00001",
            "org_name": org_name, "product_family": "infra_hosts", "measurements": measurements,
        }}]}  # fmt: skip

    return page


def beyond_a_float(sim: DatadogSimulator) -> bytes:
    """The first window's page with 1e400 and -1e400 as usage: JSON, but no float holds them."""
    page = first_window_page(values=(float("inf"), float("-inf"), 2.0))(sim)
    return json.dumps(page).replace("Infinity", "1e400").encode()


DEEP = b"[" * 200_000 + b"]" * 200_000
#: 60 MB (under max_answer_mb's 64) of empty objects: 20 million dicts once parsed.
EMPTY_OBJECTS = b'{"data":[' + b"{}," * 20_000_000 + b"{}]}"


def looping_page(cursor: str) -> t.Callable[[DatadogSimulator], dict[str, t.Any]]:
    def page(sim: DatadogSimulator) -> dict[str, t.Any]:
        body = not_a_number(sim)
        body["data"][0]["attributes"]["measurements"][0]["value"] = 1
        return {**body, "meta": {"pagination": {"next_record_id": cursor}}}

    return page


#: case -> (faults as (path, kind, count, seconds, headers), replayed bodies, settings, status)
CASES: dict[str, tuple[list[tuple[str, str, int, float, dict[str, str]]], list[t.Any], dict[str, t.Any], int]] = {
    "trickled answer": ([(HOURLY, "trickle", 2, 0.05, {})], [], {"request_timeout": 2}, 1),
    "trickled body after its headers": ([(HOURLY, "trickle-body", 2, 1.0, {})], [], {"request_timeout": 2}, 1),
    "endless body": ([(HOURLY, "endless", 2, 0, {})], [], {"max_answer_mb": 1}, 1),
    "gzip bomb": ([(HOURLY, "gzipbomb", 2, 0, {})], [], {}, 1),
    "429 asking for a day": ([(HOURLY, "429", 1, 0, {"X-RateLimit-Reset": DAY})], [], {}, 1),
    "spent budget for a day": ([(HOURLY, "headers", 1, 0, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": DAY})], [], {}, 1),
    "Retry-After of a day": ([(HOURLY, "503", 1, 0, {"Retry-After": DAY})], [], {}, 1),
    "garbage reset headers": ([(HOURLY, "429", 1, 0, {"X-RateLimit-Reset": "nan"}), (HOURLY, "429", 1, 0, {"X-RateLimit-Reset": "-5"})], [], {"max_retries": 2}, 0),
    "no data list": ([], [{"data": None}] * 2, {}, 1),
    "garbage timestamp": ([], [garbage_timestamp] * 2, {}, 1),
    "value that is not a number": ([], [not_a_number] * 2, {}, 1),
    "meta.pagination a string": ([], [{"data": [], "meta": {"pagination": "next"}}] * 2, {}, 1),
    "page cursors in a loop": ([], [looping_page("A"), looping_page("B"), looping_page("A")], {}, 1),
    "pages that never end": ([(HOURLY, "fresh_cursor", ENDLESS, 0, {})], [], {}, 1),
    "server echoing the keys": ([(SUMMARY, "echo", 1, 0, {})], [], {}, 1),
    "a lone surrogate in org_name": ([], [first_window_page(org_name="\ud800bad")], {}, 0),
    "NaN and Infinity as usage": ([], [first_window_page(values=(float("nan"), float("inf"), 2.0))], {}, 0),
    "numbers beyond a float's range as usage": ([], [beyond_a_float], {}, 0),
    "JSON nested 200,000 deep": ([], [DEEP] * 2, {}, 1),
    "60 MB of empty objects": ([], [EMPTY_OBJECTS] * 2, {}, 1),
    "fractional rate limit": ([(HOURLY, "headers", 1, 0, {"X-RateLimit-Limit": "0.5"}), (SUMMARY, "headers", 1, 0, {"X-RateLimit-Limit": "0.5"})], [], {}, 0),
    "absurd rate limits": ([(HOURLY, "headers", 1, 0, {"X-RateLimit-Limit": "0"}), (SUMMARY, "headers", 1, 0, {"X-RateLimit-Limit": "-3", "X-RateLimit-Period": "1e999"})], [], {}, 0),
}  # fmt: skip
#: Words of the one WARNING a case that recovers must give (however many answers it met).
WARNED = {
    "a lone surrogate in org_name": "hourly_usage: Datadog sent 1 values of org_name holding a lone surrogate (no Unicode text): written with U+FFFD",
    "NaN and Infinity as usage": "hourly_usage: Datadog sent 2 numbers that are NaN or Infinity, which JSON does not allow: written as null",
    "numbers beyond a float's range as usage": "hourly_usage: Datadog sent 2 numbers beyond a float's range (such as 1e400): written as null",
    "fractional rate limit": "Ignoring the X-RateLimit-Limit header of Datadog's answers: '0.5' is not a whole number of 1 or more",
    "absurd rate limits": "Ignoring the X-RateLimit-Limit header of Datadog's answers: '0' is not a whole number of 1 or more",
}
#: The words of a case's ERROR line (each starts with a key of the README's troubleshooting table).
WORDS = {
    "60 MB of empty objects": f"GET {HOURLY}: the answer from 127.0.0.1 is larger than max_answer_mb (64 MB); gave up after 2 attempts (max_retries: 1)",
    "JSON nested 200,000 deep": f"Datadog answered 200 to GET {HOURLY} with a body that is not JSON",
    "trickled answer": f"GET {HOURLY}: no whole answer from 127.0.0.1 within request_timeout (2 s); gave up after 2 attempts (max_retries: 1)",
    "trickled body after its headers": f"GET {HOURLY}: no whole answer from 127.0.0.1 within request_timeout (2 s); gave up after 2 attempts (max_retries: 1)",
    "endless body": f"GET {HOURLY}: the answer from 127.0.0.1 is larger than max_answer_mb (1 MB); gave up after 2 attempts (max_retries: 1)",
    "gzip bomb": f"GET {HOURLY}: the answer from 127.0.0.1 is larger than max_answer_mb (64 MB); gave up after 2 attempts (max_retries: 1)",
    "429 asking for a day": f"Datadog answered 429 to GET {HOURLY}",
    "spent budget for a day": f"GET {HOURLY}: the rate limit",
    "pages that never end": f"GET {HOURLY}: the pages do not end",
}


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_case_ends_bounded_in_one_line_with_no_secret_and_no_bookmark_past_unread_data(
    api: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    faults, bodies, settings, status = CASES[case]
    for path, kind, count, seconds, headers in faults:
        api.inject(path, kind, count=count, seconds=seconds, headers=headers)
    for body in bodies:
        api.replay(HOURLY, body(api) if callable(body) else body)
    config = recent_config(api, days=2, **{"max_retries": 1, **ONE_AT_A_TIME, **settings})
    try:
        result, peak_mb = run_cli_measured(config, tmp_path, timeout=120)
    finally:
        api.clear_faults()  # a run that stopped early leaves the rest for the next case

    assert result.returncode == status, result.stderr[-2000:]
    errors = [line for line in result.stderr.decode().splitlines() if "| ERROR " in line]
    assert len(errors) == (1 if status else 0), errors
    if case in WORDS:
        assert errors[0].split(" | ", 3)[-1].startswith(WORDS[case]), errors
    assert b"Traceback" not in result.stderr
    if case in WARNED:
        warned = [line for line in result.stderr.decode().splitlines() if "| WARNING " in line]
        assert [line for line in warned if WARNED[case] in line] == warned[:1], warned
        assert len(warned) == 1 + (case == "absurd rate limits"), warned  # and the period's
    assert peak_mb < RSS_BOUND_MB
    output = result.stdout + result.stderr
    assert not [key for key in PARENT_KEYS if key.encode() in output]
    messages = parse_messages(result.stdout)
    written = [r["timestamp"] for r in records_of(messages, "hourly_usage")]
    for state in (m["value"] for m in messages if m["type"] == "STATE"):
        bookmark = state["bookmarks"].get("hourly_usage", {}).get("replication_key_value")
        assert bookmark is None or (written and bookmark <= max(written)), (bookmark, case)


#: (echo fault, keys, mode): a server repeating the keys in each form; --test has its own
#: error path, and a sync at DEBUG prints the traceback of its failure.
ECHOES = [
    *(("sync", kind, ODD_KEYS) for kind in ("echo", "echo-json", "echo-url", "echo-text", "echo-cut")),
    ("sync", "echo-cut", HEX_KEYS),
    ("--test", "echo-json", ODD_KEYS),
    ("--test", "echo-cut", HEX_KEYS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "kind", "keys"),
    ECHOES,
    ids=[f"{m} {k} {'hex' if keys == HEX_KEYS else 'odd'}" for m, k, keys in ECHOES],
)
def test_no_form_of_a_key_a_server_echoes_is_printed_not_even_in_a_debug_traceback(
    tmp_path: Path, mode: str, kind: str, keys: tuple[str, str]
) -> None:
    with DatadogSimulator(now=NOW, keys=keys) as sim:
        sim.inject(SUMMARY, kind)
        config = recent_config(sim, days=1, keys=keys, max_retries=1)
        args = () if mode == "sync" else (mode,)
        result, peak_mb = run_cli_measured(config, tmp_path, *args, timeout=120, LOGLEVEL="DEBUG")

    assert given_away(result.stdout + result.stderr, *keys) == []
    assert result.returncode == 1, result.stderr[-2000:]
    (line,) = error_lines(result.stderr)
    assert f"Datadog answered 403 to GET {SUMMARY}: " in line
    assert "***" in line  # the key was there, masked
    assert (b"Traceback" in result.stderr) == (mode == "sync")  # at DEBUG, masked too
    assert peak_mb < RSS_BOUND_MB


#: A proxy's token in api_url's path: as secret as a key.
PATH_TOKEN = "t0ken-9f8e7d6c5b4a"  # noqa: S105 - a test value, to be found nowhere


@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["sync", "test"])
def test_a_token_in_api_urls_path_is_printed_nowhere(
    api: DatadogSimulator, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """The simulator has no such path: every request is a 404, named by its endpoint alone."""
    config = {**recent_config(api, days=1, max_retries=1), "api_url": f"{api.url}/{PATH_TOKEN}/"}
    result, peak_mb = run_cli_measured(config, tmp_path, *mode, timeout=120, LOGLEVEL="DEBUG")

    assert given_away(result.stdout + result.stderr, PATH_TOKEN) == []
    assert result.returncode == 1, result.stderr[-2000:]
    (line,) = error_lines(result.stderr)
    first = VALIDATE if mode else "/api/"  # --test's first probe; a sync's first stream
    assert f"Datadog answered 404 to GET {first}" in line, line
    assert "check site and api_url" in line
    assert peak_mb < RSS_BOUND_MB


#: The SDK's JSON log lines (SINGER_SDK_LOG_CONFIG): its formatter prints an exception's whole
#: chain itself, the context Python's traceback leaves out included.
STRUCTURED_LOGS = """
version: 1
disable_existing_loggers: false
formatters: {json: {(): singer_sdk.logging.StructuredFormatter}}
handlers: {console: {class: logging.StreamHandler, formatter: json, stream: ext://sys.stderr}}
root: {level: DEBUG, handlers: [console]}
"""


@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["sync", "test"])
def test_no_secret_is_in_json_logs_of_a_network_failure_whose_error_chain_holds_the_url(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """Nothing listens on the port: requests' error names the URL, api_url's path and all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "logging.yml").write_text(STRUCTURED_LOGS)
    config = {"api_key": HEX_KEYS[0], "app_key": HEX_KEYS[1], "max_retries": 0,
              "api_url": f"http://127.0.0.1:{port}/{PATH_TOKEN}"}  # fmt: skip
    environ = {"LOGLEVEL": "DEBUG", "SINGER_SDK_LOG_CONFIG": str(tmp_path / "logging.yml")}
    result, peak_mb = run_cli_measured(config, tmp_path, *mode, timeout=120, **environ)

    assert given_away(result.stdout + result.stderr, PATH_TOKEN, *HEX_KEYS) == []
    assert result.returncode == 1, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith(b"{")]
    (message,) = [line["message"] for line in lines if line["level"] == "error"]
    assert message.startswith(f"GET {VALIDATE if mode else '/api/'}"), message
    assert "the connection to 127.0.0.1 failed or was reset" in message
    traced = any("Traceback" in line.get("message", "") for line in lines)  # as text, masked
    assert traced == (not mode)  # --test prints no traceback
    assert peak_mb < RSS_BOUND_MB


# ---- memory: an answer just under max_answer_mb, whatever its shape ----------------------------
#: Items that parse into the most memory for their size (at most one JSON value per 32 bytes
#: is read: transport.BYTES_PER_VALUE; denser answers are refused unparsed).
MEMORY_SHAPES = {
    "empty objects": b"{}",
    "one-key objects holding text": b'{"x":"' + b"x" * 56 + b'"}',
    "objects nested 8 deep around a text": b'{"a":' * 8 + b'"' + b"x" * 250 + b'"' + b"}" * 8,
}
MAX_ANSWER_MB = 16
#: The documented bound (docs/reliability.md): peak RSS over a clean run's.
TIMES_MAX_ANSWER_MB = 10


def just_under(item: bytes, mb: int) -> bytes:
    """An answer of ``item`` repeated, a few bytes under ``mb`` MB."""
    count = ((mb << 20) - 20) // (len(item) + 1)
    return b'{"data":[' + b",".join([item] * count) + b"]}"


@pytest.fixture(scope="module")
def clean_run_mb(live: DatadogSimulator, tmp_path_factory: pytest.TempPathFactory) -> float:
    """The tap's peak RSS on a clean run of the same size (its baseline)."""
    config = recent_config(live, days=2, max_retries=1, max_answer_mb=MAX_ANSWER_MB)
    result, peak_mb = run_cli_measured(config, tmp_path_factory.mktemp("clean"))
    assert result.returncode == 0, result.stderr[-2000:]
    return peak_mb


@pytest.mark.parametrize("shape", MEMORY_SHAPES)
def test_an_answer_just_under_max_answer_mb_takes_at_most_ten_times_it(
    api: DatadogSimulator, tmp_path: Path, shape: str, clean_run_mb: float
) -> None:
    # Both windows in flight at once, each answered so twice: read and checked one at a time.
    api.replay(HOURLY, just_under(MEMORY_SHAPES[shape], MAX_ANSWER_MB), count=4)
    config = recent_config(api, days=2, max_retries=1, max_answer_mb=MAX_ANSWER_MB)
    try:
        result, peak_mb = run_cli_measured(config, tmp_path)
    finally:
        api.clear_faults()  # answers a run that stopped early left for the next case
    assert result.returncode == 1  # none of these is an answer Datadog would send
    assert len(error_lines(result.stderr)) == 1
    assert peak_mb - clean_run_mb < TIMES_MAX_ANSWER_MB * MAX_ANSWER_MB, (peak_mb, clean_run_mb)
