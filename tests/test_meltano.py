"""End to end: `meltano run` into DuckDB and JSONL against the simulator, and the nightly recipe."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import typing as t
from urllib.parse import urlparse

import duckdb
import pytest
import requests
import yaml

from simulator import PARENT_KEYS, DatadogSimulator
from tap_datadog_costs.periods import parse_instant
from tests.support.clock import NOW, clock_env
from tests.support.endpoints import ESTIMATED, PRIMARY_KEYS, streams_with_rows
from tests.support.focus import assert_accepted
from tests.support.loaders import meltano, records_emitted, table_counts
from tests.support.logs import starting_bookmarks
from tests.support.paths import ROOT
from tests.support.postgres import psql
from tests.support.records import duplicate_keys, merge_on_keys

pytestmark = pytest.mark.e2e  # Meltano runs into DuckDB, JSONL and PostgreSQL, and dbt

if t.TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def project_env(tmp_path: Path) -> t.Iterator[tuple[dict[str, str], DatadogSimulator, Path]]:
    """A simulator and an environment isolating Meltano's state and outputs in tmp_path; Meltano,
    the tap and the loaders run at the simulator's instant."""
    with DatadogSimulator(now=NOW) as sim:
        env = {
            **clock_env(sim.now),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_DATADOG_COSTS_API_URL": sim.url,
            "TAP_DATADOG_COSTS_START_DATE": (sim.now - dt.timedelta(days=40)).isoformat(),
            "TARGET_DUCKDB_FILEPATH": str(tmp_path / "costs.duckdb"),
            "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
        }
        (tmp_path / "jsonl").mkdir()
        yield env, sim, tmp_path


def next_run(env: dict[str, str], sim: DatadogSimulator) -> dict[str, str]:
    """``env`` for a next run: it starts a minute after the first, as a next run does (what a
    run names, versions or dates by its start: target-jsonl's files, target-postgres' table
    version, read_at, come after the first run's)."""
    return clock_env(sim.now + dt.timedelta(minutes=1), env)


def duplicate_key_count(database: Path, stream: str) -> int:
    keys = ", ".join(f'"{k}"' for k in PRIMARY_KEYS[stream])
    with duckdb.connect(str(database), read_only=True) as connection:
        query = (
            f'select count(*) from (select {keys} from datadog."{stream}" '
            "group by all having count(*) > 1)"
        )
        return connection.execute(query).fetchone()[0]  # type: ignore[index,no-any-return]


def test_meltano_run_into_duckdb_lands_every_row_and_resumes(project_env: t.Any) -> None:
    env, sim, tmp_path = project_env
    database = tmp_path / "costs.duckdb"
    first_log = meltano(
        "--environment=dev", "run", "tap-datadog-costs", "target-duckdb", env=env, json_log=True
    )
    emitted = {stream: count for stream, count in records_emitted(first_log).items() if count}
    start = sim.now - dt.timedelta(days=40)
    assert set(emitted) == streams_with_rows(sim.now, start), emitted
    # The known trap: a loader that silently drops rows. Every record emitted is in the database.
    # (A stream with no rows, such as projected cost before the 12th, leaves an empty table.)
    assert {name: count for name, count in table_counts(database).items() if count} == emitted
    assert emitted["hourly_usage"] == len(sim.expected_hourly_usage(start, sim.now))

    # Costs per month in the database equal the simulator's totals.
    expected = sim.expected_costs("historical", start, sim.now, "sub-org")
    expected_totals: dict[str, float] = {}
    for row in expected:
        if row["charge_type"] == "total":
            expected_totals[row["month"][:7]] = (
                expected_totals.get(row["month"][:7], 0) + row["cost"]
            )
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = dict(
            connection.execute(
                "select strftime(month, '%Y-%m'), sum(cost) from datadog.historical_costs "
                "where charge_type = 'total' group by 1"
            ).fetchall()
        )
    assert loaded.keys() == expected_totals.keys()
    for month, total in expected_totals.items():
        assert loaded[month] == pytest.approx(total)

    # Second run: starts from the saved state, and the merge leaves no duplicate keys.
    sim.revise()
    second_log = meltano(
        "--environment=dev", "run", "tap-datadog-costs", "target-duckdb",
        env=next_run(env, sim), json_log=True,
    )  # fmt: skip
    resumed = starting_bookmarks(second_log)["hourly_usage"]
    assert resumed is not None
    assert parse_instant(resumed) > start
    assert records_emitted(second_log)["hourly_usage"] < emitted["hourly_usage"]
    for stream in emitted:
        assert duplicate_key_count(database, stream) == 0, stream
    counts = table_counts(database)
    assert counts["hourly_usage"] == len(sim.expected_hourly_usage(start, sim.now))
    state_lines = meltano(
        "state", "get", "dev:tap-datadog-costs-to-target-duckdb", env=env
    ).splitlines()
    state = json.loads(next(line for line in state_lines if line.startswith("{")))
    assert state["singer_state"]["bookmarks"]["hourly_usage"]["replication_key_value"]


