"""Projected cost: the month's forecast, one snapshot per day read, so how it moved is one query."""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_datadog_costs.periods import day_start, isoformat, month_param
from tap_datadog_costs.schemas import extend_schema
from tap_datadog_costs.streams.costs import CostStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context


class ProjectedCostsStream(CostStream):
    """``GET /api/v2/usage/projected_cost``: this month's forecast, one snapshot per day read.

    The day of the read is in the key, so each day's forecast stays beside the others: how the
    forecast moved is one query. Datadog has a projection from around the 12th of the month.
    """

    name = "projected_costs"
    path = "/api/v2/usage/projected_cost"
    primary_keys = ("snapshot_date", *CostStream.primary_keys)
    replication_key = "snapshot_date"
    is_sorted = True
    #: Each day's snapshot is one period: a re-read the same day withdraws what it dropped.
    period_field = "snapshot_date"
    schema = extend_schema(
        CostStream.schema,
        {
            "snapshot_date": {
                "type": ["string"],
                "format": "date-time",
                "description": "The UTC day the projection was read: one snapshot per day.",
            },
            "cost_status": {
                "type": ["string"],
                "enum": ["projection", WITHDRAWN],
                "description": "projection: Datadog's forecast for the whole month; withdrawn: "
                "a line an earlier read of the same day listed that a later one does not.",
            },
        },
        required=("snapshot_date",),
    )
    CHARGE_TYPE_NAMES: t.ClassVar[dict[str, str]] = {
        "projected_committed": "committed",
        "projected_on_demand": "on_demand",
    }

    @override
    def cost_status(self, month: dt.datetime) -> str:
        return "projection"

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return self.view_params()

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        snapshot = isoformat(day_start(self.datadog_tap.now))
        for row in super().records_from_item(item):
            yield {"snapshot_date": snapshot, **row}

    @override
    def how_read(self, context: Context | None) -> str:
        """Every run reads today's snapshot whatever the bookmark (the latest day with rows).

        Not "first extract" on every run before Datadog has a projection (no rows, no bookmark),
        nor "incremental from" a bookmark nothing is read from.
        """
        return f"the snapshot of {isoformat(day_start(self.datadog_tap.now))[:10]}, one a day"

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        month = month_param(self.datadog_tap.now)
        self.periods_read = {isoformat(day_start(self.datadog_tap.now))}
        self.progress.plan(self.how_read(context), 1, "month", month, month)
        records = list(self.request_records(context))
        self.progress.advance(len(records))
        if not records:
            self.logger.info(
                "projected_costs: Datadog has no projection for %s yet (it has one from around "
                "the 12th of the month): no rows this run",
                month,
            )
        return records
