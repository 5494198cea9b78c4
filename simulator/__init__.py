"""A local Datadog Usage Metering API with deterministic data, for testing tap-datadog-costs."""

from __future__ import annotations

from .catalog import REGION, USAGE_TYPES
from .data import PARENT_ID, PARENT_NAME
from .keys import CHILD_KEYS, EMPTY_KEYS, NO_ATTRIBUTION_KEYS, PARENT_KEYS, USAGE_ONLY_KEYS
from .server import DatadogSimulator

__all__ = [
    "CHILD_KEYS",
    "EMPTY_KEYS",
    "NO_ATTRIBUTION_KEYS",
    "PARENT_ID",
    "PARENT_KEYS",
    "PARENT_NAME",
    "REGION",
    "USAGE_ONLY_KEYS",
    "USAGE_TYPES",
    "DatadogSimulator",
]
