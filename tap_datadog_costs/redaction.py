r"""One redaction step every log record passes through: no key or URL secret in any output.

The keys (and any user, password or query of ``api_url``, and its path) are remembered as soon
as the config is read, in every form a key is printed in: as given, JSON-escaped (``"``, ``\``
and non-ASCII change), as Python's repr writes it, URL-encoded, with its white space
collapsed, and in UTF-8 read as latin-1. Every log record of the process is masked when it is
made (``install``), whatever logged it (us, the SDK, requests, urllib3), whatever handler or
formatter writes it, and whatever the text came from (our messages, Datadog's own error text
echoing a key, a traceback at DEBUG). Text cut for a message is masked before the cut (``clip``).
"""

from __future__ import annotations

import json
import logging
import re
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from tap_datadog_costs.settings import KEYS, key_value

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: What a secret becomes in the output.
MASK = "***"
#: Shorter values are not secrets worth masking (and masking them would garble every line).
SHORTEST_SECRET = 6
#: The hex digits of an escape (%e9, \u00e9, \xe9), whose case differs from writer to writer.
ESCAPE_HEX = re.compile(r"(?<=%)[0-9A-Fa-f]{2}|(?<=\\u)[0-9A-Fa-f]{4}|(?<=\\x)[0-9A-Fa-f]{2}")

_secrets: set[str] = set()
#: api_url's path: secret only where it is one, before the API's own (a proxy's token, or a
#: plain word such as "datadog" that must not be masked in every logger name).
_paths: set[str] = set()
_pattern: re.Pattern[str] | None = None


def spellings(secret: str) -> set[str]:
    """``secret`` in every form it may be printed in (its escapes' hex in either case)."""
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    escaped |= {repr(secret)[1:-1], ascii(secret)[1:-1]}
    escaped |= {form.replace("/", "\\/") for form in escaped}  # JSON may escape a slash
    encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    encoded.add(quote(secret, safe="", encoding="latin-1", errors="replace"))
    misread = secret.encode(errors="replace").decode("latin-1")  # UTF-8 read as latin-1
    forms = {secret, misread, *escaped, *encoded}
    forms |= {" ".join(form.split()) for form in forms}
    lower = {ESCAPE_HEX.sub(lambda digits: digits[0].lower(), form) for form in forms}
    return forms | lower | {ESCAPE_HEX.sub(lambda digits: digits[0].upper(), f) for f in forms}


def remember(config: Mapping[str, t.Any]) -> None:
    """Note the secrets of a config: the keys as given and stripped, and api_url's parts."""
    global _pattern  # noqa: PLW0603 - the process's one set of secrets
    for name in KEYS:
        value = config.get(name)
        if isinstance(value, str):
            _secrets.update({value, key_value(value)})
    api_url = config.get("api_url")
    if isinstance(api_url, str):
        try:
            url = urlsplit(api_url)
            _secrets.update(filter(None, (url.username, url.password)))
            _secrets.update(value for _, value in parse_qsl(url.query))
            _paths.update(filter(None, [url.path.strip("/")]))
        except ValueError:
            _secrets.add(api_url)  # unparsable: mask it whole
    for secret in [s for s in _secrets if len(s) < SHORTEST_SECRET]:
        _secrets.discard(secret)
    forms = {form for secret in _secrets for form in spellings(secret)}
    anywhere = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
    in_a_path = [f"(?<=/){re.escape(path)}(?=/api/)" for path in _paths]
    _pattern = re.compile("|".join(anywhere + in_a_path)) if forms or _paths else None


def redact(text: str) -> str:
    """``text`` with every remembered secret masked in any form (longest first: none in part)."""
    return _pattern.sub(MASK, text) if _pattern else text


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters, masked before each step.

    White space collapsed would change a key with a run of spaces; a key across the cut would
    leave its start.
    """
    return redact(" ".join(redact(text).split()))[:limit]


def mask(record: logging.LogRecord) -> None:
    """Mask a log record's secrets: its message, exception text and stack, as one text.

    A record holding none, and no exception, is left as it is. One that held some, or an
    exception, becomes plain text (no arguments, no exception object): a formatter printing
    the exception itself (the SDK's JSON one prints the context Python's traceback leaves
    out, and a URL in it) cannot print a secret from the original.
    """
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the message
        message = f"{record.msg} {record.args}"
    parts = [message]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    text = "\n".join(parts)
    masked = redact(text)
    if masked != text or record.exc_info:
        record.msg, record.args = masked, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None


def install() -> None:
    """Mask every log record of this process as it is made (once; records of any logger)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "masks", False):
        return

    def make_masked(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:  # noqa: ANN401
        record = make(*args, **kwargs)
        if _pattern:
            mask(record)
        return record

    make_masked.masks = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_masked)
