"""Dagster: every Datadog account's extract, the accounts in parallel, every night.

One op per account file under accounts/ (docs/scaling.md, "Many accounts"): `meltano run
tap-datadog-costs--<account> <loader>--<account>` in the prod environment. dagster-meltano runs
the project's Meltano as a command (`meltano` on PATH: the project's .venv/bin), so Dagster lives
in a virtualenv of its own (orchestrate/requirements.txt) beside the project's pinned Meltano.

    PATH=$PWD/.venv/bin:$PATH .dagster/bin/dagster job execute -f orchestrate/dagster_accounts.py
    PATH=$PWD/.venv/bin:$PATH .dagster/bin/dagster dev -f orchestrate/dagster_accounts.py

DATADOG_COSTS_LOADER picks the loader (default target-duckdb); each account's keys are read
from its own variables by its own file, as with Meltano alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, ScheduleDefinition, job
from dagster_meltano import meltano_command_op, meltano_resource

PROJECT = Path(__file__).resolve().parent.parent
ACCOUNTS = sorted(path.name.split(".")[0] for path in (PROJECT / "accounts").glob("*.meltano.yml"))
LOADER = os.environ.get("DATADOG_COSTS_LOADER", "target-duckdb")
MELTANO = meltano_resource.configured({"project_dir": str(PROJECT)})


@job(resource_defs={"meltano": MELTANO})
def every_account() -> None:
    """One extract per account; none waits for another (Dagster runs them in parallel).

    The system database (state) is brought up to date first, once: Meltano runs started side
    by side on a new project would each try to create it, and all but one fail.
    """
    database = meltano_command_op("upgrade database", dagster_name="system_database")()
    for account in ACCOUNTS:
        meltano_command_op(
            f"--environment=prod run tap-datadog-costs--{account} {LOADER}--{account}",
            dagster_name=f"extract_{account.replace('-', '_')}",
        )(after=database)


nightly = ScheduleDefinition(job=every_account, cron_schedule="17 4 * * *")
defs = Definitions(jobs=[every_account], schedules=[nightly])
