"""Monthly cost per org, product and charge type: historical (published) and estimated."""

from __future__ import annotations

import sys
import typing as t

from tap_datadog_costs.client import DatadogStream, flag, org_identity
from tap_datadog_costs.periods import (
    estimated_cost_months,
    first_open_historical_month,
    isoformat,
    month_param,
    month_start,
    parse_instant,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.monthly import MonthlyStream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context


class CostStream(DatadogStream):
    """Rows of a ``cost_by_org`` answer: one per org, month, product and charge type."""

    primary_keys = ("month", "public_id", "product_name", "charge_type")
    schema = load_schema("costs")

    def cost_params(self, first: dt.datetime, last: dt.datetime) -> dict[str, t.Any]:
        """Query for the months ``first`` to ``last`` (inclusive)."""
        return {
            "start_month": month_param(first),
            "end_month": month_param(last),
            "view": "sub-org" if self.include_descendants else "summary",
            "include_connected_accounts": flag(self.include_connected_accounts),
        }

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item["attributes"]
        # `date` is the first of the month, the last day, or any hour: keep the month.
        row = {
            "month": isoformat(month_start(parse_instant(attributes["date"]))),
            **org_identity(attributes),
            "total_cost": attributes.get("total_cost"),
        }
        for charge in attributes.get("charges") or ():
            yield {
                **row,
                "product_name": charge.get("product_name"),
                "charge_type": charge.get("charge_type"),
                "cost": charge.get("cost"),
                "last_aggregation_function": charge.get("last_aggregation_function"),
            }


class HistoricalCostsStream(MonthlyStream, CostStream):
    """``GET /api/v2/usage/historical_cost``: final (and not yet final) monthly costs."""

    name = "historical_costs"
    path = "/api/v2/usage/historical_cost"

    @override
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        return first_open_historical_month(now)

    @override
    def available_before(self, now: dt.datetime) -> dt.datetime:
        """The current month is only ever in estimated cost."""
        return month_start(now)

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        return self.cost_params(context["first"], context["last"])

    @override
    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        return self.request_records({"first": months[0], "last": months[-1]})


class EstimatedCostsStream(CostStream):
    """``GET /api/v2/usage/estimated_cost``: the previous and current month, re-read every run."""

    name = "estimated_costs"
    path = "/api/v2/usage/estimated_cost"

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return self.cost_params(*estimated_cost_months(self.datadog_tap.now))

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """An empty answer for the current month usually means keys of a child org."""
        records = list(self.request_records(context))
        if not records:
            self.logger.warning(
                "estimated_costs: Datadog returned no cost for the previous and current month. "
                "If you expected costs, check that api_key and app_key belong to the parent "
                "organization (Pro or Enterprise plan) and that the key has billing_read."
            )
        return records
