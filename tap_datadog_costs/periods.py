"""Calendar rules for Datadog usage and cost data: pure functions, no I/O.

Every instant here is an aware UTC ``datetime``; months are represented by their
first instant, hours by theirs, so they can be compared, sorted and bookmarked.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pendulum

UTC = dt.timezone.utc

#: Hourly usage for the last 72 hours can still change (Datadog docs).
USAGE_DELAY_HOURS = 72
#: Historical cost of a month is final after the 16th of the next month.
HISTORICAL_COST_FINAL_DAY = 17
#: Cost attribution of a month "becomes available no later than the 19th of the following
#: month": from the 20th on, a month read with rows is final.
COST_ATTRIBUTION_FINAL_DAY = 20
#: Datadog keeps usage and cost history for 15 months.
RETENTION_MONTHS = 15

# Every date format we send or write, once.
#: Months in query parameters (`start_month`, `end_month`).
MONTH_PARAM_FORMAT = "%Y-%m"
#: Hours in hourly usage's `filter[timestamp][start|end]`.
HOUR_PARAM_FORMAT = "%Y-%m-%dT%H"
#: A month as the full UTC date-time that billing dimension mapping's `filter[month]` takes.
MONTH_TIMESTAMP_PARAM_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: FOCUS's DateTimeFormat (ISO 8601 in UTC, to the second, with a ``Z``).
FOCUS_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> dt.datetime:
    """Now, in UTC (pendulum, so tests can travel in time)."""
    return pendulum.now("UTC")


def parse_instant(value: str | dt.datetime) -> dt.datetime:
    """Parse an ISO date, date-time or ``YYYY-MM`` leniently into an aware UTC datetime.

    Datadog returns months as ``YYYY-MM`` where a date-time is documented, and
    naive strings are UTC by its convention.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = value.strip()
        if len(text) == 7 and text[4] == "-":  # noqa: PLR2004 - YYYY-MM
            text += "-01"
        if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat reads no "Z"
            text = f"{text[:-1]}+00:00"
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def month_of(value: str | dt.datetime) -> dt.datetime:
    """The first instant of the month a date, date-time or ``YYYY-MM`` (Datadog's) falls in."""
    return month_start(parse_instant(value))


def floor_hour(instant: dt.datetime) -> dt.datetime:
    """First instant of the hour holding ``instant``."""
    return dt.datetime(instant.year, instant.month, instant.day, instant.hour, tzinfo=UTC)


def day_start(instant: dt.datetime) -> dt.datetime:
    """First instant (UTC) of the day holding ``instant``."""
    return dt.datetime(instant.year, instant.month, instant.day, tzinfo=UTC)


def month_start(instant: dt.datetime) -> dt.datetime:
    """First instant of the month holding ``instant``."""
    return dt.datetime(instant.year, instant.month, 1, tzinfo=UTC)


def add_months(month: dt.datetime, count: int) -> dt.datetime:
    """Calendar arithmetic on months (pendulum handles year boundaries)."""
    moved = pendulum.instance(month).add(months=count)
    return dt.datetime(moved.year, moved.month, moved.day, moved.hour, tzinfo=UTC)


def months_between(first: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Months from the one holding ``first`` to the last one that starts before ``end``.

    ``end`` is exclusive: a month is included when any of its instants lies in
    ``[first, end)``.
    """
    months = []
    month = month_start(first)
    while month < end:
        months.append(month)
        month = add_months(month, 1)
    return months


def first_month_from(end: dt.datetime) -> dt.datetime:
    """The first month starting at or after ``end``, which ``months_between`` stops before.

    The latest bookmark a monthly stream's run ending at ``end`` leaves.
    """
    month = month_start(end)
    return month if month == end else add_months(month, 1)


def hour_windows(
    start: dt.datetime,
    end: dt.datetime,
    *,
    include_descendants: bool,
) -> t.Iterator[tuple[dt.datetime, dt.datetime]]:
    """Split ``[start, end)`` into the largest windows Datadog accepts for hourly usage.

    At most 24 hours with child orgs, two calendar months for a single org.
    Windows are whole hours, contiguous, in chronological order; an hour is read
    once it has ended before ``end`` (the hour in progress has no final data yet).
    """
    window_start = floor_hour(start)
    end = floor_hour(end)
    while window_start < end:
        if include_descendants:
            window_end = window_start + dt.timedelta(hours=24)
        else:
            window_end = add_months(window_start, 2)
        window_end = min(window_end, end)
        yield window_start, window_end
        window_start = window_end


def historical_cost_final_at(month: dt.datetime) -> dt.datetime:
    """When a month's historical cost stops changing: after the 16th of the next month."""
    return add_months(month, 1).replace(day=HISTORICAL_COST_FINAL_DAY)


def cost_attribution_final_at(month: dt.datetime) -> dt.datetime:
    """When a month's cost attribution stops changing: after the 19th of the next month."""
    return add_months(month, 1).replace(day=COST_ATTRIBUTION_FINAL_DAY)


def first_open_historical_month(
    now: dt.datetime, final_at: t.Callable[[dt.datetime], dt.datetime] = historical_cost_final_at
) -> dt.datetime:
    """The earliest month whose historical cost (or what ``final_at`` closes) may still change."""
    previous = add_months(month_start(now), -1)
    return previous if now < final_at(previous) else month_start(now)


def first_open_mapping_month(now: dt.datetime) -> dt.datetime:
    """Billing dimension mappings change monthly: only the current month is open."""
    return month_start(now)


def estimated_cost_months(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Estimated cost covers the previous and the current month only."""
    current = month_start(now)
    return add_months(current, -1), current


def retention_start(now: dt.datetime) -> dt.datetime:
    """The oldest hour Datadog still keeps: the default start of every stream."""
    return add_months(floor_hour(now), -RETENTION_MONTHS)


def isoformat(instant: dt.datetime) -> str:
    """The one timestamp format our records and bookmarks use."""
    return instant.isoformat()


def focus_instant(instant: dt.datetime) -> str:
    """A UTC instant as FOCUS's DateTimeFormat spells it: ``YYYY-MM-DDTHH:mm:ssZ``."""
    return instant.astimezone(dt.timezone.utc).strftime(FOCUS_DATETIME_FORMAT)


def month_param(month: dt.datetime) -> str:
    """A month as query parameters take it: ``YYYY-MM``."""
    return month.strftime(MONTH_PARAM_FORMAT)


def month_range_params(first: dt.datetime, last: dt.datetime) -> dict[str, str]:
    """The months ``first`` to ``last`` (inclusive) as ``start_month`` and ``end_month``."""
    return {"start_month": month_param(first), "end_month": month_param(last)}


def day_param(day: dt.datetime) -> str:
    """A day as daily cost's filters take it: ``YYYY-MM-DD``."""
    return day.strftime("%Y-%m-%d")


def hour_param(hour: dt.datetime) -> str:
    """An hour as hourly usage's filters take it: ``YYYY-MM-DDThh``."""
    return hour.strftime(HOUR_PARAM_FORMAT)


def month_timestamp_param(month: dt.datetime) -> str:
    """A month as a full UTC date-time: ``YYYY-MM-01T00:00:00Z``."""
    return month.strftime(MONTH_TIMESTAMP_PARAM_FORMAT)
