"""Bookmarks: where a stream resumes, how it says so, and rows outside what was asked for."""

from __future__ import annotations

import typing as t

from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.periods import isoformat

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context

    from tap_datadog_costs.run_context import RunContext


class PastEnd(t.NamedTuple):
    """Why a stream has nothing to read: its bookmark is at or after ``end_date``.

    Or the endpoint serves no period of the run's window (estimated cost).
    """

    reason: str
    #: The bookmark is later than a run ending at ``end_date`` leaves: periods in the range
    #: asked for may never have been read.
    warning: bool


class Bookmarks(RESTStream[t.Any]):
    """A stream's bookmark in the SDK's state layout, read before the first record."""

    #: The run's clock and dates (DatadogStream sets it).
    datadog_tap: RunContext

    def how_read(self, context: Context | None) -> str:
        """First extract or incremental (from which bookmark), for the stream's plan line.

        Asked before the first record: the state then still holds the previous run's bookmark.
        (``get_starting_timestamp`` cannot tell: with no bookmark it answers ``start_date``.)
        """
        if not self.replication_key:
            return "full table"
        bookmark = self.saved_bookmark(context)
        if bookmark is None:
            return "first extract (no bookmark)"
        return f"incremental from the bookmark {bookmark}"

    def move_bookmark(self, context: Context | None, value: str) -> None:
        """Set the bookmark to ``value``, in the SDK's state layout.

        Like the SDK's own (``check_sorted`` off), it may move back: a run re-reads before the
        saved bookmark on purpose, and a saved bookmark later than now is not believed.
        """
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value

    def read_whole(self, context: Context | None) -> None:
        """After the stream's last record and withdrawing row: what it saves only then.

        Default: nothing. A stream whose bookmark must not move before its withdrawing rows
        are written (a signal may stop the run between them: the final STATE would skip
        them) moves it here.
        """

    def saved_bookmark(self, context: Context | None) -> str | None:
        """The bookmark the state held when the run began (asked before the first record)."""
        return t.cast("str | None", self.get_context_state(context).get("replication_key_value"))

    @property
    @override
    def check_sorted(self) -> bool:
        """Rows come sorted within a run, but a run starts before the old bookmark.

        The look-back window and open months are re-read on purpose, so a record
        older than the saved bookmark is expected, not an error.
        """
        return False

    def after_end(
        self, context: Context | None, start: dt.datetime, furthest: dt.datetime
    ) -> PastEnd | None:
        """Why the bookmark leaves this run nothing to read, or None when it does not.

        None when the bookmark is not why: no bookmark, or ``start`` before ``end_date``.
        ``furthest`` is the latest bookmark a run ending at ``end_date`` leaves (hourly usage:
        ``end_date``; months: the first month from it). Up to it, what comes before was read
        (a backfill's earlier piece); a later one is a state of runs reaching past
        ``end_date`` (a backfill run with the usual state): a warning, with how to start over.
        """
        end = self.datadog_tap.end_date
        bookmark = self.get_starting_timestamp(context)
        if self.saved_bookmark(context) is None or bookmark is None or start < end:
            return None
        if bookmark <= furthest:
            return PastEnd(
                f"the bookmark is at end_date {isoformat(end)}: what comes before it was read",
                warning=False,
            )
        return PastEnd(
            f"the state's bookmark starts this run at {isoformat(start)}, after end_date "
            f"{isoformat(end)}: to backfill before it, give the backfill a state of its own "
            "(meltano run --state-id-suffix=backfill ...) or none (meltano run --full-refresh "
            "...; standalone: no --state)",
            warning=True,
        )

    def resume_point(self, context: Context | None) -> dt.datetime | None:
        """The saved bookmark; one later than now is not believed (warned) and now is used."""
        bookmark = self.get_starting_timestamp(context)
        now = self.datadog_tap.now
        if bookmark is not None and bookmark > now:
            self.logger.warning(
                "%s: the bookmark in the state, %s, is later than now (%s): ignored; reading "
                "what may still change before now instead",
                self.name,
                isoformat(bookmark),
                isoformat(now),
            )
            return now
        return bookmark

    def within(
        self, records: list[dict[str, t.Any]], key: str, low: str, high: str
    ) -> list[dict[str, t.Any]]:
        """Records whose ``key`` lies in ``[low, high)``; the others dropped with one warning.

        Rows outside what was asked for would otherwise move a bookmark past hours or months
        never read (a row stamped in the future would stop the stream for good).
        """
        kept = [record for record in records if low <= record[key] < high]
        self.warn_outside(len(records) - len(kept), key, low, high)
        return kept

    def warn_outside(self, dropped: int, key: str, low: str, high: str) -> None:
        """One warning for the rows of a window or month range dropped by ``within``."""
        if dropped:
            self.logger.warning(
                "%s: Datadog answered %d row(s) outside the %s range asked for, %s to %s: "
                "dropped, and no bookmark covers them",
                self.name,
                dropped,
                key,
                low,
                high,
            )
