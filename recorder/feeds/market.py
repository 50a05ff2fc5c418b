"""`MarketFeeds`: every feed instance of one market, supervised inside the service's own event loop.

- No FeedHandler: it configures logging on construction (feedhandler.py:59) and installs signal
  handlers (feedhandler.py:149). Each feed instance runs as `feed.run(stop_event)` (feed.py:217)
  inside a task of ours; a supervisor task per instance rebuilds the feed with capped backoff if
  `feed.run` ever ends or raises (connections reconnect on their own, see `supervised_ws`).
- Watchdog: cryptofeed's silence watchdog (connection_handler.py:66, default 120 s) recycles
  connections whose symbols are merely quiet. It is disabled (`timeout=-1`) for feeds without an
  application-level keepalive (Binance: the server pings at protocol level and `websockets`
  answers; a dead peer is detected by websockets' own ping_timeout, connection.py:331). Where a
  keepalive ping gets an application-level reply (OKX, KuCoin, Phemex, and Bybit and Gate with the
  keepalive their exchange modules add), every reply counts as a message, so a quiet-but-alive
  connection is never silent and the watchdog runs with a long timeout (`silence_timeout`, default
  300 s) that only fires when the server stops answering pings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from cryptofeed.defines import TRADES

from recorder.backoff import Backoff
from recorder.feeds.events import ConnectionCallback, ConnectionEvent, ConnectionState, SubscriptionReport, TradeCallback
from recorder.feeds.feed_class import ReplayConnection, feed_subclass
from recorder.feeds.shards import connection_cap, plan_shards, shard_capacity, unsubscribable
from recorder.instruments import cryptofeed_symbols
from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec
from recorder.ratelimited_log import RateLimitedLog
from recorder.tls import client_ssl_context

LOG = logging.getLogger(__name__)


@dataclass
class ShardRuntime:
    """One feed instance of a market: its planned connections, its task, its current cryptofeed feed."""

    owner: MarketFeeds
    index: int
    connections: list[list[str]]
    """normalized symbols per connection, as planned."""
    symbols: list[str]
    task: asyncio.Task | None = None
    feed: Any = None
    restarts: int = 0
    _created: int = 0
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    """set when the market stops, or when this instance is retired (its symbols moved or dropped)"""

    def next_logical_id(self) -> str:
        conn = self._created
        self._created += 1
        return f"{self.owner.spec.key}/{self.index}.{conn}"


class MarketFeeds:
    """All feed instances of one market, supervised inside the caller's asyncio loop.

    `start()` installs the symbols into cryptofeed, plans the shards and starts one supervised task
    per feed instance; `add_instruments(new)` starts extra instances for symbols not yet
    subscribed without touching the running ones; `stop()` closes everything. `build_for_replay()`
    builds the instances `start()` would run without running them (offline replay).
    """

    def __init__(
        self,
        spec: MarketSpec,
        instruments: Iterable[Instrument],
        *,
        on_trade: TradeCallback,
        on_connection: ConnectionCallback | None = None,
        ws_base: str | None = None,
        rest_base: str | None = None,
        ssl_ca_file: str | None = None,
        max_symbols_per_connection: int | None = None,
        log: logging.Logger | None = None,
        backoff_cap: float = 30.0,
        healthy_after: float = 30.0,
        silence_timeout: float = 300.0,
        start_stagger: float = 0.25,
    ) -> None:
        self.spec = spec
        self.instruments: dict[str, Instrument] = {}
        self.on_trade = on_trade
        self.on_connection = on_connection
        self.log = log or LOG
        self.backoff_cap = backoff_cap
        self.healthy_after = healthy_after
        self.silence_timeout = silence_timeout
        self.start_stagger = start_stagger
        self.max_symbols_per_connection = max_symbols_per_connection
        self.ssl = client_ssl_context(ssl_ca_file) if ssl_ca_file else None  # None: the libraries' own defaults
        self.feed_class = feed_subclass(spec, ws_base=ws_base, rest_base=rest_base, ssl=self.ssl,
                                        connection_limit=connection_cap(spec, max_symbols_per_connection))
        self.stop_event = asyncio.Event()
        self.shards: list[ShardRuntime] = []
        self.not_subscribed: dict[str, str] = {}
        self.message_errors: Counter[str] = Counter()
        self.rejections: deque[tuple[str, str]] = deque(maxlen=100)
        """the latest (conn_id, message) error replies from the exchange."""
        self.rejected = 0
        self.connection_state: dict[str, ConnectionEvent] = {}
        self._errors = RateLimitedLog(self.log, 10.0)
        """one error line per kind per 10 s: a venue that rejects or garbles every frame stays readable."""
        self._started = False
        self._next_index = 0
        self._queued: list[Instrument] = self._accept(instruments)

    # -- reporting

    @property
    def subscribed(self) -> set[str]:
        return {symbol for shard in self.shards for symbol in shard.symbols}

    @property
    def carried(self) -> set[str]:
        """Symbols on connections that are up now: the ones whose trades can arrive."""
        return {symbol for event in self.connection_state.values() if event.state == "up" for symbol in event.symbols}

    @property
    def awaiting(self) -> set[str]:
        """Listed, subscribable symbols that no live connection carries yet."""
        return set(self.instruments) - set(self.not_subscribed) - self.carried

    def report(self) -> SubscriptionReport:
        return SubscriptionReport(self.spec.key, len(self.instruments), len(self.subscribed),
                                  sum(len(shard.connections) for shard in self.shards), len(self.shards),
                                  dict(self.not_subscribed))

    def emit(self, conn_id: str, state: ConnectionState, symbols: tuple[str, ...], reason: str = "", *,
             planned: bool = False) -> None:
        """`planned`: a close we asked for (stop, a retired feed instance), logged as such rather than warned about."""
        event = ConnectionEvent(self.spec.exchange, self.spec.market, conn_id, state, symbols, time.time_ns())
        self.connection_state[conn_id] = event
        if state == "up":
            self.log.info("%s: connection %s up (%d symbols)", self.spec.key, conn_id, len(symbols))
        elif planned and not self.stop_event.is_set():
            self.log.info("%s: connection %s closed as planned (%d symbols)", self.spec.key, conn_id, len(symbols))
        elif not planned:
            self.log.warning("%s: connection %s down (%d symbols): %s", self.spec.key, conn_id, len(symbols), reason)
        if self.on_connection is None:
            return
        try:
            result = self.on_connection(event)
            if asyncio.iscoroutine(result):
                task = asyncio.get_running_loop().create_task(result)
                task.add_done_callback(self._callback_done)
        except Exception:
            self.log.exception("%s: on_connection callback failed for %s", self.spec.key, event)

    def _callback_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s: on_connection callback failed", self.spec.key, exc_info=task.exception())

    def rejection(self, conn_id: str, msg: str) -> None:
        """The venue answered a subscription (or another request) with an error: never silent."""
        self.rejections.append((conn_id, msg[:500]))
        self.rejected += 1
        self._errors.error("rejection", "%s: %s: the exchange REJECTED a request (%d so far): %.500s", self.spec.key, conn_id,
                           self.rejected, msg)

    def message_error(self, conn_id: str, exc: Exception, msg: Any) -> None:
        reason = type(exc).__name__
        self.message_errors[reason] += 1
        self._errors.error(reason, "%s: %s: message skipped after %s: %s (%d so far); message: %.300r", self.spec.key, conn_id,
                           reason, exc, self.message_errors[reason], msg)

    # -- lifecycle

    async def start(self) -> SubscriptionReport:
        """Install symbols, plan and start every feed instance; returns the subscription report."""
        if self._started:
            raise RuntimeError(f"{self.spec.key}: already started")
        self._started = True
        queued, self._queued = self._queued, []
        self._launch(queued)
        report = self.report()
        (self.log.error if report.not_subscribed else self.log.info)("%s", report)
        return report

    async def add_instruments(self, new: Iterable[Instrument]) -> SubscriptionReport:
        """Subscribe instruments not yet subscribed, in extra feed instances; running ones are untouched."""
        fresh = self._accept(new)
        if self._started:
            self._launch(fresh)
        else:
            self._queued.extend(fresh)
        return self.report()

    def _accept(self, new: Iterable[Instrument]) -> list[Instrument]:
        """Register instruments of this market not seen before; those cryptofeed cannot deliver are reported."""
        fresh: list[Instrument] = []
        for instrument in new:
            if instrument.exchange != self.spec.exchange or instrument.market != self.spec.market:
                continue
            if instrument.symbol in self.instruments:
                continue
            self.instruments[instrument.symbol] = instrument
            reason = unsubscribable(self.spec, instrument)
            if reason:
                self.not_subscribed[instrument.symbol] = reason
                self.log.error("%s: %s NOT subscribed: %s", self.spec.key, instrument.symbol, reason)
                continue
            fresh.append(instrument)
        return fresh

    def _launch(self, fresh: list[Instrument]) -> None:
        if not fresh:
            return
        cryptofeed_symbols.install(self.spec, fresh)
        for connections in plan_shards(self.spec, [i.symbol for i in fresh], self.max_symbols_per_connection):
            self._start_shard(connections)

    def _start_shard(self, connections: list[list[str]]) -> ShardRuntime:
        delay = self.start_stagger * sum(1 for s in self.shards if s.task is not None and not s.task.done())
        shard = self._new_shard(connections)
        shard.task = asyncio.get_running_loop().create_task(self._supervise(shard, delay), name=f"feeds.{self.spec.key}.{shard.index}")
        return shard

    def _new_shard(self, connections: list[list[str]]) -> ShardRuntime:
        index = self._next_index  # never reused: connection ids stay unique after instances are retired
        self._next_index += 1
        shard = ShardRuntime(self, index, connections, [s for conn in connections for s in conn])
        self.shards.append(shard)
        return shard

    def build_for_replay(self) -> list[ReplayConnection]:
        """Instead of `start()`: every feed instance `start()` would run, built but never run (no task, no socket).

        Returns their connections, so frames can be replayed offline through the production feeds (bench.ingest
        measures ingest without the network this way). Rejections and per-message errors are counted here as in
        a live run.
        """
        if self._started:
            raise RuntimeError(f"{self.spec.key}: already started")
        self._started = True
        fresh, self._queued = self._queued, []
        if not fresh:
            return []
        cryptofeed_symbols.install(self.spec, fresh)
        replay: list[ReplayConnection] = []
        for connections in plan_shards(self.spec, [i.symbol for i in fresh], self.max_symbols_per_connection):
            shard = self._new_shard(connections)
            shard.feed = self._build_feed(shard)
            replay.extend(shard.feed.replay_connections())
        return replay

    def _build_feed(self, shard: ShardRuntime):
        timeout = self.silence_timeout if getattr(self.feed_class, "keepalive_interval", None) else -1
        shard._created = 0
        feed = self.feed_class(
            pw_runtime=shard,
            symbols=list(shard.symbols),
            channels=[TRADES],
            callbacks={TRADES: self.on_trade},
            retries=-1,
            timeout=timeout,
            timeout_interval=30,
            config={"log": {"disabled": True}},
        )
        if shard.restarts == 0:
            actual = [list(feed._pw_symbols_of(conn)) for conn, _, _ in feed.connect()]
            if actual != shard.connections:
                self.log.error("%s: feed instance %d: cryptofeed split the symbols into %d connections, not the planned %d",
                               self.spec.key, shard.index, len(actual), len(shard.connections))
                shard.connections = actual
        return feed

    async def _supervise(self, shard: ShardRuntime, delay: float) -> None:
        backoff = Backoff(cap=self.backoff_cap, healthy_after=self.healthy_after)
        stop = shard.stop_event
        if delay > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        while not stop.is_set():
            started = time.monotonic()
            problem: str
            try:
                shard.feed = self._build_feed(shard)
                await shard.feed.run(stop)
                if stop.is_set():
                    return
                problem = "feed.run returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop.is_set():
                    return
                problem = f"{type(exc).__name__}: {exc}"
                self.log.error("%s: feed instance %d failed: %s", self.spec.key, shard.index, problem, exc_info=exc)
            backoff.session_ended(time.monotonic() - started)
            backoff.failures = max(backoff.failures, 1)
            wait = backoff.delay()
            shard.restarts += 1
            self.log.error("%s: feed instance %d (%d symbols) stopped (%s); restarting in %.1fs", self.spec.key, shard.index,
                           len(shard.symbols), problem, wait)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def remove_instruments(self, symbols: Iterable[str], timeout: float = 30.0) -> SubscriptionReport:
        """Stop carrying `symbols` while running (a coin that left the universe).

        Each feed instance holding one of them is replaced, make-before-break: new instances carrying
        the rest start first, and the old one stops once they are up (or after `timeout`), so the
        other symbols' trades never pause. Trades received twice in the overlap dedup in the store.
        Instances left less than full (by earlier removals, or holding symbols added later) are
        merged in the same step, so a universe that keeps changing never fragments into ever more
        connections.
        """
        gone = set(symbols) & set(self.instruments)
        if not gone:
            return self.report()
        for symbol in gone:
            del self.instruments[symbol]
            self.not_subscribed.pop(symbol, None)
        self._queued = [i for i in self._queued if i.symbol not in gone]
        live = [shard for shard in self.shards if not shard.stop_event.is_set()]
        affected = [shard for shard in live if gone & set(shard.symbols)]
        capacity = shard_capacity(self.spec, self.max_symbols_per_connection)
        retired = [shard for shard in live if shard in affected or (capacity and len(shard.symbols) < capacity)]
        keep = [symbol for shard in retired for symbol in shard.symbols if symbol not in gone]
        if self._started:
            successors = [self._start_shard(connections) for connections in plan_shards(self.spec, keep, self.max_symbols_per_connection)]
            deadline = time.monotonic() + timeout
            while not set(keep) <= self._carried_by(successors) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        await self._stop_shards(retired, timeout)
        self.shards = [shard for shard in self.shards if shard not in retired]
        prefixes = tuple(f"{self.spec.key}/{shard.index}." for shard in retired)
        self.connection_state = {conn: event for conn, event in self.connection_state.items() if not conn.startswith(prefixes)}
        report = self.report()
        self.log.info("%s: %d symbols unsubscribed (%s); %s", self.spec.key, len(gone), ", ".join(sorted(gone)[:10]), report)
        return report

    def _carried_by(self, shards: list[ShardRuntime]) -> set[str]:
        prefixes = tuple(f"{self.spec.key}/{shard.index}." for shard in shards)
        return {symbol for conn_id, event in self.connection_state.items()
                if event.state == "up" and conn_id.startswith(prefixes) for symbol in event.symbols}

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop every feed instance: no reconnects, sockets closed; tasks cancelled after `timeout`."""
        self.stop_event.set()
        await self._stop_shards(self.shards, timeout)

    async def _stop_shards(self, shards: list[ShardRuntime], timeout: float) -> None:
        for shard in shards:
            for handler in getattr(shard.feed, "connection_handlers", None) or []:
                handler.running = False
            shard.stop_event.set()
        for shard in shards:
            for handler in getattr(shard.feed, "connection_handlers", None) or []:
                with suppress(Exception):
                    await handler.request_stop()
        tasks = [shard.task for shard in shards if shard.task is not None and not shard.task.done()]
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.log.error("%s: feed task ended with an error", self.spec.key, exc_info=task.exception())
