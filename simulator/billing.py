"""What the account's billing answers hold: billing dimension mappings and billable usage.

Part of Account (data.py), which mixes ``Billing`` in: its methods read the account's fields.
"""

from __future__ import annotations

import calendar
from typing import TYPE_CHECKING, Any

from .catalog import BILLABLE_SUMMARY, BILLING_DIMENSIONS, COST_PRODUCTS
from .periods import HOUR, RETENTION_MONTHS, month_start, parse_instant, shift_months

if TYPE_CHECKING:
    from datetime import datetime

    from .data import Org
    from .periods import Moment

Endpoint = tuple[str, list[str], str]  # (endpoint id, keys, status)


class Billing:
    """Account's billing: each month's dimension mappings and billable usage per org."""

    def mapping_entries(self, month: Moment) -> list[tuple[str, str, list[Endpoint]]]:
        """(dimension, label, endpoints) of a month; this month's keys change per generation."""
        first = month_start(month)
        if not self.history_start <= first <= month_start(self.now):
            return []
        entries = []
        for dimension, label, endpoints in BILLING_DIMENSIONS:
            served = [(endpoint, list(keys), status) for endpoint, keys, status in endpoints]
            if dimension == "infra_host" and first == month_start(self.now):
                served[0][1].append(f"gen{self.generation}")
            entries.append((dimension, label, served))
        return entries

    def billable_hours(self, month: datetime) -> int:
        """Billable hours of a month: all of a past one, this one's so far, none out of range."""
        current = month_start(self.now)
        oldest = max(self.history_start, shift_months(current, -RETENTION_MONTHS))
        if not oldest <= month <= current:
            return 0
        end = min(shift_months(month, 1), self.usage_end)
        return max(0, (end - month) // HOUR)

    def billable_quantity(self, org: Org, month: datetime, product: str) -> int:
        """An org's billable units: the month's final cost at list price, at least one.

        A *_sum key of the current month counts the hours so far only; a 99th percentile of
        hosts does not grow with the month.
        """
        key, _, price, per = BILLABLE_SUMMARY[product]
        quantity = max(1, (sum(self.base_cents(org, month, product)) * per + price // 2) // price)
        hours = self.billable_hours(month)
        month_hours = calendar.monthrange(month.year, month.month)[1] * 24
        if key.endswith("_sum") and hours < month_hours:
            quantity = max(1, quantity * hours // month_hours)
        return quantity

    def committed_usage(self, month: datetime, product: str) -> int:
        """The account's billable units within its commitment: its committed share of the cost.

        The rest of ``account_billable_usage`` is ``account_on_demand_usage``.
        """
        account = sum(self.billable_quantity(o, month, product) for o in self.orgs)
        cents = [self.base_cents(o, month, product) for o in self.orgs]
        committed, total = sum(c for c, _ in cents), sum(c + o for c, o in cents)
        return (account * committed + total // 2) // total

    def billable_rows(self, orgs: list[Org], month: Moment) -> list[dict[str, Any]]:
        """Flat billable usage rows (org, product) of a month: the served numbers, unnested."""
        first = month_start(month)
        hours = self.billable_hours(first)
        if not hours:
            return []
        last_hour = first + (hours - 1) * HOUR
        rows = []
        accounts = {
            product: sum(self.billable_quantity(o, first, product) for o in self.orgs)
            for product in COST_PRODUCTS
        }
        committed = {product: self.committed_usage(first, product) for product in COST_PRODUCTS}
        for org in orgs:
            for product in COST_PRODUCTS:
                if not self.listed("billable", org, product, first):
                    continue
                key, unit, _, _ = BILLABLE_SUMMARY[product]
                account = accounts[product]
                own = self.billable_quantity(org, first, product)
                rows.append(
                    {
                        "month": first.isoformat(),
                        "public_id": org.public_id,
                        "org_name": org.name,
                        "account_name": self.parent.name,
                        "account_public_id": self.parent.public_id,
                        "billable_key": key,
                        "product_name": product,
                        "org_billable_usage": own,
                        "account_billable_usage": account,
                        "account_committed_usage": committed[product],
                        "account_on_demand_usage": account - committed[product],
                        # "The percentage of account usage the org represents": 0-100, as
                        # Datadog's own attribution answers give percentages.
                        "percentage_in_account": round(100 * own / account, 2),
                        "usage_unit": unit,
                        "elapsed_usage_hours": hours,
                        "first_billable_usage_hour": first.isoformat(),
                        "last_billable_usage_hour": last_hour.isoformat(),
                    }
                )
        return rows

    def billable_items(self, orgs: list[Org], month: Moment) -> list[dict[str, Any]]:
        """Served /api/v1/usage/billable-summary items: one per org, its products nested."""
        first = month_start(month)
        rows = self.billable_rows(orgs, first)
        items = []
        for org in orgs:
            own = [row for row in rows if row["public_id"] == org.public_id]
            if not own:
                continue
            last_day = parse_instant(own[0]["last_billable_usage_hour"]).replace(hour=0)
            items.append(
                {
                    **org.identity(self.parent),
                    "start_date": first.isoformat(),
                    "end_date": last_day.isoformat(),
                    "num_orgs": len(self.orgs),
                    "ratio_in_month": 1.0,
                    "usage": {row["billable_key"]: billable_body(row) for row in own},
                }
            )
        return items


def billable_body(row: dict[str, Any]) -> dict[str, Any]:
    """The UsageBillableSummaryBody of one flat billable row."""
    return {
        field: row[field]
        for field in (
            "account_billable_usage",
            "account_committed_usage",
            "account_on_demand_usage",
            "elapsed_usage_hours",
            "first_billable_usage_hour",
            "last_billable_usage_hour",
            "org_billable_usage",
            "percentage_in_account",
            "usage_unit",
        )
    }
