"""Reads in flight (in_flight.py): results in the reads' order, bounded ahead, failures in place;
and the tap with several requests in flight: the same rows and bookmarks, within the rate limit,
one ERROR line, a signal obeyed.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import threading
import typing as t

import pytest

from simulator import DatadogSimulator
from tap_datadog_costs.errors import Interrupted
from tap_datadog_costs.in_flight import AHEAD, going, in_order
from tap_datadog_costs.stopping import Abandoned, RunStop
from tests.support.clock import NOW, clock_env
from tests.support.endpoints import HOURLY, PRIMARY_KEYS
from tests.support.logs import error_lines
from tests.support.paths import ROOT
from tests.support.records import merge_on_keys
from tests.support.running import (
    SyncResult,
    cli_command,
    parse_messages,
    records_of,
    run_cli,
    selecting,
    sync,
)
from tests.support.seen import requests_to, statuses
from tests.support.settings import ONE_AT_A_TIME, recent_config, tap_config

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

END_OF_JULY = "2026-08-01T00:00:00Z"


class Reads:
    """Reads that each wait for a go-ahead before their results, and count what is under way.

    Each is going as it starts (``in_flight.going``: as if its first request passed a known
    budget), unless listed in ``waiting``.
    """

    def __init__(self, count: int, results: int = 1, waiting: tuple[int, ...] = ()) -> None:
        self.results = results
        self.waiting = waiting
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
            if index not in self.waiting:
                going()
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


def test_only_the_first_read_is_under_way_until_it_is_going() -> None:
    """Until the first read's first answer is accepted (or a request of it passes a budget an
    earlier answer announced), it is alone: keys Datadog refuses cost one answer."""
    reads = Reads(4, waiting=(0,))
    results = in_order(reads.all(), concurrency=3, stop=RunStop())
    head = next(results)
    assert wait_until(lambda: reads.started == [0])
    assert not wait_until(lambda: len(reads.started) > 1, seconds=0.3)
    reads.go[0].set()  # its result: it is going, and reads 1 and 2 start
    assert list(head) == [(0, 0)]
    assert wait_until(lambda: len(reads.started) == 3)
    assert sorted(reads.started) == [0, 1, 2]
    for event in reads.go:
        event.set()
    assert taken(results) == [(1, 0), (2, 0), (3, 0)]
    assert reads.peak <= 3


def test_a_failed_read_abandons_the_reads_after_it_at_once_and_starts_none() -> None:
    """Reads after a failed one can never be handed on: they end at their next look at the stop,
    while the reads before it go on, and no further read starts."""
    stop = RunStop()
    reads = Reads(6)
    ended_by: dict[int, str] = {}

    read_2_started = threading.Event()

    def failing() -> Iterator[tuple[int, int]]:
        assert read_2_started.wait(10)
        msg = "read 1 failed"
        raise ValueError(msg)
        yield  # a generator, as reads are

    def looking_at_the_stop(index: int) -> Callable[[], Iterator[tuple[int, int]]]:
        def results() -> Iterator[tuple[int, int]]:
            reads.started.append(index)
            read_2_started.set()
            try:
                while True:  # a read between its requests, each a look at the stop
                    stop.check()
                    threading.Event().wait(0.01)
            except Abandoned:
                ended_by[index] = "abandoned"
                raise
            yield index, 0

        return results

    all_reads = [reads.read(0), failing, *(looking_at_the_stop(i) for i in range(2, 6))]
    results = in_order(all_reads, concurrency=3, stop=stop)
    head = next(results)  # read 0 waits for its go-ahead; reads 1 and 2 are under way
    # Read 2 ends at its next look at the stop, while read 0 is still under way.
    assert wait_until(lambda: ended_by == {2: "abandoned"})
    assert reads.ended == []
    reads.go[0].set()
    assert list(head) == [(0, 0)]  # the read before the failed one is handed on whole
    with pytest.raises(ValueError, match="read 1 failed"):
        list(next(results))
    results.close()
    assert sorted(reads.started) == [0, 2]  # reads 3 to 5 never started


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


# ---- against the simulator: several requests in flight ------------------------------------
#: Streams read side by side: windows (hourly usage), months (billable usage), ranges of a
#: paged endpoint's months (cost attribution).
SIDE_BY_SIDE = ("hourly_usage", "billable_usage", "cost_attribution")


def as_read(records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Records without the run's read instant (each run has its own)."""
    return [{k: v for k, v in record.items() if k != "read_at"} for record in records]


def hourly_bookmarks(result: SyncResult) -> list[str | None]:
    """The hourly usage bookmark of each STATE message, in order."""
    return [
        state["bookmarks"].get("hourly_usage", {}).get("replication_key_value")
        for state in result.states
    ]


def test_rows_and_bookmarks_with_requests_in_flight_are_those_of_one_at_a_time() -> None:
    with DatadogSimulator(now=NOW) as sim:
        config = tap_config(sim.url, start_date="2026-07-01T00:00:00Z", end_date=END_OF_JULY)
        one = sync({**config, **ONE_AT_A_TIME}, streams=SIDE_BY_SIDE, now=NOW)
        assert sim.peak_in_progress == 1
        sim.set_latency(0.05)
        many = sync({**config, "max_concurrency": 4}, streams=SIDE_BY_SIDE, now=NOW)
        assert 2 <= sim.peak_in_progress <= 4

    for stream in SIDE_BY_SIDE:
        assert as_read(many.records(stream)) == as_read(one.records(stream)), stream
    assert len(many.records("hourly_usage")) > 10_000  # 31 windows, several pages each
    assert hourly_bookmarks(many) == hourly_bookmarks(one)
    assert many.final_state == one.final_state


