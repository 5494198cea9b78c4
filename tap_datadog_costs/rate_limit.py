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
from tap_datadog_costs.in_flight import going
from tap_datadog_costs.redaction import clip
from tap_datadog_costs.stopping import STOP_SLICE, RunStop

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


@dataclasses.dataclass
class Budget:
    """One rate limit's budget as far as this run knows it, and the requests charged to it."""

    #: Requests left until ``reset_at``; None: not known (``announced`` says why).
    remaining: int | None = None
    #: When (time.monotonic) the period ends; 0: no answer said yet.
    reset_at: float = 0.0
    #: Whether an answer of this period was read: if not, one request at a time finds out.
    announced: bool = False
    #: Whether that one request is out (until an answer is read or it ends without one).
    probing: bool = False
    #: X-RateLimit-Limit and -Period, once announced: a new period's budget, known in advance.
    limit: int | None = None
    period: float | None = None
    #: Requests sent and not answered yet (another may count them in this period or the next).
    in_flight: int = 0
    #: The period end a wait was said for (one line and one counted wait a period).
    said_for: float = 0.0

    def roll_over(self, now: float) -> None:
        """The period ended: the next one's budget, less what is still in flight, or unknown."""
        if self.limit is not None and self.period:
            periods = math.floor((now - self.reset_at) / self.period) + 1
            self.reset_at += periods * self.period
            self.remaining = max(self.limit - self.in_flight, 0)
        else:
            self.remaining, self.reset_at, self.announced = None, 0.0, False

    def told(self, remaining: int | None, reset_at: float | None) -> None:
        """An answer said ``remaining`` requests left until ``reset_at`` (either may be None).

        Requests still in flight may not be counted in ``remaining`` yet: they are taken off.
        Within one period the budget only shrinks (answers come in any order) and its end is the
        earliest said; an answer of a later period starts it afresh; one of an earlier period
        is out of date.
        """
        self.announced, self.probing = True, False
        if remaining is None or reset_at is None:
            return
        left = max(remaining - max(self.in_flight - 1, 0), 0)
        tolerance = (self.period or 1.0) / 2
        if self.reset_at == 0.0 or reset_at > self.reset_at + tolerance:
            self.remaining, self.reset_at = left, reset_at
        elif reset_at >= self.reset_at - tolerance:
            self.remaining = left if self.remaining is None else min(self.remaining, left)
            # Each answer's reset, a whole number of seconds from when it was read, is at or
            # after the true one: the earliest is the nearest.
            self.reset_at = min(self.reset_at, reset_at)


class RateLimitPacer:
    """Paces requests from Datadog's X-RateLimit-* headers, shared by all streams and threads.

    Datadog counts requests per rate-limit name (roughly per endpoint). We remember, per
    endpoint path, the name its answers carry, and per name the budget left; a request is
    counted when sent, so an answer that never came cannot overdraw it. When the budget is
    spent we wait for the period's reset instead of sending a request we know will get 429.

    With requests in flight (in_flight.py), every request asks here first, so the pacer alone
    decides how many go out: until an answer announced the budget, one at a time; then while
    the budget lasts; at the period's reset (plus a margin), the announced limit less the
    requests still in flight. An endpoint whose answers announce no budget is not paced.
    """

    def __init__(self, *, max_wait: float, stop: RunStop | None = None) -> None:
        #: The longest wait for a spent budget (max_wait_seconds); a longer one fails the stream.
        self.max_wait = max_wait
        #: The run's stop: a signal ends a wait for the reset at once.
        self.stop = stop or RunStop()
        self._changed = threading.Condition(threading.Lock())
        self._name_of_path: dict[str, str] = {}
        self._budgets: dict[str, Budget] = {}  # name (or path, until one is known) -> budget
        self._rates: dict[str, AnnouncedRate] = {}  # path -> the rate its answers announce
        #: The numbers of answers' headers, each insane one warned about once a run.
        self.headers = HeaderNumbers()

    def budget(self, path: str) -> Budget:
        """The budget requests to ``path`` are counted in (the caller holds the lock)."""
        name = self._name_of_path.get(path, path)
        return self._budgets.setdefault(name, Budget())

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
        with self._changed:
            if reset is not None and remaining is not None:
                self._name_of_path[path] = headers.get("X-RateLimit-Name") or path
            budget = self.budget(path)
            if rate is not None:
                budget.limit, budget.period = rate.limit, rate.period
            budget.told(
                None if remaining is None else int(remaining),
                None if reset is None else time.monotonic() + reset,
            )
            self._changed.notify_all()
        return reset

    def rate(self, path: str) -> AnnouncedRate | None:
        """The rate limit the last answer from ``path`` announced, if any did."""
        return self._rates.get(path)

    def wait_before(self, path: str) -> tuple[Budget, float]:
        """Count a request to ``path``, first waiting until its budget allows it.

        Returns the budget it is counted in (give it to ``answered`` once the request is over)
        and the seconds of a spent budget's wait to report: the first request to wait for a
        period's reset reports it, the others wait as long and report nothing. A signal ends
        the wait with Interrupted.
        """
        began = time.monotonic()
        said = False
        with self._changed:
            while True:
                self.stop.check()  # a read abandoned while it waited sends nothing
                budget = self.budget(path)
                now = time.monotonic()
                if budget.reset_at and now >= budget.reset_at + RATE_LIMIT_MARGIN:
                    budget.roll_over(now)
                if not budget.announced:  # one request finds out the budget
                    go, pause = not budget.probing, STOP_SLICE
                    budget.probing = True
                elif budget.remaining is None:  # the answers announce none: nothing to pace
                    go, pause = True, 0.0
                else:
                    go = budget.remaining > 0
                    pause = budget.reset_at + RATE_LIMIT_MARGIN - now
                    if not go and budget.said_for != budget.reset_at:
                        budget.said_for, said = budget.reset_at, True
                        self.spent(budget, path, pause)
                if go:
                    if budget.remaining:
                        budget.remaining -= 1
                    budget.in_flight += 1
                    known = budget.announced
                    break
                self._changed.wait(min(STOP_SLICE, pause))
        if known:  # a known budget: a first read's fellows need not wait for its answer
            going()
        return budget, (time.monotonic() - began) if said else 0.0

    def spent(self, budget: Budget, path: str, delay: float) -> None:
        """The budget is spent: one line for the wait, or the stream fails if it is too long."""
        name = next((n for n, b in self._budgets.items() if b is budget), path)
        if delay > self.max_wait:
            budget.said_for = 0.0  # the next request fails the same way
            what = f"GET {path}: the rate limit '{name}' is spent"
            raise too_long_a_wait(what, delay, "X-RateLimit-Reset", self.max_wait)
        LOGGER.info("Rate limit '%s' spent: waiting %.2f s for it to reset", name, delay)

    def answered(self, budget: Budget) -> None:
        """A request counted in ``budget`` is over (answered or not): no longer in flight."""
        with self._changed:
            budget.in_flight -= 1
            budget.probing = False  # if it was the probe and no answer told: another tries
            self._changed.notify_all()
