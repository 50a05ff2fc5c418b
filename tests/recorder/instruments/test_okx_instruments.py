"""OKX spot and USDT swap instruments (ctVal), and factors against the real cryptofeed `_trade`."""

from __future__ import annotations

import asyncio
import math

from recorder.instruments import okx
from recorder.markets import market


def swap(inst_id, ct_val, state="live", ct_type="linear", settle="USDT", ct_mult="1"):
    base = inst_id.split("-")[0]
    return {"alias": "", "baseCcy": "", "category": "1", "ctMult": ct_mult, "ctType": ct_type, "ctVal": ct_val, "ctValCcy": base,
            "expTime": "", "instFamily": "-".join(inst_id.split("-")[:2]), "instId": inst_id, "instType": "SWAP", "lever": "50",
            "listTime": "1611916828000", "lotSz": "1", "maxIcebergSz": "100000000", "maxLmtSz": "100000000", "maxMktSz": "12000",
            "minSz": "1", "optType": "", "quoteCcy": "", "settleCcy": settle, "state": state, "stk": "", "tickSz": "0.1",
            "uly": "-".join(inst_id.split("-")[:2])}


def spot(inst_id, state="live"):
    base, quote = inst_id.split("-")
    return {"alias": "", "baseCcy": base, "category": "1", "ctMult": "", "ctType": "", "ctVal": "", "ctValCcy": "",
            "expTime": "", "instFamily": "", "instId": inst_id, "instType": "SPOT", "lever": "10", "listTime": "1548133413000",
            "lotSz": "0.00000001", "minSz": "0.00001", "optType": "", "quoteCcy": quote, "settleCcy": "", "state": state,
            "stk": "", "tickSz": "0.1", "uly": ""}


SWAPS = {"code": "0", "msg": "", "data": [
    swap("BTC-USDT-SWAP", "0.01"), swap("PEPE-USDT-SWAP", "10000000"), swap("BTC-USD-SWAP", "100", ct_type="inverse", settle="BTC"),
    swap("NEW-USDT-SWAP", "1", state="preopen"), swap("OLD-USDT-SWAP", "1", state="suspend"),
    {**swap("BAD-USDT-SWAP", "1"), "ctVal": ""}, {**swap("NEG-USDT-SWAP", "1"), "ctVal": "-1"},
]}
SPOTS = {"code": "0", "msg": "", "data": [spot("BTC-USDT"), spot("0G-USDT"), spot("OLD-USDT", state="suspend"), {"instId": "X"}]}


def test_swaps_keep_live_linear_usdt_with_ct_val():
    result = okx.parse_futures(SWAPS)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "PEPE-USDT-PERP"}
    assert (got["BTC-USDT-PERP"].native, got["BTC-USDT-PERP"].amount_factor) == ("BTC-USDT-SWAP", 0.01)
    assert (got["PEPE-USDT-PERP"].base, got["PEPE-USDT-PERP"].amount_factor, got["PEPE-USDT-PERP"].price_factor) == ("PEPE", 1e7, 1.0)
    assert result.skipped == {"not_usdt_margined": 1, "not_trading": 2, "malformed": 2}


def test_spot():
    result = okx.parse_spot(SPOTS)
    assert {i.symbol: i.base for i in result.instruments} == {"BTC-USDT": "BTC", "0G-USDT": "0G"}
    assert result.skipped == {"not_trading": 1, "malformed": 1}


def test_swap_contracts_times_ct_val_are_coins(cryptofeed_trades):
    instruments = okx.parse_futures(SWAPS).instruments
    frame = {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
             "data": [{"instId": "BTC-USDT-SWAP", "tradeId": "130639474", "px": "97000.1", "sz": "3", "side": "sell",
                       "ts": "1732600000000", "count": "1"}]}
    (trade,) = asyncio.run(cryptofeed_trades(market("okx", "futures"), instruments, [frame]))
    btc = next(i for i in instruments if i.symbol == "BTC-USDT-PERP")
    assert trade.symbol == "BTC-USDT-PERP" and trade.id == "130639474"
    assert float(trade.price) * btc.price_factor == 97000.1
    assert math.isclose(float(trade.amount) * btc.amount_factor, 0.03, rel_tol=1e-12)
