"""DatadogStream: auth headers, error mapping, rate-limit pacing and retries.

Everything every endpoint shares lives here once; streams only declare what differs.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import threading
import time
import typing as t
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlparse

import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams import RESTStream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_datadog_costs.tap import TapDatadogCosts

LOGGER = logging.getLogger("tap-datadog-costs")
SCHEMAS = resources.files("tap_datadog_costs") / "schemas"


def load_schema(name: str) -> dict[str, t.Any]:
    """A stream's JSON schema from schemas/, loaded once per class.

    A plain dict class attribute: the SDK reads ``self.schema`` for every record, and a
    dict costs nothing to read where a schema descriptor resolves its source each time.
    """
    return t.cast("dict[str, t.Any]", json.loads((SCHEMAS / f"{name}.json").read_text()))


#: Seconds added to every rate-limit wait, so the next request lands in the new period.
RATE_LIMIT_MARGIN = 0.25
#: Exponential back-off: first wait and cap, in seconds.
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 60.0
NON_PARENT_MARKER = "non-parent org"

#: Failures without a usable answer, in our words: theirs hold URLs and proxy addresses.
#: Timeout first, as a connect timeout is also a ConnectionError.
NETWORK_FAILURES: dict[type[Exception], str] = {
    requests.exceptions.Timeout: "no answer within request_timeout ({timeout} s)",
    requests.exceptions.ChunkedEncodingError: "the answer was cut off",
    requests.exceptions.ContentDecodingError: "the answer could not be decoded",
    requests.exceptions.ConnectionError: "the connection failed or was reset",
    ConnectionError: "the connection failed or was reset",
}


class DatadogAPIError(FatalAPIError):
    """A Datadog answer that retrying will not fix; the message says what to do."""


class DatadogGaveUpError(DatadogAPIError):
    """Retries ran out: the last failure, and how many attempts were made."""


class RateLimitedError(RetriableAPIError):
    """A 429: retried after the reset the answer announces, not after a guess."""

    def __init__(
        self, message: str, response: requests.Response, retry_after: float | None
    ) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after


class _SilenceBackoffLog(logging.Filter):
    """Drops the lines the backoff library logs on its own for every retry and give-up."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName not in {"_log_backoff", "_log_giveup"}


SILENCE_BACKOFF_LOG = _SilenceBackoffLog()


class DatadogAuthenticator(APIAuthenticatorBase):
    """Sends the two Datadog key headers; keys never go into a URL."""

    def __init__(self, api_key: str, app_key: str) -> None:
        super().__init__()
        self.auth_headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key}


def header_number(headers: Mapping[str, str], name: str) -> float | None:
    """A numeric header, or None when it is missing or garbled."""
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def seconds_until_reset(headers: Mapping[str, str]) -> float | None:
    """X-RateLimit-Reset, else the rest of the calendar-aligned X-RateLimit-Period."""
    reset = header_number(headers, "X-RateLimit-Reset")
    period = header_number(headers, "X-RateLimit-Period")
    if reset is None and period:
        reset = period - time.time() % period
    return reset


class RateLimitPacer:
    """Paces requests from Datadog's X-RateLimit-* headers, shared by all streams.

    Datadog counts requests per rate-limit name (roughly per endpoint). We remember,
    per endpoint path, the name its answers carry, and per name the budget left; a
    request is counted when sent, so an answer that never came cannot overdraw it.
    When the budget is spent we wait for the period's reset instead of sending a
    request we know will get 429.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name_of_path: dict[str, str] = {}
        self._budget: dict[str, tuple[int, float]] = {}  # name -> (remaining, reset_at)

    def observe(self, path: str, response: requests.Response) -> float | None:
        """Record the budget an answer reports; return the seconds until its period resets."""
        headers = response.headers
        reset = seconds_until_reset(headers)
        remaining = (
            0
            if response.status_code == HTTPStatus.TOO_MANY_REQUESTS
            else header_number(headers, "X-RateLimit-Remaining")
        )
        if reset is not None and remaining is not None:
            name = headers.get("X-RateLimit-Name") or path
            with self._lock:
                self._name_of_path[path] = name
                self._budget[name] = (int(remaining), time.monotonic() + reset)
        return reset

    def wait_before(self, path: str) -> None:
        """Count a request to ``path``; first sleep until the reset if the budget is spent."""
        with self._lock:
            name = self._name_of_path.get(path, path)
            remaining, reset_at = self._budget.get(name, (1, 0.0))
            delay = reset_at - time.monotonic() + RATE_LIMIT_MARGIN
            if delay <= 0:  # a new period: its budget is unknown until the next answer
                return
            self._budget[name] = (max(remaining - 1, 0), reset_at)
            if remaining > 0:
                return
        LOGGER.info("Rate limit '%s' spent: waiting %.2f s for it to reset", name, delay)
        time.sleep(delay)


def response_body(response: requests.Response) -> t.Any:  # noqa: ANN401
    """The parsed JSON body, parsed once and kept on the response."""
    cached = response.__dict__.get("_datadog_body")
    if cached is None:
        cached = json.loads(response.content)
        response.__dict__["_datadog_body"] = cached
    return cached


def datadog_error_words(response: requests.Response) -> str:
    """Datadog's own error text, on one line: a list of strings or of JSON:API objects."""
    try:
        errors = response_body(response).get("errors")
    except (ValueError, AttributeError):
        return " ".join(response.text.split())[:200] or response.reason
    if not isinstance(errors, list):
        errors = [errors] if errors else []
    words = [
        (error.get("detail") or error.get("title") or json.dumps(error))
        if isinstance(error, dict)
        else str(error)
        for error in errors
    ]
    return "; ".join(words) or response.reason


