"""The date matrix: the tap's CLI, end to end, on each day its calendar rules turn on.

At each instant a simulator starts there and the CLI runs under libfaketime at the same instant
(no end_date: the tap's own clock ends the extract): every stream over the 40 days before it,
then a second run about a day later, against a simulator then, resuming from the first run's
last STATE. Each run's rows, and what a target merging on the keys holds after both, are checked
against the simulator's oracle (``expected_*``): every row, no key twice, each month's status,
projections only from the 12th, daily cost of a closed month adding up to historical cost to
the cent, and every bookmark where the next run must start (never past a month that can still
change, nor an hour not read). One `meltano run` into DuckDB on the 17th counts the rows landed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import typing as t
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal

import duckdb
import pytest

from simulator import PARENT_ID, DatadogSimulator
from tests.support.clock import clock_env
from tests.support.endpoints import PRIMARY_KEYS
from tests.support.loaders import meltano, records_emitted, table_counts
from tests.support.logs import starting_bookmarks
from tests.support.records import data_of, duplicate_keys, merge_on_keys
from tests.support.running import SyncResult, parse_messages, run_cli
from tests.support.settings import tap_config

if t.TYPE_CHECKING:
    from pathlib import Path

UTC = dt.timezone.utc
Row = dict[str, t.Any]
#: Days each matrix entry extracts before its first instant.
DAYS = 40
#: One product family: hourly usage, read whole elsewhere, stays a few thousand rows.
FAMILIES = ["infra_hosts"]
LOOKBACK = dt.timedelta(hours=72)  # lookback_hours' default
#: The documented days: historical cost (and billable usage, daily cost, FOCUS) is final from
#: the 17th of the next month, cost attribution from the 20th, projected cost comes from the 12th.
FINAL_DAY, ATTRIBUTED_DAY, PROJECTED_DAY = 17, 20, 12


def at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Entry:
    """The first run's instant, the second's (about a day later), and include_descendants:
    child orgs (hourly usage in 24-hour windows, cost per org) or the parent's view (two-month
    windows, the account's cost as one row)."""

    first: dt.datetime
    second: dt.datetime
    descendants: bool = True


MATRIX = {
    "1st": Entry(at(2026, 11, 1), at(2026, 11, 2, 1)),  # October ended, not published yet
    "12th": Entry(at(2026, 11, 12, 9), at(2026, 11, 13, 10), descendants=False),  # projection
    "16th": Entry(at(2026, 11, 16, 12), at(2026, 11, 17, 13)),  # October final on the 2nd run
    "17th": Entry(at(2026, 11, 17), at(2026, 11, 18, 1), descendants=False),  # final at 00:00
    "19th": Entry(at(2026, 11, 19, 6), at(2026, 11, 20, 7)),  # October attributed, final next day
    "20th": Entry(at(2026, 11, 20), at(2026, 11, 21, 1)),  # October's attribution final
    "last day": Entry(at(2027, 2, 28, 23), at(2027, 3, 2)),  # a short month ends between runs
    "January 1st": Entry(at(2027, 1, 1), at(2027, 1, 2, 1), descendants=False),  # the year turns
}


# ---- calendar, as the README states it ----------------------------------------------------
def month_of(instant: dt.datetime) -> dt.datetime:
    return dt.datetime(instant.year, instant.month, 1, tzinfo=UTC)


def add_months(month: dt.datetime, count: int) -> dt.datetime:
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return dt.datetime(year, index + 1, 1, tzinfo=UTC)


def previous_month(instant: dt.datetime) -> dt.datetime:
    return add_months(month_of(instant), -1)


