"""The Tap: settings, site -> base URL, stream list, connection test."""

from __future__ import annotations

import functools
import io
import ipaddress
import sys
import typing as t
from urllib.parse import urlparse

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib.messages import SingerMessageType

from tap_datadog_costs.client import (
    DatadogAPIError,
    DatadogAuthenticator,
    DatadogGaveUpError,
    RateLimitPacer,
    response_body,
)
from tap_datadog_costs.periods import (
    USAGE_DELAY_HOURS,
    add_months,
    floor_hour,
    parse_instant,
    utc_now,
)
from tap_datadog_costs.streams import STREAM_TYPES
from tap_datadog_costs.streams.organizations import OrganizationsStream

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if t.TYPE_CHECKING:
    import datetime as dt

    import requests
    from singer_sdk.streams import Stream

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

#: Product families the hourly usage endpoint knows (API reference), plus `all`.
PRODUCT_FAMILIES = (
    "all", "analyzed_logs", "application_security", "audit_trail", "bits_ai", "serverless",
    "ci_app", "cloud_cost_management", "cloud_siem", "csm_container_enterprise",
    "csm_host_enterprise", "cspm", "custom_events", "cws", "dbm", "error_tracking",
    "fargate", "infra_hosts", "incident_management", "indexed_logs", "indexed_spans",
    "ingested_spans", "iot", "lambda_traced_invocations", "llm_observability", "logs",
    "network_flows", "network_hosts", "network_monitoring", "observability_pipelines",
    "online_archive", "profiling", "product_analytics", "rum", "rum_browser_sessions",
    "rum_mobile_sessions", "sds", "snmp", "software_delivery", "synthetics_api",
    "synthetics_browser", "synthetics_mobile", "synthetics_parallel_testing", "timeseries",
    "vuln_management", "workflow_executions", "apm", "audit_logs",
)  # fmt: skip

#: The two Datadog keys (required, secret).
KEYS = ("api_key", "app_key")
#: Integer settings and their smallest allowed value.
MINIMUMS = {"lookback_hours": 0, "max_retries": 0, "request_timeout": 1}

#: Datadog keeps usage and cost history for 15 months.
RETENTION_MONTHS = 15


def site_base_url(site: str) -> str:
    """The API base URL of a Datadog site."""
    return f"https://api.{site}"


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


class BufferedRecordWriter(MsgSpecWriter):
    """msgspec messages, flushed at every message but RECORD.

    The SDK's writer flushes stdout after each record: one system call per row (and,
    with PYTHONUNBUFFERED set, as Docker images and CI often do, stdout has no buffer
    at all). Records still reach the target before any STATE that follows them (same
    buffer, in order), so a bookmark never covers a row the target has not been sent.
    """

    _raw: t.Any = None
    _out: t.Any = None

    @override
    def write_message(self, message: t.Any) -> None:
        raw = sys.stdout.buffer
        if raw is not self._raw:  # first message, or stdout was replaced
            self._raw = raw
            self._out = io.BufferedWriter(raw, 1 << 16) if isinstance(raw, io.FileIO) else raw
        self._out.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            self._out.flush()


