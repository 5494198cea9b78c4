"""Test suite of tap-datadog-costs."""
