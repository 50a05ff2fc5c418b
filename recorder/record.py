"""The recorder: every market's feeds → normalizer → store writer, with coverage and per-market counters.

The per-trade callback does the least it can: normalize, append to the writer's batch, count.
Everything slower (store writes, spooling) happens on the writer thread.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from recorder.clock import iso_z
from recorder.config import Config, format_duration
from recorder.coverage import CoverageTracker
from recorder.feeds.events import TradeCallback
from recorder.feeds.market import MarketFeeds
from recorder.gaps import DisconnectTracker
from recorder.instruments.model import Instrument
from recorder.logs import ChangeLog
from recorder.markets import MarketSpec
from recorder.net_errors import describe_error
from recorder.normalize import Normalizer
from recorder.ratelimited_log import RateLimitedLog
from recorder.repair import Repairer
from recorder.store.base import Store
from recorder.tls import client_ssl_context
from recorder.trade_path import MarketState, TradePath
from recorder.universe import Universe, fetched_when, make_fetcher, refresh
from recorder.upbit.announcements import fetch_market_all
from recorder.writer import StoreWriter

LOG = logging.getLogger(__name__)
DEGRADED_RETRY_S = 60.0


async def fetch_universe(config: Config, markets: Iterable[MarketSpec], ssl, log: ChangeLog | None = None) -> tuple[Universe, bool]:
    """Upbit's KRW coins + every market's instruments → the universe, written to `recorder.symbols_file`.

    The exchanges are fetched whatever Upbit does. A market whose fetch fails keeps its previous list;
    without Upbit's market list the last known KRW set (stored in the file) filters, and with none
    ever known every instrument is recorded, unfiltered. `log` (kept by a caller that retries) says
    each of these once per change of state. The flag says whether Upbit's market list was fetched.
    """
    log = log or ChangeLog(LOG)
    markets = list(markets)
    path = Path(config.recorder.symbols_file)
    rest_bases = {spec.key: config.exchanges.market(spec).rest_base for spec in markets}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        upbit_error = None
        try:
            krw: set[str] | None = await fetch_market_all(session, config.upbit.api_base, ssl=ssl)
        except Exception as exc:
            krw, upbit_error = None, describe_error(exc)
        universe, _ = await refresh(
            path, upbit_krw=krw, fetch=make_fetcher(session, rest_bases, ssl=ssl), markets=markets, upbit_error=upbit_error,
            quotes=config.recorder.quotes, tail=timedelta(seconds=config.recorder.listed_tail), now=datetime.now(UTC),
        )
    _report(universe, path, log)
    return universe, universe.upbit_error is None


def _report(universe: Universe, path: Path, log: ChangeLog) -> None:
    """The refresh's outcome in the log, each condition once per change of state."""
    upbit_error = universe.upbit_error
    if upbit_error is None:
        log.recovered("upbit", "universe: Upbit market list fetched again (%d KRW coins)", len(universe.upbit_krw))
    elif universe.filtered:
        log.change("upbit", "stale", "universe: Upbit market list unavailable (%s): filtering with the last known Upbit KRW "
                   "list (%d coins, fetched %s, stored in %s)", upbit_error, len(universe.upbit_krw),
                   fetched_when(universe.upbit_krw_at), path)
    else:
        log.change("upbit", "unfiltered", "universe: Upbit market list unavailable (%s) and none was ever fetched: "
                   "recording EVERY instrument, unfiltered, until Upbit answers", upbit_error)
    for key, state in sorted(universe.status.items()):
        if state.ok:
            log.recovered(key, "universe: %s instrument list fetched again", key)
        elif state.source == "previous":
            log.change(key, state.source, "universe: %s instrument fetch FAILED (%s): keeping the previous list of %d "
                       "instruments (fetched %s)", key, state.error, state.listed, fetched_when(state.fetched_at))
        else:
            log.change(key, state.source, "universe: %s instrument fetch FAILED (%s) and there is no previous list: "
                       "this market records nothing", key, state.error)
        log.change(f"{key} counts", (state.source, state.listed, state.kept), "universe: %s: %s, %d listed, %d kept",
                   key, state.source, state.listed, state.kept, level=logging.INFO)


