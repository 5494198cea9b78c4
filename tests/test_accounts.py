"""Several Datadog accounts in parallel: docs/scaling.md's account files and matrix workflow.

Three simulated accounts, each with its own keys (the others' are refused) and its own org ids,
run at once as the workflow's matrix jobs run them, twice. No key, row or bookmark may cross.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import typing as t

import duckdb
import pytest
import requests
import yaml

from simulator import DatadogSimulator
from tests.support.clock import NOW, clock_env
from tests.support.loaders import project_copy
from tests.support.logs import starting_bookmarks
from tests.support.paths import ROOT

pytestmark = pytest.mark.e2e  # Meltano runs of several accounts, and Dagster's own venv

if t.TYPE_CHECKING:
    from pathlib import Path

DOC = ROOT / "docs" / "scaling.md"
#: The accounts of the doc, the prefix of their variables, and their simulated org ids'.
ACCOUNTS = {"acme-us1": "ACME_US1", "acme-eu1": "ACME_EU1", "client-b": "CLIENT_B"}
STREAMS_WITH_ORGS = ("hourly_usage", "organizations", "historical_costs", "estimated_costs")
LOADER = "target-duckdb"


def section() -> str:
    return DOC.read_text().split("## Many accounts", 1)[1]


def account_files() -> dict[str, str]:
    """The files the doc writes under accounts/, by name."""
    return dict(re.findall(r"cat > (accounts/\S+) <<'EOF'\n(.*?)\nEOF\n", section(), re.DOTALL))


def extract_step() -> tuple[dict[str, t.Any], list[dict[str, str]]]:
    """The workflow's extract step and its matrix."""
    workflow = yaml.safe_load(section().split("```yaml\n", 1)[1].split("```", 1)[0])
    job = workflow["jobs"]["extract"]
    step = next(s for s in job["steps"] if s.get("name") == "Extract Datadog usage and costs")
    return step, job["strategy"]["matrix"]["include"]


def as_github_runs_it(value: str, entry: dict[str, str], secrets: dict[str, str]) -> str:
    """A step's env value with its ``${{ matrix.x }}`` and ``${{ secrets[...] }}`` filled in."""
    value = re.sub(r"\$\{\{ matrix\.(\w+) \}\}", lambda m: entry[m.group(1)], value)
    return re.sub(
        r"\$\{\{ secrets\[format\('\{0\}(\w+)', matrix\.(\w+)\)\] \}\}",
        lambda m: secrets[entry[m.group(2)] + m.group(1)],
        value,
    )


@pytest.fixture
def accounts(tmp_path: Path) -> t.Iterator[tuple[Path, dict[str, DatadogSimulator]]]:
    """A copy of the project with the doc's account files, each pointed at its own simulator."""
    project = project_copy(tmp_path / "project")
    simulators = {
        name: DatadogSimulator(
            now=NOW, org_prefix=f"{prefix.lower()}-", keys=(f"{name}-api", f"{name}-app")
        )
        for name, prefix in ACCOUNTS.items()
    }
    for sim in simulators.values():
        sim.start()
    try:
        files = account_files()
        assert sorted(files) == sorted(f"accounts/{name}.meltano.yml" for name in ACCOUNTS)
        for path, text in files.items():
            name = path.split("/")[1].split(".")[0]
            # Datadog's site there, this account's simulator here
            here, found = re.subn(r"site: \S+", f"api_url: {simulators[name].url}", text)
            assert found == 1
            (project / path).parent.mkdir(exist_ok=True)
            (project / path).write_text(here)
        yield project, simulators
    finally:
        for sim in simulators.values():
            sim.stop()


#: Every account's keys, under the names its file reads (``<PREFIX>_DATADOG_API_KEY``).
SECRETS = {
    f"{prefix}_DATADOG_{kind}_KEY": f"{name}-{kind.lower()}"
    for name, prefix in ACCOUNTS.items()
    for kind in ("API", "APP")
}


