"""Streams, one module per Datadog API domain."""

from __future__ import annotations

from tap_datadog_costs.streams.billable_usage import BillableUsageStream
from tap_datadog_costs.streams.billing_dimensions import (
    ActiveBillingDimensionsStream,
    BillingDimensionMappingsStream,
)
from tap_datadog_costs.streams.cost_attribution import CostAttributionStream
from tap_datadog_costs.streams.costs import EstimatedCostsStream, HistoricalCostsStream
from tap_datadog_costs.streams.daily_costs import DailyCostsStream
from tap_datadog_costs.streams.focus_costs import FocusCostsStream
from tap_datadog_costs.streams.organizations import OrganizationsStream
from tap_datadog_costs.streams.projected_costs import ProjectedCostsStream
from tap_datadog_costs.streams.usage import HourlyUsageStream

STREAM_TYPES = (
    OrganizationsStream,
    HourlyUsageStream,
    BillingDimensionMappingsStream,
    HistoricalCostsStream,
    EstimatedCostsStream,
    DailyCostsStream,
    ProjectedCostsStream,
    ActiveBillingDimensionsStream,
    BillableUsageStream,
    CostAttributionStream,
    FocusCostsStream,
)

__all__ = ["STREAM_TYPES"]