class Recorder:
    def __init__(self, config: Config, store: Store, markets: Iterable[MarketSpec], *, ssl=None,
                 trade_callback: Callable[[MarketState], TradeCallback] | None = None) -> None:
        self.config = config
        self.trade_callback = trade_callback
        """`trade_callback(state)`, when given, is the market's per-trade callback in place of `trade_path(state).on_trade`:
        a benchmark's baseline runs the same recorder and feeds with a callback that only counts."""
        self.store = store
        self.markets = list(markets)
        self.ssl = ssl or client_ssl_context(config.tls_ca_file)
        self.writer = StoreWriter(store, config.data_path / "spool", flush_rows=config.recorder.flush_rows)
        self.coverage = CoverageTracker(self.writer)
        self.disconnects = DisconnectTracker()
        self.repairer = Repairer(config, store, self.writer, self.instrument_of, self.ssl)
        self.states: dict[str, MarketState] = {}
        self.universe: Universe | None = None
        self._lag_log = RateLimitedLog(LOG, 60.0)
        self._universe_log = ChangeLog(LOG)
        self._rate_log = ChangeLog(LOG)
        """the universe's failures and recoveries, once per change however often the list is retried"""
        self.upbit_ok = False
        self._tasks: list[asyncio.Task] = []

    # --- the universe --------------------------------------------------------------------------
    async def refresh_universe(self) -> Universe:
        """Re-fetch Upbit's KRW list and every market's instruments; subscribe what is new, unsubscribe what left."""
        universe, self.upbit_ok = await fetch_universe(self.config, self.markets, self.ssl, self._universe_log)
        await self._apply(universe)
        if degraded := self.degraded():
            self._universe_log.change("retry", tuple(degraded), "universe: retrying %s every %.0fs (the hourly refresh aside)",
                                      ", ".join(degraded), DEGRADED_RETRY_S, level=logging.WARNING)
        else:
            self._universe_log.recovered("retry", "universe: every list fetched; retries stop")
        return universe

    async def _apply(self, universe: Universe) -> None:
        self.universe = universe
        for spec in self.markets:
            state = self.states.get(spec.key)
            instruments = universe.instruments(spec.key)
            if state is None or state.feeds is None:
                continue
            state.normalizer.add(instruments)
            new = [i for i in instruments if i.symbol not in state.feeds.instruments]
            if new:
                report = await state.feeds.add_instruments(new)
                (LOG.error if report.not_subscribed else LOG.info)("%s", report)
            status = universe.status.get(spec.key)
            if status is not None and status.ok:  # only a fresh list may drop a symbol, never a failed fetch
                dropped = sorted(set(state.feeds.instruments) - {i.symbol for i in instruments})
                if dropped:
                    await state.feeds.remove_instruments(dropped)
                    self.disconnects.forget(spec.exchange, spec.market, dropped)

    # --- trades --------------------------------------------------------------------------------
    def instrument_of(self, market_key: str, symbol: str) -> Instrument | None:
        state = self.states.get(market_key)
        return state.feeds.instruments.get(symbol) if state is not None and state.feeds is not None else None

    def trade_path(self, state: MarketState) -> TradePath:
        """The market's per-trade callback (`TradePath.on_trade`), with this recorder's writer and repairer."""
        return TradePath(state, self.writer, self.repairer.submit)

    def _on_connection(self, event) -> None:
        """Coverage rows for every session; after a reconnect, a disconnect gap per symbol to repair."""
        self.coverage.on_connection(event)
        for gap in self.disconnects.on_event(event):
            self.repairer.submit(gap)

    def _start_market(self, spec: MarketSpec, instruments: list[Instrument]) -> MarketState:
        state = MarketState(spec, Normalizer(spec, instruments))
        market = self.config.exchanges.market(spec)
        state.feeds = MarketFeeds(
            spec, instruments, on_connection=self._on_connection,
            on_trade=self.trade_callback(state) if self.trade_callback is not None else self.trade_path(state).on_trade,
            ws_base=market.ws_base, rest_base=market.rest_base, ssl_ca_file=self.config.tls_ca_file,
            max_symbols_per_connection=market.max_symbols_per_connection,
        )
        self.states[spec.key] = state
        return state

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self.writer.start()
        await self.repairer.start()
        universe = await self.refresh_universe()
        for spec in self.markets:
            state = self._start_market(spec, universe.instruments(spec.key))
            assert state.feeds is not None
            await state.feeds.start()
        gc.freeze()  # startup objects (instrument tables, feeds) live forever: keep the collector off them
        self._tasks = [
            asyncio.create_task(self._retry_degraded(), name="universe-retry"),
            asyncio.create_task(self._flush_loop(), name="writer-flush"),
            asyncio.create_task(self.coverage.run_heartbeats(self.config.recorder.coverage_heartbeat), name="coverage-heartbeat"),
        ]

    def degraded(self) -> list[str]:
        """Markets whose last instrument fetch failed (previous list kept, or nothing to record)."""
        if self.universe is None:
            return [spec.key for spec in self.markets]
        bad = sorted(key for key, state in self.universe.status.items() if not state.ok)
        return bad if self.upbit_ok else ["upbit", *bad]

    async def _retry_degraded(self) -> None:
        """Until every market's list is fresh, retry far more often than the hourly refresh."""
        while True:
            await asyncio.sleep(DEGRADED_RETRY_S)
            if self.degraded():
                try:
                    await self.refresh_universe()
                except Exception:
                    LOG.exception("universe: refresh failed; retrying in %.0fs", DEGRADED_RETRY_S)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.recorder.flush_interval)
            self.writer.flush()

    def awaiting(self) -> dict[str, int]:
        """Per market, how many listed symbols no live connection carries yet (empty once everything is recorded)."""
        counts = {key: len(state.feeds.awaiting) for key, state in self.states.items() if state.feeds is not None}
        return {key: count for key, count in counts.items() if count}

    async def wait_carried(self, timeout: float) -> dict[str, int]:
        """Wait until every market carries all its listed symbols; returns what is still missing at the timeout."""
        deadline = time.monotonic() + timeout
        while (missing := self.awaiting()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return missing

    async def settle(self, timeout: float = 10.0) -> None:
        """Hand every pending row to the store and wait until the writer has caught up (before an extraction).

        Runs on any loop (the service calls it from the control loop): the writer's hand-over is locked."""
        self.writer.flush()
        deadline = time.monotonic() + timeout
        while self.writer.backlog() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(self.writer.wait_idle, max(0.0, deadline - time.monotonic()))

    async def stop(self, timeout: float = 20.0) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(s.feeds.stop() for s in self.states.values() if s.feeds is not None), return_exceptions=True)
        await self.repairer.stop()
        self.coverage.close_all()
        if not await asyncio.to_thread(self.writer.stop, timeout):
            LOG.error("store writer did not finish within %.0fs; unwritten rows stay in the spool for the next start", timeout)

    # --- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        """The recorder's part of /status; safe from any thread (copies of what the ingest loop mutates, no awaiting)."""
        connected = self.coverage.connected()
        now = time.time_ns()
        markets = {}
        for key, state in list(self.states.items()):
            conn = connected.get(key, {"connections": 0, "symbols": 0})
            rejected = dict(state.normalizer.rejected)
            lag = state.lag.window(now)
            markets[key] = {
                "connected": conn["connections"] > 0,
                "connections": conn["connections"],
                "symbols": conn["symbols"],
                "listed": len(state.feeds.instruments) if state.feeds else 0,
                "trades_total": state.trades,
                "trades_per_s": round(state.trades_per_s(lag, now), 2),
                "last_trade_age_s": round((now - state.last_trade_ns) / 1e9, 3) if state.last_trade_ns else None,
                "receive_lag_median_s": lag.median_s if lag else None,
                "receive_lag_max_s": lag.max_s if lag else None,
                "rejected_total": sum(rejected.values()),
                "rejected": rejected,
            }
        stats = self.writer.stats
        writer = {"rows_written": stats.rows_written, "store_ok": stats.store_ok, "last_error": stats.last_error,
                  "write_lag_s": round(stats.last_write_lag_s, 4), "spool_files": len(self.writer.spool),
                  "spool_bytes": self.writer.spool.bytes, "rows_lost": stats.rows_lost, "backlog_batches": self.writer.backlog(),
                  "queued_rows": self.writer.queued_rows}
        return {"markets": markets, "writer": writer, "gaps": {**vars(self.repairer.stats), "queued": self.repairer.queued()},
                "universe": self.universe_status()}

    def universe_status(self) -> dict:
        """What the recorder records from: `filtered` is False while no Upbit KRW list was ever fetched (every coin recorded)."""
        universe = self.universe
        return {"instruments": universe.total if universe else 0, "filtered": bool(universe and universe.filtered),
                "upbit_krw": len(universe.upbit_krw) if universe else 0,
                "upbit_krw_fetched_at": iso_z(universe.upbit_krw_at) if universe and universe.upbit_krw_at else None,
                "upbit_ok": self.upbit_ok, "degraded": self.degraded() if universe else []}

    def log_rates(self) -> None:
        """The periodic rate line of each market with a connection or trades; the idle ones in one line, when that set changes."""
        connected = self.coverage.connected()
        idle = []
        for key, state in sorted(self.states.items()):
            rate = state.sample_rate()
            conn = connected.get(key, {"connections": 0, "symbols": 0})
            if not rate and not conn["connections"]:
                idle.append(key)
                continue
            LOG.info("rate %s: %.1f trades/s, %d connections, %d symbols, %d rejected", key, rate, conn["connections"],
                     conn["symbols"], sum(state.normalizer.rejected.values()))
        if idle:
            self._rate_log.change("idle", tuple(idle), "rate: no connection and no trades on %s", ", ".join(idle), level=logging.INFO)
        else:
            self._rate_log.recovered("idle", "rate: every market has a connection or trades again")

    def warn_receive_lag(self) -> None:
        """A WARNING, at most once a minute per market, while a market's receive lag over the last minute passes
        `service.receive_lag_warn` (its max does whenever its median does). Safe from any thread."""
        limit = self.config.service.receive_lag_warn
        now = time.time_ns()
        for key, state in sorted(self.states.items()):
            lag = state.lag.window(now)
            if lag is not None and lag.max_s > limit:
                self._lag_log.warning(key, "%s: receive lag over the last minute: median %.3f s, max %.3f s (%d trades), "
                                      "above service.receive_lag_warn %s", key, lag.median_s, lag.max_s, lag.trades,
                                      format_duration(limit))
