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

from .api import Reply

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

FAULT_KINDS = (
    "500", "503", "429", "403", "reset", "slow", "truncated", "nonjson", "redirect", "headers",
    "echo", "trickle", "endless", "gzipbomb", "fresh_cursor",
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
STREAMED_FAULTS = ("trickle", "endless", "gzipbomb")
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


def echo_reply(keys: tuple[str | None, str | None]) -> Reply:
    """A careless server repeating the credentials in its error text."""
    message = f"Forbidden: API key {keys[0]} with application key {keys[1]} is not valid"
    return Reply.json({"errors": [message]}, 403)


def send_hostile(handler: BaseHTTPRequestHandler, kind: str, reply: Reply, seconds: float) -> None:
    """Answers no client should wait for or hold in memory whole; each stops by itself.

    trickle: the whole answer, status line first, one byte every ``seconds``; endless: a
    chunked body that does not end; gzipbomb: 256 MB of spaces in a 250 kB gzip body.
    """
    handler.close_connection = True
    deadline = time.monotonic() + HOSTILE_SECONDS
    head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: {reply.content_type}\r\n"
    try:
        if kind == "trickle":
            data = (f"{head}Content-Length: {len(reply.body)}\r\n\r\n").encode() + reply.body
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
