"""DatadogStream: auth headers, error mapping, rate-limit pacing and retries.

Everything every endpoint shares lives here once; streams only declare what differs.
"""

from __future__ import annotations

import json
from importlib import resources
import logging
import random
import sys
import threading
import time
import typing as t
from http import HTTPStatus

from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.types import Context
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from singer_sdk.streams import RESTStream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import RequestFunc

LOGGER = logging.getLogger("tap-datadog-costs")
#: One JSON schema file per stream, named after it (cost streams share costs.json).
SCHEMAS = SchemaDirectory(resources.files("tap_datadog_costs") / "schemas")

#: Seconds added to every rate-limit wait, so the next request lands in the new period.
RATE_LIMIT_MARGIN = 0.25
NON_PARENT_MARKER = "non-parent org"


class DatadogAPIError(FatalAPIError):
    """A Datadog answer that retrying will not fix; the message says what to do."""


class DatadogAuthenticator(APIAuthenticatorBase):
    """Sends the two Datadog key headers; keys never go into a URL."""

    def __init__(self, api_key: str, app_key: str) -> None:
        super().__init__()
        self.auth_headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key}


class RateLimitPacer:
    """Paces requests from Datadog's X-RateLimit-* headers, shared by all streams.

    Datadog counts requests per rate-limit name (roughly per endpoint). We remember,
    per endpoint path, the name and the budget left, and wait for the period's reset
    instead of sending a request we know will get 429.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name_of_path: dict[str, str] = {}
        self._budget: dict[str, tuple[int, float]] = {}  # name -> (remaining, reset_at)
        self.waits: list[float] = []

    def observe(self, path: str, response: requests.Response) -> float | None:
        """Record the budget a response reports; return its reset delay in seconds."""
        headers = response.headers
        name = headers.get("X-RateLimit-Name") or path
        try:
            remaining = int(headers["X-RateLimit-Remaining"])
            reset = float(headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return None
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            remaining = 0
        with self._lock:
            self._name_of_path[path] = name
            self._budget[name] = (remaining, time.monotonic() + reset)
        return reset

    def wait_before(self, path: str) -> None:
        """Sleep until the period resets when the endpoint's budget is spent."""
        with self._lock:
            name = self._name_of_path.get(path)
            remaining, reset_at = self._budget.get(name, (1, 0.0)) if name else (1, 0.0)
            delay = reset_at - time.monotonic() + RATE_LIMIT_MARGIN
            if remaining > 0 or delay <= 0:
                return
            # Spend one unit now so concurrent callers don't all fire after the wait.
            self._budget[name] = (0, reset_at)  # type: ignore[index]
        LOGGER.info(
            "Rate limit '%s' spent: waiting %.2f s for it to reset", name, delay
        )
        self.waits.append(delay)
        time.sleep(delay)


def response_body(response: requests.Response) -> t.Any:  # noqa: ANN401
    """The parsed JSON body, parsed once and kept on the response."""
    cached = response.__dict__.get("_datadog_body")
    if cached is None:
        cached = json.loads(response.content)
        response.__dict__["_datadog_body"] = cached
    return cached


def datadog_error_words(response: requests.Response) -> str:
    """Datadog's own error text: a list of strings or of JSON:API objects."""
    try:
        errors = response_body(response).get("errors")
    except (ValueError, AttributeError):
        return response.text[:200].strip() or response.reason
    if not isinstance(errors, list):
        return str(errors)
    words = [
        (error.get("detail") or error.get("title") or json.dumps(error))
        if isinstance(error, dict)
        else str(error)
        for error in errors
    ]
    return "; ".join(words) or response.reason


def advice_for(status: int, words: str) -> str:
    """What a user should do about a refused request."""
    if NON_PARENT_MARKER in words:
        return (
            "these keys belong to a child organization or to a plan without cost "
            "access: use keys of the parent organization on a Pro or Enterprise plan"
        )
    if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
        return (
            "check api_key and app_key: they are invalid or revoked, or the "
            "application key lacks the usage_read (usage) or billing_read (cost) "
            "permission"
        )
    return "the request was refused; check the settings named above"


