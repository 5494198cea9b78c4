"""Recipes that run the Meltano project from an orchestrator (docs/scaling.md)."""
