"""Gap repair: id jumps and disconnects become gap rows, and the backfill fills them from REST.

Repairs run on one queue per exchange (each exchange has its own REST rate limit), so a slow venue
never holds up another. A listing window goes first: `repair_window` repairs its holes directly,
before the event is extracted.

A queue holds at most one gap per instrument and kind (`RepairQueue`): a reconnect storm over the
whole universe makes a gap per symbol, and REST limits (Phemex 1 request/s, Binance futures 1.5)
can take longer to work through them than the next storm takes to come. The newer gap replaces a
queued older one of the same instrument and kind, since recent-trade endpoints reach back a limited
way and the newer hole is the one they can still fill; the older stays `open` in the store, is
counted as `superseded`, and is still repaired if a listing window covers it. So the backlog is
bounded by the universe, not by how long the service runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from recorder.backfill.fill import backfill_gap, resolved
from recorder.clock import S
from recorder.config import Config
from recorder.coverage_sessions import coin_coverage, symbol_coin
from recorder.instruments.fetch import default_rest_base
from recorder.instruments.model import Instrument
from recorder.markets import BY_KEY, MARKETS
from recorder.sinks import GAPS, TRADES
from recorder.store.base import GapRow, Store
from recorder.writer import StoreWriter

LOG = logging.getLogger(__name__)


@dataclass
class RepairStats:
    submitted: int = 0
    backfilled: int = 0
    partial: int = 0
    unrecoverable: int = 0
    still_open: int = 0
    rows_recovered: int = 0
    superseded: int = 0
    """gaps left `open` because a newer gap of the same instrument and kind took their place in the queue"""


class RepairQueue:
    """Gaps waiting for repair, oldest first, at most one per (market, symbol, kind)."""

    def __init__(self) -> None:
        self._gaps: OrderedDict[tuple[str, str, str], GapRow] = OrderedDict()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._gaps)

    def put(self, gap: GapRow) -> bool:
        """Queue `gap`; True when it replaced an older gap of the same instrument and kind."""
        key = (gap.market, gap.symbol, gap.kind)
        replaced = self._gaps.pop(key, None) is not None
        self._gaps[key] = gap
        self._ready.set()
        return replaced

    async def get(self) -> GapRow:
        while not self._gaps:
            self._ready.clear()
            await self._ready.wait()
        return self._gaps.popitem(last=False)[1]


class Repairer:
    def __init__(self, config: Config, store: Store, writer: StoreWriter, instrument_of: Callable[[str, str], Instrument | None],
                 ssl=None) -> None:
        self.config = config
        self.store = store
        self.writer = writer
        self.instrument_of = instrument_of
        self.ssl = ssl
        self.stats = RepairStats()
        self._queues: dict[str, RepairQueue] = {}
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = 0

    def rest_base(self, market_key: str) -> str:
        spec = BY_KEY[market_key]
        return self.config.exchanges.market(spec).rest_base or default_rest_base(spec)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        for exchange in sorted({spec.exchange for spec in MARKETS}):
            self._queues[exchange] = RepairQueue()
            self._tasks.append(asyncio.create_task(self._worker(exchange), name=f"repair-{exchange}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def submit(self, gap: GapRow) -> None:
        """Record the gap now and queue its repair (in place of an older one of the same instrument and kind)."""
        self.writer.add(GAPS, gap)
        queue = self._queues.get(gap.exchange)
        if queue is None:
            return
        self.stats.submitted += 1
        if queue.put(gap):
            self.stats.superseded += 1

    def queued(self) -> int:
        """Gaps waiting for repair, over every exchange."""
        return sum(len(queue) for queue in self._queues.values())

    def idle(self) -> bool:
        """No repair queued or running."""
        return not self._in_flight and not self.queued()

    async def _worker(self, exchange: str) -> None:
        queue = self._queues[exchange]
        while True:
            gap = await queue.get()
            self._in_flight += 1
            try:
                await self.repair(gap)
            except Exception:
                LOG.exception("repair of %s failed", gap)
            finally:
                self._in_flight -= 1

    async def repair(self, gap: GapRow) -> GapRow:
        """Backfill one gap, store what came back and the gap's new status; returns the updated row."""
        key = f"{gap.exchange}.{gap.market}"
        instrument = self.instrument_of(key, gap.symbol)
        if instrument is None or self._session is None:
            return gap
        result = await backfill_gap(gap, instrument, self.rest_base(key), self._session, self.ssl)
        if result.rows:
            self.writer.add_many(TRADES, result.rows)
        updated = resolved(gap, result)
        self.writer.add(GAPS, updated)
        self.stats.rows_recovered += len(result.rows)
        status = updated.status if updated.status in ("backfilled", "partial", "unrecoverable") else "still_open"
        setattr(self.stats, status, getattr(self.stats, status) + 1)
        log = LOG.info if updated.status == "backfilled" else LOG.warning
        log("gap %s %s %s (%s): %s, %d trades recovered%s", key, gap.symbol, gap.kind, gap.first_missing_id or "time range",
            updated.status, len(result.rows), f"; {result.error or result.note}" if updated.status != "backfilled" else "")
        return updated

    def window_holes(self, coin: str, start_ns: int, end_ns: int) -> list[GapRow]:
        """The coin's open id gaps and coverage holes inside a window, as gap rows to repair."""
        heartbeat_ns = round(self.config.recorder.coverage_heartbeat * S)
        holes = [g for g in self.store.read_gaps(start_ns, end_ns) if symbol_coin(g.symbol) == coin and g.status == "open"]
        for spec in MARKETS:
            rows = self.store.read_coverage(spec.exchange, spec.market, start_ns - 3 * heartbeat_ns, end_ns + 3 * heartbeat_ns)
            holes += [GapRow(lo, hi, spec.exchange, spec.market, symbol, "disconnect", "", "", "open", 0)
                      for symbol, lo, hi in coin_coverage(rows, coin, start_ns, end_ns, heartbeat_ns).holes]
        return holes

    async def repair_window(self, coin: str, start_ns: int, end_ns: int) -> list[GapRow]:
        """Repair every hole of a listing window now (before the event is extracted)."""
        holes = await asyncio.to_thread(self.window_holes, coin, start_ns, end_ns)
        repaired = []
        for gap in holes:
            self.writer.add(GAPS, gap)
            try:
                repaired.append(await self.repair(gap))
            except Exception:
                LOG.exception("repair of %s failed", gap)
        if holes:
            LOG.warning("window of %s: %d holes, %d backfilled", coin, len(holes), sum(g.status == "backfilled" for g in repaired))
        return repaired
