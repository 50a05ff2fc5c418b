"""One market on its own port: REST and websockets, the trade generator, history and fault switches.

Shared by all twelve markets; everything exchange-specific is delegated to the market's `Venue`.
One timer loop per market generates a tick's trades for all listings at once, so thousands of
symbols cost one task, not thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
import ssl
import time
from collections.abc import Sequence
from decimal import Decimal

from aiohttp import WSMsgType, web

from simulator.exchanges.model import Coin, Listing, SimTrade
from simulator.exchanges.pricing import PriceModel
from simulator.exchanges.truth import TruthLog, normalize
from simulator.exchanges.venue import Message, Venue, as_text, dumps

LOG = logging.getLogger(__name__)

MALFORMED_KINDS: tuple[str, ...] = ("garbage", "missing_fields", "nan_price", "negative_price", "huge")
HUGE_FRAME_BYTES = 2 * 1024 * 1024
PRICE_NOISE = 0.0005
"""per-trade relative noise around the price path."""
NOTIONAL_LOG10 = (0.7, 3.7)
"""trade sizes are log-uniform between ~5 and ~5000 USDT at the reference price (so sizes, like
symbols, sides and ids, repeat with the seed; prices follow the wall-clock price path)."""
MAX_URL_BYTES = 64 * 1024
"""Binance takes up to 1024 streams in the URL (~30 kB); aiohttp's default request line is 8 kB."""
MAX_BACKLOG = 100_000
"""a connection further behind than this many frames is dropped, as exchanges drop slow readers."""
OFFLINE_STATE: dict[str, object] = {"combined": True}
"""the connection facts `tick_frames` renders for: cryptofeed's (Binance: combined streams)"""


def _by_native(trades: list[SimTrade]) -> dict[str, list[SimTrade]]:
    """Trades grouped by listing, each group in order, the groups in order of first appearance."""
    groups: dict[str, list[SimTrade]] = {}
    for trade in trades:
        groups.setdefault(trade.listing.native, []).append(trade)
    return groups


class Connection:
    """One accepted websocket: its subscriptions and an outbound queue drained by one writer task.

    The queue keeps a slow client from stalling the market's generator; a trade counts as sent
    when its frame has been written to the socket.
    """

    _ids = itertools.count(1)

    def __init__(self, market: MarketServer, ws: web.WebSocketResponse) -> None:
        self.id = f"sim{next(self._ids):06d}"
        self.market = market
        self.ws = ws
        self.subs: set[str] = set()
        self.state: dict[str, object] = {}
        """the venue's per-connection facts (e.g. Binance combined vs raw streams)."""
        self._queue: asyncio.Queue[tuple[Message, Sequence[SimTrade]] | None] = asyncio.Queue()
        self._dropped = False

    def send(self, message: Message, trades: Sequence[SimTrade] = ()) -> None:
        if self._dropped:
            return
        if self._queue.qsize() >= MAX_BACKLOG:
            LOG.warning("%s: %s is %d frames behind, dropping it", self.market.key, self.id, MAX_BACKLOG)
            self._dropped = True
            self._queue = asyncio.Queue()
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait((message, trades))

    async def write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                await self.ws.close(code=1008, message=b"slow consumer")
                return
            message, trades = item
            try:
                await self.ws.send_str(as_text(message))
            except ConnectionError:
                return
            self.market.truth.sent(trades)


