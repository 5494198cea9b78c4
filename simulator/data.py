"""Deterministic data behind the Datadog simulator, and the oracle of what the tap must emit.

Every number is derived from a CRC of its coordinates so tests can recompute any value without
running the server; nothing here does I/O. Money is kept in integer cents so that summing orgs
and recomputing totals never drifts by a float ulp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .attribution import CostAttribution
from .billing import Billing
from .catalog import (
    AGGREGATION_FUNCTIONS,
    ATTRIBUTION_FIELDS,
    ATTRIBUTION_TAGS,
    BILLABLE_SUMMARY,
    COST_ITEM_FIELDS,
    COST_PRODUCTS,
    DEFAULT_FAMILIES,
    IDENTITY_FIELDS,
    MAX_TAG_KEYS,
    NO_ENDPOINT,
    is_family,
)
from .costs import HISTORICAL_AVAILABLE_DAY, Costs, cents_to_float
from .periods import (
    Moment,
    floor_hour,
    month_start,
    parse_instant,
    shift_months,
)
from .stable import stable_id
from .usage import Usage

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

__all__ = ["LINE_SOURCES", "PARENT_ID", "PARENT_NAME", "Account", "Org", "Withdrawal"]
# Re-exported: tests import these from simulator.data, where they were before the split.
__all__ += [
    "ATTRIBUTION_FIELDS",
    "ATTRIBUTION_TAGS",
    "BILLABLE_SUMMARY",
    "COST_PRODUCTS",
    "month_start",
    "parse_instant",
]

PARENT_ID = "parent00001"
PARENT_NAME = "Acme Parent"
REGION = "us"


#: The answers a withdrawal can narrow to: a cost kind, or one of these.
LINE_SOURCES = ("historical", "estimated", "projected", "billable", "attribution", "summary")


@dataclass(frozen=True)
class Withdrawal:
    """Lines a revision of Datadog's answers stops listing (or lists with a null cost).

    Datadog revises every open period, and a revision can drop a line: a product, a day, an
    org (Datadog's freshness rules). Each field narrows the lines; None matches any: the
    answers (``source``: a cost kind, ``billable``, ``attribution`` or ``summary``), an org's
    public id, a product (or billing dimension), a month, a day (daily answers only).
    """

    source: str | None = None
    org: str | None = None
    product: str | None = None
    month: datetime | None = None
    day: datetime | None = None

    def covers(
        self,
        source: str,
        org: str,
        product: str | None,
        period: datetime,
        *,
        daily: bool = False,
    ) -> bool:
        """Whether the line of ``source`` for this org, product and period is one of these."""
        return (
            self.source in (None, source)
            and self.org in (None, org)
            and self.product in (None, product)
            and self.month in (None, month_start(period))
            and (self.day is None or (daily and self.day == period))
        )


@dataclass(frozen=True)
class Org:
    """One organization of the simulated multi-org account."""

    public_id: str
    name: str
    description: str
    created: str

    def as_served(self) -> dict[str, Any]:
        """The /api/v1/org representation."""
        return {
            "public_id": self.public_id,
            "name": self.name,
            "description": self.description,
            "created": self.created,
            "settings": {},
            "subscription": {"type": "pro"},
            "billing": {"type": "parent_billing"},
        }

    def identity(self, parent: Org, fields: tuple[str, ...] = IDENTITY_FIELDS) -> dict[str, str]:
        """Org and account columns (those of ``fields``) of usage and cost items."""
        values = (self.name, self.public_id, parent.name, parent.public_id, REGION)
        return {k: v for k, v in zip(IDENTITY_FIELDS, values, strict=True) if k in fields}


@dataclass(frozen=True)
class Account(Usage, Costs, Billing, CostAttribution):
    """A snapshot of the simulated account at one generation (immutable: revise() replaces it)."""

    now: datetime
    child_orgs: int = 2
    families: tuple[str, ...] = DEFAULT_FAMILIES
    history_months: int = 16
    generation: int = 0
    publish_day: int = HISTORICAL_AVAILABLE_DAY
    #: Put before every org's public id, so that several simulated accounts never share one.
    org_prefix: str = ""
    #: Lines Datadog no longer lists (``DatadogSimulator.withdraw``).
    withdrawn: tuple[Withdrawal, ...] = ()
    #: Lines Datadog lists with a null cost (``DatadogSimulator.unknown_cost``).
    unknown: tuple[Withdrawal, ...] = ()

    def listed(
        self,
        source: str,
        org: Org,
        product: str | None,
        period: datetime,
        *,
        daily: bool = False,
    ) -> bool:
        """Whether Datadog's answers of ``source`` list this org's line of a period."""
        return not any(
            w.covers(source, org.public_id, product, period, daily=daily) for w in self.withdrawn
        )

    def __post_init__(self) -> None:
        """Round ``now`` down to its hour and refuse families Datadog does not know."""
        object.__setattr__(self, "now", floor_hour(self.now))
        unknown = [family for family in self.families if not is_family(family)]
        if unknown:
            msg = f"unknown product families: {unknown}"
            raise ValueError(msg)

    # ---- orgs -----------------------------------------------------------------------------
    @property
    def parent(self) -> Org:
        """The parent org (the account)."""
        return Org(
            self.org_prefix + PARENT_ID,
            PARENT_NAME,
            "Acme parent organization",
            "2019-09-26T17:28:28Z",
        )

    @property
    def children(self) -> list[Org]:
        """The child orgs, numbered from 1."""
        return [
            Org(
                f"{self.org_prefix}child{n:05d}",
                f"Acme Child {n}",
                f"Acme child organization {n}",
                f"202{n % 10}-01-15T09:30:00Z",
            )
            for n in range(1, self.child_orgs + 1)
        ]

    @property
    def orgs(self) -> list[Org]:
        """Parent first, then the children."""
        return [self.parent, *self.children]

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

    @property
    def history_start(self) -> datetime:
        """First hour with data: the start of the month ``history_months`` before now's month."""
        return shift_months(month_start(self.now), -self.history_months)

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
