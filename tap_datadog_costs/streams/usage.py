"""Hourly usage by product family, for the parent and (optionally) its child orgs."""

from __future__ import annotations

import dataclasses
import functools
import threading
import typing as t
from datetime import timedelta
from operator import itemgetter

from typing_extensions import override

from tap_datadog_costs.answers import ORG_IDENTITY_FIELDS, flag, org_identity
from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.periods import floor_hour, hour_param, hour_windows, isoformat, parse_instant
from tap_datadog_costs.schemas import load_schema

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

#: The largest page Datadog serves.
PAGE_LIMIT = 500
#: Fields of a row taken as they are from an item's attributes, and from each measurement.
ITEM_FIELDS = (*ORG_IDENTITY_FIELDS, "product_family")
MEASUREMENT_FIELDS = ("usage_type", "value")
#: Rows a window hands on at a time: a read ahead keeps a few such lists (in_flight.AHEAD).
ROWS_HANDED_ON = 1000


@dataclasses.dataclass
class Window:
    """One window of hours, and what its read found besides its rows."""

    start: dt.datetime
    end: dt.datetime
    #: The latest hour read (the bookmark once the window is written), and rows written.
    latest: str = ""
    rows: int = 0
    #: Rows dropped: stamped outside the window, or on a page Datadog sent twice.
    outside: int = 0
    repeated: int = 0
    #: Its pages (answers read).
    pages: int = 0


