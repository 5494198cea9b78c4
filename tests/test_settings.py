"""Settings: sites map to URLs, bad input is refused before any request."""

from __future__ import annotations

import datetime as dt
import json
import typing as t

import pytest
import yaml
from singer_sdk.exceptions import ConfigValidationError

from simulator import PARENT_KEYS, DatadogSimulator
from tap_datadog_costs.settings import CONFIG_SCHEMA, SITES
from tap_datadog_costs.tap import TapDatadogCosts
from tests.support.clock import NOW
from tests.support.endpoints import HOURLY, SUMMARY
from tests.support.logs import tap_log
from tests.support.paths import ROOT
from tests.support.running import run_cli, sync
from tests.support.seen import requests_to
from tests.support.settings import BAD_SETTINGS, KEY_SETTINGS, URL_SECRET, tap_config

SITE_URLS = {
    "datadoghq.com": "https://api.datadoghq.com",
    "us3.datadoghq.com": "https://api.us3.datadoghq.com",
    "us5.datadoghq.com": "https://api.us5.datadoghq.com",
    "datadoghq.eu": "https://api.datadoghq.eu",
    "ap1.datadoghq.com": "https://api.ap1.datadoghq.com",
    "ap2.datadoghq.com": "https://api.ap2.datadoghq.com",
    "ddog-gov.com": "https://api.ddog-gov.com",
    "uk1.datadoghq.com": "https://api.uk1.datadoghq.com",
    "us2.ddog-gov.com": "https://api.us2.ddog-gov.com",
}


@pytest.mark.parametrize("site", SITES)
def test_every_site_maps_to_its_api_url(site: str) -> None:
    assert TapDatadogCosts(config={**KEY_SETTINGS, "site": site}).base_url == SITE_URLS[site]


def test_default_site_is_us1() -> None:
    assert TapDatadogCosts(config={**KEY_SETTINGS}).base_url == "https://api.datadoghq.com"


def test_api_url_overrides_site() -> None:
    tap = TapDatadogCosts(
        config={**KEY_SETTINGS, "site": "datadoghq.eu", "api_url": "http://127.0.0.1:9/"}
    )
    assert tap.base_url == "http://127.0.0.1:9"


def test_keys_are_secret_in_the_settings_schema() -> None:
    properties = TapDatadogCosts.config_jsonschema["properties"]
    assert properties["api_key"]["secret"] is True
    assert properties["app_key"]["secret"] is True
    assert set(TapDatadogCosts.config_jsonschema["required"]) == {"api_key", "app_key"}


@pytest.mark.parametrize(("config", "setting"), BAD_SETTINGS)
def test_bad_setting_is_refused_with_one_error_naming_it(
    config: dict[str, t.Any], setting: str
) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapDatadogCosts(config=config)
    assert len(raised.value.errors) == 1
    assert setting in raised.value.errors[0]
    # the CLI prints this line as it is (tests/test_messages.py): no key, no secret in a URL
    assert not [
        s for s in (*PARENT_KEYS, "sim-api", "sim-app", URL_SECRET) if s in str(raised.value)
    ]


def test_loopback_api_url_may_be_plain_http() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080"):
        assert TapDatadogCosts(config={**KEY_SETTINGS, "api_url": url}).base_url == url


MELTANO_KINDS = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "array"}


def meltano_kind(spec: dict[str, t.Any]) -> str:
    """The Meltano setting kind that matches a JSON schema property.

    A string is a string to Meltano, allowed values and dates too: Meltano would refuse a value
    not among its ``options`` with a traceback, and read a ``date_iso8601`` such as 2026-13-01
    as 13 January; the tap refuses either in one line (tests/test_console.py).
    """
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    return MELTANO_KINDS[next(kind for kind in types if kind != "null")]


