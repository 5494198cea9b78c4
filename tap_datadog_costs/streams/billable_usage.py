"""Billable usage per month, org and product: the quantities a month's cost is divided by."""

from __future__ import annotations

import re
import typing as t

from typing_extensions import override

from tap_datadog_costs.answers import flag, instant_problem, org_identity
from tap_datadog_costs.periods import (
    isoformat,
    month_param,
    parse_instant,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.monthly import PublishedMonthlyStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context

#: A billable key is a product and how its month is aggregated (Datadog's four suffixes).
BILLABLE_KEY = re.compile(r"^(?P<product>.+)_(?P<aggregation>sum|top99p|average|maximum)$")
#: The numbers and texts of one product's usage, as the rows carry them.
USAGE_FIELDS = (
    "org_billable_usage",
    "account_billable_usage",
    "account_committed_usage",
    "account_on_demand_usage",
    "percentage_in_account",
    "usage_unit",
    "elapsed_usage_hours",
)
BILLABLE_HOURS = ("first_billable_usage_hour", "last_billable_usage_hour")


def split_billable_key(key: str) -> dict[str, str | None]:
    """A billable key's product and aggregation (the key itself and None if it has no suffix)."""
    match = BILLABLE_KEY.match(key)
    return {
        "product_name": match["product"] if match else key,
        "usage_aggregation": match["aggregation"] if match else None,
    }


class BillableUsageStream(PublishedMonthlyStream):
    """``GET /api/v1/usage/billable-summary``, one request per month.

    One row per month, org and billable key. A month is read again until it is final, with
    historical cost (read after the 16th of the next month, with rows).
    """

    name = "billable_usage"
    path = "/api/v1/usage/billable-summary"
    answers_shared = True
    records_key = "usage"
    primary_keys = ("month", "public_id", "billable_key")
    schema = load_schema("billable_usage")
    status_field = "usage_status"

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        return {
            "month": month_param(context["month"]),
            "include_connected_accounts": flag(self.include_connected_accounts),
        }

    @override
    def item_problem(self, item: dict[str, t.Any]) -> str | None:
        """An org's item names the org and holds an object of usage objects."""
        if not isinstance(item.get("public_id"), str):
            return "has no public_id"
        usage = item.get("usage")
        if usage is None:
            return None
        if not isinstance(usage, dict) or not all(isinstance(u, dict) for u in usage.values()):
            return "has a usage that is not an object of objects"
        for key, body in usage.items():
            where = f"usage.{key[:40]}."
            problems = [self.misfit(body, USAGE_FIELDS, where)] + [
                instant_problem(body[hour], where + hour)
                for hour in BILLABLE_HOURS
                if body.get(hour) is not None
            ]
            problem = next(filter(None, problems), None)
            if problem:
                return problem
        return None

    @override
    def available_before(self, now: dt.datetime) -> dt.datetime:
        """Billable usage serves the month in progress too: its usage so far."""
        return now

    @override
    def withdrawn_values(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        return {
            **split_billable_key(record["billable_key"]),
            "org_billable_usage": 0.0,
            "usage_status": WITHDRAWN,
            "read_at": self.datadog_tap.read_at,
        }

    @override
    def month_rows(
        self, month: dt.datetime | None, records: list[dict[str, t.Any]]
    ) -> list[dict[str, t.Any]]:
        """Each row with its month, how final it is, and when it was read."""
        assert month is not None  # noqa: S101 - one request a month
        status, read_at = self.status_of(month), self.datadog_tap.read_at
        return [
            {"month": isoformat(month), "usage_status": status, "read_at": read_at, **row}
            for row in records
        ]

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """A row per billable key of the org (see item_problem)."""
        whose = org_identity(item, ("public_id", "org_name", "account_name", "account_public_id"))
        for key, body in (item.get("usage") or {}).items():
            yield {
                **whose,
                "billable_key": key,
                **split_billable_key(key),
                **{field: body.get(field) for field in USAGE_FIELDS},
                **{
                    hour: isoformat(parse_instant(body[hour])) if body.get(hour) else None
                    for hour in BILLABLE_HOURS
                },
            }
