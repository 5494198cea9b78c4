"""Two scheduled runs a day apart into DuckDB, with lines Datadog stops listing in between.

The review's case, as a user runs it: the standalone tap piped into target-duckdb (which merges
on the key and ignores ACTIVATE_VERSION), on the 20th and the 21st of November at 12:00 UTC
(libfaketime; the simulator at the same instants). Between the runs Datadog's November estimate
stops listing the parent org's apm_host line, Nov 15 is missing from the daily answers, and
child org child00002 is gone from November. Prints, per table, November's sum in DuckDB after
the second run beside Datadog's latest answer for it.

``--tap DIR`` runs the tap of another checkout (say, a worktree of an older commit), so that the
figures before and after a change come from one command.
Usage: .venv/bin/python benchmarks/withdrawn_lines.py [--tap DIR] [--orgs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import PARENT_KEYS, DatadogSimulator  # noqa: E402

UTC = dt.timezone.utc
RUNS = (dt.datetime(2026, 11, 20, 12, tzinfo=UTC), dt.datetime(2026, 11, 21, 12, tzinfo=UTC))
NOVEMBER = dt.datetime(2026, 11, 1, tzinfo=UTC)
TARGET = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "target-duckdb"
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
#: Per table: the query of its November rows' amount in DuckDB (the whole account: sub-org view).
TABLES = {
    "estimated_costs": (
        "select sum(cost) from datadog.estimated_costs where view = 'sub-org' "
        "and charge_type = 'total' and month = '2026-11-01'"
    ),
    "daily_costs": (
        "select sum(cost) from datadog.daily_costs where view = 'sub-org' "
        "and charge_type = 'total' and month = '2026-11-01'"
    ),
    "focus_costs": (
        'select sum("BilledCost") from datadog.focus_costs where "x_View" = \'sub-org\' '
        "and \"BillingPeriodStart\" = '2026-11-01'"
    ),
}


def withdraw(sim: DatadogSimulator) -> None:
    """The lines Datadog stops listing between the runs."""
    sim.withdraw("estimated", org="parent00001", product="apm_host", month=NOVEMBER)
    sim.withdraw("estimated", day=dt.datetime(2026, 11, 15, tzinfo=UTC))
    sim.withdraw(org="child00002", month=NOVEMBER)


def run(tap: Path, sim: DatadogSimulator, now: dt.datetime, work: Path) -> None:
    """`tap --config --state | target-duckdb` at ``now``; the state written back for the next."""
    config = work / "tap.json"
    config.write_text(
        json.dumps(
            {
                "api_key": PARENT_KEYS[0],
                "app_key": PARENT_KEYS[1],
                "api_url": sim.url,
                "start_date": "2026-10-01T00:00:00Z",
                "progress_seconds": 3600,
            }
        )
    )
    target = work / "target.json"
    target.write_text(
        json.dumps({"filepath": str(work / "costs.duckdb"), "default_target_schema": "datadog"})
    )
    state = work / "state.json"
    env = {**os.environ, "PYTHONPATH": str(tap), "LD_PRELOAD": FAKETIME, "TZ": "UTC",
           "FAKETIME": f"@{now:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
    command = [sys.executable, "-m", "tap_datadog_costs", "--config", str(config)]
    if state.exists():
        command += ["--state", str(state)]
    tap_run = subprocess.run(command, env=env, capture_output=True, check=True, cwd=tap)
    loaded = subprocess.run(
        [str(TARGET), "--config", str(target)], input=tap_run.stdout, capture_output=True,
        check=True,
    )  # fmt: skip
    states = [line for line in loaded.stdout.decode().splitlines() if line.strip()]
    state.write_text(states[-1])


def main() -> None:  # noqa: D103 - the module docstring says it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tap", type=Path, default=ROOT, help="the checkout whose tap runs")
    parser.add_argument("--orgs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for now in RUNS:
            with DatadogSimulator(now=now, child_orgs=args.orgs - 1) as sim:
                if now == RUNS[1]:
                    withdraw(sim)
                run(args.tap.resolve(), sim, now, work)
                latest = sim.expected_costs("estimated", NOVEMBER, NOVEMBER, "sub-org")
        answer = sum(Decimal(repr(r["cost"])) for r in latest if r["charge_type"] == "total")
        when = f"{RUNS[1]:%Y-%m-%d %H:%M} UTC"
        print(f"November after run 2 ({when}), {args.orgs} orgs, tap of {args.tap}:")
        print(f"  {'table':<16} {'in DuckDB':>14} {'Datadog latest':>15}")
        with duckdb.connect(str(work / "costs.duckdb"), read_only=True) as connection:
            for table, query in TABLES.items():
                (held,) = connection.execute(query).fetchone()  # type: ignore[misc]
                print(f"  {table:<16} {held:>14,.2f} {answer:>15,.2f}")


if __name__ == "__main__":
    main()
