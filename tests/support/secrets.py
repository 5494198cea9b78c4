"""Keys whose every printable form differs from the key, and those forms as bytes to look for.

A key given away in another spelling is given away all the same: JSON-escaped (``"``, ``\\``
and non-ASCII change), URL-encoded, with its white space collapsed, as Python's repr writes
it, UTF-8 read as latin-1, or cut in half.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

#: Keys with a quote, a backslash, a latin-1 letter (headers carry latin-1) and a run of spaces.
ODD_KEYS = ('dd-"api\\kéy  7f3a9c', 'dd app\\kéy  "b81e40"')
#: Keys as Datadog issues them (32 and 40 hex digits): their start is as secret as the whole.
HEX_KEYS = ("5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f", "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d")


def spellings(key: str) -> set[str]:
    """The key as text, in every form a server or a client may print it."""
    escaped = {json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=False)[1:-1], repr(key)[1:-1]}
    encoded = {quote(key, safe=""), quote_plus(key), quote(key, safe="", encoding="latin-1")}
    misread = key.encode().decode("latin-1")  # UTF-8 read as latin-1, as text without a charset
    forms = {key, misread, *escaped, *encoded, *(form.lower() for form in encoded)}
    return forms | {" ".join(form.split()) for form in forms}


def giveaways(*keys: str) -> list[bytes]:
    """Every byte string that would give one of ``keys`` away: each spelling, whole and its
    first half, in UTF-8 and (where it can be) latin-1."""
    texts = {
        part for key in keys for form in spellings(key) for part in (form, form[: len(form) // 2])
    }
    latin = {text.encode("latin-1") for text in texts if max(map(ord, text), default=0) < 0x100}
    return sorted({text.encode() for text in texts} | latin)


def given_away(output: bytes, *keys: str) -> list[bytes]:
    """The giveaways of ``keys`` that ``output`` holds (none, or the test fails)."""
    return [giveaway for giveaway in giveaways(*keys) if giveaway in output]
