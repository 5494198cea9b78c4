"""Reading ``--state``: a JSON object of bookmarks, or the STATE message(s) a run printed.

The SDK reads the file as JSON and hands it on; a file of the wrong shape then fails deep
inside with a traceback (an int, a list), or is silently ignored (a whole STATE message, whose
bookmarks sit under ``value``), and the run re-extracts everything.
"""

from __future__ import annotations

import json
import typing as t

from tap_datadog_costs.redaction import clip
from tap_datadog_costs.settings import setting_instant


class StateFileError(ValueError):
    """A state file that is not one the tap can resume from; the message names the file."""


def bookmarks_from(text: str, name: str) -> dict[str, t.Any]:
    """The state in a state file's text: ``{"bookmarks": ...}``.

    Accepted: the state object itself, one STATE message (``{"type": "STATE", "value":
    {...}}``), or a run's output lines, of which the last STATE message wins.
    """
    text = text.removeprefix("\ufeff")  # a byte order mark, as some Windows editors write
    if not text.strip():
        msg = f"The state file {name} is empty: {STATE_ADVICE}"
        raise StateFileError(msg)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        document = last_state_line(text)
        if document is None:
            msg = (
                f"The state file {name} is not JSON (line {error.lineno}, column {error.colno}: "
                f"{error.msg}): {STATE_ADVICE}"
            )
            raise StateFileError(msg) from None
    if isinstance(document, dict) and document.get("type") == "STATE":
        document = document.get("value")
    bookmarks = document.get("bookmarks", {}) if isinstance(document, dict) else None
    if not isinstance(bookmarks, dict) or not all(isinstance(b, dict) for b in bookmarks.values()):
        kind = type(document).__name__ if not isinstance(document, dict) else "object"
        msg = f"The state file {name} holds a JSON {kind} that is not a state: {STATE_ADVICE}"
        raise StateFileError(msg)
    problem = bookmark_problem(bookmarks)
    if problem:
        msg = f"The state file {name} {problem}: {STATE_ADVICE}"
        raise StateFileError(msg)
    return t.cast("dict[str, t.Any]", document)


def bookmark_problem(bookmarks: dict[str, dict[str, t.Any]]) -> str | None:
    """What makes a stream's bookmark unusable (every stream's is checked before any runs)."""
    for stream, entry in bookmarks.items():
        partitions = entry.get("partitions", [])
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            return f"holds for {stream} partitions that are not a list of objects"
        for where in (entry, *partitions):
            value = where.get("replication_key_value")
            if value is not None and not is_instant(value):
                return f"holds for {stream} the bookmark {clip(str(value), 40)!r}, not a date-time"
    return None


def is_instant(value: object) -> bool:
    """An ISO date-time, as the tap writes its bookmarks."""
    if not isinstance(value, str):
        return False
    try:
        setting_instant(value)
    except ValueError:
        return False
    return True


STATE_ADVICE = (
    'pass a JSON object such as {"bookmarks": {...}} or the last STATE line a run printed, '
    "or no --state to start from start_date"
)


def last_state_line(text: str) -> t.Any:  # noqa: ANN401
    """The last STATE message among JSON lines (a run's output), or None if it is not that."""
    found = None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return None
        if isinstance(message, dict) and message.get("type") == "STATE":
            found = message
    return found
