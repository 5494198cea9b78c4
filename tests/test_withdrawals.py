"""Lines Datadog stops listing: after any sequence of runs, what a target merging on the key
holds of each open period adds up to Datadog's latest answer for it (withdrawals.py).

Each test runs the tap, lets Datadog (the simulator) revise an open period without a line (a
product, a day, an org), runs again from the first run's state, and merges both runs' records on
their keys, as target-duckdb and target-postgres do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import typing as t
from pathlib import Path

import duckdb
import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.periods import focus_instant
from tap_datadog_costs.tap import TapDatadogCosts
from tap_datadog_costs.withdrawals import STATE_KEY, decode
from tests.support.clock import clock_env
from tests.support.endpoints import PRIMARY_KEYS
from tests.support.latest import PERIOD_SUMS, assert_periods_add_up_to_the_latest_answer, periods_of
from tests.support.loaders import meltano
from tests.support.postgres import psql
from tests.support.records import duplicate_keys, merge_on_keys
from tests.support.running import sync
from tests.support.settings import tap_config

if t.TYPE_CHECKING:
    from tests.support.running import SyncResult

UTC = dt.timezone.utc
START = dt.datetime(2026, 8, 1, tzinfo=UTC)
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=UTC)
NOVEMBER = dt.datetime(2026, 11, 1, tzinfo=UTC)
PARENT, CHILD = "parent00001", "child00002"
COSTS = ("estimated_costs", "daily_costs", "focus_costs")


def run_twice(
    now: dt.datetime,
    revise: t.Callable[[DatadogSimulator], None],
    streams: tuple[str, ...],
    later: dt.datetime | None = None,
) -> tuple[DatadogSimulator, SyncResult, SyncResult]:
    """A run at ``now``; Datadog revises (``revise``); a run at ``later`` from the first's state.

    Returns the simulator of the second run (its latest answers), and both runs.
    """
    config = tap_config("", start_date=START.isoformat())
    with DatadogSimulator(now=now) as sim:
        first = sync({**config, "api_url": sim.url}, now=now, streams=streams)
    with DatadogSimulator(now=later or now) as sim:
        revise(sim)
        second = sync(
            {**config, "api_url": sim.url}, first.final_state, now=later or now, streams=streams
        )
    return sim, first, second


def assert_latest(
    sim: DatadogSimulator, first: SyncResult, second: SyncResult, streams: tuple[str, ...]
) -> None:
    """Every period the second run read adds up, merged on keys, to Datadog's latest answer."""
    for stream in streams:
        assert duplicate_keys(stream, second.records(stream)) == [], stream
        held = merge_on_keys(stream, first.records(stream), second.records(stream)).values()
        periods = periods_of(stream, second.records(stream))
        assert periods, stream
        assert_periods_add_up_to_the_latest_answer(sim, stream, held, periods, START)


def withdrawn(result: SyncResult, stream: str) -> list[dict[str, t.Any]]:
    status = {"focus_costs": "x_CostStatus", "billable_usage": "usage_status"}.get(
        stream, "cost_status"
    )
    return [r for r in result.records(stream) if r[status] == "withdrawn"]


def test_a_product_dropped_from_the_estimate_is_withdrawn_from_every_cost_table() -> None:
    """The review's case: November's estimate stops listing the parent's apm_host line."""
    sim, first, second = run_twice(
        dt.datetime(2026, 11, 20, 12, tzinfo=UTC),
        lambda sim: sim.withdraw("estimated", org=PARENT, product="apm_host", month=NOVEMBER),
        COSTS,
    )
    assert_latest(sim, first, second, COSTS)
    rows = withdrawn(second, "estimated_costs")
    assert {(r["public_id"], r["product_name"]) for r in rows} == {(PARENT, "apm_host")}
    assert {r["charge_type"] for r in rows} == {"committed", "on_demand", "total"}
    assert {r["cost"] for r in rows} == {0.0}
    assert {r["month"] for r in rows} == {NOVEMBER.isoformat()}
    focus = withdrawn(second, "focus_costs")
    assert {(r["SubAccountId"], r["ServiceName"]) for r in focus} == {(PARENT, "apm_host")}
    assert {r["BilledCost"] for r in focus} == {0.0}
    days = withdrawn(second, "daily_costs")
    assert len(days) == 20 * 3  # every day of November so far, three charge types
    # A third run, with nothing withdrawn anew, writes no withdrawing row again.
    with DatadogSimulator(now=sim.now) as again:
        again.withdraw("estimated", org=PARENT, product="apm_host", month=NOVEMBER)
        third = sync(
            tap_config(again.url, start_date=START.isoformat()),
            second.final_state,
            now=sim.now,
            streams=COSTS,
        )
    assert all(withdrawn(third, stream) == [] for stream in COSTS)


