"""Retries: the wait an answer announces, else exponential back-off.

X-RateLimit-Reset or Retry-After first; each wait is bounded by max_wait_seconds, said in one
line, and ended at once by a signal (the run's stop).
"""

from __future__ import annotations

import random
import typing as t
from http import HTTPStatus

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.errors import AnnouncedWaitError
from tap_datadog_costs.rate_limit import RATE_LIMIT_MARGIN

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from tap_datadog_costs.progress import Progress
    from tap_datadog_costs.run_context import RunContext

#: Exponential back-off: first wait and cap, in seconds.
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 60.0

_Answer = t.TypeVar("_Answer")


class RetryPolicy(RESTStream[t.Any]):
    """How long to wait before another attempt, and the line that says so (the SDK's hooks)."""

    #: This run's counters (DatadogStream sets it): waits and retries count there.
    progress: Progress
    #: The run's settings and clock (DatadogStream sets it).
    datadog_tap: RunContext

    def announced_wait(
        self, response: requests.Response, reset: float | None
    ) -> tuple[float, str] | None:
        """How long a refused request says to wait, and which header says it.

        A 429's X-RateLimit-Reset (Datadog's own), else a Retry-After (429 or 5xx).
        """
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS and reset is not None:
            return reset, "X-RateLimit-Reset"
        seconds = self.datadog_tap.rate_limit_pacer.headers.retry_after(response.headers)
        return None if seconds is None else (seconds, "Retry-After")

    @property
    def max_wait(self) -> float:
        """The longest single wait (max_wait_seconds): pacing, an announced wait, back-off."""
        return float(self.datadog_tap.settings.max_wait_seconds)

    def with_retries(self, attempt: Callable[[], _Answer]) -> _Answer:
        """``attempt()`` until it succeeds, or its RetriableAPIError once retries run out.

        Between two attempts, the wait ``backoff_wait_generator`` says, said in one line
        (``backoff_handler``) and waited through the run's stop: a signal ends it at once.
        (The backoff library sleeps where no signal can end the wait.)
        """
        waits = self.backoff_wait_generator()
        next(waits)
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except RetriableAPIError as exc:
                if tries >= self.backoff_max_tries():
                    raise
                wait = waits.send(exc)
                self.backoff_handler({"exception": exc, "wait": wait, "tries": tries})
                self.datadog_tap.run_stop.wait(wait)

    @override
    def backoff_max_tries(self) -> int:
        return self.datadog_tap.settings.max_retries + 1

    @override
    def backoff_wait_generator(self) -> t.Generator[float, Exception | None, None]:
        """The wait an answer announced (plus a margin); else exponential, jittered, capped."""
        attempt = 0
        exception = yield  # type: ignore[misc]
        while True:
            attempt += 1
            if isinstance(exception, AnnouncedWaitError):
                wait = exception.retry_after + RATE_LIMIT_MARGIN
            else:
                wait = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (attempt - 1))
                wait *= 1 + random.random() / 4  # noqa: S311 - jitter, not cryptography
            exception = yield min(wait, self.max_wait)

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """One line per wait: what failed, how long we wait and why, which attempt."""
        exc = details["exception"]
        rate_limited = isinstance(exc, AnnouncedWaitError) and exc.source == "X-RateLimit-Reset"
        self.progress.retry(details["wait"], rate_limited=rate_limited)
        why = (
            f" = {exc.source} {exc.retry_after:g} s + {RATE_LIMIT_MARGIN:g} s"
            if isinstance(exc, AnnouncedWaitError)
            else ""
        )
        self.logger.warning(
            "%s; retrying in %.2f s%s (attempt %d of %d)",
            exc,
            details["wait"],
            why,
            details["tries"] + 1,
            self.backoff_max_tries(),
        )
