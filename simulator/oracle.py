"""The oracle: the rows the tap must emit, computed from the account without running a server.

Tests compare the tap's output with these. Each flattens what the endpoints serve the way the
tap's streams do (one row per org, month and product or charge, ...). Part of Account
(data.py), which mixes ``Oracle`` in: its methods read the account's fields and numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import (
    AGGREGATION_FUNCTIONS,
    ATTRIBUTION_FIELDS,
    COST_ITEM_FIELDS,
    COST_PRODUCTS,
    IDENTITY_FIELDS,
    MAX_TAG_KEYS,
    NO_ENDPOINT,
    REGION,
)
from .costs import cents_to_float
from .periods import month_start, parse_instant
from .stable import stable_id

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .periods import Moment


class Oracle:
    """Account's expected rows: one method per kind of row the tap emits."""

    def expected_organizations(self, start: Moment, end: Moment) -> list[dict[str, Any]]:
        """The organizations rows the tap must emit, reading months start..end, whole account.

        Every org comes from the usage summary; /api/v1/org adds the parent's own details.
        """
        months = self.summary_months(month_start(start), month_start(end))
        listing = {
            org: [month for month in months if self.listed("summary", org, None, month)]
            for org in self.orgs
        }
        return [
            {
                "public_id": org.public_id,
                "name": org.name,
                "org_id": stable_id("org", org.public_id)[:16],
                "region": REGION,
                "account_name": self.parent.name,
                "account_public_id": self.parent.public_id,
                "is_parent": org == self.parent,
                "description": org.description if org == self.parent else None,
                "created": parse_instant(org.created).isoformat() if org == self.parent else None,
                "subscription_type": "pro" if org == self.parent else None,
                "billing_type": "parent_billing" if org == self.parent else None,
                "first_month": listing[org][0].isoformat(),
                "last_month": listing[org][-1].isoformat(),
                "org_status": "listed",
            }
            for org in self.orgs
            if listing[org]
        ]

    def expected_hourly_usage(
        self,
        start: Moment,
        end: Moment,
        include_descendants: bool = True,  # noqa: FBT001, FBT002 -- positional per the documented API
        families: Iterable[str] = ("all",),
    ) -> list[dict[str, Any]]:
        """Flat usage records (one per usage type) for hours start <= h < end."""
        orgs = self.orgs if include_descendants else [self.parent]
        items = self.usage_items(
            orgs, self.resolve_families(families), parse_instant(start), parse_instant(end)
        )
        records = [
            {
                "timestamp": item["attributes"]["timestamp"],
                **{key: item["attributes"].get(key) for key in IDENTITY_FIELDS},
                "product_family": item["attributes"]["product_family"],
                **measurement,
            }
            for item in items
            for measurement in item["attributes"]["measurements"]
        ]
        return sorted(
            records,
            key=lambda r: (r["timestamp"], r["public_id"], r["product_family"], r["usage_type"]),
        )

    def expected_costs(
        self, kind: str, start_month: Moment, end_month: Moment, view: str
    ) -> list[dict[str, Any]]:
        """The cost rows the tap must emit for the months the endpoint returns in [start, end].

        One row per org, month, product and charge type: lines of one charge added up (and
        counted), and a ``total`` row (committed + on-demand, no line of its own) where
        Datadog sends none. ``read_at`` is the tap's and not predicted here.
        """
        first, last = month_start(start_month), month_start(end_month)
        rows = []
        for month in self.cost_months(kind):
            if not first <= month <= last:
                continue
            status = (
                "estimate"
                if kind != "historical"
                else ("final" if self.is_final(month) else "preliminary")
            )
            for entry in self.cost_entries(kind, self.orgs, month, view):
                sums: dict[tuple[str, str], list[int | None]] = {}
                for charge in entry.charges:
                    sums.setdefault((charge.product_name, charge.charge_type), []).append(
                        charge.cents
                    )
                for product in dict.fromkeys(name for name, _ in sums):
                    if (product, "total") not in sums:
                        parts = [c for (name, _), cs in sums.items() if name == product for c in cs]
                        sums[(product, "total")] = parts
                for (product, charge_type), cents in sums.items():
                    derived = charge_type == "total" and kind != "projected"
                    rows.append(
                        {
                            "month": entry.period.isoformat(),
                            "view": view,
                            **dict.fromkeys(IDENTITY_FIELDS),
                            **entry.org.identity(self.parent, COST_ITEM_FIELDS),
                            "product_name": product,
                            "charge_type": charge_type,
                            "cost": None if None in cents else cents_to_float(sum(cents)),  # type: ignore[arg-type]
                            "charge_lines": 0 if derived else len(cents),
                            "last_aggregation_function": AGGREGATION_FUNCTIONS.get(product),
                            "total_cost": cents_to_float(entry.total_cents),
                            "cost_status": status,
                        }
                    )
        return rows

    def expected_mappings(self, month: Moment) -> list[dict[str, Any]]:
        """Flat mapping rows, one per (dimension, endpoint); NO_ENDPOINT where there is none."""
        first = month_start(month).isoformat()
        return [
            {
                "month": first,
                "billing_dimension": dimension,
                "in_app_label": label,
                "endpoint": endpoint,
                "keys": keys,
                "status": status,
                "timestamp": first,
            }
            for dimension, label, endpoints in self.mapping_entries(month)
            for endpoint, keys, status in (endpoints or [(NO_ENDPOINT, None, None)])
        ]

    def expected_billable_usage(self, month: Moment) -> list[dict[str, Any]]:
        """Flat billable usage rows of a month for the whole account (parent first)."""
        return self.billable_rows(self.orgs, month)

    def expected_cost_attribution(
        self, start_month: Moment, end_month: Moment, tag_keys: list[str]
    ) -> list[dict[str, Any]]:
        """Flat rows (month, org, tag combination, billing dimension) of the whole account.

        The numbers as served with fields=* and include_descendants=true.
        """
        keys = list(dict.fromkeys(tag_keys))
        if len(keys) > MAX_TAG_KEYS:
            msg = f"at most {MAX_TAG_KEYS} tag keys: {keys}"
            raise ValueError(msg)
        entries = self.attributions(
            self.orgs, month_start(start_month), month_start(end_month), keys
        )
        return [
            {
                "month": entry.month.isoformat(),
                "public_id": entry.org.public_id,
                "org_name": entry.org.name,
                "tags": entry.tags,
                "billing_dimension": dimension,
                **{
                    suffix: self.attribution_value(entry, dimension, suffix)
                    for suffix in ATTRIBUTION_FIELDS
                },
            }
            for entry in entries
            for dimension in COST_PRODUCTS
            if dimension in entry.cents
        ]

    def expected_orgs(self) -> list[dict[str, Any]]:
        """The /api/v1/org list as served to the parent keys: the top-level org alone."""
        return [self.parent.as_served()]
