"""What every stream reads from the tap that runs it.

One clock, one date range, one URL, one authenticator, one pacer, the answers several
streams share and the run's stop. A protocol, so that the streams need not import the tap
(which imports them).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    import datetime as dt

    import requests

    from tap_datadog_costs.auth import DatadogAuthenticator
    from tap_datadog_costs.rate_limit import RateLimitPacer
    from tap_datadog_costs.settings import Settings
    from tap_datadog_costs.stopping import RunStop
    from tap_datadog_costs.transport import LargeAnswers


class RunContext(t.Protocol):
    """The run's shared parts, as TapDatadogCosts provides them."""

    @property
    def settings(self) -> Settings: ...
    @property
    def now(self) -> dt.datetime: ...
    @property
    def read_at(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def start_date(self) -> dt.datetime: ...
    @property
    def end_date(self) -> dt.datetime: ...
    @property
    def datadog_authenticator(self) -> DatadogAuthenticator: ...
    @property
    def certificate_authority(self) -> str | bool: ...
    @property
    def shared_answers(self) -> dict[str, requests.Response]: ...
    @property
    def rate_limit_pacer(self) -> RateLimitPacer: ...
    @property
    def large_answers(self) -> LargeAnswers: ...
    @property
    def run_stop(self) -> RunStop: ...