def months(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Months from ``first``'s to ``last``'s, both included."""
    found, month = [], month_of(first)
    while month <= last:
        found.append(month)
        month = add_months(month, 1)
    return found


def final(month: dt.datetime, now: dt.datetime, day: int = FINAL_DAY) -> bool:
    """Whether ``month`` read at ``now`` is final: from ``day`` of the next month."""
    return now >= add_months(month, 1).replace(day=day)


def iso(instant: dt.datetime) -> str:
    return instant.isoformat()


def cents(amount: float | None) -> Decimal:
    return round(Decimal(repr(amount or 0)), 2)


def frozen(value: t.Any) -> t.Hashable:
    """A row (or any JSON value) as a hashable value, equal when the JSON is."""
    if isinstance(value, dict):
        return tuple(sorted((key, frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(frozen(item) for item in value)
    return t.cast("t.Hashable", value)


def as_counter(rows: t.Iterable[Row]) -> Counter[t.Hashable]:
    """Rows as a multiset, without the fields saying when they were read."""
    return Counter(frozen(data_of(row)) for row in rows)


# ---- running the CLI -----------------------------------------------------------------------
@dataclasses.dataclass
class Oracle:
    """What Datadog (the simulator, at its instant) has for a run with these settings."""

    sim: DatadogSimulator
    descendants: bool

    @property
    def now(self) -> dt.datetime:
        return self.sim.now

    def costs(self, kind: str, first: dt.datetime, last: dt.datetime) -> list[Row]:
        view = "sub-org" if self.descendants else "summary"
        return self.sim.expected_costs(kind, first, last, view)

    def hourly_usage(self, first: dt.datetime) -> list[Row]:
        return self.sim.expected_hourly_usage(first, self.now, self.descendants, FAMILIES)

    def cost_attribution(self, first: dt.datetime, last: dt.datetime) -> list[Row]:
        rows = self.sim.expected_cost_attribution(first, last, []) if first <= last else []
        return [row for row in rows if self.descendants or row["public_id"] == PARENT_ID]


@dataclasses.dataclass
class Extract:
    """One CLI run: its messages and log, and what Datadog had."""

    oracle: Oracle
    result: SyncResult
    log: str

    def rows(self, stream: str) -> list[Row]:
        return self.by_stream.get(stream, [])

    @functools.cached_property
    def by_stream(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = defaultdict(list)
        for message in self.result.messages:
            if message["type"] == "RECORD":
                grouped[message["stream"]].append(message["record"])
        return grouped

    @property
    def bookmarks(self) -> dict[str, str]:
        return {
            stream: value["replication_key_value"]
            for stream, value in self.result.final_state["bookmarks"].items()
            if value.get("replication_key_value")
        }


def extract(
    oracle: Oracle, start: dt.datetime, tmp_path: Path, state: dict[str, t.Any] | None
) -> Extract:
    """The CLI at the simulator's instant, from ``state`` if given (as `--state`)."""
    arguments: tuple[str, ...] = ()
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        arguments = ("--state", str(tmp_path / "state.json"))
    config = tap_config(
        oracle.sim.url,
        start_date=iso(start),
        include_descendants=oracle.descendants,
        product_families=FAMILIES,
        progress_seconds=3600,
    )
    done = run_cli(*arguments, config=config, tmp_path=tmp_path, now=oracle.now)
    assert done.returncode == 0, done.stderr[-3000:]
    return Extract(oracle, SyncResult(parse_messages(done.stdout)), done.stderr.decode())


def first_and_second(entry: Entry, tmp_path: Path) -> list[Extract]:
    """A first extract at the entry's first instant, then a run from its state at the second."""
    start = entry.first - dt.timedelta(days=DAYS)
    runs: list[Extract] = []
    for instant in (entry.first, entry.second):
        with DatadogSimulator(now=instant) as sim:
            state = runs[-1].result.final_state if runs else None
            runs.append(extract(Oracle(sim, entry.descendants), start, tmp_path, state))
    return runs


@pytest.fixture(scope="module")
def extracts(
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[dict[str, Future[list[Extract]]]]:
    """Every entry's two runs, two entries at a time (each run is a process of its own)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {
            name: pool.submit(first_and_second, entry, tmp_path_factory.mktemp("dates"))
            for name, entry in MATRIX.items()
        }


# ---- each stream against the oracle ------------------------------------------------------
# Each check takes what Datadog had at the last run, what a target holds (one run's rows, or
# both runs' merged on the keys), and the first month (or hour) those rows start from.
def check_hourly_usage(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    expected = oracle.hourly_usage(first)
    assert expected
    assert as_counter(rows) == as_counter(expected)


def check_historical_costs(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    expected = oracle.costs("historical", first, oracle.now)
    assert as_counter(rows) == as_counter(expected)
    for row in rows:
        month = dt.datetime.fromisoformat(row["month"])
        assert row["cost_status"] == ("final" if final(month, oracle.now) else "preliminary"), row


def check_estimated_costs(oracle: Oracle, rows: list[Row]) -> None:
    current = month_of(oracle.now)
    expected = oracle.costs("estimated", add_months(current, -1), current)
    assert {row["month"] for row in expected} == {iso(add_months(current, -1)), iso(current)}
    assert as_counter(rows) == as_counter(expected)


def check_mappings(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    mappings = oracle.sim.expected_mappings
    expected = [row for month in months(first, oracle.now) for row in mappings(month)]
    assert as_counter(rows) == as_counter(expected)


def check_billable_usage(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    billable = oracle.sim.expected_billable_usage  # every org: the endpoint has no view
    expected = [row for month in months(first, oracle.now) for row in billable(month)]
    assert expected
    ours = {(r["month"], r["public_id"], r["billable_key"]): r for r in rows}
    assert len(ours) == len(rows) == len(expected)
    for row in expected:
        mine = ours[(row["month"], row["public_id"], row["billable_key"])]
        assert {field: mine[field] for field in row} == row
        month = dt.datetime.fromisoformat(row["month"])
        assert mine["usage_status"] == ("final" if final(month, oracle.now) else "preliminary")


def check_cost_attribution(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    last_month = add_months(month_of(oracle.now), -1)  # this month is never attributed yet
    expected = oracle.cost_attribution(first, last_month)
    ours = {(r["month"], r["public_id"], r["billing_dimension"]): r for r in rows}
    assert len(ours) == len(rows) == len(expected)
    for row in expected:
        mine = ours[(row["month"], row["public_id"], row["billing_dimension"])]
        assert mine["tag_set"] == "(no breakdown)"
        assert {field: mine[field] for field in row} == row
        month = dt.datetime.fromisoformat(row["month"])
        status = "final" if final(month, oracle.now, ATTRIBUTED_DAY) else "preliminary"
        assert mine["cost_status"] == status


def check_active_billing_dimensions(oracle: Oracle, rows: list[Row]) -> None:
    current = iso(month_of(oracle.now))
    dimensions = {row["billing_dimension"] for row in oracle.sim.expected_mappings(current)}
    assert {(r["month"], r["billing_dimension"]) for r in rows} == {
        (current, dimension) for dimension in dimensions
    }


PROJECTED_CHARGES = {"projected_committed": "committed", "projected_on_demand": "on_demand"}


def check_projected_costs(oracle: Oracle, rows: list[Row]) -> None:
    """Datadog projects this month from the 12th: one snapshot, dated today, in our charges."""
    current = month_of(oracle.now)
    if oracle.now.day < PROJECTED_DAY:
        assert rows == []
        return
    expected = {
        (r["public_id"], r["product_name"], PROJECTED_CHARGES.get(r["charge_type"], "total")): r
        for r in oracle.costs("projected", current, current)
    }
    assert {(r["public_id"], r["product_name"], r["charge_type"]): r["cost"] for r in rows} == {
        key: row["cost"] for key, row in expected.items()
    }
    today = iso(oracle.now.replace(hour=0))
    assert {(r["snapshot_date"], r["month"], r["cost_status"]) for r in rows} == {
        (today, iso(current), "projection")
    }


def check_daily_costs(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    """Every day of each month from ``first``, each day's cost adding up to Datadog's
    month-to-date total (the estimate, for a month Datadog still serves by day); a final month
    closed by one adjustment per charge, adding up to historical cost to the cent.
    """
    served = {add_months(month_of(oracle.now), -1), month_of(oracle.now)}
    read = months(first, oracle.now)
    assert {r["month"] for r in rows} == {iso(month) for month in read}
    for month in read:
        own = sorted((r for r in rows if r["month"] == iso(month)), key=lambda r: r["date"])
        days = [r for r in own if r["row_type"] == "day"]
        last_day = min(add_months(month, 1) - dt.timedelta(days=1), oracle.now.replace(hour=0))
        assert sorted({r["date"] for r in days}) == [
            iso(month + dt.timedelta(days=n)) for n in range((last_day - month).days + 1)
        ]
        running: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
        for row in days:
            key = (row["public_id"], row["product_name"], row["charge_type"])
            running[key] += Decimal(repr(row["cost"]))
            assert round(running[key], 2) == cents(row["cumulative_cost"]), row
        if month in served:  # the last day read holds the month's estimate so far
            assert {k: round(v, 2) for k, v in running.items()} == {
                (r["public_id"], r["product_name"], r["charge_type"]): cents(r["cost"])
                for r in oracle.costs("estimated", month, month)
            }
        adjustments = [r for r in own if r["row_type"] == "adjustment"]
        if not final(month, oracle.now):
            assert adjustments == []
            assert {r["cost_status"] for r in own} == {"estimate"}
            continue
        assert {r["date"] for r in adjustments} == {
            iso(add_months(month, 1) - dt.timedelta(days=1))
        }
        assert len(adjustments) == len(running)  # one per org, product and charge type
        closed: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
        for row in own:
            closed[(row["public_id"], row["product_name"], row["charge_type"])] += Decimal(
                repr(row["cost"])
            )
        historical = oracle.costs("historical", month, month)
        assert {k: round(v, 2) for k, v in closed.items()} == {
            (r["public_id"], r["product_name"], r["charge_type"]): cents(r["cost"])
            for r in historical
        }  # to the cent
        assert {r["cost_status"] for r in own} == {"final"}


def check_focus_costs(oracle: Oracle, rows: list[Row], first: dt.datetime) -> None:
    """Per month, org and product: historical cost once published, else the estimate."""
    expected: dict[tuple[str, ...], Row] = {}
    for month in months(first, oracle.now):
        source = oracle.costs("historical", month, month) or oracle.costs("estimated", month, month)
        assert source, month
        for row in source:
            if row["charge_type"] != "total":
                key = (row["month"], row["public_id"], row["product_name"], row["charge_type"])
                expected[key] = row
    ours = {
        (
            r["BillingPeriodStart"].replace("Z", "+00:00"),  # FOCUS spells UTC with a Z
            r["SubAccountId"],
            r["ServiceName"],
            r["x_ChargeType"],
        ): r
        for r in rows
    }
    assert len(ours) == len(rows)
    assert {key: (r["BilledCost"], r["x_CostStatus"]) for key, r in ours.items()} == {
        key: (r["cost"], r["cost_status"]) for key, r in expected.items()
    }


def check_all(oracle: Oracle, held: dict[str, list[Row]], first: dict[str, dt.datetime]) -> None:
    """Every stream a target holds, against the oracle."""
    check_hourly_usage(oracle, held["hourly_usage"], first["hourly_usage"])
    check_historical_costs(oracle, held["historical_costs"], first["historical_costs"])
    check_estimated_costs(oracle, held["estimated_costs"])
    check_mappings(oracle, held["billing_dimension_mappings"], first["billing_dimension_mappings"])
    check_billable_usage(oracle, held["billable_usage"], first["billable_usage"])
    check_cost_attribution(oracle, held["cost_attribution"], first["cost_attribution"])
    check_active_billing_dimensions(oracle, held["active_billing_dimensions"])
    check_projected_costs(oracle, held["projected_costs"])
    check_daily_costs(oracle, held["daily_costs"], first["daily_costs"])
    check_focus_costs(oracle, held["focus_costs"], first["focus_costs"])
    expected_orgs = oracle.sim.expected_organizations(first["organizations"], oracle.now)
    assert as_counter(held["organizations"]) == as_counter(expected_orgs)


def expected_bookmarks(extract: Extract) -> dict[str, str]:
    """Where the next run must start: the first month that can still change, the latest hour
    read, this month's dimensions and today's projection."""
    now = extract.oracle.now
    current = month_of(now)
    previous = add_months(current, -1)
    closing = iso(current if final(previous, now) else previous)
    bookmarks = {
        "hourly_usage": max(r["timestamp"] for r in extract.rows("hourly_usage")),
        "billing_dimension_mappings": iso(current),
        "historical_costs": closing,
        "daily_costs": closing,
        "billable_usage": closing,
        "focus_costs": closing.replace("+00:00", "Z"),  # FOCUS spells UTC with a Z
        "cost_attribution": iso(current if final(previous, now, ATTRIBUTED_DAY) else previous),
        "active_billing_dimensions": iso(current),
    }
    if now.day >= PROJECTED_DAY:
        bookmarks["projected_costs"] = iso(now.replace(hour=0))
    return bookmarks


@pytest.mark.parametrize("name", MATRIX)
def test_two_runs_a_day_apart_hold_exactly_what_datadog_has(
    extracts: dict[str, Future[list[Extract]]], name: str
) -> None:
    start = MATRIX[name].first - dt.timedelta(days=DAYS)
    runs = extracts[name].result()
    first, second = runs

    # Datadog serves cost by day for the previous month and this one only.
    from_start = dict.fromkeys(PRIMARY_KEYS, month_of(start)) | {
        "hourly_usage": start,
        "daily_costs": max(month_of(start), previous_month(first.oracle.now)),
    }
    check_all(first.oracle, {s: first.rows(s) for s in PRIMARY_KEYS}, from_start)
    assert first.bookmarks == expected_bookmarks(first)
    assert set(starting_bookmarks(first.log).values()) == {None}  # a first extract

    # The second run starts where the first run's bookmarks say, and ends where it must.
    resumed = {s: v for s, v in starting_bookmarks(second.log).items() if v is not None}
    assert resumed == {s: v for s, v in first.bookmarks.items() if s in resumed}
    assert set(first.bookmarks) - set(resumed) <= {"projected_costs", "active_billing_dimensions"}
    from_bookmarks = {
        **from_start,
        **{s: month_of(dt.datetime.fromisoformat(v)) for s, v in first.bookmarks.items()},
        "hourly_usage": dt.datetime.fromisoformat(first.bookmarks["hourly_usage"]) - LOOKBACK,
        "daily_costs": max(
            dt.datetime.fromisoformat(first.bookmarks["daily_costs"]),
            previous_month(second.oracle.now),
        ),
    }
    check_all(second.oracle, {s: second.rows(s) for s in PRIMARY_KEYS}, from_bookmarks)
    assert second.bookmarks == expected_bookmarks(second) | {
        s: v for s, v in first.bookmarks.items() if s not in expected_bookmarks(second)
    }

    # What a target merging on the keys holds after both runs: all of it, each key once.
    for run in runs:
        for stream in PRIMARY_KEYS:
            assert duplicate_keys(stream, run.rows(stream)) == [], stream
    held = {
        stream: list(merge_on_keys(stream, first.rows(stream), second.rows(stream)).values())
        for stream in PRIMARY_KEYS
    }
    # Streams read whole each run are what the last run read (a merging target also keeps an
    # older month's estimate, snapshot and dimensions beside them: README, estimated_costs).
    for stream in ("estimated_costs", "projected_costs", "active_billing_dimensions"):
        held[stream] = second.rows(stream)
    check_all(second.oracle, held, from_start)


@pytest.mark.e2e  # a Meltano run into DuckDB
def test_meltano_into_duckdb_on_the_17th_lands_every_row_and_closes_october(
    tmp_path: Path,
) -> None:
    instant = at(2026, 11, 17)
    with DatadogSimulator(now=instant) as sim:
        env = {
            **clock_env(sim.now),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_DATADOG_COSTS_API_URL": sim.url,
            "TAP_DATADOG_COSTS_START_DATE": iso(instant - dt.timedelta(days=DAYS)),
            "TAP_DATADOG_COSTS_PRODUCT_FAMILIES": json.dumps(FAMILIES),
            "TARGET_DUCKDB_FILEPATH": str(tmp_path / "costs.duckdb"),
        }
        log = meltano(
            "--environment=dev", "run", "tap-datadog-costs", "target-duckdb", env=env, json_log=True
        )
        october = sim.expected_costs("historical", "2026-10", "2026-10", "sub-org")
    sent = records_emitted(log)
    assert set(sent) == set(PRIMARY_KEYS)  # projected cost too: it is after the 12th
    assert table_counts(tmp_path / "costs.duckdb") == sent
    with duckdb.connect(str(tmp_path / "costs.duckdb"), read_only=True) as connection:
        closed = connection.execute(
            "select public_id, product_name, charge_type, sum(cost), "
            "string_agg(distinct cost_status, ',') from datadog.daily_costs "
            "where month = '2026-10-01' group by all"
        ).fetchall()
    assert {
        (org, product, charge): (cents(total), status)
        for org, product, charge, total, status in closed
    } == {
        (r["public_id"], r["product_name"], r["charge_type"]): (cents(r["cost"]), "final")
        for r in october
    }
