"""Tests of the Datadog API simulator (the package simulator/ beside the tap).

The simulator answers like Datadog (shapes checked against recordings); its oracle is exact.
One module per concern: shapes, pagination, windows, keys, faults, rate limits, the oracle,
data rules, construction, the billable summary and cost attribution.
"""
