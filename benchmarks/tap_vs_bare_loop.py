"""The tap against a bare requests + json loop making the same requests; its memory by org count.

Both run as child processes against the same simulator (a third process) and write one JSON
line per row to /dev/null. The bare loop makes the hourly usage and organization requests; the
tap runs with a catalog selecting the same two streams (BARE_LOOP_STREAMS). Each child's CPU
(user + system) and peak RSS come from its own rusage (wait4). The tap's modules are compiled
first, as an installed tap's are (``as_installed``).
Usage: .venv/bin/python benchmarks/tap_vs_bare_loop.py [--days 182] [--rounds 5]
       [--memory-days 2] [--orgs 3,60,500] [--instructions]
With --instructions, each variant runs once under valgrind (callgrind) instead: the instructions
it ran, which the machine's load does not move.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"DD-API-KEY": "sim-api-key", "DD-APPLICATION-KEY": "sim-app-key"}


def bare_loop(url: str, start: dt.datetime, end: dt.datetime, out: object) -> tuple[int, int]:
    """The same requests as the tap, flattened and written with json.dumps; no SDK."""
    session = requests.Session()
    session.headers.update(HEADERS)
    rows = 0
    sent = [0]

    def get(path: str, params: dict[str, str]) -> dict:
        sent[0] += 1
        response = session.get(url + path, params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    for org in get("/api/v1/org", {})["orgs"]:
        out.write(json.dumps(org) + "\n")
        rows += 1
    window = start
    while window < end:
        window_end = min(window + dt.timedelta(hours=24), end)
        params = {
            "filter[timestamp][start]": f"{window:%Y-%m-%dT%H}",
            "filter[timestamp][end]": f"{window_end:%Y-%m-%dT%H}",
            "filter[product_families]": "all",
            "filter[include_descendants]": "true",
            "page[limit]": "500",
        }
        while True:
            body = get("/api/v2/usage/hourly_usage", params)
            for item in body["data"]:
                a = item["attributes"]
                for m in a["measurements"]:
                    row = {
                        k: a.get(k)
                        for k in (
                            "timestamp",
                            "public_id",
                            "org_name",
                            "account_name",
                            "account_public_id",
                            "region",
                            "product_family",
                        )
                    }
                    row.update(usage_type=m["usage_type"], value=m["value"])
                    out.write(json.dumps(row) + "\n")
                    rows += 1
            cursor = ((body.get("meta") or {}).get("pagination") or {}).get("next_record_id")
            if not cursor:
                break
            params["page[next_record_id]"] = cursor
        window = window_end
    return rows, sent[0]


SDK_DEFAULTS = """
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerWriter
from tap_datadog_costs.client import DatadogStream
from tap_datadog_costs.tap import TapDatadogCosts
TapDatadogCosts.message_writer_class = SingerWriter
DatadogStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
TapDatadogCosts.cli()
"""


#: The streams whose requests the bare loop makes: the tap runs these only (its cost, billable
#: and attribution streams make requests the bare loop does not).
BARE_LOOP_STREAMS = ("hourly_usage", "organizations")


def selecting(config_file: str, streams: tuple[str, ...]) -> str:
    """A catalog file (the tap's --discover) with only ``streams`` selected."""
    found = subprocess.run(
        [sys.executable, "-m", "tap_datadog_costs", "--config", config_file, "--discover"],
        capture_output=True, check=True, cwd=ROOT,
    )  # fmt: skip
    catalog = json.loads(found.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as catalog_file:
        json.dump(catalog, catalog_file)
    return catalog_file.name


@dataclasses.dataclass
class Run:
    """One child process: wall and CPU seconds (user + system), peak RSS, rows and requests.

    For the tap, also each stream's requests and the retries of all.
    """

    wall: float
    cpu: float
    rss_mb: float
    rows: int
    requests: int
    stream_requests: dict[str, int]
    retries: int


#: The counts each variant prints on stderr: the bare loop's last line; the tap's summary line
#: of each stream, with its name, and its retries after the requests (and the answers reused).
COUNTS = re.compile(
    r"(?:rows (\d+), requests (\d+)"
    r"|(\w+): done in .+?: ([\d,]+) rows?, ([\d,]+) requests?(?: \(.*?\))?, ([\d,]+) retr)"
)


def timed(command: list[str]) -> Run:
    """Run one child process writing to /dev/null; its own rusage, from wait4."""
    began = time.perf_counter()
    with open(os.devnull, "w") as out, tempfile.TemporaryFile("w+") as err:  # noqa: PTH123
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        err.seek(0)
        log = err.read()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command, stderr=log)
    rows = requests_sent = retries = 0
    streams: dict[str, int] = {}
    for match in COUNTS.finditer(log):
        bare_rows, bare_requests, stream, tap_rows, tap_requests, tap_retries = match.groups()
        rows += int((bare_rows or tap_rows).replace(",", ""))
        sent = int((bare_requests or tap_requests).replace(",", ""))
        requests_sent += sent
        if stream:
            streams[stream] = sent
            retries += int(tap_retries.replace(",", ""))
    # ru_maxrss is in KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, rows, requests_sent, streams, retries)


@dataclasses.dataclass
class Simulator:
    """A simulator process: its URL and, once it stopped, its report.

    The report: its answers by status and the most requests it served at once
    (``answered: 200 x 912, 429 x 3; peak in progress: 8``).
    """

    url: str
    report: str = ""


@contextlib.contextmanager
def simulator(child_orgs: int, *flags: str) -> t.Iterator[Simulator]:
    """The simulator (a third process), with ``child_orgs`` under the parent and more ``flags``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--child-orgs", str(child_orgs), *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    served = Simulator(process.stdout.readline().rsplit(" ", 1)[-1].strip())  # type: ignore[union-attr]
    try:
        yield served
    finally:
        process.terminate()
        served.report = process.communicate(timeout=30)[0].strip()


def backfill(span: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """The ``span`` that ends a day ago, in whole hours: the simulator's last hours are not in."""
    end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    end -= dt.timedelta(days=1)
    return end - span, end


def config_file(url: str, start: dt.datetime, end: dt.datetime, **settings: object) -> str:
    """A tap config file: ``start`` to ``end`` from ``url``, no progress line, and ``settings``."""
    config = {
        **dict(zip(("api_key", "app_key"), HEADERS.values(), strict=True)),
        "api_url": url,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "progress_seconds": 3600,
        **settings,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(config, file)
    return file.name


def commands(url: str, span: dt.timedelta) -> dict[str, list[str]]:
    """The bare loop, the tap, and the tap with the SDK's defaults, over the last ``span``."""
    start, end = backfill(span)
    config = config_file(url, start, end)
    files = ["--config", config, "--catalog", selecting(config, BARE_LOOP_STREAMS)]
    return {
        "bare loop": [sys.executable, __file__, "--bare", url, start.isoformat(), end.isoformat()],
        "tap": [sys.executable, "-m", "tap_datadog_costs", *files],
        # The same tap with the SDK's default writer and full type conformance, for comparison.
        "tap, SDK defaults": [sys.executable, "-c", SDK_DEFAULTS, *files],
    }


def best_of(runs: list[Run]) -> Run:
    """The best wall, CPU and RSS of the rounds (the counts are the same in each)."""
    return Run(
        min(r.wall for r in runs),
        min(r.cpu for r in runs),
        min(r.rss_mb for r in runs),
        runs[0].rows,
        runs[0].requests,
        runs[0].stream_requests,
        runs[0].retries,
    )


def cpu_table(days: int, rounds: int) -> None:
    """The variants on ``days`` of hourly usage of 3 orgs, ``rounds`` times alternating.

    Each variant also reads one hour, ``rounds`` times: its fixed cost (start-up, imports,
    discovery of the catalog), taken off to give its CPU per row.
    """
    with simulator(2) as served:
        spans = {"whole": dt.timedelta(days=days), "fixed": dt.timedelta(hours=1)}
        variants = {span: commands(served.url, length) for span, length in spans.items()}
        results: dict[tuple[str, str], list[Run]] = {}
        for _ in range(rounds):  # alternate, so drift in machine load hits both alike
            for span, named in variants.items():
                for name, command in named.items():
                    results.setdefault((name, span), []).append(timed(command))
    print(f"{days} days of hourly usage, parent + 2 child orgs, {rounds} rounds, best of each:")
    header = ("rows", "cpu s", "ratio", "us/row", "ratio", "wall s", "ratio", "rss MB")
    print(f"  {'':<18}" + "".join(f"{h:>9}" for h in header))
    bare = best_of(results["bare loop", "whole"])
    bare_row = (bare.cpu - best_of(results["bare loop", "fixed"]).cpu) / bare.rows
    for name in variants["whole"]:
        run, fixed = best_of(results[name, "whole"]), best_of(results[name, "fixed"])
        per_row = (run.cpu - fixed.cpu) / run.rows
        print(
            f"  {name:<18}{run.rows:>9,}{run.cpu:>9.2f}{run.cpu / bare.cpu:>8.2f}x"
            f"{per_row * 1e6:>9.1f}{per_row / bare_row:>8.2f}x"
            f"{run.wall:>9.2f}{run.wall / bare.wall:>8.2f}x{run.rss_mb:>9.1f}"
        )


#: valgrind's count of the instructions a process ran (its stderr).
COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(command: list[str]) -> int:
    """The instructions ``command`` runs (valgrind's callgrind), writing to /dev/null."""
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    found = subprocess.run(
        [*valgrind, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        check=True, cwd=ROOT,
    )  # fmt: skip
    return int(COLLECTED.findall(found.stderr)[-1])


def instruction_table(days: int) -> None:
    """The bare loop and the tap once each under callgrind: instructions, whole and fixed.

    Instruction counts do not move with the machine's load as CPU seconds do (each run takes
    about 50 times longer); the fixed cost is again a run of one hour.
    """
    with simulator(2) as url:
        spans = {"whole": dt.timedelta(days=days), "fixed": dt.timedelta(hours=1)}
        counts = {
            (name, span): instructions(command)
            for span, length in spans.items()
            for name, command in commands(url, length).items()
            if name != "tap, SDK defaults"
        }
    print(f"{days} days of hourly usage, parent + 2 child orgs, instructions (callgrind):")
    header = ("whole G", "ratio", "fixed G", "ratio", "rest G", "ratio")
    print(f"  {'':<18}" + "".join(f"{h:>9}" for h in header))
    bare_whole, bare_fixed = counts["bare loop", "whole"], counts["bare loop", "fixed"]
    for name in ("bare loop", "tap"):
        whole, fixed = counts[name, "whole"], counts[name, "fixed"]
        print(
            f"  {name:<18}{whole / 1e9:>9.2f}{whole / bare_whole:>8.2f}x"
            f"{fixed / 1e9:>9.2f}{fixed / bare_fixed:>8.2f}x"
            f"{(whole - fixed) / 1e9:>9.2f}{(whole - fixed) / (bare_whole - bare_fixed):>8.2f}x"
        )


def memory_table(days: int, org_counts: list[int]) -> None:
    """The tap's peak RSS by number of orgs (the parent and its children), on ``days``."""
    print(f"{days} days of hourly usage by number of orgs, the tap's peak RSS:")
    print(f"  {'orgs':>5} {'rows':>9} {'requests':>9} {'cpu s':>7} {'wall s':>7} {'rss MB':>7}")
    for orgs in org_counts:
        with simulator(orgs - 1) as served:
            run = timed(commands(served.url, dt.timedelta(days=days))["tap"])
        print(
            f"  {orgs:>5} {run.rows:>9,} {run.requests:>9,} {run.cpu:>7.2f} {run.wall:>7.2f} "
            f"{run.rss_mb:>7.1f}"
        )


def as_installed() -> None:
    """The tap's modules compiled, as pip compiles them when it installs the tap.

    The bare loop's modules (requests, json) are read as bytecode; so is an installed tap's. A
    checkout installed in editable mode and run with PYTHONDONTWRITEBYTECODE=1 (as in many
    CI and Docker setups) would compile every module of the tap at every start instead: about
    0.04 s of CPU that no installed tap spends (docs/benchmarks.md).
    """
    compileall.compile_dir(ROOT / "tap_datadog_costs", quiet=1)


def main() -> None:
    """The CPU table, then the memory table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=182, help="of the CPU table (default 182)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-days", type=int, default=2)
    parser.add_argument("--orgs", default="3,60,500", help="org counts of the memory table")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions instead (valgrind)"
    )
    arguments = parser.parse_args()
    as_installed()
    if arguments.instructions:
        instruction_table(arguments.days)
        return
    cpu_table(arguments.days, arguments.rounds)
    memory_table(arguments.memory_days, [int(n) for n in arguments.orgs.split(",")])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        url, start, end = (
            sys.argv[2],
            dt.datetime.fromisoformat(sys.argv[3]),
            dt.datetime.fromisoformat(sys.argv[4]),
        )
        print(
            "rows {}, requests {}".format(*bare_loop(url, start, end, sys.stdout)), file=sys.stderr
        )
    else:
        main()