def test_a_day_missing_from_the_closing_read_is_withdrawn() -> None:
    """October was read whole on the 10th; the read that closes it (the 20th) has no Oct 15."""
    sim, first, second = run_twice(
        dt.datetime(2026, 11, 10, 12, tzinfo=UTC),
        lambda sim: sim.withdraw("estimated", day=dt.datetime(2026, 10, 15, tzinfo=UTC)),
        ("daily_costs",),
        later=dt.datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    assert_latest(sim, first, second, ("daily_costs",))
    rows = withdrawn(second, "daily_costs")
    assert {r["date"] for r in rows} == {"2026-10-15T00:00:00+00:00"}
    assert {r["cost"] for r in rows} == {0.0}
    assert second.bookmark("daily_costs") == NOVEMBER.isoformat()  # October closed


def test_a_month_published_without_a_product_the_estimate_had_is_withdrawn() -> None:
    """focus_costs read October from estimates on the 2nd; it is published on the 3rd without
    logs_indexed_15day."""
    sim, first, second = run_twice(
        dt.datetime(2026, 11, 2, 12, tzinfo=UTC),
        lambda sim: sim.withdraw("historical", product="logs_indexed_15day", month=OCTOBER),
        ("focus_costs",),
        later=dt.datetime(2026, 11, 5, 12, tzinfo=UTC),
    )
    october = [
        r for r in first.records("focus_costs") if r["BillingPeriodStart"] == focus_instant(OCTOBER)
    ]
    assert {r["x_CostStatus"] for r in october} == {"estimate"}
    assert_latest(sim, first, second, ("focus_costs",))
    rows = withdrawn(second, "focus_costs")
    assert {r["ServiceName"] for r in rows} == {"logs_indexed_15day"}
    assert {r["BillingPeriodStart"] for r in rows} == {focus_instant(OCTOBER)}


@pytest.mark.parametrize(
    ("now", "source", "streams"),
    [
        # An open (preliminary) month of historical cost and billable usage: October on the 10th.
        (dt.datetime(2026, 11, 10, 12, tzinfo=UTC), "historical", ("historical_costs",)),
        (dt.datetime(2026, 11, 10, 12, tzinfo=UTC), "billable", ("billable_usage",)),
        # Cost attribution comes by the 19th and is final from the 20th.
        (dt.datetime(2026, 11, 19, 12, tzinfo=UTC), "attribution", ("cost_attribution",)),
    ],
)
def test_a_line_dropped_from_a_month_not_yet_final_is_withdrawn(
    now: dt.datetime, source: str, streams: tuple[str, ...]
) -> None:
    sim, first, second = run_twice(
        now, lambda sim: sim.withdraw(source, org=CHILD, product="apm_host", month=OCTOBER), streams
    )
    assert_latest(sim, first, second, streams)
    (stream,) = streams
    rows = withdrawn(second, stream)
    assert rows
    assert {r["public_id"] for r in rows} == {CHILD}
    assert {r["month"] for r in rows} == {OCTOBER.isoformat()}


def test_a_withdrawn_org_leaves_every_open_period_and_the_organizations_table() -> None:
    """On the 20th child00002 is gone from this month's answers and from the org list."""
    streams = (*COSTS, "projected_costs", "billable_usage", "organizations")

    def withdraw_child(sim: DatadogSimulator) -> None:
        sim.withdraw(org=CHILD, month=NOVEMBER)
        sim.withdraw("summary", org=CHILD)

    sim, first, second = run_twice(
        dt.datetime(2026, 11, 20, 12, tzinfo=UTC), withdraw_child, streams
    )
    assert_latest(sim, first, second, tuple(s for s in streams if s in PERIOD_SUMS))
    for stream in (*COSTS, "projected_costs"):
        assert {r["public_id"] for r in withdrawn(second, stream) if "public_id" in r} <= {CHILD}
        assert withdrawn(second, stream), stream
    orgs = merge_on_keys(
        "organizations", first.records("organizations"), second.records("organizations")
    )
    assert {k[0]: v["org_status"] for k, v in orgs.items()} == {
        PARENT: "listed",
        "child00001": "listed",
        CHILD: "withdrawn",
    }
    assert orgs[(CHILD,)]["name"] is None


def test_a_projection_read_twice_a_day_withdraws_what_the_second_read_dropped() -> None:
    now = dt.datetime(2026, 11, 20, 9, tzinfo=UTC)
    sim, first, second = run_twice(
        now,
        lambda sim: sim.withdraw("projected", product="apm_host"),
        ("projected_costs",),
        later=now + dt.timedelta(hours=5),
    )
    assert_latest(sim, first, second, ("projected_costs",))
    assert {r["product_name"] for r in withdrawn(second, "projected_costs")} == {"apm_host"}


def test_the_state_keeps_the_keys_of_open_periods_only() -> None:
    """On the 20th October is final (historical cost, daily cost, FOCUS): only November stays."""
    now = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
    with DatadogSimulator(now=now) as sim:
        result = sync(tap_config(sim.url, start_date=START.isoformat()), now=now)
    bookmarks = result.final_state["bookmarks"]
    kept = {
        stream: sorted(bookmarks[stream][STATE_KEY]["periods"])
        for stream in bookmarks
        if STATE_KEY in bookmarks[stream]
    }
    november = f"sub-org|{NOVEMBER.isoformat()}"
    assert kept == {
        "estimated_costs": [f"sub-org|{OCTOBER.isoformat()}", november],  # both re-read daily
        "daily_costs": [november],
        "focus_costs": [f"sub-org|{focus_instant(NOVEMBER)}"],  # FOCUS spells it with a Z
        "projected_costs": ["sub-org|2026-11-20T00:00:00+00:00"],
        "billable_usage": [f"|{NOVEMBER.isoformat()}"],  # October is final with historical cost
        "historical_costs": [],  # November is not published yet; October is final
        "cost_attribution": [],  # October is final from the 20th
        "organizations": ["|"],
    }
    for stream, periods in kept.items():
        entry = bookmarks[stream][STATE_KEY]
        for period in periods:
            keys = decode(entry["periods"][period], len(entry["fields"]))
            rows = result.records(stream)
            period_field = PERIOD_SUMS.get(stream, (None,))[0]
            emitted = {
                tuple(r[f] for f in entry["fields"])
                for r in rows
                if period_field is None or r[period_field] == period.split("|")[1]
            }
            assert keys == emitted, (stream, period)
    assert len(json.dumps(result.final_state)) < 20_000


def test_a_null_cost_on_a_months_last_day_is_unknown_not_zero() -> None:
    """Datadog lists October 31 with ``cost: null``: that day's own cost stays null, the
    adjustment is taken from the last known total, and October still adds up to its final cost."""
    sim, first, second = run_twice(
        dt.datetime(2026, 11, 10, 12, tzinfo=UTC),
        lambda sim: sim.unknown_cost("estimated", day=dt.datetime(2026, 10, 31, tzinfo=UTC)),
        ("daily_costs",),
        later=dt.datetime(2026, 11, 20, 12, tzinfo=UTC),
    )
    assert_latest(sim, first, second, ("daily_costs",))
    last_day = [
        r
        for r in second.records("daily_costs")
        if r["date"] == "2026-10-31T00:00:00+00:00" and r["row_type"] == "day"
    ]
    assert last_day
    assert {(r["cost"], r["cumulative_cost"]) for r in last_day} == {(None, None)}


# ---- the loaders we document, over two scheduled runs a day apart -------------------------
RUN_1 = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)
RUN_2 = RUN_1 + dt.timedelta(days=1)
LOADERS = ("target-duckdb", "target-postgres", "target-jsonl")
#: The field that says when the run that wrote a row read it.
READ_AT = {"focus_costs": "x_ReadAt"}
#: Every field of each stream, as the tap names them.
STREAM_FIELDS = {
    stream.name: tuple(stream.schema["properties"])
    for stream in TapDatadogCosts(config=tap_config("http://127.0.0.1")).streams.values()
}


