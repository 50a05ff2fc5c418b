"""Coverage verdicts: was a market recording a coin throughout a window, and if not, where were the holes?

Sessions and holes come from the recorder's coverage rows, read as the recorder's repair reads
them (`recorder.coverage_sessions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from recorder.clock import S
from recorder.coverage_sessions import coin_coverage, symbol_coin
from recorder.store.base import CoverageRow, GapRow


@dataclass
class Verdict:
    verdict: str
    """`complete`, `gap`, `backfilled`, `not_connected` or `not_listed`"""
    instruments: list[str] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)


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
    coverage = coin_coverage(rows, coin, start, end, heartbeat_ns)
    instruments = coverage.instruments
    processes = sorted({s.process for s in coverage.carrying})
    if not coverage.carrying:
        return Verdict("not_listed" if coverage.connected else "not_connected")
    recorded = [g for g in gaps if symbol_coin(g.symbol) == coin and g.ts < end and g.end_ts >= start]
    repairs = [g for g in recorded if g.kind == "disconnect"]
    holes = []
    for symbol, lo, hi in coverage.holes:
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
