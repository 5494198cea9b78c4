"""Time the tap against a bare requests + json loop making the same requests.

Both run as child processes against the same simulator (a third process) and write one JSON
line per row to /dev/null. The bare loop makes the hourly usage and organization requests; the
tap runs with a catalog selecting the same two streams (BARE_LOOP_STREAMS).
Usage: .venv/bin/python benchmarks/tap_vs_bare_loop.py [days] [rounds]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"DD-API-KEY": "sim-api-key", "DD-APPLICATION-KEY": "sim-app-key"}


def bare_loop(url: str, start: dt.datetime, end: dt.datetime, out: object) -> int:
    """The same requests as the tap, flattened and written with json.dumps; no SDK."""
    session = requests.Session()
    session.headers.update(HEADERS)
    rows = 0

    def get(path: str, params: dict[str, str]) -> dict:
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
    return rows


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


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process writing to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with open(os.devnull, "w") as out:  # noqa: PTH123
        subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Run each variant ``rounds`` times, alternating, and print the best wall and CPU."""
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 365
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3  # noqa: PLR2004
    simulator = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = simulator.stdout.readline().rsplit(" ", 1)[-1].strip()  # type: ignore[union-attr]
    end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    config = {
        **dict(zip(("api_key", "app_key"), HEADERS.values(), strict=True)),
        "api_url": url,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as config_file:
        json.dump(config, config_file)
    catalog = selecting(config_file.name, BARE_LOOP_STREAMS)
    files = ["--config", config_file.name, "--catalog", catalog]
    commands = {
        "bare loop": [sys.executable, __file__, "--bare", url, start.isoformat(), end.isoformat()],
        "tap": [sys.executable, "-m", "tap_datadog_costs", *files],
        # The same tap with the SDK's default writer and full type conformance, for comparison.
        "tap, SDK defaults": [sys.executable, "-c", SDK_DEFAULTS, *files],
    }
    try:
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(rounds):  # alternate, so drift in machine load hits both alike
            for name, command in commands.items():
                results[name].append(timed(command))
    finally:
        simulator.terminate()
    print(f"{days} days of hourly usage, parent + 2 child orgs, {rounds} rounds, best of each:")
    best = {
        name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in results.items()
    }
    bare_wall, bare_cpu = best["bare loop"]
    for name, (wall, cpu) in best.items():
        print(
            f"  {name:<18} wall {wall:6.2f} s ({wall / bare_wall:.2f}x)   "
            f"cpu {cpu:6.2f} s ({cpu / bare_cpu:.2f}x)"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        url, start, end = (
            sys.argv[2],
            dt.datetime.fromisoformat(sys.argv[3]),
            dt.datetime.fromisoformat(sys.argv[4]),
        )
        print(f"rows {bare_loop(url, start, end, sys.stdout)}", file=sys.stderr)
    else:
        main()
