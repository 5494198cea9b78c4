"""Run the tap against the simulator and read back what it wrote, as a target would."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pendulum

from tap_datadog_costs.tap import TapDatadogCosts

from tests.simulator import PARENT_KEYS

ROOT = Path(__file__).resolve().parent.parent

PRIMARY_KEYS = {
    "organizations": ("public_id",),
    "hourly_usage": ("timestamp", "public_id", "product_family", "usage_type"),
    "billing_dimension_mappings": ("month", "billing_dimension", "endpoint"),
    "historical_costs": ("month", "public_id", "product_name", "charge_type"),
    "estimated_costs": ("month", "public_id", "product_name", "charge_type"),
}


def tap_config(url: str, keys: tuple[str, str] = PARENT_KEYS, **settings: t.Any) -> dict[str, t.Any]:
    """A config pointing the tap at the simulator."""
    return {"api_key": keys[0], "app_key": keys[1], "api_url": url, **settings}


@dataclasses.dataclass
class SyncResult:
    """The Singer messages of one run."""

    messages: list[dict[str, t.Any]]

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1]

    def bookmark(self, stream: str) -> str | None:
        value = self.final_state["bookmarks"].get(stream, {})
        return value.get("replication_key_value")


def parse_messages(output: bytes) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def sync(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    *,
    now: dt.datetime | None = None,
) -> SyncResult:
    """One in-process run of every stream, as `tap --config --state` would do it.

    ``now`` moves the clock (time-machine, ticking) so that calendar rules such as
    month finality can be exercised on any day; the simulator must share that "now".
    """
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer, encoding="utf-8")
    clock = pendulum.travel_to(pendulum.instance(now), freeze=False) if now else contextlib.nullcontext()
    with clock, contextlib.redirect_stdout(stdout):
        tap = TapDatadogCosts(config=config, state=state)
        tap.sync_all()
        stdout.flush()
    return SyncResult(parse_messages(buffer.getvalue()))


def run_cli(
    *args: str, config: dict[str, t.Any] | None = None, tmp_path: Path, **popen: t.Any
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed tap CLI in a child process (real exit codes, real stderr)."""
    command = [sys.executable, "-m", "tap_datadog_costs", *args]
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        command += ["--config", str(config_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, check=False, env=env, timeout=300, **popen)


def merge_on_keys(stream: str, *record_lists: list[dict[str, t.Any]]) -> dict[tuple, dict]:
    """What a target merging on the primary keys holds: the last write of each key."""
    merged: dict[tuple, dict] = {}
    for records in record_lists:
        for record in records:
            merged[tuple(record[k] for k in PRIMARY_KEYS[stream])] = record
    return merged


def duplicate_keys(stream: str, records: list[dict[str, t.Any]]) -> list[tuple]:
    """Primary keys that occur more than once (our own check: the SDK's cannot fail)."""
    seen: set[tuple] = set()
    duplicates = []
    for record in records:
        key = tuple(record[k] for k in PRIMARY_KEYS[stream])
        if key in seen or any(part is None for part in key):
            duplicates.append(key)
        seen.add(key)
    return duplicates
