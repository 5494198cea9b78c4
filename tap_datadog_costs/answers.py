"""Datadog's answers: decoded once, whose each item is, and what makes one unusable.

Pure checks on what Datadog sent: an answer that does not fit the stream's schema is a broken
answer (retried, then one line), never written.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import typing as t
import weakref
from http import HTTPStatus

import msgspec
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.errors import advice_for, datadog_error_words, endpoint_of
from tap_datadog_costs.periods import parse_instant
from tap_datadog_costs.redaction import clip

if t.TYPE_CHECKING:
    import requests

#: The fields that say whose a usage or cost item is, in the order our records carry them.
ORG_IDENTITY_FIELDS = ("public_id", "org_name", "account_name", "account_public_id", "region")


#: Held while a stream notes a kind of repair it warned of (pages are read in several threads).
_WARNING = threading.Lock()
_BODIES: weakref.WeakKeyDictionary[requests.Response, t.Any] = weakref.WeakKeyDictionary()


#: A JSON escape of a UTF-16 surrogate: the only way a body can carry a lone one.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
#: Per answer, the fields whose text held a lone surrogate, and how many values.
_REPAIRED: weakref.WeakKeyDictionary[requests.Response, dict[str, int]] = (
    weakref.WeakKeyDictionary()
)


#: Strict JSON in UTF-8, the common case: about twice as fast as ``json.loads``. It refuses
#: what the lenient path reads or repairs (NaN and Infinity, a lone surrogate escape, numbers
#: out of a float's range, a byte order mark, UTF-16 or UTF-32) and what is no JSON at all;
#: whatever it accepts, ``json.loads`` reads as the same values (tests/test_answers.py).
STRICT_JSON = msgspec.json.Decoder()


def decode(response: requests.Response) -> t.Any:  # noqa: ANN401
    """The answer's JSON body, parsed once: validation, records and paging all read it.

    ValueError for a body that is no JSON we can read (nested deeper than Python recurses
    included). A UTF-16 surrogate escape left unpaired, which no UTF-8 output can carry,
    becomes U+FFFD; NaN and Infinity, and numbers beyond a float's range, are counted (``repairs``
    says what and how many).
    """
    try:
        return _BODIES[response]
    except KeyError:
        pass
    try:
        body = STRICT_JSON.decode(response.content)
    except (ValueError, RecursionError):  # msgspec's DecodeError is a ValueError
        body, repaired = lenient_json(response.content)
        if repaired:
            _REPAIRED[response] = repaired
    _BODIES[response] = body
    return body


def lenient_json(content: bytes) -> tuple[t.Any, dict[str, int]]:
    """A body strict JSON refused, read as ``json.loads`` reads it; what was repaired, counted.

    ValueError if it is no JSON even so.
    """
    repaired: dict[str, int] = {}

    def not_a_number(constant: str) -> float:
        repaired[NOT_A_NUMBER] = repaired.get(NOT_A_NUMBER, 0) + 1
        return float(constant)

    def a_float(text: str) -> float:
        number = float(text)
        if math.isinf(number):
            repaired[BEYOND_A_FLOAT] = repaired.get(BEYOND_A_FLOAT, 0) + 1
        return number

    try:
        body = json.loads(content, parse_constant=not_a_number, parse_float=a_float)
    except RecursionError:
        msg = "nested deeper than the tap reads"
        raise ValueError(msg) from None
    if SURROGATE_ESCAPE.search(content):
        body = without_lone_surrogates(body, "", repaired)
    return body, repaired


#: What the tap wrote in place of a NaN or Infinity (JSON has no such numbers; Python reads them).
NOT_A_NUMBER = "numbers that are NaN or Infinity, which JSON does not allow: written as null"
#: What the tap wrote in place of a number JSON allows but no float holds (Python reads it as
#: Infinity).
BEYOND_A_FLOAT = "numbers beyond a float's range (such as 1e400): written as null"


def forgotten(response: requests.Response) -> requests.Response:
    """``response`` without its body, raw or parsed.

    A broken answer's exception keeps it through the wait before the next attempt, which would
    then hold two answers at once.
    """
    _BODIES.pop(response, None)
    response._content = b""  # noqa: SLF001 - requests' own cache of the body
    return response


def repairs(response: requests.Response) -> dict[str, int]:
    """What in an answer the tap wrote otherwise than sent, with how many values each."""
    return _REPAIRED.get(response, {})


def without_lone_surrogates(value: t.Any, field: str, repaired: dict[str, int]) -> t.Any:  # noqa: ANN401
    """``value`` with every lone surrogate in its text replaced by U+FFFD, counted per field."""
    if isinstance(value, str):
        fixed = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if fixed != value:
            what = (
                f"values of {field} holding a lone surrogate (no Unicode text): written with U+FFFD"
            )
            repaired[what] = repaired.get(what, 0) + 1
        return fixed
    if isinstance(value, dict):
        return {
            without_lone_surrogates(k, "a field name", repaired): without_lone_surrogates(
                v, k, repaired
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_lone_surrogates(v, field, repaired) for v in value]
    return value


def org_identity(
    attributes: dict[str, t.Any], fields: tuple[str, ...] = ORG_IDENTITY_FIELDS
) -> dict[str, t.Any]:
    """Whose an item is: the org (and partner account) fields, None where Datadog sent none.

    ``fields``: those a stream's rows carry (all of ORG_IDENTITY_FIELDS by default).
    """
    return {field: attributes.get(field) for field in fields}


def attributes_problem(item: dict[str, t.Any], *, of_an_org: bool) -> str | None:
    """Why a JSON:API item has no usable ``attributes`` (naming its org, if ``of_an_org``)."""
    attributes = item.get("attributes")
    if not isinstance(attributes, dict):
        return "has no attributes"
    if of_an_org and not isinstance(attributes.get("public_id"), str):
        return "has no attributes.public_id"
    return None


def instant_problem(value: object, field: str) -> str | None:
    """Why ``value`` (an item's ``field``) is not a date-time we can read, or None."""
    try:
        parse_instant(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        return f"has no date-time in {field}: {clip(str(value), 40)!r}"
    return None


#: Python types of each JSON schema type: exact types (a bool is not a number here).
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def field_types(schema: dict[str, t.Any]) -> dict[str, frozenset[type]]:
    """Per property of a stream schema, the exact Python types its values may have."""
    types = {}
    for name, spec in schema["properties"].items():
        declared = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        types[name] = frozenset(kind for json in declared for kind in JSON_TYPES[json])
    return types


def flag(value: bool) -> str:  # noqa: FBT001
    """A boolean query parameter as Datadog spells it."""
    return "true" if value else "false"


def next_record_id(body: dict[str, t.Any]) -> t.Any:  # noqa: ANN401
    """``meta.pagination.next_record_id``; None when ``meta`` or ``pagination`` is absent."""
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    return pagination.get("next_record_id") if isinstance(pagination, dict) else None


def paging_problem(body: dict[str, t.Any]) -> str | None:
    """Why an answer's paging cannot be followed, or None: each level absent, or the shape."""
    meta = body.get("meta")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return f"with a meta that is not an object: {clip(str(meta), 40)!r}"
    pagination = meta.get("pagination")
    if pagination is not None and not isinstance(pagination, dict):
        return f"with a meta.pagination that is not an object: {clip(str(pagination), 40)!r}"
    cursor = next_record_id(body)
    if cursor is not None and not isinstance(cursor, str):
        return f"with a meta.pagination.next_record_id that is not text: {clip(str(cursor), 40)!r}"
    return None


class AnswerChecks(RESTStream[t.Any]):
    """A stream's checks of an answer's shape and of each item against its schema."""

    #: Where an answer lists its items.
    records_key = "data"
    #: 408 and 429 are worth another try (as in Datadog's own client); 5xx always are.
    extra_retry_statuses = (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS)
    #: The query parameter of the page cursor, if the endpoint answers in pages (paging.py).
    page_cursor_param: str | None

    def answer_problem(self, body: object, own_endpoint: bool) -> str | None:  # noqa: FBT001
        """What makes a decoded answer unusable: no JSON object, or its shape.

        The shape is checked on this stream's own endpoint only, not on a probe of another.
        """
        if not isinstance(body, dict):
            return "with a body that is not JSON"
        return self.shape_problem(body) if own_endpoint else None

    def shape_problem(self, body: dict[str, t.Any]) -> str | None:
        """What makes an answer unusable (no ``data`` list, an item we cannot key), or None.

        Such an answer is retried like a broken one and then fails the stream: counting it as
        "no rows" would move a bookmark over data Datadog never sent.
        """
        items = body.get(self.records_key)
        if not isinstance(items, list):
            return f"without a '{self.records_key}' list"
        for item in items:
            problem = self.item_problem(item) if isinstance(item, dict) else "is not an object"
            if problem:
                return f"with an item that {problem}"
        return paging_problem(body) if self.page_cursor_param else None

    #: Items are JSON:API objects whose ``attributes`` must name their org (True) or need not
    #: (False); None: any object can become records, unless ``item_problem`` says otherwise.
    attributes_of_an_org: t.ClassVar[bool | None] = None

    @functools.cached_property
    def repairs_warned(self) -> set[str]:
        """The repairs this stream has warned about."""
        return set()

    def warn_of_repairs(self, response: requests.Response) -> None:
        """One warning a run per kind of value this stream wrote otherwise than Datadog sent it."""
        for what, count in repairs(response).items():
            with _WARNING:  # pages in flight: one warning, whichever thread reads it first
                first = what not in self.repairs_warned
                self.repairs_warned.add(what)
            if first:
                self.logger.warning("%s: Datadog sent %d %s", self.name, count, what)

    def item_problem(self, item: dict[str, t.Any]) -> str | None:
        """Why one item of the answer cannot become records, or None.

        Its ``attributes`` (if items carry them: ``attributes_of_an_org``), then what
        ``fields_problem`` finds in them.
        """
        if self.attributes_of_an_org is None:
            return None
        return attributes_problem(item, of_an_org=self.attributes_of_an_org) or self.fields_problem(
            item["attributes"]
        )

    def fields_problem(self, attributes: dict[str, t.Any]) -> str | None:  # noqa: ARG002
        """Why an item's ``attributes`` cannot become records (default: they can)."""
        return None

    @functools.cached_property
    def field_types(self) -> dict[str, frozenset[type]]:
        """The exact Python types each field of this stream's records may have (schema)."""
        return field_types(self.schema)

    def misfit(self, values: dict[str, t.Any], fields: tuple[str, ...], where: str) -> str | None:
        """The first of ``fields`` whose value in ``values`` breaks the schema, said; or None.

        A check per declared field type, on the values taken from Datadog as they are: a row
        that does not fit its schema is a broken answer (retried, then one line), never written.
        """
        types, value_of = self.field_types, values.get  # bound once: it runs for every item
        for field in fields:
            if type(value_of(field)) not in types[field]:
                value = clip(repr(value_of(field)), 40)
                return f"has {where}{field} = {value}, which its schema does not allow"
        return None

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Endpoint, status, Datadog's words and, for a refusal, what to do: one line.

        Replaces the SDK's default, which appends the raw body and header names.
        """
        status = response.status_code
        endpoint = endpoint_of(response.url, self.url_base)
        try:
            body = decode(response)
        except ValueError:
            body = None
        words = datadog_error_words(body, response.text, response.reason)
        msg = f"Datadog answered {status} to GET {endpoint}: {words}"
        if status < HTTPStatus.INTERNAL_SERVER_ERROR and status not in self.extra_retry_statuses:
            msg += f" ({advice_for(endpoint, status, words)})"
        return msg
