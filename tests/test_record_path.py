"""The record path: a record is written as read unless the catalog or a stream map asks more.

`DatadogStream.written_as_read` skips the SDK's selection pass, type conformance and stream
map when they would change nothing (docs/benchmarks.md); these pin down that they still apply
when they would.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

from tap_datadog_costs.writer import BufferedRecordWriter
from tests.support.records import data_of
from tests.support.running import selecting, sync
from tests.support.settings import recent_config

if t.TYPE_CHECKING:
    import pytest

    from simulator import DatadogSimulator

STREAM = "hourly_usage"


def rows(config: dict[str, t.Any], **options: t.Any) -> list[dict[str, t.Any]]:
    return [data_of(record) for record in sync(config, **options).records(STREAM)]


def test_a_property_left_out_of_the_catalog_is_left_out_of_the_records(
    api: DatadogSimulator,
) -> None:
    config = recent_config(api, days=1)
    catalog = selecting(config, (STREAM,))
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == STREAM)
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] == ["properties", "org_name"]:
            metadata["metadata"]["selected"] = False
    everything = rows(config, streams=(STREAM,))
    without = rows(config, catalog=catalog)
    assert everything
    assert all("org_name" in row for row in everything)
    assert without == [{k: v for k, v in row.items() if k != "org_name"} for row in everything]


def test_a_stream_map_still_maps_every_record(api: DatadogSimulator) -> None:
    config = recent_config(api, days=1)
    everything = rows(config, streams=(STREAM,))
    maps = {"stream_maps": {STREAM: {"value_again": "value", "region": "__NULL__"}}}
    mapped = rows({**config, **maps}, streams=(STREAM,))
    assert everything
    expected = [
        {**{k: v for k, v in row.items() if k != "region"}, "value_again": row["value"]}
        for row in everything
    ]
    assert mapped == expected


def test_a_record_is_written_as_the_bytes_of_the_sdks_record_message(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    extracted = dt.datetime(2026, 11, 10, 12, 0, 1, 234567, tzinfo=dt.timezone.utc)
    record = {"timestamp": "2026-11-10T11:00:00+00:00", "org_name": "Acme \u00e9", "value": 1.5}
    for version, when in itertools.product((None, 3), (None, extracted)):
        BufferedRecordWriter().write_record(STREAM, record, version, when)
        message = RecordMessage(STREAM, record, version=version, time_extracted=when)
        assert capsysbinary.readouterr().out == bytes(MsgSpecWriter().format_message(message))
    BufferedRecordWriter().write_record(STREAM, record, None, extracted)
    assert json.loads(capsysbinary.readouterr().out) == {
        "type": "RECORD",
        "stream": STREAM,
        "record": record,
        "time_extracted": "2026-11-10T12:00:01.234567Z",
    }
