"""What a failure shows on the console: the tap's one ERROR line, no traceback, no key.

Under `make run` (scripts/quickstart.py) and under `meltano run`, the command the scheduled
recipes run (docs/scheduling.md), for a failure of each kind the README's troubleshooting table
lists: an HTTP error from Datadog, a host out of reach, a bad setting, a bad date, a wrong site.
meltano.yml declares the tap's `structured-logging`, so Meltano shows each of its lines at its
level; the site and the dates are strings to Meltano, so the tap, not Meltano, judges them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import typing as t

import pytest

from simulator import CHILD_KEYS, PARENT_KEYS, DatadogSimulator
from tests.support.clock import NOW, clock_env
from tests.support.loaders import project_copy, quickstart
from tests.support.paths import ROOT

if t.TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e  # the Quickstart's and Meltano's runs

MELTANO = str(ROOT / ".venv" / "bin" / "meltano")
#: Every key a case sets: none may reach the console.
SECRETS = (*PARENT_KEYS, *CHILD_KEYS, "wrong-app-key")
#: Every Datadog site, as the wrong site's line lists them.
SITE_LIST = (
    r"use one of datadoghq\.com \(US1\), us3\.datadoghq\.com \(US3\), us5\.datadoghq\.com "
    r"\(US5\), datadoghq\.eu \(EU1\), ap1\.datadoghq\.com \(AP1\), ap2\.datadoghq\.com \(AP2\), "
    r"ddog-gov\.com \(US1-FED\), uk1\.datadoghq\.com \(UK1\), us2\.ddog-gov\.com \(US2-FED\)$"
)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Failure(t.NamedTuple):
    """A failure: the settings that cause it, in the environment, and the tap's line for it.

    With keys (the environment ``prod``, as the Quickstart and the recipes take them) the run
    goes to the test's simulator, unless the case names another ``api_url``; without (``dev``),
    the Quickstart starts a simulator of its own.
    """

    keys: tuple[str, str] | None
    settings: dict[str, str]
    line: str


FAILURES = {
    "wrong key": Failure(
        (PARENT_KEYS[0], "wrong-app-key"),
        {},
        r"Datadog answered 403 to GET /\S+: Forbidden \(check api_key, app_key and site: ",
    ),
    "child org keys": Failure(
        CHILD_KEYS, {}, r"Datadog answered 400 to GET /\S+: API called with non-parent org keys"
    ),
    "host out of reach": Failure(
        PARENT_KEYS,
        {"api_url": "http://127.0.0.1:{closed}", "max_retries": "0"},
        r"GET /\S+: the connection to 127\.0\.0\.1 failed or was reset; gave up after ",
    ),
    "bad setting": Failure(None, {"lookback_hours": "-1"}, r"lookback_hours: -1 is less than "),
    "bad date": Failure(
        None, {"start_date": "2026-13-01"}, r"start_date: '2026-13-01' is not an ISO date "
    ),
    "wrong site": Failure(
        None,
        {"site": "eu"},
        r"site: 'eu' is not a Datadog site \(did you mean datadoghq\.eu\?\); " + SITE_LIST,
    ),
}


LAST_MONTH = (NOW.replace(day=1, hour=0) - dt.timedelta(days=1)).replace(day=1)
#: A short run: last month and this one up to the simulators' instant.
RECENT = {
    "TAP_DATADOG_COSTS_START_DATE": LAST_MONTH.isoformat(),
    "TAP_DATADOG_COSTS_END_DATE": NOW.isoformat(),
}


def environment(case: Failure, sim: DatadogSimulator) -> dict[str, str]:
    """The case's variables: its keys, if any, and its settings as TAP_DATADOG_COSTS_* (over a
    short run's dates, should it not fail)."""
    settings = {"api_url": sim.url, **case.settings}
    settings["api_url"] = settings["api_url"].format(closed=closed_port())
    if case.keys:
        settings["api_key"], settings["app_key"] = case.keys
    return {**RECENT, **{f"TAP_DATADOG_COSTS_{k.upper()}": v for k, v in settings.items()}}


def without_tap_settings(env: t.Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("TAP_DATADOG_COSTS_")}


