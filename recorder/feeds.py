"""cryptofeed feed instances for one market: endpoint override, TLS, pre-set symbols, sharding, supervision.

How this uses cryptofeed 3.0.1 (file:line refer to the installed package):

- No FeedHandler: it configures logging on construction (feedhandler.py:59) and installs signal
  handlers (feedhandler.py:149). Each feed instance runs as `feed.run(stop_event)` (feed.py:217)
  inside a task of ours, in the service's own loop.
- Symbols: `recorder.instruments.cryptofeed_symbols.install` fills `Symbols` before a feed is
  built, so `load_symbols` returns at once (exchange.py:128); a feed that would still try a REST
  symbol fetch raises instead (`_fetch_symbol_data` is overridden).
- Endpoints: a subclass per market replaces `websocket_endpoints` and `rest_endpoints` (both
  class attributes; symbol loading is a classmethod reading `cls.rest_endpoints`), replacing
  scheme+host+port with `ws_base`/`rest_base` and keeping each path (Bybit reads spot/linear from
  the last path segment, bybit.py:246). cryptofeed 3.0.1's KuCoin connects straight to
  `wss://x-push-spot.kucoin.com` / `x-push-futures` (kucoin.py:30): no bullet token any more.
- TLS: `WebsocketEndpoint.options` go verbatim to `websockets.connect` (connection.py:295), so
  `options['ssl']` carries an SSLContext that trusts the system store plus `tls_ca_file`.
  `HTTPAsyncConn` builds a bare `aiohttp.ClientSession()` (connection.py:169); the feed's
  `http_conn` is replaced by a subclass whose session uses the same context (cryptofeed makes no
  HTTP call for trades once symbols are set, but any future one is covered).
- Reconnects: `ConnectionHandler.run` sleeps 1 s after any exception, doubles that delay until a
  subscribe succeeds, and gives up after `retries` (connection_handler.py:82-130). Feeds run with
  `retries=-1`, and `Feed._wrap_connection` (feed.py:231, a documented hook) swaps each
  `WSAsyncConn` for `SupervisedWS`: its `_open` retries internally with a CAPPED, jittered
  exponential backoff (`Backoff`: immediate first retry, then 1 s doubling to `backoff_cap`; reset
  by a session of `healthy_after` seconds) and never raises except on stop, and its `read` ends
  normally when the socket closes, so the handler reconnects at once without its own sleep. A
  subscribe that raises is logged and the socket closed instead of re-raised. The handler's
  delay therefore never grows and the only wait is ours. Above that, a supervisor task per feed
  instance rebuilds the feed with capped backoff if `feed.run` ever ends or raises.
- Watchdog: cryptofeed's silence watchdog (connection_handler.py:66, default 120 s) recycles
  connections whose symbols are merely quiet. It is disabled (`timeout=-1`) for feeds without an
  application-level keepalive (Binance: the server pings at protocol level and `websockets`
  answers; a dead peer is detected by websockets' own ping_timeout, connection.py:331). Where
  a keepalive ping gets an application-level reply (OKX, KuCoin, Phemex, and Bybit and Gate with
  the keepalive added here), every reply counts as a message, so a quiet-but-alive connection is
  never silent and the watchdog runs with a long timeout (`silence_timeout`, default 300 s) that
  only fires when the server stops answering pings.
- Connection lifecycle: `on_connection(ConnectionEvent)` with state `up` after the feed's
  `subscribe(conn)` returned (hook: our `subscribe` override) and `down` when that session closes
  (hook: `SupervisedWS.connect`).
- Sharding: one feed instance per websocket connection, except Phemex, whose instances hold up to
  `max_symbols_per_feed` (100) symbols on connections of `max_symbols_per_connection` (20) made by
  cryptofeed's own endpoint `limit` split (feed.py:378). KuCoin and Gate subscribe every symbol of
  the FEED on each connection (kucoin.py:233, gate.py:288), so they must be one connection per
  instance; Binance puts streams in the URL and gives each address the whole feed subscription
  (feed.py:414), so one connection per instance also keeps `conn.subscription` honest.
- Per-message errors: an exception while handling one message would make cryptofeed drop and
  reconnect the whole connection (connection_handler.py:136); here it is counted and logged
  (rate-limited), and the connection keeps reading. This includes exceptions raised by `on_trade`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl as ssl_module
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from cryptofeed.connection import HTTPAsyncConn, RestEndpoint, WebsocketEndpoint, WSAsyncConn
from cryptofeed.defines import TRADES
from cryptofeed.exceptions import ConnectionClosed
from websockets.exceptions import ConnectionClosed as WebsocketsClosed

from recorder.backoff import Backoff
from recorder.exchanges import EXCHANGES, market_hooks
from recorder.exchanges.base import Exchange
from recorder.instruments import cryptofeed_symbols
from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec
from recorder.ratelimited_log import RateLimitedLog
from recorder.tls import client_ssl_context

LOG = logging.getLogger(__name__)

ConnectionState = Literal["up", "down"]
TradeCallback = Callable[[Any, float], Awaitable[None]]
ConnectionCallback = Callable[["ConnectionEvent"], Any]

# --- small value types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionEvent:
    """A websocket connection of one market came up (subscribed) or went down."""

    exchange: str
    market: str
    conn_id: str
    state: ConnectionState
    symbols: tuple[str, ...]
    """normalized symbols subscribed on this connection."""
    ts_ns: int


@dataclass(frozen=True)
class SubscriptionReport:
    """For logging: how many symbols are listed, subscribed, on how many connections and feeds."""

    market: str
    listed: int
    subscribed: int
    connections: int
    feeds: int
    not_subscribed: dict[str, str] = field(default_factory=dict)
    """symbol → why it cannot be subscribed (never dropped silently)."""

    def __str__(self) -> str:
        text = (f"{self.market}: {self.subscribed}/{self.listed} symbols subscribed on {self.connections} connections "
                f"in {self.feeds} feed instances")
        if self.not_subscribed:
            sample = ", ".join(f"{s} ({r})" for s, r in list(self.not_subscribed.items())[:10])
            text += f"; NOT subscribed: {len(self.not_subscribed)}: {sample}"
        return text


# --- endpoints and TLS ---------------------------------------------------------------------------


def rewrite_url(url: str, base: str | None) -> str:
    """`url` with scheme, host and port taken from `base` (a path in `base` is prepended); None keeps `url`."""
    if not base:
        return url
    target, new = urlsplit(url), urlsplit(base)
    if not new.scheme or not new.netloc:
        raise ValueError(f"endpoint base {base!r} must look like scheme://host[:port]")
    path = new.path.rstrip("/") + target.path if new.path.rstrip("/") else target.path
    return urlunsplit((new.scheme, new.netloc, path, target.query, target.fragment))


class TLSHTTPConn(HTTPAsyncConn):
    """cryptofeed's HTTP connection with an explicit SSL context (connection.py:169 uses the default)."""

    def __init__(self, conn_id: str, proxy: Any = None, ssl: ssl_module.SSLContext | None = None) -> None:
        super().__init__(conn_id, proxy)
        self._ssl = ssl

    async def _open(self) -> None:
        if self.is_open:
            return
        connector = aiohttp.TCPConnector(ssl=self._ssl) if self._ssl is not None else None
        self.conn = aiohttp.ClientSession(connector=connector)
        self._reset_counters()


