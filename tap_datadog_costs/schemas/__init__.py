"""The streams' JSON schemas, typed from Datadog's API reference."""

from __future__ import annotations

import json
import typing as t
from importlib import resources


def load_schema(name: str) -> dict[str, t.Any]:
    """A stream's JSON schema (``<name>.json`` beside this file), loaded once per class.

    A plain dict class attribute: the SDK reads ``self.schema`` for every record, and a
    dict costs nothing to read where a schema descriptor resolves its source each time.
    """
    text = (resources.files(__package__) / f"{name}.json").read_text()
    return t.cast("dict[str, t.Any]", json.loads(text))
