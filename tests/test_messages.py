"""What a newcomer reads: one line per wrong setting in every mode, named files, no chatter."""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest

from tap_datadog_costs.settings import SITE_NAMES
from tests.support.endpoints import PRIMARY_KEYS
from tests.support.running import run_cli
from tests.support.settings import KEY_SETTINGS, NULLED

if t.TYPE_CHECKING:
    from pathlib import Path

    from simulator import DatadogSimulator


def lines(stderr: bytes, level: str) -> list[str]:
    return [line for line in stderr.decode().splitlines() if f"| {level} " in line]


@pytest.mark.parametrize("mode", [(), ("--test",), ("--discover",)])
def test_a_bad_setting_is_one_line_naming_it_in_every_mode_and_no_key_is_printed(
    tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """Through the CLI once per mode; each refused setting is tested in-process (test_settings)."""
    config = {**KEY_SETTINGS, "start_date": "2999-01-01T00:00:00Z", "api_url": "http://127.0.0.1:9"}
    result = run_cli(*mode, config=config, tmp_path=tmp_path)
    assert not [
        key for key in KEY_SETTINGS.values() if key.encode() in result.stdout + result.stderr
    ]
    if mode == ("--discover",):  # as under `meltano select --list`: settings are not needed
        assert result.returncode == 0
        assert len(json.loads(result.stdout)["streams"]) == len(PRIMARY_KEYS)
        assert lines(result.stderr, "ERROR") == []
        assert b"Config validation failed" not in result.stderr
        return
    assert result.returncode == 1
    assert result.stdout == b""
    (line,) = lines(result.stderr, "ERROR")
    assert line.split("| ")[-1].startswith("start_date: "), line
    assert b"Traceback" not in result.stderr
    assert b"Config validation failed" not in result.stderr


def test_a_misspelled_setting_is_named_with_the_one_meant(tmp_path: Path) -> None:
    config = {**KEY_SETTINGS, "api_url": "http://127.0.0.1:9", "start_dte": "2026-01-01"}
    result = run_cli("--discover", config=config, tmp_path=tmp_path)
    warned = lines(result.stderr, "WARNING")
    assert any(
        line.endswith("start_dte: not a setting of this tap (did you mean start_date?): ignored")
        for line in warned
    ), warned


def test_a_misspelled_variable_is_named_with_the_one_meant(tmp_path: Path) -> None:
    """Meltano passes on only the variables of settings it knows: the tap sees the others in its
    environment. Meltano's own (two underscores: TAP_DATADOG_COSTS__SELECT, an inheriting
    plugin's TAP_DATADOG_COSTS__ACME_API_KEY) are not the user's."""
    config = {**KEY_SETTINGS, "api_url": "http://127.0.0.1:9"}
    result = run_cli(
        "--discover", config=config, tmp_path=tmp_path, TAP_DATADOG_COSTS_START_DTE="2026-01-01",
        TAP_DATADOG_COSTS_LOOKBACK_HOURS="24", TAP_DATADOG_COSTS__SELECT='["x.*"]',
        TAP_DATADOG_COSTS__ACME_API_KEY="k",
    )  # fmt: skip
    (warning,) = lines(result.stderr, "WARNING")
    assert warning.split("| ")[-1] == (
        "TAP_DATADOG_COSTS_START_DTE: not a setting of this tap "
        "(did you mean TAP_DATADOG_COSTS_START_DATE?): ignored"
    )


#: Sites as a newcomer may give them, and the site each line offers (None: no guess).
NEAR_MISSES = {
    "eu": "datadoghq.eu",
    "EU1": "datadoghq.eu",
    "https://app.datadoghq.eu/": "datadoghq.eu",
    "api.us5.datadoghq.com": "us5.datadoghq.com",
    "us3": "us3.datadoghq.com",
    "datadoghq.cm": "datadoghq.com",
    "com": None,
    "": None,
    "[eu": None,
}


@pytest.mark.parametrize("site", NEAR_MISSES)
def test_a_wrong_site_is_one_line_listing_every_site(tmp_path: Path, site: str) -> None:
    config = {**KEY_SETTINGS, "api_url": "http://127.0.0.1:9", "site": site}
    result = run_cli("--test", config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = lines(result.stderr, "ERROR")
    meant = f" (did you mean {NEAR_MISSES[site]}?)" if NEAR_MISSES[site] else ""
    every = ", ".join(f"{each} ({name})" for each, name in SITE_NAMES.items())
    expected = f"site: {site!r} is not a Datadog site{meant}; use one of {every}"
    assert line.split("| ")[-1] == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"api_key": "x",', "is not JSON (line 1, column 17: Expecting property name"),
        ("", "is not JSON (line 1, column 1: Expecting value)"),
    ],
)
def test_a_malformed_config_file_is_one_line_naming_the_file_and_the_position(
    tmp_path: Path, text: str, words: str
) -> None:
    config_file = tmp_path / "broken.json"
    config_file.write_text(text)
    result = run_cli("--config", str(config_file), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = lines(result.stderr, "ERROR")
    assert f"The config file {config_file} {words}" in line
    assert b"Traceback" not in result.stderr


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "nowhere.json"), tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = lines(result.stderr, "ERROR")
    assert f"The config file {tmp_path / 'nowhere.json'} does not exist" in line