def jsonl_runs(folder: Path, stream: str) -> list[list[dict[str, t.Any]]]:
    """The rows of each run's file of a stream, oldest run first (<stream>-<timestamp>.jsonl)."""
    files = sorted(folder.glob(f"{stream}-*.jsonl"))
    return [[json.loads(line) for line in file.read_text().splitlines()] for file in files]


def test_meltano_run_into_jsonl_writes_one_file_set_per_run_each_key_once(
    project_env: t.Any,
) -> None:
    """Files to hand on: a run's own set, every key once, no row of the last run appended."""
    env, sim, tmp_path = project_env
    run = ("--environment=dev", "run", "tap-datadog-costs", "target-jsonl")
    logs = [meltano(*run, env=run_env, json_log=True) for run_env in (env, next_run(env, sim))]
    start = sim.now - dt.timedelta(days=40)
    for stream in PRIMARY_KEYS:
        runs = jsonl_runs(tmp_path / "jsonl", stream)
        emitted = [records_emitted(log)[stream] for log in logs]
        assert [len(rows) for rows in runs] == [count for count in emitted if count], stream
        for rows in runs:
            assert duplicate_keys(stream, rows) == [], stream
    usage_runs = jsonl_runs(tmp_path / "jsonl", "hourly_usage")
    assert len(usage_runs[1]) < len(usage_runs[0])  # the second run is incremental
    merged = merge_on_keys("hourly_usage", [row for rows in usage_runs for row in rows])
    assert merged == merge_on_keys("hourly_usage", sim.expected_hourly_usage(start, sim.now))


def scheduled_step() -> dict[str, t.Any]:
    """The extract step of the GitHub Actions workflow in docs/scheduling.md."""
    text = (ROOT / "docs" / "scheduling.md").read_text()
    workflow = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.DOTALL).group(1))  # type: ignore[union-attr]
    steps = workflow["jobs"]["extract"]["steps"]
    return next(step for step in steps if step.get("name") == "Extract Datadog usage and costs")


