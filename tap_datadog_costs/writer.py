"""The Singer message writer: msgspec, with stdout flushed at every message but RECORD."""

from __future__ import annotations

import io
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.messages import SingerMessageType
from typing_extensions import override

if t.TYPE_CHECKING:
    import datetime as dt

    from tap_datadog_costs.stopping import RunStop


class BufferedRecordWriter(MsgSpecWriter):
    """msgspec messages, flushed at every message but RECORD.

    The SDK's writer flushes stdout after each record: one system call per row (and,
    with PYTHONUNBUFFERED set, as Docker images and CI often do, stdout has no buffer
    at all). Records still reach the target before any STATE that follows them (same
    buffer, in order), so a bookmark never covers a row the target has not been sent.
    """

    _raw: t.Any = None
    _out: t.Any = None
    #: The last STATE written, and whether a RECORD followed it (see end_on_state).
    _last_state: t.Any = None
    _record_since_state = False
    #: The run's stop (the tap sets it), looked at before every RECORD: a run stops before
    #: the next record, never in the middle of one.
    stop: RunStop | None = None

    @override
    def write_message(self, message: t.Any) -> None:
        if message.type == SingerMessageType.RECORD:
            self.write_record(
                message.stream, message.record, message.version, message.time_extracted
            )
            return
        out = self.out
        out.write(self.format_message(message))
        if message.type == SingerMessageType.STATE:
            self._last_state, self._record_since_state = message, False
        out.flush()

    def write_record(
        self,
        stream: str,
        record: dict[str, t.Any],
        version: int | None,
        extracted: dt.datetime | None,
    ) -> None:
        """A RECORD message, unflushed: the bytes of the SDK's RecordMessage, without one.

        Making that dataclass and taking it apart again (``to_dict``) was most of the CPU of
        writing a record (docs/benchmarks.md). ``extracted`` is in UTC. First, the run's stop:
        a run stops before a record, never in the middle of one.
        """
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        if extracted is not None:
            message["time_extracted"] = extracted
        stop = self.stop
        if stop is not None and stop.signum:
            if self._out is not None:
                self._out.flush()  # whole records only: each was written in one piece
            stop.check()
        self.out.write(serialize_jsonl(message))
        self._record_since_state = True

    @property
    def out(self) -> t.Any:  # noqa: ANN401
        """The bytes of stdout, through a buffer of our own if it has none (PYTHONUNBUFFERED)."""
        raw = sys.stdout.buffer
        if raw is not self._raw:  # first message, or stdout was replaced
            self._raw = raw
            self._out = io.BufferedWriter(raw, 1 << 16) if isinstance(raw, io.FileIO) else raw
        return self._out

    def end_on_state(self) -> None:
        """Write the last STATE again if a RECORD came after it: a run ends on a STATE.

        The SDK writes a STATE only when the state changed; targets that write back the state
        only when the last message is one (target-jsonl) would otherwise write none.
        """
        if self._record_since_state and self._last_state is not None:
            self.write_message(self._last_state)
