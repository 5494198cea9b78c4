"""The streams' JSON schemas, typed from Datadog's API reference."""

from __future__ import annotations

import copy
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


def extend_schema(
    base: dict[str, t.Any], properties: dict[str, t.Any], required: tuple[str, ...] = ()
) -> dict[str, t.Any]:
    """A copy of ``base`` with more (or replaced) properties: streams that share a row shape.

    A stream whose rows are another stream's plus a few fields (a projection's snapshot day, a
    daily row's own cost) declares only those fields.
    """
    schema = copy.deepcopy(base)
    schema["properties"].update(copy.deepcopy(properties))
    schema["required"] = [*schema.get("required", ()), *required]
    return schema
