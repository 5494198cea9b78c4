"""Monthly cost and billing streams: historical and estimated cost, dimension mappings."""

from __future__ import annotations

import abc
import sys
import typing as t
from operator import itemgetter

from tap_datadog_costs.client import DatadogStream, load_schema
from tap_datadog_costs.periods import (
    add_months,
    estimated_cost_months,
    first_open_historical_month,
    first_open_mapping_month,
    isoformat,
    month_start,
    months_between,
    parse_instant,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context

MONTH_FORMAT = "%Y-%m"


class CostStream(DatadogStream):
    """Rows of a ``cost_by_org`` answer: one per org, month, product and charge type."""

    primary_keys = ("month", "public_id", "product_name", "charge_type")
    schema = load_schema("costs")

    def cost_params(self, first: dt.datetime, last: dt.datetime) -> dict[str, t.Any]:
        """Query for the months ``first`` to ``last`` (inclusive)."""
        return {
            "start_month": first.strftime(MONTH_FORMAT),
            "end_month": last.strftime(MONTH_FORMAT),
            "view": "sub-org" if self.config.get("include_descendants", True) else "summary",
            "include_connected_accounts": str(
                bool(self.config.get("include_connected_accounts", False))
            ).lower(),
        }

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item["attributes"]
        # `date` is the first of the month, the last day, or any hour: keep the month.
        month = isoformat(month_start(parse_instant(attributes["date"])))
        row = {
            "month": month,
            "public_id": attributes.get("public_id"),
            "org_name": attributes.get("org_name"),
            "account_name": attributes.get("account_name"),
            "account_public_id": attributes.get("account_public_id"),
            "region": attributes.get("region"),
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


class MonthlyStream(DatadogStream, metaclass=abc.ABCMeta):
    """Incremental on ``month``, re-reading every month that was still open when read.

    The bookmark is the first month to read on the next run: the earliest month that
    could still change at the time of this read (or the month after the last one read).
    It is written only when the stream completes; an interrupted run starts again from
    the previous bookmark, which costs a few requests and loses nothing.
    """

    replication_key = "month"
    is_sorted = True
    STATE_MSG_FREQUENCY = sys.maxsize  # no bookmark mid-stream: see the docstring

    @abc.abstractmethod
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        """The earliest month whose data may still change at ``now``."""

    def available_before(self, now: dt.datetime) -> dt.datetime:
        """Months starting at or after this have no data yet (default: none, read up to now)."""
        return now

    @abc.abstractmethod
    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        """Every record of these months (in any order)."""

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        tap = self.datadog_tap
        now = tap.now
        open_month = self.first_open_month(now)
        start = month_start(tap.start_date)
        bookmark = self.get_starting_timestamp(context)
        if bookmark is not None:
            start = max(start, min(month_start(bookmark), open_month))
        months = months_between(start, min(tap.end_date, self.available_before(now)))
        wanted = {isoformat(month) for month in months}
        records = (
            [r for r in self.records_for_months(months) if r["month"] in wanted] if months else []
        )
        records.sort(key=itemgetter("month"))
        yield from records
        if months:
            resume_from = min(open_month, add_months(months[-1], 1))
            self.stream_state["replication_key"] = self.replication_key
            self.stream_state["replication_key_value"] = isoformat(resume_from)


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


class BillingDimensionMappingsStream(MonthlyStream):
    """``GET /api/v2/usage/billing_dimension_mapping``, one request per month."""

    name = "billing_dimension_mappings"
    path = "/api/v2/usage/billing_dimension_mapping"
    primary_keys = ("month", "billing_dimension", "endpoint")
    schema = load_schema("billing_dimension_mappings")

    @override
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        return first_open_mapping_month(now)

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        return {
            "filter[month]": context["month"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "filter[view]": "active",
        }

    @override
    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        for month in months:
            self._month = isoformat(month)
            yield from self.request_records({"month": month})

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item.get("attributes") or {}
        for endpoint in attributes.get("endpoints") or ():
            yield {
                "month": self._month,
                "billing_dimension": item.get("id"),
                "in_app_label": attributes.get("in_app_label"),
                "endpoint": endpoint.get("id"),
                "keys": endpoint.get("keys"),
                "status": endpoint.get("status"),
            }
