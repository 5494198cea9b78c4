"""MonthlyStream: incremental by month, re-reading every month that was still open when read."""

from __future__ import annotations

import abc
import sys
import typing as t
from operator import itemgetter

from typing_extensions import override

from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.periods import (
    add_months,
    first_month_from,
    first_open_historical_month,
    historical_cost_final_at,
    isoformat,
    month_param,
    month_start,
    months_between,
    parse_instant,
)

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from singer_sdk.helpers.types import Context


class MonthlyStream(DatadogStream, metaclass=abc.ABCMeta):
    """Incremental on ``month``, re-reading every month that was not final when read.

    The bookmark is the first month to read on the next run: the earliest month read that
    was not final (``is_final``) at the time of this read, else the month after the last one.
    It is written only when the stream completes; an interrupted run starts again from
    the previous bookmark, which costs a few requests and loses nothing.
    """

    #: Each row's month (its first instant): the bookmark's field.
    replication_key = "month"
    is_sorted = True
    STATE_MSG_FREQUENCY = sys.maxsize  # no bookmark mid-stream: see the docstring
    bookmark_per_record = False  # read_records writes the bookmark: see the docstring
    #: Rows of a month that is not final are withdrawn when a re-read no longer lists them.
    withdraws = True
    period_field = "month"

    @abc.abstractmethod
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        """The earliest month whose data may still change at ``now``."""

    @abc.abstractmethod
    def is_final(self, month: dt.datetime, now: dt.datetime, *, has_rows: bool) -> bool:
        """Whether a month read at ``now`` (with or without rows) will never change again."""

    def period_text(self, month: dt.datetime) -> str:
        """A month as the stream's rows, bookmark and withdrawal ledger spell it."""
        return isoformat(month)

    @override
    def respelled(self, period: str) -> str:
        """A month its state spelled otherwise (an earlier version's) as ``period_text`` does."""
        try:
            return self.period_text(parse_instant(period))
        except ValueError:
            return period  # not a month: a state written by hand, whose keys decode to nothing

    def available_before(self, now: dt.datetime) -> dt.datetime:
        """Months starting at or after this have no data yet (default: none, read up to now)."""
        return now

    def available_from(self, now: dt.datetime) -> dt.datetime | None:  # noqa: ARG002
        """The oldest month the endpoint still serves (default: None, as old as start_date)."""
        return None

    #: Whether one request reads every month of a run (context ``first`` and ``last``), else
    #: one request a month (context ``month``). An endpoint that answers in pages is asked for
    #: ranges of months instead, up to ``max_concurrency``, so that their pages come side by
    #: side.
    one_request_for_all_months = False

    def records_for_months(self, months: list[dt.datetime]) -> t.Iterable[dict[str, t.Any]]:
        """Every record of these months (in any order), telling ``progress`` of each read."""
        if self.one_request_for_all_months:
            contexts = [{"first": part[0], "last": part[-1]} for part in self.month_ranges(months)]
            with self.side_by_side(map(self.answer_to, contexts)) as found:
                records = [record for answers in found for rows in answers for record in rows]
            rows = self.month_rows(None, records)
            self.progress.advance(len(rows), units=len(months))
            return rows
        return self.month_by_month(months)

    def month_ranges(self, months: list[dt.datetime]) -> list[list[dt.datetime]]:
        """One range of every month, or, for paged answers, up to ``max_concurrency`` ranges."""
        if not self.page_cursor_param:
            return [months]
        parts = min(self.datadog_tap.settings.max_concurrency, len(months))
        size, larger = divmod(len(months), parts)
        ranges, first = [], 0
        for part in range(parts):
            last = first + size + (part < larger)
            ranges.append(months[first:last])
            first = last
        return ranges

    def answer_to(self, context: Context) -> Callable[[], list[list[dict[str, t.Any]]]]:
        """A read of every record the endpoint answers ``context`` with (all its pages)."""
        return lambda: [list(self.request_records(context))]

    def month_by_month(self, months: list[dt.datetime]) -> t.Iterator[dict[str, t.Any]]:
        """One request a month, each month's rows as ``month_rows`` makes them."""
        reads = (self.answer_to({"month": month}) for month in months)
        with self.side_by_side(reads) as found:
            for month, answers in zip(months, found, strict=True):
                rows = self.month_rows(month, [record for rows in answers for record in rows])
                self.progress.advance(len(rows))
                yield from rows

    def month_rows(
        self,
        month: dt.datetime | None,  # noqa: ARG002 - for the streams that stamp it
        records: list[dict[str, t.Any]],
    ) -> list[dict[str, t.Any]]:
        """The rows of one read (of ``month``, or of every month): default, its records."""
        return records

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        tap = self.datadog_tap
        now = tap.now
        open_month = self.first_open_month(now)
        start = month_start(tap.start_date)
        oldest = self.available_from(now)
        if oldest is not None:
            start = max(start, oldest)
        bookmark = self.resume_point(context)
        if bookmark is not None:
            start = max(start, min(month_start(bookmark), open_month))
        months = months_between(start, min(tap.end_date, self.available_before(now)))
        spell = self.period_text
        self.periods_read = {spell(month) for month in months}
        self.progress.plan(
            self.how_read(context),
            len(months),
            "month",
            month_param(months[0] if months else start),
            month_param(months[-1] if months else start),
            after_end=self.after_end(context, start, furthest=first_month_from(tap.end_date)),
        )
        month_of = self.replication_key  # each row's month
        records = (
            self.within(
                list(self.records_for_months(months)),
                month_of,
                spell(months[0]),
                spell(add_months(months[-1], 1)),
            )
            if months
            else []
        )
        records.sort(key=itemgetter(month_of))
        yield from records
        # Our bookmark is not the latest value emitted (what the SDK would keep) but the
        # first month to read next time, written in the SDK's state layout.
        read = {record[month_of] for record in records}
        resume_from = next(
            (m for m in months if not self.is_final(m, now, has_rows=spell(m) in read)),
            add_months(months[-1], 1) if months else start,
        )
        self.resume_from = resume_from  # the bookmark, once withdrawing rows are written too

    @override
    def read_whole(self, context: Context | None) -> None:
        self.move_bookmark(context, self.period_text(self.resume_from))

    @override
    def period_is_open(self, period: str) -> bool:
        """A month from the first one the next run reads again (months before are final)."""
        return period >= self.period_text(self.resume_from)


