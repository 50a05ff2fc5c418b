"""`fetch_instruments` against a local HTTP server: real paths, Bybit cursor pagination, clear errors."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest
from aiohttp import web

from recorder.instruments.fetch import InstrumentFetchError, default_rest_base, fetch_instruments
from recorder.markets import market


def linear(symbol, base):
    return {"symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": base, "quoteCoin": "USDT",
            "settleCoin": "USDT", "priceFilter": {"tickSize": "0.1"}}


@contextlib.asynccontextmanager
async def serve(routes):
    app = web.Application()
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(str(request.rel_url))
        status, body = routes(request)
        return web.Response(status=status, text=body, content_type="application/json")

    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            yield f"http://127.0.0.1:{port}", session, seen
    finally:
        await runner.cleanup()


def test_bybit_follows_next_page_cursor():
    pages = {"": (["BTCUSDT", "ETHUSDT"], "c1"), "c1": (["1000PEPEUSDT"], "c2"), "c2": (["SOLUSDT"], "")}

    def routes(request):
        assert request.path == "/v5/market/instruments-info"
        assert request.query["category"] == "linear"
        names, cursor = pages[request.query.get("cursor", "")]
        items = [linear(name, name.removesuffix("USDT")) for name in names]
        return 200, json.dumps({"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": items, "nextPageCursor": cursor}})

    async def go():
        async with serve(routes) as (base, session, seen):
            instruments = await fetch_instruments(market("bybit", "futures"), base, session)
            return instruments, seen

    instruments, seen = asyncio.run(go())
    assert [i.symbol for i in instruments] == ["BTC-USDT-PERP", "ETH-USDT-PERP", "1000PEPE-USDT-PERP", "SOL-USDT-PERP"]
    assert len(seen) == 3 and "cursor=c2" in seen[-1]


@pytest.mark.parametrize(("spec_key", "status", "body", "fragment"), [
    ("binance.spot", 500, "oops", "HTTP 500"),
    ("okx.futures", 200, "<html>", "not JSON"),
    ("okx.futures", 200, '{"code": "50011", "msg": "Too Many Requests", "data": []}', "exchange error code 50011"),
    ("kucoin.spot", 200, '{"code": "400100", "msg": "bad"}', "exchange error code 400100"),
    ("gate.spot", 200, '{"label": "X"}', "unexpected payload"),
    ("bybit.spot", 200, '{"retCode": 10001, "retMsg": "params error"}', "retCode 10001"),
])
def test_errors_name_market_and_url(spec_key, status, body, fragment):
    exchange, _, kind = spec_key.partition(".")

    async def go():
        async with serve(lambda request: (status, body)) as (base, session, _):
            await fetch_instruments(market(exchange, kind), base, session)

    with pytest.raises(InstrumentFetchError) as info:
        asyncio.run(go())
    assert spec_key in str(info.value) and "http://127.0.0.1:" in str(info.value) and fragment in str(info.value)
    assert info.value.market == spec_key


def test_endless_cursor_is_an_error():
    def routes(request):
        return 200, json.dumps({"retCode": 0, "result": {"list": [linear("BTCUSDT", "BTC")], "nextPageCursor": "same"}})

    async def go():
        async with serve(routes) as (base, session, _):
            await fetch_instruments(market("bybit", "futures"), base, session)

    with pytest.raises(InstrumentFetchError, match="pagination"):
        asyncio.run(go())


def test_connection_refused_is_an_instrument_fetch_error():
    async def go():
        async with aiohttp.ClientSession() as session:
            await fetch_instruments(market("gate", "futures"), "http://127.0.0.1:9", session)

    with pytest.raises(InstrumentFetchError, match=r"gate\.futures"):
        asyncio.run(go())


def test_paths_and_default_bases():
    assert default_rest_base(market("binance", "futures")) == "https://fapi.binance.com"
    assert default_rest_base(market("kucoin", "futures")) == "https://api-futures.kucoin.com"

    def routes(request):
        assert request.path == "/api/v5/public/instruments" and request.query["instType"] == "SPOT"
        entry = {"instType": "SPOT", "instId": "TIA-USDT", "baseCcy": "TIA", "quoteCcy": "USDT", "state": "live"}
        return 200, json.dumps({"code": "0", "msg": "", "data": [entry]})

    async def go():
        async with serve(routes) as (base, session, _):
            return await fetch_instruments(market("okx", "spot"), base + "/", session)

    assert [i.symbol for i in asyncio.run(go())] == ["TIA-USDT"]
