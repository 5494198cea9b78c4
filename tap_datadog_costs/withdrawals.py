"""Lines Datadog stops listing: the keys of each open period, and the rows that withdraw them.

Datadog revises every period that is still open (an estimate daily, a preliminary month until
it is final), and a revision can drop a line: a product, a day, an org. A target that merges on
the primary key (target-duckdb, target-postgres, a JSONL consumer keeping the latest row per
key) keeps a row for good once written. So a stream that withdraws remembers in its state, for
each period still open, the keys it emitted (``Ledger``, compact: positions in the product of
each key field's distinct values, delta-coded and compressed); a re-read of the period emits,
for each key no longer listed, a row with that key, zero cost and the status ``withdrawn``.
A period leaves the state once it can no longer change (final) or is no longer read.
"""

from __future__ import annotations

import base64
import functools
import math
import typing as t
import zlib

from singer_sdk.streams import RESTStream

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk.helpers.types import Context

    from tap_datadog_costs.run_context import RunContext

#: The status of a row that withdraws a line Datadog no longer lists (its cost is 0).
WITHDRAWN = "withdrawn"
#: Where a stream's state keeps the keys of its open periods.
STATE_KEY = "open_keys"

Key = tuple[str, ...]


def encode(keys: set[Key], width: int) -> dict[str, t.Any]:
    """A set of keys (tuples of ``width`` texts) as JSON.

    Each field's distinct values, and the keys' positions in the product of those lists,
    delta-coded as varints and compressed.
    """
    values = [sorted({key[i] for key in keys}) for i in range(width)]
    index = [{value: n for n, value in enumerate(column)} for column in values]
    sizes = [len(column) for column in values]
    positions = []
    for key in keys:
        position = 0
        for field, value in enumerate(key):
            position = position * sizes[field] + index[field][value]
        positions.append(position)
    positions.sort()
    out = bytearray()
    previous = -1
    for position in positions:
        delta = position - previous - 1  # 0 for consecutive positions: a dense set packs well
        previous = position
        while delta >= 0x80:  # noqa: PLR2004 - varint: seven bits a byte
            out.append(delta & 0x7F | 0x80)
            delta >>= 7
        out.append(delta)
    packed = base64.b64encode(zlib.compress(bytes(out), 9)).decode("ascii")
    return {"values": values, "positions": packed}


def decode(entry: dict[str, t.Any], width: int) -> set[Key]:
    """The keys ``encode`` wrote; ValueError when the entry is not one."""
    values = entry["values"]
    if not isinstance(values, list) or len(values) != width:
        msg = f"expected {width} value lists"
        raise ValueError(msg)
    sizes = [len(column) for column in values]
    data = zlib.decompress(base64.b64decode(entry["positions"]))
    keys = set()
    position, delta, shift = -1, 0, 0
    for byte in data:
        delta |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        position += delta + 1
        delta, shift = 0, 0
        key: list[str] = [""] * width
        rest = position
        for field in range(width - 1, -1, -1):
            rest, offset = divmod(rest, sizes[field])
            key[field] = values[field][offset]
        keys.add(tuple(key))
    if position >= math.prod(sizes):
        msg = "a position outside the value lists"
        raise ValueError(msg)
    return keys


class Ledger:
    """The keys a stream emitted per open period at its last run, and those of this run.

    Periods are texts (a month's first instant, a snapshot day, or ``""`` for a whole stream),
    prefixed by the run's scope (the cost view), so that switching ``include_descendants``
    never withdraws the other view's rows.
    """

    def __init__(
        self,
        saved: object,
        fields: tuple[str, ...],
        scope: str,
        respelled: Callable[[str], str],
    ) -> None:
        #: The key fields kept per period (the primary key but the period and scope fields).
        self.fields = fields
        self.scope = scope
        #: Per scoped period: the keys emitted at the last run, still encoded, each period as
        #: this version spells it (``respelled``).
        self.saved: dict[str, dict[str, t.Any]] = {}
        if isinstance(saved, dict) and saved.get("fields") == list(fields):
            periods = saved.get("periods")
            if isinstance(periods, dict):
                for scoped, entry in periods.items():
                    scope_of, _, period = str(scoped).partition("|")
                    self.saved[f"{scope_of}|{respelled(period) if period else period}"] = entry
        #: Per period of this scope: the keys this run emitted.
        self.listed: dict[str, set[Key]] = {}

    def scoped(self, period: str) -> str:
        return f"{self.scope}|{period}"

    def previous(self, period: str) -> set[Key]:
        """The keys the last run emitted for ``period`` (none if unknown or unreadable)."""
        entry = self.saved.get(self.scoped(period))
        if entry is None:
            return set()
        try:
            return decode(entry, len(self.fields))
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError, zlib.error):
            return set()  # a state written by hand or another version: nothing to withdraw

    def withdrawn(self, periods_read: Iterable[str]) -> list[tuple[str, Key]]:
        """(period, key) of every key the last run emitted in a period read again, unlisted now."""
        return [
            (period, key)
            for period in sorted(periods_read)
            for key in sorted(self.previous(period) - self.listed.get(period, set()))
        ]

    def state(self, periods_read: set[str], is_open: Callable[[str], bool]) -> dict[str, t.Any]:
        """What the state keeps: per period still open, the keys of its latest read."""
        periods = {}
        for scoped, entry in self.saved.items():
            scope, _, period = scoped.partition("|")
            if not (scope == self.scope and period in periods_read) and is_open(period):
                periods[scoped] = entry  # not read this run, and it may still change
        for period in sorted(periods_read):
            keys = self.listed.get(period)
            if keys and is_open(period):
                periods[self.scoped(period)] = encode(keys, len(self.fields))
        return {"fields": list(self.fields), "periods": periods}


