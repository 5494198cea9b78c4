"""The SDK's standard tap tests, against a simulator started before the class is built."""

from __future__ import annotations

import datetime as dt
import typing as t

import pendulum
import pytest
from singer_sdk.testing import get_tap_test_class

from simulator import DatadogSimulator
from tap_datadog_costs.tap import TapDatadogCosts
from tests.support.settings import tap_config

# get_tap_test_class syncs once per class with this config: the server must exist now. The
# clock is fixed (below) so every stream has rows whatever the day: the 20th is after the 12th
# (projected cost) and the 19th (last month's cost attribution); 65 days hold two whole months.
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
SIMULATOR = DatadogSimulator(now=NOW)
SIMULATOR.start()
CONFIG = tap_config(
    SIMULATOR.url,
    start_date=(NOW - dt.timedelta(days=65)).isoformat(),
    cost_attribution_tag_keys=["team"],  # so tags are objects
)


@pytest.fixture(scope="module", autouse=True)
def _clock_and_simulator() -> t.Iterator[None]:
    """The tap's clock at the simulator's NOW for the class's sync; the server stopped after."""
    with pendulum.travel_to(pendulum.instance(NOW), freeze=False):
        yield
    SIMULATOR.stop()


TestTapDatadogCosts = get_tap_test_class(TapDatadogCosts, config=CONFIG)
