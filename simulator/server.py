"""The Datadog simulator's socket server, and DatadogSimulator: what tests start and steer.

A real socket server (not a mocked session) so the tap's HTTP stack, retries and back-off are
exercised exactly as against api.datadoghq.com. DatadogSimulator serves each request (injected
fault first, then rate limit, keys and the endpoint, then its latency), logs it, revises the
account, and answers the oracle's questions.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import sys
import threading
import time
import traceback
from collections import Counter, deque
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    from typing import Self
else:
    from typing_extensions import Self
from urllib.parse import parse_qsl, urlsplit

from .api import ApiError, Call, Reply
from .catalog import COST_KINDS, DEFAULT_FAMILIES, VIEWS
from .data import LINE_SOURCES, Account, Withdrawal
from .endpoints import ROUTES
from .faults import (
    ECHO_FORMS,
    FAULT_KINDS,
    REPLIED_FAULTS,
    STREAMED_FAULTS,
    echo_reply,
    fault_reply,
    reset_connection,
    send_hostile,
)
from .keys import API_KEY_ROLES, KEY_ROLES
from .periods import UTC

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .endpoints import Route
    from .periods import Moment

DEFAULT_RATE_LIMIT = (1000, 10)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the simulator; HTTP/1.1 so clients keep connections alive."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def do_GET(self) -> None:
        self.server.simulator.serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: tests read ``sim.requests`` instead of stderr."""


