"""The organizations the keys can see: the parent, every child org and connected accounts."""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_datadog_costs.answers import flag, instant_problem
from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.errors import DatadogAPIError, DatadogGaveUpError, declare_endpoint
from tap_datadog_costs.periods import (
    isoformat,
    month_of,
    month_param,
    months_between,
    parse_instant,
)
from tap_datadog_costs.schemas import load_schema

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context

#: "Returns data on your top-level organization" (API reference): the parent's own details.
TOP_LEVEL_ORG_PATH = declare_endpoint("/api/v1/org", permission="org_management")
#: Fields of the usage summary's per-org entries that our rows keep, under our names.
SUMMARY_FIELDS = {
    "name": "name",
    "id": "org_id",
    "region": "region",
    "account_name": "account_name",
    "account_public_id": "account_public_id",
}


class OrganizationsStream(DatadogStream):
    """One row per organization visible to the keys.

    Every org comes from ``GET /api/v1/usage/summary`` with ``include_org_details``, which
    needs only ``usage_read`` and lists each child org (``/api/v1/org`` returns the top-level
    org alone, and needs ``org_management``). ``/api/v1/org`` then adds the parent's own
    details; without ``org_management`` one warning says so and the rows go on without them.
    """

    name = "organizations"
    path = "/api/v1/usage/summary"
    primary_keys = ("public_id",)
    records_key = "usage"
    schema = load_schema("organizations")
    #: An org an earlier run listed and this one does not is withdrawn (``org_status``).
    withdraws = True
    status_field = "org_status"

    def summary_months(self) -> list[dt.datetime]:
        """Every month of the run's range (start_date is never older than Datadog keeps)."""
        tap = self.datadog_tap
        return months_between(tap.start_date, tap.end_date)

    def summary_params(self) -> dict[str, t.Any]:
        """Every month of the run's range that Datadog still keeps, with the org details."""
        tap = self.datadog_tap
        return {
            "start_month": month_param(self.summary_months()[0]),
            "end_month": month_param(tap.end_date),
            "include_org_details": "true",
            "include_connected_accounts": flag(self.include_connected_accounts),
        }

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return self.summary_params()

    @override
    def item_problem(self, item: dict[str, t.Any]) -> str | None:
        """A month must say which month it is and list its orgs, each with a public_id."""
        orgs = item.get("orgs")
        if not isinstance(orgs, list):
            return "has no orgs list"
        if not all(isinstance(org, dict) and isinstance(org.get("public_id"), str) for org in orgs):
            return "lists an org without a public_id"
        return instant_problem(item.get("date"), "date")

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """One entry per org of one month (read_records folds the months into one row)."""
        month = isoformat(month_of(item["date"]))
        for org in item["orgs"]:
            yield {"month": month, **org}

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        months = self.summary_months()
        self.periods_read = {""}  # the whole stream: one period
        self.progress.plan(
            self.how_read(context),
            len(months),
            "month",
            month_param(months[0]),
            month_param(months[-1]),
        )
        rows: dict[str, dict[str, t.Any]] = {}
        for entry in sorted(self.request_records(context), key=lambda entry: entry["month"]):
            row = rows.setdefault(
                entry["public_id"],
                {"public_id": entry["public_id"], "first_month": entry["month"]},
            )
            row.update({ours: entry.get(theirs) for theirs, ours in SUMMARY_FIELDS.items()})
            row["last_month"] = entry["month"]  # the latest month's name and region win
        parent = self.top_level_org()
        if parent is not None and parent["public_id"] not in rows:
            rows[parent["public_id"]] = {"public_id": parent["public_id"], "name": parent["name"]}
        self.progress.advance(len(rows), units=len(months))
        for public_id, row in rows.items():
            is_parent = None if parent is None else public_id == parent["public_id"]
            details = parent if parent is not None and is_parent else {}
            yield {
                "public_id": public_id,
                "name": row.get("name"),
                "org_id": row.get("org_id"),
                "region": row.get("region"),
                "account_name": row.get("account_name"),
                "account_public_id": row.get("account_public_id"),
                "is_parent": is_parent,
                **{field: details.get(field) for field in ("description", "created")},
                "subscription_type": (details.get("subscription") or {}).get("type"),
                "billing_type": (details.get("billing") or {}).get("type"),
                "first_month": row.get("first_month"),
                "last_month": row.get("last_month"),
                "org_status": "listed",
            }

    def top_level_org(self) -> dict[str, t.Any] | None:
        """The parent's own details from /api/v1/org, or None (warned) when they are refused."""
        try:
            body = self.get_json({}, path=TOP_LEVEL_ORG_PATH)
        except DatadogAPIError as exc:  # refused, or failed after retries: details are optional
            self.logger.warning(
                "organizations: the parent's description, creation date, subscription and "
                "billing type are left empty, and is_parent is null: %s (%s)",
                exc,
                "give the application key's owner org_management to fill them"
                if not isinstance(exc, DatadogGaveUpError)
                else "the next run tries again",
            )
            return None
        orgs = body.get("orgs") if isinstance(body, dict) else None
        if not orgs or not isinstance(orgs[0], dict) or not orgs[0].get("public_id"):
            return None
        parent = dict(orgs[0])
        try:
            parent["created"] = isoformat(parse_instant(parent["created"]))
        except (KeyError, TypeError, ValueError):
            parent["created"] = None  # optional detail: not worth failing the stream for
        return parent
