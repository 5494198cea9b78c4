"""HTTP front of the Datadog simulator: routing, validation, pagination, rate limits and faults.

A real socket server (not a mocked session) so the tap's HTTP stack, retries and back-off are
exercised exactly as against api.datadoghq.com.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import functools
import hashlib
import json
import math
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import zlib
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    from typing import Self
else:
    from typing_extensions import Self
from urllib.parse import parse_qsl, urlsplit

from .catalog import (
    ATTRIBUTION_FIELDS,
    BILLING_DIMENSIONS,
    COST_ITEM_FIELDS,
    COST_KINDS,
    COST_PRODUCTS,
    DEFAULT_FAMILIES,
    MAX_TAG_KEYS,
    PROJECTED_ITEM_FIELDS,
    VIEWS,
    is_family,
)
from .data import (
    LINE_SOURCES,
    Account,
    Attribution,
    CostEntry,
    Org,
    Withdrawal,
    cents_to_float,
    stable_id,
)
from .keys import API_KEY_ROLES, KEY_ROLES, PARENT_ROLES
from .periods import (
    DAY,
    RETENTION_MONTHS,
    UTC,
    Moment,
    days_between,
    floor_hour,
    iso_z,
    month_start,
    shift_months,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

NON_PARENT = "API called with non-parent org keys. Data is only available at the root level org"
START_AFTER_END = "start_hr [YYYY-MM-DDThh] must be before end_hr [YYYY-MM-DDThh]"
DESCENDANTS_WINDOW = (
    "The time range cannot exceed 24 hours when filter[include_descendants] is true"
)
SINGLE_ORG_WINDOW = "The time range cannot exceed 2 months"
# No recorded or documented API wording found for these two; plain wordings. Datadog's docs
# (docs.datadoghq.com/account_management/billing/usage_attribution/) say "Usage Attribution is
# an advanced feature included in the Enterprise plan", and allow "up to three tag keys".
NO_ATTRIBUTION = (
    "Cost attribution is not available for your plan: Usage Attribution is an advanced feature "
    "included in the Enterprise plan"
)
TOO_MANY_TAG_KEYS = f"tag_breakdown_keys cannot contain more than {MAX_TAG_KEYS} tag keys"
#: Items per cost attribution page (the spec names no size; small so that paging is exercised).
ATTRIBUTION_PAGE_SIZE = 100
DEFAULT_RATE_LIMIT = (1000, 10)
MAX_PAGE_SIZE = 500
FAULT_KINDS = (
    "500", "503", "429", "403", "reset", "slow", "truncated", "nonjson", "redirect", "headers",
    "echo", "trickle", "endless", "gzipbomb",
)  # fmt: skip
FAULT_MESSAGES = {
    "403": "Forbidden",  # what Datadog answers a key lacking the endpoint's permission
    "500": "Internal Server Error",
    "503": "Service Unavailable",
    "429": "Rate limit exceeded",
}
#: Faults answered by writing to the socket ourselves (see DatadogSimulator._send_hostile).
STREAMED_FAULTS = ("trickle", "endless", "gzipbomb")
#: How long a hostile answer goes on at most, if its client never gives up.
HOSTILE_SECONDS = 60
CHUNK_SIZE = 1 << 16
JSON = "application/json"


@functools.cache
def gzip_bomb() -> bytes:
    """256 MB of spaces, gzipped (made once, in about a second)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(256)) + squeeze.flush()


JSON_API = "application/vnd.api+json"


class ApiError(Exception):
    """A 4xx answer raised from deep inside parameter handling."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Reply:
    """Status, body and headers of one answer."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: object, status: int = 200, content_type: str = JSON) -> Reply:
        """A compact JSON answer."""
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), content_type)

    @classmethod
    def error(cls, status: int, message: str, *, json_api: bool = False) -> Reply:
        """Datadog's two error spellings: a list of strings, or JSON:API objects."""
        if not json_api:
            return cls.json({"errors": [message]}, status)
        entry = {
            "id": None,
            "links": None,
            "status": str(status),
            "code": None,
            "title": "Bad Request",
            "detail": message,
            "source": None,
            "meta": None,
        }
        return cls.json({"errors": [entry]}, status, JSON_API)


