"""The cost of each day: Datadog's month-to-date running totals turned into each day's own cost.

``GET /api/v2/usage/estimated_cost`` with ``start_date``/``end_date`` and
``cost_aggregation=cumulative`` answers, per org and day, month-to-date totals: the cost of a
day is its total minus the day before's (the first day of a month is its own total). Datadog
serves the current and previous month only, and revises them until the month's historical cost
is final: every open month is read again whole, every run. Once historical cost is final (read
after the 16th of the next month, with rows), the month's daily rows are read one last time and
one ``adjustment`` row per org, product and charge type, on the month's last day, carries the
difference to the final cost, so the month's rows add up to historical cost to the cent.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from decimal import Decimal
from operator import itemgetter

from typing_extensions import override

from tap_datadog_costs.periods import (
    add_months,
    day_param,
    day_start,
    estimated_cost_months,
    isoformat,
    parse_instant,
)
from tap_datadog_costs.schemas import extend_schema
from tap_datadog_costs.streams.costs import (
    CostStream,
    EstimatedCostsStream,
    HistoricalCostsStream,
)
from tap_datadog_costs.streams.monthly import ClosedByHistoricalCostStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: A row's cost key within its month: whose, which product, which charge.
CHARGE_KEY = itemgetter("public_id", "product_name", "charge_type")


def difference(after: float | None, before: float | None) -> float | None:
    """``after - before`` as the decimals Datadog wrote; None when ``after`` is unknown."""
    if after is None:
        return None
    return float(Decimal(repr(after)) - Decimal(repr(before or 0)))


class DailyCostsStream(ClosedByHistoricalCostStream, CostStream):
    """One row per day, view, org, product and charge type, and a final month's adjustments.

    A day row has the day's own cost and the running month-to-date total beside it.
    """

    name = "daily_costs"
    path = EstimatedCostsStream.path  # by day: answers of its own, not shared
    primary_keys = ("date", "view", "public_id", "product_name", "charge_type", "row_type")
    schema = extend_schema(
        CostStream.schema,
        {
            "date": {
                "type": ["string"],
                "format": "date-time",
                "description": "The day (its first instant, UTC).",
            },
            "row_type": {
                "type": ["string"],
                "enum": ["day", "adjustment"],
                "description": "day: the day's own cost; adjustment: on a final month's last "
                "day, the final cost minus the days' sum (so the month adds up to it).",
            },
            "cost": {
                "type": ["number", "null"],
                "description": "The day's own cost: its month-to-date total minus the day "
                "before's (an adjustment row: final minus the month's last total).",
            },
            "cumulative_cost": {
                "type": ["number", "null"],
                "description": "Month-to-date total at the end of the day, as Datadog sends it "
                "(an adjustment row: the month's final cost).",
            },
            "cost_status": {
                "type": ["string"],
                "enum": ["estimate", "final", WITHDRAWN],
                "description": "estimate: the month is open and its days can still change; "
                "final: the month's historical cost is final and its rows add up to it; "
                "withdrawn: a day an earlier read listed that a later read no longer does, "
                "with cost 0.",
            },
        },
        required=("date", "row_type"),
    )

    @override
    def available_from(self, now: dt.datetime) -> dt.datetime:
        """Datadog serves daily cost for the previous and the current month only."""
        return estimated_cost_months(now)[0]

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """As every monthly stream; first, one warning if an open month is out of reach."""
        bookmark = self.saved_bookmark(context)
        oldest = self.available_from(self.datadog_tap.now)
        if bookmark is not None and parse_instant(bookmark) < oldest:
            self.logger.warning(
                "daily_costs: %s was still open at the last run, and Datadog no longer serves "
                "it by day: its days stay as last read, without adjustment rows (a run between "
                "the 17th and the end of the next month closes a month)",
                bookmark[:7],
            )
        return super().read_records(context)

    @override
    def cost_status(self, month: dt.datetime) -> str:
        return "estimate"

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        month = context["month"]
        last_day = min(add_months(month, 1) - dt.timedelta(days=1), day_start(self.datadog_tap.now))
        return {
            **self.view_params(),
            "start_date": day_param(month),
            "end_date": day_param(last_day),
            "cost_aggregation": "cumulative",
        }

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """The item's month-to-date rows, each with its day (``cost`` is still cumulative)."""
        day = isoformat(day_start(parse_instant(item["attributes"]["date"])))
        for row in super().records_from_item(item):
            yield {"date": day, **row}

    @override
    def month_rows(
        self, month: dt.datetime | None, records: list[dict[str, t.Any]]
    ) -> list[dict[str, t.Any]]:
        """Each day's own cost; once historical cost is final, the adjustments that close it."""
        assert month is not None  # noqa: S101 - one request a month
        rows = self.days_of(records)
        if self.historical_cost_is_final(month):
            adjustments = self.adjustments(month, rows)
            if adjustments:
                self.closed.add(month)
                rows = [{**row, "cost_status": "final"} for row in rows] + adjustments
        return rows

    @staticmethod
    def days_of(cumulative: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """Month-to-date rows (one month) as day rows: each day's own cost, its total beside it."""
        cumulative.sort(key=itemgetter("date"))
        before: dict[tuple[t.Any, ...], float | None] = {}
        rows = []
        for row in cumulative:
            key = CHARGE_KEY(row)
            total = row["cost"]
            rows.append(
                {
                    **row,
                    "row_type": "day",
                    "cost": difference(total, before.get(key)),
                    "cumulative_cost": total,
                }
            )
            if total is not None:
                before[key] = total
        return rows

    def adjustments(
        self, month: dt.datetime, days: list[dict[str, t.Any]]
    ) -> list[dict[str, t.Any]]:
        """Per org, product and charge type: final cost minus the days' sum, on the last day.

        None when historical cost has no rows for the month yet (published late): the month
        stays open and is read again.
        """
        historical = self.sibling(HistoricalCostsStream)
        final = {
            CHARGE_KEY(row): row
            for row in historical.records_of(historical.cost_params(month, month))
            if row["month"] == isoformat(month)
        }
        if not final:
            return []
        # Sorted by day: the last known total wins (a null one is unknown, not 0).
        last_totals = {CHARGE_KEY(row): row for row in days if row["cumulative_cost"] is not None}
        last_day = isoformat(add_months(month, 1) - dt.timedelta(days=1))
        rows = []
        for key in dict.fromkeys([*last_totals, *final]):
            final_row, day_row = final.get(key), last_totals.get(key)
            source = final_row or day_row
            assert source is not None  # noqa: S101 - the key came from one of them
            cost = final_row["cost"] if final_row else 0.0
            rows.append(
                {
                    **source,
                    "date": last_day,
                    "view": self.view,
                    "row_type": "adjustment",
                    "cost": difference(cost, day_row["cumulative_cost"] if day_row else 0.0),
                    "cumulative_cost": cost,
                    "charge_lines": 0,
                    "cost_status": "final",
                    "read_at": self.datadog_tap.read_at,
                }
            )
        return rows
