"""One redaction step every log record passes through: no key or URL secret in any output.

The keys (and any user, password or query of ``api_url``) are remembered as soon as the
config is read; a filter on every log handler then replaces them in the message, the
exception text and the stack of each record, whatever logged it (us, the SDK, requests,
urllib3) and whatever the text came from (our messages, Datadog's own error text echoing a key,
a traceback at DEBUG).
"""

from __future__ import annotations

import logging
import typing as t
from urllib.parse import parse_qsl, urlsplit

from tap_datadog_costs.settings import KEYS, key_value

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: What a secret becomes in the output.
MASK = "***"
#: Shorter values are not secrets worth masking (and masking them would garble every line).
SHORTEST_SECRET = 6

_secrets: set[str] = set()


def remember(config: Mapping[str, t.Any]) -> None:
    """Note the secrets of a config: the keys as given and stripped, and api_url's userinfo."""
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
        except ValueError:
            _secrets.add(api_url)  # unparsable: mask it whole
    for secret in [s for s in _secrets if len(s) < SHORTEST_SECRET]:
        _secrets.discard(secret)


def redact(text: str) -> str:
    """``text`` with every remembered secret masked (longest first, so none leaks in part)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class Redactor(logging.Filter):
    """Masks secrets in a record's message, exception text and stack before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install() -> None:
    """Put the Redactor on every handler configured now (root and named loggers)."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]  # fmt: skip
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, Redactor) for f in handler.filters):
                handler.addFilter(Redactor())