# --- the connection wrapper ----------------------------------------------------------------------


class SupervisedWS(WSAsyncConn):
    """A `WSAsyncConn` that reconnects with capped backoff inside `_open` and reports up/down."""

    def __init__(self, address: str, conn_id: str, *, runtime: _ShardRuntime, logical_id: str, subscription=None,
                 **ws_kwargs: Any) -> None:
        super().__init__(address, conn_id, subscription=subscription, **ws_kwargs)
        self.runtime = runtime
        self.logical_id = logical_id
        self.backoff = Backoff(cap=runtime.owner.backoff_cap, healthy_after=runtime.owner.healthy_after)
        self.up_symbols: tuple[str, ...] | None = None
        self.sessions = 0
        self.close_reason: str | None = None

    async def _open(self) -> None:
        stop = self.runtime.stop_event
        while True:
            delay = self.backoff.delay()
            if delay > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                raise ConnectionClosed(f"{self.logical_id}: stopping")
            try:
                await super()._open()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.backoff.failed()
                failures = self.backoff.failures
                if failures <= 3 or failures % 10 == 0:
                    self.runtime.owner.log.warning("%s: connect to %s failed (%d in a row): %s: %s; retrying with backoff (cap %.0fs)",
                                                   self.logical_id, self.address.split("?")[0], failures, type(exc).__name__, exc,
                                                   self.backoff.cap)

    @asynccontextmanager
    async def connect(self):
        await self._open()
        self.connects += 1
        self.sessions += 1
        self.close_reason = None
        started = time.monotonic()
        try:
            yield self
        finally:
            try:
                await self.close()
            finally:
                self.backoff.session_ended(time.monotonic() - started)
                if self.up_symbols is not None:
                    symbols, self.up_symbols = self.up_symbols, None
                    self.runtime.owner.emit(self.logical_id, "down", symbols, self.close_reason or "closed",
                                            planned=self.runtime.stop_event.is_set())

    async def read(self):
        """Frames until the socket closes; a close ends the iteration instead of raising.

        cryptofeed's handler sleeps (1 s, doubling until a subscribe succeeds) after any exception
        before reconnecting (connection_handler.py:103-126); ending normally makes it reconnect at
        once, so the only wait is our own backoff in `_open` (none after a healthy session).
        """
        try:
            async for data in super().read():
                yield data
        except (WebsocketsClosed, ConnectionClosed, ConnectionError, OSError, TimeoutError) as exc:
            self.close_reason = f"{type(exc).__name__}: {exc}"

    def mark_up(self, symbols: tuple[str, ...]) -> None:
        self.up_symbols = symbols
        self.runtime.owner.emit(self.logical_id, "up", symbols)


