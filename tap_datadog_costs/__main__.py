"""Run the tap as ``python -m tap_datadog_costs``."""

from __future__ import annotations

from tap_datadog_costs.cli import main

main()
