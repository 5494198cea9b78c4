"""The run's stop: asked for by SIGTERM or SIGINT, heard by every wait and before every request.

The signal handler only sets a number: no lock, no I/O (it runs between two bytecodes of the
main thread, which may hold any lock). Every wait of a run (pacing, an announced wait,
back-off, an answer on the way) waits in slices of STOP_SLICE and looks at the stop between
them, so a signal takes effect within a slice, whatever the run is doing; records stop before
the next one (writer.py), never in the middle of one.

A read running in a worker thread (in_flight.py) is also stopped when the run no longer wants
its answers (another read failed, or a signal came): ``abandon_with`` gives the thread an event
that every look at the stop in that thread heeds, with Abandoned.
"""

from __future__ import annotations

import threading
import time

from tap_datadog_costs.errors import Interrupted

#: Seconds between two looks at the stop during a wait: how late a signal can take effect.
STOP_SLICE = 0.1

#: This thread's read, when it runs in a worker for in_flight.py: set once nobody wants it.
_THREAD = threading.local()


class Abandoned(Exception):  # noqa: N818 - what happened to the read, not an error of ours
    """Nobody waits for this worker's read any more: it ends without a word."""


def abandon_with(event: threading.Event | None) -> None:
    """From now on, this thread's looks at the stop raise Abandoned once ``event`` is set."""
    _THREAD.abandoned = event


class RunStop:
    """Whether a signal asked the run to stop; waits that end early when one did."""

    def __init__(self) -> None:
        #: The signal that asked the run to stop, if one did.
        self.signum: int | None = None

    def request(self, signum: int) -> None:
        """Ask the run to stop (from a signal handler: it only sets a number)."""
        self.signum = signum

    def check(self) -> None:
        """Raise Interrupted if the run was asked to stop; Abandoned if this thread's read was."""
        if self.signum is not None:
            raise Interrupted(self.signum)
        abandoned = getattr(_THREAD, "abandoned", None)
        if abandoned is not None and abandoned.is_set():
            raise Abandoned

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise Interrupted as soon as the run is asked to stop."""
        self.wait_for(None, seconds)

    def wait_for(self, done: threading.Event | None, seconds: float) -> bool:
        """Wait until ``done`` is set (True) or ``seconds`` passed (False); Interrupted first."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if done is None:
                time.sleep(min(STOP_SLICE, left))
            elif done.wait(min(STOP_SLICE, left)):
                return True
