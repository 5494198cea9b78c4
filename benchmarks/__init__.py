"""Measurements of the tap: speed against a bare client, behaviour under faults."""
