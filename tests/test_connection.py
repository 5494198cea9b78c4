"""`--test`, `--about` and `--discover` from the command line."""

from __future__ import annotations

import json
import typing as t

import pytest

from simulator import CHILD_KEYS, EMPTY_KEYS, PARENT_KEYS, USAGE_ONLY_KEYS
from tests.support.endpoints import PRIMARY_KEYS
from tests.support.running import run_cli
from tests.support.settings import tap_config

if t.TYPE_CHECKING:
    from simulator import DatadogSimulator


def test_connection_test_passes_with_keys_lacking_org_management(
    live: DatadogSimulator, tmp_path: t.Any
) -> None:
    result = run_cli("--test", config=tap_config(live.url, USAGE_ONLY_KEYS), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"Connection test passed: keys valid, 3 organization(s) visible" in result.stderr


def test_connection_test_passes_with_parent_keys(live: DatadogSimulator, tmp_path: t.Any) -> None:
    result = run_cli("--test", config=tap_config(live.url, PARENT_KEYS), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"Connection test passed: keys valid, 3 organization(s) visible" in result.stderr


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        (("wrong-api-key", "wrong-app-key"), b"Invalid keys: the API key was refused"),
        ((PARENT_KEYS[0], "wrong-app-key"), b"Invalid keys: the application key was refused"),
        (CHILD_KEYS, b"No cost access"),
        (EMPTY_KEYS, b"empty organization list"),
    ],
)
def test_connection_test_names_the_problem(
    live: DatadogSimulator, tmp_path: t.Any, keys: tuple[str, str], says: bytes
) -> None:
    result = run_cli("--test", config=tap_config(live.url, keys), tmp_path=tmp_path)
    assert result.returncode != 0
    assert says in result.stderr
    for key in keys:
        assert key.encode() not in result.stderr + result.stdout
    if keys == CHILD_KEYS:
        assert b"child organization" in result.stderr


def test_about_markdown_lists_every_setting(tmp_path: t.Any) -> None:
    result = run_cli("--about", "--format=markdown", tmp_path=tmp_path)
    assert result.returncode == 0
    for setting in (
        "api_key",
        "app_key",
        "site",
        "api_url",
        "start_date",
        "end_date",
        "lookback_hours",
        "product_families",
        "include_descendants",
        "include_connected_accounts",
    ):
        assert f"| {setting} |".encode() in result.stdout


def test_discover_lists_every_stream_with_its_keys(tmp_path: t.Any) -> None:
    result = run_cli("--discover", tmp_path=tmp_path)
    assert result.returncode == 0
    streams = {s["tap_stream_id"]: s for s in json.loads(result.stdout)["streams"]}
    assert streams["hourly_usage"]["key_properties"] == [
        "timestamp",
        "public_id",
        "product_family",
        "usage_type",
    ]
    assert streams["historical_costs"]["replication_key"] == "month"
    assert streams["estimated_costs"]["replication_method"] == "FULL_TABLE"
    assert set(streams) == set(PRIMARY_KEYS)
    for name, keys in PRIMARY_KEYS.items():
        assert streams[name]["key_properties"] == list(keys), name
