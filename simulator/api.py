"""How the simulator reads a request and writes an answer, as Datadog's API does.

``Call`` parses query parameters the way Datadog accepts them and refuses the rest with its
error texts (``ApiError``); ``Reply`` spells an answer and its errors; ``paginate`` pages items
with cursors bound to the query.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .keys import PARENT_ROLES
from .periods import floor_hour, month_start

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from .data import Account, Org

NON_PARENT = "API called with non-parent org keys. Data is only available at the root level org"
JSON = "application/json"
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
        """A compact JSON answer; bytes as they are (a hostile body no JSON encoder writes)."""
        if isinstance(payload, bytes):
            return cls(status, payload, content_type)
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