def meltano_run(
    tmp_path: Path, environment_name: str, *, cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    """`meltano run tap-datadog-costs target-jsonl`, the scheduled recipe's command, its state
    and files in ``tmp_path``, at NOW."""
    (tmp_path / "jsonl").mkdir(exist_ok=True)
    return subprocess.run(
        [MELTANO, f"--environment={environment_name}", "run", "tap-datadog-costs", "target-jsonl"],
        cwd=cwd,
        env={
            **without_tap_settings(clock_env(NOW)),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_clean(console: str) -> None:
    """No traceback (Python's or Meltano's boxed one), no key."""
    assert "Traceback" not in console, console[-3000:]
    assert "╭" not in console, console[-3000:]
    assert not [secret for secret in SECRETS if secret in console]


@pytest.mark.parametrize("case", FAILURES)
def test_make_run_shows_the_taps_one_error_line(
    api: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    spec = FAILURES[case]
    result = quickstart(tmp_path, **environment(spec, api))
    console = result.stdout + result.stderr
    assert result.returncode != 0, console[-3000:]
    (line,) = [line for line in console.splitlines() if "ERROR" in line]
    assert re.match(r"  ERROR: " + spec.line, line), line
    assert console.splitlines()[-1].startswith("meltano run failed (exit 1); full log: ")
    assert_clean(console)


@pytest.mark.parametrize("case", FAILURES)
def test_meltano_run_shows_the_taps_one_error_line_as_an_error(
    api: DatadogSimulator, tmp_path: Path, case: str
) -> None:
    spec = FAILURES[case]
    result = meltano_run(tmp_path, "prod" if spec.keys else "dev", **environment(spec, api))
    console = result.stdout + result.stderr
    assert result.returncode == 1, console[-3000:]
    errors = [line.split("] ", 1)[1] for line in console.splitlines() if "[error" in line]
    # The tap's line, then Meltano's own that the extractor failed.
    (tap_line,) = [line for line in errors if line.startswith("tap-datadog-costs ")]
    assert re.match("tap-datadog-costs " + spec.line, tap_line), tap_line
    meltano_lines = ["meltano      Extractor failed", "meltano      Block run completed"]
    assert [line for line in errors if line != tap_line] == meltano_lines
    assert_clean(console)


def test_a_wrong_site_set_with_meltano_config_is_one_line_listing_the_sites(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    """`meltano config set` takes any site; the run refuses it in one line naming every site."""
    project = project_copy(tmp_path / "project")
    env = {**without_tap_settings(os.environ), "TAP_DATADOG_COSTS_API_URL": api.url}
    config = subprocess.run(
        [MELTANO, "config", "set", "tap-datadog-costs", "site", "eu"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert config.returncode == 0, config.stdout + config.stderr
    assert_clean(config.stdout + config.stderr)
    result = meltano_run(tmp_path, "dev", cwd=project, TAP_DATADOG_COSTS_API_URL=api.url)
    console = result.stdout + result.stderr
    assert result.returncode == 1
    (line,) = [line for line in console.splitlines() if "[error    ] tap-datadog-costs" in line]
    assert re.search(r"site: 'eu' is not a Datadog site .*" + SITE_LIST, line), line
    assert_clean(console)


#: A misspelled setting, as a variable and in meltano.yml: the tap's warning, and the closest name.
MISSPELLED = {
    "variable": "TAP_DATADOG_COSTS_START_DTE: not a setting of this tap "
    "(did you mean TAP_DATADOG_COSTS_START_DATE?): ignored",
    "meltano.yml": "start_dte: not a setting of this tap (did you mean start_date?): ignored",
}


def test_meltano_run_warns_of_a_misspelled_setting(api: DatadogSimulator, tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    config = subprocess.run(
        [MELTANO, "config", "set", "tap-datadog-costs", "start_dte", "2026-11-01"],
        cwd=project, env=without_tap_settings(os.environ), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert config.returncode == 0, config.stdout + config.stderr
    result = meltano_run(
        tmp_path, "dev", cwd=project, TAP_DATADOG_COSTS_API_URL=api.url,
        TAP_DATADOG_COSTS_START_DTE="2026-11-01", **RECENT,
    )  # fmt: skip
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    warnings = {line.split("] ", 1)[1] for line in console.splitlines() if "[warning" in line}
    assert {f"tap-datadog-costs {warning}" for warning in MISSPELLED.values()} <= warnings
    assert_clean(console)


def test_make_run_warns_of_a_misspelled_variable(tmp_path: Path) -> None:
    result = quickstart(tmp_path, TAP_DATADOG_COSTS_START_DTE="2026-11-01", **RECENT)
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    # Said at discovery and again at the sync, shown once.
    assert console.splitlines().count(f"  WARNING: {MISSPELLED['variable']}") == 1
    assert_clean(console)
