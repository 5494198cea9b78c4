"""Reading the tap's log: what it logged in this process, a CLI run's error lines, its plan,
retry and pacing lines."""

from __future__ import annotations

import contextlib
import logging
import re
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def tap_log() -> Iterator[list[str]]:
    """The messages the tap logs at INFO and above while the block runs (in this process)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("tap-datadog-costs")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def error_lines(stderr: bytes) -> list[str]:
    """The ERROR lines a CLI run wrote."""
    return [line for line in stderr.decode().splitlines() if "| ERROR " in line]


#: A stream's plan line (tap_datadog_costs/progress.py): full table, first extract, or
#: incremental from a bookmark (group 3).
PLAN_LINE = re.compile(
    r"(\w+): (first extract \(no bookmark\)|full table|incremental from the bookmark (\S+?))"
    r"[:,] "
)


def starting_bookmarks(log: str) -> dict[str, str | None]:
    """Per incremental stream, the bookmark its plan line resumed from (None: first extract)."""
    return {
        match.group(1): match.group(3)
        for match in PLAN_LINE.finditer(log)
        if match.group(2) != "full table"
    }


def retries(log: list[str]) -> list[str]:
    """The tap's retry lines: one per wait after a failed request."""
    return [line for line in log if "; retrying in " in line]


def pacing_waits(log: list[str]) -> list[float]:
    """Seconds of each wait the pacer announced before a request it knew would get 429."""
    return [float(m[1]) for line in log if (m := re.search(r"spent: waiting ([\d.]+) s", line))]
