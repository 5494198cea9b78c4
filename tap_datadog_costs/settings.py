"""The tap's settings: the config schema and the checks a schema cannot state.

The schema is the one source of every default, minimum and allowed value: the SDK fills its
defaults into the config before a stream runs, so code reads ``config[name]`` with no
fallback. meltano.yml's settings are checked against it by a test.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing as t
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_datadog_costs.periods import RETENTION_MONTHS, USAGE_DELAY_HOURS

UTC = timezone.utc

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping

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
#: Datadog's retention in hours (15 months of 31 days): more look-back reads nothing more.
RETENTION_HOURS = RETENTION_MONTHS * 31 * 24
#: An example of each accepted date form, for error messages.
DATE_EXAMPLES = "such as 2026-11-01 or 2026-11-01T00:00:00Z"

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


def setting_first(error: str) -> str:
    """A schema error from the SDK, reworded to start with the setting it is about.

    The SDK writes ``<what> in config['<setting>']`` (``'x' is a required property`` for a
    missing one); ours reads ``<setting>: <what>``, as our own checks do.
    """
    located = re.fullmatch(r"(.*) in config\['([^']+)'\](.*)", error, re.DOTALL)
    if located:
        what, setting, deeper = located.groups()
        return f"{setting}{deeper}: {what}"
    missing = re.fullmatch(r"'([^']+)' is a required property", error)
    if missing:
        return f"{missing[1]}: required, and not set"
    return error


def unknown_setting_warnings(config: Mapping[str, t.Any], known: Iterable[str]) -> list[str]:
    """One warning per setting this tap does not have, with the closest one it does have."""
    names = sorted(known)
    warnings = []
    for name in sorted(set(config) - set(names)):
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]}?" if close else "see tap-datadog-costs --about"
        warnings.append(f"{name}: not a setting of this tap ({hint}): ignored")
    return warnings


def cross_field_errors(config: Mapping[str, t.Any], now: dt.datetime) -> list[str]:
    """One line per wrong setting that the schema let through, naming it and what is allowed.

    No line quotes a key or a URL: either may hold a secret.
    """
    errors = [error for key in KEYS if (error := key_error(key, config[key]))]
    dates: dict[str, dt.datetime] = {}
    for setting in ("start_date", "end_date"):
        if config.get(setting):
            try:
                dates[setting] = setting_instant(config[setting])
            except ValueError:
                errors.append(
                    f"{setting}: '{config[setting]}' is not an ISO date or date-time, "
                    + DATE_EXAMPLES
                )
                continue
    if "start_date" in dates and dates["start_date"] > now:
        errors.append("start_date: must not be in the future")
    if "start_date" in dates and "end_date" in dates and dates["start_date"] >= dates["end_date"]:
        errors.append("start_date: must be before end_date")
    if config.get("ca_bundle") and not Path(config["ca_bundle"]).is_file():
        errors.append("ca_bundle: no file at that path: give a PEM file of CA certificates")
    if config.get("api_url"):
        error = api_url_error(str(config["api_url"]))
        if error:
            errors.append(f"api_url: {error}")
    return errors


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
    return instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)


def key_error(setting: str, value: object) -> str | None:
    """What is wrong with a key, without quoting it; surrounding white space is allowed."""
    key = key_value(value)
    if not key:
        return f"{setting}: must not be empty"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):  # noqa: PLR2004 - C0 controls, DEL
        return (
            f"{setting}: contains a control character (a line break or tab inside the key): "
            "copy the key again"
        )
    return None


def api_url_error(value: str) -> str | None:
    """What is wrong with api_url, never quoting it: it may carry a password or a token."""
    try:
        url = urlsplit(value)
        if url.port == 0:
            raise ValueError  # noqa: TRY301 - the same answer as a port urlsplit refuses
    except ValueError:
        return "the port must be a number from 1 to 65535"
    if url.scheme not in {"http", "https"} or not url.hostname:
        return "must be an http(s) URL such as https://api.datadoghq.com"
    if url.username or url.password:
        return "must not carry a user or password: the keys go in api_key and app_key"
    if url.query or url.fragment or value.rstrip().endswith(("?", "#")):
        return "must be scheme://host[:port][/path], with no ?query or #fragment"
    if url.scheme != "https" and not is_loopback(url.hostname):
        return "must use https unless the host is loopback (127.0.0.1, localhost)"
    return None
