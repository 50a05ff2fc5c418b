"""Phemex: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: Phemex spot (scaled amounts) and USDT perps from `data.perpProductsV2`, factors against the real cryptofeed.
Backfill: Phemex spot and perpetuals: the recent-trades endpoints return the held-back trades with the live path's synthetic ids.
"""

from __future__ import annotations

import asyncio
import math

from cryptofeed.symbols import Symbols

from recorder.exchanges import phemex
from recorder.instruments.cryptofeed_symbols import feed_class, install
from recorder.markets import market
from tests.recorder.backfill.scenario import recent_markets


def spot(symbol, base, status="Listed", price_scale=8):
    return {"symbol": symbol, "code": 1001, "type": "Spot", "displaySymbol": f"{base} / USDT", "quoteCurrency": "USDT",
            "priceScale": price_scale, "ratioScale": 8, "pricePrecision": 2, "baseCurrency": base,
            "baseTickSize": "0.000001 BTC", "baseTickSizeEv": 100, "quoteTickSize": "0.01 USDT", "quoteTickSizeEv": 1000000,
            "baseQtyPrecision": 6, "quoteQtyPrecision": 2, "minOrderValue": "10 USDT", "minOrderValueEv": 1000000000,
            "maxBaseOrderSize": "1000 BTC", "maxBaseOrderSizeEv": 100000000000, "maxOrderValue": "5,000,000 USDT",
            "maxOrderValueEv": 500000000000000, "defaultTakerFee": "0.001", "defaultTakerFeeEr": 100000,
            "defaultMakerFee": "0.001", "defaultMakerFeeEr": 100000, "description": "spot pair", "status": status,
            "tipOrderQty": 2, "listTime": 1589338800000, "buyPriceUpperLimitPct": 110, "sellPriceLowerLimitPct": 90, "leverage": 5}


def perp(symbol, base, kind="PerpetualV2", status="Listed", settle="USDT"):
    return {"symbol": symbol, "code": 41541, "type": kind, "displaySymbol": f"{base} / USDT", "indexSymbol": f".{base}USDT",
            "markSymbol": f".M{base}USDT", "fundingRateSymbol": f".{base}USDTFR", "fundingRate8hSymbol": f".{base}USDTFR8H",
            "contractUnderlyingAssets": base, "settleCurrency": settle, "quoteCurrency": "USDT", "tickSize": "0.1",
            "priceScale": 0, "ratioScale": 0, "pricePrecision": 1, "baseCurrency": base, "description": "perp",
            "status": status, "tipOrderQty": 0, "listTime": 1668225600000, "majorSymbol": True, "defaultLeverage": "-10",
            "fundingInterval": 28800, "maxLeverage": 100, "maxOrderQtyRq": "1000", "maxPriceRp": "2000000000",
            "minOrderValueRv": "1", "minPriceRp": "1000.0", "qtyPrecision": 3, "qtyStepSize": "0.001", "tipOrderQtyRq": "200",
            "maxOpenPosLeverage": 100.0}


PRODUCTS = {"code": 0, "msg": "OK", "data": {
    "ratioScale": 8,
    "currencies": [{"currency": "BTC", "name": "Bitcoin", "code": 1, "valueScale": 8, "minValueEv": 1, "maxValueEv": 5000000000000000000,
                    "status": "Listed"},
                   {"currency": "USDT", "name": "TetherUS", "code": 3, "valueScale": 8, "status": "Listed"},
                   {"currency": "ODD", "name": "Odd", "code": 9, "valueScale": 6, "status": "Listed"}],
    "products": [
        {"symbol": "BTCUSD", "code": 1, "type": "Perpetual", "displaySymbol": "BTC / USD", "contractUnderlyingAssets": "USD",
         "settleCurrency": "BTC", "quoteCurrency": "USD", "contractSize": 1.0, "lotSize": 1, "tickSize": 0.5, "priceScale": 4,
         "ratioScale": 8, "status": "Listed"},
        spot("sBTCUSDT", "BTC"), spot("sODDUSDT", "ODD"), spot("sOLDUSDT", "OLD", status="Delisted"),
        spot("sWEIRDUSDT", "WEIRD", price_scale=4), {"symbol": "sBROKEN", "type": "Spot", "status": "Listed"},
    ],
    "perpProductsV2": [
        perp("BTCUSDT", "BTC"), perp("1000PEPEUSDT", "1000PEPE"), perp("NEWUSDT", "NEW", kind="PerpetualPilot"),
        perp("GONEUSDT", "GONE", status="Delisted"), {"symbol": "NOTYPE", "displaySymbol": "X / USDT"},
    ],
}}


