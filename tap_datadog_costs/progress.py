"""What a person watching a run reads: one stream's plan, its progress and its outcome.

Per stream, three kinds of INFO line, each starting with the stream's name:

- the plan, once: first extract or incremental (from which bookmark), and how many windows or
  months are to be read, from when to when;
- progress, at most one line per ``progress_seconds`` (checked at each request and each
  window, never per record): windows or months done of the total, rows so far, requests,
  waits on rate limits and an estimate of the time left;
- the summary, once the stream is done: rows, requests, retries, seconds waited, the first and
  last period read and the bookmark the next run starts from.

Counting is a few integer additions per request or window: nothing runs per record. Requests
in flight (in_flight.py) count from their worker threads: each count is made under a lock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from tap_datadog_costs.bookmarks import PastEnd
    from tap_datadog_costs.rate_limit import AnnouncedRate

LOGGER = logging.getLogger("tap-datadog-costs")
#: The summary's bookmark of a stream with none: by design (full table), or none yet (no rows).
NO_BOOKMARK_FULL_TABLE = "none (full table: read whole every run)"
NO_BOOKMARK_YET = "none yet (no rows)"


def duration(seconds: float) -> str:
    """Seconds as a person says them: 42 s, 3 min 5 s, 2 h 10 min."""
    whole = round(seconds)
    if whole < 60:  # noqa: PLR2004
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"  # noqa: PLR2004
    minutes, secs = divmod(whole, 60)
    if minutes < 60:  # noqa: PLR2004
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``1,204 rows``, ``0 retries`` (``nouns``: irregular)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def span(first: str | None, last: str | None) -> str:
    """``2026-09 to 2026-11``, or one period alone."""
    return str(first) if first == last else f"{first} to {last}"


class Progress:
    """One stream's counters for one run, and the lines that report them."""

    def __init__(
        self,
        stream: str,
        *,
        interval: float,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.started = self.last_line = clock()
        self.unit = "request"
        self.total = 0
        self.done = 0
        self.rows = 0
        self.requests = 0
        #: The requests of the windows or months done (not of those still in flight).
        self.requests_done = 0
        #: Answers another stream of the run asked for already (``answers_shared``): no request.
        self.reused = 0
        self.retries = 0
        self.limit_waits = 0
        self.waited = 0.0
        self.first: str | None = None
        self.last: str | None = None
        #: The requests the plan needs at least (one per window), and Datadog's announced rate.
        self.least_requests: int | None = None
        self.rate: AnnouncedRate | None = None
        #: Held while a count changes: requests in flight count from several threads.
        self.lock = threading.RLock()

    def plan(  # noqa: PLR0913
        self,
        how: str,
        total: int,
        unit: str,
        first: str,
        last: str,
        *,
        each: str = "",
        least_requests: int | None = None,
        after_end: PastEnd | None = None,
    ) -> None:
        """Say what the stream reads in this run: ``total`` ``unit``s (``each``), first to last.

        ``least_requests``: the requests that takes at least (one per window, more where a
        window spans pages), for the time the run takes at Datadog's rate (``rate_known``).
        ``after_end``: with nothing to read, why the bookmark does (``Bookmarks.after_end``);
        else nothing to read is a period that has not ended.
        """
        self.total, self.unit, self.first, self.last = total, unit, first, last
        self.least_requests = least_requests
        if total:
            what = f"{plural(total, unit)}{each and ' ' + each}"
            if least_requests is not None:
                what += f", at least {plural(least_requests, 'request')}"
            what += f", {span(first, last)}"
        elif after_end is not None:
            log = LOGGER.warning if after_end.warning else LOGGER.info
            log("%s: %s: nothing to read: %s", self.stream, how, after_end.reason)
            return
        else:
            what = f"nothing to read yet: {first} has not ended"
        LOGGER.info("%s: %s: %s", self.stream, how, what)

    def rate_known(self, rate: AnnouncedRate) -> None:
        """Datadog announced its rate limit: once, the time the plan takes at that rate."""
        with self.lock:
            if self.rate is not None or self.least_requests is None or not self.total:
                return
            self.rate = rate
        requests = self.requests_needed()
        seconds = rate.seconds_for(requests)
        LOGGER.info(
            "%s: Datadog's rate limit is %s: the %s %s",
            self.stream,
            rate,
            plural(requests, "request"),
            f"take at least {duration(seconds)} at that rate"
            if seconds
            else "fit in one period of it: no rate-limit wait expected",
        )

    def requests_needed(self) -> int:
        """The plan's requests: at least one per unit until one is read, then as read so far.

        As read so far: the requests of the units done, per unit, times the units; requests
        already sent for units still in flight are not a unit's.
        """
        least = max(self.least_requests or 0, self.requests)
        if not self.done:
            return least
        return max(least, math.ceil(self.requests_done / self.done * self.total))

    def left(self) -> int:
        """Windows or months not read yet."""
        return max(self.total - self.done, 0)

    def advance(self, rows: int, units: int = 1, requests: int | None = None) -> None:
        """``units`` windows or months are read, with ``rows`` rows, in ``requests`` requests.

        ``requests`` None: the requests so far, less those of the units done before (right
        when nothing else is in flight).
        """
        with self.lock:
            self.done += units
            self.rows += rows
            self.requests_done = (
                self.requests if requests is None else self.requests_done + requests
            )
            self.tick()

    def request(self) -> None:
        """One attempt is about to be sent."""
        with self.lock:
            self.requests += 1
            self.tick()

    def reuse(self) -> None:
        """An answer another stream asked for already serves this one: no request is sent."""
        with self.lock:
            self.reused += 1

    def retry(self, seconds: float, *, rate_limited: bool) -> None:
        """An attempt failed and the next comes after ``seconds`` (a 429's reset, or not)."""
        with self.lock:
            self.retries += 1
            self.limit_waits += rate_limited
            self.waited += seconds

    def rate_limit_wait(self, seconds: float) -> None:
        """A spent rate-limit budget, or a 429 announcing its reset, made us wait ``seconds``."""
        with self.lock:
            self.limit_waits += 1
            self.waited += seconds

    def tick(self) -> None:
        """A progress line, when ``interval`` seconds have passed since the last line."""
        now = self.clock()
        if now - self.last_line < self.interval:
            return
        self.last_line = now
        LOGGER.info("%s: %s", self.stream, self.status(now))

    def status(self, now: float) -> str:
        """Done of the total, rows, requests (of the plan's), waits and the time left.

        With Datadog's rate known, the time left is at least what the requests left take at
        that rate, and, when the rate makes the plan take time, the line compares the time so
        far with the plan's.
        """
        elapsed = now - self.started
        if self.total:
            share = f"{self.done:,}/{plural(self.total, self.unit)} ({self.done / self.total:.0%})"
        else:
            share = f"{plural(self.done, self.unit)} read"
        requests = plural(self.requests, "request")
        if self.least_requests is not None and self.total:
            requests = f"{self.requests:,} of about {plural(self.requests_needed(), 'request')}"
        at_rate = ""
        least = self.rate.seconds_for(self.requests_needed()) if self.rate and self.total else 0
        if least:  # the rate bounds the run (0: every request fits in one period of it)
            at_rate = (
                f"{duration(elapsed)} so far, at least {duration(least)} in all at Datadog's rate, "
            )
        if self.done and self.total:
            seconds = elapsed / self.done * self.left()
            if self.rate is not None:
                remaining = self.requests_needed() - self.requests
                seconds = max(seconds, self.rate.seconds_for(remaining))
            left = f"about {duration(seconds)} left"
        else:
            left = "time left not known yet"
        return (
            f"{share}, {plural(self.rows, 'row')}, {requests}, "
            f"{plural(self.limit_waits, 'rate-limit wait')} ({duration(self.waited)} waited), "
            f"{at_rate}{left}"
        )

    def summary(self, bookmark: str | None, *, full_table: bool) -> None:
        """The outcome: rows, requests, retries, waits, the periods read and the bookmark.

        Answers reused from an earlier stream are said beside the requests: rows read with
        no request would look like a miscount. With no bookmark: a ``full_table`` stream has
        none by design; an incremental one has none yet (no rows so far, as projected cost
        before Datadog has a projection).
        """
        read = f"read {span(self.first, self.last)}" if self.done else "read nothing"
        requests = plural(self.requests, "request")
        if self.reused:
            requests += f" ({plural(self.reused, 'answer')} an earlier stream asked for, reused)"
        LOGGER.info(
            "%s: done in %s: %s, %s, %s, %s waited, %s, bookmark %s",
            self.stream,
            duration(self.clock() - self.started),
            plural(self.rows, "row"),
            requests,
            plural(self.retries, "retry", "retries"),
            duration(self.waited),
            read,
            bookmark or (NO_BOOKMARK_FULL_TABLE if full_table else NO_BOOKMARK_YET),
        )