@dataclass(frozen=True)
class Call:
    """One authenticated request as the endpoint functions see it."""

    account: Account
    role: str
    params: dict[str, str]

    def orgs(self, *, include_descendants: bool = True) -> list[Org]:
        """Orgs visible to the caller's keys."""
        if self.role in PARENT_ROLES:
            return self.account.orgs if include_descendants else [self.account.parent]
        return self.account.children[:1] if self.role == "child" else []

    def require_parent(self) -> None:
        """Cost and billing endpoints refuse child orgs."""
        if self.role == "child":
            raise ApiError(400, NON_PARENT)

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A raw parameter; empty counts as absent."""
        value = self.params.get(name) or None
        if value is None and required:
            raise ApiError(400, f"{name} is required")
        return value

    def instant(self, name: str, *, required: bool = False) -> datetime | None:
        """A timestamp parameter in any spelling Datadog accepts."""
        value = self.text(name, required=required)
        try:
            return None if value is None else floor_hour(value)
        except ValueError:
            raise ApiError(400, f"Invalid {name}: {value}") from None

    def month(self, name: str, *, required: bool = False) -> datetime | None:
        """A month parameter (``YYYY-MM`` or any date-time inside the month)."""
        value = self.instant(name, required=required)
        return None if value is None else month_start(value)

    def flag(self, name: str, *, default: bool = False) -> bool:
        """A true/false parameter."""
        value = (self.text(name) or str(default)).lower()
        if value not in ("true", "false"):
            raise ApiError(400, f"Invalid {name}: {value}")
        return value == "true"

    def choice(self, name: str, options: Iterable[str], default: str) -> str:
        """An enumerated parameter."""
        value = self.text(name) or default
        if value not in options:
            raise ApiError(400, f"Invalid {name}: {value}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """A bounded integer parameter."""
        value = self.text(name) or str(default)
        if not value.isdigit() or not low <= int(value) <= high:
            raise ApiError(400, f"{name} must be between {low} and {high}")
        return int(value)


# ---- endpoints ---------------------------------------------------------------------------
def validate(_call: Call) -> Reply:
    """GET /api/v1/validate."""
    return Reply.json({"valid": True})


def list_orgs(call: Call) -> Reply:
    """GET /api/v1/org: "data on your top-level organization" only, and only with org_management."""
    if call.role == "usage_only":
        raise ApiError(403, "Forbidden")
    return Reply.json({"orgs": [org.as_served() for org in call.orgs()[:1]]})


def usage_summary(call: Call) -> Reply:
    """GET /api/v1/usage/summary: usage per month, and per org with include_org_details."""
    call.require_parent()
    account = call.account
    current = month_start(account.now)
    first = call.month("start_month", required=True)
    if first < shift_months(current, -RETENTION_MONTHS):
        raise ApiError(400, "start_month must be within the last 15 months")
    last = min(call.month("end_month") or current, current)
    details = call.flag("include_org_details")
    call.flag("include_connected_accounts")
    orgs = call.orgs()
    usage = []
    for month in account.summary_months(first, last):
        entry: dict[str, Any] = {
            "date": iso_z(month),
            "apm_host_top99p": sum(account.summary_hosts(org, month) for org in orgs),
            "container_avg": 0,
        }
        if details:
            entry["orgs"] = [
                {
                    "id": stable_id("org", org.public_id)[:16],
                    **org.identity(account.parent),
                    "name": org.name,
                    "apm_host_top99p": account.summary_hosts(org, month),
                }
                for org in orgs
                if account.listed("summary", org, None, month)
            ]
            for org_entry in entry["orgs"]:
                del org_entry["org_name"]  # the summary calls it `name`
        usage.append(entry)
    return Reply.json(
        {
            "start_date": iso_z(first),
            "end_date": iso_z(last),
            "last_updated": iso_z(account.now),
            "apm_host_top99p_sum": sum(entry["apm_host_top99p"] for entry in usage),
            "container_avg_sum": 0,
            "usage": usage,
        }
    )


def hourly_usage(call: Call) -> Reply:
    """GET /api/v2/usage/hourly_usage: one item per (org, family, hour), paginated."""
    start = call.instant("filter[timestamp][start]", required=True)
    families = [
        name.strip() for name in call.text("filter[product_families]", required=True).split(",")
    ]
    unknown = [name for name in families if name != "all" and not is_family(name)]
    if unknown:
        raise ApiError(400, f"Invalid product family: {','.join(unknown)}")
    descendants = call.flag("filter[include_descendants]")
    for ignored in ("filter[include_connected_accounts]", "filter[include_breakdown]"):
        call.flag(ignored)
    end = call.instant("filter[timestamp][end]") or start + DAY
    if start >= end:
        raise ApiError(400, START_AFTER_END)
    if descendants and end - start > DAY:
        raise ApiError(400, DESCENDANTS_WINDOW)
    if not descendants and end > shift_months(start, 2):
        raise ApiError(400, SINGLE_ORG_WINDOW)
    limit = call.integer("page[limit]", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    account = call.account
    items = account.usage_items(
        call.orgs(include_descendants=descendants), account.resolve_families(families), start, end
    )
    return paginate(call.params, items, limit)


def paginate(
    params: dict[str, str],
    items: list[dict[str, Any]],
    limit: int,
    cursor_name: str = "page[next_record_id]",
) -> Reply:
    """Offset cursors bound to the query; ``meta`` is omitted when one page holds everything."""
    query = sorted(
        (key, value)
        for key, value in params.items()
        if not key.startswith("page[") and key != cursor_name
    )
    digest = hashlib.sha256(repr(query).encode()).hexdigest()[:16]
    cursor = params.get(cursor_name)
    offset = 0
    if cursor:
        try:
            text, cursor_digest = base64.urlsafe_b64decode(cursor + "==").decode().split(":")
            offset = int(text)
        except ValueError:
            cursor_digest = ""
        if cursor_digest != digest:
            raise ApiError(400, f"Invalid {cursor_name}")
    page = items[offset : offset + limit]
    if not cursor and len(items) <= limit:
        return Reply.json({"data": page})
    following = offset + limit
    next_id = base64.urlsafe_b64encode(f"{following}:{digest}".encode()).decode().rstrip("=")
    meta = {"pagination": {"next_record_id": next_id if following < len(items) else None}}
    return Reply.json({"data": page, "meta": meta})


def cost_reply(
    call: Call,
    kind: str,
    periods: list[datetime],
    date_of: Callable[[datetime], str],
    per_day: Callable[[datetime], int] | None = None,
) -> Reply:
    """Historical, estimated and projected cost share one item shape."""
    view = call.choice("view", VIEWS, "summary")
    call.flag("include_connected_accounts")
    orgs = call.orgs()
    entries = [
        entry
        for period in (periods if orgs else [])
        for entry in call.account.cost_entries(
            kind, orgs, period, view, per_day(period) if per_day else None
        )
    ]
    return Reply.json(
        {"data": [cost_item(call.account, kind, entry, date_of(entry.period)) for entry in entries]}
    )


def cost_item(account: Account, kind: str, entry: CostEntry, date: str) -> dict[str, Any]:
    """One served cost item."""
    projected = kind == "projected"
    charges = [
        {
            "product_name": charge.product_name,
            "charge_type": charge.charge_type,
            "cost": cents_to_float(charge.cents),
        }
        | (
            {"last_aggregation_function": charge.last_aggregation_function}
            if charge.last_aggregation_function
            else {}
        )
        for charge in entry.charges
    ]
    return {
        "id": stable_id(kind, entry.org.public_id, date, account.generation),
        "type": "projected_cost" if projected else "cost_by_org",
        "attributes": {
            # Projected cost items carry the region too (recorded answer); the others do not.
            **entry.org.identity(
                account.parent, PROJECTED_ITEM_FIELDS if projected else COST_ITEM_FIELDS
            ),
            "date": date,
            "projected_total_cost" if projected else "total_cost": cents_to_float(
                entry.total_cents
            ),
            "charges": charges,
        },
    }


def historical_cost(call: Call) -> Reply:
    """GET /api/v2/usage/historical_cost: months from the 3rd of the next month on."""
    call.require_parent()
    account = call.account
    first = call.month("start_month", required=True)
    last = call.month("end_month") or month_start(account.now)
    months = [month for month in account.cost_months("historical") if first <= month <= last]
    return cost_reply(call, "historical", months, account.historical_date)


def estimated_cost(call: Call) -> Reply:
    """GET /api/v2/usage/estimated_cost: current and previous month, by month or by day."""
    call.require_parent()
    account = call.account
    by_month, by_day = bool(call.text("start_month")), bool(call.text("start_date"))
    if by_month and by_day:
        raise ApiError(400, NON_PARENT)  # Datadog's recorded answer to this mistake, verbatim
    if not (by_month or by_day):
        raise ApiError(400, "Either start_month or start_date should be specified")
    current = month_start(account.now)
    months = account.cost_months("estimated")
    if by_month:
        first = call.month("start_month")
        last = call.month("end_month") or current
        periods = [month for month in months if first <= month <= last]
    else:
        first = call.instant("start_date").replace(hour=0)
        last = min(
            (call.instant("end_date") or account.now).replace(hour=0), account.now.replace(hour=0)
        )
        periods = days_between(max(first, months[0]), last)
    if month_start(first) < shift_months(current, -2):
        raise ApiError(400, "Estimated cost is only available for the current and previous month")
    aggregation = call.text("cost_aggregation")
    if aggregation not in (None, "cumulative"):
        raise ApiError(400, f"Invalid cost_aggregation: {aggregation}")
    per_day = (lambda day: day.day if aggregation else 1) if by_day else None
    return cost_reply(call, "estimated", periods, iso_z, per_day)


def projected_cost(call: Call) -> Reply:
    """GET /api/v2/usage/projected_cost: the current month, dated its last day (quirk)."""
    call.require_parent()

    def last_day(month: datetime) -> str:
        return iso_z(month.replace(day=calendar.monthrange(month.year, month.month)[1]))

    return cost_reply(call, "projected", call.account.cost_months("projected"), last_day)


def billing_dimension_mapping(call: Call) -> Reply:
    """GET /api/v2/usage/billing_dimension_mapping."""
    call.require_parent()
    month = call.month("filter[month]") or month_start(call.account.now)
    call.choice("filter[view]", ("active", "all"), "active")
    entries = call.account.mapping_entries(month) if call.role in PARENT_ROLES else []
    return Reply.json(
        {
            "data": [
                {
                    "id": dimension,
                    "type": "billing_dimensions",
                    "attributes": {
                        "in_app_label": label,
                        "timestamp": iso_z(month),
                        "endpoints": [
                            {"id": endpoint, "keys": keys, "status": status}
                            for endpoint, keys, status in endpoints
                        ],
                    },
                }
                for dimension, label, endpoints in entries
            ]
        }
    )


def active_billing_dimensions(call: Call) -> Reply:
    """GET /api/v2/cost_by_tag/active_billing_dimensions (this month's billed dimensions)."""
    call.require_parent()
    month = month_start(call.account.now)
    values = (
        [dimension for dimension, _, _ in BILLING_DIMENSIONS] if call.role in PARENT_ROLES else []
    )
    return Reply.json(
        {
            "data": {
                "type": "billing_dimensions",
                "id": stable_id("active_billing_dimensions", iso_z(month)),
                "attributes": {"values": values, "month": iso_z(month)},
            }
        }
    )


def billable_summary(call: Call) -> Reply:
    """GET /api/v1/usage/billable-summary: a month's billable usage per org and product."""
    call.require_parent()
    month = call.month("month") or month_start(call.account.now)
    call.flag("include_connected_accounts")  # the simulated account has no connected accounts
    return Reply.json({"usage": call.account.billable_items(call.orgs(), month)})


def attribution_fields(text: str) -> list[tuple[str, str]]:
    """(billing dimension, suffix) of each requested field; ``*``: every billed dimension.

    Any active billing dimension may be named; those the account is not billed for are 0.
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    if "*" in names:
        return [(dimension, suffix) for dimension in COST_PRODUCTS for suffix in ATTRIBUTION_FIELDS]
    known = {
        f"{dimension}_{suffix}": (dimension, suffix)
        for dimension, _, _ in BILLING_DIMENSIONS
        for suffix in ATTRIBUTION_FIELDS
    }
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ApiError(400, f"Invalid fields: {','.join(unknown)}")
    return list(dict.fromkeys(known[name] for name in names))


def monthly_cost_attribution(call: Call) -> Reply:
    """GET /api/v2/cost_by_tag/monthly_cost_attribution: cost per org and tags, paginated."""
    call.require_parent()
    if call.role == "no_attribution":
        raise ApiError(403, NO_ATTRIBUTION)
    account = call.account
    first = call.month("start_month", required=True)
    last = call.month("end_month") or month_start(account.now)
    fields = attribution_fields(call.text("fields", required=True))
    keys = [key.strip() for key in (call.text("tag_breakdown_keys") or "").split(",")]
    keys = list(dict.fromkeys(key for key in keys if key))
    if len(keys) > MAX_TAG_KEYS:
        raise ApiError(400, TOO_MANY_TAG_KEYS)
    descending = call.choice("sort_direction", ("desc", "asc"), "desc") == "desc"
    # "Always sorted by total cost": of sort_name's dimension, else of the first field's.
    sort_name = call.text("sort_name") or fields[0][0]
    if sort_name not in [dimension for dimension, _, _ in BILLING_DIMENSIONS]:
        raise ApiError(400, f"Invalid sort_name: {sort_name}")
    descendants = call.flag("include_descendants", default=True)
    entries = account.attributions(call.orgs(include_descendants=descendants), first, last, keys)

    def order(entry: Attribution) -> tuple[datetime, int]:
        cents = sum(entry.cents.get(sort_name, (0, 0)))
        return entry.month, -cents if descending else cents

    items = [account.attribution_item(entry, fields) for entry in sorted(entries, key=order)]
    return paginate(call.params, items, ATTRIBUTION_PAGE_SIZE, "next_record_id")


@dataclass(frozen=True)
class Route:
    """An endpoint: rate-limit name, handler, and how it authenticates and spells errors."""

    name: str
    answer: Callable[[Call], Reply]
    api_key_only: bool = False
    json_api_errors: bool = False


ROUTES: dict[str, Route] = {
    "/api/v1/validate": Route("validate", validate, api_key_only=True),
    "/api/v1/org": Route("orgs", list_orgs),
    "/api/v1/usage/summary": Route("usage_summary", usage_summary),
    "/api/v1/usage/billable-summary": Route("usage_billable_summary", billable_summary),
    "/api/v2/usage/hourly_usage": Route("usage_hourly_usage", hourly_usage),
    "/api/v2/usage/historical_cost": Route("usage_historical_cost", historical_cost),
    "/api/v2/usage/estimated_cost": Route("usage_estimated_cost", estimated_cost),
    "/api/v2/usage/projected_cost": Route("usage_projected_cost", projected_cost),
    "/api/v2/usage/billing_dimension_mapping": Route(
        "usage_billing_dimension_mapping", billing_dimension_mapping, json_api_errors=True
    ),
    "/api/v2/cost_by_tag/active_billing_dimensions": Route(
        "cost_by_tag_active_billing_dimensions", active_billing_dimensions
    ),
    "/api/v2/cost_by_tag/monthly_cost_attribution": Route(
        "cost_by_tag_monthly_cost_attribution", monthly_cost_attribution
    ),
}


# ---- server ------------------------------------------------------------------------------
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
    ) -> None:
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

    def set_rate_limit(self, path: str, limit: int, period: int) -> None:
        """Allow ``limit`` requests per calendar-aligned ``period`` seconds on an endpoint."""
        if path not in ROUTES or limit < 1 or period < 1:
            msg = f"cannot rate-limit {path!r} to {limit}/{period}s"
            raise ValueError(msg)
        with self._lock:
            self._limits[ROUTES[path].name] = (limit, period)

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
        """Answer one request: injected fault first, then rate limit, auth and the endpoint."""
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
            # SO_LINGER 0: closing sends RST, the client sees the connection reset mid-request.
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.close_connection = True
            return
        if kind == "slow":
            time.sleep(seconds)
        if kind in STREAMED_FAULTS:
            self._record(handler.command, split.path, params, 200)
            reply = self._respond(route, keys, params, None)
            self._send_hostile(handler, kind, reply, seconds)
            return
        if kind == "echo":  # a careless server repeating the credentials in its error text
            kind, extra_headers = "", {}
            self._record(handler.command, split.path, params, 403)
            message = f"Forbidden: API key {keys[0]} with application key {keys[1]} is not valid"
            self._send(handler, Reply.json({"errors": [message]}, 403))
            return
        fault = (
            self._fault_reply(kind, seconds)
            if kind in FAULT_MESSAGES or kind in {"nonjson", "redirect"}
            else recorded
        )
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

    @staticmethod
    def _fault_reply(kind: str, seconds: float) -> Reply:
        if kind == "nonjson":
            return Reply(200, b"<html>upstream error</html>", "text/html")
        if kind == "redirect":  # to another host: a client following it would leak its keys
            return Reply(302, b"", "text/html", {"Location": "http://127.0.0.2:9/elsewhere"})
        reply = Reply.json({"errors": [FAULT_MESSAGES[kind]]}, int(kind))
        if kind == "429":
            reply.headers = {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(max(1, math.ceil(seconds))),
            }
        return reply

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
            limit, period = self._limits.get(name, DEFAULT_RATE_LIMIT)
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
    def _send_hostile(
        handler: BaseHTTPRequestHandler, kind: str, reply: Reply, seconds: float
    ) -> None:
        """Answers no client should wait for or hold in memory whole; each stops by itself.

        trickle: the whole answer, status line first, one byte every ``seconds``; endless: a
        chunked body that does not end; gzipbomb: 256 MB of spaces in a 250 kB gzip body.
        """
        handler.close_connection = True
        deadline = time.monotonic() + HOSTILE_SECONDS
        head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
        try:
            if kind == "trickle":
                data = (f"{head}Content-Length: {len(reply.body)}\r\n\r\n").encode() + reply.body
                for byte in data:
                    if time.monotonic() > deadline:
                        break
                    handler.wfile.write(bytes([byte]))
                    time.sleep(seconds)
            elif kind == "endless":
                handler.wfile.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
                chunk = b"%x\r\n%s\r\n" % (CHUNK_SIZE, b" " * CHUNK_SIZE)
                while time.monotonic() < deadline:
                    handler.wfile.write(chunk)
            else:
                body = gzip_bomb()
                handler.wfile.write(
                    f"{head}Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up: what it should do

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
