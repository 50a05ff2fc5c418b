"""The exchange simulator against the REAL cryptofeed feed classes, all twelve markets.

A test-only harness subclasses each feed class with the simulator's scheme, host and port (paths
kept) and a TLS context trusting the simulator's CA, loads the symbol lists through cryptofeed's
own REST fetch and parsers, and pre-populates `Symbols`. What cryptofeed then emits must equal the
simulator's truth log after the documented conversions (contracts × ctVal, 1000PEPE ÷ 1000,
Phemex spot amounts × 1e8, …). Every wait polls a condition against a deadline.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import math
import ssl
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import websockets
from cryptofeed.connection import RestEndpoint, WebsocketEndpoint
from cryptofeed.defines import TRADES
from cryptofeed.feed import Feed
from cryptofeed.symbols import Symbols

from recorder.markets import BY_KEY, MARKETS
from simulator.exchanges import VENUES, ExchangeSimulator, Listing, client_ssl_context
from tests.conftest import eventually_async

ALL = [spec.key for spec in MARKETS]
KEEPALIVE_S = 0.5
"""the harness shortens cryptofeed's keepalive so each exchange's ping/pong runs within the test."""

Received = dict[str, list[Any]]


# --- harness -------------------------------------------------------------------------------------
def feed_base(key: str) -> type[Feed]:
    module, _, name = BY_KEY[key].feed_class.partition(":")
    return getattr(importlib.import_module(module), name)


def relocate(url: str, base: str) -> str:
    """Swap scheme, host and port for the simulator's; keep path and query."""
    old, new = urlsplit(url), urlsplit(base)
    return urlunsplit((new.scheme, new.netloc, old.path, old.query, old.fragment))


def sim_feed_class(sim: ExchangeSimulator, key: str, context: ssl.SSLContext) -> type[Feed]:
    base = feed_base(key)
    ws, rest = sim.endpoint(key)
    attrs: dict[str, Any] = {
        "websocket_endpoints": [
            WebsocketEndpoint(relocate(ep.address, ws), instrument_filter=ep.instrument_filter,
                              channel_filter=ep.channel_filter, limit=ep.limit, options={**ep.options, "ssl": context})
            for ep in base.websocket_endpoints
        ],
        "rest_endpoints": [
            RestEndpoint(relocate(ep.address, rest), instrument_filter=ep.instrument_filter, routes=ep.routes)
            for ep in base.rest_endpoints
        ],
    }
    if base.keepalive_interval:
        attrs["keepalive_interval"] = KEEPALIVE_S
    return type(f"Sim{base.__name__}", (base,), attrs)


