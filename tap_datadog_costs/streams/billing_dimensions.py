"""Billing dimensions per month: the usage endpoints each maps to, those cost attribution bills."""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_datadog_costs.answers import instant_problem
from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.periods import (
    first_open_mapping_month,
    isoformat,
    month_of,
    month_timestamp_param,
    parse_instant,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.monthly import MonthlyStream

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context


#: The endpoint of a dimension no endpoint reports. Not "": loaders that stage rows as CSV
#: (target-duckdb) read an empty string as NULL, which the key column refuses.
NO_ENDPOINT = "(none)"


class BillingDimensionMappingsStream(MonthlyStream):
    """``GET /api/v2/usage/billing_dimension_mapping``, one request per month."""

    name = "billing_dimension_mappings"
    path = "/api/v2/usage/billing_dimension_mapping"
    primary_keys = ("month", "billing_dimension", "endpoint")
    schema = load_schema("billing_dimension_mappings")
    #: A mapping has no money and no status column: what the month lists is what it holds.
    withdraws = False

    @override
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        return first_open_mapping_month(now)

    @override
    def is_final(self, month: dt.datetime, now: dt.datetime, *, has_rows: bool) -> bool:
        """Mappings change monthly: every month before the current one is settled."""
        return month < first_open_mapping_month(now)

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        return {"filter[month]": month_timestamp_param(context["month"]), "filter[view]": "active"}

    @override
    def month_rows(
        self, month: dt.datetime | None, records: list[dict[str, t.Any]]
    ) -> list[dict[str, t.Any]]:
        """Each row stamped with its month (the mapping's own timestamp can lag)."""
        assert month is not None  # noqa: S101 - one request a month
        return [{"month": isoformat(month), **row} for row in records]

    @override
    def item_problem(self, item: dict[str, t.Any]) -> str | None:
        """The billing dimension (the item's id) is in the key."""
        return None if isinstance(item.get("id"), str) else "has no billing dimension id"

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """A row per endpoint; a dimension that no endpoint reports gets one, NO_ENDPOINT."""
        attributes = item.get("attributes") or {}
        timestamp = attributes.get("timestamp")
        for endpoint in attributes.get("endpoints") or [{"id": NO_ENDPOINT}]:
            yield {
                "billing_dimension": item.get("id"),
                "in_app_label": attributes.get("in_app_label"),
                "endpoint": endpoint.get("id"),
                "keys": endpoint.get("keys"),
                "status": endpoint.get("status"),
                "timestamp": isoformat(parse_instant(timestamp)) if timestamp else None,
            }


class ActiveBillingDimensionsStream(DatadogStream):
    """``GET /api/v2/cost_by_tag/active_billing_dimensions``: cost attribution's dimensions.

    One object (not a list) for the month Datadog names; no parameters. Read every run; rows are
    keyed by month, so each month's list stays as it was last read.
    """

    name = "active_billing_dimensions"
    path = "/api/v2/cost_by_tag/active_billing_dimensions"
    primary_keys = ("month", "billing_dimension")
    replication_key = "month"
    is_sorted = True
    schema = load_schema("active_billing_dimensions")

    @override
    def shape_problem(self, body: dict[str, t.Any]) -> str | None:
        """``data.attributes`` must name its month and list the dimensions as text."""
        data = body.get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(attributes, dict):
            return "without a 'data' object with attributes"
        values = attributes.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return "without attributes.values, a list of billing dimensions"
        return instant_problem(attributes.get("month"), "attributes.month")

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        self.progress.plan(self.how_read(context), 1, "request", "this month", "this month")
        body = self.get_json({}, context=context)
        attributes = body["data"]["attributes"]  # see shape_problem
        month = isoformat(month_of(attributes["month"]))
        rows = [
            {"month": month, "billing_dimension": value, "read_at": self.datadog_tap.read_at}
            for value in dict.fromkeys(attributes["values"])
        ]
        self.progress.advance(len(rows))
        return rows
