"""Datadog's bill as FOCUS rows (1.2 and 1.3), to union with AWS, Azure and GCP FOCUS exports.

One row per month, org, product and pricing category (committed or on-demand; the ``total``
charge is never a row). Months Datadog has published come from historical cost (``final`` or
``preliminary``), the others from estimated cost (``estimate``); the key does not hold the
status, so a month's rows are replaced as it becomes final. Quantities are billable usage's
committed and on-demand usage; a negative charge is a credit. Date-times are FOCUS's
(``...Z``). Every column and where it comes from: docs/focus.md.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from typing_extensions import override

from tap_datadog_costs.periods import (
    add_months,
    floor_hour,
    focus_instant,
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

#: Datadog as provider, publisher and invoice issuer of its own charges.
DATADOG = "Datadog"
#: Per Datadog charge type: FOCUS PricingCategory and ChargeFrequency, and the billable
#: summary's field of the account's usage of that type.
CHARGE_TYPES = {
    "committed": ("Committed", "Recurring", "account_committed_usage"),
    "on_demand": ("Standard", "Usage-Based", "account_on_demand_usage"),
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
#: The unit of a quantity where billable usage has none for the charge: the month itself.
NO_QUANTITY = (1.0, "Month")


class Billable(t.NamedTuple):
    """A product's billable usage in a month: the org's, the account's, and the unit."""

    org: float
    account: float
    #: The account's usage within its commitment and beyond it (None: not in the answer).
    by_charge_type: dict[str, float | None]
    unit: str


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
    """FOCUS rows (1.2 and 1.3 alike) from historical and estimated cost."""

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
    def period_text(self, month: dt.datetime) -> str:
        """FOCUS's spelling: ``YYYY-MM-DDTHH:mm:ssZ``."""
        return focus_instant(month)

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
        row = self.focus_row(cost, {}, self.billing_account())
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
        billable = self.billable(sorted({row["month"] for row in costs}))
        account = self.billing_account()
        rows = [
            self.focus_row(cost, billable, account)
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

    def billable(self, months: list[str]) -> dict[tuple[str, str, str], Billable]:
        """Per month, org and product: the billable usage that prices it.

        For each, the aggregation Datadog bills on (``AGGREGATIONS``: hosts on the 99th
        percentile, events on the sum). The account's figures are under the org ``""`` too,
        for the summary view's rows, which are the whole account's.
        """
        stream = self.sibling(BillableUsageStream)
        best: dict[tuple[str, str, str], tuple[int, Billable]] = {}
        for month in months:
            params = stream.get_url_params({"month": month_of(month)}, None)
            for usage in stream.records_of(params):
                rank = AGGREGATIONS.index(usage["usage_aggregation"])
                if usage["org_billable_usage"] is None:
                    continue
                found = Billable(
                    float(usage["org_billable_usage"]),
                    float(usage["account_billable_usage"] or 0),
                    {
                        charge_type: usage[field]
                        for charge_type, (_, _, field) in CHARGE_TYPES.items()
                    },
                    usage["usage_unit"] or "Units",
                )
                for org in (usage["public_id"], ""):
                    key = (month, org, usage["product_name"])
                    if rank < best.get(key, (len(AGGREGATIONS),))[0]:
                        best[key] = (rank, found)
        return {key: found for key, (_, found) in best.items()}

    def quantity(
        self, cost: dict[str, t.Any], billable: dict[tuple[str, str, str], Billable]
    ) -> tuple[float, str] | None:
        """The billable quantity and unit of a committed or on-demand charge, if Datadog has it.

        The account's committed or on-demand usage of the product; an org's share of it (in
        the sub-org view) is that in the proportion of the org's usage to the account's.
        """
        org = "" if cost["view"] == "summary" else cost["public_id"]
        usage = billable.get((cost["month"], org, cost["product_name"]))
        if usage is None:
            return None
        account_part = usage.by_charge_type[cost["charge_type"]]
        if account_part is None:
            return None
        if not org:
            return float(account_part), usage.unit
        share = usage.org / usage.account if usage.account else 0.0
        return round(account_part * share, 6), usage.unit

    def charge_period_end(self, cost: dict[str, t.Any], month: dt.datetime) -> dt.datetime:
        """The month's end; for a month-to-date estimate, the end of the hour it was read in."""
        end = add_months(month, 1)
        if cost["cost_status"] == "estimate":
            return min(end, floor_hour(self.datadog_tap.now) + dt.timedelta(hours=1))
        return end

    def focus_row(
        self,
        cost: dict[str, t.Any],
        billable: dict[tuple[str, str, str], Billable],
        account: tuple[str, str | None] | None,
    ) -> dict[str, t.Any]:
        """One FOCUS row from one cost row (committed or on-demand).

        A negative charge is a ``Credit``: it prices and consumes nothing.
        """
        month = month_of(cost["month"])
        product, charge_type = cost["product_name"], cost["charge_type"]
        pricing_category, frequency, _ = CHARGE_TYPES[charge_type]
        credit = cost["cost"] < 0
        measured = None if credit else self.quantity(cost, billable)
        quantity, unit = measured or NO_QUANTITY
        account_id, account_name = account or (cost["public_id"], cost["org_name"])
        start = focus_instant(month)
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
            "BillingPeriodEnd": focus_instant(add_months(month, 1)),
            "ChargePeriodStart": start,
            "ChargePeriodEnd": focus_instant(self.charge_period_end(cost, month)),
            "ChargeCategory": "Credit" if credit else "Usage",
            "ChargeClass": None,
            "ChargeDescription": (
                f"Datadog {product}, {charge_type.replace('_', '-')}"
                f"{' credit' if credit else ''}, {month_param(month)}, "
                f"{cost['org_name'] or cost['public_id']}"
            ),
            "ChargeFrequency": "One-Time" if credit else frequency,
            "PricingCategory": None if credit else pricing_category,
            "PricingQuantity": None if credit else quantity,
            "PricingUnit": None if credit else unit,
            "ConsumedQuantity": quantity if measured else None,
            "ConsumedUnit": unit if measured else None,
            "ProviderName": DATADOG,
            "PublisherName": DATADOG,
            "InvoiceIssuerName": DATADOG,
            "InvoiceId": None,  # Datadog's usage and cost API names no invoice
            "ServiceProviderName": DATADOG,
            "HostProviderName": DATADOG,
            "ServiceName": product,
            "SkuId": product,
            "SkuPriceId": None if credit else f"{product}/{charge_type}",
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
