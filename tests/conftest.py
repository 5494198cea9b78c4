"""Shared fixtures: the pinned clock, and simulators that live for one test module."""

from __future__ import annotations

import threading
import typing as t

import pytest
import time_machine

from simulator import DatadogSimulator
from tests.support.clock import NOW, faketime_leftovers_removed
from tests.support.postgres import postgres_server


@pytest.fixture(scope="session", autouse=True)
def pinned_clock() -> t.Iterator[None]:
    """In this process the clock starts at NOW and ticks (time-machine): no test, fixture or
    simulator here reads today's date. Child processes get it from tests.support.clock.clock_env."""
    with time_machine.travel(NOW, tick=True), faketime_leftovers_removed():
        yield


@pytest.fixture(scope="module")
def simulator() -> t.Iterator[DatadogSimulator]:
    """A simulator with a parent, two child orgs and 16 months of data up to NOW."""
    with DatadogSimulator(now=NOW) as sim:
        yield sim


@pytest.fixture
def sim(simulator: DatadogSimulator) -> DatadogSimulator:
    """The module simulator with a clean request log."""
    simulator.clear_requests()
    return simulator


@pytest.fixture(scope="module")
def live() -> t.Iterator[DatadogSimulator]:
    """A second simulator at NOW, for CLI runs (their clock starts at NOW too) and tests that
    disturb it (faults, replays), so the module's ``simulator`` stays as Datadog would be."""
    with DatadogSimulator(now=NOW) as sim:
        yield sim


@pytest.fixture
def api(live: DatadogSimulator) -> DatadogSimulator:
    """The live simulator with a clean request log.

    A run an earlier test stopped with requests in flight may still have one on its way or
    being answered: the log is cleared once the simulator has had none for 0.2 s, so that it
    is in no later test's log.
    """
    quiet, seen = 0, -1
    for _ in range(100):  # at most 5 s
        logged = len(live.requests)
        quiet = quiet + 1 if logged == seen and not live.in_progress else 0
        if quiet >= 4:  # four looks, 0.05 s apart
            break
        seen = logged
        threading.Event().wait(0.05)
    live.clear_requests()
    return live


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[str]:
    """A PostgreSQL server for the session; its SQLAlchemy URL."""
    with postgres_server() as url:
        yield url
