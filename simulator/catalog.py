"""What Datadog's catalog holds, as its API reference and our recordings of real answers show it.

Product families and their usage types, cost products and charge types, billing dimensions,
billable summary keys and units, attribution tags and fields, and the org fields items carry.
"""

from __future__ import annotations

USAGE_TYPES: dict[str, tuple[str, ...]] = {
    "infra_hosts": ("host_count", "container_count"),
    "logs": ("indexed_events_count", "ingested_events_bytes"),
    "application_performance_monitoring": ("apm_host_count",),
}
# Other product families Datadog's current API reference lists for filter[product_families]
# (November 2026, with the deprecated audit_logs); each gets one usage type. A word list reads
# better than 55 quoted strings.
DOCUMENTED_FAMILIES = tuple(
    """
    ai analyzed_logs application_security audit_trail bits_ai serverless ci_app
    cloud_cost_management cloud_siem csm_container_enterprise csm_host_enterprise csm_host_pro
    cspm custom_events cws data_observability dbm digital_experience_management error_tracking
    fargate incident_management indexed_logs indexed_spans infrastructure_monitoring
    ingested_spans iot lambda_traced_invocations llm_observability log_management
    network_flows network_hosts network_monitoring observability_pipelines online_archive
    platform_capabilities product_analytics profiling rum rum_browser_sessions
    rum_mobile_sessions sds security snmp software_delivery synthetics_api synthetics_browser
    synthetics_mobile synthetics_parallel_testing timeseries vuln_management workflow_executions
    audit_logs
    """.split()  # noqa: SIM905
)
DEFAULT_FAMILIES = ("infra_hosts", "logs", "application_performance_monitoring")

COST_PRODUCTS = ("infra_host", "apm_host", "logs_indexed_15day")
AGGREGATION_FUNCTIONS = {"apm_host": "sum"}
#: Charge types per kind of cost answer. Real historical and estimated answers carry no `total`
#: line (recorded cost_by_org and estimated_cost answers): only projected cost has one.
CHARGE_TYPES = {
    "historical": ("committed", "on_demand"),
    "estimated": ("committed", "on_demand"),
    "projected": ("projected_committed", "projected_on_demand", "total"),
}
#: A product whose committed charge comes as two lines, as in the recorded real answers
#: (two `infra_host` / `committed` lines, 0 and 1.17): parts of one charge.
SPLIT_PRODUCT = "infra_host"
COST_KINDS = tuple(CHARGE_TYPES)
VIEWS = ("summary", "sub-org")

# (billing dimension, in-app label, ((endpoint id, keys, status), ...))
BILLING_DIMENSIONS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...], str], ...]], ...] = (
    (
        "infra_host",
        "Infra Hosts",
        (
            ("api/v1/usage/hosts", ("host_count", "agent_host_count"), "OK"),
            ("api/v2/usage/hourly_usage", ("infra_hosts.host_count",), "OK"),
        ),
    ),
    ("apm_host", "APM Hosts", (("api/v1/usage/hosts", ("apm_host_count",), "OK"),)),
    (
        "logs_indexed_15day",
        "Indexed Logs (15-day Retention)",
        (
            ("api/v1/usage/logs", ("indexed_events_count",), "OK"),
            ("api/v2/usage/hourly_usage", ("logs.indexed_events_count",), "OK"),
        ),
    ),
    (
        "synthetics_api_tests",
        "Synthetics API Tests",
        (("api/v1/usage/synthetics_api", (), "NOT_FOUND"),),
    ),
    # Billed, but no usage endpoint reports it: an empty endpoint list.
    ("ci_visibility_committers", "CI Visibility Committers", ()),
)
#: The endpoint a mapping row names when the dimension has none (the tap's documented marker).
NO_ENDPOINT = "(none)"

#: /api/v1/usage/billable-summary: for each product the cost model bills, its key there (one of
#: the spec's UsageBillableSummaryKeys), its usage_unit, and the list price it is billed at, in
#: cents per ``per`` units (Datadog's public list prices: $15 an infra host, $31 an APM host,
#: $1.70 a million indexed log events at 15-day retention). A month's billable quantity is its
#: cost at that price, so cost / quantity gives the price back. Units: the spec names none;
#: "hosts" for 99th-percentile host keys (a real answer says "host_hours" for host *_sum keys,
#: "traces" and "timeseries" for others) and "events" for indexed logs are our choice.
BILLABLE_SUMMARY: dict[str, tuple[str, str, int, int]] = {
    "infra_host": ("infra_host_top99p", "hosts", 1_500, 1),
    "apm_host": ("apm_host_top99p", "hosts", 3_100, 1),
    "logs_indexed_15day": ("logs_indexed_15day_sum", "events", 170, 1_000_000),
}


#: Tag keys configured for usage attribution (Datadog allows three at most) and their values.
ATTRIBUTION_TAGS: dict[str, tuple[str, ...]] = {
    "team": ("core", "payments", "search"),
    "service": ("web", "api", "worker", "billing"),
    "env": ("prod", "staging"),
}
MAX_TAG_KEYS = 3
#: Field suffixes of a billing dimension in cost attribution `values`, in `*` order.
ATTRIBUTION_FIELDS = (
    "on_demand_cost",
    "committed_cost",
    "total_cost",
    "percentage_in_org",
    "percentage_in_account",
)


#: The region every org of the simulated account is in, as items spell it.
REGION = "us"
IDENTITY_FIELDS = ("org_name", "public_id", "account_name", "account_public_id", "region")
# What real items carry of those (the recordings): usage items no account_*, cost items no
# account_* and no region. Only the usage summary's org entries have all of them.
USAGE_ITEM_FIELDS = ("org_name", "public_id", "region")
COST_ITEM_FIELDS = ("org_name", "public_id")
PROJECTED_ITEM_FIELDS = ("org_name", "public_id", "region")


def is_family(name: str) -> bool:
    """A product family the API accepts."""
    return name in USAGE_TYPES or name in DOCUMENTED_FAMILIES


def usage_types(family: str) -> tuple[str, ...]:
    """Usage types reported for a family."""
    return USAGE_TYPES.get(family, (f"{family}_count",))
