"""What the account's cost attribution answers hold: each month's cost by org and tags.

Part of Account (data.py), which mixes ``CostAttribution`` in: its methods read the account's
fields.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .catalog import ATTRIBUTION_TAGS, COST_PRODUCTS
from .costs import cents_to_float
from .periods import HOUR, iso_z, shift_months
from .stable import stable_id, stable_int

if TYPE_CHECKING:
    from datetime import datetime

    from .data import Org

#: Day of the next month a month's cost attribution appears ("no later than the 19th").
ATTRIBUTION_AVAILABLE_DAY = 19


@dataclass(frozen=True)
class Attribution:
    """One cost attribution item: an org's cost of a month carrying one combination of tags.

    ``tags`` is None when the cost is not broken down by tags (as Datadog serves it then);
    ``cents`` holds (committed, on_demand) per product.
    """

    org: Org
    month: datetime
    tags: dict[str, list[str]] | None
    cents: dict[str, tuple[int, int]]


class CostAttribution:
    """Account's cost attribution: months, tag combinations and their served values."""

    def attribution_months(self, first: datetime, last: datetime) -> list[datetime]:
        """Months in [first, last] with cost attribution.

        A month appears on the 19th of the next month, or once its historical cost is
        published, if that is later.
        """
        day = max(ATTRIBUTION_AVAILABLE_DAY, self.publish_day)
        return [
            month
            for month in self.cost_months("historical")
            if first <= month <= last and self.now >= shift_months(month, 1).replace(day=day)
        ]

    def attribution_cells(
        self, org: Org, month: datetime, product: str
    ) -> dict[tuple[str | None, ...], tuple[int, int]]:
        """(committed, on_demand) cents per combination of the configured tags' values.

        None stands for untagged. The cells add up to the org's final historical cost of the
        product to the cent.
        """
        cells = list(itertools.product(*[(None, *values) for values in ATTRIBUTION_TAGS.values()]))
        key = (org.public_id, month.strftime("%Y-%m"), product)
        weights = [stable_int("tags", *key, *cell) % 8 for cell in cells]
        weights[0] += 8  # the first cell carries no tag at all: some cost always does
        parts = [split_cents(cents, weights) for cents in self.base_cents(org, month, product)]
        return dict(zip(cells, zip(*parts, strict=True), strict=True))

    def attributions(
        self, orgs: list[Org], first: datetime, last: datetime, tag_keys: list[str]
    ) -> list[Attribution]:
        """Cost attribution entries (month, org, tag combination) in model order.

        Without tag keys, or with one that is not configured for usage attribution, the cost is
        not broken down and tags is null (Datadog's documented and recorded answer).
        """
        configured = list(ATTRIBUTION_TAGS)
        breakdown = bool(tag_keys) and all(key in ATTRIBUTION_TAGS for key in tag_keys)
        entries = []
        for month in self.attribution_months(first, last):
            for org in orgs:
                products = [p for p in COST_PRODUCTS if self.listed("attribution", org, p, month)]
                if not products:
                    continue
                if not breakdown:
                    cents = {p: self.base_cents(org, month, p) for p in products}
                    entries.append(Attribution(org, month, None, cents))
                    continue
                groups: dict[tuple[str | None, ...], dict[str, list[int]]] = {}
                for product in products:
                    for cell, amounts in self.attribution_cells(org, month, product).items():
                        group = tuple(cell[configured.index(key)] for key in tag_keys)
                        sums = groups.setdefault(group, {p: [0, 0] for p in products})
                        sums[product] = [a + b for a, b in zip(sums[product], amounts, strict=True)]
                for group, sums in groups.items():
                    if any(sum(amounts) for amounts in sums.values()):
                        tags = {
                            key: [] if value is None else [value]
                            for key, value in zip(tag_keys, group, strict=True)
                        }
                        cents = {product: (c, o) for product, (c, o) in sums.items()}
                        entries.append(Attribution(org, month, tags, cents))
        return entries

    @functools.cache  # noqa: B019 - an immutable snapshot: one sum per month and product
    def account_cents(self, month: datetime, product: str) -> int:
        """The whole account's final cost of a product in a month, in cents."""
        return sum(sum(self.base_cents(org, month, product)) for org in self.orgs)

    def attribution_value(self, entry: Attribution, dimension: str, suffix: str) -> float:
        """One served value: dollars, or a percentage (0-100) of the org's or account's total."""
        committed, on_demand = entry.cents.get(dimension, (0, 0))
        amounts = {
            "on_demand_cost": on_demand,
            "committed_cost": committed,
            "total_cost": committed + on_demand,
        }
        if suffix in amounts:
            return cents_to_float(amounts[suffix])
        if dimension not in COST_PRODUCTS:
            whole = 0
        elif suffix == "percentage_in_org":
            whole = sum(self.base_cents(entry.org, entry.month, dimension))
        else:
            whole = self.account_cents(entry.month, dimension)
        return round(100 * (committed + on_demand) / whole, 2) if whole else 0.0

    def attribution_item(self, entry: Attribution, fields: list[tuple[str, str]]) -> dict[str, Any]:
        """One served cost_by_tag item with the requested (dimension, suffix) values."""
        return {
            "type": "cost_by_tag",
            "id": stable_id("cost_by_tag", entry.org.public_id, entry.month, entry.tags),
            "attributes": {
                "month": entry.month.isoformat(),
                "org_name": entry.org.name,
                "public_id": entry.org.public_id,
                "tag_config_source": f"{self.parent.name}:::{'///'.join(ATTRIBUTION_TAGS)}",
                "tags": entry.tags,
                "updated_at": iso_z(shift_months(entry.month, 1) - HOUR),
                "values": {
                    f"{dimension}_{suffix}": self.attribution_value(entry, dimension, suffix)
                    for dimension, suffix in fields
                    if dimension in entry.cents or dimension not in COST_PRODUCTS  # withdrawn
                },
            },
        }


def split_cents(cents: int, weights: list[int]) -> list[int]:
    """Share ``cents`` by weight exactly: floors, then a cent more to the heaviest shares."""
    total = sum(weights)
    shares = [cents * weight // total for weight in weights]
    heaviest = sorted(range(len(weights)), key=lambda i: -weights[i])
    for index in heaviest[: cents - sum(shares)]:
        shares[index] += 1
    return shares
