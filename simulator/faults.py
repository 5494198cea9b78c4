"""Faults the tests inject: error answers, broken connections and hostile answers.

What a failing server, a proxy in between, or a careless or hostile server may do to a client
(DatadogSimulator.inject queues them). A hostile answer stops by itself after HOSTILE_SECONDS.
"""

from __future__ import annotations

import functools
import itertools
import math
import socket
import ssl
import struct
import time
import zlib
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

from .api import Reply

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

#: A careless server repeating the credentials in its error answer, in each form a key takes:
#: as text in a JSON error (echo), inside a JSON object (echo-json: a client printing the
#: object escapes ", \ and non-ASCII), URL-encoded (echo-url), in a text body as sent
#: (echo-text: a client collapsing white space changes it, and one reading the UTF-8 as
#: latin-1), and in a text body across its 200th character (echo-cut: a client cutting the
#: text there keeps the key's start).
ECHO_FORMS = ("echo", "echo-json", "echo-url", "echo-text", "echo-cut")
FAULT_KINDS = (
    "500", "503", "429", "403", "reset", "slow", "truncated", "nonjson", "redirect", "headers",
    "trickle", "trickle-body", "endless", "gzipbomb", "fresh_cursor", *ECHO_FORMS,
)  # fmt: skip
FAULT_MESSAGES = {
    "403": "Forbidden",  # what Datadog answers a key lacking the endpoint's permission
    "500": "Internal Server Error",
    "503": "Service Unavailable",
    "429": "Rate limit exceeded",
}
#: Faults answered with a reply of their own (fault_reply), in place of the endpoint's.
REPLIED_FAULTS = (*FAULT_MESSAGES, "nonjson", "redirect", "fresh_cursor")
#: Faults answered by writing to the socket ourselves (send_hostile).
STREAMED_FAULTS = ("trickle", "trickle-body", "endless", "gzipbomb")
#: The cursors of ``fresh_cursor`` pages: never the same twice in a simulator's life.
FRESH_CURSORS = itertools.count(1)
#: How long a hostile answer goes on at most, if its client never gives up.
HOSTILE_SECONDS = 60
CHUNK_SIZE = 1 << 16


@functools.cache
def gzip_bomb() -> bytes:
    """256 MB of spaces, gzipped (made once, in about a second)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(256)) + squeeze.flush()


def fault_reply(kind: str, seconds: float) -> Reply:
    """The answer a fault of ``kind`` gives in place of the endpoint's."""
    if kind == "nonjson":
        return Reply(200, b"<html>upstream error</html>", "text/html")
    if kind == "redirect":  # to another host: a client following it would leak its keys
        return Reply(302, b"", "text/html", {"Location": "http://127.0.0.2:9/elsewhere"})
    if kind == "fresh_cursor":  # a hostile server: no row, and a next page that is always new
        cursor = f"fresh-{next(FRESH_CURSORS)}"
        return Reply.json({"data": [], "meta": {"pagination": {"next_record_id": cursor}}})
    reply = Reply.json({"errors": [FAULT_MESSAGES[kind]]}, int(kind))
    if kind == "429":
        reply.headers = {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(max(1, math.ceil(seconds))),
        }
    return reply


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """SO_LINGER 0: closing sends RST, the client sees the connection reset mid-request."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


#: Where echo-cut puts the middle of the API key in its text body.
ECHO_CUT_AT = 200


def echo_reply(kind: str, keys: tuple[str | None, str | None]) -> Reply:
    """A 403 repeating the credentials (as the headers carried them) in one of ECHO_FORMS."""
    api, app = (key or "" for key in keys)
    if kind == "echo-json":
        return Reply.json({"errors": [{"meta": {"api_key": api, "app_key": app}}]}, 403)
    if kind == "echo-url":
        query = f"api_key={quote(api, safe='')}&app_key={quote_plus(app)}"
        query += f"&dd_api_key={quote_plus(api)}&dd_app_key={quote(app, safe='').lower()}"
        return Reply.json({"errors": [f"Forbidden: GET /api/v1/validate?{query}"]}, 403)
    message = f"Forbidden: API key {api} with application key {app} is not valid"
    if kind == "echo-cut":
        message = "x" * (ECHO_CUT_AT - len(api) // 2) + api + " " + message
    if kind in {"echo-text", "echo-cut"}:  # UTF-8 without a charset: read as latin-1 (RFC 2616)
        return Reply(403, message.encode(), "text/plain")
    return Reply.json({"errors": [message]}, 403)


def send_hostile(handler: BaseHTTPRequestHandler, kind: str, reply: Reply, seconds: float) -> None:
    """Answers no client should wait for or hold in memory whole; each stops by itself.

    trickle: the whole answer, status line first, one byte every ``seconds``; trickle-body: the
    status and headers (with the body's Content-Length) at once, then the body so; endless: a
    chunked body that does not end; gzipbomb: 256 MB of spaces in a 250 kB gzip body.
    """
    handler.close_connection = True
    deadline = time.monotonic() + HOSTILE_SECONDS
    head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
    try:
        if kind in {"trickle", "trickle-body"}:
            head = f"{head}Content-Length: {len(reply.body)}\r\n\r\n"
            if kind == "trickle-body":  # the status and headers at once, then the body slowly
                handler.wfile.write(head.encode())
                handler.wfile.flush()
                head = ""
            data = head.encode() + reply.body
            for byte in data:
                if time.monotonic() > deadline:
                    break
                handler.wfile.write(bytes([byte]))
                time.sleep(seconds)
        elif kind == "endless":
            handler.wfile.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            chunk = b"%x\r\n%s\r\n" % (CHUNK_SIZE, b" " * CHUNK_SIZE)
            while time.monotonic() < deadline:
                handler.wfile.write(chunk)
        else:
            body = gzip_bomb()
            handler.wfile.write(
                f"{head}Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the client gave up: what it should do
