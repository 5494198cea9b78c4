"""Datadog's calendar in the simulator: the date spellings its answers use and month arithmetic.

Pure functions of instants (UTC), no I/O: parsing what a query may hold, hours, months, days.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

UTC = timezone.utc
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: Datadog keeps usage and cost history for 15 months.
RETENTION_MONTHS = 15

Moment = datetime | date | str


def parse_instant(value: Moment) -> datetime:
    """Parse the spellings Datadog accepts: ``YYYY-MM``, ``YYYY-MM-DDThh``, ``Z``, fractions."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        text = value.strip().replace(" ", "+")  # an unencoded "+" in a query arrives as a space
        text = f"{text[:-1]}+00:00" if text.endswith(("Z", "z")) else text  # Python 3.10 reads no Z
        moment = datetime.fromisoformat(f"{text}-01" if len(text) == len("YYYY-MM") else text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_hour(moment: Moment) -> datetime:
    """The hour an instant falls in."""
    return parse_instant(moment).replace(minute=0, second=0, microsecond=0)


def month_start(moment: Moment) -> datetime:
    """The first instant (UTC) of the month an instant falls in."""
    return floor_hour(moment).replace(day=1, hour=0)


def shift_months(moment: datetime, months: int) -> datetime:
    """Calendar month arithmetic, clamping the day (Jan 31 + 1 month = Feb 29/28)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_between(first: datetime, last: datetime) -> int:
    """Whole calendar months from ``first``'s month to ``last``'s month."""
    return (last.year - first.year) * 12 + last.month - first.month


def iso_hour(moment: datetime) -> str:
    """Hourly usage timestamp format: ``YYYY-MM-DDTHH:00:00+00:00``."""
    return moment.strftime("%Y-%m-%dT%H:00:00+00:00")


def iso_z(moment: datetime) -> str:
    """Date-time with a ``Z`` suffix, as the cost and billing endpoints write it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def days_between(first: datetime, last: datetime) -> list[datetime]:
    """Days first..last inclusive."""
    return [first + n * DAY for n in range((last - first).days + 1)]