class TapDatadogCosts(Tap):
    """Datadog usage and cost data, per product and per organization."""

    name = "tap-datadog-costs"
    message_writer_class = BufferedRecordWriter

    config_jsonschema = th.PropertiesList(
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
            description="Full base URL replacing the site's (proxies, tests); "
            "https unless the host is loopback.",
        ),
        th.Property(
            "start_date", th.DateTimeType,
            title="Start date",
            description="Inclusive start of usage and cost history (default: 15 months ago).",
        ),
        th.Property(
            "end_date", th.DateTimeType,
            title="End date",
            description="Exclusive end: hours before it, months it touches (default: now).",
        ),
        th.Property(
            "lookback_hours", th.IntegerType, default=USAGE_DELAY_HOURS,
            title="Look-back hours",
            description="Hours of hourly usage re-read on every run for late data.",
        ),
        th.Property(
            "product_families", th.ArrayType(th.StringType), default=["all"],
            title="Product families", description="Hourly usage product families, or all.",
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
            "max_retries", th.IntegerType, default=5,
            title="Max retries",
            description="Retries of a request after 429, 5xx, timeouts or broken answers.",
        ),
        th.Property(
            "request_timeout", th.IntegerType, default=120,
            title="Request timeout", description="Seconds to wait for one answer.",
        ),
    ).to_dict()  # fmt: skip

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Schema checks, then what a schema cannot say (dates, URLs, families)."""
        errors = [self.redact(error) for error in super()._validate_config(raise_errors=False)]
        if not errors:
            errors = self.setting_errors()
        if errors and raise_errors:
            msg = "Config validation failed"
            raise ConfigValidationError(msg, errors=errors)
        return errors

    def redact(self, error: str) -> str:
        """A schema error with secret values masked: a key of the wrong type is quoted in it."""
        for name, spec in self.config_jsonschema["properties"].items():
            value = self.config.get(name)
            if spec.get("secret") and value is not None and not isinstance(value, str):
                error = error.replace(repr(value), "***")
        return error

    def setting_errors(self) -> list[str]:
        """One line per wrong setting, naming it and what is allowed."""
        config = self.config
        errors = [f"{key}: must not be empty" for key in KEYS if not str(config[key]).strip()]
        errors += [
            f"{setting}: must be {least} or more"
            for setting, least in MINIMUMS.items()
            if config.get(setting, least) < least
        ]
        now = utc_now()
        dates: dict[str, dt.datetime] = {}
        for setting in ("start_date", "end_date"):
            if config.get(setting):
                try:
                    dates[setting] = parse_instant(config[setting])
                except ValueError:
                    errors.append(f"{setting}: '{config[setting]}' is not an ISO date-time")
        if "start_date" in dates and dates["start_date"] > now:
            errors.append("start_date: must not be in the future")
        if (
            "start_date" in dates
            and "end_date" in dates
            and dates["start_date"] >= dates["end_date"]
        ):
            errors.append("start_date: must be before end_date")
        unknown = sorted(set(config.get("product_families") or ()) - set(PRODUCT_FAMILIES))
        if unknown:
            allowed = ", ".join(PRODUCT_FAMILIES)
            errors.append(f"product_families: unknown {', '.join(unknown)}; allowed: {allowed}")
        if config.get("api_url"):
            url = urlparse(config["api_url"])
            if url.scheme not in {"http", "https"} or not url.hostname:
                errors.append("api_url: must be an http(s) URL such as https://api.datadoghq.com")
            elif url.scheme != "https" and not is_loopback(url.hostname):
                errors.append(
                    "api_url: must use https unless the host is loopback (127.0.0.1, localhost)"
                )
        return errors

    # Shared by every stream: one clock, one URL, one authenticator, one pacer.

    @functools.cached_property
    def now(self) -> dt.datetime:
        return utc_now()

    @functools.cached_property
    def base_url(self) -> str:
        api_url = self.config.get("api_url")
        return (
            api_url.rstrip("/")
            if api_url
            else site_base_url(self.config.get("site", "datadoghq.com"))
        )

    @functools.cached_property
    def start_date(self) -> dt.datetime:
        if self.config.get("start_date"):
            return parse_instant(self.config["start_date"])
        return add_months(floor_hour(self.now), -RETENTION_MONTHS)

    @functools.cached_property
    def end_date(self) -> dt.datetime:
        if self.config.get("end_date"):
            return min(parse_instant(self.config["end_date"]), self.now)
        return self.now

    @functools.cached_property
    def datadog_authenticator(self) -> DatadogAuthenticator:
        return DatadogAuthenticator(self.config["api_key"], self.config["app_key"])

    @functools.cached_property
    def rate_limit_pacer(self) -> RateLimitPacer:
        return RateLimitPacer()

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @override  # type: ignore[misc]
    def run_connection_test(self) -> bool:
        """Check the keys, and say which of the three usual problems it is.

        The SDK marks this final: its version syncs one record per stream, which
        cannot tell invalid keys from a child org's keys or an empty organization list.
        """
        try:
            orgs = self.check_keys()
        except DatadogAPIError as exc:
            # The SDK runs --test outside its error handler: say it in one line ourselves.
            self.logger.error("%s", exc)  # noqa: TRY400 - the message is the whole story
            raise SystemExit(1) from None
        self.logger.info(
            "Connection test passed: keys valid, %d organization(s) visible, cost data readable.",
            len(orgs),
        )
        return True

    def check_keys(self) -> list[dict[str, t.Any]]:
        """The organizations the keys see, or a DatadogAPIError naming the problem.

        Three probes, with the streams' pacing and retries: the API key alone
        (/validate), both keys (/org), and cost access (estimated cost).
        """
        probe = OrganizationsStream(tap=self)

        def send(request: requests.PreparedRequest, _: object) -> requests.Response:
            response = probe.requests_session.send(
                request, timeout=probe.timeout, allow_redirects=False
            )
            probe.validate_response(response)
            return response

        send_with_retries = probe.request_decorator(send)

        def get(path: str, problem: str, **params: str) -> t.Any:  # noqa: ANN401
            request = probe.build_prepared_request(
                method="GET", url=self.base_url + path, params=params, headers=probe.http_headers
            )
            try:
                return response_body(send_with_retries(request, None))
            except DatadogGaveUpError:
                raise  # Datadog or the network failed: not a problem with the keys
            except DatadogAPIError as exc:
                msg = f"{problem}{exc}"
                raise DatadogAPIError(msg) from None

        get("/api/v1/validate", "Invalid keys: the API key was refused. ")
        orgs = get("/api/v1/org", "Invalid keys: the application key was refused. ").get("orgs")
        if not orgs:
            msg = (
                "Datadog returned an empty organization list for these keys: check that "
                "the application key's owner belongs to the organization (GET /api/v1/org)."
            )
            raise DatadogAPIError(msg)
        month = self.now.strftime("%Y-%m")
        get("/api/v2/usage/estimated_cost", "No cost access: ", start_month=month, view="summary")
        return t.cast("list[dict[str, t.Any]]", orgs)


if __name__ == "__main__":
    TapDatadogCosts.cli()