def test_scheduled_extract_resumes_from_the_state_backend(project_env: t.Any) -> None:
    env, sim, tmp_path = project_env
    step = scheduled_step()
    assert "secrets.DATADOG_API_KEY" in step["env"]["TAP_DATADOG_COSTS_API_KEY"]
    assert step["env"]["MELTANO_STATE_BACKEND_URI"].startswith("s3://")
    state_dir = tmp_path / "state"
    run_env = {
        **env,
        **{k: v for k, v in step["env"].items() if "${{" not in v},
        "TAP_DATADOG_COSTS_API_KEY": PARENT_KEYS[0],
        "TAP_DATADOG_COSTS_APP_KEY": PARENT_KEYS[1],
        "MELTANO_STATE_BACKEND_URI": state_dir.as_uri(),
        "LOADER": "target-jsonl",
    }
    del run_env["TAP_DATADOG_COSTS_SITE"]  # the simulator's api_url decides
    runs = []
    for _ in range(2):
        sim.clear_requests()
        result = subprocess.run(
            ["bash", "-c", step["run"]],  # noqa: S607 - as the workflow runs it
            cwd=ROOT,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(
            (
                result.stdout + result.stderr,
                [r for r in sim.requests if r["path"].endswith("hourly_usage")],
            )
        )
    assert any(state_dir.rglob("*.json")), "no state was written to the file state backend"
    (first_log, first_requests), (second_log, second_requests) = runs
    assert starting_bookmarks(first_log)["hourly_usage"] is None  # no state yet: first extract
    second_start = starting_bookmarks(second_log)["hourly_usage"]
    assert second_start is not None  # the first run's bookmark
    assert parse_instant(second_start) > parse_instant(env["TAP_DATADOG_COSTS_START_DATE"])
    assert len(second_requests) < len(first_requests)


def drop_from_the_next_estimate(sim: DatadogSimulator, product: str) -> tuple[str, float]:
    """Serve the next estimate without ``product`` (no longer used); its month and new total."""
    current = sim.now.replace(day=1)
    previous = (current - dt.timedelta(days=1)).replace(day=1)
    params = {
        "start_month": f"{previous:%Y-%m}",
        "end_month": f"{current:%Y-%m}",
        "view": "sub-org",
        "include_connected_accounts": "false",
    }
    headers = dict(zip(("DD-API-KEY", "DD-APPLICATION-KEY"), PARENT_KEYS, strict=True))
    body = requests.get(sim.url + ESTIMATED, params=params, headers=headers, timeout=10).json()
    for item in body["data"]:
        charges = item["attributes"]["charges"]
        item["attributes"]["charges"] = [c for c in charges if c["product_name"] != product]
    month = f"{current:%Y-%m}"
    total = sum(
        c["cost"]
        for item in body["data"]
        if item["attributes"]["date"].startswith(month)
        for c in item["attributes"]["charges"]
    )
    sim.replay(ESTIMATED, body, params=params)  # the estimate by month, not daily_costs' by day
    return month, round(total, 2)


def test_a_product_dropped_from_the_estimate_is_withdrawn_in_duckdb_and_the_summary(
    project_env: t.Any,
) -> None:
    """target-duckdb ignores ACTIVATE_VERSION: the product's rows are withdrawn (cost 0)."""
    env, sim, tmp_path = project_env
    database = tmp_path / "costs.duckdb"
    env = {**env, "DBT_DUCKDB_PATH": str(database)}  # the report reads the dbt models
    meltano("--environment=dev", "run", "tap-datadog-costs", "target-duckdb", env=env)
    month, expected = drop_from_the_next_estimate(sim, "apm_host")
    later = next_run(env, sim)
    meltano("--environment=dev", "run", "tap-datadog-costs", "target-duckdb", env=later)
    # The models without their tests: the replayed estimate is one answer edited by hand, which
    # focus_costs does not read, so FOCUS no longer adds up to it, as its dbt test rightly says.
    meltano("--environment=dev", "invoke", "dbt-duckdb", "run", env=env)

    with duckdb.connect(str(database), read_only=True) as connection:
        withdrawn = connection.execute(
            "select distinct month, cost_status, cost from datadog.estimated_costs "
            "where product_name = 'apm_host' and strftime(month, '%Y-%m') = ?",
            [month],
        ).fetchall()
        (reads,) = connection.execute(
            "select count(distinct read_at) from datadog.estimated_costs"
        ).fetchone()  # type: ignore[misc]
    assert [(status, cost) for _, status, cost in withdrawn] == [("withdrawn", 0.0)]
    assert reads == 1  # every row, withdrawn or not, is the latest read's
    summary = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report.py"), str(database), "datadog"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=clock_env(sim.now),
    ).stdout
    line = next(line for line in summary.splitlines() if line.startswith(f"  {month} "))
    assert line.split()[1:3] == ["estimate", f"{expected:,.2f}"]
    assert "apm_host" not in line