class HourlyUsageStream(DatadogStream):
    """``GET /api/v2/usage/hourly_usage``: one row per org, hour, family and usage type.

    Requested in the largest windows Datadog accepts, up to ``max_concurrency`` windows in
    flight, written oldest first. Rows leave as their pages come, in Datadog's order, so memory
    does not grow with a window (hundreds of child orgs make a window of a million rows). The
    bookmark, the latest hour of a window, moves only once the window is written whole: it never
    covers an hour of a window still being read, and every run starts ``lookback_hours`` before
    it.
    """

    name = "hourly_usage"
    path = "/api/v2/usage/hourly_usage"
    primary_keys = ("timestamp", "public_id", "product_family", "usage_type")
    #: A row's primary key as a tuple (one C call per row).
    row_key = itemgetter(*primary_keys)
    replication_key = "timestamp"
    schema = load_schema("hourly_usage")
    page_cursor_param = "page[next_record_id]"
    attributes_of_an_org = False
    #: Rows come in Datadog's order within a window; the bookmark moves per window instead.
    is_sorted = False
    bookmark_per_record = False
    # A STATE every 1,000 rows, with the bookmark of the last window read whole: an
    # interrupted multi-hour sync loses little work.
    STATE_MSG_FREQUENCY = 1000

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        #: Datadog's timestamp text -> ours: one parse per hour, not one per item.
        self._timestamps: dict[str, str] = {}
        #: Per thread (a window is read in one): the window's pages so far, by the hash of
        #: their rows' keys (``pages``), the rows of repeated pages (``repeated``) and the
        #: answers read (``answers``).
        self._window = threading.local()

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        assert context is not None  # noqa: S101 - windows always come in a context
        params = {
            "filter[timestamp][start]": hour_param(context["window_start"]),
            "filter[timestamp][end]": hour_param(context["window_end"]),
            "filter[product_families]": ",".join(self.datadog_tap.settings.product_families),
            "filter[include_descendants]": flag(self.include_descendants),
            "filter[include_connected_accounts]": flag(self.include_connected_accounts),
            "page[limit]": PAGE_LIMIT,
        }
        return self.with_cursor(params, next_page_token)

    @override
    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        tap = self.datadog_tap
        start = tap.start_date
        bookmark = self.resume_point(context)
        how = self.how_read(context)
        if self.saved_bookmark(context) is not None:
            how += f", {self.datadog_tap.settings.lookback_hours} h before it re-read"
        if bookmark is not None and bookmark > start:  # else (start_date 0001-01-01) the edge
            lookback = timedelta(hours=self.datadog_tap.settings.lookback_hours)
            start = max(start, floor_hour(bookmark) - lookback)
        windows = list(
            hour_windows(start, tap.end_date, include_descendants=self.include_descendants)
        )
        self.progress.plan(
            how,
            len(windows),
            "window",
            isoformat(windows[0][0] if windows else floor_hour(start)),
            isoformat(windows[-1][1] if windows else floor_hour(start)),
            each="of 24 h" if self.include_descendants else "of up to two months",
            least_requests=len(windows),  # one per window, more where a window spans pages
            after_end=self.after_end(context, start, furthest=tap.end_date),
        )
        reads = [Window(start, end) for start, end in windows]
        with self.side_by_side(functools.partial(self.read_window, w) for w in reads) as found:
            for window, rows in zip(reads, found, strict=True):
                for some in rows:
                    yield from some
                self.window_written(context, window)

    def read_window(self, window: Window) -> Iterator[list[dict[str, t.Any]]]:
        """One window's rows, a list at a time as their pages come (in a read's thread).

        A row outside the window would move the bookmark past hours never read (one stamped
        in the future would stop the stream for good): it is dropped, and counted.
        """
        low, high = isoformat(window.start), isoformat(window.end)
        self._window.pages = set()
        self._window.repeated = self._window.answers = 0
        latest = ""
        rows: list[dict[str, t.Any]] = []
        context = {"window_start": window.start, "window_end": window.end}
        for record in self.request_records(context):
            stamp = record["timestamp"]
            if not low <= stamp < high:
                window.outside += 1
                continue
            latest = max(latest, stamp)
            rows.append(record)
            if len(rows) == ROWS_HANDED_ON:
                window.rows += len(rows)
                yield rows
                rows = []
        window.rows += len(rows)
        window.latest, window.repeated = latest, self._window.repeated
        window.pages = self._window.answers
        yield rows

    def window_written(self, context: Context | None, window: Window) -> None:
        """A window's rows are written: what was dropped, its progress, then its bookmark."""
        self.warn_outside(
            window.outside, "timestamp", isoformat(window.start), isoformat(window.end)
        )
        if window.repeated:
            self.logger.warning(
                "hourly_usage: Datadog sent %d row(s) twice in one window (a page repeated): "
                "each is written once",
                window.repeated,
            )
        self.progress.advance(window.rows, requests=window.pages)
        if window.latest:
            self.move_bookmark(context, window.latest)

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """A page's rows, or none if the window already had a page of the same rows."""
        rows = list(super().parse_response(response))
        page = hash(tuple(map(self.row_key, rows)))
        window = self._window
        window.answers += 1
        if rows and page in window.pages:
            window.repeated += len(rows)
            return ()
        window.pages.add(page)
        return rows

    @override
    def fields_problem(self, attributes: dict[str, t.Any]) -> str | None:
        """An item must say its hour (the key and the bookmark) and fit the schema."""
        return (
            self.timestamp_problem(attributes.get("timestamp"))
            or self.misfit(attributes, ITEM_FIELDS, "attributes.")
            or self.measurements_problem(attributes.get("measurements"))
        )

    def timestamp_problem(self, raw: object) -> str | None:
        """Why an item's timestamp is unusable, or None; a good one is parsed once, cached."""
        if not isinstance(raw, str):
            return "has no attributes.timestamp"
        if raw not in self._timestamps:
            try:
                self._timestamps[raw] = isoformat(floor_hour(parse_instant(raw)))
            except ValueError:
                return f"has an attributes.timestamp that is not a date-time: {raw[:40]!r}"
        return None

    @functools.cached_property
    def measurement_types(self) -> tuple[frozenset[type], ...]:
        """The types a measurement's fields may have (MEASUREMENT_FIELDS, in order)."""
        return tuple(self.field_types[field] for field in MEASUREMENT_FIELDS)

    def measurements_problem(self, measurements: object) -> str | None:
        """Why an item's measurements do not fit the schema, or None (absent: no rows)."""
        if measurements is None:
            return None
        if not isinstance(measurements, list):
            return "has attributes.measurements that is not a list"
        usage_types, value_types = self.measurement_types
        for measurement in measurements:
            if not isinstance(measurement, dict):
                return "has a measurement that is not an object"
            # misfit's test inlined (two fields, per measurement: the hot path); it says why.
            if (
                type(measurement.get("usage_type")) not in usage_types
                or type(measurement.get("value")) not in value_types
            ):
                return self.misfit(measurement, MEASUREMENT_FIELDS, "a measurement's ")
        return None

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        attributes = item["attributes"]
        row = {
            "timestamp": self._timestamps[attributes["timestamp"]],  # see item_problem
            **org_identity(attributes),
            "product_family": attributes.get("product_family"),
        }
        for measurement in attributes.get("measurements") or ():
            yield {
                **row,
                "usage_type": measurement.get("usage_type"),
                "value": measurement.get("value"),
            }