# --- the feed subclass ---------------------------------------------------------------------------


@dataclass
class _ShardRuntime:
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


class _RecorderFeedMixin:
    """Behaviour added to every cryptofeed class we run; mixed in before the exchange class."""

    _pw_exchange: Exchange
    _pw_keepalive: Callable[[], str] | None = None
    _pw_ssl: ssl_module.SSLContext | None = None

    def __init__(self, *args: Any, pw_runtime: _ShardRuntime, **kwargs: Any) -> None:
        self._pw_runtime = pw_runtime
        super().__init__(*args, **kwargs)
        self.http_conn = TLSHTTPConn(self.id, self.http_proxy, self._pw_ssl)

    @classmethod
    async def _fetch_symbol_data(cls, conn):
        raise RuntimeError(f"{cls.id}: symbols must be installed with recorder.instruments.cryptofeed_symbols.install "
                           "before a feed is built; refusing cryptofeed's own REST symbol loading")

    def _wrap_connection(self, conn):
        if not isinstance(conn, WSAsyncConn) or isinstance(conn, SupervisedWS):
            return conn
        runtime = self._pw_runtime
        return SupervisedWS(conn.address, self.id, runtime=runtime, logical_id=runtime.next_logical_id(),
                            subscription=conn.subscription, **conn.ws_kwargs)

    def _pw_symbols_of(self, conn) -> tuple[str, ...]:
        out = []
        for symbols in (getattr(conn, "subscription", None) or {}).values():
            for symbol in symbols:
                with suppress(Exception):
                    out.append(self.exchange_symbol_to_std_symbol(symbol))
        return tuple(out)

    async def subscribe(self, conn):
        try:
            await super().subscribe(conn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pw_runtime.owner.log.warning("%s: subscribe failed (%s: %s); closing the socket to reconnect",
                                               getattr(conn, "logical_id", conn.uuid), type(exc).__name__, exc)
            with suppress(Exception):
                await conn.close()
            return
        if isinstance(conn, SupervisedWS):
            conn.mark_up(self._pw_symbols_of(conn))

    async def keepalive(self, conn):
        if self._pw_keepalive is not None:
            await conn.write(self._pw_keepalive())
        else:
            await super().keepalive(conn)

    async def message_handler(self, msg, conn, timestamp):
        reply = self._pw_exchange.read_reply(msg) if isinstance(msg, str) and len(msg) < 4096 else None
        if reply is not None:
            if reply.rejected:
                self._pw_runtime.owner.rejection(getattr(conn, "logical_id", "?"), msg)
            if reply.pong:
                return
        try:
            await super().message_handler(msg, conn, timestamp)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pw_runtime.owner.message_error(getattr(conn, "logical_id", "?"), exc, msg)


def feed_subclass(spec: MarketSpec, *, ws_base: str | None = None, rest_base: str | None = None,
                  ssl: ssl_module.SSLContext | None = None, connection_limit: int | None = None) -> type:
    """The cryptofeed class for `spec` with endpoints rewritten, TLS options, keepalive and our hooks."""
    base = cryptofeed_symbols.feed_class(spec)
    exchange = EXCHANGES[spec.exchange]
    endpoints = []
    for endpoint in base.websocket_endpoints:
        options = dict(endpoint.options or {})
        if ssl is not None:
            options["ssl"] = ssl
        limit = endpoint.limit
        if exchange.multi_connection and connection_limit:
            limit = min(limit, connection_limit) if limit else connection_limit
        endpoints.append(WebsocketEndpoint(rewrite_url(endpoint.address, ws_base), sandbox=None,
                                           instrument_filter=endpoint.instrument_filter,
                                           channel_filter=endpoint.channel_filter, limit=limit, options=options))
    rest = [dataclasses.replace(ep, address=rewrite_url(ep.address, rest_base), sandbox=None) if isinstance(ep, RestEndpoint) else ep
            for ep in base.rest_endpoints]
    attrs: dict[str, Any] = {
        "websocket_endpoints": endpoints,
        "rest_endpoints": rest,
        "_pw_ssl": ssl,
        "_pw_exchange": exchange,
        "__module__": __name__,
        "__qualname__": f"Recorder{base.__name__}_{spec.market}",
    }
    keepalive = exchange.markets[spec.market].keepalive
    if keepalive is not None and not getattr(base, "keepalive_interval", None):
        attrs["keepalive_interval"] = keepalive.interval
        attrs["_pw_keepalive"] = staticmethod(keepalive.message)
    return type(attrs["__qualname__"], (_RecorderFeedMixin, base), attrs)


# --- sharding ------------------------------------------------------------------------------------


def connection_cap(spec: MarketSpec, max_symbols_per_connection: int | None) -> int | None:
    """Symbols per websocket connection: the tighter of the exchange cap and the configured one."""
    caps = [c for c in (spec.max_symbols_per_connection, max_symbols_per_connection, spec.max_symbols_per_feed) if c]
    return min(caps) if caps else None


def plan_shards(spec: MarketSpec, symbols: Sequence[str], max_symbols_per_connection: int | None) -> list[list[list[str]]]:
    """Feed instances → connections → symbols, every symbol exactly once, in the given order.

    Connections hold at most `connection_cap` symbols. Instances hold one connection, except for
    exchanges with `multi_connection` (Phemex), whose instances hold as many whole connections as fit in
    `spec.max_symbols_per_feed`.
    """
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        return []
    cap = connection_cap(spec, max_symbols_per_connection) or len(symbols)
    connections = [symbols[i:i + cap] for i in range(0, len(symbols), cap)]
    per_feed = _connections_per_feed(spec, cap)
    return [connections[i:i + per_feed] for i in range(0, len(connections), per_feed)]


def _connections_per_feed(spec: MarketSpec, cap: int) -> int:
    if EXCHANGES[spec.exchange].multi_connection and spec.max_symbols_per_feed:
        return max(1, spec.max_symbols_per_feed // cap)
    return 1


def shard_capacity(spec: MarketSpec, max_symbols_per_connection: int | None) -> int | None:
    """Symbols a full feed instance holds (None: unbounded)."""
    cap = connection_cap(spec, max_symbols_per_connection)
    return cap * _connections_per_feed(spec, cap) if cap else None


def unsubscribable(spec: MarketSpec, instrument: Instrument) -> str | None:
    """Why cryptofeed could not deliver this instrument's trades, or None (the exchange module's rule)."""
    return market_hooks(spec.exchange, spec.market).unsubscribable(instrument)


# --- the market runner ---------------------------------------------------------------------------


class MarketFeeds:
    """All feed instances of one market, supervised inside the caller's asyncio loop.

    `start()` installs the symbols into cryptofeed, plans the shards and starts one supervised task
    per feed instance; `add_instruments(new)` starts extra instances for symbols not yet
    subscribed without touching the running ones; `stop()` closes everything.
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
        self.shards: list[_ShardRuntime] = []
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

    def _start_shard(self, connections: list[list[str]]) -> _ShardRuntime:
        index = self._next_index  # never reused: connection ids stay unique after instances are retired
        self._next_index += 1
        shard = _ShardRuntime(self, index, connections, [s for conn in connections for s in conn])
        delay = self.start_stagger * sum(1 for s in self.shards if s.task is not None and not s.task.done())
        self.shards.append(shard)
        shard.task = asyncio.get_running_loop().create_task(self._supervise(shard, delay), name=f"feeds.{self.spec.key}.{index}")
        return shard

    def _build_feed(self, shard: _ShardRuntime):
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

    async def _supervise(self, shard: _ShardRuntime, delay: float) -> None:
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

    def _carried_by(self, shards: list[_ShardRuntime]) -> set[str]:
        prefixes = tuple(f"{self.spec.key}/{shard.index}." for shard in shards)
        return {symbol for conn_id, event in self.connection_state.items()
                if event.state == "up" and conn_id.startswith(prefixes) for symbol in event.symbols}

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop every feed instance: no reconnects, sockets closed; tasks cancelled after `timeout`."""
        self.stop_event.set()
        await self._stop_shards(self.shards, timeout)

    async def _stop_shards(self, shards: list[_ShardRuntime], timeout: float) -> None:
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


async def run_market(
    spec: MarketSpec,
    instruments: Iterable[Instrument],
    *,
    ws_base: str | None = None,
    rest_base: str | None = None,
    ssl_ca_file: str | None = None,
    max_symbols_per_connection: int | None = None,
    on_trade: TradeCallback,
    on_connection: ConnectionCallback | None = None,
    log: logging.Logger | None = None,
    started: Callable[[MarketFeeds, SubscriptionReport], Any] | None = None,
) -> None:
    """Run one market until cancelled (then stop it cleanly). `started(feeds, report)` is called once running."""
    feeds = MarketFeeds(spec, instruments, ws_base=ws_base, rest_base=rest_base, ssl_ca_file=ssl_ca_file,
                        max_symbols_per_connection=max_symbols_per_connection, on_trade=on_trade,
                        on_connection=on_connection, log=log)
    try:
        report = await feeds.start()
        if started is not None:
            started(feeds, report)
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(feeds.stop())
