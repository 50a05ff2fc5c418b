"""`MarketFeeds`: subscription reports, and live runs against local TLS websocket servers.

The live tests run the REAL cryptofeed classes through `MarketFeeds` against (a) a tiny
Binance-style server (`binance_like`) and (b) the project's exchange simulator for all twelve
markets. Every wait polls a condition against a deadline; nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import Counter, defaultdict

import aiohttp
import pytest

from recorder.feeds.market import MarketFeeds
from recorder.instruments.model import Instrument
from recorder.markets import MARKETS, market
from tests.conftest import eventually_async
from tests.recorder.feeds.binance_like import BinanceLike, binance_spot


def test_unsupported_bybit_spot_quote_is_reported_not_dropped():
    spec = market("bybit", "spot")
    instruments = [Instrument("bybit", "spot", "TIA-USDT", "TIAUSDT", "TIA", "USDT"),
                   Instrument("bybit", "spot", "TIA-MNT", "TIAMNT", "TIA", "MNT")]

    async def go():
        async def on_trade(trade, ts):
            return None

        feeds = MarketFeeds(spec, instruments, on_trade=on_trade, ws_base="wss://127.0.0.1:9")
        report = await feeds.add_instruments(instruments)
        return report

    report = asyncio.run(go())
    assert report.listed == 2 and list(report.not_subscribed) == ["TIA-MNT"]
    assert "NOT subscribed" in str(report)

def test_a_symbol_counts_as_carried_only_while_a_connection_that_holds_it_is_up():
    spec = market("bybit", "spot")
    instruments = [Instrument("bybit", "spot", f"{b}-USDT", f"{b}USDT", b, "USDT") for b in ("AAA", "BBB", "CCC")]
    instruments.append(Instrument("bybit", "spot", "TIA-MNT", "TIAMNT", "TIA", "MNT"))  # cannot be subscribed: not awaited

    async def go():
        async def on_trade(trade, ts):
            return None

        feeds = MarketFeeds(spec, instruments, on_trade=on_trade, ws_base="wss://127.0.0.1:9")
        seen = [set(feeds.awaiting)]
        feeds.emit("c1", "up", ("AAA-USDT", "BBB-USDT"))
        seen.append(set(feeds.awaiting))
        feeds.emit("c2", "up", ("CCC-USDT",))
        seen.append(set(feeds.awaiting))
        feeds.emit("c1", "down", ("AAA-USDT", "BBB-USDT"))
        seen.append(set(feeds.awaiting))
        return seen

    assert asyncio.run(go()) == [{"AAA-USDT", "BBB-USDT", "CCC-USDT"}, {"CCC-USDT"}, set(), {"AAA-USDT", "BBB-USDT"}]

def test_live_trades_lifecycle_events_and_reconnect(tmp_path):
    spec = market("binance", "spot")

    async def go():
        trades: list = []
        events: list = []

        async def on_trade(trade, receipt_timestamp):
            trades.append(trade)

        async with BinanceLike() as server:
            feeds = MarketFeeds(spec, binance_spot("AAA", "BBB", "CCC"), on_trade=on_trade, on_connection=events.append,
                                ws_base=f"wss://127.0.0.1:{server.port}", ssl_ca_file=server.ca_file(tmp_path),
                                max_symbols_per_connection=2, start_stagger=0, backoff_cap=0.5)
            report = await feeds.start()
            assert (report.listed, report.subscribed, report.connections, report.feeds) == (3, 3, 2, 2)
            await eventually_async(lambda: {t.symbol for t in trades} == {"AAA-USDT", "BBB-USDT", "CCC-USDT"},
                                   what="trades of every symbol")
            ups = [e for e in events if e.state == "up"]
            assert sorted(s for e in ups for s in e.symbols) == ["AAA-USDT", "BBB-USDT", "CCC-USDT"]
            assert {e.conn_id for e in ups} == {"binance.spot/0.0", "binance.spot/1.0"}
            assert all(e.exchange == "binance" and e.market == "spot" and e.ts_ns > 0 for e in ups)
            assert sorted(server.paths) == ["/stream?streams=aaausdt@aggTrade/bbbusdt@aggTrade", "/stream?streams=cccusdt@aggTrade"]
            # the malformed first frame of each connection was counted, not turned into a reconnect
            assert sum(feeds.message_errors.values()) == 2 and len(server.paths) == 2
            trade = trades[0]
            assert (float(trade.price), float(trade.amount), trade.side) == (2.5, 4.0, "buy")

            await server.drop_all()
            await eventually_async(lambda: Counter(e.state for e in events) == {"up": 4, "down": 2}, what="down then up again")
            downs = [e for e in events if e.state == "down"]
            assert {e.conn_id for e in downs} == {"binance.spot/0.0", "binance.spot/1.0"}
            seen = len(trades)
            await eventually_async(lambda: len(trades) > seen + 6, what="trades after the reconnect")

            await feeds.stop()
            assert Counter(e.state for e in events) == {"up": 4, "down": 4}
            assert all(shard.task.done() for shard in feeds.shards)

    asyncio.run(go())

def test_refused_connections_retry_with_capped_backoff_until_the_server_returns(tmp_path):
    spec = market("binance", "spot")

    async def go():
        trades: list = []

        async def on_trade(trade, receipt_timestamp):
            trades.append(trade)

        async with BinanceLike() as server:
            server.refuse = True
            feeds = MarketFeeds(spec, binance_spot("AAA"), on_trade=on_trade, ws_base=f"wss://127.0.0.1:{server.port}",
                                ssl_ca_file=server.ca_file(tmp_path), start_stagger=0, backoff_cap=0.2, healthy_after=5.0)
            await feeds.start()
            await eventually_async(lambda: feeds.shards[0].feed is not None and feeds.shards[0].feed.connection_handlers,
                                   what="the connection handler")
            conn = feeds.shards[0].feed.connection_handlers[0].conn
            await eventually_async(lambda: conn.sessions >= 5, what="several refused sessions")
            assert conn.backoff.delay() <= 0.2
            assert not feeds.shards[0].task.done() and trades == []
            server.refuse = False
            await eventually_async(lambda: len(trades) >= 3, what="trades once the server accepts again")
            assert feeds.shards[0].restarts == 0
            await feeds.stop()

    asyncio.run(go())

def test_unreachable_host_never_stops_and_stop_is_prompt(tmp_path):
    spec = market("binance", "spot")

    async def go():
        async def on_trade(trade, receipt_timestamp):
            return None

        feeds = MarketFeeds(spec, binance_spot("AAA"), on_trade=on_trade, ws_base="wss://127.0.0.1:9", start_stagger=0,
                            backoff_cap=0.1)
        await feeds.start()
        await eventually_async(lambda: feeds.shards[0].feed is not None and feeds.shards[0].feed.connection_handlers, what="handler")
        conn = feeds.shards[0].feed.connection_handlers[0].conn
        await eventually_async(lambda: conn.backoff.failures >= 5, what="repeated connect failures")
        assert not feeds.shards[0].task.done()
        await feeds.stop(timeout=5.0)
        assert feeds.shards[0].task.done() and not feeds.shards[0].task.cancelled()

    asyncio.run(go())

def test_remove_instruments_moves_the_others_to_a_new_connection_before_closing_the_old_one(tmp_path):
    spec = market("binance", "spot")

    async def go():
        trades: list = []
        events: list = []

        async def on_trade(trade, receipt_timestamp):
            trades.append(trade)

        async with BinanceLike() as server:
            feeds = MarketFeeds(spec, binance_spot("AAA", "BBB", "CCC"), on_trade=on_trade, on_connection=events.append,
                                ws_base=f"wss://127.0.0.1:{server.port}", ssl_ca_file=server.ca_file(tmp_path), start_stagger=0)
            await feeds.start()
            await eventually_async(lambda: {t.symbol for t in trades} == {"AAA-USDT", "BBB-USDT", "CCC-USDT"}, what="every symbol")
            report = await feeds.remove_instruments(["BBB-USDT", "NOT-LISTED"])
            assert (report.listed, report.subscribed, report.feeds) == (2, 2, 1)
            assert server.paths[-1].endswith("streams=aaausdt@aggTrade/cccusdt@aggTrade")
            order = [(e.conn_id, e.state) for e in events]
            assert order == [("binance.spot/0.0", "up"), ("binance.spot/1.0", "up"), ("binance.spot/0.0", "down")]
            assert events[-1].symbols == ("AAA-USDT", "BBB-USDT", "CCC-USDT")
            assert feeds.carried == {"AAA-USDT", "CCC-USDT"} and not feeds.awaiting
            seen = len(trades)
            await eventually_async(lambda: len({t.symbol for t in trades[seen:]}) == 2, what="the kept symbols' trades")
            assert "BBB-USDT" not in {t.symbol for t in trades[seen + 2:]}
            await feeds.stop()

    asyncio.run(go())

def test_removal_merges_instances_left_less_than_full_so_churn_never_fragments_connections(tmp_path):
    spec = market("binance", "spot")

    async def go():
        async def on_trade(trade, receipt_timestamp):
            return None

        async with BinanceLike() as server:
            feeds = MarketFeeds(spec, binance_spot("AAA", "BBB", "CCC", "DDD"), on_trade=on_trade, max_symbols_per_connection=2,
                                ws_base=f"wss://127.0.0.1:{server.port}", ssl_ca_file=server.ca_file(tmp_path), start_stagger=0)
            await feeds.start()
            await feeds.add_instruments(binance_spot("EEE"))
            await eventually_async(lambda: len(feeds.carried) == 5, what="five symbols carried on three connections")
            assert [shard.symbols for shard in feeds.shards] == [["AAA-USDT", "BBB-USDT"], ["CCC-USDT", "DDD-USDT"], ["EEE-USDT"]]
            await feeds.remove_instruments(["CCC-USDT"])
            shards = [shard.symbols for shard in feeds.shards]
            carried = feeds.carried
            await feeds.stop()
            return shards, carried

    shards, carried = asyncio.run(go())
    assert shards == [["AAA-USDT", "BBB-USDT"], ["DDD-USDT", "EEE-USDT"]]
    assert carried == {"AAA-USDT", "BBB-USDT", "DDD-USDT", "EEE-USDT"}

def test_add_instruments_starts_an_extra_instance_and_leaves_the_others(tmp_path):
    spec = market("binance", "spot")

    async def go():
        trades: list = []
        events: list = []

        async def on_trade(trade, receipt_timestamp):
            trades.append(trade)

        async with BinanceLike() as server:
            feeds = MarketFeeds(spec, binance_spot("AAA"), on_trade=on_trade, on_connection=events.append,
                                ws_base=f"wss://127.0.0.1:{server.port}", ssl_ca_file=server.ca_file(tmp_path), start_stagger=0)
            await feeds.start()
            await eventually_async(lambda: any(t.symbol == "AAA-USDT" for t in trades), what="first symbol")
            first_task = feeds.shards[0].task
            report = await feeds.add_instruments(binance_spot("AAA", "NEW"))
            assert (report.listed, report.subscribed, report.feeds) == (2, 2, 2)
            await eventually_async(lambda: any(t.symbol == "NEW-USDT" for t in trades), what="the added symbol")
            assert feeds.shards[0].task is first_task and feeds.shards[0].feed.connection_handlers[0].conn.sessions == 1
            assert [e.state for e in events if e.conn_id == "binance.spot/0.0"] == ["up"]
            await feeds.stop()

    asyncio.run(go())

def test_every_market_end_to_end_against_the_simulator():
    simulator = pytest.importorskip("simulator.exchanges")
    from recorder.instruments.fetch import fetch_instruments

    async def go():
        received: dict[str, list] = defaultdict(list)
        async with simulator.ExchangeSimulator(symbols=6, trades_per_second=4.0, seed=7) as sim:
            context = ssl.create_default_context(cafile=str(sim.ca_file))
            runners: list[MarketFeeds] = []
            instruments: dict[str, dict[str, Instrument]] = {}
            async with aiohttp.ClientSession() as session:
                for spec in MARKETS:
                    ws, rest = sim.endpoint(spec.key)
                    listed = await fetch_instruments(spec, rest, session, ssl=context)
                    instruments[spec.key] = {i.symbol: i for i in listed}

                    async def on_trade(trade, receipt_timestamp, key=spec.key):
                        received[key].append(trade)

                    feeds = MarketFeeds(spec, listed, on_trade=on_trade, ws_base=ws, rest_base=rest, ssl_ca_file=str(sim.ca_file),
                                        max_symbols_per_connection=4, start_stagger=0)
                    report = await feeds.start()
                    assert report.subscribed == report.listed == len(sim.instruments(spec.key)), report
                    runners.append(feeds)
            try:
                for spec in MARKETS:
                    natives = {listing.native for listing in sim.instruments(spec.key)}
                    await eventually_async(lambda spec=spec, natives=natives: sim.subscribed(spec.key) == natives,
                                           what=f"{spec.key}: every symbol subscribed")
                await eventually_async(lambda: all(len({t.symbol for t in received[s.key]}) == len(instruments[s.key]) for s in MARKETS),
                                       what="trades of every symbol on every market")
            finally:
                for feeds in runners:
                    await feeds.stop()
            for spec in MARKETS:
                truth = defaultdict(list)
                for record in sim.sent_trades(spec.key):
                    truth[record["symbol"]].append(record)
                for trade in received[spec.key]:
                    instrument = instruments[spec.key][trade.symbol]
                    ts_ns = round(float(trade.timestamp) * 1e6) * 1000
                    candidates = [r for r in truth[trade.symbol]
                                  if (trade.id is not None and r["trade_id"] == trade.id)
                                  or (trade.id is None and abs(r["ts_ns"] - ts_ns) < 2000 and r["side"] == trade.side)]
                    assert candidates, (spec.key, trade)
                    price = float(trade.price) * instrument.price_factor
                    amount = float(trade.amount) * instrument.amount_factor
                    assert any(math.isclose(price, float(r["price"]), rel_tol=1e-9)
                               and math.isclose(amount, float(r["amount"]), rel_tol=1e-9) for r in candidates), (spec.key, trade)
                    assert instrument.base == candidates[0]["base"]

    asyncio.run(go())

def test_exchange_rejections_are_counted_and_logged_loudly(caplog):
    simulator = pytest.importorskip("simulator.exchanges")
    from recorder.instruments.fetch import fetch_instruments

    spec = market("bybit", "futures")

    async def go():
        trades: list = []

        async def on_trade(trade, receipt_timestamp):
            trades.append(trade)

        async with simulator.ExchangeSimulator(markets=[spec.key], symbols=2, trades_per_second=4.0) as sim:
            ws, rest = sim.endpoint(spec.key)
            context = ssl.create_default_context(cafile=str(sim.ca_file))
            async with aiohttp.ClientSession() as session:
                listed = await fetch_instruments(spec, rest, session, ssl=context)
            bogus = Instrument("bybit", "futures", "NOPE-USDT-PERP", "NOPEUSDT", "NOPE", "USDT")
            feeds = MarketFeeds(spec, [*listed, bogus], on_trade=on_trade, ws_base=ws, ssl_ca_file=str(sim.ca_file), start_stagger=0)
            await feeds.start()
            try:
                await eventually_async(lambda: feeds.rejected >= 1 and len({t.symbol for t in trades}) == len(listed),
                                       what="the rejection and the other symbols' trades")
            finally:
                await feeds.stop()
            return feeds

    feeds = asyncio.run(go())
    assert any("NOPEUSDT" in message for _, message in feeds.rejections)
    assert any("REJECTED" in record.getMessage() for record in caplog.records)

def test_build_for_replay_builds_the_instances_start_would_run_and_frames_reach_on_trade():
    simulator = pytest.importorskip("simulator.exchanges")
    import time

    spec = market("binance", "spot")
    sim = simulator.ExchangeSimulator([spec.key], symbols=6, trades_per_second=60.0, seed=3)
    instruments = [Instrument(x.exchange, x.market, x.symbol, x.native, x.base, x.symbol.split("-")[1]) for x in sim.instruments(spec.key)]
    native = {i.symbol: i.native for i in instruments}
    trades: list = []

    async def on_trade(trade, receipt_timestamp):
        trades.append(trade)

    feeds = MarketFeeds(spec, instruments, on_trade=on_trade, max_symbols_per_connection=4)
    replay = feeds.build_for_replay()
    assert sorted(s for r in replay for s in r.symbols) == sorted(native)
    assert len(replay) == sum(len(shard.connections) for shard in feeds.shards) == math.ceil(len(native) / 4)
    assert all(shard.task is None for shard in feeds.shards) and not feeds.connection_state
    route = {native[s]: r for r in replay for s in r.symbols}
    frames = sim.tick_frames(spec.key, time.time_ns(), set(route))

    async def go():
        for symbol, text, _carried in frames:
            await route[symbol].handler(text, route[symbol].conn, time.time())

    asyncio.run(go())
    assert len(trades) == sum(carried for _, _, carried in frames) > 0
    assert {t.symbol for t in trades} <= set(native) and not feeds.message_errors and feeds.rejected == 0
    with pytest.raises(RuntimeError, match="already started"):
        asyncio.run(feeds.start())
