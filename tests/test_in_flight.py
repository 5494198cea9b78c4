"""Reads in flight (in_flight.py): results in the reads' order, bounded ahead, failures in place."""

from __future__ import annotations

import threading
import typing as t

import pytest

from tap_datadog_costs.errors import Interrupted
from tap_datadog_costs.in_flight import AHEAD, in_order
from tap_datadog_costs.stopping import RunStop

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class Reads:
    """Reads that each wait for a go-ahead before their results, and count what is under way."""

    def __init__(self, count: int, results: int = 1) -> None:
        self.results = results
        self.go = [threading.Event() for _ in range(count)]
        self.lock = threading.Lock()
        self.under_way = self.peak = 0
        self.started: list[int] = []
        self.handed: list[tuple[int, int]] = []
        self.ended: list[int] = []

    def read(self, index: int) -> Callable[[], Iterator[tuple[int, int]]]:
        def results() -> Iterator[tuple[int, int]]:
            with self.lock:
                self.started.append(index)
                self.under_way += 1
                self.peak = max(self.peak, self.under_way)
            try:
                assert self.go[index].wait(10)
                for result in range(self.results):
                    with self.lock:
                        self.handed.append((index, result))
                    yield index, result
            finally:
                with self.lock:
                    self.under_way -= 1
                    self.ended.append(index)

        return results

    def all(self) -> list[Callable[[], Iterator[tuple[int, int]]]]:
        return [self.read(index) for index in range(len(self.go))]


def taken(results: t.Iterable[t.Iterable[tuple[int, int]]]) -> list[tuple[int, int]]:
    return [result for read in results for result in read]


def test_results_come_in_the_reads_order_whatever_order_they_finish_in() -> None:
    reads = Reads(6, results=3)
    for event in reversed(reads.go):  # the last read may finish first
        event.set()
    assert taken(in_order(reads.all(), concurrency=3, stop=RunStop())) == [
        (index, result) for index in range(6) for result in range(3)
    ]
    assert reads.peak <= 3


def test_reads_run_side_by_side_up_to_the_concurrency_and_no_further() -> None:
    reads = Reads(8)
    results = in_order(reads.all(), concurrency=4, stop=RunStop())
    first = next(results)  # reads 0 to 3 start; read 0 waits for its go-ahead
    wait_until(lambda: len(reads.started) == 4)
    assert sorted(reads.started) == [0, 1, 2, 3]
    for event in reads.go:
        event.set()
    assert [*first, *taken(results)] == [(index, 0) for index in range(8)]
    assert reads.peak == 4


def test_one_at_a_time_runs_each_read_in_the_callers_thread_when_its_turn_comes() -> None:
    reads = Reads(3)
    threads: list[str] = []
    for event in reads.go:
        event.set()

    def noting(read: Callable[[], Iterator[tuple[int, int]]]) -> Callable[[], Iterator[t.Any]]:
        def results() -> Iterator[t.Any]:
            threads.append(threading.current_thread().name)
            yield from read()

        return results

    results = in_order(map(noting, reads.all()), concurrency=1, stop=RunStop())
    assert list(next(results)) == [(0, 0)]
    assert reads.started == [0]  # the next read starts only when its turn comes
    assert taken(results) == [(1, 0), (2, 0)]
    assert set(threads) == {threading.current_thread().name}


def test_a_read_ahead_keeps_at_most_ahead_results_waiting() -> None:
    reads = Reads(2, results=AHEAD * 5)
    reads.go[1].set()  # read 1 may hand on all it has; read 0 (taken first) waits
    results = in_order(reads.all(), concurrency=2, stop=RunStop())
    head = next(results)
    wait_until(lambda: len(reads.handed) >= AHEAD)
    assert not wait_until(lambda: len(reads.handed) > AHEAD + 1, seconds=0.5)
    reads.go[0].set()
    assert len([*head, *taken(results)]) == AHEAD * 5 * 2


def test_a_failed_read_fails_after_the_reads_before_it_and_the_rest_are_abandoned() -> None:
    reads = Reads(6, results=2)
    calls: list[int] = []

    def failing() -> Iterator[tuple[int, int]]:
        calls.append(2)
        msg = "read 2 failed"
        raise ValueError(msg)
        yield  # a generator, as reads are

    all_reads = reads.all()
    all_reads[2] = failing
    for event in reads.go[:2]:
        event.set()
    results = in_order(all_reads, concurrency=4, stop=RunStop())
    assert [*next(results), *next(results)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    with pytest.raises(ValueError, match="read 2 failed"):
        list(next(results))
    results.close()
    # Reads 3 to 5 were under way or not started: the abandoned ones end, handing on nothing.
    for event in reads.go:
        event.set()
    assert wait_until(lambda: reads.under_way == 0)
    # Each abandoned read found out at its first result: it handed on no second one.
    assert [(index, result) for index, result in reads.handed if index > 2 and result] == []


def test_a_signal_ends_the_wait_for_a_read_with_interrupted() -> None:
    stop = RunStop()
    reads = Reads(3)  # no read ever gets its go-ahead
    results = in_order(reads.all(), concurrency=3, stop=stop)
    head = next(results)
    threading.Timer(0.2, stop.request, args=(15,)).start()
    with pytest.raises(Interrupted):
        list(head)
    results.close()


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    """Whether ``condition`` became true within ``seconds`` (looked at every 10 ms)."""
    done = threading.Event()
    for _ in range(int(seconds * 100)):
        if condition():
            return True
        done.wait(0.01)
    return condition()
