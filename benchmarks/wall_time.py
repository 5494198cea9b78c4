"""Wall time of a whole backfill against a Datadog that answers late, at its rate limit.

The whole tap (every stream, no catalog: ``python -m tap_datadog_costs --config ...``) runs as
a child process against the simulator in a process of its own, started with ``--latency`` and
``--rate-limit`` (every endpoint has a budget of its own, as each of Datadog's rate-limit names
has), over the ``--days`` that end a day ago in whole hours, for each org count of ``--orgs``
and each ``max_concurrency`` of ``--concurrency``; a fresh simulator for each run.

Per run: orgs; max_concurrency; requests (the sum of the tap's per-stream summary lines); the
busiest endpoint's requests (the simulator's report: it saw them all); the 429s the simulator
answered; the tap's retries (all of them: in this benchmark only a 429 fails); wall seconds; the
floor; wall / floor; one at a time (requests x latency); the tap's peak RSS; and the most
requests the simulator had in progress at once.

The floor, exactly: max(busiest / rate, requests x latency / max_concurrency), with rate =
limit / period requests a second. The rate term is the sustained rate of the busiest endpoint
(hourly usage); the other endpoints' requests fit in their own budgets alongside. Datadog's
periods are calendar-aligned and a fresh budget is there at once, so a run whose busiest
endpoint needs only a few periods' budgets can beat this term by up to about a period
(wall / floor below 1): there, the rate limit did not bind.

    .venv/bin/python -m benchmarks.wall_time [--orgs 3,60] [--concurrency 1,8] [--days 90]
        [--latency 0.3] [--rate-limit 300/60]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.tap_vs_bare_loop import backfill, config_file, simulator, timed  # noqa: E402
from simulator import __main__ as simulator_flags  # noqa: E402

#: What the simulator's report says (simulator.DatadogSimulator.report).
REPORT = re.compile(r"peak in progress: (\d+)(?:; busiest: \S+ x (\d+))?$")
TOO_MANY = re.compile(r"\b429 x (\d+)")


@dataclasses.dataclass
class Measured:
    """One run of the tap: its counts, time and memory, and what the simulator saw."""

    orgs: int
    concurrency: int
    requests: int
    busiest: int
    too_many: int
    retries: int
    wall: float
    rss_mb: float
    peak: int

    def floor(self, latency: float, rate: float) -> float:
        """The least wall time: the busiest endpoint's rate, or the latency over the overlap."""
        return max(self.busiest / rate, self.requests * latency / self.concurrency)


def measure(
    orgs: int, concurrency: int, days: int, latency: float, limit: tuple[int, int]
) -> Measured:
    """The whole tap over ``days`` against a simulator of ``orgs`` orgs, late and limited."""
    flags = ("--latency", str(latency), "--rate-limit", "{}/{}".format(*limit))
    with simulator(orgs - 1, *flags) as served:
        config = config_file(
            served.url, *backfill(dt.timedelta(days=days)), max_concurrency=concurrency
        )
        run = timed([sys.executable, "-m", "tap_datadog_costs", "--config", config])
    report = REPORT.search(served.report)
    if report is None:
        msg = f"the simulator's report is not what this benchmark reads: {served.report!r}"
        raise RuntimeError(msg)
    too_many = TOO_MANY.search(served.report)
    return Measured(
        orgs=orgs,
        concurrency=concurrency,
        requests=run.requests,
        busiest=int(report[2] or 0),
        too_many=int(too_many[1]) if too_many else 0,
        retries=run.retries,
        wall=run.wall,
        rss_mb=run.rss_mb,
        peak=int(report[1]),
    )


#: The columns of a run's line, each as wide as its name and two spaces.
COLUMNS = (
    "orgs", "conc", "requests", "busiest", "429s", "retries", "wall s", "floor s", "wall/floor",
    "one at a time s", "rss MB", "peak",
)  # fmt: skip


def line(cells: tuple[str, ...]) -> str:
    """A line of the table: each cell right-aligned under its column."""
    return "".join(f"{cell:>{len(name) + 2}}" for cell, name in zip(cells, COLUMNS, strict=True))


def whole_numbers(text: str) -> list[int]:
    """``--orgs`` and ``--concurrency``: whole numbers of 1 or more, separated by commas."""
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        msg = f"{text!r} is not whole numbers of 1 or more separated by commas (e.g. 1,8)"
        raise argparse.ArgumentTypeError(msg)
    return numbers


def main() -> None:
    """One line per org count and max_concurrency, as each run ends."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orgs", type=whole_numbers, default=[3, 60], help="default 3,60")
    parser.add_argument(
        "--concurrency", type=whole_numbers, default=[1, 8], help="max_concurrency: default 1,8"
    )
    parser.add_argument("--days", type=int, default=90, help="of backfill (default 90)")
    parser.add_argument(
        "--latency", type=simulator_flags.latency, default=0.3, help="seconds (default 0.3)"
    )
    parser.add_argument(
        "--rate-limit",
        type=simulator_flags.rate_limit,
        default=(300, 60),
        help="REQUESTS/SECONDS of each endpoint (default 300/60)",
    )
    arguments = parser.parse_args()
    latency, (limit, period) = arguments.latency, arguments.rate_limit
    print(
        f"{arguments.days} days, every stream, {latency:g} s a request, "
        f"{limit}/{period} s an endpoint:"
    )
    print(line(COLUMNS))
    for orgs in arguments.orgs:
        for concurrency in arguments.concurrency:
            m = measure(orgs, concurrency, arguments.days, latency, (limit, period))
            floor = m.floor(latency, limit / period)
            cells = (
                f"{m.orgs}", f"{m.concurrency}", f"{m.requests:,}", f"{m.busiest:,}",
                f"{m.too_many:,}", f"{m.retries:,}", f"{m.wall:.1f}", f"{floor:.1f}",
                f"{m.wall / floor:.2f}x", f"{m.requests * latency:.1f}", f"{m.rss_mb:.1f}",
                f"{m.peak}",
            )  # fmt: skip
            print(line(cells), flush=True)


if __name__ == "__main__":
    main()
