"""What the account's cost answers hold: historical, estimated and projected cost.

Money is kept in integer cents so that summing orgs and recomputing totals never drifts by a
float ulp; cents_to_float spells it as Datadog does. Part of Account (data.py), which mixes
``Costs`` in: its methods read the account's fields.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, overload

from .catalog import AGGREGATION_FUNCTIONS, CHARGE_TYPES, COST_PRODUCTS, SPLIT_PRODUCT
from .periods import month_start, months_between, shift_months
from .stable import stable_int

if TYPE_CHECKING:
    from datetime import datetime

    from .data import Org
    from .periods import Moment

#: Day of the next month a month's historical cost appears; Datadog promises the 16th at the latest.
HISTORICAL_AVAILABLE_DAY = 3
HISTORICAL_FINAL_DAY = 17
OLD_MONTH_AGE = 12
#: How far an estimate of a month's on-demand cost runs short of the final bill, in percent.
ESTIMATE_SHORTFALL_PERCENT = 2
#: Projected cost "becomes available around the 12th of the month" (API reference).
PROJECTED_FROM_DAY = 12
#: Historical cost `date` of months this old or older comes back as `YYYY-MM`.
MONTH_ONLY_AGE = 7


@overload
def cents_to_float(cents: int) -> float: ...
@overload
def cents_to_float(cents: None) -> None: ...
def cents_to_float(cents: int | None) -> float | None:
    """Cents to a 2-decimal float (None: a cost Datadog lists as null)."""
    return None if cents is None else round(cents / 100, 2)


@dataclass(frozen=True)
class Charge:
    """One cost charge: a product's committed, on-demand or total amount."""

    product_name: str
    charge_type: str
    #: None: Datadog lists the line with a null cost.
    cents: int | None

    @property
    def last_aggregation_function(self) -> str | None:
        """Only some products report it, so the tap must treat it as nullable."""
        return AGGREGATION_FUNCTIONS.get(self.product_name)


@dataclass(frozen=True)
class CostEntry:
    """One cost item: an org (or the parent summing every org) for one month or day."""

    org: Org
    period: datetime
    charges: tuple[Charge, ...]

    @property
    def total_cents(self) -> int:
        """Every charge but ``total`` ones (which repeat the others' sum)."""
        return sum(
            charge.cents
            for charge in self.charges
            if charge.charge_type != "total" and charge.cents is not None
        )


class Costs:
    """Account's costs: which months each kind answers for, and every charge of a month or day."""

    def is_final(self, month: Moment) -> bool:
        """Historical cost is final from the 17th of the next month, or once published if later."""
        final_day = max(HISTORICAL_FINAL_DAY, self.publish_day)
        return self.now >= shift_months(month_start(month), 1).replace(day=final_day)

    def cost_months(self, kind: str) -> list[datetime]:
        """Months the cost endpoint of this kind answers for."""
        current = month_start(self.now)
        if kind == "projected":  # "becomes available around the 12th of the month"
            return [current] if self.now.day >= PROJECTED_FROM_DAY else []
        if kind == "estimated":
            return [shift_months(current, -1), current]
        months, month = [], self.history_start
        while self.now >= shift_months(month, 1).replace(day=self.publish_day):
            months.append(month)
            month = shift_months(month, 1)
        return months

    @staticmethod
    def base_cents(org: Org, month: datetime, product: str) -> tuple[int, int]:
        """(committed, on_demand) cents of a month as finally billed (its final historical cost)."""
        key = (org.public_id, month.strftime("%Y-%m"), product)
        committed = 2 * (stable_int("committed", *key) % 50_000)
        on_demand = 1_000 + 2 * (stable_int("on_demand", *key) % 50_000)
        return committed, on_demand

    def product_cents(self, kind: str, org: Org, month: datetime, product: str) -> tuple[int, int]:
        """(committed, on_demand) cents of the whole month.

        Preliminary historical cost is a little short of the final; so is an estimate, which
        runs ESTIMATE_SHORTFALL_PERCENT short on demand (revised by 25 cents each generation)
        and, for the current month, covers only the days so far (cost_entries). A credited
        line's on-demand charge is negative (``credited``).
        """
        committed, on_demand = self.base_cents(org, month, product)
        if any(c.covers(kind, org.public_id, product, month) for c in self.credited):
            on_demand = -on_demand
        if kind == "historical" and not self.is_final(month):
            on_demand -= 100 * (self.generation + 1)
        elif kind == "estimated":
            on_demand = on_demand * (100 - ESTIMATE_SHORTFALL_PERCENT) // 100
            on_demand += 25 * self.generation
        return committed, on_demand

    def cost_entries(
        self, kind: str, orgs: list[Org], period: datetime, view: str, per_day: int | None = None
    ) -> list[CostEntry]:
        """Cost items of a month, or of a day: the month's amount * per_day / days in the month.

        The current month's estimate is month to date: its amount * today's day / days.
        Lines withdrawn (``withdrawn``) are not listed, an item left with none at all neither;
        lines of ``unknown`` have a null cost.
        """
        month = month_start(period)
        groups = [(self.parent, orgs)] if view == "summary" else [(org, [org]) for org in orgs]
        days = calendar.monthrange(month.year, month.month)[1]
        daily = per_day is not None
        if per_day is None and kind == "estimated" and month == month_start(self.now):
            per_day = self.now.day
        entries = []
        for owner, members in groups:
            charges: list[Charge] = []
            for product in COST_PRODUCTS:
                listed = [
                    org for org in members if self.listed(kind, org, product, period, daily=daily)
                ]
                if not listed:
                    continue
                parts = [self.product_cents(kind, org, month, product) for org in listed]
                if per_day is not None:  # each org's share of the days, so views add up
                    parts = [(c * per_day // days, o * per_day // days) for c, o in parts]
                committed, on_demand = (sum(part[i] for part in parts) for i in (0, 1))
                amounts: tuple[int | None, ...] = (committed, on_demand, committed + on_demand)
                if any(
                    u.covers(kind, org.public_id, product, period, daily=daily)
                    for u in self.unknown
                    for org in listed
                ):
                    amounts = (None, None, None)
                types = CHARGE_TYPES[kind]
                charges += map(Charge, [product] * len(types), types, amounts)
            if not charges:
                continue
            first = next((c for c in charges if c.product_name == SPLIT_PRODUCT), None)
            if kind != "projected" and first is not None and first.cents is not None:
                # one charge in two lines: a third first, the rest last
                charges[charges.index(first)] = replace(first, cents=first.cents // 3)
                charges.append(replace(first, cents=first.cents - first.cents // 3))
            entries.append(CostEntry(owner, period, tuple(charges)))
        return entries

    def historical_date(self, month: datetime) -> str:
        """Old months come back with arbitrary hours, others as `YYYY-MM` (Datadog quirks)."""
        age = months_between(month, month_start(self.now))
        if age > OLD_MONTH_AGE:
            return month.replace(day=15, hour=13).isoformat()
        if age >= MONTH_ONLY_AGE:
            return month.strftime("%Y-%m")
        return month.isoformat()