def test_requests_in_flight_stay_within_the_announced_limit_and_meet_no_429() -> None:
    with DatadogSimulator(now=NOW, latency=0.05) as sim:
        sim.set_rate_limit(HOURLY, 3, 2)
        config = recent_config(sim, days=7, max_concurrency=8)
        result = sync(config, streams=("hourly_usage",))
        answered = statuses(sim, HOURLY)
        peak = sim.peak_in_progress
        unlimited = sync({**config, **ONE_AT_A_TIME}, streams=("hourly_usage",))

    assert answered == [200] * 7  # 3 requests every 2 s, paced: no 429
    assert peak <= 3  # never more in flight than the budget left
    assert result.records("hourly_usage") == unlimited.records("hourly_usage")


def test_a_failing_window_among_several_in_flight_fails_the_run_after_the_windows_before_it(
    tmp_path: Path,
) -> None:
    with DatadogSimulator(now=NOW, latency=0.05) as sim:
        config = recent_config(sim, days=8, max_retries=1, lookback_hours=0, max_concurrency=4)
        clean = sync({**config, **ONE_AT_A_TIME})
        fourth = (sim.now - dt.timedelta(days=5)).strftime("%Y-%m-%dT%H")
        sim.replay(HOURLY, {"data": None}, count=2, params={"filter[timestamp][start]": fourth})
        failed = run_cli(config=config, tmp_path=tmp_path)
        resumed_from = [m for m in parse_messages(failed.stdout) if m["type"] == "STATE"][-1]
        resumed = sync(config, resumed_from["value"])

    assert failed.returncode == 1
    (line,) = error_lines(failed.stderr)
    assert line.endswith(
        f"Datadog answered 200 to GET {HOURLY} without a 'data' list; "
        "gave up after 2 attempts (max_retries: 1)"
    )
    messages = parse_messages(failed.stdout)
    written = records_of(messages, "hourly_usage")
    window_4 = (NOW - dt.timedelta(days=5)).isoformat()
    assert written == [r for r in clean.records("hourly_usage") if r["timestamp"] < window_4]
    # The last STATE (after 1,000 rows, in window 3) holds window 2's bookmark, no further.
    bookmark = resumed_from["value"]["bookmarks"]["hourly_usage"]["replication_key_value"]
    assert bookmark == (NOW - dt.timedelta(days=6, hours=1)).isoformat()
    for stream in PRIMARY_KEYS:
        merged = merge_on_keys(stream, records_of(messages, stream), resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream


def test_a_signal_stops_requests_in_flight_at_once_and_leaves_a_state_a_run_resumes_from(
    tmp_path: Path,
) -> None:
    with DatadogSimulator(now=NOW, latency=1.0) as sim:
        config = recent_config(sim, days=8, lookback_hours=0, max_concurrency=4)
        (tmp_path / "config.json").write_text(json.dumps(config))
        out, err = tmp_path / "stdout", tmp_path / "stderr"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                cli_command("--config", str(tmp_path / "config.json")),
                stdout=stdout, stderr=stderr, cwd=ROOT, env=clock_env(sim.now),
            )  # fmt: skip
        try:
            # Signalled once hourly usage has four requests under way, some of them answered.
            assert wait_until(lambda: len(requests_to(sim.requests, HOURLY)) >= 2, seconds=120)
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=10)  # a subprocess timeout, not a measure
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        clean = sync({**config, **ONE_AT_A_TIME})
        messages = parse_messages(out.read_bytes())
        final = messages[-1]["value"]
        resumed = sync(config, final)

    assert status == 128 + signal.SIGTERM
    (line,) = error_lines(err.read_bytes())
    assert "Stopped by SIGTERM before the sync finished" in line
    assert messages[-1]["type"] == "STATE"
    written = [r["timestamp"] for r in records_of(messages, "hourly_usage")]
    bookmark = final["bookmarks"].get("hourly_usage", {}).get("replication_key_value")
    assert bookmark == (max(written) if written else None)
    for stream in PRIMARY_KEYS:
        merged = merge_on_keys(stream, records_of(messages, stream), resumed.records(stream))
        assert merged == merge_on_keys(stream, clean.records(stream)), stream


def test_every_window_in_flight_failing_at_once_is_still_one_error_line(tmp_path: Path) -> None:
    with DatadogSimulator(now=NOW, latency=0.05) as sim:
        sim.replay(HOURLY, {"data": None}, count=8)  # 4 windows, each asked twice
        config = recent_config(sim, days=4, max_retries=1, max_concurrency=4)
        failed = run_cli(config=config, tmp_path=tmp_path)
        asked = statuses(sim, HOURLY)
        peak = sim.peak_in_progress

    assert failed.returncode == 1
    (line,) = error_lines(failed.stderr)
    assert line.endswith(
        f"Datadog answered 200 to GET {HOURLY} without a 'data' list; "
        "gave up after 2 attempts (max_retries: 1)"
    )
    assert b"Traceback" not in failed.stderr
    assert 5 <= len(asked) <= 8  # window 1 twice, the others once at least: none after the end
    assert peak > 1
    assert records_of(parse_messages(failed.stdout), "hourly_usage") == []


def test_keys_datadog_refuses_cost_one_answer_with_requests_in_flight(
    api: DatadogSimulator, tmp_path: Path
) -> None:
    """Hourly usage alone, 20 windows, 8 in flight: the first window's 403 (which announces the
    rate limit, as every answer does) ends the run before any other window sends a request."""
    config = recent_config(api, days=20, keys=("0" * 32, "1" * 40), max_concurrency=8)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selecting(config, ("hourly_usage",))))
    result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path)

    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert f"Datadog answered 403 to GET {HOURLY}: " in line
    assert statuses(api, HOURLY) == [403]
