"""The cryptofeed subclass per market: endpoints, TLS, keepalive, connection limits, no REST symbol loading."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from cryptofeed.symbols import Symbols

from recorder.feeds.endpoints import TLSHTTPConn
from recorder.feeds.feed_class import feed_subclass
from recorder.feeds.shards import connection_cap, plan_shards
from recorder.instruments.cryptofeed_symbols import install
from recorder.instruments.model import Instrument
from recorder.markets import MARKETS, market


def test_feed_subclass_rewrites_every_endpoint_and_carries_tls():
    context = ssl.create_default_context()
    for spec in MARKETS:
        cls = feed_subclass(spec, ws_base="wss://127.0.0.1:7000", rest_base="http://127.0.0.1:7001", ssl=context,
                            connection_limit=connection_cap(spec, 100))
        assert cls.websocket_endpoints, spec.key
        for endpoint in cls.websocket_endpoints:
            assert endpoint.address.startswith("wss://127.0.0.1:7000"), (spec.key, endpoint.address)
            assert endpoint.options["ssl"] is context
        for endpoint in cls.rest_endpoints:
            assert endpoint.address == "http://127.0.0.1:7001"
        assert cls.id == spec.cryptofeed_id
    bybit = feed_subclass(market("bybit", "spot"), ws_base="wss://h:1")
    assert [e.address.rsplit("/", 1)[-1] for e in bybit.websocket_endpoints] == ["linear", "inverse", "spot"]
    assert bybit.keepalive_interval == 20.0
    phemex = feed_subclass(market("phemex", "futures"), connection_limit=20)
    assert phemex.websocket_endpoints[0].limit == 20 and phemex.websocket_endpoints[0].address == "wss://ws.phemex.com"

def test_phemex_cryptofeed_splits_an_instance_like_the_plan():
    spec = market("phemex", "futures")
    instruments = [Instrument("phemex", "futures", f"C{i:04d}-USDT-PERP", f"C{i:04d}USDT", f"C{i:04d}", "USDT") for i in range(100)]
    install(spec, instruments)
    cls = feed_subclass(spec, connection_limit=connection_cap(spec, 100))
    (planned,) = plan_shards(spec, [i.symbol for i in instruments], 100)

    async def cb(trade, ts):
        return None

    feed = cls(pw_runtime=None, symbols=[i.symbol for i in instruments], channels=["trades"], callbacks={"trades": cb},
               config={"log": {"disabled": True}})
    actual = [list(feed._pw_symbols_of(conn)) for conn, _, _ in feed.connect()]
    assert actual == planned and len(actual) == 5

def test_cryptofeed_never_loads_symbols_itself_and_http_uses_our_tls():
    spec = market("gate", "spot")
    context = ssl.create_default_context()
    cls = feed_subclass(spec, rest_base="http://127.0.0.1:9", ssl=context)
    Symbols.data.pop(spec.cryptofeed_id, None)
    with pytest.raises(RuntimeError, match="must be installed"):
        asyncio.run(cls.load_symbols())
    install(spec, [Instrument("gate", "spot", "TIA-USDT", "TIA_USDT", "TIA", "USDT")])

    async def cb(trade, ts):
        return None

    feed = cls(pw_runtime=None, symbols=["TIA-USDT"], channels=["trades"], callbacks={"trades": cb}, config={"log": {"disabled": True}})
    assert isinstance(feed.http_conn, TLSHTTPConn) and feed.http_conn._ssl is context

def test_replay_connections_are_what_run_would_open_wrapped_and_unopened():
    from recorder.feeds.market import MarketFeeds, ShardRuntime
    from recorder.feeds.supervised_ws import SupervisedWS

    spec = market("phemex", "futures")
    instruments = [Instrument("phemex", "futures", f"C{i:04d}-USDT-PERP", f"C{i:04d}USDT", f"C{i:04d}", "USDT") for i in range(30)]
    install(spec, instruments)
    (planned,) = plan_shards(spec, [i.symbol for i in instruments], 100)

    async def cb(trade, ts):
        return None

    owner = MarketFeeds(spec, instruments, on_trade=cb, max_symbols_per_connection=100)
    shard = ShardRuntime(owner, 0, planned, [s for conn in planned for s in conn])
    feed = owner.feed_class(pw_runtime=shard, symbols=shard.symbols, channels=["trades"], callbacks={"trades": cb},
                            config={"log": {"disabled": True}})
    replay = feed.replay_connections()
    assert [list(r.symbols) for r in replay] == planned and len(replay) == 2
    assert all(isinstance(r.conn, SupervisedWS) and r.handler == feed.message_handler for r in replay)
    assert [r.conn.logical_id for r in replay] == ["phemex.futures/0.0", "phemex.futures/0.1"]
    assert not owner.connection_state  # nothing opened, nothing reported up
