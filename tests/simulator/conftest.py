"""The simulator a test module shares: one, frozen at NOW."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from simulator import DatadogSimulator
from tests.simulator.common import NOW

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def api() -> Iterator[DatadogSimulator]:
    """One simulator for the module, frozen at NOW (tests that mutate it start their own)."""
    with DatadogSimulator(now=NOW) as sim:
        yield sim
