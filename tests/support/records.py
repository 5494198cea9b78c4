"""What a target holds: records without their read time, merged on their primary keys, and
checks on them."""

from __future__ import annotations

import typing as t

from tests.support.endpoints import PRIMARY_KEYS, RUN_FIELDS

if t.TYPE_CHECKING:
    from tests.support.running import SyncResult


def data_of(record: dict[str, t.Any]) -> dict[str, t.Any]:
    """A record without the fields that say when it was read (RUN_FIELDS)."""
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def merge_on_keys(
    stream: str, *record_lists: list[dict[str, t.Any]]
) -> dict[tuple[t.Any, ...], dict[str, t.Any]]:
    """What a target merging on the primary keys holds: the last write of each key (its data)."""
    merged: dict[tuple[t.Any, ...], dict[str, t.Any]] = {}
    for records in record_lists:
        for record in records:
            merged[tuple(record[k] for k in PRIMARY_KEYS[stream])] = data_of(record)
    return merged


def duplicate_keys(stream: str, records: list[dict[str, t.Any]]) -> list[tuple[t.Any, ...]]:
    """Primary keys that occur more than once (our own check: the SDK's cannot fail)."""
    seen: set[tuple[t.Any, ...]] = set()
    duplicates = []
    for record in records:
        key = tuple(record[k] for k in PRIMARY_KEYS[stream])
        if key in seen or any(part is None for part in key):
            duplicates.append(key)
        seen.add(key)
    return duplicates


def assert_same_records(result: SyncResult, clean: SyncResult) -> None:
    """Every stream emitted exactly the data an undisturbed run emits, in the same order."""
    for stream in PRIMARY_KEYS:
        ours = [data_of(record) for record in result.records(stream)]
        assert ours == [data_of(record) for record in clean.records(stream)], stream