def withdraw_a_product_a_day_and_an_org(sim: DatadogSimulator) -> None:
    """November's estimate without the parent's apm_host, Nov 15 gone from the daily answers,
    and child00002 gone from November and from the org list."""
    sim.withdraw("estimated", org=PARENT, product="apm_host", month=NOVEMBER)
    sim.withdraw("estimated", day=dt.datetime(2026, 11, 15, tzinfo=UTC))
    sim.withdraw(org=CHILD, month=NOVEMBER)
    sim.withdraw("summary", org=CHILD)


def held_rows(loader: str, stream: str, place: dict[str, str]) -> list[dict[str, t.Any]]:
    """What the loader holds of ``stream``: the table's live rows, or JSONL files merged on
    their keys, oldest run first. Columns under the stream's names (target-duckdb folds case)."""
    if loader == "target-duckdb":
        names = {name.lower(): name for name in STREAM_FIELDS[stream]}
        with duckdb.connect(place["TARGET_DUCKDB_FILEPATH"], read_only=True) as connection:
            cursor = connection.execute(f'select * from datadog."{stream}"')
            columns = [names.get(column[0], column[0]) for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    if loader == "target-postgres":
        schema = place["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"]
        lines = psql(
            place["TARGET_POSTGRES_SQLALCHEMY_URL"],
            f'select row_to_json(t) from {schema}."{stream}" as t',
        )
        rows = [json.loads(line[0]) for line in lines]
        return [row for row in rows if row.get("_sdc_deleted_at") is None]  # ACTIVATE_VERSION
    files = sorted(Path(place["TARGET_JSONL_DESTINATION_PATH"]).glob(f"{stream}-*.jsonl"))
    merged = {}  # each key's latest row, as a consumer merging on the key keeps it
    for file in files:
        for line in file.read_text().splitlines():
            row = json.loads(line)
            merged[tuple(row[key] for key in PRIMARY_KEYS[stream])] = row
    return list(merged.values())


@pytest.mark.e2e  # Meltano runs into each loader
@pytest.mark.parametrize("loader", LOADERS)
def test_two_scheduled_runs_leave_every_open_period_equal_to_datadogs_latest_answer(
    loader: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The review's case, as a user runs it: `meltano run` a day apart, into each loader."""
    place = {
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "costs.duckdb"),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": f"withdrawals_{loader.split('-')[1]}",
    }
    if loader == "target-postgres":
        place["TARGET_POSTGRES_SQLALCHEMY_URL"] = request.getfixturevalue("postgres")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_DATADOG_COSTS_")},
        **place,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_DATADOG_COSTS_START_DATE": OCTOBER.isoformat(),
    }
    for now in (RUN_1, RUN_2):
        with DatadogSimulator(now=now) as sim:
            if now == RUN_2:
                withdraw_a_product_a_day_and_an_org(sim)
            run_env = {**clock_env(now, env), "TAP_DATADOG_COSTS_API_URL": sim.url}
            meltano("--environment=dev", "run", "tap-datadog-costs", loader, env=run_env)
    for stream in PERIOD_SUMS:
        rows = held_rows(loader, stream, place)
        read_at = READ_AT.get(stream, "read_at")
        latest = max(str(row[read_at]) for row in rows)
        periods = periods_of(stream, [row for row in rows if str(row[read_at]) == latest])
        assert periods, stream
        assert_periods_add_up_to_the_latest_answer(sim, stream, rows, periods, OCTOBER)
    orgs = {
        row["public_id"]: row["org_status"] for row in held_rows(loader, "organizations", place)
    }
    assert orgs == {PARENT: "listed", "child00001": "listed", CHILD: "withdrawn"}