def test_target_postgres_honours_activate_version_and_drops_the_stale_estimate(
    project_env: t.Any, postgres: str
) -> None:
    """A target that honours ACTIVATE_VERSION keeps only the latest read of estimated cost."""
    env, sim, _ = project_env
    env = {**env, "TARGET_POSTGRES_SQLALCHEMY_URL": postgres}
    meltano("--environment=dev", "run", "tap-datadog-costs", "target-postgres", env=env)
    # dev (the simulator) writes a schema of its own, away from prod's "datadog"
    first = psql(
        postgres, "select count(*) from datadog_dev.estimated_costs where product_name = 'apm_host'"
    )
    month, expected = drop_from_the_next_estimate(sim, "apm_host")
    meltano(
        "--environment=dev", "run", "tap-datadog-costs", "target-postgres", env=next_run(env, sim)
    )

    live = "from datadog_dev.estimated_costs where _sdc_deleted_at is null"
    assert int(first[0][0]) > 0
    # The latest read lists the product once more, withdrawn: zero cost (withdrawals.py).
    dropped = f"{live} and product_name = 'apm_host' and to_char(month, 'YYYY-MM') = '{month}'"
    status = psql(postgres, f"select distinct cost_status, cost = 0 {dropped}")
    assert status == [["withdrawn", "t"]]
    (total,) = psql(
        postgres,
        f"select sum(cost) {live} and charge_type = 'total' "
        f"and to_char(month, 'YYYY-MM') = '{month}'",
    )
    assert round(float(total[0]), 2) == expected
    assert psql(postgres, f"select count(distinct read_at) {live}") == [["1"]]


def loader_config(environment: str, loader: str) -> dict[str, t.Any]:
    env = {k: v for k, v in clock_env(NOW).items() if not k.startswith("TARGET_")}
    printed = meltano(f"--environment={environment}", "config", "print", loader, env=env)
    return t.cast(
        "dict[str, t.Any]", json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
    )


def test_dev_and_prod_write_to_places_of_their_own() -> None:
    """The simulator's made-up orgs never land beside real ones."""
    for loader, setting in (
        ("target-duckdb", "filepath"),
        ("target-jsonl", "destination_path"),
        ("target-postgres", "default_target_schema"),
    ):
        dev, prod = (loader_config(env, loader)[setting] for env in ("dev", "prod"))
        assert dev != prod, loader
    assert loader_config("dev", "target-duckdb")["filepath"] == str(
        ROOT / "output" / "dev" / "datadog_costs.duckdb"
    )
    assert (ROOT / "output" / "prod" / ".gitkeep").exists()  # target-duckdb needs the folder


#: The focus model's date-time columns, which an export writes as FOCUS's DateTimeFormat.
FOCUS_DATE_TIMES = (
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "x_ReadAt",
)  # fmt: skip


def with_focus_history(env: dict[str, str], sim: DatadogSimulator) -> dict[str, str]:
    """``env`` for a run whose FOCUS rows cover final, preliminary and estimated months (from
    June, at NOW), with a credit: a child's September APM on-demand charge."""
    september = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
    sim.credit(org="child00001", product="apm_host", month=september)
    return {**env, "TAP_DATADOG_COSTS_START_DATE": "2026-06-01T00:00:00Z"}


