"""Datadog's bill as FOCUS rows, to union with AWS, Azure and GCP FOCUS exports.

One row per month, org, product and pricing category (committed or on-demand; the ``total``
charge is never a row). Months Datadog has published come from historical cost (``final`` or
``preliminary``), the others from estimated cost (``estimate``); the key does not hold the
status, so a month's rows are replaced as it becomes final. Quantities come from billable usage.
Every column and where it comes from: docs/focus.md.
"""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_datadog_costs.periods import (
    add_months,
    isoformat,
    month_of,
    month_param,
    month_start,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.billable_usage import BillableUsageStream
from tap_datadog_costs.streams.costs import EstimatedCostsStream, HistoricalCostsStream
from tap_datadog_costs.streams.monthly import ClosedByHistoricalCostStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    import datetime as dt


#: Datadog as provider, publisher and invoice issuer of its own charges.
DATADOG = "Datadog"
#: Per Datadog charge type: FOCUS PricingCategory and ChargeFrequency.
CHARGE_TYPES = {
    "committed": ("Committed", "Recurring"),
    "on_demand": ("Standard", "Usage-Based"),
}
#: The billable usage aggregation that prices a product, best first (hosts: the 99th percentile).
AGGREGATIONS = ("top99p", "sum", "average", "maximum", None)
#: FOCUS ServiceCategory and ServiceSubcategory (one of FOCUS's allowed pairs) by product name
#: prefix; anything else is observability (docs/focus.md lists the mapping).
SERVICE_CATEGORIES = (
    (("siem", "cws", "application_security"), "Security", "Threat Detection and Response"),
    (("cspm", "csm_", "vuln", "application_vulnerability"), "Security",
     "Security Posture Management"),
    (("sensitive_data",), "Security", "Other (Security)"),
    (("ci_",), "Developer Tools", "Continuous Integration and Deployment"),
    (("synthetics", "test_"), "Developer Tools", "Quality Assurance"),
    (("npm", "network"), "Networking", "Other (Networking)"),
    (("llm", "bits_ai"), "AI and Machine Learning", "Generative AI"),
    (("iot",), "Internet of Things", "IoT Platforms"),
)  # fmt: skip
OBSERVABILITY = ("Management and Governance", "Observability")
#: The unit of a quantity where billable usage has none for the product: the month itself.
NO_QUANTITY = (1.0, "Month")


def service_category(product: str) -> tuple[str, str]:
    """FOCUS ServiceCategory and ServiceSubcategory of a Datadog product."""
    return next(
        (
            (category, subcategory)
            for prefixes, category, subcategory in SERVICE_CATEGORIES
            if product.startswith(prefixes)
        ),
        OBSERVABILITY,
    )


class FocusCostsStream(ClosedByHistoricalCostStream):
    """FOCUS 1.2 rows (with the 1.3 provider columns) from historical and estimated cost."""

    name = "focus_costs"
    path = HistoricalCostsStream.path
    permission = HistoricalCostsStream.permission
    primary_keys = ("BillingPeriodStart", "x_View", "SubAccountId", "ServiceName", "x_ChargeType")
    replication_key = "BillingPeriodStart"
    schema = load_schema("focus_costs")
    period_field = "BillingPeriodStart"
    scope_field = "x_View"
    status_field = "x_CostStatus"

    @override
    def withdrawn_record(self, period: str, key: dict[str, str]) -> dict[str, t.Any]:
        """The FOCUS row of a zero cost, the line's key and ``x_CostStatus`` withdrawn."""
        cost = {
            **dict.fromkeys(("org_name", "account_name", "account_public_id", "region")),
            "month": period,
            "view": self.view,
            "public_id": key["SubAccountId"],
            "product_name": key["ServiceName"],
            "charge_type": key["x_ChargeType"],
            "cost": 0.0,
            "cost_status": WITHDRAWN,
            "read_at": self.datadog_tap.read_at,
        }
        row = self.focus_row(cost, {}, {}, self.billing_account())
        return {**row, "PricingQuantity": 0.0}

    @override
    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        costs = self.historical(months)
        published = {row["month"] for row in costs}
        costs += [
            row
            for row in self.estimated()
            if row["month"] not in published and months[0] <= month_of(row["month"]) <= months[-1]
        ]
        quantities = self.quantities(sorted({row["month"] for row in costs}))
        totals = {
            (row["month"], row["public_id"], row["product_name"]): row["cost"]
            for row in costs
            if row["charge_type"] == "total"
        }
        account = self.billing_account()
        rows = [
            self.focus_row(cost, quantities, totals, account)
            for cost in costs
            if cost["charge_type"] in CHARGE_TYPES and cost["cost"] is not None
        ]
        for month in months:
            if isoformat(month) in published and self.historical_cost_is_final(month):
                self.closed.add(month)
        self.progress.advance(len(rows), units=len(months))
        return rows

    def historical(self, months: list[dt.datetime]) -> list[dict[str, t.Any]]:
        """Historical cost rows of the months Datadog may have published (before this one)."""
        published = [month for month in months if month < month_start(self.datadog_tap.now)]
        if not published:
            return []
        stream = self.sibling(HistoricalCostsStream)
        return stream.records_of(stream.cost_params(published[0], published[-1]))

    def estimated(self) -> list[dict[str, t.Any]]:
        """Estimated cost rows of the previous and the current month."""
        stream = self.sibling(EstimatedCostsStream)
        return stream.records_of(stream.get_url_params(None, None))

    def billing_account(self) -> tuple[str, str | None] | None:
        """The parent org (public id, name): the account Datadog bills.

        Cost items name their org only; the summary view's item is the parent's, the account
        as a whole. None when Datadog has no estimate at all (each row's own org is then used).
        """
        stream = self.sibling(EstimatedCostsStream)
        body = stream.get_json({**stream.get_url_params(None, None), "view": "summary"})
        for item in body["data"]:
            return item["attributes"]["public_id"], item["attributes"].get("org_name")
        return None

    def quantities(self, months: list[str]) -> dict[tuple[str, str, str], tuple[float, str]]:
        """Per month, org and product: the billable quantity and unit that price it."""
        stream = self.sibling(BillableUsageStream)
        best: dict[tuple[str, str, str], tuple[int, float, str]] = {}
        for month in months:
            params = stream.get_url_params({"month": month_of(month)}, None)
            for usage in stream.records_of(params):
                key = (month, usage["public_id"], usage["product_name"])
                rank = AGGREGATIONS.index(usage["usage_aggregation"])
                quantity = usage["org_billable_usage"]
                if quantity is not None and rank < best.get(key, (len(AGGREGATIONS),))[0]:
                    best[key] = (rank, float(quantity), usage["usage_unit"] or "Units")
        return {key: (quantity, unit) for key, (_, quantity, unit) in best.items()}

    def focus_row(
        self,
        cost: dict[str, t.Any],
        quantities: dict[tuple[str, str, str], tuple[float, str]],
        totals: dict[tuple[str, str, str], float | None],
        account: tuple[str, str | None] | None,
    ) -> dict[str, t.Any]:
        """One FOCUS row from one cost row (committed or on-demand).

        The org's billable quantity of the product is split between its committed and
        on-demand rows by their share of its cost, so quantities add up per product.
        """
        month = month_of(cost["month"])
        product, charge_type = cost["product_name"], cost["charge_type"]
        pricing_category, frequency = CHARGE_TYPES[charge_type]
        key = (cost["month"], cost["public_id"], product)
        measured = quantities.get(key)
        quantity, unit = measured or NO_QUANTITY
        total = totals.get(key)
        if measured:
            quantity = round(quantity * cost["cost"] / total, 6) if total else 0.0
        account_id, account_name = account or (cost["public_id"], cost["org_name"])
        start, end = isoformat(month), isoformat(add_months(month, 1))
        category, subcategory = service_category(product)
        return {
            "BilledCost": cost["cost"],
            "EffectiveCost": cost["cost"],
            "ListCost": cost["cost"],
            "ContractedCost": cost["cost"],
            "BillingAccountId": cost["account_public_id"] or account_id,
            "BillingAccountName": cost["account_name"] or account_name,
            "BillingCurrency": self.datadog_tap.settings.billing_currency,
            "BillingPeriodStart": start,
            "BillingPeriodEnd": end,
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": (
                f"Datadog {product}, {charge_type.replace('_', '-')}, {month_param(month)}, "
                f"{cost['org_name'] or cost['public_id']}"
            ),
            "ChargeFrequency": frequency,
            "PricingCategory": pricing_category,
            "PricingQuantity": quantity,
            "PricingUnit": unit,
            "ConsumedQuantity": quantity if measured else None,
            "ConsumedUnit": unit if measured else None,
            "ProviderName": DATADOG,
            "PublisherName": DATADOG,
            "InvoiceIssuerName": DATADOG,
            "InvoiceId": None,  # Datadog's usage and cost API names no invoice
            "ServiceProviderName": DATADOG,
            "HostProviderName": DATADOG,
            "ServiceName": product,
            "ServiceCategory": category,
            "ServiceSubcategory": subcategory,
            "SubAccountId": cost["public_id"],
            "SubAccountName": cost["org_name"],
            "SubAccountType": "Organization",
            "RegionId": cost["region"],
            "RegionName": cost["region"],
            "Tags": None,
            "x_ChargeType": charge_type,
            "x_CostStatus": cost["cost_status"],
            "x_View": cost["view"],
            "x_QuantitySource": "billable_usage" if measured else "none",
            "x_ReadAt": cost["read_at"],
        }
