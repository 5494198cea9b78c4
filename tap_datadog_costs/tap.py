"""The Tap: its streams, what they share, and the connection test."""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import typing as t
from http import HTTPStatus

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_datadog_costs import redaction, setting_checks
from tap_datadog_costs.auth import DatadogAuthenticator
from tap_datadog_costs.errors import (
    NON_PARENT_MARKER,
    DatadogAPIError,
    DatadogRefusalError,
    Interrupted,
    declare_endpoint,
)
from tap_datadog_costs.periods import (
    isoformat,
    month_param,
    retention_start,
    utc_now,
)
from tap_datadog_costs.rate_limit import RateLimitPacer
from tap_datadog_costs.settings import CONFIG_SCHEMA, SITES, Settings
from tap_datadog_costs.state import bookmarks_from
from tap_datadog_costs.stopping import RunStop
from tap_datadog_costs.streams import STREAM_TYPES
from tap_datadog_costs.streams.costs import EstimatedCostsStream
from tap_datadog_costs.streams.organizations import OrganizationsStream
from tap_datadog_costs.transport import (
    LargeAnswers,
    certificate_authority,
    one_allocator_arena,
)
from tap_datadog_costs.writer import BufferedRecordWriter

if t.TYPE_CHECKING:
    import datetime as dt
    from types import FrameType

    import requests
    from singer_sdk.streams import Stream

#: The answers with which Datadog refuses keys: invalid, revoked, or lacking a permission.
KEY_REFUSALS = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
#: Checks the API key alone; no stream reads it.
VALIDATE_PATH = declare_endpoint("/api/v1/validate", permission=None)


