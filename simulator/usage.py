"""What the account's usage answers hold: the usage summary and hourly usage.

Part of Account (data.py), which mixes ``Usage`` in: its methods read the account's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from .catalog import USAGE_ITEM_FIELDS, usage_types
from .periods import HOUR, floor_hour, iso_hour, shift_months
from .stable import stable_id, stable_int

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .data import Account, Org

LATE_DATA_HOURS = 72
MISSING_RECENT_HOURS = 3
#: Container counts are null at 03:00 every day, as Datadog sends some null values.
NULL_VALUE_HOUR = 3


class UsageItems(Sequence[dict[str, Any]]):
    """A window's hourly usage items, each made only when asked for.

    A page then costs its own items, not the window's: five hundred orgs make tens of
    thousands of items a day.
    """

    def __init__(
        self, account: Account, families: list[str], orgs: list[Org], hours: list[datetime]
    ) -> None:
        self.account, self.families, self.orgs, self.hours = account, families, orgs, hours

    def __len__(self) -> int:
        """Items in the window: one per family, org and hour."""
        return len(self.families) * len(self.orgs) * len(self.hours)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        """The item at ``index`` in Datadog's order (family, org, hour), or a page of them."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        family, rest = divmod(index, len(self.orgs) * len(self.hours))
        org, hour = divmod(rest, len(self.hours))
        return self.account.usage_item(self.orgs[org], self.families[family], self.hours[hour])


class Usage:
    """Account's usage: the usage summary's months and hosts, and every hour's measurements."""

    def summary_months(self, first: datetime, last: datetime) -> list[datetime]:
        """Months of the usage summary: from the start of history to the current one."""
        months, month = [], max(first, self.history_start)
        while month <= last:
            months.append(month)
            month = shift_months(month, 1)
        return months

    def summary_hosts(self, org: Org, month: datetime) -> int:
        """An org's 99th-percentile host count of a month (a usage summary field)."""
        return 1 + stable_int("summary", org.public_id, month.strftime("%Y-%m")) % 40

    @property
    def usage_end(self) -> datetime:
        """Exclusive end of the reported hours: the last hours arrive late (from generation 1)."""
        return self.now - (MISSING_RECENT_HOURS * HOUR if self.generation == 0 else timedelta())

    def resolve_families(self, requested: Iterable[str]) -> list[str]:
        """Expand ``all`` to the account's families, keeping request order without repeats."""
        names: list[str] = []
        for family in requested:
            for name in self.families if family == "all" else (family,):
                if name not in names:
                    names.append(name)
        return names

    def usage_value(self, org: Org, family: str, usage_type: str, hour: datetime) -> int | None:
        """Measured value; late hours grow with each generation; some values are null."""
        if usage_type == "container_count" and hour.hour == NULL_VALUE_HOUR:
            return None
        value = stable_int("usage", org.public_id, family, usage_type, iso_hour(hour)) % 100
        return value + self.generation if hour >= self.now - LATE_DATA_HOURS * HOUR else value

    def usage_hours(self, start: datetime, end: datetime) -> list[datetime]:
        """Hours with data in [start, end)."""
        hour = max(floor_hour(start), self.history_start)
        stop = min(floor_hour(end), self.usage_end)
        hours = []
        while hour < stop:
            hours.append(hour)
            hour += HOUR
        return hours

    def usage_items(
        self, orgs: list[Org], families: list[str], start: datetime, end: datetime
    ) -> UsageItems:
        """Served hourly usage items, in Datadog's order (family, org, hour), not by time."""
        return UsageItems(
            self, sorted(families), sorted(orgs, key=lambda org: org.public_id),
            self.usage_hours(start, end),
        )  # fmt: skip

    def usage_item(self, org: Org, family: str, hour: datetime) -> dict[str, Any]:
        """One org's usage of one product family in one hour."""
        return {
            "id": stable_id(org.public_id, family, iso_hour(hour), self.generation),
            "type": "usage_timeseries",
            "attributes": {
                **org.identity(self.parent, USAGE_ITEM_FIELDS),
                "product_family": family,
                "timestamp": iso_hour(hour),
                "measurements": [
                    {
                        "usage_type": usage_type,
                        "value": self.usage_value(org, family, usage_type, hour),
                    }
                    for usage_type in usage_types(family)
                ],
            },
        }