class MarketServer:
    def __init__(
        self,
        venue_cls: type[Venue],
        coins: Sequence[Coin],
        prices: PriceModel,
        truth: TruthLog,
        sequence: itertools.count,
        *,
        rate: float,
        seed: int,
        tick_s: float,
        history_limit: int,
    ) -> None:
        self.seed = seed
        self.venue = venue_cls(self)
        self.spec = self.venue.spec
        self.key = self.spec.key
        self.truth = truth
        self.listings: dict[str, Listing] = {}
        for coin in coins:
            listing = self.venue.listing(coin)
            self.listings[listing.native] = listing
        self.port = 0
        self.paused = False
        self._order = list(self.listings.values())
        self._prices = prices
        self._sequence = sequence
        self._rate = rate
        self._tick_s = tick_s
        self._history_limit = history_limit
        self._history: dict[str, list[SimTrade]] = {native: [] for native in self.listings}
        self._count: dict[str, int] = dict.fromkeys(self.listings, 0)
        self._skip: dict[str, int] = {}
        self._subscribers: dict[str, set[Connection]] = {native: set() for native in self.listings}
        self._conns: set[Connection] = set()
        self._refuse_until = 0.0
        self._rng = random.Random(f"trades:{seed}:{self.key}")
        self._runner: web.AppRunner | None = None
        self._generator: asyncio.Task[None] | None = None

    # lifecycle
    async def start(self, ssl_context: ssl.SSLContext) -> None:
        app = web.Application()
        for path in self.venue.ws_paths:
            app.router.add_get(path, self._websocket)
        for method, path, handler in self.venue.rest_routes():
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, max_line_size=MAX_URL_BYTES)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()
        self.port = sock.getsockname()[1]
        self._generator = asyncio.create_task(self._generate_loop(), name=f"sim.{self.key}.generator")

    async def stop(self) -> None:
        if self._generator is not None:
            self._generator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._generator
        await self._close_all(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()

    # websockets
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if time.monotonic() < self._refuse_until:
            raise web.HTTPServiceUnavailable(text="simulated outage")
        ws = web.WebSocketResponse(heartbeat=self.venue.heartbeat, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(self, ws)
        self._conns.add(conn)
        writer = asyncio.create_task(conn.write_loop(), name=f"sim.{self.key}.{conn.id}.writer")
        try:
            await self.venue.on_open(conn, request)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.venue.on_message(conn, msg.data)
        finally:
            self._conns.discard(conn)
            for native in conn.subs:
                self._subscribers[native].discard(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    def subscribe(self, conn: Connection, native: str) -> bool:
        """Add a trade subscription; False for an unknown symbol or a full connection."""
        if native not in self.listings:
            return False
        cap = self.spec.max_symbols_per_connection
        if cap is not None and native not in conn.subs and len(conn.subs) >= cap:
            return False
        conn.subs.add(native)
        self._subscribers[native].add(conn)
        return True

    def unsubscribe(self, conn: Connection, native: str) -> None:
        conn.subs.discard(native)
        if native in self._subscribers:
            self._subscribers[native].discard(conn)

    def subscribed(self) -> set[str]:
        return {native for native, conns in self._subscribers.items() if conns}

    def connections(self) -> int:
        return len(self._conns)

    # generation
    async def _generate_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at = max(next_at + self._tick_s, loop.time() - 1.0)
            await asyncio.sleep(next_at - loop.time())
            if not self.paused:
                self._publish(self._tick(time.time_ns()))

    def _tick(self, now_ns: int) -> list[SimTrade]:
        whole, frac = divmod(self._rate * self._tick_s, 1.0)
        picks = self._order * int(whole)
        if frac:
            picks += self._rng.sample(self._order, self._rng.binomialvariate(len(self._order), frac))
        return [self._generate(listing, now_ns) for listing in picks]

    def _generate(self, listing: Listing, now_ns: int) -> SimTrade:
        ts_ns = now_ns - now_ns % self.venue.ts_unit_ns
        coin_price = self._prices.price(listing.base, self.key, ts_ns)
        coin_price *= 1 + self._rng.uniform(-PRICE_NOISE, PRICE_NOISE)
        coin_amount = 10 ** self._rng.uniform(*NOTIONAL_LOG10) / listing.ref_price
        side = "buy" if self._rng.random() < 0.5 else "sell"
        return self._record(listing, ts_ns, listing.quantize_price(coin_price), listing.quantize_size(coin_amount), side)

    def _record(self, listing: Listing, ts_ns: int, price: Decimal, size: Decimal, side: str) -> SimTrade:
        n = self._count[listing.native] = self._count[listing.native] + 1
        trade = SimTrade(next(self._sequence), listing, ts_ns, price, size, side, self.venue.trade_id(listing, n), n)
        trade.truth = normalize(trade)
        history = self._history[listing.native]
        history.append(trade)
        if len(history) > self._history_limit * 1.25:
            del history[: len(history) - self._history_limit]
        self.truth.generated(trade)
        return trade

    def _publish(self, trades: list[SimTrade]) -> None:
        for native, group in _by_native(trades).items():
            held = min(self._skip.get(native, 0), len(group))
            if held:
                self._skip[native] -= held
                group = group[held:]
            subscribers = self._subscribers[native]
            if not group or not subscribers:
                continue
            for message, carried in self.venue.trade_messages(self.listings[native], group):
                for conn in subscribers:
                    conn.send(self.venue.frame(conn.state, message), carried)

    def tick_frames(self, now_ns: int, natives: set[str]) -> list[tuple[str, str, int]]:
        """One tick of trades at `now_ns`, and those of `natives` as the text frames a subscriber receives, without a socket.

        Returns (native symbol, frame, trades carried) in sending order; Binance frames come as on its
        combined streams, which cryptofeed subscribes to. For replaying real frames offline (benchmarks).
        """
        wanted = [trade for trade in self._tick(now_ns) if trade.listing.native in natives]
        return [(native, as_text(self.venue.frame(OFFLINE_STATE, message)), len(carried))
                for native, group in _by_native(wanted).items()
                for message, carried in self.venue.trade_messages(self.listings[native], group)]

    def publish(self, native: str, price: Decimal, amount: Decimal, side: str) -> SimTrade:
        """Trade `amount` coins at `price` per coin now; ValueError if the wire units cannot express it."""
        listing = self.listings[native]
        quoted = price * listing.multiplier
        size = amount / (listing.contract_size * listing.multiplier)
        if quoted != quoted.quantize(listing.tick) or size != size.quantize(listing.step) or quoted <= 0 or size <= 0:
            raise ValueError(f"{self.key} {native}: {amount} at {price} is not on tick {listing.tick} / step {listing.step}")
        now_ns = time.time_ns()
        trade = self._record(listing, now_ns - now_ns % self.venue.ts_unit_ns, quoted, size, side)
        self._publish([trade])
        return trade

    # history, for REST backfill and Phemex's resend
    def history(self, native: str) -> list[SimTrade]:
        return self._history[native]

    def since(self, native: str, n: int, limit: int) -> list[SimTrade]:
        """Up to `limit` trades from ordinal `n` on, oldest first."""
        history = self._history[native]
        if not history:
            return []
        start = max(0, n - history[0].n)
        return history[start : start + limit]

    def before(self, native: str, n: int, limit: int) -> list[SimTrade]:
        """The `limit` trades just before ordinal `n`, oldest first."""
        history = self._history[native]
        if not history:
            return []
        end = max(0, n - history[0].n)
        return history[max(0, end - limit) : end]

    # faults
    def skip(self, native: str, n: int) -> None:
        if native not in self.listings:
            raise KeyError(f"{self.key}: unknown symbol {native}")
        self._skip[native] = self._skip.get(native, 0) + n

    async def disconnect(self, refuse_for: float) -> None:
        self._refuse_until = time.monotonic() + refuse_for
        await self._close_all(code=1011, message=b"simulated disconnect")

    async def _close_all(self, code: int, message: bytes) -> None:
        await asyncio.gather(*(conn.ws.close(code=code, message=message) for conn in list(self._conns)))

    def inject_malformed(self, n: int, kinds: Sequence[str]) -> int:
        """Send `n` malformed frames (cycling through `kinds`) on every subscribed connection."""
        sent = 0
        for conn in list(self._conns):
            if not conn.subs:
                continue
            listing = self.listings[min(conn.subs)]
            for i in range(n):
                conn.send(self._malformed(conn, kinds[i % len(kinds)], listing))
                sent += 1
        return sent

    def _malformed(self, conn: Connection, kind: str, listing: Listing) -> Message:
        if kind == "garbage":
            return '{"garbage": [1, 2,'
        if kind == "huge":
            return dumps({"padding": "x" * HUGE_FRAME_BYTES})
        now_ns = time.time_ns()
        fake = SimTrade(-1, listing, now_ns - now_ns % self.venue.ts_unit_ns, listing.quantize_price(listing.ref_price),
                        listing.step, "buy", self.venue.trade_id(listing, 0), 0)
        message = self.venue.trade_messages(listing, [fake])[0][0]
        container, slot = self.venue.price_slot(message)
        if kind == "missing_fields":
            del container[slot]
        elif kind == "nan_price":
            container[slot] = "NaN"
        elif kind == "negative_price":
            price = container[slot]
            container[slot] = -price if isinstance(price, int) else f"-{price}"
        else:
            raise ValueError(f"unknown malformed kind {kind!r}; known: {', '.join(MALFORMED_KINDS)}")
        return self.venue.frame(conn.state, message)
