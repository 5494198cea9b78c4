"""Sending one request: a wall-clock deadline, a capped answer, bounded decompression, TLS.

``requests`` bounds only the gap between two bytes: a status line or body trickled at a byte
a second never times out, and a never-ending or gzip-bomb answer grows without limit. Here
the request runs in a worker thread that the caller waits for at most ``timeout`` seconds in
all (connect, status and the whole body); the body is read in chunks, decompressed by us with
an output limit, and refused past ``max_bytes``.

With requests in flight, an answer larger than COUNTED_FROM is read and checked in its turn
(``LargeAnswers``): whatever ``max_concurrency``, the run holds one such answer at a time, and
its memory stays within the bound one answer has (docs/reliability.md). Real pages are smaller.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
import typing as t
import zlib

import requests
import urllib3

from tap_datadog_costs.errors import AnswerTooLargeError, DeadlineError
from tap_datadog_costs.stopping import STOP_SLICE

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_datadog_costs.stopping import RunStop

CHUNK = 1 << 16
#: An answer may hold at most one JSON value per BYTES_PER_VALUE bytes of max_answer_mb (a real
#: one holds one per 20 bytes or so, far under the limit): so parsed, whatever its shape, it takes
#: at most about 6.5 times max_answer_mb, and the tap's peak at most 10 times over its baseline
#: (docs/reliability.md). 60 MB of empty objects (20 million dicts) took 2.9 GB before.
BYTES_PER_VALUE = 32
#: Answers smaller than this are not counted: their parse is bounded well below max_answer_mb.
COUNTED_FROM = 1 << 20
#: Encodings we ask for and decode ourselves (each with an output limit).
ACCEPT_ENCODING = "gzip, deflate"


#: glibc's mallopt parameter: the most malloc arenas threads allocate from (M_ARENA_MAX).
M_ARENA_MAX = -8


def one_allocator_arena() -> None:
    """Let every thread allocate from glibc's main arena (another C library: nothing to do).

    glibc gives threads arenas of their own. Under the GIL they buy nothing here, and each
    keeps what its thread freed: with reads in flight, the peak grew by about one answer per
    thread (answers just under max_answer_mb: 163 MB over a clean run's, 130 MB with one arena,
    146 MB one request at a time).
    """
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # no mallopt (macOS, Windows): their allocators differ
        return


class LargeAnswers:
    """The run's one turn for an answer over COUNTED_FROM: read, parsed and checked alone."""

    def __init__(self) -> None:
        self.turn = threading.Lock()


class Turn:
    """One request's claim on the large answers' turn: taken while reading, given back once.

    Taken by the thread reading the body when it passes COUNTED_FROM; given back by the caller
    once the answer is checked (``DatadogStream.send``), or by whichever side ends first when
    the answer is abandoned or fails.
    """

    def __init__(self, large: LargeAnswers) -> None:
        self.large = large
        self.held = False
        self._lock = threading.Lock()

    def take(self, cancelled: threading.Event) -> None:
        """Wait for the turn; DeadlineError if the caller stopped waiting for the answer."""
        while not self.large.turn.acquire(timeout=STOP_SLICE):
            if cancelled.is_set():
                raise DeadlineError
        with self._lock:
            self.held = True

    def give_back(self) -> None:
        """Give the turn back, if held (once: later calls do nothing)."""
        with self._lock:
            if self.held:
                self.held = False
                self.large.turn.release()


def certificate_authority(ca_bundle: str | None) -> str | bool:
    """What to verify TLS against: ca_bundle, else REQUESTS_CA_BUNDLE / SSL_CERT_FILE, else certifi.

    ``requests`` reads those variables only in Session.request, and the SDK sends with
    Session.send: without this, a company proxy's CA would be ignored.
    """
    return (
        ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True
    )


def decompressor(headers: Mapping[str, str]) -> t.Any:  # noqa: ANN401
    """A zlib decompressor for the answer's Content-Encoding (None for identity)."""
    encoding = headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in {"", "identity"}:
        return None
    if encoding in {"gzip", "x-gzip"}:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    msg = f"an answer encoded as {encoding[:20]!r}, which was not asked for"
    raise requests.exceptions.ContentDecodingError(msg)


def grown(size: int, more: int, max_bytes: int, turn: Turn, cancelled: threading.Event) -> int:
    """A body's size ``more`` bytes on: past COUNTED_FROM in its turn, past max_bytes refused."""
    total = size + more
    if size <= COUNTED_FROM < total:
        turn.take(cancelled)
    if total > max_bytes:
        raise AnswerTooLargeError
    return total


