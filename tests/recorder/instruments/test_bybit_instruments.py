"""Bybit spot and linear instruments (cursor pages), and factors against the real cryptofeed `_trade`."""

from __future__ import annotations

import asyncio
import math

from recorder.instruments import bybit
from recorder.instruments.cryptofeed_symbols import exchange_symbol
from recorder.markets import market


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
