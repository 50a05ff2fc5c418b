"""Coverage rows read back as sessions, and where a window of a coin was not carried.

The recorder writes the rows (`recorder.coverage`), repairs a window's holes (`recorder.repair`)
and the extractor judges a window (`extractor.coverage`) from the same sessions, so both sides
agree on what a hole is. A session is one `conn_id`: one `up` (with the symbols it carried),
`alive` heartbeats, at most one `down`; one that ends without `down` (a killed process) is
trusted until its last heartbeat plus one heartbeat interval, no further.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from recorder.instruments.common import coin_identity
from recorder.store.base import CoverageRow


@lru_cache(maxsize=1 << 16)
def symbol_coin(symbol: str) -> str:
    """The coin of a normalized symbol (`1000PEPE-USDT-PERP` → `PEPE`, `TIA-USDT` → `TIA`), by the same rule
    the instrument parsers apply, so a coverage row and a stored trade always name the same coin. Cached: a window's
    verdicts ask it of every symbol of every session (about 6,500 calls, 29 ms uncached, per extraction)."""
    head = symbol.split("-", 1)[0]
    return coin_identity(head, strip_multiplier=symbol.endswith("-PERP"))[0]


@dataclass(frozen=True)
class Session:
    conn_id: str
    process: str
    start: int
    end: int
    symbols: frozenset[str]
    closed: bool


def sessions(rows: Iterable[CoverageRow], heartbeat_ns: int) -> list[Session]:
    by_conn: dict[str, list[CoverageRow]] = {}
    for row in rows:
        by_conn.setdefault(row.conn_id, []).append(row)
    result = []
    for conn_id, events in by_conn.items():
        up = next((e for e in events if e.state == "up"), None)
        if up is None:
            continue
        down = min((e.ts for e in events if e.state == "down"), default=None)
        last_seen = max(e.ts for e in events)
        end = down if down is not None else last_seen + heartbeat_ns
        symbols = frozenset(s for s in up.symbols.split(",") if s)
        result.append(Session(conn_id, up.process, up.ts, end, symbols, down is not None))
    return sorted(result, key=lambda s: s.start)


def uncovered(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) that no interval covers."""
    holes = []
    cursor = start
    for lo, hi in sorted(intervals):
        if hi <= cursor:
            continue
        if lo > cursor:
            holes.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
        if cursor >= end:
            break
    if cursor < end:
        holes.append((cursor, end))
    return [(lo, hi) for lo, hi in holes if lo < hi]


@dataclass(frozen=True)
class CoinCoverage:
    """One market's sessions over a window, as far as one coin is concerned."""

    connected: bool
    """any session overlapped the window (carrying the coin or not)"""
    carrying: list[Session]
    """the overlapping sessions that carried one of the coin's symbols"""
    instruments: list[str]
    """the coin's symbols those sessions carried, sorted"""
    holes: list[tuple[str, int, int]]
    """(symbol, start, end): each part of the window where no session carried that symbol, by symbol then time"""


def coin_coverage(rows: Iterable[CoverageRow], coin: str, start: int, end: int, heartbeat_ns: int) -> CoinCoverage:
    """Which sessions carried `coin` during [start, end), and where each of its symbols was not carried."""
    overlapping = [s for s in sessions(rows, heartbeat_ns) if s.start < end and s.end > start]
    carrying = [s for s in overlapping if any(symbol_coin(sym) == coin for sym in s.symbols)]
    instruments = sorted({sym for s in carrying for sym in s.symbols if symbol_coin(sym) == coin})
    holes = [(symbol, lo, hi) for symbol in instruments
             for lo, hi in uncovered([(s.start, s.end) for s in carrying if symbol in s.symbols], start, end)]
    return CoinCoverage(bool(overlapping), carrying, instruments, holes)