class NextRecordIdPaginator(BaseAPIPaginator[str | None]):
    """Follows ``meta.pagination.next_record_id``; a missing meta is the last page."""

    @override
    def get_next(self, response: requests.Response) -> str | None:
        meta = response_body(response).get("meta") or {}
        return (meta.get("pagination") or {}).get("next_record_id")


class DatadogStream(RESTStream[t.Any]):
    """Base class for Datadog usage and cost streams."""

    records_key = "data"
    schema = StreamSchema(SCHEMAS)
    # Our records are built field by field with the schema's types: skip re-conforming.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    @override
    def check_sorted(self) -> bool:
        """Rows come sorted within a run, but a run starts before the old bookmark.

        The look-back window and open months are re-read on purpose, so a record
        older than the saved bookmark is expected, not an error.
        """
        return False

    @property
    @override
    def url_base(self) -> str:
        return t.cast("str", self._tap.base_url)  # type: ignore[attr-defined]

    @property
    @override
    def authenticator(self) -> DatadogAuthenticator:
        return self._tap.datadog_authenticator  # type: ignore[attr-defined,no-any-return]

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    @property
    @override
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 120))

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any] | None:
        return None

    # Requests: pace, retry, explain.

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        pacer: RateLimitPacer = self._tap.rate_limit_pacer  # type: ignore[attr-defined]

        def paced(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            pacer.wait_before(self.path)
            return func(prepared_request, context)

        return super().request_decorator(paced)

    @override
    def validate_response(self, response: requests.Response) -> None:
        reset = self._tap.rate_limit_pacer.observe(self.path, response)  # type: ignore[attr-defined]
        status = response.status_code
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            msg = f"Datadog answered {status} to GET {self.path}: {datadog_error_words(response)}"
            error = RetriableAPIError(msg, response)
            error.retry_after = reset  # type: ignore[attr-defined]
            raise error
        if status >= HTTPStatus.BAD_REQUEST:
            words = datadog_error_words(response)
            msg = (
                f"Datadog answered {status} to GET {self.path}: {words} "
                f"({advice_for(status, words)})"
            )
            raise DatadogAPIError(msg)
        try:
            response_body(response)
        except ValueError as exc:
            msg = f"Datadog answered GET {self.path} with a body that is not JSON"
            raise RetriableAPIError(msg, response) from exc

    @override
    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 5)) + 1

    @override
    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        """Wait what Datadog's X-RateLimit-Reset says, else back off exponentially."""
        attempt = 0
        exception = yield  # type: ignore[misc]
        while True:
            attempt += 1
            retry_after = getattr(exception, "retry_after", None)
            if retry_after is not None and getattr(exception, "response", None) is not None and exception.response.status_code == HTTPStatus.TOO_MANY_REQUESTS:  # type: ignore[attr-defined]
                wait = retry_after + RATE_LIMIT_MARGIN
            else:
                wait = min(60.0, 0.5 * 2 ** (attempt - 1)) * (1 + random.random() / 4)  # noqa: S311
            exception = yield wait

    @override
    def backoff_jitter(self, value: float) -> float:
        return value  # jitter is part of backoff_wait_generator already

    @override
    def backoff_handler(self, details: t.Any) -> None:  # noqa: ANN401
        exc = details.get("exception")
        self.logger.warning(
            "Retrying GET %s in %.2f s (attempt %d): %s",
            self.path,
            details.get("wait") or 0.0,
            details.get("tries", 0),
            exc if isinstance(exc, RetriableAPIError) else type(exc).__name__,
        )

    # Records.

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        body = response_body(response)
        for item in body.get(self.records_key) or ():
            yield from self.records_from_item(item)

    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """Flat records from one item of the answer (default: the item itself)."""
        yield item
