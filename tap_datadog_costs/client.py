"""DatadogStream: the one request path that every stream and the connection test use.

It builds the URL, sends the key headers, paces from the rate-limit headers, retries, refuses
redirects, decodes the answer once and follows pages. Streams only declare what differs:
their path, parameters, keys and how one item of an answer becomes flat records.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import typing as t
import weakref
from http import HTTPStatus
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.singerlib import RecordMessage
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.errors import (
    NETWORK_FAILURES,
    AnnouncedWaitError,
    DatadogAPIError,
    DatadogGaveUpError,
    advice_for,
    certificate_failure,
    datadog_error_words,
    network_failure,
    too_long_a_wait,
)
from tap_datadog_costs.periods import isoformat, parse_instant
from tap_datadog_costs.progress import Progress
from tap_datadog_costs.rate_limit import RATE_LIMIT_MARGIN, retry_after
from tap_datadog_costs.transport import send_within
from tap_datadog_costs.withdrawals import STATE_KEY, WITHDRAWN, Ledger

if t.TYPE_CHECKING:
    from collections.abc import Generator

    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_datadog_costs.auth import DatadogAuthenticator
    from tap_datadog_costs.tap import TapDatadogCosts

#: Exponential back-off: first wait and cap, in seconds.
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 60.0
#: What the application key's owner needs for each endpoint (the API reference's
#: x-permission), as each stream (``DatadogStream.permission``) or ``declare_endpoint`` says.
ENDPOINT_PERMISSIONS: dict[str, str | None] = {}


def declare_endpoint(path: str, permission: str | None) -> str:
    """Declare an endpoint (its path) and the permission it needs; returns the path."""
    if ENDPOINT_PERMISSIONS.setdefault(path, permission) != permission:
        msg = f"{path} declared twice, needing {ENDPOINT_PERMISSIONS[path]} and {permission}"
        raise ValueError(msg)
    return path


#: The fields that say whose a usage or cost item is, in the order our records carry them.
ORG_IDENTITY_FIELDS = ("public_id", "org_name", "account_name", "account_public_id", "region")

_Stream = t.TypeVar("_Stream", bound="DatadogStream")

_BODIES: weakref.WeakKeyDictionary[requests.Response, t.Any] = weakref.WeakKeyDictionary()


def decode(response: requests.Response) -> t.Any:  # noqa: ANN401
    """The answer's JSON body, parsed once: validation, records and paging all read it."""
    try:
        return _BODIES[response]
    except KeyError:
        body = _BODIES[response] = json.loads(response.content)
        return body


def org_identity(
    attributes: dict[str, t.Any], fields: tuple[str, ...] = ORG_IDENTITY_FIELDS
) -> dict[str, t.Any]:
    """Whose an item is: the org (and partner account) fields, None where Datadog sent none.

    ``fields``: those a stream's rows carry (all of ORG_IDENTITY_FIELDS by default).
    """
    return {field: attributes.get(field) for field in fields}


def attributes_problem(item: dict[str, t.Any], *, of_an_org: bool) -> str | None:
    """Why a JSON:API item has no usable ``attributes`` (naming its org, if ``of_an_org``)."""
    attributes = item.get("attributes")
    if not isinstance(attributes, dict):
        return "has no attributes"
    if of_an_org and not isinstance(attributes.get("public_id"), str):
        return "has no attributes.public_id"
    return None


