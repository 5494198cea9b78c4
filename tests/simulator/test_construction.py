"""Construction, `python -m simulator`, the committed recordings, orgs and usage summary."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from datetime import datetime

import pytest
import requests
import time_machine

from simulator import (
    CHILD_KEYS,
    PARENT_ID,
    PARENT_KEYS,
    USAGE_ONLY_KEYS,
    DatadogSimulator,
)
from tests.fixtures import extract_recorded
from tests.simulator.common import (
    NON_PARENT,
    NOW,
    UTC,
    call,
)
from tests.support.clock import clock_env
from tests.support.endpoints import ORGS, SUMMARY, VALIDATE
from tests.support.paths import ROOT


def test_defaults_and_constructor_validation() -> None:
    with time_machine.travel(datetime(2027, 1, 1, 0, 59, 59, tzinfo=UTC), tick=False):
        sim = DatadogSimulator()
    assert sim.now == datetime(2027, 1, 1, tzinfo=UTC)  # the clock's hour, by default
    assert sim.generation == 0
    with pytest.raises(ValueError, match="flux_capacitors"):
        DatadogSimulator(families=("flux_capacitors",))
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.url


def test_module_entry_point_serves_until_sigterm() -> None:
    """`python -m simulator` (scripts/quickstart.py starts it) runs on its process's clock:
    started under libfaketime, it is at that instant."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=clock_env(NOW),
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Datadog API simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(
            url + VALIDATE, headers={"DD-API-KEY": PARENT_KEYS[0]}, timeout=5
        ).json() == {"valid": True}
        answer = requests.get(
            url + SUMMARY,
            params={"start_month": "2024-03"},
            headers=dict(zip(("DD-API-KEY", "DD-APPLICATION-KEY"), PARENT_KEYS, strict=True)),
            timeout=5,
        ).json()
        assert answer["last_updated"] == "2024-03-10T15:00:00Z"  # NOW, the clock it was given
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    assert process.stdout.read() == (  # its last line
        f"answered: 200 x 2; peak in progress: 1; busiest: {VALIDATE} x 1\n"  # a tie: the first
    )
    process.stdout.close()


def test_module_entry_point_on_a_port_in_use_says_so_in_one_line() -> None:
    """A port already taken (another simulator, say) is one line suggesting --port, no
    traceback, and a non-zero exit."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "simulator", "--port", str(port)],
            cwd=ROOT, env=clock_env(NOW), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ERROR: 127.0.0.1:{port} is already in use"), line
    assert "pick another port with --port" in line


@pytest.mark.skipif(
    not extract_recorded.DEFAULT_SOURCE.is_dir(),
    reason="../shared/datadog is not beside this clone",
)
def test_fixtures_are_the_recorded_responses_unchanged() -> None:
    """The copies in tests/fixtures still say what ../shared/datadog/recorded says."""
    for name, body in extract_recorded.extract().items():
        committed = json.loads((extract_recorded.OUTPUT_DIR / f"{name}.json").read_text())
        assert committed == body, name


def test_org_lists_the_top_level_org_only_and_needs_org_management(api: DatadogSimulator) -> None:
    assert [o["public_id"] for o in call(api, ORGS).json()["orgs"]] == [PARENT_ID]
    assert call(api, ORGS, keys=USAGE_ONLY_KEYS).status_code == 403


def test_usage_summary_lists_every_org_per_month_for_the_parent_only(api: DatadogSimulator) -> None:
    params = {"start_month": "2024-01", "include_org_details": "true"}
    for keys in (PARENT_KEYS, USAGE_ONLY_KEYS):
        usage = call(api, SUMMARY, params, keys).json()["usage"]
        assert [month["date"][:7] for month in usage] == ["2024-01", "2024-02", "2024-03"]
        assert all(len(month["orgs"]) == 3 for month in usage)
    assert "orgs" not in call(api, SUMMARY, {"start_month": "2024-03"}).json()["usage"][0]
    assert call(api, SUMMARY, params, CHILD_KEYS).json() == NON_PARENT
    assert call(api, SUMMARY, {"start_month": "2022-11"}).status_code == 400  # 16 months back
