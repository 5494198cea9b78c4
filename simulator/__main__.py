"""Serve the simulator until SIGTERM/SIGINT, e.g. for running the tap by hand in a Quickstart.

On the signal, one line on stdout says how many answers of each status it gave, the most
requests it had in progress at once, and the path asked most (DatadogSimulator.report):
``answered: 200 x 912, 429 x 3; peak in progress: 8; busiest: /api/v2/usage/hourly_usage x 850``.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading

from .periods import parse_instant
from .server import DEFAULT_RATE_LIMIT, DatadogSimulator, checked_latency, checked_rate_limit


def main(argv: list[str] | None = None) -> None:
    """Parse the address, serve, and print the URL so scripts can wait for it."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument(
        "--now", type=parse_instant, help="simulated current time (ISO); default: this hour"
    )
    parser.add_argument(
        "--child-orgs", type=int, default=2, help="child orgs under the parent (default: 2)"
    )
    parser.add_argument("--org-prefix", default="", help="put before every org's public id")
    parser.add_argument(
        "--keys", nargs=2, metavar=("API_KEY", "APP_KEY"), help="the parent's keys, and no others"
    )
    parser.add_argument(
        "--latency",
        type=latency,
        default=0.0,
        metavar="SECONDS",
        help="answer every request this late, counted against its rate limit as it arrives "
        "(default: 0)",
    )
    parser.add_argument(
        "--rate-limit",
        type=rate_limit,
        default=DEFAULT_RATE_LIMIT,
        metavar="REQUESTS/SECONDS",
        help="each endpoint's limit, e.g. 300/60: 300 requests per 60-second period "
        "(default: {}/{})".format(*DEFAULT_RATE_LIMIT),
    )
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    sim = DatadogSimulator(
        now=args.now,
        host=args.host,
        port=args.port,
        child_orgs=args.child_orgs,
        org_prefix=args.org_prefix,
        keys=tuple(args.keys) if args.keys else None,
        latency=args.latency,
        rate_limit=args.rate_limit,
    )
    try:
        sim.start()
    except OSError as error:  # the address is taken or not ours: one line, not a traceback
        sys.exit(f"ERROR: {cannot_listen(args.host, args.port, error)}")
    try:
        print(f"Datadog API simulator listening on {sim.url}", flush=True)  # noqa: T201
        while not stopping.wait(0.5):
            pass
    finally:
        sim.stop()
    print(sim.report(), flush=True)  # noqa: T201


def latency(text: str) -> float:
    """``--latency``: a number of seconds, 0 or more."""
    try:
        return checked_latency(float(text))
    except ValueError:
        msg = f"{text!r} is not a number of seconds of 0 or more (e.g. 0.3)"
        raise argparse.ArgumentTypeError(msg) from None


def rate_limit(text: str) -> tuple[int, int]:
    """``--rate-limit``: REQUESTS/SECONDS, both whole numbers of 1 or more."""
    try:
        limit, period = (int(part) for part in text.split("/"))
        return checked_rate_limit(limit, period)
    except ValueError:
        msg = f"{text!r} is not REQUESTS/SECONDS, two whole numbers of 1 or more (e.g. 300/60)"
        raise argparse.ArgumentTypeError(msg) from None


def cannot_listen(host: str, port: int, error: OSError) -> str:
    """Why the simulator cannot serve at ``host:port``, and what to do."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"{host}:{port} is already in use (another simulator?): stop what serves it, "
            "or pick another port with --port (--port 0: any free one)"
        )
    return f"cannot listen on {host}:{port} ({error.strerror}): pick another --host or --port"


if __name__ == "__main__":
    main()