def test_meltano_yml_settings_match_the_taps_own_description(tmp_path: t.Any) -> None:
    """meltano.yml repeats the settings: names, kinds, labels, texts and defaults agree."""
    about = run_cli("--about", "--format=json", tmp_path=tmp_path)
    assert about.returncode == 0, about.stderr[-2000:]
    schema = json.loads(about.stdout)["settings"]
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (extractor,) = project["plugins"]["extractors"]
    declared = {setting["name"]: setting for setting in extractor["settings"]}
    # The SDK adds its own settings (stream maps, flattening): Meltano knows those by capability.
    ours = {name: schema["properties"][name] for name in CONFIG_SCHEMA["properties"]}
    assert set(declared) == set(ours)
    for name, spec in ours.items():
        setting = declared[name]
        assert setting["kind"] == meltano_kind(spec), name
        assert setting["label"] == spec["title"], name
        assert setting["description"] == spec["description"], name
        assert setting.get("value") == spec.get("default"), name
        assert bool(setting.get("sensitive")) == bool(spec.get("secret")), name
        assert "options" not in setting, name
    assert sorted(extractor["settings_group_validation"][0]) == sorted(schema["required"])


def test_the_readme_settings_table_is_the_taps_own(tmp_path: t.Any) -> None:
    about = run_cli("--about", "--format=markdown", tmp_path=tmp_path).stdout.decode()
    ours = [
        line
        for line in about.splitlines()
        if line.split("|")[1:2] and line.split("|")[1].strip() in CONFIG_SCHEMA["properties"]
    ]
    assert len(ours) == len(CONFIG_SCHEMA["properties"])
    readme = (ROOT / "README.md").read_text().splitlines()
    assert [line for line in readme if line in ours] == ours


def test_a_start_date_older_than_datadogs_retention_is_clamped_with_one_warning() -> None:
    with DatadogSimulator(now=NOW) as sim:
        edge = dt.datetime(2025, 8, 10, 12, tzinfo=dt.timezone.utc)  # NOW less 15 months
        config = tap_config(
            sim.url,
            start_date="2020-01-01T00:00:00Z",
            end_date=(edge + dt.timedelta(days=2)).isoformat(),  # where reading starts is enough
        )
        with tap_log() as log:
            result = sync(config, now=NOW)
        hourly = requests_to(sim.requests, HOURLY)
        summary = requests_to(sim.requests, SUMMARY)
    warned = [line for line in log if "older than the 15 months" in line]
    assert warned == [
        (
            "start_date 2020-01-01T00:00:00+00:00 is older than the 15 months Datadog keeps "
            f"usage and cost: reading from {edge.isoformat()} instead"
        )
    ]
    assert hourly[0]["params"]["filter[timestamp][start]"] == f"{edge:%Y-%m-%dT%H}"
    assert summary[0]["params"]["start_month"] == "2025-08"
    assert all(r["status"] == 200 for r in sim.requests)
    assert min(r["timestamp"] for r in result.records("hourly_usage")) == edge.isoformat()


def test_keys_with_a_trailing_newline_work_and_are_never_printed(tmp_path: t.Any) -> None:
    with DatadogSimulator(now=NOW) as sim:
        start = (sim.now - dt.timedelta(hours=6)).isoformat()
        config = tap_config(
            sim.url, (f"{PARENT_KEYS[0]}\n", f"{PARENT_KEYS[1]}\r\n"), start_date=start
        )
        result = run_cli(config=config, tmp_path=tmp_path)
        test = run_cli("--test", config=config, tmp_path=tmp_path)
    for run in (result, test):
        assert run.returncode == 0, run.stderr[-2000:]
        assert b"sim-api" not in run.stderr
        assert b"sim-app" not in run.stderr
    assert b'"type":"RECORD"' in result.stdout


def test_the_readmes_plugin_definition_is_the_projects_own() -> None:
    """The definition users add to their project (the README's tap-datadog-costs.yml) equals
    ours, but for pip_url."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Add it to your Meltano project", 1)[1]
    theirs = yaml.safe_load(section.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0])
    (ours,) = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"]
    assert theirs.pop("pip_url").startswith("git+https://")
    assert ours.pop("pip_url") == "-e ."
    assert theirs == ours
