"""The tap's settings: the config schema, the one source of defaults, and the typed settings.

The schema is the one source of every default, minimum and allowed value: the SDK fills its
defaults into the config before a stream runs, so code reads ``config[name]`` with no
fallback. meltano.yml's settings are checked against it by a test.
"""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import datetime, timezone

from singer_sdk import typing as th

from tap_datadog_costs.periods import RETENTION_MONTHS, USAGE_DELAY_HOURS

UTC = timezone.utc

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

#: Every Datadog site, with the name Datadog gives it; the API lives at https://api.<site>.
SITE_NAMES = {
    "datadoghq.com": "US1",
    "us3.datadoghq.com": "US3",
    "us5.datadoghq.com": "US5",
    "datadoghq.eu": "EU1",
    "ap1.datadoghq.com": "AP1",
    "ap2.datadoghq.com": "AP2",
    "ddog-gov.com": "US1-FED",
    "uk1.datadoghq.com": "UK1",
    "us2.ddog-gov.com": "US2-FED",
}
SITES = tuple(SITE_NAMES)

#: The two Datadog keys (required, secret).
KEYS = ("api_key", "app_key")
#: Datadog's retention in hours (15 months of 31 days): more look-back reads nothing more.
RETENTION_HOURS = RETENTION_MONTHS * 31 * 24
#: The most requests a run keeps in flight (max_concurrency): each holds a connection.
MAX_CONCURRENCY = 32

CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "api_key", th.StringType, required=True, secret=True,
        title="API key", description="Datadog API key (DD-API-KEY).",
    ),
    th.Property(
        "app_key", th.StringType, required=True, secret=True,
        title="Application key",
        description="Datadog application key with usage_read and billing_read.",
    ),
    th.Property(
        "site", th.StringType, default="datadoghq.com", allowed_values=list(SITES),
        title="Datadog site", description="Your Datadog site; the API is https://api.<site>.",
    ),
    th.Property(
        "api_url", th.StringType,
        title="API URL override",
        description="Full base URL replacing the site's (a proxy, or the bundled simulator); "
        "https unless the host is loopback.",
    ),
    th.Property(
        "start_date", th.DateTimeType,
        title="Start date",
        description="Inclusive start of usage and cost history "
        "(default: 15 months ago, Datadog's retention).",
    ),
    th.Property(
        "end_date", th.DateTimeType,
        title="End date",
        description="Exclusive end: hours before it, months it touches (default: now).",
    ),
    th.Property(
        "lookback_hours", th.IntegerType(minimum=0, maximum=RETENTION_HOURS),
        default=USAGE_DELAY_HOURS,
        title="Look-back hours",
        description="Hours of hourly usage re-read on every run, "
        "since Datadog revises the last 72 hours.",
    ),
    th.Property(
        "product_families", th.ArrayType(th.StringType), default=["all"],
        title="Product families",
        description="Hourly usage product families (Datadog's names, such as infra_hosts or "
        "logs), or all; sent as given, so families Datadog adds work at once.",
    ),
    th.Property(
        "include_descendants", th.BooleanType, default=True,
        title="Include child orgs",
        description="Child orgs' usage and a per-org cost breakdown (view=sub-org); "
        "false: the parent only (view=summary).",
    ),
    th.Property(
        "include_connected_accounts", th.BooleanType, default=False,
        title="Include connected accounts",
        description="Include partner-network connected accounts.",
    ),
    th.Property(
        "max_retries", th.IntegerType(minimum=0, maximum=100), default=5,
        title="Max retries",
        description="Retries of one request after 429, 5xx, timeouts or broken answers.",
    ),
    th.Property(
        "max_wait_seconds", th.IntegerType(minimum=1, maximum=86_400), default=300,
        title="Max wait",
        description="Longest single wait, in seconds, for a rate limit, a Retry-After or a "
        "back-off; Datadog asking for longer stops the stream in one line.",
    ),
    th.Property(
        "max_concurrency", th.IntegerType(minimum=1, maximum=MAX_CONCURRENCY), default=8,
        title="Max concurrency",
        description="Requests in flight at once: hourly usage windows, months and ranges of "
        "months read side by side, always within the rate limit Datadog's answers announce; "
        "1: one at a time.",
    ),
    th.Property(
        "max_answer_mb", th.IntegerType(minimum=1, maximum=4096), default=64,
        title="Max answer size",
        description="Largest answer, in MB once decompressed, the tap reads; a real page is "
        "well under 1 MB.",
    ),
    th.Property(
        "ca_bundle", th.StringType,
        title="CA bundle",
        description="PEM file of the certificate authorities TLS is verified against, such as "
        "a company proxy's (default: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, else certifi's).",
    ),
    th.Property(
        "request_timeout", th.IntegerType(minimum=1, maximum=3600), default=120,
        title="Request timeout",
        description="Seconds one request may take in all: connecting, the status line and the "
        "whole answer.",
    ),
    th.Property(
        "billing_currency", th.StringType, default="USD",
        title="Billing currency",
        description="ISO 4217 code of the currency your Datadog contract bills in, for "
        "focus_costs' BillingCurrency (Datadog's answers carry no currency).",
    ),
    th.Property(
        "cost_attribution_tag_keys", th.ArrayType(th.StringType), default=[],
        title="Cost attribution tag keys",
        description="Tag keys (up to three, such as team or service) cost_attribution breaks "
        "cost down by (Datadog's tag_breakdown_keys); none: one row per org and dimension.",
    ),
    th.Property(
        "progress_seconds", th.IntegerType(minimum=1, maximum=86_400), default=15,
        title="Progress interval",
        description="Seconds between a stream's progress lines (done of the total, rows, "
        "requests, rate-limit waits, time left).",
    ),
).to_dict()  # fmt: skip
# The SDK's type helpers cannot say it: an empty list would ask Datadog for no family at all.
CONFIG_SCHEMA["properties"]["product_families"]["minItems"] = 1
# Datadog breaks cost attribution down by at most three tag keys.
CONFIG_SCHEMA["properties"]["cost_attribution_tag_keys"]["maxItems"] = 3
# ISO 4217: three capital letters.
CONFIG_SCHEMA["properties"]["billing_currency"]["pattern"] = "^[A-Z]{3}$"


