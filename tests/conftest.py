"""Shared fixtures: simulators that live for one test module."""

from __future__ import annotations

import typing as t

import pytest

from simulator import DatadogSimulator
from tests.harness import NOW, postgres_server


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
    """A simulator at the current hour, so CLI runs (real clock) and in-process runs agree."""
    with DatadogSimulator() as sim:
        yield sim


@pytest.fixture
def api(live: DatadogSimulator) -> DatadogSimulator:
    """The live simulator with a clean request log."""
    live.clear_requests()
    return live


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[str]:
    """A PostgreSQL server for the session; its SQLAlchemy URL."""
    with postgres_server() as url:
        yield url
