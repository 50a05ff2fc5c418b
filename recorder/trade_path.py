"""One trade's way from cryptofeed's callback to the writer's batch, and the counters it leaves behind.

The callback runs on the ingest loop once per trade, so it does the least it can: normalize,
append to the writer's batch (`TRADES`), count, note the receive lag, and on markets with
sequential trade ids look for a jump. Store writes and spooling happen on the writer's thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from recorder.clock import S
from recorder.feeds.market import MarketFeeds
from recorder.gaps import GapDetector, id_hint
from recorder.lag import WINDOW_S, LagWindow, ReceiveLag
from recorder.markets import MarketSpec
from recorder.normalize import Normalizer
from recorder.sinks import TRADES, Sink
from recorder.store.base import GapRow


class MarketState:
    """Counters of one market, written by the ingest loop, read by status and the per-minute rate line from other threads."""

    def __init__(self, spec: MarketSpec, normalizer: Normalizer) -> None:
        self.spec = spec
        self.normalizer = normalizer
        self.feeds: MarketFeeds | None = None
        self.trades = 0
        self.last_trade_ns = 0
        self.last_received_mono = 0.0
        self.lag = ReceiveLag()
        self.started_ns = time.time_ns()
        self._rate_mark = (time.monotonic(), 0)

    def trades_per_s(self, lag: LagWindow | None, now_ns: int) -> float:
        """Trades per second over the last minute, or over the time since start while that is shorter."""
        if lag is None:
            return 0.0
        return lag.trades / max(1.0, min(float(WINDOW_S), (now_ns - self.started_ns) / S))

    def sample_rate(self) -> float:
        """Trades per second since the previous call (the periodic rate line)."""
        now, count = time.monotonic(), self.trades
        then, before = self._rate_mark
        self._rate_mark = (now, count)
        return (count - before) / (now - then) if now > then else 0.0


class RowWriter(Protocol):
    """Where a `TradePath` hands its rows: the recorder's `StoreWriter`, or any object with the same `add`.

    Stated as a protocol so a writer of another shape is passed in, not patched in: bench.ingest's
    split-process prototype passes one that sends batches to a writer process.
    """

    def add(self, sink: Sink, row: tuple) -> None: ...


class TradePath:
    """One market's per-trade callback; `on_trade` is what its feeds call."""

    __slots__ = ("add", "detect", "hint", "lag", "normalize", "state", "submit_gap")

    def __init__(self, state: MarketState, writer: RowWriter, submit_gap: Callable[[GapRow], None]) -> None:
        self.state = state
        self.normalize = state.normalizer.normalize
        self.add = writer.add
        self.lag = state.lag.add
        self.detect = GapDetector(state.spec).feed if state.spec.trade_id == "sequential" else None
        self.hint = id_hint(state.spec.key)
        self.submit_gap = submit_gap

    async def on_trade(self, trade, receipt_timestamp: float) -> None:
        row = self.normalize(trade, receipt_timestamp)
        if row is None:
            return
        self.add(TRADES, row)
        state = self.state
        state.trades += 1
        state.last_trade_ns = row.ts
        self.lag(row.ts, row.received_ts)
        if self.detect is not None:
            gap = self.detect(row, *self.hint(trade)) if self.hint is not None else self.detect(row)
            if gap is not None:
                self.submit_gap(gap)
