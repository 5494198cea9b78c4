"""What the tap reads: Datadog's endpoints, each stream's primary key, the days calendar rules
turn on, and which streams a run has rows for."""

from __future__ import annotations

import datetime as dt

# The endpoints, as Datadog's API reference spells them.
VALIDATE = "/api/v1/validate"
ORGS = "/api/v1/org"
SUMMARY = "/api/v1/usage/summary"
HOURLY = "/api/v2/usage/hourly_usage"
MAPPING = "/api/v2/usage/billing_dimension_mapping"
HISTORICAL = "/api/v2/usage/historical_cost"
ESTIMATED = "/api/v2/usage/estimated_cost"
PROJECTED = "/api/v2/usage/projected_cost"
ACTIVE = "/api/v2/cost_by_tag/active_billing_dimensions"

PRIMARY_KEYS = {
    "organizations": ("public_id",),
    "hourly_usage": ("timestamp", "public_id", "product_family", "usage_type"),
    "billing_dimension_mappings": ("month", "billing_dimension", "endpoint"),
    "historical_costs": ("month", "view", "public_id", "product_name", "charge_type"),
    "estimated_costs": ("month", "view", "public_id", "product_name", "charge_type"),
    "daily_costs": ("date", "view", "public_id", "product_name", "charge_type", "row_type"),
    "projected_costs": (
        "snapshot_date",
        "month",
        "view",
        "public_id",
        "product_name",
        "charge_type",
    ),
    "active_billing_dimensions": ("month", "billing_dimension"),
    "billable_usage": ("month", "public_id", "billable_key"),
    "cost_attribution": ("month", "public_id", "tag_set", "billing_dimension"),
    "focus_costs": (
        "BillingPeriodStart",
        "x_View",
        "SubAccountId",
        "ServiceName",
        "x_ChargeType",
    ),
}
#: Projected cost "becomes available around the 12th of the month" (the simulator's rule too).
PROJECTED_FROM_DAY = 12
#: A month's cost attribution comes "no later than the 19th" of the next (the simulator's: on it).
ATTRIBUTED_FROM_DAY = 19


def streams_with_rows(now: dt.datetime, start: dt.datetime) -> set[str]:
    """The streams a run at ``now`` from ``start`` has rows for.

    Every stream, but projected cost before the 12th (a run then has none: an info line), and
    cost attribution when no month from ``start``'s to last month is attributed yet.
    """
    last_month = (now.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if now.day < ATTRIBUTED_FROM_DAY:
        last_month = (last_month - dt.timedelta(days=1)).replace(day=1)
    attributed = (start.year, start.month) <= (last_month.year, last_month.month)
    without = {"projected_costs"} if now.day < PROJECTED_FROM_DAY else set()
    return set(PRIMARY_KEYS) - without - (set() if attributed else {"cost_attribution"})


#: When the run read a row: the tap's clock, which no oracle predicts.
RUN_FIELDS = ("read_at", "x_ReadAt")
