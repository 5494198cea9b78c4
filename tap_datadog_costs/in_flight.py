"""Reads in flight: up to ``max_concurrency`` reads at once, their results handed on in order.

A stream splits its work into reads that do not depend on each other (hourly usage windows,
one request a month, ranges of months) and hands them to ``in_order``. Each read runs in a
worker thread and sends its requests the usual way (pacer, retries, deadline), page after
page; the stream gets each read's results in the order the reads were listed, as they come,
and so writes its rows and moves its bookmark exactly as it would one read at a time.

Bounds:

- a stream's first read goes alone until it is ``going`` (an answer of it accepted, or a request
  of it past a budget an earlier answer announced): keys Datadog refuses cost one answer, not
  one a read;
- at most ``concurrency`` reads are under way at once (started and not yet handed on whole):
  so at most that many requests are in flight, and the pacer (rate_limit.py) decides when
  each is sent;
- a read ahead of the one being handed on keeps at most ``AHEAD`` results (pages) waiting,
  then waits itself: memory stays flat whatever the number of orgs or windows.

A read that fails hands on its exception in its place: the reads before it are handed on
whole first (their rows written, their bookmarks moved), and the run ends there, as it would
one read at a time. The reads after it can never be handed on: they are abandoned as soon as
it fails, and no further read starts, so no request is sent for them while the reads before it
finish. When the consumer stops early (that failure, a signal, a failure of its own), every
read still under way is abandoned: its thread ends at its next look at the run's stop (at
most ``STOP_SLICE`` later), without sending another request or saying a word, and the consumer
waits for that (``ABANDONED_WITHIN`` at most) before it goes on.
With ``concurrency`` 1 no thread is started: each read runs in the caller's thread, when its
turn comes, exactly as before there were reads in flight.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
import typing as t

from tap_datadog_costs.stopping import STOP_SLICE, Abandoned, RunStop, abandon_with

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator

_Result = t.TypeVar("_Result")

#: Results a read ahead of the head may keep waiting (each a page of at most 500 items).
AHEAD = 4
#: Seconds the consumer gives abandoned reads to end (each looks at the stop every STOP_SLICE).
ABANDONED_WITHIN = 5 * STOP_SLICE
#: The end of a read's results.
_END = object()
#: In the first read's thread, until it is going: what lets the other reads start.
_FIRST = threading.local()


def going() -> None:
    """The read of this thread is going: an answer was accepted, or a request passed a known budget.

    If it is the first read of an ``in_order``, the reads after it start now. Until then only
    the first read is under way, so keys Datadog refuses cost one answer, not one a read. (A
    no-op in any other thread, and one request at a time.)
    """
    start_the_others = getattr(_FIRST, "going", None)
    if start_the_others is not None:
        _FIRST.going = None
        start_the_others()


class _Failed(t.NamedTuple):
    """A read's exception, handed on in place of its remaining results."""

    error: BaseException


