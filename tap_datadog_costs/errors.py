"""What went wrong, in one line: our exceptions, Datadog's error text, advice and permissions.

Pure text rules: no request is sent from here. Every message names the endpoint, never a
header, a key or a URL with its query.
"""

from __future__ import annotations

import json
import typing as t
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_datadog_costs.redaction import clip, redact

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: The words of Datadog's 400 to keys of a child org (or a plan without cost access).
NON_PARENT_MARKER = "non-parent org"


class AnswerTooLargeError(requests.exceptions.RequestException):
    """The answer (decompressed) is larger than the limit: a broken or hostile server."""


class DeadlineError(requests.exceptions.Timeout):
    """No whole answer within the deadline (connect, status line and body together)."""


#: Failures without a usable answer, in our words: theirs hold URLs and proxy addresses.
#: Timeout first, as a connect timeout is also a ConnectionError.
NETWORK_FAILURES: dict[type[Exception], str] = {
    requests.exceptions.Timeout: "no whole answer from {host} within request_timeout ({timeout} s)",
    requests.exceptions.ChunkedEncodingError: "the answer from {host} was cut off",
    requests.exceptions.ContentDecodingError: "the answer from {host} could not be decoded",
    AnswerTooLargeError: "the answer from {host} is larger than max_answer_mb ({max_mb} MB)",
    requests.exceptions.ConnectionError: "the connection to {host} failed or was reset",
    ConnectionError: "the connection to {host} failed or was reset",
}


#: What the application key's owner needs for each endpoint (the API reference's
#: x-permission), as each stream (``DatadogStream.permission``) or ``declare_endpoint`` says.
ENDPOINT_PERMISSIONS: dict[str, str | None] = {}


def declare_endpoint(path: str, permission: str | None) -> str:
    """Declare an endpoint (its path) and the permission it needs; returns the path."""
    if ENDPOINT_PERMISSIONS.setdefault(path, permission) != permission:
        msg = f"{path} declared twice, needing {ENDPOINT_PERMISSIONS[path]} and {permission}"
        raise ValueError(msg)
    return path


class DatadogAPIError(FatalAPIError):
    """A Datadog answer that retrying will not fix; the message says what to do."""


class DatadogRefusalError(DatadogAPIError):
    """Datadog answered and refused the request (a 3xx not followed, or a 4xx): ``status``.

    Only such an answer can say anything about the keys: a TLS or network failure, or
    retries run out, cannot.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Interrupted(Exception):  # noqa: N818 - what happened, not an error of ours
    """SIGTERM or SIGINT arrived: the run stops before its next record."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


class DatadogGaveUpError(DatadogAPIError):
    """Retries ran out: the last failure, and how many attempts were made."""


class AnnouncedWaitError(RetriableAPIError):
    """A 429 or 5xx that says how long to wait: retried after that, not after a guess."""

    def __init__(
        self, message: str, response: requests.Response, retry_after: float, source: str
    ) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after
        #: The header that said it: X-RateLimit-Reset or Retry-After.
        self.source = source


def too_long_a_wait(what: str, seconds: float, source: str, max_wait: float) -> DatadogAPIError:
    """A wait Datadog announced that is longer than max_wait_seconds allows, as one line."""
    return DatadogAPIError(
        f"{what}; Datadog asks to wait {seconds:,.0f} s ({source}), more than max_wait_seconds "
        f"({max_wait:g} s): run again later, or raise max_wait_seconds"
    )


def network_failure(
    exc: Exception, endpoint: str, host: str, limits: Mapping[str, float]
) -> RetriableAPIError:
    """A failure without an answer (one of NETWORK_FAILURES), as a retriable error in our words.

    ``limits``: ``timeout`` and ``max_mb``, the settings a message may name.
    """
    reason = next(words for error, words in NETWORK_FAILURES.items() if isinstance(exc, error))
    return RetriableAPIError(f"GET {endpoint}: {reason.format(host=host, **limits)}")


def certificate_failure(endpoint: str, host: str) -> DatadogAPIError:
    """A TLS certificate that does not verify: not retried, and what to do about a proxy."""
    return DatadogAPIError(
        f"GET {endpoint}: the TLS certificate of {host} could not be verified: if a company "
        "proxy inspects TLS, set ca_bundle (or REQUESTS_CA_BUNDLE) to its CA bundle file"
    )


#: How much of an error answer that is not JSON a message quotes (on one line).
ERROR_TEXT_LIMIT = 200


def endpoint_of(url: str, base_url: str) -> str:
    """The endpoint ``url`` asks, as messages name it: its path after ``base_url``'s own.

    A proxy's path in api_url may hold a token; and permissions are declared per endpoint.
    """
    path = urlsplit(url).path
    prefix = urlsplit(base_url).path.rstrip("/")
    return path[len(prefix) :] if prefix and path.startswith(prefix + "/") else path


def datadog_error_words(body: t.Any, text: str, reason: str) -> str:  # noqa: ANN401
    """Datadog's own error text, on one line: a list of strings or of JSON:API objects.

    ``body`` is the decoded answer (None when it was not JSON); ``text`` the raw one.
    """
    if not isinstance(body, dict):
        return clip(text, ERROR_TEXT_LIMIT) or clip(reason, ERROR_TEXT_LIMIT)
    errors = body.get("errors")
    if not isinstance(errors, list):
        errors = [errors] if errors else []
    words = [
        (error.get("detail") or error.get("title") or json.dumps(error))
        if isinstance(error, dict)
        else str(error)
        for error in errors
    ]
    return redact("; ".join(words)) or clip(reason, ERROR_TEXT_LIMIT)


def advice_for(endpoint: str, status: int, words: str) -> str:
    """What a user should do about a refused request (naming what its endpoint needs)."""
    if status < HTTPStatus.BAD_REQUEST:
        return "Datadog redirected the request: check site and api_url (keys are not sent on)"
    if NON_PARENT_MARKER in words:
        return (
            "these keys belong to a child organization or to a plan without cost "
            "access: use keys of the parent organization on a Pro or Enterprise plan"
        )
    if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
        permission = ENDPOINT_PERMISSIONS.get(endpoint)
        lacking = f", or the application key lacks {permission}" if permission else ""
        return f"check api_key, app_key and site: the keys are invalid or revoked{lacking}"
    if status == HTTPStatus.NOT_FOUND:
        return "check site and api_url: this endpoint does not exist there"
    return "Datadog refused the request: check start_date, end_date and product_families"