def permission_for(endpoint: str) -> str | None:
    """What the application key's owner needs for an endpoint (the API reference's x-permission)."""
    name = endpoint.rstrip("/").rsplit("/", 1)[-1]
    if name.endswith(("_cost", "cost_attribution")):
        return "usage_read and billing_read"
    if "/usage/" in endpoint or "/cost_by_tag/" in endpoint:
        return "usage_read"
    if name == "org":
        return "org_management"
    return None


def advice_for(endpoint: str, status: int, words: str) -> str:
    """What a user should do about a refused request."""
    if status < HTTPStatus.BAD_REQUEST:
        return "Datadog redirected the request: check site and api_url (keys are not sent on)"
    if NON_PARENT_MARKER in words:
        return (
            "these keys belong to a child organization or to a plan without cost "
            "access: use keys of the parent organization on a Pro or Enterprise plan"
        )
    if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
        permission = permission_for(endpoint)
        lacking = f", or the application key lacks {permission}" if permission else ""
        return f"check api_key, app_key and site: the keys are invalid or revoked{lacking}"
    if status == HTTPStatus.NOT_FOUND:
        return "check site and api_url: this endpoint does not exist there"
    return "Datadog refused the request: check start_date, end_date and product_families"


class NextRecordIdPaginator(BaseAPIPaginator[str | None]):
    """Follows ``meta.pagination.next_record_id``; a missing meta is the last page."""

    @override
    def get_next(self, response: requests.Response) -> str | None:
        meta = response_body(response).get("meta") or {}
        return (meta.get("pagination") or {}).get("next_record_id")


class DatadogStream(RESTStream[t.Any]):
    """Base class for Datadog usage and cost streams."""

    records_key = "data"
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
    def datadog_tap(self) -> TapDatadogCosts:
        """The tap, typed: its clock, dates, URL, authenticator and pacer are shared."""
        return t.cast("TapDatadogCosts", self._tap)

    @property
    @override
    def url_base(self) -> str:
        return self.datadog_tap.base_url

    @property
    @override
    def authenticator(self) -> DatadogAuthenticator:
        return self.datadog_tap.datadog_authenticator

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

    # Requests: pace, retry, explain. Every message names the endpoint, never headers.

    #: A redirect would carry the key headers to another host: refuse it instead.
    allow_redirects = False

    #: 408 and 429 are worth another try (as in Datadog's own client); 5xx always are.
    extra_retry_statuses = (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS)

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Pace each attempt, retry with the SDK's back-off, and give up with one clear line."""
        pacer = self.datadog_tap.rate_limit_pacer

        def attempt(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            endpoint = urlparse(str(prepared_request.url)).path
            pacer.wait_before(endpoint)
            try:
                return func(prepared_request, context)
            except tuple(NETWORK_FAILURES) as exc:
                reason = next(w for error, w in NETWORK_FAILURES.items() if isinstance(exc, error))
                msg = f"GET {endpoint}: {reason.format(timeout=self.timeout)}"
                raise RetriableAPIError(msg) from exc

        # backoff also logs every retry and give-up itself, with request details: ours suffice.
        self.logger.addFilter(SILENCE_BACKOFF_LOG)
        retried = super().request_decorator(attempt)

        def request(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            try:
                return retried(prepared_request, context)
            except RetriableAPIError as exc:
                tries = self.backoff_max_tries()
                msg = f"{exc}; gave up after {tries} attempts (max_retries: {tries - 1})"
                raise DatadogGaveUpError(msg) from None

        return request

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        endpoint = urlparse(response.url).path
        reset = self.datadog_tap.rate_limit_pacer.observe(endpoint, response)
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise RateLimitedError(self.response_error_message(response), response, reset)
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= HTTPStatus.MULTIPLE_CHOICES:  # 3xx (not followed) and 4xx
            raise DatadogAPIError(self.response_error_message(response))
        try:
            body = response_body(response)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            msg = f"Datadog answered {status} to GET {endpoint} with a body that is not JSON"
            raise RetriableAPIError(msg, response)

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Endpoint, status, Datadog's words and, for a refusal, what to do: one line.

        Replaces the SDK's default, which appends the raw body and header names.
        """
        status = response.status_code
        endpoint = urlparse(response.url).path
        words = datadog_error_words(response)
        msg = f"Datadog answered {status} to GET {endpoint}: {words}"
        if status < HTTPStatus.INTERNAL_SERVER_ERROR and status not in self.extra_retry_statuses:
            msg += f" ({advice_for(endpoint, status, words)})"
        return msg

    @override
    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 5)) + 1

    @override
    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        """After a 429, what its X-RateLimit-Reset says; else exponential, jittered, capped."""
        attempt = 0
        exception = yield  # type: ignore[misc]
        while True:
            attempt += 1
            retry_after = getattr(exception, "retry_after", None)
            if retry_after is not None:
                wait = retry_after + RATE_LIMIT_MARGIN
            else:
                wait = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (attempt - 1))
                wait *= 1 + random.random() / 4  # noqa: S311 - jitter, not cryptography
            exception = yield wait

    @override
    def backoff_jitter(self, value: float) -> float:
        return value  # jitter is part of backoff_wait_generator already

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """One line per wait: what failed, how long we wait and why, which attempt."""
        exc = details["exception"]
        retry_after = getattr(exc, "retry_after", None)
        why = (
            f" = X-RateLimit-Reset {retry_after:g} s + {RATE_LIMIT_MARGIN:g} s"
            if retry_after is not None
            else ""
        )
        self.logger.warning(
            "%s; retrying in %.2f s%s (attempt %d of %d)",
            exc,
            details["wait"],
            why,
            details["tries"] + 1,
            self.backoff_max_tries(),
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
