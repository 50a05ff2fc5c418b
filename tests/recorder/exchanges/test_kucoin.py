"""KuCoin: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: KuCoin spot and USDT perpetual instruments (lots × multiplier, XBT), factors against the real cryptofeed.
Backfill: KuCoin spot and futures: the latest-100 endpoints return the held-back trades while recent; live ones come back identical.
"""

from __future__ import annotations

import asyncio
import math

from cryptofeed.symbols import Symbols

from recorder.exchanges import kucoin
from recorder.instruments.cryptofeed_symbols import install
from recorder.markets import market
from tests.recorder.backfill.scenario import recent_markets


def contract(symbol, base, multiplier, *, quote="USDT", kind="FFWCSX", status="Open", inverse=False):
    return {"symbol": symbol, "rootSymbol": quote, "type": kind, "firstOpenDate": 1585555200000, "expireDate": None,
            "settleDate": None, "baseCurrency": base, "quoteCurrency": quote, "settleCurrency": quote if not inverse else base,
            "maxOrderQty": 1000000, "maxPrice": 1000000.0, "lotSize": 1, "tickSize": 0.1, "indexPriceTickSize": 0.01,
            "multiplier": multiplier, "initialMargin": 0.008, "maintainMargin": 0.004, "maxRiskLimit": 100000,
            "minRiskLimit": 100000, "riskStep": 50000, "makerFeeRate": 0.0002, "takerFeeRate": 0.0006, "takerFixFee": 0.0,
            "makerFixFee": 0.0, "isDeleverage": True, "isQuanto": False, "isInverse": inverse, "markMethod": "FairPrice",
            "fairMethod": "FundingRate", "fundingBaseSymbol": f".{base}INT8H", "status": status}


CONTRACTS = {"code": "200000", "data": [
    contract("XBTUSDTM", "XBT", 0.001),
    contract("SXBTUSDTM", "SXBT", 1),
    contract("1000BONKUSDTM", "1000BONK", 100),
    contract("XBTUSDM", "XBT", -1, quote="USD", inverse=True),
    contract("XBTMH26", "XBT", 0.001, kind="FFICSX"),
    contract("OLDUSDTM", "OLD", 1, status="Paused"),
    {**contract("BADUSDTM", "BAD", 1), "multiplier": "abc"},
]}
SYMBOLS = {"code": "200000", "data": [
    {"symbol": "BTC-USDT", "name": "BTC-USDT", "baseCurrency": "BTC", "quoteCurrency": "USDT", "feeCurrency": "USDT", "market": "USDS",
     "baseMinSize": "0.00001", "quoteMinSize": "0.1", "baseMaxSize": "10000000000", "quoteMaxSize": "99999999",
     "baseIncrement": "0.00000001", "quoteIncrement": "0.000001", "priceIncrement": "0.1", "priceLimitRate": "0.1",
     "minFunds": "0.1", "isMarginEnabled": True, "enableTrading": True, "feeCategory": 1},
    {"symbol": "OLD-USDT", "baseCurrency": "OLD", "quoteCurrency": "USDT", "enableTrading": False},
    {"symbol": "ODD-USDT", "baseCurrency": "ODD", "quoteCurrency": "USDT", "enableTrading": "yes"},
]}


def test_futures_xbt_only_as_whole_token_and_lots():
    result = kucoin.parse_futures(CONTRACTS)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "SXBT-USDT-PERP", "1000BONK-USDT-PERP"}
    assert (got["BTC-USDT-PERP"].native, got["BTC-USDT-PERP"].base, got["BTC-USDT-PERP"].amount_factor) == ("XBTUSDTM", "BTC", 0.001)
    # cryptofeed's substring replace would name this SBTC-USDT-PERP; the coin is SXBT
    assert got["SXBT-USDT-PERP"].base == "SXBT"
    bonk = got["1000BONK-USDT-PERP"]
    assert (bonk.base, bonk.multiplier, bonk.price_factor, bonk.amount_factor) == ("BONK", 1000, 0.001, 100_000.0)
    assert result.skipped == {"not_usdt_margined": 1, "not_perpetual": 1, "not_trading": 1, "malformed": 1}


def test_spot():
    result = kucoin.parse_spot(SYMBOLS)
    assert [i.symbol for i in result.instruments] == ["BTC-USDT"]
    assert result.skipped == {"not_trading": 1, "malformed": 1}


def test_contract_size_installed_for_cryptofeed():
    install(market("kucoin", "futures"), kucoin.parse_futures(CONTRACTS).instruments)
    mapping, info = Symbols.get("KUCOIN_FUTURES")
    assert mapping["BTC-USDT-PERP"] == "XBTUSDTM"
    assert float(info["contract_size"]["BTC-USDT-PERP"]) == 0.001 and float(info["contract_size"]["1000BONK-USDT-PERP"]) == 100
    assert info["instrument_type"]["BTC-USDT-PERP"] == "perpetual" and info["is_inverse"]["BTC-USDT-PERP"] is False


def test_lots_times_multiplier_are_coins(cryptofeed_trades):
    instruments = kucoin.parse_futures(CONTRACTS).instruments
    frame = {"T": "trade.FUTURES", "P": 1732600000000100000,
             "d": {"E": 24021490985222144, "M": 1732600000000000000, "S": "buy", "p": "97000.5", "q": "7", "s": "XBTUSDTM",
                   "ti": "24021490985222144"}}
    (trade,) = asyncio.run(cryptofeed_trades(market("kucoin", "futures"), instruments, [frame]))
    btc = next(i for i in instruments if i.symbol == "BTC-USDT-PERP")
    assert trade.symbol == "BTC-USDT-PERP" and float(trade.price) * btc.price_factor == 97000.5
    assert math.isclose(float(trade.amount) * btc.amount_factor, 0.007, rel_tol=1e-12)


def test_kucoin_recent_gaps_are_recovered():
    asyncio.run(recent_markets(["kucoin.spot", "kucoin.futures"]))


def test_replies_are_read_by_parsing_the_frame():
    read = kucoin.EXCHANGE.read_reply
    assert read('{"id": "1", "result": false, "message": "unknown action \'x\'"}').rejected
    assert read('{"type": "error", "code": 400, "message": "invalid json"}').rejected
    assert not read('{"id": "1", "result": true}').rejected
    trade = read('{"T": "trade.FUTURES", "P": 1, "d": {"S": "buy", "p": "1", "q": "2", "s": "XBTUSDTM", "ti": "3"}}')
    assert not (trade.rejected or trade.pong)
