"""DatadogStream: the one request path that every stream and the connection test use.

It builds the URL, sends the key headers, paces from the rate-limit headers, retries, refuses
redirects, decodes the answer once and follows pages. Streams only declare what differs:
their path, parameters, keys and how one item of an answer becomes flat records.
"""

from __future__ import annotations

import contextlib
import functools
import typing as t
from http import HTTPStatus
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from tap_datadog_costs.answers import AnswerChecks, decode, forgotten
from tap_datadog_costs.bookmarks import Bookmarks
from tap_datadog_costs.errors import (
    NETWORK_FAILURES,
    AnnouncedWaitError,
    DatadogGaveUpError,
    DatadogRefusalError,
    certificate_failure,
    declare_endpoint,
    endpoint_of,
    network_failure,
    too_long_a_wait,
)
from tap_datadog_costs.in_flight import going, in_order
from tap_datadog_costs.paging import CursorPaging
from tap_datadog_costs.progress import Progress
from tap_datadog_costs.record_path import RecordPath
from tap_datadog_costs.retry import RetryPolicy
from tap_datadog_costs.settings import MAX_CONCURRENCY
from tap_datadog_costs.transport import Turn, send_within
from tap_datadog_costs.withdrawals import Withdrawals

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_datadog_costs.auth import DatadogAuthenticator
    from tap_datadog_costs.run_context import RunContext

_Stream = t.TypeVar("_Stream", bound="DatadogStream")
_Result = t.TypeVar("_Result")


