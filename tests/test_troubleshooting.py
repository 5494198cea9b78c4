"""The README's troubleshooting table: every ERROR line the tap prints starts with one of its keys.

Each key has a case here that makes the tap print that line through the CLI, and each case's
one ERROR line must start with its key; a key without a case, or a case without a key, fails.
The messages of the modules that word failures (errors.py) are checked against the table too.
"""

from __future__ import annotations

import json
import re
import signal
import typing as t

import pytest

from simulator import CHILD_KEYS, EMPTY_KEYS, PARENT_KEYS, DatadogSimulator
from tap_datadog_costs.errors import NETWORK_FAILURES
from tests.support.endpoints import HOURLY, SUMMARY
from tests.support.logs import error_lines
from tests.support.paths import ROOT
from tests.support.running import run_cli, start_cli
from tests.support.settings import recent_config

if t.TYPE_CHECKING:
    from pathlib import Path

#: What the placeholders of the table's keys stand for.
PLACEHOLDERS = {
    "<endpoint>": r"/\S+",
    "<host>": r"\S+",
    "<setting>": r"[a-z_]+",
    "3xx": r"3\d\d",
    "5xx": r"5\d\d",
}
DAY = "86400"
SPENT_FOR_A_DAY = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": DAY}


def table_keys() -> list[str]:
    """The first column of the README's troubleshooting table, in order."""
    section = (ROOT / "README.md").read_text().split("## Troubleshooting", 1)[1].split("\n## ")[0]
    keys = []
    for row in re.findall(r"^\| (.+?) \|", section, re.MULTILINE)[1:]:  # after the header
        keys += re.findall(r"`([^`]+)`", row.split(" (")[0])
    return keys


def pattern(key: str) -> re.Pattern[str]:
    text = re.escape(key)
    for placeholder, regex in PLACEHOLDERS.items():
        text = text.replace(re.escape(placeholder), regex)
    return re.compile(text)


class Case(t.NamedTuple):
    """A failure: the faults to inject, the settings (or a whole command), the line expected."""

    key: str
    settings: dict[str, t.Any] = {}  # noqa: RUF012 - read only
    faults: tuple[tuple[str, str, dict[str, t.Any]], ...] = ()
    arguments: tuple[str, ...] = ()
    files: dict[str, str] = {}  # noqa: RUF012 - read only


CASES: dict[str, Case] = {
    "bad API key": Case(
        "Invalid keys: the API key was refused",
        {"api_key": "wrong"},
        arguments=("--test",),
    ),
    "bad application key": Case(
        "Invalid keys: the application key was refused",
        {"app_key": "wrong"},
        arguments=("--test",),
    ),
    "child org keys": Case(
        "No cost access:",
        {"api_key": CHILD_KEYS[0], "app_key": CHILD_KEYS[1]},
        arguments=("--test",),
    ),
    "no organization": Case(
        "Datadog returned an empty organization list",
        {"api_key": EMPTY_KEYS[0], "app_key": EMPTY_KEYS[1]},
        arguments=("--test",),
    ),
    "bad setting": Case("<setting>: ", {"lookback_hours": -1}),
    "missing config file": Case("The config file", arguments=("--config", "missing.json")),
    "broken catalog": Case(
        "The catalog file", arguments=("--catalog", "catalog.json"), files={"catalog.json": "{"}
    ),
    "empty state file": Case(
        "The state file", arguments=("--state", "state.json"), files={"state.json": ""}
    ),
    "403 in a sync": Case("Datadog answered 403 to GET <endpoint>", {"app_key": "wrong"}),
    "child keys in a sync": Case(
        "Datadog answered 400 to GET <endpoint>: API called with non-parent org keys",
        {"api_key": CHILD_KEYS[0], "app_key": CHILD_KEYS[1]},
    ),
    "unknown product family": Case(
        "Datadog answered 400 to GET <endpoint>", {"product_families": ["no_such_family"]}
    ),
    "wrong base path": Case("Datadog answered 404 to GET <endpoint>", {"api_url": "/elsewhere"}),
    "redirect": Case("Datadog answered 3xx to GET <endpoint>", faults=((SUMMARY, "redirect", {}),)),
    "500 every time": Case(
        "Datadog answered 5xx to GET <endpoint>",
        {"max_retries": 1},
        faults=((SUMMARY, "500", {"count": 2}),),
    ),
    "not JSON": Case(
        "Datadog answered 200 to GET <endpoint>",
        {"max_retries": 1},
        faults=((SUMMARY, "nonjson", {"count": 2}),),
    ),
    "reset": Case(
        "GET <endpoint>: the connection to <host> failed or was reset",
        {"max_retries": 0},
        faults=((SUMMARY, "reset", {}),),
    ),
    "cut off": Case(
        "GET <endpoint>: the answer from <host> was cut off",
        {"max_retries": 0},
        faults=((SUMMARY, "truncated", {}),),
    ),
    "unknown encoding": Case(
        "GET <endpoint>: the answer from <host> could not be decoded",
        {"max_retries": 0},
        faults=((SUMMARY, "headers", {"headers": {"Content-Encoding": "br"}}),),
    ),
}
#: Keys proven elsewhere, with the test that prints the line (a TLS proxy; pages that loop;
#: hostile answers), each asserting the same first words.
HOSTILE = "tests/test_hostile.py::test_a_hostile_case_ends_bounded_in_one_line_with_no_secret"
ELSEWHERE = {
    "GET <endpoint>: no whole answer from <host> within request_timeout": (
        f"{HOSTILE} (trickled answer)"
    ),
    "GET <endpoint>: the answer from <host> is larger than max_answer_mb": (
        f"{HOSTILE} (endless body)"
    ),
    "Datadog answered 429 to GET <endpoint>": f"{HOSTILE} (429 asking for a day)",
    "GET <endpoint>: the rate limit": f"{HOSTILE} (spent budget for a day)",
    "GET <endpoint>: the TLS certificate of <host> could not be verified": (
        "tests/test_transport.py::"
        "test_a_certificate_that_does_not_verify_is_one_line_naming_the_host_and_not_retried"
    ),
    "GET <endpoint>: Datadog sent the page cursor": (
        "tests/test_hostile.py (page cursors in a loop)"
    ),
    "GET <endpoint>: the pages do not end": "tests/test_hostile.py (pages that never end)",
}


