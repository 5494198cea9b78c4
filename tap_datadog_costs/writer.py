"""The Singer message writer: msgspec, with stdout flushed at every message but RECORD."""

from __future__ import annotations

import io
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib.messages import SingerMessageType

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override


class BufferedRecordWriter(MsgSpecWriter):
    """msgspec messages, flushed at every message but RECORD.

    The SDK's writer flushes stdout after each record: one system call per row (and,
    with PYTHONUNBUFFERED set, as Docker images and CI often do, stdout has no buffer
    at all). Records still reach the target before any STATE that follows them (same
    buffer, in order), so a bookmark never covers a row the target has not been sent.
    """

    _raw: t.Any = None
    _out: t.Any = None

    @override
    def write_message(self, message: t.Any) -> None:
        raw = sys.stdout.buffer
        if raw is not self._raw:  # first message, or stdout was replaced
            self._raw = raw
            self._out = io.BufferedWriter(raw, 1 << 16) if isinstance(raw, io.FileIO) else raw
        self._out.write(self.format_message(message))
        if message.type != SingerMessageType.RECORD:
            self._out.flush()