def instant_problem(value: object, field: str) -> str | None:
    """Why ``value`` (an item's ``field``) is not a date-time we can read, or None."""
    try:
        parse_instant(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        return f"has no date-time in {field}: {str(value)[:40]!r}"
    return None


#: Python types of each JSON schema type: exact types (a bool is not a number here).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def field_types(schema: dict[str, t.Any]) -> dict[str, frozenset[type]]:
    """Per property of a stream schema, the exact Python types its values may have."""
    types = {}
    for name, spec in schema["properties"].items():
        declared = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        types[name] = frozenset(kind for json in declared for kind in JSON_TYPES[json])
    return types


def flag(value: bool) -> str:  # noqa: FBT001
    """A boolean query parameter as Datadog spells it."""
    return "true" if value else "false"


def next_record_id(body: dict[str, t.Any]) -> t.Any:  # noqa: ANN401
    """``meta.pagination.next_record_id``; None when ``meta`` or ``pagination`` is absent."""
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    return pagination.get("next_record_id") if isinstance(pagination, dict) else None


def paging_problem(body: dict[str, t.Any]) -> str | None:
    """Why an answer's paging cannot be followed, or None: each level absent, or the shape."""
    meta = body.get("meta")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return f"with a meta that is not an object: {str(meta)[:40]!r}"
    pagination = meta.get("pagination")
    if pagination is not None and not isinstance(pagination, dict):
        return f"with a meta.pagination that is not an object: {str(pagination)[:40]!r}"
    cursor = next_record_id(body)
    if cursor is not None and not isinstance(cursor, str):
        return f"with a meta.pagination.next_record_id that is not text: {str(cursor)[:40]!r}"
    return None


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
            msg = (
                f"GET {self.endpoint}: Datadog sent the page cursor {str(cursor)[:40]!r} twice "
                f"in one window, after {len(self.seen)} pages: the pages loop; run again later"
            )
            raise DatadogAPIError(msg)
        if cursor:
            self.seen.add(cursor)
        return t.cast("str | None", cursor)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page with no rows (or only rows already read) still leads to the next, if any."""
        return True


class DatadogStream(RESTStream[t.Any]):
    """Base class for Datadog usage and cost streams."""

    records_key = "data"
    # Our records are built field by field with the schema's types: skip re-conforming.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: A redirect would carry the key headers to another host: refuse it instead.
    allow_redirects = False
    #: Whether the SDK moves the bookmark per record (to the latest value emitted); a stream
    #: that moves it at its own boundaries (``move_bookmark``) turns this off.
    bookmark_per_record = True
    #: 408 and 429 are worth another try (as in Datadog's own client); 5xx always are.
    extra_retry_statuses = (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS)
    #: Whether a re-read withdraws the keys of an open period that Datadog no longer lists
    #: (withdrawals.py): rows of a period that Datadog revises in place, line by line.
    withdraws = False
    #: The field naming a row's period for withdrawals (None: the stream is one period).
    period_field: str | None = None
    #: A key field with one value per run (the cost view): the ledger's scope, not kept per key.
    scope_field: str | None = None
    #: The field that says a row's status: ``withdrawn`` on a withdrawing row.
    status_field = "cost_status"

    #: What the application key's owner needs for ``path`` (the API reference's x-permission).
    permission: str | None = "usage_read"
    #: Whether other streams read this endpoint with the same query in a run (daily_costs closes
    #: a month with historical cost; focus_costs reads historical and estimated cost and
    #: billable usage): its answers are asked for once per run and kept for the run
    #: (``TapDatadogCosts.shared_answers``).
    answers_shared = False

    def __init_subclass__(cls, **kwargs: t.Any) -> None:  # noqa: ANN401
        """A class that declares a path declares its endpoint's permission with it."""
        super().__init_subclass__(**kwargs)
        if "path" in cls.__dict__:
            declare_endpoint(cls.__dict__["path"], cls.permission)

    def __init__(self, tap: TapDatadogCosts) -> None:
        #: The tap, typed: its clock, dates, URL, authenticator and pacer are shared.
        self.datadog_tap = tap
        super().__init__(tap=tap)
        #: This run's counters and progress lines (a new one per sync).
        self.progress = self.new_progress()

    def new_progress(self) -> Progress:
        """Counters for one run of this stream, reporting every ``progress_seconds``."""
        return Progress(self.name, interval=self.config["progress_seconds"])

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """``read_records`` between this stream's counters and its summary line.

        The summary is said after the last record was written (a generator resumes only then),
        with the bookmark the next run starts from.
        """
        self.progress = self.new_progress()
        #: The periods this run read whole (withdrawals compare only these with the last run).
        self.periods_read: set[str] = set()
        records = self.read_records(context)
        yield from self.with_withdrawals(context, records) if self.withdraws else records
        bookmark = self.stream_state.get("replication_key_value") if self.replication_key else None
        self.progress.summary(bookmark)

    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The records of this stream (default: each page of one request, read the SDK's way)."""
        return super().get_records(context)

    # Withdrawals: keys of open periods that a re-read no longer lists.

    @property
    def view(self) -> str:
        """``sub-org``: a row per org; ``summary``: the parent's row is the whole account."""
        return "sub-org" if self.include_descendants else "summary"

    @functools.cached_property
    def ledger_fields(self) -> tuple[str, ...]:
        """The key fields a ledger keeps per period: the primary key but period and scope."""
        return tuple(k for k in self.primary_keys if k not in (self.period_field, self.scope_field))

    def with_withdrawals(
        self, context: Context | None, records: t.Iterable[dict[str, t.Any]]
    ) -> t.Iterator[dict[str, t.Any]]:
        """``records``, then the rows that withdraw what Datadog no longer lists.

        A withdrawing row per key of a period read again that the last run emitted and this
        one did not; the state then keeps each open period's keys (withdrawals.py).
        """
        state = self.get_context_state(context)
        scope = self.view if self.scope_field else ""
        ledger = Ledger(state.get(STATE_KEY), self.ledger_fields, scope)
        fields, period_field, listed = self.ledger_fields, self.period_field, ledger.listed
        for record in records:
            period = record[period_field] if period_field else ""
            listed.setdefault(period, set()).add(tuple(record[field] for field in fields))
            yield record
        withdrawn = ledger.withdrawn(self.periods_read)
        for period, key in withdrawn:
            yield self.withdrawn_record(period, dict(zip(fields, key, strict=True)))
        if withdrawn:
            self.logger.info(
                "%s: %d row(s) Datadog no longer lists (%s) written again with %s %s",
                self.name,
                len(withdrawn),
                ", ".join(dict.fromkeys(period[:10] or "this read" for period, _ in withdrawn)),
                self.status_field,
                WITHDRAWN,
            )
        state[STATE_KEY] = ledger.state(self.periods_read, self.period_is_open)

    def period_is_open(self, period: str) -> bool:
        """Whether a period may still change after this run (default: it was read this run)."""
        return period in self.periods_read

    def withdrawn_record(self, period: str, key: dict[str, str]) -> dict[str, t.Any]:
        """The row that withdraws ``key``, with ``withdrawn_values`` and every other field null.

        ``withdrawn_values`` says the zero cost and the status ``withdrawn``.
        """
        record: dict[str, t.Any] = dict.fromkeys(self.schema["properties"])
        record.update(key)
        if self.period_field:
            record[self.period_field] = period
        if self.scope_field:
            record[self.scope_field] = self.view
        record.update(self.withdrawn_values(record))
        return record

    def withdrawn_values(self, record: dict[str, t.Any]) -> dict[str, t.Any]:  # noqa: ARG002
        """The fields of a withdrawing row beyond its key (default: the status alone)."""
        return {self.status_field: WITHDRAWN}

    def sibling(self, stream_type: type[_Stream]) -> _Stream:
        """Another stream of this tap, to read its endpoint; its requests count in this one's."""
        stream = stream_type(tap=self.datadog_tap)
        stream.progress = self.progress
        return stream

    def records_of(self, params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """The records of one answer of this stream's endpoint to ``params`` (a sibling's read)."""
        body = self.get_json(params)
        return [
            row for item in body.get(self.records_key) or () for row in self.records_from_item(item)
        ]

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

    @functools.cached_property
    def written_as_read(self) -> bool:
        """Whether a record can be written as read, without the SDK's per-record passes.

        True when every property is selected, no stream map or flattening applies, and records
        are not re-conformed (``TYPE_CONFORMANCE_LEVEL``): the SDK's selection pass, type
        conformance and stream map would then change nothing.
        """
        maps = self.stream_maps
        return (
            all(self.mask.values())
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
        )

    @override
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD message, without its passes that change nothing here."""
        if not self.written_as_read:
            yield from super()._generate_record_messages(record)
            return
        yield RecordMessage(
            stream=self.name,
            record=record,
            version=self._stream_version,
            time_extracted=dt.datetime.now(dt.timezone.utc),
        )

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        """The SDK's bookmark per record, unless the stream moves it itself (``move_bookmark``)."""
        if self.bookmark_per_record:
            super()._increment_stream_state(latest_record, context=context)

    def move_bookmark(self, context: Context | None, value: str) -> None:
        """Set the bookmark to ``value``, in the SDK's state layout.

        Like the SDK's own (``check_sorted`` off), it may move back: a run re-reads before the
        saved bookmark on purpose, and a saved bookmark later than now is not believed.
        """
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = value

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
        return int(self.config["request_timeout"])

    @property
    def include_descendants(self) -> bool:
        """Child orgs too (usage per child org, cost per org), or the parent alone."""
        return bool(self.config["include_descendants"])

    @property
    def include_connected_accounts(self) -> bool:
        """Partner-network connected accounts too."""
        return bool(self.config["include_connected_accounts"])

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

    # Requests: pace, retry, explain. Every message names the endpoint, never headers.

    def send(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """One attempt: the key headers, a wall-clock deadline, a capped answer, then sorted.

        Replaces the SDK's ``_request`` (see request_decorator): that one reads the answer
        with only a gap-between-bytes timeout and no size limit.
        """
        del context  # one request is one request, whatever the window
        response = send_within(
            self.requests_session,
            self.authenticator(prepared_request),
            timeout=self.timeout,
            max_bytes=self.config["max_answer_mb"] << 20,
            verify=self.datadog_tap.certificate_authority,
        )
        self.validate_response(response)
        return response

    def get_json(
        self, params: dict[str, t.Any], *, path: str | None = None, context: Context | None = None
    ) -> t.Any:  # noqa: ANN401
        """One GET of this stream's path (or another), decoded, sent the way records are.

        The connection test's probes go through here: the same pacing, retries and refusals.
        """
        request = self.build_prepared_request(
            method="GET", url=self.url_base + (path or self.path), params=params,
            headers=self.http_headers,
        )  # fmt: skip
        return decode(self.request_decorator(self.send)(request, context))

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """Pace each attempt, retry with back-off, and give up with one clear line.

        Every attempt is ``send``: the SDK hands us its own ``_request`` as ``func``, which
        has no deadline and no size limit, and we do not call it. The backoff library is
        called directly (not through the SDK's decorator) so that it logs nothing itself:
        ``backoff_handler`` writes the one line per retry.
        """
        del func
        pacer = self.datadog_tap.rate_limit_pacer
        limits = {"timeout": self.timeout, "max_mb": self.config["max_answer_mb"]}

        def attempt(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            url = urlparse(str(prepared_request.url))
            waited = pacer.wait_before(url.path)
            if waited:
                self.progress.rate_limit_wait(waited)
            self.progress.request()
            try:
                return self.send(prepared_request, context)
            except requests.exceptions.SSLError:
                raise certificate_failure(url.path, str(url.hostname)) from None
            except tuple(NETWORK_FAILURES) as exc:
                raise network_failure(exc, url.path, str(url.hostname), limits) from exc

        retried = backoff.on_exception(
            self.backoff_wait_generator,
            RetriableAPIError,
            max_tries=self.backoff_max_tries,
            on_backoff=self.backoff_handler,
            jitter=None,  # backoff_wait_generator jitters
            logger=None,
        )(attempt)

        answers = self.datadog_tap.shared_answers

        def request(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            url = str(prepared_request.url)
            shared = self.answers_shared and urlparse(url).path == self.path
            if shared and url in answers:
                return answers[url]
            try:
                response = retried(prepared_request, context)
            except RetriableAPIError as exc:
                tries = self.backoff_max_tries()
                msg = f"{exc}; gave up after {tries} attempts (max_retries: {tries - 1})"
                raise DatadogGaveUpError(msg) from None
            if shared:
                answers[url] = response
            return response

        return request

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        endpoint = urlparse(response.url).path
        pacer = self.datadog_tap.rate_limit_pacer
        reset = pacer.observe(endpoint, response)
        rate = pacer.rate(endpoint)
        if rate is not None:
            self.progress.rate_known(rate)
        retriable = (
            status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR
        )
        if retriable:
            message = self.response_error_message(response)
            announced = self.announced_wait(response, reset)
            if announced is None:
                raise RetriableAPIError(message, response)
            seconds, source = announced
            if seconds > self.max_wait:
                raise too_long_a_wait(message, seconds, source, self.max_wait)
            raise AnnouncedWaitError(message, response, seconds, source)
        if status >= HTTPStatus.MULTIPLE_CHOICES:  # 3xx (not followed) and 4xx
            raise DatadogAPIError(self.response_error_message(response))
        try:
            body = decode(response)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            msg = f"Datadog answered {status} to GET {endpoint} with a body that is not JSON"
            raise RetriableAPIError(msg, response)
        if endpoint.endswith(self.path):  # not a probe of another endpoint (get_json)
            problem = self.shape_problem(body)
            if problem:
                msg = f"Datadog answered {status} to GET {endpoint} {problem}"
                raise RetriableAPIError(msg, response)

    def shape_problem(self, body: dict[str, t.Any]) -> str | None:
        """What makes an answer unusable (no ``data`` list, an item we cannot key), or None.

        Such an answer is retried like a broken one and then fails the stream: counting it as
        "no rows" would move a bookmark over data Datadog never sent.
        """
        items = body.get(self.records_key)
        if not isinstance(items, list):
            return f"without a '{self.records_key}' list"
        for item in items:
            problem = self.item_problem(item) if isinstance(item, dict) else "is not an object"
            if problem:
                return f"with an item that {problem}"
        return paging_problem(body) if self.page_cursor_param else None

    def item_problem(self, item: dict[str, t.Any]) -> str | None:  # noqa: ARG002
        """Why one item of the answer cannot become records (default: any object can)."""
        return None

    @functools.cached_property
    def field_types(self) -> dict[str, frozenset[type]]:
        """The exact Python types each field of this stream's records may have (schema)."""
        return field_types(self.schema)

    def misfit(self, values: dict[str, t.Any], fields: tuple[str, ...], where: str) -> str | None:
        """The first of ``fields`` whose value in ``values`` breaks the schema, said; or None.

        A check per declared field type, on the values taken from Datadog as they are: a row
        that does not fit its schema is a broken answer (retried, then one line), never written.
        """
        types = self.field_types
        for field in fields:
            value = values.get(field)
            if type(value) not in types[field]:
                return f"has {where}{field} = {repr(value)[:40]}, which its schema does not allow"
        return None

    @staticmethod
    def announced_wait(
        response: requests.Response, reset: float | None
    ) -> tuple[float, str] | None:
        """How long a refused request says to wait, and which header says it.

        A 429's X-RateLimit-Reset (Datadog's own), else a Retry-After (429 or 5xx).
        """
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS and reset is not None:
            return reset, "X-RateLimit-Reset"
        seconds = retry_after(response.headers)
        return None if seconds is None else (seconds, "Retry-After")

    @property
    def max_wait(self) -> float:
        """The longest single wait (max_wait_seconds): pacing, an announced wait, back-off."""
        return float(self.config["max_wait_seconds"])

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Endpoint, status, Datadog's words and, for a refusal, what to do: one line.

        Replaces the SDK's default, which appends the raw body and header names.
        """
        status = response.status_code
        endpoint = urlparse(response.url).path
        try:
            body = decode(response)
        except ValueError:
            body = None
        words = datadog_error_words(body, response.text, response.reason)
        msg = f"Datadog answered {status} to GET {endpoint}: {words}"
        if status < HTTPStatus.INTERNAL_SERVER_ERROR and status not in self.extra_retry_statuses:
            permission = ENDPOINT_PERMISSIONS.get(endpoint)
            msg += f" ({advice_for(status, words, permission)})"
        return msg

    @override
    def backoff_max_tries(self) -> int:
        return int(self.config["max_retries"]) + 1

    @override
    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        """The wait an answer announced (plus a margin); else exponential, jittered, capped."""
        attempt = 0
        exception = yield  # type: ignore[misc]
        while True:
            attempt += 1
            if isinstance(exception, AnnouncedWaitError):
                wait = exception.retry_after + RATE_LIMIT_MARGIN
            else:
                wait = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (attempt - 1))
                wait *= 1 + random.random() / 4  # noqa: S311 - jitter, not cryptography
            exception = yield min(wait, self.max_wait)

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """One line per wait: what failed, how long we wait and why, which attempt."""
        exc = details["exception"]
        rate_limited = isinstance(exc, AnnouncedWaitError) and exc.source == "X-RateLimit-Reset"
        self.progress.retry(details["wait"], rate_limited=rate_limited)
        why = (
            f" = {exc.source} {exc.retry_after:g} s + {RATE_LIMIT_MARGIN:g} s"
            if isinstance(exc, AnnouncedWaitError)
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

    # Bookmarks and windows.

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

    # Records.

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        for item in decode(response).get(self.records_key) or ():
            yield from self.records_from_item(item)

    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """Flat records from one item of the answer (default: the item itself)."""
        yield item
