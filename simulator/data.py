"""The simulated account: one immutable snapshot of its orgs, history and withdrawn lines.

Account generates every number the simulator serves, from a base class per kind of answer
(usage.py, costs.py, billing.py, attribution.py), and the rows the tap must emit (oracle.py).
Every number comes from stable.py, so tests can recompute any value without running the
server; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .attribution import CostAttribution
from .billing import Billing
from .catalog import (
    ATTRIBUTION_FIELDS,
    ATTRIBUTION_TAGS,
    BILLABLE_SUMMARY,
    COST_PRODUCTS,
    DEFAULT_FAMILIES,
    IDENTITY_FIELDS,
    REGION,
    is_family,
)
from .costs import HISTORICAL_AVAILABLE_DAY, Costs
from .oracle import Oracle
from .periods import floor_hour, month_start, parse_instant, shift_months
from .usage import Usage

if TYPE_CHECKING:
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
class Account(Usage, Costs, Billing, CostAttribution, Oracle):
    """A snapshot of the simulated account at one generation (immutable: revise() replaces it).

    Here: its orgs, its history and the lines withdrawn. Each answer's numbers are methods of a
    base class with a module of its own: Usage, Costs, Billing, CostAttribution, and Oracle for
    the rows the tap must emit.
    """

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
    #: Lines whose on-demand charge is a credit, a negative cost (``DatadogSimulator.credit``).
    credited: tuple[Withdrawal, ...] = ()

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

    @property
    def history_start(self) -> datetime:
        """First hour with data: the start of the month ``history_months`` before now's month."""
        return shift_months(month_start(self.now), -self.history_months)
