"""The endpoints the simulator serves: what each answers, and ``ROUTES`` from path to endpoint.

Each endpoint reads a ``Call`` and answers a ``Reply`` from the account snapshot, refusing what
Datadog refuses with its own words.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .api import NON_PARENT, ApiError, Call, Reply, paginate
from .catalog import (
    ATTRIBUTION_FIELDS,
    BILLING_DIMENSIONS,
    COST_ITEM_FIELDS,
    COST_PRODUCTS,
    MAX_TAG_KEYS,
    PROJECTED_ITEM_FIELDS,
    VIEWS,
    is_family,
)
from .costs import cents_to_float
from .keys import PARENT_ROLES
from .periods import DAY, RETENTION_MONTHS, days_between, iso_z, month_start, shift_months
from .stable import stable_id

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from .attribution import Attribution
    from .costs import CostEntry
    from .data import Account

START_AFTER_END = "start_hr [YYYY-MM-DDThh] must be before end_hr [YYYY-MM-DDThh]"
DESCENDANTS_WINDOW = (
    "The time range cannot exceed 24 hours when filter[include_descendants] is true"
)
SINGLE_ORG_WINDOW = "The time range cannot exceed 2 months"
# No recorded or documented API wording found for these two; plain wordings. Datadog's docs
# (docs.datadoghq.com/account_management/billing/usage_attribution/) say "Usage Attribution is
# an advanced feature included in the Enterprise plan", and allow "up to three tag keys".
NO_ATTRIBUTION = (
    "Cost attribution is not available for your plan: Usage Attribution is an advanced feature "
    "included in the Enterprise plan"
)
TOO_MANY_TAG_KEYS = f"tag_breakdown_keys cannot contain more than {MAX_TAG_KEYS} tag keys"
#: Items per cost attribution page (the spec names no size; small so that paging is exercised).
ATTRIBUTION_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def validate(_call: Call) -> Reply:
    """GET /api/v1/validate."""
    return Reply.json({"valid": True})


def list_orgs(call: Call) -> Reply:
    """GET /api/v1/org: "data on your top-level organization" only, and only with org_management."""
    if call.role == "usage_only":
        raise ApiError(403, "Forbidden")
    return Reply.json({"orgs": [org.as_served() for org in call.orgs()[:1]]})


def usage_summary(call: Call) -> Reply:
    """GET /api/v1/usage/summary: usage per month, and per org with include_org_details."""
    call.require_parent()
    account = call.account
    current = month_start(account.now)
    first = call.month("start_month", required=True)
    if first < shift_months(current, -RETENTION_MONTHS):
        raise ApiError(400, "start_month must be within the last 15 months")
    last = min(call.month("end_month") or current, current)
    details = call.flag("include_org_details")
    call.flag("include_connected_accounts")
    orgs = call.orgs()
    usage = []
    for month in account.summary_months(first, last):
        entry: dict[str, Any] = {
            "date": iso_z(month),
            "apm_host_top99p": sum(account.summary_hosts(org, month) for org in orgs),
            "container_avg": 0,
        }
        if details:
            entry["orgs"] = [
                {
                    "id": stable_id("org", org.public_id)[:16],
                    **org.identity(account.parent),
                    "name": org.name,
                    "apm_host_top99p": account.summary_hosts(org, month),
                }
                for org in orgs
                if account.listed("summary", org, None, month)
            ]
            for org_entry in entry["orgs"]:
                del org_entry["org_name"]  # the summary calls it `name`
        usage.append(entry)
    return Reply.json(
        {
            "start_date": iso_z(first),
            "end_date": iso_z(last),
            "last_updated": iso_z(account.now),
            "apm_host_top99p_sum": sum(entry["apm_host_top99p"] for entry in usage),
            "container_avg_sum": 0,
            "usage": usage,
        }
    )


def hourly_usage(call: Call) -> Reply:
    """GET /api/v2/usage/hourly_usage: one item per (org, family, hour), paginated."""
    start = call.instant("filter[timestamp][start]", required=True)
    families = [
        name.strip() for name in call.text("filter[product_families]", required=True).split(",")
    ]
    unknown = [name for name in families if name != "all" and not is_family(name)]
    if unknown:
        raise ApiError(400, f"Invalid product family: {','.join(unknown)}")
    descendants = call.flag("filter[include_descendants]")
    for ignored in ("filter[include_connected_accounts]", "filter[include_breakdown]"):
        call.flag(ignored)
    end = call.instant("filter[timestamp][end]") or start + DAY
    if start >= end:
        raise ApiError(400, START_AFTER_END)
    if descendants and end - start > DAY:
        raise ApiError(400, DESCENDANTS_WINDOW)
    if not descendants and end > shift_months(start, 2):
        raise ApiError(400, SINGLE_ORG_WINDOW)
    limit = call.integer("page[limit]", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    account = call.account
    items = account.usage_items(
        call.orgs(include_descendants=descendants), account.resolve_families(families), start, end
    )
    return paginate(call.params, items, limit)


def cost_reply(
    call: Call,
    kind: str,
    periods: list[datetime],
    date_of: Callable[[datetime], str],
    per_day: Callable[[datetime], int] | None = None,
) -> Reply:
    """Historical, estimated and projected cost share one item shape."""
    view = call.choice("view", VIEWS, "summary")
    call.flag("include_connected_accounts")
    orgs = call.orgs()
    entries = [
        entry
        for period in (periods if orgs else [])
        for entry in call.account.cost_entries(
            kind, orgs, period, view, per_day(period) if per_day else None
        )
    ]
    return Reply.json(
        {"data": [cost_item(call.account, kind, entry, date_of(entry.period)) for entry in entries]}
    )


def cost_item(account: Account, kind: str, entry: CostEntry, date: str) -> dict[str, Any]:
    """One served cost item."""
    projected = kind == "projected"
    charges = [
        {
            "product_name": charge.product_name,
            "charge_type": charge.charge_type,
            "cost": cents_to_float(charge.cents),
        }
        | (
            {"last_aggregation_function": charge.last_aggregation_function}
            if charge.last_aggregation_function
            else {}
        )
        for charge in entry.charges
    ]
    return {
        "id": stable_id(kind, entry.org.public_id, date, account.generation),
        "type": "projected_cost" if projected else "cost_by_org",
        "attributes": {
            # Projected cost items carry the region too (recorded answer); the others do not.
            **entry.org.identity(
                account.parent, PROJECTED_ITEM_FIELDS if projected else COST_ITEM_FIELDS
            ),
            "date": date,
            "projected_total_cost" if projected else "total_cost": cents_to_float(
                entry.total_cents
            ),
            "charges": charges,
        },
    }


def historical_cost(call: Call) -> Reply:
    """GET /api/v2/usage/historical_cost: months from the 3rd of the next month on."""
    call.require_parent()
    account = call.account
    first = call.month("start_month", required=True)
    last = call.month("end_month") or month_start(account.now)
    months = [month for month in account.cost_months("historical") if first <= month <= last]
    return cost_reply(call, "historical", months, account.historical_date)


def estimated_cost(call: Call) -> Reply:
    """GET /api/v2/usage/estimated_cost: current and previous month, by month or by day."""
    call.require_parent()
    account = call.account
    by_month, by_day = bool(call.text("start_month")), bool(call.text("start_date"))
    if by_month and by_day:
        raise ApiError(400, NON_PARENT)  # Datadog's recorded answer to this mistake, verbatim
    if not (by_month or by_day):
        raise ApiError(400, "Either start_month or start_date should be specified")
    current = month_start(account.now)
    months = account.cost_months("estimated")
    if by_month:
        first = call.month("start_month")
        last = call.month("end_month") or current
        periods = [month for month in months if first <= month <= last]
    else:
        first = call.instant("start_date").replace(hour=0)
        last = min(
            (call.instant("end_date") or account.now).replace(hour=0), account.now.replace(hour=0)
        )
        periods = days_between(max(first, months[0]), last)
    if month_start(first) < shift_months(current, -2):
        raise ApiError(400, "Estimated cost is only available for the current and previous month")
    aggregation = call.text("cost_aggregation")
    if aggregation not in (None, "cumulative"):
        raise ApiError(400, f"Invalid cost_aggregation: {aggregation}")
    per_day = (lambda day: day.day if aggregation else 1) if by_day else None
    return cost_reply(call, "estimated", periods, iso_z, per_day)


def projected_cost(call: Call) -> Reply:
    """GET /api/v2/usage/projected_cost: the current month, dated its last day (quirk)."""
    call.require_parent()

    def last_day(month: datetime) -> str:
        return iso_z(month.replace(day=calendar.monthrange(month.year, month.month)[1]))

    return cost_reply(call, "projected", call.account.cost_months("projected"), last_day)


def billing_dimension_mapping(call: Call) -> Reply:
    """GET /api/v2/usage/billing_dimension_mapping."""
    call.require_parent()
    month = call.month("filter[month]") or month_start(call.account.now)
    call.choice("filter[view]", ("active", "all"), "active")
    entries = call.account.mapping_entries(month) if call.role in PARENT_ROLES else []
    return Reply.json(
        {
            "data": [
                {
                    "id": dimension,
                    "type": "billing_dimensions",
                    "attributes": {
                        "in_app_label": label,
                        "timestamp": iso_z(month),
                        "endpoints": [
                            {"id": endpoint, "keys": keys, "status": status}
                            for endpoint, keys, status in endpoints
                        ],
                    },
                }
                for dimension, label, endpoints in entries
            ]
        }
    )


def active_billing_dimensions(call: Call) -> Reply:
    """GET /api/v2/cost_by_tag/active_billing_dimensions (this month's billed dimensions)."""
    call.require_parent()
    month = month_start(call.account.now)
    values = (
        [dimension for dimension, _, _ in BILLING_DIMENSIONS] if call.role in PARENT_ROLES else []
    )
    return Reply.json(
        {
            "data": {
                "type": "billing_dimensions",
                "id": stable_id("active_billing_dimensions", iso_z(month)),
                "attributes": {"values": values, "month": iso_z(month)},
            }
        }
    )


def billable_summary(call: Call) -> Reply:
    """GET /api/v1/usage/billable-summary: a month's billable usage per org and product."""
    call.require_parent()
    month = call.month("month") or month_start(call.account.now)
    call.flag("include_connected_accounts")  # the simulated account has no connected accounts
    return Reply.json({"usage": call.account.billable_items(call.orgs(), month)})


def attribution_fields(text: str) -> list[tuple[str, str]]:
    """(billing dimension, suffix) of each requested field; ``*``: every billed dimension.

    Any active billing dimension may be named; those the account is not billed for are 0.
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    if "*" in names:
        return [(dimension, suffix) for dimension in COST_PRODUCTS for suffix in ATTRIBUTION_FIELDS]
    known = {
        f"{dimension}_{suffix}": (dimension, suffix)
        for dimension, _, _ in BILLING_DIMENSIONS
        for suffix in ATTRIBUTION_FIELDS
    }
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ApiError(400, f"Invalid fields: {','.join(unknown)}")
    return list(dict.fromkeys(known[name] for name in names))


def monthly_cost_attribution(call: Call) -> Reply:
    """GET /api/v2/cost_by_tag/monthly_cost_attribution: cost per org and tags, paginated."""
    call.require_parent()
    if call.role == "no_attribution":
        raise ApiError(403, NO_ATTRIBUTION)
    account = call.account
    first = call.month("start_month", required=True)
    last = call.month("end_month") or month_start(account.now)
    fields = attribution_fields(call.text("fields", required=True))
    keys = [key.strip() for key in (call.text("tag_breakdown_keys") or "").split(",")]
    keys = list(dict.fromkeys(key for key in keys if key))
    if len(keys) > MAX_TAG_KEYS:
        raise ApiError(400, TOO_MANY_TAG_KEYS)
    descending = call.choice("sort_direction", ("desc", "asc"), "desc") == "desc"
    # "Always sorted by total cost": of sort_name's dimension, else of the first field's.
    sort_name = call.text("sort_name") or fields[0][0]
    if sort_name not in [dimension for dimension, _, _ in BILLING_DIMENSIONS]:
        raise ApiError(400, f"Invalid sort_name: {sort_name}")
    descendants = call.flag("include_descendants", default=True)
    entries = account.attributions(call.orgs(include_descendants=descendants), first, last, keys)

    def order(entry: Attribution) -> tuple[datetime, int]:
        cents = sum(entry.cents.get(sort_name, (0, 0)))
        return entry.month, -cents if descending else cents

    items = [account.attribution_item(entry, fields) for entry in sorted(entries, key=order)]
    return paginate(call.params, items, ATTRIBUTION_PAGE_SIZE, "next_record_id")


@dataclass(frozen=True)
class Route:
    """An endpoint: rate-limit name, handler, and how it authenticates and spells errors."""

    name: str
    answer: Callable[[Call], Reply]
    api_key_only: bool = False
    json_api_errors: bool = False


ROUTES: dict[str, Route] = {
    "/api/v1/validate": Route("validate", validate, api_key_only=True),
    "/api/v1/org": Route("orgs", list_orgs),
    "/api/v1/usage/summary": Route("usage_summary", usage_summary),
    "/api/v1/usage/billable-summary": Route("usage_billable_summary", billable_summary),
    "/api/v2/usage/hourly_usage": Route("usage_hourly_usage", hourly_usage),
    "/api/v2/usage/historical_cost": Route("usage_historical_cost", historical_cost),
    "/api/v2/usage/estimated_cost": Route("usage_estimated_cost", estimated_cost),
    "/api/v2/usage/projected_cost": Route("usage_projected_cost", projected_cost),
    "/api/v2/usage/billing_dimension_mapping": Route(
        "usage_billing_dimension_mapping", billing_dimension_mapping, json_api_errors=True
    ),
    "/api/v2/cost_by_tag/active_billing_dimensions": Route(
        "cost_by_tag_active_billing_dimensions", active_billing_dimensions
    ),
    "/api/v2/cost_by_tag/monthly_cost_attribution": Route(
        "cost_by_tag_monthly_cost_attribution", monthly_cost_attribution
    ),
}