def test_no_chatter_about_environment_settings_on_every_call(tmp_path: Path) -> None:
    result = run_cli("--discover", config={**KEY_SETTINGS}, tmp_path=tmp_path)
    assert result.returncode == 0
    assert b"Skipping parse of env var settings" not in result.stderr


def test_settings_the_schema_lets_through_are_one_line_each_before_any_request(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    """Once through the CLI: null for every setting with a default, a start_date before the year
    1 in UTC, an end_date before Datadog's retention. Each is also in BAD_SETTINGS."""
    config = {
        **KEY_SETTINGS,
        "api_url": api.url,
        **dict.fromkeys(NULLED),
        "start_date": "0001-01-01T00:00:00+05:00",
        "end_date": "2020-01-01T00:00:00Z",
    }
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    errors = [line.split("| ")[-1] for line in lines(result.stderr, "ERROR")]
    named = sorted(error.split(":")[0] for error in errors)
    assert named == sorted([*NULLED, "start_date", "end_date"]), errors
    assert all("null" in error for error in errors if error.split(":")[0] in NULLED), errors
    assert b"Traceback" not in result.stderr
    assert api.requests == []


def test_a_start_date_in_the_year_1_reads_from_the_retention_edge_with_one_warning(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    edge = dt.datetime(2025, 8, 10, 12, tzinfo=dt.timezone.utc)  # NOW less 15 months
    end = (edge + dt.timedelta(days=1)).isoformat()
    config = {**KEY_SETTINGS, "api_url": api.url, "start_date": "0001-01-01", "end_date": end}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    warned = [line.split("| ")[-1] for line in lines(result.stderr, "WARNING")]
    expected = (
        "start_date 0001-01-01T00:00:00+00:00 is older than the 15 months Datadog keeps usage "
        f"and cost: reading from {edge.isoformat()} instead"
    )
    assert warned == [expected], warned


#: A key pasted from a word processor: U+2019 (a curly apostrophe) in place of one, which no HTTP
#: header can carry (latin-1 only).
CURLY_KEY = "sim\u2019api-key-4e5f"


@pytest.mark.parametrize("mode", [(), ("--test",)], ids=["sync", "test"])
def test_a_key_no_header_can_carry_is_one_line_naming_it_and_never_quoting_it(
    api: DatadogSimulator, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    config = {**KEY_SETTINGS, "api_url": api.url, "app_key": CURLY_KEY}
    result = run_cli(*mode, config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    (line,) = lines(result.stderr, "ERROR")
    assert line.split("| ")[-1].startswith("app_key: "), line
    output = (result.stdout + result.stderr).decode()
    assert not [what for what in ("\u2019", "\\u2019", "position", "sim\u2019") if what in output]
    assert b"Traceback" not in result.stderr
    assert api.requests == []
