"""Run the tap as ``python -m tap_datadog_costs``."""

from __future__ import annotations

from tap_datadog_costs.tap import TapDatadogCosts

TapDatadogCosts.cli()
