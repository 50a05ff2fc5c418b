"""How well each market was recorded over a period: connected time, connections, gaps and what became of them.

Read from the store's coverage and gaps tables (the same sessions the extractor judges windows by), so it
answers for any retained period whether or not a recorder is running. A market counts as connected while at
least one of its connections was up; the time before the first session in the period (a recorder not yet
started) is an outage like any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from recorder.coverage_sessions import sessions, uncovered
from recorder.markets import MarketSpec
from recorder.store.base import Store

GAP_STATUSES = ("backfilled", "partial", "unrecoverable", "open")


@dataclass(frozen=True)
class MarketCoverage:
    """One market over [start, end)."""

    key: str
    start: int
    end: int
    connected_ns: int
    connections: int
    """sessions that overlap the period (a reconnect is a new one)"""
    gaps: dict[str, dict[str, int]] = field(default_factory=dict)
    """kind → status → count"""
    longest_outage: tuple[int, int] | None = None
    """(start, end) of the longest stretch with no connection up, None when there was none"""

    @property
    def connected_share(self) -> float:
        return self.connected_ns / (self.end - self.start) if self.end > self.start else 0.0


def _union_ns(intervals: list[tuple[int, int]], start: int, end: int) -> int:
    holes = uncovered(intervals, start, end)
    return (end - start) - sum(hi - lo for lo, hi in holes)


def market_coverage(store: Store, spec: MarketSpec, start: int, end: int, heartbeat_ns: int) -> MarketCoverage:
    """Connected time, connections, gaps by kind and status, and the longest outage of one market."""
    found = [s for s in sessions(store.read_coverage(spec.exchange, spec.market, start, end), heartbeat_ns)
             if s.start < end and s.end > start]
    intervals = [(s.start, s.end) for s in found]
    holes = uncovered(intervals, start, end)
    gaps: dict[str, Counter] = {}
    for gap in store.read_gaps(start, end, spec.exchange, spec.market):
        gaps.setdefault(gap.kind, Counter())[gap.status] += 1
    return MarketCoverage(
        key=spec.key,
        start=start,
        end=end,
        connected_ns=_union_ns(intervals, start, end),
        connections=len(found),
        gaps={kind: dict(sorted(counts.items())) for kind, counts in sorted(gaps.items())},
        longest_outage=max(holes, key=lambda h: (h[1] - h[0], -h[0]), default=None),
    )


def coverage_report(store: Store, markets: list[MarketSpec], start: int, end: int, heartbeat_ns: int) -> list[MarketCoverage]:
    """Every market's coverage over [start, end), in the order given."""
    return [market_coverage(store, spec, start, end, heartbeat_ns) for spec in markets]
