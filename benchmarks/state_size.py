"""The state the tap keeps to withdraw lines Datadog stops listing, by number of orgs.

Each withdrawing stream's state holds the keys of its open periods (tap_datadog_costs/
withdrawals.py). This runs every stream but hourly usage (which keeps none) against a simulator
of N orgs on the 20th of a month (the most periods open: this month, the projection of the day,
and last month's estimate) and prints the final STATE's size, per stream and in all, beside the
keys it holds.
Usage: .venv/bin/python benchmarks/state_size.py [--orgs 3,60,500]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import sys
import time
from pathlib import Path

import pendulum

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import PARENT_KEYS, DatadogSimulator  # noqa: E402
from tap_datadog_costs.tap import TapDatadogCosts  # noqa: E402
from tap_datadog_costs.withdrawals import STATE_KEY, decode  # noqa: E402

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
START = "2026-08-01T00:00:00+00:00"


def final_state(orgs: int) -> tuple[dict, int, float]:
    """The last STATE of a run over ``orgs`` orgs, the records it wrote, and its seconds."""
    with DatadogSimulator(now=NOW, child_orgs=orgs - 1) as sim:
        config = {
            "api_key": PARENT_KEYS[0],
            "app_key": PARENT_KEYS[1],
            "api_url": sim.url,
            "start_date": START,
            "progress_seconds": 3600,
        }
        catalog = TapDatadogCosts(config=config).catalog_dict
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] != "hourly_usage"
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        started = time.perf_counter()
        with (
            pendulum.travel_to(pendulum.instance(NOW), freeze=False),
            contextlib.redirect_stdout(out),
        ):
            TapDatadogCosts(config=config, catalog=catalog).sync_all()
            out.flush()
        seconds = time.perf_counter() - started
    lines = [json.loads(line) for line in out.buffer.getvalue().splitlines()]  # type: ignore[attr-defined]
    records = sum(message["type"] == "RECORD" for message in lines)
    state = next(m["value"] for m in reversed(lines) if m["type"] == "STATE")
    return state, records, seconds


def main() -> None:  # noqa: D103 - the module docstring says it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", default="3,60,500")
    args = parser.parse_args()
    print(f"every stream but hourly usage, on {NOW:%Y-%m-%d %H:%M} UTC, from {START[:10]}:")
    print(f"{'orgs':>6} {'records':>9} {'keys kept':>10} {'state KB':>9} {'of it, keys KB':>15}"
          f" {'bytes/key':>10} {'wall s':>7}")  # fmt: skip
    for orgs in (int(n) for n in args.orgs.split(",")):
        state, records, seconds = final_state(orgs)
        keys = kept = 0
        for stream_state in state["bookmarks"].values():
            entry = stream_state.get(STATE_KEY)
            if not entry:
                continue
            kept += len(json.dumps(entry))
            for period in entry["periods"].values():
                keys += len(decode(period, len(entry["fields"])))
        total = len(json.dumps(state))
        print(
            f"{orgs:>6} {records:>9,} {keys:>10,} {total / 1024:>9.1f} {kept / 1024:>15.1f} "
            f"{kept / max(keys, 1):>10.2f} {seconds:>7.1f}"
        )
        biggest = sorted(
            (len(json.dumps(s.get(STATE_KEY, {}))), name) for name, s in state["bookmarks"].items()
        )[-3:]
        print(
            "        largest: "
            + ", ".join(f"{name} {size / 1024:.1f} KB" for size, name in reversed(biggest))
        )


if __name__ == "__main__":
    main()
