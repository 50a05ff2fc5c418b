"""Binance: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: Binance spot and USDT-M instrument parsing, and the factors against the real cryptofeed `_trade`.
Backfill: Binance spot and USDT-M: a held-back run of aggTrades is detected live and recovered exactly by id.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from recorder.exchanges import binance
from recorder.markets import market
from tests.recorder.backfill.scenario import sequential_markets

PRICE_FILTER = [{"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "1000.00000000", "tickSize": "0.00000100"},
                {"filterType": "LOT_SIZE", "minQty": "0.01", "maxQty": "9000000.00", "stepSize": "0.01"}]


def spot_entry(symbol, base, quote="USDT", status="TRADING", **extra):
    return {"symbol": symbol, "status": status, "baseAsset": base, "baseAssetPrecision": 8, "quoteAsset": quote,
            "quotePrecision": 8, "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "icebergAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False, "filters": PRICE_FILTER,
            "permissions": [], "permissionSets": [["SPOT"]], **extra}


def futures_entry(symbol, base, contract_type="PERPETUAL", status="TRADING", quote="USDT", margin="USDT"):
    return {"symbol": symbol, "pair": symbol.split("_")[0], "contractType": contract_type, "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": status, "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": base, "quoteAsset": quote, "marginAsset": margin, "pricePrecision": 7, "quantityPrecision": 0,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": ["Meme"],
            "triggerProtect": "0.1500", "filters": PRICE_FILTER, "orderTypes": ["LIMIT"], "timeInForce": ["GTC"]}


SPOT = {
    "timezone": "UTC", "serverTime": 1732600000000, "rateLimits": [], "exchangeFilters": [],
    "symbols": [
        spot_entry("TIAUSDT", "TIA"),
        spot_entry("1INCHUSDT", "1INCH"),
        spot_entry("1000SATSUSDT", "1000SATS"),
        spot_entry("ETHBTC", "ETH", quote="BTC"),
        spot_entry("LUNAUSDT", "LUNA", status="BREAK"),
        spot_entry("MARGINONLY", "MO", isSpotTradingAllowed=False),
        {"symbol": "NOBASE", "status": "TRADING", "quoteAsset": "USDT"},
        {"symbol": "BADSTATUS", "status": 1, "baseAsset": "X", "quoteAsset": "USDT"},
        "not-an-object",
    ],
}

FUTURES = {
    "timezone": "UTC", "serverTime": 1732600000000, "futuresType": "U_MARGINED", "assets": [],
    "symbols": [
        futures_entry("BTCUSDT", "BTC"),
        futures_entry("1000PEPEUSDT", "1000PEPE"),
        futures_entry("1MBABYDOGEUSDT", "1MBABYDOGE"),
        futures_entry("1000000MOGUSDT", "1000000MOG"),
        futures_entry("1INCHUSDT", "1INCH"),
        futures_entry("BTCUSDT_250926", "BTC", contract_type="CURRENT_QUARTER"),
        futures_entry("BTCUSDC", "BTC", quote="USDC", margin="USDC"),
        futures_entry("NEWUSDT", "NEW", status="PENDING_TRADING"),
        futures_entry("OLDUSDT", "OLD", status="SETTLING"),
        {"symbol": "BROKEN", "contractType": "PERPETUAL", "status": "TRADING", "baseAsset": None, "quoteAsset": "USDT"},
    ],
}


def test_spot_keeps_trading_pairs_and_counts_the_rest():
    result = binance.parse_spot(SPOT)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"TIA-USDT", "1INCH-USDT", "1000SATS-USDT", "ETH-BTC"}
    assert got["TIA-USDT"].native == "TIAUSDT" and got["TIA-USDT"].base == "TIA" and got["TIA-USDT"].quote == "USDT"
    # spot tickers that start with digits are real coins, never multiplier prefixes
    assert (got["1INCH-USDT"].base, got["1INCH-USDT"].multiplier) == ("1INCH", 1)
    assert (got["1000SATS-USDT"].base, got["1000SATS-USDT"].price_factor) == ("1000SATS", 1.0)
    assert result.skipped["not_trading"] == 2
    assert result.skipped["malformed"] == 3
    assert result.malformed == 3


def test_futures_keeps_usdt_perpetuals_with_multipliers():
    result = binance.parse_futures(FUTURES)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "1000PEPE-USDT-PERP", "1MBABYDOGE-USDT-PERP", "1000000MOG-USDT-PERP", "1INCH-USDT-PERP"}
    pepe = got["1000PEPE-USDT-PERP"]
    assert (pepe.base, pepe.multiplier, pepe.price_factor, pepe.amount_factor) == ("PEPE", 1000, 0.001, 1000.0)
    assert (got["1MBABYDOGE-USDT-PERP"].base, got["1MBABYDOGE-USDT-PERP"].multiplier) == ("BABYDOGE", 1_000_000)
    assert (got["1000000MOG-USDT-PERP"].base, got["1000000MOG-USDT-PERP"].multiplier) == ("MOG", 1_000_000)
    # no multiplier prefix matches 1INCH, so the coin is 1INCH even on futures
    assert (got["1INCH-USDT-PERP"].base, got["1INCH-USDT-PERP"].multiplier) == ("1INCH", 1)
    assert result.skipped == {"not_perpetual": 1, "not_usdt_margined": 1, "not_trading": 2, "malformed": 1}


def test_payload_without_symbol_list_is_an_error():
    with pytest.raises(ValueError):
        binance.parse_spot({"code": -1121, "msg": "Invalid symbol."})


def test_factors_against_cryptofeed_aggtrade(cryptofeed_trades):
    instruments = {i.symbol: i for i in binance.parse_futures(FUTURES).instruments}
    frame = {"stream": "1000pepeusdt@aggTrade",
             "data": {"e": "aggTrade", "E": 1732600000100, "s": "1000PEPEUSDT", "a": 4242, "p": "0.0123000", "q": "2500",
                      "f": 1, "l": 3, "T": 1732600000099, "m": True}}
    trades = asyncio.run(cryptofeed_trades(market("binance", "futures"), instruments.values(), [frame]))
    (trade,) = trades
    pepe = instruments["1000PEPE-USDT-PERP"]
    assert trade.symbol == "1000PEPE-USDT-PERP" and trade.side == "sell" and trade.id == "4242"
    assert math.isclose(float(trade.price) * pepe.price_factor, 0.0000123, rel_tol=1e-12)   # per one PEPE
    assert math.isclose(float(trade.amount) * pepe.amount_factor, 2_500_000, rel_tol=1e-12)  # PEPE coins


def test_spot_factor_is_identity(cryptofeed_trades):
    instruments = binance.parse_spot(SPOT).instruments
    frame = {"stream": "tiausdt@aggTrade", "data": {"e": "aggTrade", "E": 1, "s": "TIAUSDT", "a": 7, "p": "5.4321", "q": "12.5",
                                                   "f": 1, "l": 1, "T": 1732600000000, "m": False}}
    (trade,) = asyncio.run(cryptofeed_trades(market("binance", "spot"), instruments, [frame]))
    tia = next(i for i in instruments if i.symbol == "TIA-USDT")
    assert (float(trade.price) * tia.price_factor, float(trade.amount) * tia.amount_factor, trade.side) == (5.4321, 12.5, "buy")


def test_binance_gaps_are_recovered_exactly():
    asyncio.run(sequential_markets(["binance.spot", "binance.futures"]))


def test_replies_are_read_by_parsing_the_frame():
    read = binance.EXCHANGE.read_reply
    assert read('{"error": {"code": 2, "msg": "Invalid request: unknown method X"}, "id": 1}').rejected
    assert not read('{"result": null, "id": 1}').rejected
    trade = read('{"stream": "tiausdt@aggTrade", "data": {"e": "aggTrade", "s": "TIAUSDT", "a": 7, "p": "5", "q": "1", "m": false}}')
    assert not (trade.rejected or trade.pong)
    assert read("not json") is None and read("[1, 2]") is None
