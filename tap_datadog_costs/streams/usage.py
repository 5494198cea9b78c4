"""Hourly usage by product family, for the parent and (optionally) its child orgs."""

from __future__ import annotations

import functools
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

    import requests
    from singer_sdk.helpers.types import Context

#: The largest page Datadog serves.
PAGE_LIMIT = 500
#: Fields of a row taken as they are from an item's attributes, and from each measurement.
ITEM_FIELDS = (*ORG_IDENTITY_FIELDS, "product_family")
MEASUREMENT_FIELDS = ("usage_type", "value")


class HourlyUsageStream(DatadogStream):
    """``GET /api/v2/usage/hourly_usage``: one row per org, hour, family and usage type.

    Requested in the largest windows Datadog accepts, oldest first. Rows leave page by page,
    in Datadog's order, so memory does not grow with a window (hundreds of child orgs make a
    window of a million rows). The bookmark, the latest hour of a window, moves only once the
    window is read whole: it never covers an hour of a window still being read, and every run
    starts ``lookback_hours`` before it.
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
        #: The window's pages so far, by the hash of their rows' keys; rows of repeated pages.
        self._pages: set[int] = set()
        self._repeated = 0

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
        for window_start, window_end in windows:
            yield from self.window_records(context, window_start, window_end)

    def window_records(
        self, context: Context | None, start: dt.datetime, end: dt.datetime
    ) -> t.Iterable[dict[str, t.Any]]:
        """One window's rows as their pages come; then its bookmark, the latest hour read.

        A row outside the window would move the bookmark past hours never read (one stamped
        in the future would stop the stream for good): it is dropped, with one warning.
        """
        low, high = isoformat(start), isoformat(end)
        self._pages.clear()
        self._repeated = rows = outside = 0
        latest = ""
        for record in self.request_records({"window_start": start, "window_end": end}):
            stamp = record["timestamp"]
            if not low <= stamp < high:
                outside += 1
                continue
            latest = max(latest, stamp)
            rows += 1
            yield record
        self.warn_outside(outside, "timestamp", low, high)
        if self._repeated:
            self.logger.warning(
                "hourly_usage: Datadog sent %d row(s) twice in one window (a page repeated): "
                "each is written once",
                self._repeated,
            )
        self.progress.advance(rows)
        if latest:
            self.move_bookmark(context, latest)

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """A page's rows, or none if the window already had a page of the same rows."""
        rows = list(super().parse_response(response))
        page = hash(tuple(map(self.row_key, rows)))
        if rows and page in self._pages:
            self._repeated += len(rows)
            return ()
        self._pages.add(page)
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
