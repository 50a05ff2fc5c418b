"""Bybit: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: Bybit spot and linear instruments (cursor pages), and factors against the real cryptofeed `_trade`.
Backfill: Bybit spot and linear: recent-trade returns the held-back trades while they are recent; live ones come back identical.
"""

from __future__ import annotations

import asyncio
import math
import ssl

import aiohttp

from recorder.backfill.fill import backfill_gap, resolved
from recorder.exchanges import bybit
from recorder.instruments.cryptofeed_symbols import exchange_symbol
from recorder.instruments.fetch import fetch_instruments
from recorder.markets import BY_KEY, market
from recorder.store.base import GapRow
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async
from tests.recorder.backfill.scenario import recent_markets


def linear(symbol, base, status="Trading", contract="LinearPerpetual", quote="USDT", settle="USDT"):
    return {"symbol": symbol, "contractType": contract, "status": status, "baseCoin": base, "quoteCoin": quote,
            "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": settle, "copyTrading": "both",
            "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False}


def page(entries, cursor="", category="linear"):
    return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": entries, "nextPageCursor": cursor},
            "retExtInfo": {}, "time": 1732600000000}


def spot(symbol, base, quote="USDT", status="Trading"):
    return {"symbol": symbol, "baseCoin": base, "quoteCoin": quote, "innovation": "0", "status": status,
            "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.00000001", "minOrderQty": "0.000048",
                              "maxOrderQty": "71.73956243", "minOrderAmt": "1", "maxOrderAmt": "2000000"},
            "priceFilter": {"tickSize": "0.01"}, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}}


PAGES = [
    page([linear("BTCUSDT", "BTC"), linear("1000PEPEUSDT", "1000PEPE"), linear("SHIB1000USDT", "SHIB1000")], cursor="first%3D1000PEPEUSDT"),
    page([linear("10000LADYSUSDT", "10000LADYS"), linear("BTCUSDT-26DEC25", "BTC", contract="LinearFutures"),
          linear("BTCPERP", "BTC", quote="USDC", settle="USDC"), linear("NEWUSDT", "NEW", status="PreLaunch"),
          {"symbol": "BROKEN", "contractType": "LinearPerpetual", "status": "Trading", "quoteCoin": "USDT"}]),
]
SPOT = page([spot("TIAUSDT", "TIA"), spot("BTCUSDC", "BTC", quote="USDC"), spot("OLDUSDT", "OLD", status="Closed"),
             {"symbol": 5}], category="spot")


def test_linear_pages_are_merged_and_filtered():
    result = bybit.parse_futures(PAGES)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "1000PEPE-USDT-PERP", "SHIB1000-USDT-PERP", "10000LADYS-USDT-PERP"}
    assert (got["1000PEPE-USDT-PERP"].base, got["1000PEPE-USDT-PERP"].multiplier) == ("PEPE", 1000)
    assert (got["SHIB1000-USDT-PERP"].base, got["SHIB1000-USDT-PERP"].price_factor) == ("SHIB", 0.001)
    assert (got["10000LADYS-USDT-PERP"].base, got["10000LADYS-USDT-PERP"].amount_factor) == ("LADYS", 10000.0)
    assert result.skipped == {"not_perpetual": 1, "not_usdt_margined": 1, "not_trading": 1, "malformed": 1}


def test_single_page_is_accepted_too():
    assert len(bybit.parse_futures(PAGES[0]).instruments) == 3


def test_spot_is_named_base_quote_and_keyed_with_a_slash():
    result = bybit.parse_spot(SPOT)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"TIA-USDT", "BTC-USDC"}
    assert exchange_symbol(got["TIA-USDT"]) == "TIA/USDT" and got["TIA-USDT"].native == "TIAUSDT"
    assert result.skipped == {"not_trading": 1, "malformed": 1}