class _Server(ThreadingHTTPServer):
    """Remembers open connections so stop() also ends keep-alive sessions of pooled clients."""

    daemon_threads = True
    #: The listen backlog: socketserver's 5 makes a client connecting beside five others wait
    #: for its SYN to be sent again (a second on Linux), so requests sent at once would not be
    #: in progress at once. A real server's backlog is in the hundreds.
    request_queue_size = 128
    simulator: DatadogSimulator

    def server_activate(self) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().server_activate()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self.connections_lock:
            (self.connections.add if open_ else self.connections.discard)(connection)

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401
        """Clients hanging up (as the fault tests make them) are not errors worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class DatadogSimulator:
    """A local stand-in for Datadog's usage metering API with deterministic, revisable data."""

    def __init__(  # noqa: PLR0913 -- the documented constructor plus the bind address
        self,
        now: datetime | None = None,
        child_orgs: int = 2,
        families: tuple[str, ...] = DEFAULT_FAMILIES,
        history_months: int = 16,
        *,
        publish_day: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str, str] | None = None,
        org_prefix: str = "",
        keys: tuple[str, str] | None = None,
        latency: float = 0.0,
        rate_limit: tuple[int, int] = DEFAULT_RATE_LIMIT,
    ) -> None:
        """A simulated account, not serving yet (start).

        ``latency``: seconds each answer waits (set_latency); ``rate_limit``: (requests,
        seconds) every endpoint allows unless set_rate_limit gives it its own.
        """
        self._account = Account(
            now or datetime.now(UTC),
            child_orgs,
            tuple(families),
            history_months,
            publish_day=publish_day,
            org_prefix=org_prefix,
        )
        #: Which keys have which role: another account's keys (``keys``: a parent's) are
        #: refused here, as Datadog refuses one account's keys at another.
        self._key_roles = KEY_ROLES if keys is None else {keys: "parent"}
        self._api_key_roles = (
            API_KEY_ROLES
            if keys is None
            else {api: role for (api, _), role in self._key_roles.items()}
        )
        self._address = (host, port)
        #: (certificate file, key file): serve https with them.
        self._tls = tls
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._faults: dict[str, deque[tuple[str, float, dict[str, str]]]] = {}
        self._replays: dict[str, deque[tuple[Any, dict[str, str]]]] = {}
        self._limits: dict[str, tuple[int, int]] = {}
        self._rate_limit = checked_rate_limit(*rate_limit)
        self._latency = checked_latency(latency)
        self._in_progress = self._peak_in_progress = 0
        self._counters: dict[tuple[str, tuple[str | None, str | None]], tuple[int, int]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----
    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        self._server = _Server(self._address, _Handler)
        self._server.simulator = self
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="datadog-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> Self:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving and close every connection."""
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self._server is None:
            msg = "simulator not started"
            raise RuntimeError(msg)
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    # ---- state ----
    @property
    def account(self) -> Account:
        """The current immutable data snapshot."""
        with self._lock:
            return self._account

    @property
    def now(self) -> datetime:
        """The simulated current hour (UTC)."""
        return self.account.now

    @property
    def generation(self) -> int:
        """How many times the data was revised."""
        return self.account.generation

    def withdraw(self, source: str | None = None, **where: Any) -> None:  # noqa: ANN401
        """A revision stops listing the lines these narrow down (Withdrawal; None: any).

        ``source``, then any of ``org``, ``product``, ``month`` and ``day``.
        """
        self._narrow("withdrawn", Withdrawal(source, **where))

    def unknown_cost(self, source: str | None = None, **where: Any) -> None:  # noqa: ANN401
        """A revision lists these lines (as ``withdraw`` narrows them) with a null cost."""
        self._narrow("unknown", Withdrawal(source, **where))

    def credit(self, source: str | None = None, **where: Any) -> None:  # noqa: ANN401
        """These lines' on-demand charges become credits: the same amount, negative.

        Narrowed as ``withdraw`` narrows; costs only (cost attribution keeps the charge).
        """
        self._narrow("credited", Withdrawal(source, **where))

    def _narrow(self, field: str, lines: Withdrawal) -> None:
        if lines.source not in (None, *LINE_SOURCES):
            msg = f"unknown source {lines.source!r}; expected one of {LINE_SOURCES}"
            raise ValueError(msg)
        with self._lock:
            account = self._account
            self._account = replace(account, **{field: (*getattr(account, field), lines)})

    def revise(self) -> None:
        """Late usage arrives, estimates and non-final costs move, this month's mapping changes."""
        with self._lock:
            self._account = replace(self._account, generation=self._account.generation + 1)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return [dict(entry, params=dict(entry["params"])) for entry in self._log]

    def clear_requests(self) -> None:
        """Forget logged requests."""
        with self._lock:
            self._log.clear()

    @property
    def answered(self) -> Counter[int]:
        """How many logged requests got each status (0: the connection was reset)."""
        with self._lock:
            return Counter(entry["status"] for entry in self._log)

    @property
    def in_progress(self) -> int:
        """How many requests this simulator is serving now."""
        with self._lock:
            return self._in_progress

    @property
    def peak_in_progress(self) -> int:
        """The most requests this simulator was serving at once, since it was made."""
        with self._lock:
            return self._peak_in_progress

    def report(self) -> str:
        """One line: answers by status, the peak in progress, and the path asked most.

        The path asked most, with its requests, is the one whose rate limit binds first (each
        endpoint has its own): ``answered: 200 x 912, 429 x 3; peak in progress: 8; busiest:
        /api/v2/usage/hourly_usage x 850``.
        """
        with self._lock:
            paths = Counter(entry["path"] for entry in self._log).most_common(1)
        answered = ", ".join(f"{status} x {n}" for status, n in sorted(self.answered.items()))
        line = f"answered: {answered or 'nothing'}; peak in progress: {self.peak_in_progress}"
        return line + "".join(f"; busiest: {path} x {n}" for path, n in paths)

    def set_rate_limit(self, path: str, limit: int, period: int) -> None:
        """Allow ``limit`` requests per calendar-aligned ``period`` seconds on an endpoint."""
        if path not in ROUTES:
            msg = f"cannot rate-limit {path!r}: not an endpoint"
            raise ValueError(msg)
        checked = checked_rate_limit(limit, period)
        with self._lock:
            self._limits[ROUTES[path].name] = checked

    def set_latency(self, seconds: float) -> None:
        """Answer every request ``seconds`` late.

        Counted against its rate limit as it arrives, as Datadog's gateway counts it; its
        answer sent after the wait. An injected reset or echo fault is not delayed.
        """
        self._latency = checked_latency(seconds)

    def inject(  # noqa: PLR0913 -- the fault, its size, its timing, its headers
        self,
        path: str,
        kind: str,
        count: int = 1,
        seconds: float = 0,
        *,
        after: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Make ``count`` requests to ``path`` fail in the way ``kind`` names.

        Faults queue up per path: these hit the requests that follow the ones already
        queued, once ``after`` more requests have been answered normally. ``headers`` are
        set on the answer last, over the rate-limit ones (kind ``headers``: a normal answer
        with them, such as a hostile server's X-RateLimit-Reset).
        """
        if kind not in FAULT_KINDS:
            msg = f"unknown fault {kind!r}; expected one of {FAULT_KINDS}"
            raise ValueError(msg)
        with self._lock:
            self._faults.setdefault(path, deque()).extend(
                [("", 0.0, {})] * after + [(kind, seconds, headers or {})] * count
            )

    def clear_faults(self) -> None:
        """Forget the faults and replayed answers still queued (a client that gave up early)."""
        with self._lock:
            self._faults.clear()
            self._replays.clear()

    def replay(
        self, path: str, body: object, count: int = 1, params: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``count`` requests to ``path`` with ``body`` (a recorded real answer).

        With ``params``, only requests whose query holds those values (another query of the same
        path is answered as usual). Rate limits and faults still apply; the body is served as
        Datadog served it.
        """
        if path not in ROUTES:
            msg = f"cannot replay an answer on {path!r}"
            raise ValueError(msg)
        with self._lock:
            self._replays.setdefault(path, deque()).extend([(body, params or {})] * count)

    def _next_replay(self, path: str, params: dict[str, str]) -> object | None:
        """The first body replayed on ``path`` whose query matches ``params``, taken; or None."""
        replays = self._replays.get(path) or deque()
        for entry in replays:
            body, wanted = entry
            if all(params.get(name) == value for name, value in wanted.items()):
                replays.remove(entry)
                return body
        return None

    # ---- oracle ----
    def expected_hourly_usage(
        self,
        start: Moment,
        end: Moment,
        include_descendants: bool = True,  # noqa: FBT001, FBT002 -- positional per the documented API
        families: Iterable[str] = ("all",),
    ) -> list[dict[str, Any]]:
        """Flat usage records the tap must emit for hours start <= h < end."""
        return self.account.expected_hourly_usage(start, end, include_descendants, families)

    def expected_costs(
        self, kind: str, start_month: Moment, end_month: Moment, view: str
    ) -> list[dict[str, Any]]:
        """Flat cost rows (kind: historical or estimated) the tap must emit."""
        if kind not in COST_KINDS or view not in VIEWS:
            msg = f"unknown cost kind/view {kind!r}/{view!r}"
            raise ValueError(msg)
        return self.account.expected_costs(kind, start_month, end_month, view)

    def expected_mappings(self, month: Moment) -> list[dict[str, Any]]:
        """Flat billing dimension mapping rows for a month."""
        return self.account.expected_mappings(month)

    def expected_billable_usage(self, month: Moment) -> list[dict[str, Any]]:
        """Flat billable summary rows (org, product) of a month, whole account."""
        return self.account.expected_billable_usage(month)

    def expected_cost_attribution(
        self, start_month: Moment, end_month: Moment, tag_keys: list[str]
    ) -> list[dict[str, Any]]:
        """Flat cost attribution rows (month, org, tags, billing dimension), fields=*."""
        return self.account.expected_cost_attribution(start_month, end_month, tag_keys)

    def expected_organizations(self, start: Moment, end: Moment) -> list[dict[str, Any]]:
        """The organizations rows the tap must emit reading months start..end (whole account)."""
        return self.account.expected_organizations(start, end)

    def expected_orgs(self) -> list[dict[str, Any]]:
        """Orgs as /api/v1/org serves them to the parent keys."""
        return self.account.expected_orgs()

    def is_final(self, month: Moment) -> bool:
        """Whether historical cost of a month can no longer change."""
        return self.account.is_final(month)

    # ---- request handling ----
    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request, counted as in progress until it is answered."""
        with self._lock:
            self._in_progress += 1
            self._peak_in_progress = max(self._peak_in_progress, self._in_progress)
        try:
            self._serve(handler)
        finally:
            with self._lock:
                self._in_progress -= 1

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Injected fault first, then rate limit, auth and the endpoint, then the latency."""
        split = urlsplit(handler.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        route = ROUTES.get(split.path) if handler.command == "GET" else None
        if handler.command != "GET":
            handler.close_connection = True  # a body we never read would corrupt keep-alive
        keys = (handler.headers.get("DD-API-KEY"), handler.headers.get("DD-APPLICATION-KEY"))
        with self._lock:
            queue = self._faults.get(split.path)
            kind, seconds, extra_headers = queue.popleft() if queue else ("", 0.0, {})
            body = None if kind else self._next_replay(split.path, params)
            recorded = None if body is None else Reply.json(body)
        if kind == "reset":
            self._record(handler.command, split.path, params, 0)
            reset_connection(handler)
            return
        if kind in {"slow", "fresh_cursor"}:  # answered late, when asked to
            time.sleep(seconds)
        if kind in STREAMED_FAULTS:
            self._record(handler.command, split.path, params, 200)
            reply = self._respond(route, keys, params, None)
            send_hostile(handler, kind, reply, seconds)
            return
        if kind in ECHO_FORMS:  # a careless server repeating the credentials in its error answer
            self._record(handler.command, split.path, params, 403)
            self._send(handler, echo_reply(kind, keys))
            return
        fault = fault_reply(kind, seconds) if kind in REPLIED_FAULTS else recorded
        try:
            reply = self._respond(route, keys, params, fault)
        except Exception as error:  # noqa: BLE001 -- a simulator bug: tell the client, not hang
            traceback.print_exc()
            reply = Reply.error(500, f"simulator error: {error!r}")
        reply.headers = reply.headers | extra_headers
        # Logged before sending, so a client that got its answer always finds its request logged.
        self._record(handler.command, split.path, params, reply.status)
        self._send(handler, reply, truncate=kind == "truncated")

    def _record(self, method: str, path: str, params: dict[str, str], status: int) -> None:
        with self._lock:
            self._log.append({"method": method, "path": path, "params": params, "status": status})

    def _respond(
        self,
        route: Route | None,
        keys: tuple[str | None, str | None],
        params: dict[str, str],
        fault: Reply | None,
    ) -> Reply:
        rate_headers, exceeded = self._meter(route.name if route else "not_found", keys)
        if fault is not None:
            reply = fault
        elif exceeded:
            reply = Reply.json({"errors": ["Rate limit exceeded"]}, 429)
        else:
            reply = self._answer(route, keys, params)
        reply.headers = rate_headers | reply.headers
        time.sleep(self._latency)  # counted as it arrived (above), answered late
        return reply

    def _answer(
        self, route: Route | None, keys: tuple[str | None, str | None], params: dict[str, str]
    ) -> Reply:
        if route is None:
            return Reply.error(404, "Not found")
        if route.api_key_only and not keys[0]:
            return Reply.error(403, "API key required")
        role = self._api_key_roles.get(keys[0]) if route.api_key_only else self._key_roles.get(keys)
        if role is None:
            return Reply.error(403, "Forbidden")
        try:
            return route.answer(Call(self.account, role, params))
        except ApiError as error:
            return Reply.error(error.status, error.message, json_api=route.json_api_errors)

    def _meter(self, name: str, keys: tuple[str | None, str | None]) -> tuple[dict[str, str], bool]:
        """Count a request in its calendar-aligned window: headers, and whether it is over."""
        instant = time.time()
        with self._lock:
            limit, period = self._limits.get(name, self._rate_limit)
            window = int(instant // period)
            seen_window, count = self._counters.get((name, keys), (window, 0))
            count = count + 1 if seen_window == window else 1
            self._counters[(name, keys)] = (window, count)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Period": str(period),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(max(1, math.ceil((window + 1) * period - instant))),
            "X-RateLimit-Name": name,
        }
        return headers, count > limit

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply, *, truncate: bool = False) -> None:
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body[: len(reply.body) // 2] if truncate else reply.body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        if truncate:
            handler.close_connection = True


def checked_rate_limit(limit: int, period: int) -> tuple[int, int]:
    """(limit, period): requests per seconds, both whole numbers of 1 or more (or ValueError)."""
    if not all(isinstance(n, int) and n >= 1 for n in (limit, period)):
        msg = f"cannot rate-limit to {limit!r}/{period!r}s: both are whole numbers of 1 or more"
        raise ValueError(msg)
    return limit, period


def checked_latency(seconds: float) -> float:
    """A latency: a finite number of seconds, 0 or more (or ValueError)."""
    if not 0 <= seconds < math.inf:
        msg = f"cannot answer {seconds!r} seconds late: a latency is 0 or more seconds"
        raise ValueError(msg)
    return seconds