class DatadogStream(Withdrawals, Bookmarks, RecordPath, RetryPolicy, CursorPaging, AnswerChecks):
    """Base class for Datadog usage and cost streams: the one request path.

    What every stream shares comes from one module each: ``answers`` (decoding and checks),
    ``paging``, ``retry``, ``bookmarks``, ``record_path`` and ``withdrawals``.
    """

    #: A redirect would carry the key headers to another host: refuse it instead.
    allow_redirects = False

    #: What the application key's owner needs for ``path`` (the API reference's x-permission).
    permission: str | None = "usage_read"

    #: Whether other streams read this endpoint with the same query in a run (daily and FOCUS
    #: cost): its answers are asked for once and kept for the run (``shared_answers``).
    answers_shared = False

    def __init_subclass__(cls, **kwargs: t.Any) -> None:  # noqa: ANN401
        """A class that declares a path declares its endpoint's permission with it."""
        super().__init_subclass__(**kwargs)
        if "path" in cls.__dict__:
            declare_endpoint(cls.__dict__["path"], cls.permission)

    def __init__(self, tap: Tap) -> None:
        #: The tap, typed: its clock, dates, URL, authenticator and pacer are shared.
        self.datadog_tap = t.cast("RunContext", tap)
        super().__init__(tap=tap)
        self._progress: Progress | None = None
        # Reads in flight share the session: a connection each, kept for the next request.
        pool = HTTPAdapter(pool_maxsize=MAX_CONCURRENCY)
        for scheme in ("https://", "http://"):
            self.requests_session.mount(scheme, pool)

    @property
    def progress(self) -> Progress:
        """The run's counters and progress lines, made when first used (not with --discover)."""
        if self._progress is None:
            self._progress = self.new_progress()
        return self._progress

    @progress.setter
    def progress(self, progress: Progress) -> None:
        self._progress = progress

    def new_progress(self) -> Progress:
        """Counters for one run of this stream, reporting every ``progress_seconds``."""
        return Progress(self.name, interval=self.datadog_tap.settings.progress_seconds)

    @override
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """``read_records`` between this stream's counters and its summary line.

        The summary is said after the last record was written (a generator resumes only then),
        with the bookmark the next run starts from.
        """
        self.progress = self.new_progress()
        self.periods_read = set()
        records = self.read_records(context)
        yield from self.with_withdrawals(context, records) if self.withdraws else records
        self.read_whole(context)
        bookmark = self.stream_state.get("replication_key_value") if self.replication_key else None
        self.progress.summary(bookmark, full_table=not self.replication_key)

    def read_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The records of this stream (default: each page of one request, read the SDK's way)."""
        return super().get_records(context)

    @property
    def view(self) -> str:
        """``sub-org``: a row per org; ``summary``: the parent's row is the whole account."""
        return "sub-org" if self.include_descendants else "summary"

    @property
    @override
    def withdrawal_scope(self) -> str:
        return self.view if self.scope_field else ""

    def sibling(self, stream_type: type[_Stream]) -> _Stream:
        """Another stream of this tap, to read its endpoint; its requests count in this one's."""
        stream = stream_type(tap=t.cast("Tap", self.datadog_tap))
        stream.progress = self.progress
        return stream

    @contextlib.contextmanager
    def side_by_side(
        self, reads: Iterable[Callable[[], Iterable[_Result]]]
    ) -> Iterator[Iterator[Iterator[_Result]]]:
        """Each read's results in order, up to ``max_concurrency`` reads in flight (in_flight.py).

        Reads still under way when the block ends (a failure, a signal) are abandoned.
        """
        concurrency = self.datadog_tap.settings.max_concurrency
        with contextlib.closing(
            in_order(reads, concurrency=concurrency, stop=self.datadog_tap.run_stop)
        ) as results:
            yield results

    def records_of(self, params: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """The records of one answer of this stream's endpoint to ``params`` (a sibling's read)."""
        body = self.get_json(params)
        return [
            row for item in body.get(self.records_key) or () for row in self.records_from_item(item)
        ]

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
        return self.datadog_tap.settings.request_timeout

    @property
    def include_descendants(self) -> bool:
        """Child orgs too (usage per child org, cost per org), or the parent alone."""
        return self.datadog_tap.settings.include_descendants

    @property
    def include_connected_accounts(self) -> bool:
        """Partner-network connected accounts too."""
        return self.datadog_tap.settings.include_connected_accounts

    def send(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        """One attempt: the key headers, a wall-clock deadline, a capped answer, then sorted.

        An answer over 1 MB is read and checked in the run's one turn for such answers
        (transport.LargeAnswers), given back here once it is checked.

        Replaces the SDK's ``_request`` (see request_decorator): that one reads the answer
        with only a gap-between-bytes timeout and no size limit.
        """
        del context  # one request is one request, whatever the window
        turn = Turn(self.datadog_tap.large_answers)
        try:
            response = send_within(
                self.requests_session,
                self.authenticator(prepared_request),
                timeout=self.timeout,
                max_bytes=self.datadog_tap.settings.max_answer_mb << 20,
                verify=self.datadog_tap.certificate_authority,
                stop=self.datadog_tap.run_stop,
                turn=turn,
            )
            self.validate_response(response)
        finally:
            turn.give_back()  # a large answer is checked (or failed): the next may be read
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
        """Pace each attempt, retry (``with_retries``), and give up with one clear line.

        Every attempt is ``send``: the SDK hands us its own ``_request`` as ``func``, which
        has no deadline and no size limit, and we do not call it. Before each, the run's stop
        is looked at: a signal sends no further request.
        """
        del func
        pacer, stop = self.datadog_tap.rate_limit_pacer, self.datadog_tap.run_stop
        limits = {"timeout": self.timeout, "max_mb": self.datadog_tap.settings.max_answer_mb}

        def attempt(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            url = urlparse(str(prepared_request.url))
            stop.check()
            endpoint = endpoint_of(url.geturl(), self.url_base)
            budget, waited = pacer.wait_before(endpoint)
            if waited:
                self.progress.rate_limit_wait(waited)
            self.progress.request()
            try:
                return self.send(prepared_request, context)
            except requests.exceptions.SSLError:
                raise certificate_failure(endpoint, str(url.hostname)) from None
            except tuple(NETWORK_FAILURES) as exc:
                raise network_failure(exc, endpoint, str(url.hostname), limits) from exc
            finally:
                pacer.answered(budget)

        answers = self.datadog_tap.shared_answers

        def request(
            prepared_request: requests.PreparedRequest, context: Context | None
        ) -> requests.Response:
            url = str(prepared_request.url)
            shared = self.answers_shared and endpoint_of(url, self.url_base) == self.path
            if shared and url in answers:
                self.progress.reuse()
                return answers[url]
            try:
                response = self.with_retries(functools.partial(attempt, prepared_request, context))
            except RetriableAPIError as exc:
                tries = self.backoff_max_tries()
                msg = f"{exc}; gave up after {tries} attempts (max_retries: {tries - 1})"
                raise DatadogGaveUpError(msg) from None
            going()  # an answer accepted: a first read's fellows start (in_flight.py)
            if shared:
                answers[url] = response
            return response

        return request

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        endpoint = endpoint_of(response.url, self.url_base)
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
            raise DatadogRefusalError(self.response_error_message(response), status)
        try:  # the parsed body is bound in no frame here: the exception keeps this one
            problem = self.answer_problem(decode(response), endpoint.endswith(self.path))
        except ValueError:
            problem = "with a body that is not JSON"
        if problem:
            msg = f"Datadog answered {status} to GET {endpoint} {problem}"
            raise RetriableAPIError(msg, forgotten(response))
        self.warn_of_repairs(response)

    @override
    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        for item in decode(response).get(self.records_key) or ():
            yield from self.records_from_item(item)

    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """Flat records from one item of the answer (default: the item itself)."""
        yield item
