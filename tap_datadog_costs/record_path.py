"""The record path: RECORD messages made from the records as read.

When nothing would change a record, it is written as read; the SDK's bookmark per record runs
only where a stream wants it, its child-stream pass only where a stream has children (all SDK
internals: docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_datadog_costs.writer import BufferedRecordWriter

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class RecordPath(RESTStream[t.Any]):
    """Records written as read, when the SDK's per-record passes would change nothing."""

    # Our records are built field by field with the schema's types: skip re-conforming.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: Whether the SDK moves the bookmark per record (to the latest value emitted); a stream
    #: that moves it at its own boundaries (``move_bookmark``) turns this off.
    bookmark_per_record = True

    @functools.cached_property
    def written_as_read(self) -> bool:
        """Whether a record can be written as read, without the SDK's per-record passes.

        True when every property is selected, no stream map or flattening applies, and records
        are not re-conformed (``TYPE_CONFORMANCE_LEVEL``): the SDK's selection pass, type
        conformance and stream map would then change nothing.
        """
        maps = self.stream_maps
        return (
            all(self.mask.values())
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
        )

    @functools.cached_property
    def record_writer(self) -> BufferedRecordWriter | None:
        """Our writer, to hand records as read to (``written_as_read``); None: the SDK's path."""
        writer = self._tap.message_writer
        if self.written_as_read and isinstance(writer, BufferedRecordWriter):
            return writer
        return None

    @override
    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """The record as read, straight to our writer: no selection pass, conformance or map.

        Otherwise (a deselected property, a stream map, another writer) the SDK's.
        """
        writer = self.record_writer
        if writer is None:
            super()._write_record_message(record)
            return
        writer.write_record(
            self.name, record, self._stream_version, dt.datetime.now(dt.timezone.utc)
        )
        self.state_manager.is_flushed = False  # as the SDK's: the state has a STATE to write

    @override
    def _process_record(
        self,
        record: dict[str, t.Any],
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        """The SDK's per-record pass for child streams and partitions, where there are any.

        Without either it changes nothing: it copies a context per record to sync no child.
        """
        if self.child_streams or partition_context:
            super()._process_record(
                record, child_context=child_context, partition_context=partition_context
            )

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        """The SDK's bookmark per record, unless the stream moves it itself (``move_bookmark``)."""
        if self.bookmark_per_record:
            super()._increment_stream_state(latest_record, context=context)
