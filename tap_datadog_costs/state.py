"""Reading ``--state``: a JSON object of bookmarks, or the STATE message(s) a run printed.

The SDK reads the file as JSON and hands it on; a file of the wrong shape then fails deep
inside with a traceback (an int, a list), or is silently ignored (a whole STATE message, whose
bookmarks sit under ``value``), and the run re-extracts everything.
"""

from __future__ import annotations

import json
import typing as t


class StateFileError(ValueError):
    """A state file that is not one the tap can resume from; the message names the file."""


def bookmarks_from(text: str, name: str) -> dict[str, t.Any]:
    """The state in a state file's text: ``{"bookmarks": ...}``.

    Accepted: the state object itself, one STATE message (``{"type": "STATE", "value":
    {...}}``), or a run's output lines, of which the last STATE message wins.
    """
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
    return t.cast("dict[str, t.Any]", document)


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