class PublishedMonthlyStream(MonthlyStream):
    """Months Datadog publishes after they end and revises until a day of the next month.

    Read after ``final_at(month)``, with rows, a month is final: Datadog's promise of a day is
    about availability, not a moment to close a month blindly, so one that came back empty is
    read again. Rows read before are ``preliminary``.
    """

    def final_at(self, month: dt.datetime) -> dt.datetime:
        """When a month stops changing (default: historical cost's, after the 16th)."""
        return historical_cost_final_at(month)

    @override
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        return first_open_historical_month(now, self.final_at)

    @override
    def is_final(self, month: dt.datetime, now: dt.datetime, *, has_rows: bool) -> bool:
        return has_rows and now >= self.final_at(month)

    @override
    def available_before(self, now: dt.datetime) -> dt.datetime:
        """A month is published once it has ended: the current one is not read.

        Historical cost's current month is only in estimated cost; cost attribution has none.
        """
        return month_start(now)

    def status_of(self, month: dt.datetime) -> str:
        """``final`` or ``preliminary``: how far this run's rows of ``month`` may still change."""
        return "final" if self.datadog_tap.now >= self.final_at(month) else "preliminary"


class ClosedByHistoricalCostStream(MonthlyStream):
    """Months derived from historical cost: open until this run wrote one from final cost.

    Last month stays open until its historical cost is final; a month the stream wrote from
    final historical cost (``closed``, filled by the subclass) is closed for good.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        #: Months this run wrote from final historical cost: closed for good.
        self.closed: set[dt.datetime] = set()

    def historical_cost_is_final(self, month: dt.datetime) -> bool:
        """Whether this run reads ``month``'s historical cost after it became final."""
        return self.datadog_tap.now >= historical_cost_final_at(month)

    @override
    def first_open_month(self, now: dt.datetime) -> dt.datetime:
        """Last month until its historical cost is final, then this month."""
        return first_open_historical_month(now)

    @override
    def is_final(self, month: dt.datetime, now: dt.datetime, *, has_rows: bool) -> bool:
        return month in self.closed
