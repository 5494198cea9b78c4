"""Pacing from Datadog's X-RateLimit-* headers, shared by every stream of a run."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import math
import threading
import time
import typing as t
from http import HTTPStatus

from tap_datadog_costs.errors import too_long_a_wait
from tap_datadog_costs.redaction import clip
from tap_datadog_costs.stopping import RunStop

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    import requests

LOGGER = logging.getLogger("tap-datadog-costs")

#: Seconds added to every rate-limit wait, so the next request lands in the new period.
RATE_LIMIT_MARGIN = 0.25


@dataclasses.dataclass(frozen=True)
class AnnouncedRate:
    """A rate limit as Datadog's answers announce it: ``limit`` requests per ``period`` s."""

    name: str
    limit: int
    period: float

    def seconds_for(self, requests: int) -> float:
        """The least time ``requests`` take at this rate: a budget now, then one per period."""
        return max(0, math.ceil(requests / self.limit) - 1) * self.period

    def __str__(self) -> str:
        """``'usage', 30 requests per 60 s``."""
        return f"'{self.name}', {self.limit:,} requests per {self.period:g} s"


class HeaderNumbers:
    """Numbers read from answers' headers, for one run.

    A value that is not a sane number (a fraction where requests are counted, zero, negative,
    infinite, NaN, text: seen from proxies and broken servers) is ignored: pacing then falls
    back to what the other headers or back-off say. The first time a header is ignored in a run
    is one warning; later answers with it are debug lines.
    """

    def __init__(self) -> None:
        self._ignored: set[str] = set()
        self._lock = threading.Lock()

    def number(self, headers: Mapping[str, str], name: str, *, whole: bool = False) -> float | None:
        """A header's number of seconds (0 or more) or, if ``whole``, of requests (1 or more)."""
        value = headers.get(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        least = 1 if whole else 0
        if math.isfinite(number) and number >= least and (not whole or number.is_integer()):
            return number
        self.ignore(
            name, value, "a whole number of 1 or more" if whole else "a number of 0 or more"
        )
        return None

    def ignore(self, name: str, value: str, wanted: str) -> None:
        """Say a header's value is ignored: a warning the first time a run meets it, then debug."""
        with self._lock:
            first = name not in self._ignored
            self._ignored.add(name)
        log = LOGGER.warning if first else LOGGER.debug
        log(
            "Ignoring the %s header of Datadog's answers: %r is not %s",
            name,
            clip(value, 40),
            wanted,
        )

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """Retry-After in seconds: a number, or an HTTP date (RFC 9110); None when absent or bad."""
        value = headers.get("Retry-After")
        if value is None or value.strip().lstrip("-").replace(".", "", 1).isdigit():
            return self.number(headers, "Retry-After")
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            self.ignore("Retry-After", value, "a number of seconds or an HTTP date")
            return None
        return max(0.0, when.timestamp() - time.time())

    def seconds_until_reset(self, headers: Mapping[str, str]) -> float | None:
        """X-RateLimit-Reset, else the rest of the calendar-aligned X-RateLimit-Period."""
        reset = self.number(headers, "X-RateLimit-Reset")
        period = self.number(headers, "X-RateLimit-Period")
        if reset is None and period:
            reset = period - time.time() % period
        return reset

    def announced_rate(self, headers: Mapping[str, str], path: str) -> AnnouncedRate | None:
        """X-RateLimit-Limit per X-RateLimit-Period, named; None unless both are sane numbers."""
        limit = self.number(headers, "X-RateLimit-Limit", whole=True)
        period = self.number(headers, "X-RateLimit-Period")
        if limit is None or not period:
            return None
        return AnnouncedRate(headers.get("X-RateLimit-Name") or path, int(limit), period)


class RateLimitPacer:
    """Paces requests from Datadog's X-RateLimit-* headers, shared by all streams.

    Datadog counts requests per rate-limit name (roughly per endpoint). We remember,
    per endpoint path, the name its answers carry, and per name the budget left; a
    request is counted when sent, so an answer that never came cannot overdraw it.
    When the budget is spent we wait for the period's reset instead of sending a
    request we know will get 429.
    """

    def __init__(self, *, max_wait: float, stop: RunStop | None = None) -> None:
        #: The longest wait for a spent budget (max_wait_seconds); a longer one fails the stream.
        self.max_wait = max_wait
        #: The run's stop: a signal ends a wait for the reset at once.
        self.stop = stop or RunStop()
        self._lock = threading.Lock()
        self._name_of_path: dict[str, str] = {}
        self._budget: dict[str, tuple[int, float]] = {}  # name -> (remaining, reset_at)
        self._rates: dict[str, AnnouncedRate] = {}  # path -> the rate its answers announce
        #: The numbers of answers' headers, each insane one warned about once a run.
        self.headers = HeaderNumbers()

    def observe(self, path: str, response: requests.Response) -> float | None:
        """Record the budget an answer reports; return the seconds until its period resets."""
        headers = response.headers
        reset = self.headers.seconds_until_reset(headers)
        rate = self.headers.announced_rate(headers, path)
        if rate is not None:
            self._rates[path] = rate
        remaining = (
            0
            if response.status_code == HTTPStatus.TOO_MANY_REQUESTS
            else self.headers.number(headers, "X-RateLimit-Remaining")
        )
        if reset is not None and remaining is not None:
            name = headers.get("X-RateLimit-Name") or path
            with self._lock:
                self._name_of_path[path] = name
                self._budget[name] = (int(remaining), time.monotonic() + reset)
        return reset

    def rate(self, path: str) -> AnnouncedRate | None:
        """The rate limit the last answer from ``path`` announced, if any did."""
        return self._rates.get(path)

    def wait_before(self, path: str) -> float:
        """Count a request to ``path``; first wait for the reset if the budget is spent.

        Returns the seconds waited (0 when the budget allowed the request at once); a signal
        ends the wait with Interrupted.
        """
        with self._lock:
            name = self._name_of_path.get(path, path)
            remaining, reset_at = self._budget.get(name, (1, 0.0))
            delay = reset_at - time.monotonic() + RATE_LIMIT_MARGIN
            if delay <= 0:  # a new period: its budget is unknown until the next answer
                return 0.0
            self._budget[name] = (max(remaining - 1, 0), reset_at)
            if remaining > 0:
                return 0.0
        if delay > self.max_wait:
            what = f"GET {path}: the rate limit '{name}' is spent"
            raise too_long_a_wait(what, delay, "X-RateLimit-Reset", self.max_wait)
        LOGGER.info("Rate limit '%s' spent: waiting %.2f s for it to reset", name, delay)
        self.stop.wait(delay)
        return delay
