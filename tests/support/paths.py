"""Where the project is: the checkout the tests run from, and so every file they name."""

from __future__ import annotations

from pathlib import Path

#: The checkout's top folder (the one with pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
