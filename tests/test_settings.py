"""Settings: sites map to URLs, bad input is refused before any request."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_datadog_costs.tap import SITES, TapDatadogCosts

from tests.harness import run_cli

KEYS = {"api_key": "sim-api-key", "app_key": "sim-app-key"}

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
    assert TapDatadogCosts(config={**KEYS, "site": site}).base_url == SITE_URLS[site]


def test_default_site_is_us1() -> None:
    assert TapDatadogCosts(config=KEYS).base_url == "https://api.datadoghq.com"


def test_api_url_overrides_site() -> None:
    tap = TapDatadogCosts(config={**KEYS, "site": "datadoghq.eu", "api_url": "http://127.0.0.1:9/"})
    assert tap.base_url == "http://127.0.0.1:9"


def test_keys_are_secret_in_the_settings_schema() -> None:
    properties = TapDatadogCosts.config_jsonschema["properties"]
    assert properties["api_key"]["secret"] is True
    assert properties["app_key"]["secret"] is True
    assert set(TapDatadogCosts.config_jsonschema["required"]) == {"api_key", "app_key"}


BAD_SETTINGS: list[tuple[dict[str, t.Any], str]] = [
    ({"api_key": "k"}, "app_key"),
    ({**KEYS, "site": "datadoghq.moon"}, "site"),
    ({**KEYS, "start_date": "last tuesday"}, "start_date"),
    ({**KEYS, "start_date": "2999-01-01T00:00:00Z"}, "start_date"),
    ({**KEYS, "start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "start_date"),
    ({**KEYS, "product_families": ["infra_hosts", "flux_capacitors"]}, "product_families"),
    ({**KEYS, "api_url": "http://proxy.example.com"}, "api_url"),
    ({**KEYS, "api_url": "ftp://127.0.0.1"}, "api_url"),
    ({**KEYS, "lookback_hours": -1}, "lookback_hours"),
]


@pytest.mark.parametrize(("config", "setting"), BAD_SETTINGS)
def test_bad_setting_is_refused_with_one_error_naming_it(config: dict[str, t.Any], setting: str) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapDatadogCosts(config=config)
    assert len(raised.value.errors) == 1
    assert setting in raised.value.errors[0]


def test_loopback_api_url_may_be_plain_http() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080"):
        assert TapDatadogCosts(config={**KEYS, "api_url": url}).base_url == url


def test_cli_exits_non_zero_on_bad_setting_without_printing_keys(tmp_path: t.Any) -> None:
    config = {"api_key": "sekrit-api-1234", "app_key": "sekrit-app-5678", "start_date": "2999-01-01T00:00:00Z"}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode != 0
    assert b"start_date" in result.stderr
    assert result.stdout == b""
    for secret in (b"sekrit-api-1234", b"sekrit-app-5678"):
        assert secret not in result.stderr