class _Read(t.Generic[_Result]):
    """One read under way in its worker thread, and the results it has not handed on yet."""

    def __init__(
        self,
        read: Callable[[], Iterable[_Result]],
        stop: RunStop,
        number: int,
        failed: Callable[[int], None],
        first: Callable[[], None] | None,
    ) -> None:
        self.read = read
        self.stop = stop
        #: Its place in the list of reads, and what to tell if it fails (with that place).
        self.number = number
        self.failed = failed
        #: For the first read: what lets the others start (``going``).
        self.first = first
        self.results: queue.Queue[t.Any] = queue.Queue(AHEAD)
        self.abandoned = threading.Event()
        self.thread = threading.Thread(target=self.run, name="datadog-read", daemon=True)

    def run(self) -> None:
        """In the worker: every result, then the end or the read's exception."""
        abandon_with(self.abandoned)
        _FIRST.going = self.first
        try:
            for result in self.read():
                going()
                self.hand_on(result)
            going()
            outcome: object = _END
        except Abandoned:
            return  # nobody waits for this read
        except BaseException as error:  # noqa: BLE001 - handed on to the consumer's thread
            outcome = _Failed(error)
            self.failed(self.number)
        # After a signal the consumer stops at its own next look at the stop: nobody waits.
        while not self.abandoned.is_set() and self.stop.signum is None:
            try:
                self.results.put(outcome, timeout=STOP_SLICE)
            except queue.Full:
                continue
            return

    def hand_on(self, result: object) -> None:
        """Queue ``result``, waiting while AHEAD are queued, looking at the stop meanwhile."""
        while True:
            self.stop.check()
            try:
                self.results.put(result, timeout=STOP_SLICE)
            except queue.Full:
                continue
            return

    def taken(self) -> Iterator[_Result]:
        """In the consumer: this read's results as they come, until its end or exception."""
        while True:
            self.stop.check()
            try:
                result = self.results.get(timeout=STOP_SLICE)
            except queue.Empty:
                continue
            if result is _END:
                return
            if isinstance(result, _Failed):
                raise result.error
            yield result

    def abandon(self) -> None:
        """Nobody will take this read's results: its thread ends at its next look at the stop."""
        self.abandoned.set()


class _UnderWay(t.Generic[_Result]):
    """The reads started and not handed on whole, in the reads' order.

    Their workers tell it of a failure: the reads after the failed one end, none starts.
    """

    def __init__(
        self, reads: Iterable[Callable[[], Iterable[_Result]]], stop: RunStop, concurrency: int
    ) -> None:
        self.pending = enumerate(reads)
        self.stop = stop
        self.concurrency = concurrency
        self.reads: collections.deque[_Read[_Result]] = collections.deque()
        #: Held to start a read or drop the head, and by a failed read's worker.
        self.lock = threading.Lock()
        self.failed = False

    def start_next(self) -> bool:
        """Start the next read, unless ``concurrency`` are under way, one failed or none is left."""
        with self.lock:
            full = len(self.reads) >= self.concurrency
            listed = None if full or self.failed else next(self.pending, None)
            if listed is None:
                return False
            number, read = listed
            first = self.start_the_others if number == 0 else None
            started = _Read(read, self.stop, number, self.abandon_after, first)
            self.reads.append(started)
            started.thread.start()
            return True

    def start_the_others(self) -> None:
        """The first read is going (in its worker): the reads after it start."""
        while self.start_next():
            pass

    def handed_on(self) -> None:
        """The head was handed on whole: the next read starts in its place."""
        with self.lock:
            self.reads.popleft()
        self.start_next()

    def abandon_after(self, number: int) -> None:
        """Read ``number`` failed (in its worker): the reads after it can never be handed on."""
        with self.lock:
            self.failed = True
            for later in self.reads:
                if later.number > number:
                    later.abandon()

    def abandon_all(self) -> None:
        """Every read still under way ends at its next look at the stop; wait for that."""
        with self.lock:
            under_way = list(self.reads)
        for started in under_way:
            started.abandon()
        # Once each has ended, none sends another request.
        deadline = time.monotonic() + ABANDONED_WITHIN
        for started in under_way:
            started.thread.join(max(deadline - time.monotonic(), 0))


def in_order(
    reads: Iterable[Callable[[], Iterable[_Result]]], *, concurrency: int, stop: RunStop
) -> Generator[Iterator[_Result], None, None]:
    """Each read's results, read by up to ``concurrency`` reads at once, in the reads' order.

    Each item is an iterator over one read's results: take it whole before the next (one not
    taken whole is taken to the end by the next step, and its results dropped).
    """
    if concurrency <= 1:
        for read in reads:
            yield iter(read())
        return
    under_way = _UnderWay(reads, stop, concurrency)
    try:
        under_way.start_next()  # the others once it is going
        while under_way.reads:
            results = under_way.reads[0].taken()
            yield results
            collections.deque(results, maxlen=0)  # the rest of a read not taken whole
            under_way.handed_on()
    finally:
        under_way.abandon_all()
