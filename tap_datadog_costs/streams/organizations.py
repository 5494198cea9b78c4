"""The organizations the keys can see: the parent and its child orgs."""

from __future__ import annotations

import sys
import typing as t

from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.periods import isoformat, parse_instant
from tap_datadog_costs.schemas import load_schema

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class OrganizationsStream(DatadogStream):
    """``GET /api/v1/org``: one row per organization."""

    name = "organizations"
    path = "/api/v1/org"
    primary_keys = ("public_id",)
    records_key = "orgs"
    schema = load_schema("organizations")

    @override
    def item_problem(self, item: dict[str, t.Any]) -> str | None:
        return None if isinstance(item.get("public_id"), str) else "has no public_id"

    @override
    def records_from_item(self, item: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        created = item.get("created")
        yield {
            "public_id": item["public_id"],
            "name": item.get("name"),
            "description": item.get("description"),
            "created": isoformat(parse_instant(created)) if created else None,
            "subscription_type": (item.get("subscription") or {}).get("type"),
            "billing_type": (item.get("billing") or {}).get("type"),
        }
