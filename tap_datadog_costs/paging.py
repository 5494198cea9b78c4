"""Datadog's pages: ``meta.pagination.next_record_id``, and the guard against pages that loop."""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.answers import decode, next_record_id
from tap_datadog_costs.errors import DatadogAPIError
from tap_datadog_costs.redaction import clip

if t.TYPE_CHECKING:
    import requests


#: Pages in a row that bring no new row yet name a next page, after which a window fails: a
#: real answer's next page follows a full one (a last page may be empty, and names none).
PAGES_WITHOUT_A_ROW = 10


class NextRecordIdPaginator(BaseAPIPaginator[str | None]):
    """Follows ``meta.pagination.next_record_id``; a missing meta is the last page.

    Two guards against pages that never end, each failing the window in one line instead of
    reading for ever: a cursor seen before in the same window (A, B, A, ...; the SDK catches
    only A, A), and PAGES_WITHOUT_A_ROW pages in a row without a new row (none, or only rows
    already read) that each name a next page, a new cursor every time.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(None)
        self.endpoint = endpoint
        self.seen: set[str] = set()
        #: Pages in a row without a new row; whether the page being advanced over was one.
        self.without_rows = 0
        self._empty = False

    @override
    def get_next(self, response: requests.Response) -> str | None:
        cursor = next_record_id(decode(response))  # text or None: see paging_problem
        if cursor in self.seen:
            shown = clip(str(cursor), 40)
            msg = (
                f"GET {self.endpoint}: Datadog sent the page cursor {shown!r} twice in one "
                f"window, after {len(self.seen)} pages: the pages loop; run again later"
            )
            raise DatadogAPIError(msg)
        self.without_rows = self.without_rows + 1 if self._empty else 0
        self._empty = False
        if cursor and self.without_rows >= PAGES_WITHOUT_A_ROW:
            msg = (
                f"GET {self.endpoint}: the pages do not end: Datadog sent {self.without_rows} "
                "pages in a row without a new row, each naming a next page; run again later"
            )
            raise DatadogAPIError(msg)
        if cursor:
            self.seen.add(cursor)
        return t.cast("str | None", cursor)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page with no rows (or only rows already read) still leads to the next, if any."""
        self._empty = True  # the SDK calls this, then get_next, for such a page
        return True


class CursorPaging(RESTStream[t.Any]):
    """A stream whose endpoint answers in pages, the cursor in ``page_cursor_param``."""

    #: The query parameter that carries the page cursor (``meta.pagination.next_record_id``)
    #: of an endpoint that answers in pages; None: one answer is all.
    page_cursor_param: str | None = None

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any] | None:
        return NextRecordIdPaginator(self.path) if self.page_cursor_param else None

    def with_cursor(self, params: dict[str, t.Any], next_page_token: t.Any) -> dict[str, t.Any]:  # noqa: ANN401
        """``params`` with the page cursor, from the second page on."""
        if next_page_token and self.page_cursor_param:
            params[self.page_cursor_param] = next_page_token
        return params