def test_every_key_has_a_case_and_the_datadog_guides_three_come_first() -> None:
    keys = table_keys()
    covered = {case.key for case in CASES.values()} | set(ELSEWHERE) | set(SIGNALS)
    assert set(keys) == covered, set(keys) ^ covered
    assert keys[:4] == [
        "Invalid keys: the API key was refused",
        "Invalid keys: the application key was refused",
        "No cost access:",
        "Datadog returned an empty organization list",
    ]
    for test in ELSEWHERE.values():
        assert (ROOT / test.split("::")[0].split(" ")[0]).exists(), test


def test_every_network_failure_the_tap_words_is_in_the_table() -> None:
    keys = table_keys()
    for words in NETWORK_FAILURES.values():
        first = words.replace("{host}", "<host>").split(" ({")[0]
        assert f"GET <endpoint>: {first}" in keys, words


@pytest.mark.parametrize("case", CASES)
def test_each_failure_is_one_error_line_starting_with_its_key(
    api: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    spec = CASES[case]
    for path, kind, options in spec.faults:
        api.inject(path, kind, **options)
    settings = {**recent_config(api, days=2), **spec.settings}
    if settings["api_url"].startswith("/"):
        settings["api_url"] = api.url + settings["api_url"]
    for name, text in spec.files.items():
        (tmp_path / name).write_text(text)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(settings))
    arguments = [a if a not in spec.files else str(tmp_path / a) for a in spec.arguments]
    if "--config" not in arguments:
        arguments += ["--config", str(config)]
    result = run_cli(*arguments, tmp_path=tmp_path)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    message = line.split(" | ", 3)[-1]
    assert pattern(spec.key).match(message), (spec.key, message)
    assert "Traceback" not in result.stderr.decode()
    assert not [key for key in PARENT_KEYS if key in result.stderr.decode()]


SIGNALS = {"Stopped by SIGTERM": signal.SIGTERM, "Stopped by SIGINT": signal.SIGINT}


@pytest.mark.parametrize("key", SIGNALS)
def test_a_stopped_run_is_one_line_starting_with_its_key(
    api: DatadogSimulator, tmp_path: Path, key: str
) -> None:
    api.inject(HOURLY, "slow", count=1, seconds=2)
    with start_cli(tmp_path, "config", recent_config(api, days=3)) as process:
        assert process.stdout is not None
        process.stdout.readline()  # a first message: the run is under way
        process.send_signal(SIGNALS[key])
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + SIGNALS[key]
    (line,) = error_lines(stderr)
    assert line.split(" | ", 3)[-1].startswith(key), line
