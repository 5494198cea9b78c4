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


class NextRecordIdPaginator(BaseAPIPaginator[str | None]):
    """Follows ``meta.pagination.next_record_id``; a missing meta is the last page.

    A cursor seen before in the same window means the pages loop (A, B, A, ...): the window
    fails with one line instead of reading for ever. (The SDK catches only A, A.)
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(None)
        self.endpoint = endpoint
        self.seen: set[str] = set()

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
        if cursor:
            self.seen.add(cursor)
        return t.cast("str | None", cursor)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page with no rows (or only rows already read) still leads to the next, if any."""
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
