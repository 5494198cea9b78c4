"""Datadog's latest answer, per period: what a target holds of each open period, once the tap
has caught up with Datadog's revisions and withdrawals, adds up to."""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from decimal import Decimal

if t.TYPE_CHECKING:
    from simulator import DatadogSimulator

#: Per stream whose open periods Datadog revises: the field naming a row's period, the fields a
#: period's rows are added up by, and the amount added.
PERIOD_SUMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "historical_costs": ("month", ("charge_type",), "cost"),
    "estimated_costs": ("month", ("charge_type",), "cost"),
    "daily_costs": ("month", ("charge_type",), "cost"),
    "projected_costs": ("snapshot_date", ("month", "charge_type"), "cost"),
    "focus_costs": ("BillingPeriodStart", ("x_ChargeType",), "BilledCost"),
    "billable_usage": ("month", ("billable_key",), "org_billable_usage"),
    "cost_attribution": ("month", ("billing_dimension",), "total_cost"),
}
#: FOCUS rows are the committed and on-demand charges, under their FOCUS names.
FOCUS_AS_COSTS = {
    "BillingPeriodStart": "month",
    "x_ChargeType": "charge_type",
    "BilledCost": "cost",
}


def as_day(value: object) -> str:
    """A date-time (text, or a database's datetime) as its day; any other value as text."""
    text = str(value)
    return text[:10] if re.match(r"\d{4}-\d\d-\d\d", text) else text


def period_sums(
    stream: str, rows: t.Iterable[dict[str, t.Any]]
) -> dict[tuple[t.Any, ...], Decimal]:
    """Per period and group (PERIOD_SUMS), the rows' amounts to the cent (zeros left out)."""
    period, by, amount = PERIOD_SUMS[stream]
    sums: dict[tuple[t.Any, ...], Decimal] = {}
    for row in rows:
        key = tuple(as_day(row[field]) for field in (period, *by))
        sums[key] = sums.get(key, Decimal(0)) + Decimal(repr(row[amount] or 0))
    return {key: round(value, 2) for key, value in sums.items() if round(value, 2)}


def latest_answer_rows(
    sim: DatadogSimulator, stream: str, start: dt.datetime
) -> list[dict[str, t.Any]]:
    """The rows Datadog's latest answers hold for ``stream`` from ``start`` to the simulator's
    now (sub-org view, no tag keys), with the fields PERIOD_SUMS adds up."""
    now = sim.now
    historical = sim.expected_costs("historical", start, now, "sub-org")
    estimated = sim.expected_costs("estimated", start, now, "sub-org")
    published = {row["month"] for row in historical}
    final = {row["month"] for row in historical if row["cost_status"] == "final"}
    focus = historical + [row for row in estimated if row["month"] not in published]
    months = [start.replace(day=1, hour=0)]
    while (following := (months[-1] + dt.timedelta(days=32)).replace(day=1)) <= now:
        months.append(following)
    answers = {
        "historical_costs": historical,
        "estimated_costs": estimated,
        "projected_costs": [  # under our charge types' names
            {
                **row,
                "snapshot_date": f"{now:%Y-%m-%d}",
                "charge_type": row["charge_type"].removeprefix("projected_"),
            }
            for row in sim.expected_costs("projected", start, now, "sub-org")
        ],
        # A month closed from final historical cost, else its estimate.
        "daily_costs": [row for row in historical if row["month"] in final]
        + [row for row in estimated if row["month"] not in final],
        "focus_costs": [
            {name: row[ours] for name, ours in FOCUS_AS_COSTS.items()}
            for row in focus
            if row["charge_type"] in ("committed", "on_demand")
        ],
        "billable_usage": [row for month in months for row in sim.expected_billable_usage(month)],
        "cost_attribution": sim.expected_cost_attribution(start, now, []),
    }
    return answers[stream]


def periods_of(stream: str, rows: t.Iterable[dict[str, t.Any]]) -> set[str]:
    """The periods (days, as PERIOD_SUMS keys them) that ``rows`` hold."""
    return {as_day(row[PERIOD_SUMS[stream][0]]) for row in rows}


def assert_periods_add_up_to_the_latest_answer(
    sim: DatadogSimulator,
    stream: str,
    held: t.Iterable[dict[str, t.Any]],
    periods: set[str],
    start: dt.datetime,
) -> None:
    """What a target holds of ``periods`` adds up, per period and group, to Datadog's latest."""
    ours = {k: v for k, v in period_sums(stream, held).items() if k[0] in periods}
    latest = period_sums(stream, latest_answer_rows(sim, stream, start))
    expected = {k: v for k, v in latest.items() if k[0] in periods}
    assert ours == expected, (stream, sorted(set(ours.items()) ^ set(expected.items())))