def base_env() -> dict[str, str]:
    """This environment without any tap setting, at the simulators' instant (NOW), reading from
    last month on (its historical cost is there, and a few weeks of usage)."""
    this_month = NOW.replace(day=1, hour=0)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    return {
        **{k: v for k, v in clock_env(NOW).items() if not k.startswith("TAP_DATADOG_COSTS_")},
        "TAP_DATADOG_COSTS_START_DATE": last_month.isoformat(),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_the_matrix(project: Path, state: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every matrix job's extract step at once, each given only its own account's keys."""
    step, matrix = extract_step()
    processes = {}
    for entry in matrix:
        env = {
            **base_env(),
            **{
                name: filled
                for name, value in step["env"].items()
                if "${{" not in (filled := as_github_runs_it(value, entry, SECRETS))
            },
            "MELTANO_STATE_BACKEND_URI": state.as_uri(),  # one backend for all, as one bucket
            "MELTANO_DATABASE_URI": f"sqlite:///{project}/{entry['account']}.db",  # a runner each
            "LOADER": LOADER,
            # the project extractor's keys, set as on a machine that also runs one account:
            # an account's own keys win (another account's keys here would be refused)
            "TAP_DATADOG_COSTS_API_KEY": "acme-us1-api",
            "TAP_DATADOG_COSTS_APP_KEY": "acme-us1-app",
        }
        assert env["API_KEY"] == f"{entry['account']}-api"  # only its own secret
        processes[entry["account"]] = subprocess.Popen(
            ["bash", "-c", step["run"]],  # noqa: S607 - as the workflow runs it
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    results = {}
    for account, process in processes.items():
        output, _ = process.communicate(timeout=600)
        results[account] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return results


def org_ids(database: Path, stream: str) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        query = f"select distinct public_id from datadog.{stream}"
        return {org for (org,) in connection.execute(query).fetchall()}


def assert_apart(project: Path, simulators: dict[str, DatadogSimulator]) -> None:
    """Every simulator saw only its own keys; every account's DuckDB holds only its org ids."""
    for account, sim in simulators.items():
        statuses = {request["status"] for request in sim.requests}
        assert statuses == {200}, (account, statuses)  # its own keys only: others' get 403
        prefix = f"{ACCOUNTS[account].lower()}-"
        for stream in STREAMS_WITH_ORGS:
            orgs = org_ids(project / "output" / "prod" / f"{account}.duckdb", stream)
            assert orgs, (account, stream)
            assert all(org.startswith(prefix) for org in orgs), (account, stream, orgs)


def test_three_accounts_in_parallel_share_no_key_row_or_bookmark(
    accounts: tuple[Path, dict[str, DatadogSimulator]], tmp_path: Path
) -> None:
    project, simulators = accounts
    state = tmp_path / "state"
    for run in ("first", "second"):
        results = run_the_matrix(project, state)
        for account, result in results.items():
            assert result.returncode == 0, f"{run} run, {account}:\n{result.stdout[-3000:]}"
            bookmark = starting_bookmarks(result.stdout)["hourly_usage"]
            assert (bookmark is None) == (run == "first"), (account, bookmark)
    assert_apart(project, simulators)
    state_ids = sorted(path.parent.name for path in state.rglob("state.json"))
    assert state_ids == sorted(
        f"prod:tap-datadog-costs--{account}-to-{LOADER}--{account}" for account in ACCOUNTS
    )


def test_each_account_refuses_the_others_keys() -> None:
    """What makes the test above mean something: the simulators check keys as Datadog does."""
    with (
        DatadogSimulator(now=NOW, keys=("a-api", "a-app")) as first,
        DatadogSimulator(now=NOW, keys=("b-api", "b-app")) as second,
    ):
        refused = (first, ("b-api", "b-app"), 403), (second, ("a-api", "a-app"), 403)
        for sim, keys, status in (*refused, (first, ("a-api", "a-app"), 200)):
            answer = requests.get(
                f"{sim.url}/api/v1/org",
                headers={"DD-API-KEY": keys[0], "DD-APPLICATION-KEY": keys[1]},
                timeout=10,
            )
            assert answer.status_code == status


@pytest.fixture(scope="session")
def dagster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dagster and dagster-meltano from the registry, at the recipe's versions, in a venv."""
    venv = tmp_path_factory.mktemp("dagster") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    requirements = ROOT / "orchestrate" / "requirements.txt"
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(requirements)],
        check=True, timeout=900,
    )  # fmt: skip
    return venv / "bin" / "dagster"


def test_dagster_runs_every_account_in_parallel(
    accounts: tuple[Path, dict[str, DatadogSimulator]], dagster: Path
) -> None:
    """orchestrate/dagster_accounts.py: one op per account file, run by `dagster job execute`."""
    project, simulators = accounts
    home = project / ".dagster-home"
    home.mkdir()
    env = {
        **base_env(),
        **SECRETS,
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",  # the project's meltano
        "MELTANO_DATABASE_URI": f"sqlite:///{project}/meltano.db",
        "DAGSTER_HOME": str(home),
    }
    result = subprocess.run(
        [str(dagster), "job", "execute", "-f", "orchestrate/dagster_accounts.py", "-j",
         "every_account"],
        cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "using multiprocess executor" in log  # the accounts' steps run side by side
    # Each step started (the run succeeds only if every step did; assert_apart checks each
    # account's rows). Dagster's own log can lose a subprocess step's last lines, so only
    # the start lines are counted. The system database first (the extracts depend on it):
    # parallel runs on a new project would race to create it.
    started = re.findall(r"Started execution of step \"(\w+)\"", log)
    assert started[0] == "system_database"
    assert sorted(started[1:]) == sorted(f"extract_{name.replace('-', '_')}" for name in ACCOUNTS)
    assert_apart(project, simulators)
