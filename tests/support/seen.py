"""What the simulator saw: the requests it logged, per endpoint, and the status of each answer."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    from simulator import DatadogSimulator


def requests_to(requests: list[dict[str, t.Any]], path: str) -> list[dict[str, t.Any]]:
    """The logged requests to one endpoint."""
    return [r for r in requests if r["path"] == path]


def statuses(sim: DatadogSimulator, path: str) -> list[int]:
    """The status of each answer to one endpoint, in order."""
    return [r["status"] for r in requests_to(sim.requests, path)]


def wait_for_requests(sim: DatadogSimulator, path: str, count: int) -> list[int]:
    """Statuses of requests to ``path`` once ``count`` are logged (a slow answer logs late)."""
    deadline = time.monotonic() + 10
    while len(statuses(sim, path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return statuses(sim, path)
