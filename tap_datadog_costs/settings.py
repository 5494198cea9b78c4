"""The tap's settings: the config schema and the checks a schema cannot state.

The schema is the one source of every default, minimum and allowed value: the SDK fills its
defaults into the config before a stream runs, so code reads ``config[name]`` with no
fallback. meltano.yml's settings are checked against it by a test.
"""

from __future__ import annotations

import ipaddress
import typing as t
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_datadog_costs.periods import USAGE_DELAY_HOURS, parse_instant

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

#: Every Datadog site; the API lives at https://api.<site>.
SITES = (
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
    "uk1.datadoghq.com",
    "us2.ddog-gov.com",
)

#: The two Datadog keys (required, secret).
KEYS = ("api_key", "app_key")

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
        "lookback_hours", th.IntegerType(minimum=0), default=USAGE_DELAY_HOURS,
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
        "max_retries", th.IntegerType(minimum=0), default=5,
        title="Max retries",
        description="Retries of one request after 429, 5xx, timeouts or broken answers.",
    ),
    th.Property(
        "request_timeout", th.IntegerType(minimum=1), default=120,
        title="Request timeout", description="Seconds to wait for one answer.",
    ),
).to_dict()  # fmt: skip
# The SDK's type helpers cannot say it: an empty list would ask Datadog for no family at all.
CONFIG_SCHEMA["properties"]["product_families"]["minItems"] = 1


def site_base_url(site: str) -> str:
    """The API base URL of a Datadog site."""
    return f"https://api.{site}"


def base_url(config: Mapping[str, t.Any]) -> str:
    """Where requests go: ``api_url`` when set, else the site's API."""
    api_url = config.get("api_url")
    return api_url.rstrip("/") if api_url else site_base_url(config["site"])


def is_loopback(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1 addresses."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact(error: str, config: Mapping[str, t.Any]) -> str:
    """A schema error with secret values masked: a key of the wrong type is quoted in it."""
    for name, spec in CONFIG_SCHEMA["properties"].items():
        value = config.get(name)
        if spec.get("secret") and value is not None and not isinstance(value, str):
            error = error.replace(repr(value), "***")
    return error


def cross_field_errors(config: Mapping[str, t.Any], now: dt.datetime) -> list[str]:
    """One line per wrong setting that the schema let through, naming it and what is allowed."""
    errors = [f"{key}: must not be empty" for key in KEYS if not str(config[key]).strip()]
    dates: dict[str, dt.datetime] = {}
    for setting in ("start_date", "end_date"):
        if config.get(setting):
            try:
                dates[setting] = parse_instant(config[setting])
            except ValueError:
                errors.append(f"{setting}: '{config[setting]}' is not an ISO date-time")
    if "start_date" in dates and dates["start_date"] > now:
        errors.append("start_date: must not be in the future")
    if "start_date" in dates and "end_date" in dates and dates["start_date"] >= dates["end_date"]:
        errors.append("start_date: must be before end_date")
    if config.get("api_url"):
        url = urlparse(config["api_url"])
        if url.scheme not in {"http", "https"} or not url.hostname:
            errors.append("api_url: must be an http(s) URL such as https://api.datadoghq.com")
        elif url.scheme != "https" and not is_loopback(url.hostname):
            errors.append(
                "api_url: must use https unless the host is loopback (127.0.0.1, localhost)"
            )
    return errors
