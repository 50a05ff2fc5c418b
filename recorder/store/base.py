"""The store protocol and the non-trade rows it keeps (coverage, gaps, notices, triggers).

Windows are half-open: a read for [start, end) includes a trade at exactly `start` and excludes
one at exactly `end`, so adjacent windows never count a trade twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

import pyarrow as pa

from recorder.clock import iso_utc
from recorder.trade_row import TradeRow


class StoreError(Exception):
    """The store cannot be used as configured (server unreachable or too old, foreign schema); phrased for the user."""


class CoverageRow(NamedTuple):
    """One connection-session event. A session is one `conn_id`: one `up`, periodic `alive`, at most one `down`."""

    ts: int
    exchange: str
    market: str
    conn_id: str
    process: str
    """`host:pid` of the recorder that carried the connection (scale-out across processes)."""
    state: str
    """`up` (subscribed), `alive` (heartbeat), `down` (closed)"""
    symbols: str
    """comma-separated normalized symbols on `up` rows; empty on the others"""


def with_session_ups(rows: Sequence[tuple], ups_of: Callable[[list[str]], Iterable[tuple]], chunk: int) -> list[CoverageRow]:
    """`rows` plus the `up` row of every session among them (it may lie before the window read), each once, sorted.

    Both stores answer `read_coverage` with this; `ups_of(conn_ids)` reads the `up` rows of at most
    `chunk` sessions (a bound on one query's parameters). A missing `symbols` reads as empty.
    """
    conn_ids = sorted({row[3] for row in rows})
    ups = [up for i in range(0, len(conn_ids), chunk) for up in ups_of(conn_ids[i : i + chunk])]
    return sorted({CoverageRow(*row[:6], row[6] or "") for row in [*rows, *ups]})


class GapRow(NamedTuple):
    """A span where trades of one instrument may be missing, and what became of it."""

    ts: int
    """gap start, ns"""
    end_ts: int
    exchange: str
    market: str
    symbol: str
    kind: str
    """`disconnect`, `id_jump`, `silence`"""
    first_missing_id: str
    last_missing_id: str
    status: str
    """`open`, `backfilled`, `partial`, `unrecoverable`"""
    recovered: int

    def __str__(self) -> str:
        """How a log line names a gap: its instrument, kind and span in UTC, never raw epoch nanoseconds."""
        return (f"{self.exchange}.{self.market} {self.symbol} {self.kind} gap {iso_utc(self.ts, 'ms')} to "
                f"{iso_utc(self.end_ts, 'ms')} ({self.status})")


class NoticeRow(NamedTuple):
    ts: int
    """first_listed_at, ns: stable across edits"""
    notice_id: int
    title: str
    listed_at: int
    seen_at: int
    listing: bool
    krw_symbols: str
    url: str


class TriggerRow(NamedTuple):
    ts: int
    """announcement time (first_listed_at), ns"""
    notice_id: int
    symbol: str
    detected_at: int
    latency_ms: int
    status: str
    """`scheduled`, `extracted`, `analyzed`, `failed`, `expired`"""
    event_dir: str
    detail: str


class Store(Protocol):
    kind: str

    def write_trades(self, rows: Sequence[TradeRow]) -> None:
        """Idempotent on (ts, exchange, market, symbol, trade_id); raises on failure so nothing is lost silently."""

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        """Every market's trades of one coin in [start, end), sorted by ts, with the trade schema."""

    def count_trades(self) -> int: ...

    def write_coverage(self, rows: Sequence[CoverageRow]) -> None: ...

    def read_coverage(self, exchange: str, market: str, start_ns: int, end_ns: int) -> list[CoverageRow]:
        """Rows in [start, end] plus the `up` rows of every session that appears there."""

    def write_gaps(self, rows: Sequence[GapRow]) -> None:
        """Upsert on (ts, exchange, market, symbol, kind): a status change replaces the row."""

    def read_gaps(self, start_ns: int, end_ns: int, exchange: str | None = None, market: str | None = None) -> list[GapRow]:
        """Gaps overlapping [start, end]."""

    def write_notices(self, rows: Sequence[NoticeRow]) -> None: ...

    def seen_notice_ids(self) -> set[int]: ...

    def write_triggers(self, rows: Sequence[TriggerRow]) -> None:
        """Upsert on (ts, notice_id, symbol): the latest status wins."""

    def read_triggers(self, since_ns: int = 0) -> list[TriggerRow]: ...

    def wait_visible(self, timeout_s: float) -> bool:
        """Wait until every write the server has accepted is visible to readers; False if `timeout_s` passed first."""

    def apply_retention(self, now_ns: int) -> int:
        """Drop trades older than the retention; returns rows (or partitions) dropped where known."""

    def seal(self, now_ns: int) -> int:
        """Move recent trades into their long-term layout where the store has one step for it; returns rows moved."""

    def close(self) -> None: ...