class Withdrawals(RESTStream[t.Any]):
    """A stream that withdraws the lines of its open periods that a re-read no longer lists."""

    #: The run's clock (DatadogStream sets it).
    datadog_tap: RunContext
    #: The periods this run read whole (withdrawals compare only these with the last run).
    periods_read: set[str]

    @property
    def withdrawal_scope(self) -> str:
        """The value of ``scope_field`` in this run (none without one): the ledger's scope."""
        return ""

    #: Whether a re-read withdraws the keys of an open period that Datadog no longer lists
    #: (withdrawals.py): rows of a period that Datadog revises in place, line by line.
    withdraws = False

    #: The field naming a row's period for withdrawals (None: the stream is one period).
    period_field: str | None = None

    #: A key field with one value per run (the cost view): the ledger's scope, not kept per key.
    scope_field: str | None = None

    #: The field that says a row's status: ``withdrawn`` on a withdrawing row.
    status_field = "cost_status"

    @functools.cached_property
    def ledger_fields(self) -> tuple[str, ...]:
        """The key fields a ledger keeps per period: the primary key but period and scope."""
        return tuple(k for k in self.primary_keys if k not in (self.period_field, self.scope_field))

    def with_withdrawals(
        self, context: Context | None, records: t.Iterable[dict[str, t.Any]]
    ) -> t.Iterator[dict[str, t.Any]]:
        """``records``, then the rows that withdraw what Datadog no longer lists.

        A withdrawing row per key of a period read again that the last run emitted and this
        one did not; the state then keeps each open period's keys (withdrawals.py).
        """
        state = self.get_context_state(context)
        ledger = Ledger(
            state.get(STATE_KEY), self.ledger_fields, self.withdrawal_scope, self.respelled
        )
        fields, period_field, listed = self.ledger_fields, self.period_field, ledger.listed
        for record in records:
            period = record[period_field] if period_field else ""
            listed.setdefault(period, set()).add(tuple(record[field] for field in fields))
            yield record
        withdrawn = ledger.withdrawn(self.periods_read)
        for period, key in withdrawn:
            yield self.withdrawn_record(period, dict(zip(fields, key, strict=True)))
        if withdrawn:
            self.logger.info(
                "%s: %d row(s) Datadog no longer lists (%s) written again with %s %s",
                self.name,
                len(withdrawn),
                ", ".join(dict.fromkeys(period[:10] or "this read" for period, _ in withdrawn)),
                self.status_field,
                WITHDRAWN,
            )
        state[STATE_KEY] = ledger.state(self.periods_read, self.period_is_open)

    def respelled(self, period: str) -> str:
        """A period of the state as this version spells it (default: as it was written)."""
        return period

    def period_is_open(self, period: str) -> bool:
        """Whether a period may still change after this run (default: it was read this run)."""
        return period in self.periods_read

    def withdrawn_record(self, period: str, key: dict[str, str]) -> dict[str, t.Any]:
        """The row that withdraws ``key``, with ``withdrawn_values`` and every other field null.

        ``withdrawn_values`` says the zero cost and the status ``withdrawn``.
        """
        record: dict[str, t.Any] = dict.fromkeys(self.schema["properties"])
        record.update(key)
        if self.period_field:
            record[self.period_field] = period
        if self.scope_field:
            record[self.scope_field] = self.withdrawal_scope
        record.update(self.withdrawn_values(record))
        return record

    def withdrawn_values(self, record: dict[str, t.Any]) -> dict[str, t.Any]:  # noqa: ARG002
        """The fields of a withdrawing row beyond its key (default: the status alone)."""
        return {self.status_field: WITHDRAWN}