def focus_table_in_duckdb(database: Path) -> list[dict[str, t.Any]]:
    """analytics.focus as DuckDB (the pinned duckdb 1.0.0 dbt-duckdb writes with) reads it,
    date-times (target-duckdb's timestamps, in UTC) as FOCUS writes them."""
    as_focus = ", ".join(
        f'strftime("{name}", \'%Y-%m-%dT%H:%M:%SZ\') as "{name}"' for name in FOCUS_DATE_TIMES
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(f"select * replace ({as_focus}) from analytics.focus")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def test_the_dbt_focus_model_on_duckdb_is_valid_focus_1_2_and_1_3(project_env: t.Any) -> None:
    """focus-validator on the table the dbt focus model builds in DuckDB (docs/focus.md)."""
    env, sim, tmp_path = project_env
    database = tmp_path / "costs.duckdb"
    env = {**with_focus_history(env, sim), "DBT_DUCKDB_PATH": str(database)}
    meltano("--environment=dev", "run", "tap-datadog-costs", "target-duckdb", env=env)
    meltano("--environment=dev", "invoke", "dbt-duckdb:build", env=env)  # focus, and its tests
    rows = focus_table_in_duckdb(database)
    assert {row["x_CostStatus"] for row in rows} == {"final", "preliminary", "estimate"}
    assert [row["ChargeCategory"] for row in rows if row["BilledCost"] < 0] == ["Credit"]
    assert_accepted(rows)  # FOCUS 1.2 and 1.3


def focus_table_in_postgresql(url: str, path: Path) -> Path:
    """analytics.focus exported by psql as a CSV, date-times in UTC as FOCUS writes them."""

    def exported(name: str, data_type: str) -> str:
        column = f'"{name}"'
        if name not in FOCUS_DATE_TIMES:
            return column
        # a timestamp without time zone is the loader's, in UTC
        utc = f"{column} at time zone 'UTC'" if data_type == "timestamp with time zone" else column
        return f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as {column}"""

    columns = psql(
        url,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'analytics' and table_name = 'focus' order by ordinal_position",
    )
    select = ", ".join(exported(name, data_type) for name, data_type in columns)
    psql(url, f"\\copy (select {select} from analytics.focus) to '{path}' csv header")
    return path


def test_the_dbt_models_build_and_pass_their_tests_on_postgresql(
    project_env: t.Any, postgres: str
) -> None:
    """The same models on the warehouse target-postgres loads (a real local PostgreSQL)."""
    env, sim, tmp_path = project_env
    url = urlparse(postgres)
    env = {
        **with_focus_history(env, sim),
        "TARGET_POSTGRES_SQLALCHEMY_URL": postgres,
        "DBT_POSTGRES_HOST": str(url.hostname),
        "DBT_POSTGRES_PORT": str(url.port),
        "DBT_POSTGRES_USER": str(url.username),
        "DBT_POSTGRES_DBNAME": url.path.lstrip("/"),
    }
    log = meltano("--environment=dev", "run", "tap-datadog-costs", "target-postgres", env=env)
    log += meltano("--environment=dev", "invoke", "dbt-postgres:build", env=env)
    outcome = re.search(r"Done\. PASS=(\d+) WARN=0 ERROR=0 SKIP=0 ", log)
    assert outcome, log[-3000:]
    assert int(outcome.group(1)) >= 127  # 20 models, 107 tests
    for model in ("cost_monthly", "cost_daily", "focus", "unit_cost"):
        assert int(psql(postgres, f"select count(*) from analytics.{model}")[0][0]) > 0, model
    # No tags is SQL's null, not JSON's (which target-postgres writes, and the validator lets by)
    assert psql(postgres, """select count(*) from analytics.focus where "Tags" = 'null'""") == [
        ["0"]
    ]
    # The focus table as focus-validator judges it (docs/focus.md), a credit among its rows
    assert psql(
        postgres,
        """select string_agg(distinct "x_CostStatus", ','), string_agg("ChargeCategory", ',')
        from analytics.focus where "BilledCost" < 0 or "ChargeCategory" <> 'Usage'""",
    ) == [["final", "Credit"]]
    statuses = psql(postgres, 'select distinct "x_CostStatus" from analytics.focus order by 1')
    assert statuses == [["estimate"], ["final"], ["preliminary"]]
    focus = focus_table_in_postgresql(postgres, tmp_path / "focus.csv")
    assert_accepted(focus)  # FOCUS 1.2 and 1.3