class SimHttp:
    """Stands in for cryptofeed's HTTPAsyncConn while loading symbols: same `read`, trusting the CA."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def read(self, address: str, header: Any = None, params: Any = None, **_: Any) -> str:
        async with self.session.get(address, headers=header, params=params) as response:
            response.raise_for_status()
            return await response.text()


async def load_symbols(sim: ExchangeSimulator, keys: list[str], context: ssl.SSLContext,
                       session: aiohttp.ClientSession) -> dict[str, dict[str, str | None]]:
    """Fetch and parse each market's lists with cryptofeed's own code, repair what it gets wrong with
    the simulator's names, `Symbols.set` the union per cryptofeed id; return {market: {native: its symbol}}
    for every symbol cryptofeed named differently (None: did not find at all)."""
    merged: dict[str, tuple[dict[str, str], dict[str, dict]]] = {}
    quirks: dict[str, dict[str, str | None]] = {}
    for key in keys:
        cls = sim_feed_class(sim, key, context)
        data = await cls._fetch_symbol_data(SimHttp(session))
        parsed, info = cls._parse_symbol_data(data if len(data) > 1 else data[0])
        feed_native = {native.replace("/", ""): native for native in parsed.values()}
        by_native = {native: symbol for symbol, native in parsed.items()}
        for listing in sim.instruments(key):
            if listing.native not in feed_native:
                quirks.setdefault(key, {})[listing.native] = None
                parsed[listing.symbol] = listing.native
                continue
            native = feed_native[listing.native]
            symbol = by_native[native]
            if symbol != listing.symbol:
                quirks.setdefault(key, {})[listing.native] = symbol
                parsed[listing.symbol] = parsed.pop(symbol)
                for table in info.values():
                    if symbol in table:
                        table[listing.symbol] = table.pop(symbol)
        normalized, tables = merged.setdefault(cls.id, ({}, {}))
        normalized.update(parsed)
        for name, table in info.items():
            tables.setdefault(name, {}).update(table)
    for exchange_id, (normalized, tables) in merged.items():
        Symbols.set(exchange_id, normalized, tables)
    return quirks


def make_feed(sim: ExchangeSimulator, key: str, context: ssl.SSLContext, received: Received) -> Feed:
    async def on_trade(trade: Any, receipt_timestamp: float) -> None:
        received[key].append(trade)

    cls = sim_feed_class(sim, key, context)
    return cls(symbols=[listing.symbol for listing in sim.instruments(key)], channels=[TRADES],
               callbacks={TRADES: on_trade}, retries=-1)


class Running:
    """The simulator, an HTTPS session and real cryptofeed feeds for `keys`, torn down in order."""

    def __init__(self, keys: list[str], **sim_args: Any) -> None:
        self.keys = keys
        self.sim = ExchangeSimulator(keys, **sim_args)
        self.received: Received = defaultdict(list)
        self.feeds: dict[str, Feed] = {}
        self.quirks: dict[str, dict[str, str | None]] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Running:
        await self.sim.start()
        assert self.sim.ca_file is not None
        self.context = client_ssl_context(self.sim.ca_file)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.context))
        self.quirks = await load_symbols(self.sim, self.keys, self.context, self.session)
        for key in self.keys:
            self.feeds[key] = make_feed(self.sim, key, self.context, self.received)
            self._tasks.append(asyncio.create_task(self.feeds[key].run(self._stop)))
        await eventually_async(lambda: all(self.sim.subscribed(k) == natives(self.sim, k) for k in self.keys), what="all subscribed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), 15)
        await self.session.close()
        await self.sim.stop()
        Symbols.clear()

    def connects(self, key: str) -> int:
        return sum(handler.conn.connects for handler in self.feeds[key].connection_handlers)

    async def get(self, key: str, path: str, params: dict[str, Any]) -> Any:
        async with self.session.get(self.sim.endpoint(key)[1] + path, params=params) as response:
            response.raise_for_status()
            return await response.json(content_type=None)


# --- the documented conversions ------------------------------------------------------------------
def natives(sim: ExchangeSimulator, key: str) -> set[str]:
    return {listing.native for listing in sim.instruments(key)}


def listing_of(sim: ExchangeSimulator, key: str, native: str) -> Listing:
    return next(listing for listing in sim.instruments(key) if listing.native == native)


def as_cryptofeed(sim: ExchangeSimulator, key: str, record: dict) -> tuple:
    """A truth record as cryptofeed emits it: price per quoted unit, amount in wire units."""
    listing = listing_of(sim, key, record["native"])
    amount = record["amount"] / (listing.contract_size * listing.multiplier)
    if BY_KEY[key].amount_unit == "scaled_1e8":
        amount = amount.scaleb(8)
    return record["symbol"], record["trade_id"], record["side"], record["price"] * listing.multiplier, amount


def emitted(trade: Any) -> tuple:
    return trade.symbol, trade.id, trade.side, trade.price, trade.amount


def distinct(trades: list[Any]) -> Counter:
    """Phemex resends its latest trades on every subscribe; a store dedups them by content and time."""
    return Counter(emitted(t) for t in {(emitted(t), t.timestamp): t for t in trades}.values())


def delivered(run: Running, key: str) -> bool:
    expected = Counter(as_cryptofeed(run.sim, key, r) for r in run.sim.sent_trades(key))
    return expected == distinct(run.received[key])


def identity(record: dict) -> tuple:
    return tuple(sorted(record.items()))


def held_back(sim: ExchangeSimulator, key: str, native: str) -> list[dict]:
    """Generated trades of `native` after its first sent one that never went out."""
    sent = {identity(r) for r in sim.sent_trades(key)}
    generated = [r for r in sim.generated_trades(key) if r["native"] == native]
    first = next((i for i, r in enumerate(generated) if identity(r) in sent), len(generated))
    return [r for r in generated[first:] if identity(r) not in sent]


BACKFILL: dict[str, tuple[str, Callable[[str, list[dict]], dict], Callable[[Any], list]]] = {
    "binance.spot": ("/api/v3/aggTrades", lambda n, m: {"symbol": n, "fromId": m[0]["trade_id"], "limit": len(m)},
                     lambda body: [str(t["a"]) for t in body]),
    "binance.futures": ("/fapi/v1/aggTrades", lambda n, m: {"symbol": n, "fromId": m[0]["trade_id"], "limit": len(m)},
                        lambda body: [str(t["a"]) for t in body]),
    "okx.spot": ("/api/v5/market/history-trades",
                 lambda n, m: {"instId": n, "after": int(m[-1]["trade_id"]) + 1, "limit": len(m)},
                 lambda body: [t["tradeId"] for t in reversed(body["data"])]),
    "okx.futures": ("/api/v5/market/history-trades",
                    lambda n, m: {"instId": n, "after": int(m[-1]["trade_id"]) + 1, "limit": len(m)},
                    lambda body: [t["tradeId"] for t in reversed(body["data"])]),
    "gate.spot": ("/api/v4/spot/trades",
                  lambda n, m: {"currency_pair": n, "last_id": int(m[0]["trade_id"]) - 1, "limit": len(m)},
                  lambda body: [t["id"] for t in reversed(body)]),
    "gate.futures": ("/api/v4/futures/usdt/trades",
                     lambda n, m: {"contract": n, "last_id": int(m[-1]["trade_id"]) + 1, "limit": len(m)},
                     lambda body: [str(t["id"]) for t in reversed(body)]),
    "bybit.spot": ("/v5/market/recent-trade", lambda n, m: {"category": "spot", "symbol": n},
                   lambda body: [t["execId"] for t in body["result"]["list"]]),
    "bybit.futures": ("/v5/market/recent-trade", lambda n, m: {"category": "linear", "symbol": n, "limit": 1000},
                      lambda body: [t["execId"] for t in body["result"]["list"]]),
    "kucoin.spot": ("/api/v1/market/histories", lambda n, m: {"symbol": n},
                    lambda body: [t["sequence"] for t in body["data"]]),
    "kucoin.futures": ("/api/v1/trade/history", lambda n, m: {"symbol": n},
                       lambda body: [t["tradeId"] for t in body["data"]]),
    "phemex.spot": ("/md/trade", lambda n, m: {"symbol": n}, lambda body: [r[0] for r in body["result"]["trades"]]),
    "phemex.futures": ("/md/v2/trade", lambda n, m: {"symbol": n},
                       lambda body: [r[0] for r in body["result"]["trades_p"]]),
}
"""market → (path, params for the missing records, the ids (Phemex: times) in the answer)."""
EXACT_BACKFILL = {"binance.spot", "binance.futures", "okx.spot", "okx.futures", "gate.spot", "gate.futures"}
"""markets whose REST pages by trade id, so the answer is exactly the missing trades."""


# --- tests ---------------------------------------------------------------------------------------
def test_venues_cover_the_market_table() -> None:
    assert list(VENUES) == ALL


def test_all_markets_through_real_cryptofeed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cryptofeed")
    asyncio.run(all_markets())
    complaints = [r.getMessage() for r in caplog.records if r.name.startswith("cryptofeed")]
    assert complaints == []


async def all_markets() -> None:
    async with Running(ALL, symbols=4, trades_per_second=4, seed=7) as run:
        sim = run.sim
        assert run.quirks == {"kucoin.futures": {"SXBTUSDTM": "SBTC-USDT-PERP"}}, "cryptofeed's XBT→BTC replace"
        await eventually_async(lambda: all(len(run.received[k]) >= 20 for k in ALL), what="trades on every market")
        for key in ALL:
            sim.skip_trades(key, listing_of_base(sim, key, "BTC").native, 2)
        explicit = {key: publish_pepe(sim, key) for key in ALL}
        await eventually_async(lambda: all(len(held_back(sim, k, listing_of_base(sim, k, "BTC").native)) == 2 for k in ALL),
                               what="skipped trades")
        sim.pause()
        await eventually_async(lambda: all(delivered(run, k) for k in ALL), what="every sent trade received exactly")
        for key in ALL:
            check_times(run, key)
            assert as_cryptofeed(sim, key, explicit[key]) in distinct(run.received[key]), key
            native = listing_of_base(sim, key, "BTC").native
            missing = held_back(sim, key, native)
            path, params, ids = BACKFILL[key]
            got = ids(await run.get(key, path, params(native, missing)))
            want = [r["trade_id"] if r["trade_id"] is not None else r["ts_ns"] for r in missing]
            if key in EXACT_BACKFILL:
                assert got == want, key
            else:
                assert set(want) <= set(got), key


def listing_of_base(sim: ExchangeSimulator, key: str, base: str) -> Listing:
    return next(listing for listing in sim.instruments(key) if listing.base == base)


def publish_pepe(sim: ExchangeSimulator, key: str) -> dict:
    """An explicit PEPE trade (1000PEPE on Binance/Bybit/Phemex futures) in coins, per coin."""
    listing = listing_of_base(sim, key, "PEPE")
    price = listing.coin_price(listing.quantize_price(listing.ref_price * 1.01))
    record = sim.publish(key, listing.native, price, listing.coin_amount(listing.step * 7), side="sell")
    assert (record["base"], record["price"], record["side"]) == ("PEPE", price, "sell")
    return record


def check_times(run: Running, key: str) -> None:
    truth = {as_cryptofeed(run.sim, key, r): r["ts_ns"] for r in run.sim.sent_trades(key)}
    for trade in run.received[key]:
        assert math.isclose(trade.timestamp, truth[emitted(trade)] / 1e9, abs_tol=1e-6), (key, trade)


def test_thousands_of_symbols() -> None:
    asyncio.run(thousands())


async def thousands() -> None:
    keys = ["binance.spot", "bybit.futures", "gate.futures"]
    async with Running(keys, symbols=1200, trades_per_second=0.2, seed=11) as run:
        unfound = run.quirks.get("bybit.futures", {})
        assert len(unfound) == 1204 - 1000 and set(unfound.values()) == {None}, "cryptofeed reads one Bybit page"
        assert (run.sim.connections("binance.spot"), len(run.feeds["binance.spot"].connection_handlers)) == (2, 2)
        await eventually_async(lambda: all(len(run.received[k]) >= 300 for k in keys), what="trades on every market")
        run.sim.pause()
        await eventually_async(lambda: all(delivered(run, k) for k in keys), what="every sent trade received exactly")


def test_disconnect_refusal_and_phemex_resend() -> None:
    asyncio.run(disconnect_and_resend())


async def disconnect_and_resend() -> None:
    keys = ["okx.futures", "phemex.spot"]
    async with Running(keys, symbols=2, trades_per_second=5, seed=3) as run:
        sim = run.sim
        await eventually_async(lambda: all(len(run.received[k]) >= 10 for k in keys), what="first trades")
        refused_until = time.monotonic() + 1.5
        for key in keys:
            await sim.disconnect(key, refuse_for=1.5)
        await eventually_async(lambda: all(sim.connections(k) == 0 for k in keys), what="sockets closed")
        await eventually_async(lambda: all(run.connects(k) >= 2 and sim.subscribed(k) == natives(sim, k) for k in keys),
                               what="reconnected and resubscribed")
        assert time.monotonic() >= refused_until
        counts = {k: len(run.received[k]) for k in keys}
        await eventually_async(lambda: all(len(run.received[k]) > counts[k] + 5 for k in keys), what="trades after reconnect")
        sim.pause()
        await eventually_async(lambda: all(delivered(run, k) for k in keys), what="every sent trade received")
        okx = sim.generated_trades("okx.futures")
        assert len(okx) > len(sim.sent_trades("okx.futures")), "OKX trades during the outage are lost"
        phemex_sent = Counter(identity(r) for r in sim.sent_trades("phemex.spot"))
        assert phemex_sent == Counter(identity(r) for r in sim.generated_trades("phemex.spot")), (
            "Phemex's resend on subscribe recovered every trade")
        assert len(run.received["phemex.spot"]) > sum(distinct(run.received["phemex.spot"]).values()), "duplicates"
        assert sim.counts() == {"generated": {k: len(sim.generated_trades(k)) for k in keys},
                                "sent": {k: len(sim.sent_trades(k)) for k in keys}}


def test_malformed_frames_reach_cryptofeed() -> None:
    asyncio.run(malformed())


async def malformed() -> None:
    async with Running(ALL, symbols=1, trades_per_second=3, seed=5) as run:
        sim = run.sim
        await eventually_async(lambda: all(run.received[k] for k in ALL), what="first trades")

        def bad_prices(key: str) -> list[Decimal]:
            return [t.price for t in run.received[key] if t.price.is_nan() or t.price < 0]

        for key in ALL:
            assert sim.inject_malformed(key, 2, kinds=("nan_price", "negative_price")) == 2
        await eventually_async(lambda: all(len(bad_prices(k)) == 2 for k in ALL), what="NaN and negative prices passed through")
        for kind in ("garbage", "missing_fields"):
            before = {k: run.connects(k) for k in ALL}
            for key in ALL:
                sim.inject_malformed(key, 1, kinds=(kind,))
            await eventually_async(lambda b=before: all(run.connects(k) > b[k] and sim.subscribed(k) == natives(sim, k)
                                             for k in ALL), what=f"reconnect after {kind}", timeout=15)
        for key in ALL:
            sim.inject_malformed(key, 1, kinds=("huge",))
        counts = {k: len(run.received[k]) for k in ALL}
        await eventually_async(lambda: all(len(run.received[k]) > counts[k] for k in ALL), what="trades after a huge frame", timeout=15)


SUBSCRIPTIONS: dict[str, tuple[str, str, dict, dict]] = {
    "binance.spot": ("/ws", "BTCUSDT", {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1},
                     {"method": "UNSUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 2}),
    "binance.futures": ("/ws", "1000PEPEUSDT", {"method": "SUBSCRIBE", "params": ["1000pepeusdt@aggTrade"], "id": 1},
                        {"method": "UNSUBSCRIBE", "params": ["1000pepeusdt@aggTrade"], "id": 2}),
    "bybit.spot": ("/v5/public/spot", "BTCUSDT", {"op": "subscribe", "args": ["publicTrade.BTCUSDT"]},
                   {"op": "unsubscribe", "args": ["publicTrade.BTCUSDT"]}),
    "bybit.futures": ("/v5/public/linear", "1000PEPEUSDT", {"op": "subscribe", "args": ["publicTrade.1000PEPEUSDT"]},
                      {"op": "unsubscribe", "args": ["publicTrade.1000PEPEUSDT"]}),
    "okx.spot": ("/ws/v5/public", "BTC-USDT", {"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]},
                 {"op": "unsubscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]}),
    "okx.futures": ("/ws/v5/public", "BTC-USDT-SWAP",
                    {"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT-SWAP"}]},
                    {"op": "unsubscribe", "args": [{"channel": "trades", "instId": "BTC-USDT-SWAP"}]}),
    "kucoin.spot": ("/", "BTC-USDT",
                    {"id": "1", "action": "subscribe", "channel": "trade", "tradeType": "SPOT", "symbol": "BTC-USDT"},
                    {"id": "2", "action": "unsubscribe", "channel": "trade", "tradeType": "SPOT", "symbol": "BTC-USDT"}),
    "kucoin.futures": ("/", "XBTUSDTM",
                       {"id": "1", "action": "subscribe", "channel": "trade", "tradeType": "FUTURES",
                        "symbol": "XBTUSDTM"},
                       {"id": "2", "action": "unsubscribe", "channel": "trade", "tradeType": "FUTURES",
                        "symbol": "XBTUSDTM"}),
    "gate.spot": ("/ws/v4/", "BTC_USDT", {"time": 0, "channel": "spot.trades", "event": "subscribe", "payload": ["BTC_USDT"]},
                  {"time": 0, "channel": "spot.trades", "event": "unsubscribe", "payload": ["BTC_USDT"]}),
    "gate.futures": ("/v4/ws/usdt", "BTC_USDT",
                     {"time": 0, "channel": "futures.trades", "event": "subscribe", "payload": ["BTC_USDT"]},
                     {"time": 0, "channel": "futures.trades", "event": "unsubscribe", "payload": ["BTC_USDT"]}),
    "phemex.spot": ("/", "sBTCUSDT", {"id": 1, "method": "trade.subscribe", "params": ["sBTCUSDT"]},
                    {"id": 2, "method": "trade.unsubscribe", "params": []}),
    "phemex.futures": ("/", "u1000PEPEUSDT", {"id": 1, "method": "trade_p.subscribe", "params": ["u1000PEPEUSDT"]},
                       {"id": 2, "method": "trade_p.unsubscribe", "params": []}),
}


def test_subscribe_and_unsubscribe_frames() -> None:
    asyncio.run(subscribe_unsubscribe())


async def subscribe_unsubscribe() -> None:
    async with ExchangeSimulator(symbols=0, trades_per_second=0) as sim:
        assert sim.ca_file is not None
        context = client_ssl_context(sim.ca_file)
        for key, (path, native, subscribe, unsubscribe) in SUBSCRIPTIONS.items():
            async with websockets.connect(sim.endpoint(key)[0] + path, ssl=context) as ws:
                await ws.send(json.dumps(subscribe))
                await eventually_async(lambda k=key, n=native: sim.subscribed(k) == {n}, what=f"{key} subscribed")
                await ws.send(json.dumps(unsubscribe))
                await eventually_async(lambda k=key: sim.subscribed(k) == set(), what=f"{key} unsubscribed")


def test_bybit_linear_instruments_page_by_cursor() -> None:
    asyncio.run(bybit_pages())


async def bybit_pages() -> None:
    async with ExchangeSimulator(["bybit.spot", "bybit.futures"], symbols=7, trades_per_second=0) as sim:
        assert sim.ca_file is not None
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(sim.ca_file))
        async with aiohttp.ClientSession(connector=connector) as session:
            async def page(key: str, params: dict[str, str]) -> dict:
                async with session.get(sim.endpoint(key)[1] + "/v5/market/instruments-info", params=params) as r:
                    return (await r.json())["result"]

            seen, cursor, pages = [], "", 0
            while True:
                result = await page("bybit.futures", {"category": "linear", "limit": "4", "cursor": cursor})
                seen += [item["symbol"] for item in result["list"]]
                pages += 1
                cursor = result["nextPageCursor"]
                if not cursor:
                    break
            assert (pages, seen) == (3, [listing.native for listing in sim.instruments("bybit.futures")])
            spot = await page("bybit.spot", {"category": "spot", "limit": "4"})
            assert (len(spot["list"]), spot["nextPageCursor"]) == (11, ""), "spot ignores limit"


def test_publish_rejects_amounts_the_wire_cannot_carry() -> None:
    sim = ExchangeSimulator(["gate.futures"], symbols=0)
    btc = listing_of_base(sim, "gate.futures", "BTC")
    price = btc.coin_price(btc.quantize_price(btc.ref_price))
    with pytest.raises(ValueError, match="step"):
        sim.publish("gate.futures", btc.native, price, btc.contract_size / 2)
    record = sim.publish("gate.futures", btc.native, price, btc.contract_size * 3, side="sell")
    assert sim.generated_trades("gate.futures") == [record]
    assert (record["amount"], record["price"], record["side"]) == (btc.contract_size * 3, price, "sell")


def test_same_seed_same_trades() -> None:
    """Symbols, ids, sizes and sides repeat with the seed; prices follow the wall-clock path."""
    async def first_trades(seed: int) -> list[tuple]:
        async with ExchangeSimulator(["okx.futures"], symbols=3, trades_per_second=10, seed=seed) as sim:
            await eventually_async(lambda: len(sim.generated_trades()) >= 30, what="30 trades")
            return [(r["native"], r["trade_id"], r["amount"], r["side"]) for r in sim.generated_trades()[:30]]

    assert asyncio.run(first_trades(1)) == asyncio.run(first_trades(1)) != asyncio.run(first_trades(2))


def test_tick_frames_render_a_tick_offline_as_a_subscriber_receives_it() -> None:
    sim = ExchangeSimulator(["binance.spot", "okx.futures"], symbols=3, trades_per_second=40, seed=5, truth_limit=0)
    wanted = {key: {x.native for x in sim.instruments(key)[:2]} for key in sim.markets}
    frames = {key: sim.tick_frames(key, time.time_ns(), wanted[key]) for key in sim.markets}
    for key, rendered in frames.items():
        assert {native for native, _, _ in rendered} == wanted[key]
        assert sum(carried for _, _, carried in rendered) == 2 * len(wanted[key])  # 40/s × 50 ms per listing
        assert all(json.loads(text) for _, text, _ in rendered)
    assert all(json.loads(text)["stream"].endswith("@aggTrade") for _, text, _ in frames["binance.spot"])
    counts = sim.counts()  # counted although truth_limit keeps no record
    assert counts["sent"] == {} and counts["generated"] == {key: 2 * len(sim.instruments(key)) for key in sim.markets}
    assert sim.generated_trades() == []


def test_jump_and_price_path() -> None:
    asyncio.run(jumps())


async def jumps() -> None:
    flat = 2.0
    keys = ["gate.spot", "okx.spot"]
    async with ExchangeSimulator(keys, symbols=1, trades_per_second=20, price_path=lambda base, key, ts: flat) as sim:
        at_ns = time.time_ns() + 200_000_000
        sim.jump("C0001", 50, at_ns, market_key="gate.spot")

        def after(key: str) -> list[dict]:
            return [r for r in sim.generated_trades(key) if r["ts_ns"] >= at_ns and r["base"] == "C0001"]

        await eventually_async(lambda: all(len(after(k)) >= 5 for k in keys), what="trades after the jump")
        before = [r for r in sim.generated_trades() if r["ts_ns"] < at_ns]
        assert before and all(math.isclose(r["price"], flat, rel_tol=0.01) for r in before)
        assert all(math.isclose(r["price"], flat * 1.5, rel_tol=0.01) for r in after("gate.spot"))
        assert all(math.isclose(r["price"], flat, rel_tol=0.01) for r in after("okx.spot"))


def test_phemex_caps_subscriptions_per_connection() -> None:
    asyncio.run(phemex_cap())


async def phemex_cap() -> None:
    async with ExchangeSimulator(["phemex.spot"], symbols=20, trades_per_second=0) as sim:
        assert sim.ca_file is not None
        natives = [listing.native for listing in sim.instruments("phemex.spot")]
        async with websockets.connect(sim.endpoint("phemex.spot")[0], ssl=client_ssl_context(sim.ca_file)) as ws:
            replies = []
            for i, native in enumerate(natives[:21], start=1):
                await ws.send(json.dumps({"id": i, "method": "trade.subscribe", "params": [native]}))
                while (reply := json.loads(await ws.recv())).get("id") != i:
                    pass  # the snapshot that follows each accepted subscribe
                replies.append(reply)
        assert [r["error"] for r in replies[:20]] == [None] * 20
        assert replies[20]["error"] is not None and replies[20]["result"] is None


def test_command_line_prints_endpoints_and_ca() -> None:
    asyncio.run(command_line())


async def command_line() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator.exchanges", "--markets", "gate.spot,okx.futures", "--symbols", "1",
        stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode() for _ in range(3)]
    finally:
        process.terminate()
        await process.wait()
    assert [line.split()[0] for line in lines[:2]] == ["gate.spot", "okx.futures"]
    assert lines[0].split()[1].startswith("wss://127.0.0.1:") and lines[2].startswith("CA certificate: ")
