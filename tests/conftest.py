"""Shared fixtures: a simulator per test module, frozen at a known hour."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from tests.simulator import DatadogSimulator

#: A fixed "now" for the module simulators: the tests' expectations use it too.
NOW = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc)


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
