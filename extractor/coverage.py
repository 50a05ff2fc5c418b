"""Coverage verdicts: was a market recording a coin throughout a window, and if not, where were the holes?

Sessions come from the recorder's coverage rows: one `up` (with the symbols it carried), `alive`
heartbeats, at most one `down`. A session that ends without `down` (a killed process) is trusted
until its last heartbeat plus one heartbeat interval, no further.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from recorder.clock import S
from recorder.instruments.common import coin_identity
from recorder.store.base import CoverageRow, GapRow


def symbol_coin(symbol: str) -> str:
    """The coin of a normalized symbol (`1000PEPE-USDT-PERP` → `PEPE`, `TIA-USDT` → `TIA`), by the same rule
    the instrument parsers apply, so a coverage row and a stored trade always name the same coin."""
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


@dataclass
class Verdict:
    verdict: str
    """`complete`, `gap`, `backfilled`, `not_connected` or `not_listed`"""
    instruments: list[str] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)


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


REPAIR_SLACK_NS = S


def _repair_of(repairs: list[GapRow], symbol: str, lo: int, hi: int) -> GapRow | None:
    """The stored disconnect gap that spans a coverage hole, if any; a repaired one wins over an open one.

    The coverage rows are the truth about disconnects; a disconnect gap row only says what the
    backfill made of one (its bounds come from the same connection events, give or take a second).
    """
    spanning = [g for g in repairs if g.symbol == symbol and g.ts <= lo + REPAIR_SLACK_NS and g.end_ts >= hi - REPAIR_SLACK_NS]
    order = {"backfilled": 0, "partial": 1, "unrecoverable": 2, "open": 3}
    return min(spanning, key=lambda g: order.get(g.status, 4), default=None)


def verdict(
    coin: str,
    start: int,
    end: int,
    rows: Iterable[CoverageRow],
    gaps: Iterable[GapRow],
    heartbeat_ns: int,
    iso,
) -> Verdict:
    """Judge one market's coverage of one coin over [start, end)."""
    all_sessions = [s for s in sessions(rows, heartbeat_ns) if s.start < end and s.end > start]
    carrying = [s for s in all_sessions if any(symbol_coin(sym) == coin for sym in s.symbols)]
    instruments = sorted({sym for s in carrying for sym in s.symbols if symbol_coin(sym) == coin})
    processes = sorted({s.process for s in carrying})
    if not carrying:
        return Verdict("not_listed" if all_sessions else "not_connected")
    recorded = [g for g in gaps if symbol_coin(g.symbol) == coin and g.ts < end and g.end_ts >= start]
    repairs = [g for g in recorded if g.kind == "disconnect"]
    holes = []
    for symbol in instruments:
        spans = [(s.start, s.end) for s in carrying if symbol in s.symbols]
        for lo, hi in uncovered(spans, start, end):
            repair = _repair_of(repairs, symbol, lo, hi)
            holes.append({"symbol": symbol, "kind": "disconnect", "start": iso(lo), "end": iso(hi),
                          "status": repair.status if repair else "open", "recovered": repair.recovered if repair else 0})
    holes += [{"symbol": g.symbol, "kind": g.kind, "start": iso(g.ts), "end": iso(g.end_ts), "status": g.status,
               "first_missing_id": g.first_missing_id, "last_missing_id": g.last_missing_id, "recovered": g.recovered}
              for g in recorded if g.kind != "disconnect"]
    if not holes:
        return Verdict("complete", instruments, [], processes)
    repaired = all(h["status"] == "backfilled" for h in holes)
    return Verdict("backfilled" if repaired else "gap", instruments, holes, processes)
