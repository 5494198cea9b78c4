"""Monthly cost per org, product and charge type: historical (published) and estimated."""

from __future__ import annotations

import typing as t
from decimal import Decimal

from typing_extensions import override

from tap_datadog_costs.answers import (
    ORG_IDENTITY_FIELDS,
    flag,
    instant_problem,
    org_identity,
)
from tap_datadog_costs.bookmarks import PastEnd
from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.periods import (
    add_months,
    estimated_cost_months,
    isoformat,
    month_of,
    month_param,
    month_range_params,
    months_between,
)
from tap_datadog_costs.schemas import load_schema
from tap_datadog_costs.streams.monthly import PublishedMonthlyStream
from tap_datadog_costs.withdrawals import WITHDRAWN

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context


#: Fields of a row taken as they are from each charge.
CHARGE_FIELDS = ("product_name", "charge_type", "cost", "last_aggregation_function")


def decimal_sum(amounts: list[float]) -> float:
    """Amounts added as the decimals Datadog wrote (1544.78, not 1544.7800000000002)."""
    return float(sum(Decimal(repr(amount)) for amount in amounts))


def summed(lines: list[dict[str, t.Any]], count: int) -> tuple[float | None, int, str | None]:
    """``(cost, count, last_aggregation_function)`` of charge lines added up."""
    costs = [line["cost"] for line in lines if line.get("cost") is not None]
    aggregation = next((f for line in lines if (f := line.get("last_aggregation_function"))), None)
    return (decimal_sum(costs) if costs else None, count, aggregation)


def merge_charges(
    charges: t.Iterable[dict[str, t.Any]],
) -> dict[tuple[t.Any, t.Any], tuple[float | None, int, str | None]]:
    """One entry per product and charge type: ``(cost, lines, last_aggregation_function)``.

    Datadog can send one charge as several lines (two ``infra_host`` / ``committed`` lines, 0
    and 1.17, in its recorded answers): they are parts of one charge and are added up, never
    left for a target to merge away on the key. Where a product has no ``total`` line (real
    answers have none), one is derived as the sum of its other lines, with 0 lines.
    """
    lines: dict[tuple[t.Any, t.Any], list[dict[str, t.Any]]] = {}
    for charge in charges:
        lines.setdefault((charge.get("product_name"), charge.get("charge_type")), []).append(charge)
    merged = {key: summed(parts, len(parts)) for key, parts in lines.items()}
    for product in dict.fromkeys(product for product, _ in lines):
        if (product, "total") not in lines:
            parts = [
                line for (name, _), group in lines.items() if name == product for line in group
            ]
            merged[(product, "total")] = summed(parts, 0)
    return merged