def read_body(
    response: requests.Response, max_bytes: int, cancelled: threading.Event, turn: Turn
) -> bytes:
    """The whole body, decompressed, or AnswerTooLargeError once it passes ``max_bytes``.

    Past COUNTED_FROM bytes, it waits for the large answers' ``turn`` before reading on.
    """
    inflate = decompressor(response.headers)
    parts: list[bytes] = []
    size = 0
    try:
        for raw in response.raw.stream(CHUNK, decode_content=False):
            if cancelled.is_set():
                break
            pending = raw
            while pending:  # decompressed a step at a time: a bomb never grows past the cap
                data = inflate.decompress(pending, CHUNK * 4) if inflate else pending
                pending = inflate.unconsumed_tail if inflate else b""
                size = grown(size, len(data), max_bytes, turn, cancelled)
                parts.append(data)
        if inflate:
            parts.append(inflate.flush())
    except AnswerTooLargeError:
        parts.clear()  # the exception keeps this frame alive through the retries
        raise
    except zlib.error as error:
        raise requests.exceptions.ContentDecodingError(str(error)) from None
    # urllib3's own errors, as requests names them when it reads a body itself (iter_content).
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from None
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ReadTimeout(error) from None
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from None
    return b"".join(parts)


def parseable(body: bytes, max_bytes: int) -> bytes:
    """``body``, or AnswerTooLargeError if parsing it could take more memory than allowed.

    That is, if it holds more JSON values than one per BYTES_PER_VALUE bytes of ``max_bytes``.
    """
    if len(body) >= COUNTED_FROM and json_values(body) > max_bytes // BYTES_PER_VALUE:
        del body  # the exception keeps this frame through the wait before the next attempt
        raise AnswerTooLargeError
    return body


def json_values(body: bytes) -> int:
    """About how many values a JSON text holds: one per comma, and a container per brace.

    Commas and brackets inside strings are counted too: it errs on the side of more.
    """
    return body.count(b",") + body.count(b"{") + body.count(b"[") + 1


def wake(response: requests.Response) -> None:
    """End a worker blocked reading ``response``'s body, without waiting for it.

    ``response.close()`` would wait: the body's buffered reader holds a lock while the worker
    reads, and a body sent behind its Content-Length at a byte a second keeps it for as long
    as the server likes. Shutting the socket down ends that read at once (the worker then fails
    and closes it). urllib3's ``HTTPResponse.connection`` is the connection the body is on.
    """
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # closed already: the read has ended
            sock.shutdown(socket.SHUT_RDWR)


def send_within(  # noqa: PLR0913 - the request, and the limits it is read within
    session: requests.Session,
    request: requests.PreparedRequest,
    *,
    timeout: float,
    max_bytes: int,
    verify: str | bool,
    stop: RunStop,
    turn: Turn,
) -> requests.Response:
    """Send ``request`` and read its whole answer within ``timeout`` seconds, or raise.

    A signal (``stop``) ends the wait for the answer at once, with Interrupted. An answer
    over COUNTED_FROM comes back holding ``turn``: the caller gives it back once it is checked.
    """
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING
    outcome: dict[str, t.Any] = {}
    done = threading.Event()
    cancelled = threading.Event()

    def work() -> None:
        if cancelled.is_set():  # given up before this thread ran: send nothing
            done.set()
            return
        try:
            response = session.send(
                request, timeout=timeout, allow_redirects=False, stream=True, verify=verify
            )
            outcome["response"] = response
            body = parseable(read_body(response, max_bytes, cancelled, turn), max_bytes)
            response._content = body  # noqa: SLF001 - what requests itself does after reading
            response._content_consumed = True  # noqa: SLF001
            response.close()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = error
            turn.give_back()
        finally:
            if cancelled.is_set():  # nobody checks this answer: its turn is over
                turn.give_back()
            done.set()

    worker = threading.Thread(target=work, name="datadog-request", daemon=True)

    def abandon() -> None:
        cancelled.set()
        turn.give_back()
        response = outcome.get("response")
        if response is not None:
            wake(response)

    worker.start()
    try:
        answered = stop.wait_for(done, timeout)
    except BaseException:  # Interrupted by a signal: nobody waits for this answer any more
        abandon()
        raise
    if not answered:
        abandon()
        raise DeadlineError
    if "error" in outcome:
        raise outcome["error"]
    return t.cast("requests.Response", outcome["response"])