def site_base_url(site: str) -> str:
    """The API base URL of a Datadog site."""
    return f"https://api.{site}"


def base_url(config: Mapping[str, t.Any]) -> str:
    """Where requests go: ``api_url`` when set, else the site's API."""
    api_url = config.get("api_url")
    return api_url.rstrip("/") if api_url else site_base_url(config["site"])


def key_value(value: object) -> str:
    """A key as sent: surrounding white space (a newline from a file or YAML) is no part of it."""
    return str(value).strip()


def setting_instant(value: object) -> dt.datetime:
    """A start_date or end_date as an aware UTC instant; ValueError when it is not one.

    Strict ISO, as the SDK reads it too: "2026-11" is not one.
    """
    text = str(value)
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat reads no "Z"
        text = f"{text[:-1]}+00:00"
    instant = datetime.fromisoformat(text)
    try:
        return instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+05:00 is before the year 1 in UTC
        raise ValueError(text) from exc


@dataclasses.dataclass(frozen=True)
class Settings:
    """The settings of a run, read once from a config the schema and the checks accepted.

    Every default is the schema's: the SDK fills them in before the config gets here.
    """

    api_key: str
    app_key: str
    site: str
    base_url: str
    api_url: str | None
    start_date: dt.datetime | None
    end_date: dt.datetime | None
    lookback_hours: int
    product_families: tuple[str, ...]
    include_descendants: bool
    include_connected_accounts: bool
    max_retries: int
    max_wait_seconds: int
    max_concurrency: int
    max_answer_mb: int
    ca_bundle: str | None
    request_timeout: int
    billing_currency: str
    cost_attribution_tag_keys: tuple[str, ...]
    progress_seconds: int

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> Settings:
        """The typed settings of a checked config (keys as sent, dates as UTC instants)."""

        def instant(name: str) -> dt.datetime | None:
            return setting_instant(config[name]) if config.get(name) else None

        return cls(
            api_key=key_value(config["api_key"]),
            app_key=key_value(config["app_key"]),
            site=config["site"],
            base_url=base_url(config),
            api_url=config.get("api_url") or None,
            start_date=instant("start_date"),
            end_date=instant("end_date"),
            lookback_hours=int(config["lookback_hours"]),
            product_families=tuple(config["product_families"]),
            include_descendants=bool(config["include_descendants"]),
            include_connected_accounts=bool(config["include_connected_accounts"]),
            max_retries=int(config["max_retries"]),
            max_wait_seconds=int(config["max_wait_seconds"]),
            max_concurrency=int(config["max_concurrency"]),
            max_answer_mb=int(config["max_answer_mb"]),
            ca_bundle=config.get("ca_bundle") or None,
            request_timeout=int(config["request_timeout"]),
            billing_currency=config["billing_currency"],
            cost_attribution_tag_keys=tuple(config["cost_attribution_tag_keys"]),
            progress_seconds=int(config["progress_seconds"]),
        )