def test_spot_amount_scale_from_currency_value_scale():
    result = phemex.parse_spot(PRODUCTS)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT", "ODD-USDT"}
    assert got["BTC-USDT"].native == "sBTCUSDT" and got["BTC-USDT"].amount_factor == 1e-8
    assert got["ODD-USDT"].amount_factor == 1e-6
    assert result.skipped == {"not_spot": 1, "not_trading": 1, "unsupported_price_scale": 1, "malformed": 1}


def test_usdt_perps_come_from_perp_products_v2():
    result = phemex.parse_futures(PRODUCTS)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "1000PEPE-USDT-PERP", "NEW-USDT-PERP"}
    pepe = got["1000PEPE-USDT-PERP"]
    assert (pepe.native, pepe.base, pepe.price_factor, pepe.amount_factor) == ("1000PEPEUSDT", "PEPE", 0.001, 1000.0)
    assert result.skipped["not_trading"] == 1 and result.skipped["malformed"] == 1


def test_spot_and_perps_share_one_cryptofeed_table_and_route_to_the_right_channel():
    install(market("phemex", "spot"), phemex.parse_spot(PRODUCTS).instruments)
    install(market("phemex", "futures"), phemex.parse_futures(PRODUCTS).instruments)
    mapping, _ = Symbols.get("PHEMEX")
    assert mapping["BTC-USDT"] == "sBTCUSDT" and mapping["BTC-USDT-PERP"] == "BTCUSDT"
    feed = feed_class(market("phemex", "spot"))(symbols=["BTC-USDT", "BTC-USDT-PERP"], channels=["trades"],
                                                callbacks={"trades": _noop}, config={"log": {"disabled": True}})
    assert feed._method("trade.subscribe", "sBTCUSDT") == "trade.subscribe"
    assert feed._method("trade.subscribe", "BTCUSDT") == "trade_p.subscribe"
    assert feed.price_scale["BTC-USDT"] == 10**8


async def _noop(trade, receipt_timestamp):
    return None


def test_spot_scaled_integers_become_coins(cryptofeed_trades):
    instruments = phemex.parse_spot(PRODUCTS).instruments
    frame = {"sequence": 9047166781, "symbol": "sBTCUSDT", "type": "incremental",
             "trades": [[1732600000000000000, "Sell", 9700010000000, 1234000]]}
    (trade,) = asyncio.run(cryptofeed_trades(market("phemex", "spot"), instruments, [frame]))
    btc = next(i for i in instruments if i.symbol == "BTC-USDT")
    assert float(trade.price) * btc.price_factor == 97000.1
    assert math.isclose(float(trade.amount) * btc.amount_factor, 0.01234, rel_tol=1e-12)
    assert trade.id is None  # Phemex sends no trade id: the normalizer makes one


def test_perp_trades_p_are_base_units(cryptofeed_trades):
    instruments = phemex.parse_futures(PRODUCTS).instruments
    frame = {"dts": 1732600000000000100, "mts": 1732600000000000050, "sequence": 66288983930, "symbol": "1000PEPEUSDT",
             "trades_p": [[1732600000000000000, "Buy", "0.0123", "40"]], "type": "incremental"}
    (trade,) = asyncio.run(cryptofeed_trades(market("phemex", "futures"), instruments, [frame]))
    pepe = next(i for i in instruments if i.symbol == "1000PEPE-USDT-PERP")
    assert math.isclose(float(trade.price) * pepe.price_factor, 0.0000123, rel_tol=1e-12)
    assert math.isclose(float(trade.amount) * pepe.amount_factor, 40_000, rel_tol=1e-12)


def test_phemex_recent_gaps_are_recovered():
    asyncio.run(recent_markets(["phemex.spot", "phemex.futures"]))


def test_replies_are_read_by_parsing_the_frame():
    read = phemex.EXCHANGE.read_reply
    assert read('{"error": {"code": 6001, "message": "invalid argument"}, "id": null, "result": null}').rejected
    answer = read('{"error": null, "id": 1, "result": {"status": "success"}}')
    assert not (answer.rejected or answer.pong)  # cryptofeed pings Phemex itself and reads the answer