class CostStream(DatadogStream):
    """Rows of a ``cost_by_org`` answer: one per month, view, org, product and charge type."""

    primary_keys: t.ClassVar[tuple[str, ...]] = (
        "month", "view", "public_id", "product_name", "charge_type",
    )  # fmt: skip
    schema = load_schema("costs")
    #: Datadog's charge types that mean one of ours (committed, on_demand, total) by another name.
    CHARGE_TYPE_NAMES: t.ClassVar[dict[str, str]] = {}
    permission = "usage_read and billing_read"
    #: A line Datadog stops listing in an open month is withdrawn (per view: withdrawals.py).
    withdraws = True
    period_field = "month"
    scope_field = "view"
    attributes_of_an_org = True

    def cost_status(self, month: dt.datetime) -> str:
        """``final``, ``preliminary`` or ``estimate``: how far a row of this month may change."""
        raise NotImplementedError

    @override
    def withdrawn_values(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        read_at = self.datadog_tap.read_at
        return {"cost": 0.0, "charge_lines": 0, "cost_status": WITHDRAWN, "read_at": read_at}

    def view_params(self) -> dict[str, t.Any]:
        """Whose cost the answer holds: the view, and partner accounts or not."""
        return {
            "view": self.view,
            "include_connected_accounts": flag(self.include_connected_accounts),
        }

    def cost_params(self, first: dt.datetime, last: dt.datetime) -> dict[str, t.Any]:
        """Query for the months ``first`` to ``last`` (inclusive)."""
        return {**month_range_params(first, last), **self.view_params()}

    @override
    def fields_problem(self, attributes: dict[str, t.Any]) -> str | None:
        """An item must say its org and month: both are in the key."""
        problem = instant_problem(attributes.get("date"), "attributes.date") or self.misfit(
            attributes, (*ORG_IDENTITY_FIELDS, "total_cost"), "attributes."
        )
        charges = attributes.get("charges")
        if problem or charges is None:
            return problem
        if not isinstance(charges, list) or not all(isinstance(c, dict) for c in charges):
            return "has attributes.charges that is not a list of objects"
        for charge in charges:
            problem = self.misfit(charge, CHARGE_FIELDS, "a charge's ")
            if problem:
                return problem
        return None

    def with_our_charge_type(self, charge: dict[str, t.Any]) -> dict[str, t.Any]:
        """A charge with its charge type under our name (CHARGE_TYPE_NAMES)."""
        name = charge.get("charge_type")
        return {**charge, "charge_type": self.CHARGE_TYPE_NAMES.get(name, name)}  # type: ignore[arg-type]

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item["attributes"]
        # `date` is the first of the month, the last day, or any hour: keep the month.
        month = month_of(attributes["date"])
        row = {"month": isoformat(month), "view": self.view, **org_identity(attributes)}
        read = {
            "total_cost": attributes.get("total_cost"),
            "cost_status": self.cost_status(month),
            "read_at": self.datadog_tap.read_at,
        }
        charges = attributes.get("charges") or ()
        if self.CHARGE_TYPE_NAMES:
            charges = [self.with_our_charge_type(charge) for charge in charges]
        merged = merge_charges(charges)
        for (product, charge_type), (cost, lines, aggregation) in merged.items():
            yield {
                **row,
                "product_name": product,
                "charge_type": charge_type,
                "cost": cost,
                "charge_lines": lines,
                "last_aggregation_function": aggregation,
                **read,
            }


class HistoricalCostsStream(PublishedMonthlyStream, CostStream):
    """``GET /api/v2/usage/historical_cost``: final (and not yet final) monthly costs."""

    name = "historical_costs"
    path = "/api/v2/usage/historical_cost"
    answers_shared = True
    one_request_for_all_months = True

    @override
    def cost_status(self, month: dt.datetime) -> str:
        return self.status_of(month)

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101
        return self.cost_params(context["first"], context["last"])


class EstimatedCostsStream(CostStream):
    """``GET /api/v2/usage/estimated_cost``: the previous and current month, re-read every run."""

    name = "estimated_costs"
    path = "/api/v2/usage/estimated_cost"
    answers_shared = True

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Always: a product can drop out of a later estimate.

        A target that honours ACTIVATE_VERSION then drops the stale rows. Targets that ignore
        it (target-duckdb) keep them: the latest read is the rows with the latest ``read_at``.
        """
        return True

    @override
    def cost_status(self, month: dt.datetime) -> str:
        return "estimate"

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        return self.cost_params(*estimated_cost_months(self.datadog_tap.now))

    def months(self) -> list[dt.datetime]:
        """The estimated months (previous and current) within ``start_date`` to ``end_date``."""
        tap = self.datadog_tap
        wanted = set(months_between(tap.start_date, tap.end_date))
        return [month for month in estimated_cost_months(tap.now) if month in wanted]

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """An empty answer for the current month usually means keys of a child org.

        One request reads both estimated months (focus_costs shares the answer); only the
        months of the run's window are kept, as every other stream does.
        """
        months = self.months()
        self.periods_read = {isoformat(month) for month in months}
        previous, current = estimated_cost_months(self.datadog_tap.now)
        estimated = [month_param(previous), month_param(current)]
        first, last = (month_param(months[0]), month_param(months[-1])) if months else estimated
        self.progress.plan(
            self.how_read(context),
            len(months),
            "month",
            first,
            last,
            after_end=PastEnd(
                f"Datadog estimates {' and '.join(estimated)} only, outside start_date to end_date",
                warning=False,
            ),
        )
        if not months:
            return []
        answered = self.within(
            list(self.request_records(context)),
            "month",
            isoformat(previous),
            isoformat(add_months(current, 1)),
        )
        kept = self.periods_read
        records = [record for record in answered if record["month"] in kept]
        self.progress.advance(len(records), units=len(months))
        if not records:
            self.logger.warning(
                "estimated_costs: Datadog returned no cost for the previous and current month. "
                "If you expected costs, check that api_key and app_key belong to the parent "
                "organization (Pro or Enterprise plan) and that the key has billing_read."
            )
        return records