def test_factors_against_cryptofeed_publictrade(cryptofeed_trades):
    instruments = bybit.parse_futures(PAGES).instruments
    frame = {"topic": "publicTrade.1000PEPEUSDT", "type": "snapshot", "ts": 1732600000001,
             "data": [{"T": 1732600000000, "s": "1000PEPEUSDT", "S": "Buy", "v": "300", "p": "0.0123", "L": "PlusTick",
                       "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False}]}
    (trade,) = asyncio.run(cryptofeed_trades(market("bybit", "futures"), instruments, [frame],
                                             address="wss://stream.bybit.com/v5/public/linear"))
    pepe = next(i for i in instruments if i.symbol == "1000PEPE-USDT-PERP")
    assert trade.symbol == pepe.symbol
    assert math.isclose(float(trade.price) * pepe.price_factor, 0.0000123, rel_tol=1e-12)
    assert math.isclose(float(trade.amount) * pepe.amount_factor, 300_000, rel_tol=1e-12)


def test_spot_trade_maps_back_through_cryptofeeds_slash_name(cryptofeed_trades):
    instruments = bybit.parse_spot(SPOT).instruments
    frame = {"topic": "publicTrade.TIAUSDT", "type": "snapshot", "ts": 1732600000001,
             "data": [{"T": 1732600000000, "s": "TIAUSDT", "S": "Sell", "v": "1.25", "p": "5.1", "L": "MinusTick",
                       "i": "2290000000061666327", "BT": False}]}
    (trade,) = asyncio.run(cryptofeed_trades(market("bybit", "spot"), instruments, [frame],
                                             address="wss://stream.bybit.com/v5/public/spot"))
    assert (trade.symbol, float(trade.amount), float(trade.price), trade.side) == ("TIA-USDT", 1.25, 5.1, "sell")


def test_bybit_recent_gaps_are_recovered():
    asyncio.run(recent_markets(["bybit.spot", "bybit.futures"]))


def test_bybit_says_when_a_gap_is_older_than_the_latest_trades():
    """Spot answers only the latest 60 trades: a window before them is unrecoverable, one across them partial."""

    async def go():
        key = "bybit.spot"
        async with ExchangeSimulator(markets=[key], symbols=3, trades_per_second=200, seed=5) as sim:
            context = ssl.create_default_context(cafile=str(sim.ca_file))
            rest = sim.endpoint(key)[1]
            async with aiohttp.ClientSession() as session:
                instrument = next(i for i in await fetch_instruments(BY_KEY[key], rest, session, ssl=context) if i.base == "C0001")

                def generated() -> list[dict]:
                    return [r for r in sim.generated_trades(key) if r["native"] == instrument.native]

                await eventually_async(lambda: len(generated()) >= 200, what="200 trades of the coin")
                sim.pause()
                trades = generated()
                answered = trades[-bybit.RECENT["spot"]:]
                oldest = answered[0]["ts_ns"]
                later = min(r["ts_ns"] for r in answered if r["ts_ns"] > oldest)

                async def attempt(start: int, end: int):
                    gap = GapRow(start, end, "bybit", "spot", instrument.symbol, "disconnect", "", "", "open", 0)
                    result = await backfill_gap(gap, instrument, rest, session, context, slack_ns=0)
                    expected = [r for r in answered if start <= r["ts_ns"] <= end]
                    assert len(result.rows) == len(expected), (result, expected)
                    return result

                gone = await attempt(trades[0]["ts_ns"], trades[10]["ts_ns"])
                assert (gone.complete, gone.status, gone.error) == (False, "unrecoverable", "")
                across = await attempt(trades[0]["ts_ns"], later)
                assert (across.complete, across.status) == (False, "partial") and across.rows
                recent = await attempt(later, trades[-1]["ts_ns"])
                assert (recent.complete, recent.status) == (True, "backfilled") and recent.rows
                assert resolved(GapRow(later, trades[-1]["ts_ns"], "bybit", "spot", instrument.symbol, "silence", "", "", "open", 0),
                                recent).recovered == len(recent.rows)

    asyncio.run(go())


def test_replies_are_read_by_parsing_the_frame():
    read = bybit.EXCHANGE.read_reply
    refused = read('{"success": false, "ret_msg": "Invalid symbol :[NOPEUSDT]", "conn_id": "c", "op": "subscribe"}')
    assert refused.rejected and not refused.pong
    pong = read('{"success": true, "ret_msg": "pong", "conn_id": "c", "req_id": "1", "op": "ping"}')
    assert pong.pong and not pong.rejected
    assert read('{"req_id": "1", "op": "pong", "args": ["1661"], "conn_id": "c"}').pong
    # a coin called PONG is market data, whatever its text says
    trade = read('{"topic": "publicTrade.PONGUSDT", "type": "snapshot", "ts": 1, '
                 '"data": [{"T": 1, "s": "PONGUSDT", "S": "Buy", "v": "1", "p": "2", "i": "x", "success": false}]}')
    assert not (trade.rejected or trade.pong)
