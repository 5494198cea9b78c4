"""tap-datadog-costs: Datadog usage and cost data for any Singer target."""