class TapDatadogCosts(Tap):
    """Datadog usage and cost data, per product and per organization."""

    name = "tap-datadog-costs"
    message_writer_class = BufferedRecordWriter
    # The SDK adds its built-in settings to this dict in place: a copy keeps ours pure.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Schema checks (the SDK's, keys masked), then what a schema cannot say.

        The first moment the config is read: its secrets are remembered for redaction.
        """
        redaction.remember(self.config)
        errors = [
            setting_checks.setting_first(setting_checks.redact(error, self.config))
            for error in super()._validate_config(raise_errors=False)
        ]
        site = self.config.get("site")
        if site is not None and site not in SITES:  # the schema's words lack the sites' names
            errors = [e for e in errors if not e.startswith("site: ")]
            errors.append(setting_checks.site_error(site))
        known = self.config_jsonschema["properties"]  # ours and the SDK's built-in ones
        for warning in (
            *setting_checks.unknown_setting_warnings(self.config, known),
            *setting_checks.unknown_variable_warnings(os.environ, known),
        ):
            self.logger.warning("%s", warning)
        if not errors:
            errors = setting_checks.null_errors(self.config)
            errors += setting_checks.cross_field_errors(self.config, utc_now())
        if errors and raise_errors:
            msg = "Config validation failed"
            raise ConfigValidationError(msg, errors=errors)
        return errors

    # Shared by every stream: one clock, one date range, one URL, one authenticator, one pacer.

    @functools.cached_property
    def now(self) -> dt.datetime:
        return utc_now()

    @functools.cached_property
    def settings(self) -> Settings:
        """The run's settings, typed, read once from the checked config."""
        return Settings.from_config(self.config)

    @functools.cached_property
    def read_at(self) -> str:
        """The run's instant as cost rows carry it: the latest read of a key wins."""
        return isoformat(self.now)

    @functools.cached_property
    def base_url(self) -> str:
        return self.settings.base_url

    @functools.cached_property
    def start_date(self) -> dt.datetime:
        """``start_date``, or Datadog's retention edge when unset or older (warned once)."""
        edge = retention_start(self.now)
        start = self.settings.start_date
        if start is None:
            return edge
        if start < edge:
            self.logger.warning(
                "start_date %s is older than the 15 months Datadog keeps usage and cost: "
                "reading from %s instead",
                isoformat(start),
                isoformat(edge),
            )
            return edge
        return start

    @functools.cached_property
    def end_date(self) -> dt.datetime:
        end = self.settings.end_date
        return self.now if end is None else min(end, self.now)

    @functools.cached_property
    def datadog_authenticator(self) -> DatadogAuthenticator:
        return DatadogAuthenticator(self.settings.api_key, self.settings.app_key)

    @functools.cached_property
    def certificate_authority(self) -> str | bool:
        """What TLS is verified against (never off): ca_bundle, the environment, or certifi."""
        return certificate_authority(self.settings.ca_bundle)

    @functools.cached_property
    def shared_answers(self) -> dict[str, requests.Response]:
        """Answers of endpoints several streams read alike (``answers_shared``), by URL.

        For one run. Small: cost and billable usage answers, a few per month.
        """
        return {}

    @functools.cached_property
    def large_answers(self) -> LargeAnswers:
        """The one turn for an answer over 1 MB: read and checked alone, whatever is in flight."""
        return LargeAnswers()

    @functools.cached_property
    def rate_limit_pacer(self) -> RateLimitPacer:
        return RateLimitPacer(max_wait=self.settings.max_wait_seconds, stop=self.run_stop)

    @functools.cached_property
    def run_stop(self) -> RunStop:
        """Asked for by SIGTERM or SIGINT; every wait and request of the run looks at it."""
        return RunStop()

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """The SDK's sync command, with ``--state`` read and checked first (state.py)."""
        if state is not None:
            document = bookmarks_from(state.read(), state.name)
            state = io.StringIO(json.dumps(document))
        super().invoke(
            about=about, about_format=about_format, config=config, state=state, catalog=catalog
        )

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop at once, before the next record, and fail (the SDK exits 0).

        The SDK's own handler writes the state at once, possibly in the middle of a record
        and past a month still being read. Ours only asks the run to stop (``run_stop``: it
        runs between two bytecodes, so it takes no lock and writes nothing): a wait ends, no
        request is sent, no record is written, and ``sync_all`` writes the final STATE.
        """
        self.run_stop.request(signum)

    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """The SDK's sync, ending on a STATE message (``BufferedRecordWriter.end_on_state``).

        Stopped by a signal, it writes the state of what was read whole first: each stream's
        bookmark moves only past rows already written (a window or a stream read whole).
        """
        writer = self.message_writer
        if not isinstance(writer, BufferedRecordWriter):  # swapped (benchmarks)
            super().sync_all()
            return
        writer.stop = self.run_stop
        one_allocator_arena()  # before reads in flight start threads
        try:
            super().sync_all()
        except Interrupted:
            self.state_writer.write_state(self.state)
            writer.end_on_state()
            raise
        writer.end_on_state()

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    # The connection test.

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

    def check_keys(self) -> set[str]:
        """The public ids of the organizations the keys see, or a DatadogAPIError naming why.

        Three probes through the streams' own request path (pacing, retries, no
        redirects): the API key alone, both keys (the usage summary the organizations
        stream reads, usage_read), and cost access (estimated cost, billing_read).
        """
        organizations = OrganizationsStream(tap=self)
        estimated_costs = EstimatedCostsStream(tap=self)

        def probe(problem: str, get: t.Callable[[], t.Any]) -> t.Any:  # noqa: ANN401
            """``get()``; a refusal of the keys said as ``problem``, anything else as it is.

            A TLS or network failure, retries run out, a wait too long or another refusal
            (a redirect, a 404) says nothing about the keys: its own line is the whole story.
            """
            try:
                return get()
            except DatadogRefusalError as exc:
                if NON_PARENT_MARKER in str(exc):
                    problem = "No cost access: "
                elif exc.status not in KEY_REFUSALS:
                    raise
                msg = f"{problem}{exc}"
                raise DatadogAPIError(msg) from None

        probe(
            "Invalid keys: the API key was refused. ",
            lambda: organizations.get_json({}, path=VALIDATE_PATH),
        )
        summary = probe(
            "Invalid keys: the application key was refused. ",
            lambda: organizations.get_json(organizations.summary_params()),
        )
        orgs = {
            org["public_id"]
            for month in summary.get(organizations.records_key) or ()
            for org in month.get("orgs") or ()
        }
        if not orgs:
            msg = (
                "Datadog returned an empty organization list for these keys: check that "
                "the application key's owner belongs to the organization "
                f"(GET {organizations.path})."
            )
            raise DatadogAPIError(msg)
        month = month_param(self.now)
        probe(
            "No cost access: ",
            lambda: estimated_costs.get_json({"start_month": month, "view": "summary"}),
        )
        return orgs


if __name__ == "__main__":
    TapDatadogCosts.cli()
