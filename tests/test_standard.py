"""The SDK's standard tap tests, against a simulator started before the class is built."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
from singer_sdk.testing import get_tap_test_class

from simulator import DatadogSimulator
from tap_datadog_costs.tap import TapDatadogCosts
from tests.harness import tap_config

# get_tap_test_class syncs once per class with this config: the server must exist now.
# 65 days: two whole months are in range whatever the day, so historical cost and cost
# attribution (a month comes by the 19th of the next) have rows; a tag key, so tags are objects.
SIMULATOR = DatadogSimulator()
SIMULATOR.start()
CONFIG = tap_config(
    SIMULATOR.url,
    start_date=(SIMULATOR.now - dt.timedelta(days=65)).isoformat(),
    cost_attribution_tag_keys=["team"],
)


@pytest.fixture(scope="module", autouse=True)
def _stop_simulator() -> t.Iterator[None]:
    yield
    SIMULATOR.stop()


TestTapDatadogCosts = get_tap_test_class(TapDatadogCosts, config=CONFIG)
