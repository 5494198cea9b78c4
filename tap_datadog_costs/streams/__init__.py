"""Streams, one module per Datadog API domain."""

from __future__ import annotations

from tap_datadog_costs.streams.billing_dimensions import BillingDimensionMappingsStream
from tap_datadog_costs.streams.costs import EstimatedCostsStream, HistoricalCostsStream
from tap_datadog_costs.streams.organizations import OrganizationsStream
from tap_datadog_costs.streams.usage import HourlyUsageStream

STREAM_TYPES = (
    OrganizationsStream,
    HourlyUsageStream,
    BillingDimensionMappingsStream,
    HistoricalCostsStream,
    EstimatedCostsStream,
)

__all__ = ["STREAM_TYPES"]
