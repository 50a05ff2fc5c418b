"""OKX: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: OKX spot and USDT swap instruments (ctVal), and factors against the real cryptofeed `_trade`.
Backfill: OKX spot and swap: a held-back run of trades is detected live and recovered exactly by tradeId (history-trades).
"""

from __future__ import annotations

import asyncio
import math
import ssl

import aiohttp

from recorder.backfill.fill import backfill_gap
from recorder.exchanges import okx
from recorder.instruments.fetch import fetch_instruments
from recorder.markets import BY_KEY, market
from recorder.store.base import GapRow
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async
from tests.recorder.backfill.scenario import sequential_markets


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


def test_okx_gaps_are_recovered_exactly():
    asyncio.run(sequential_markets(["okx.spot", "okx.futures"]))


def test_okx_ids_older_than_the_history_are_reported_not_invented():
    """Ids the endpoint no longer has: a gap entirely before its history is unrecoverable, one across it partial."""

    async def go():
        key = "okx.spot"
        async with ExchangeSimulator(markets=[key], symbols=3, trades_per_second=50, seed=5, history_limit=20) as sim:
            context = ssl.create_default_context(cafile=str(sim.ca_file))
            rest = sim.endpoint(key)[1]
            async with aiohttp.ClientSession() as session:
                instrument = next(i for i in await fetch_instruments(BY_KEY[key], rest, session, ssl=context) if i.base == "C0001")

                def generated() -> list[dict]:
                    return [r for r in sim.generated_trades(key) if r["native"] == instrument.native]

                await eventually_async(lambda: len(generated()) >= 100, what="100 trades of the coin")
                sim.pause()
                ids = [r["trade_id"] for r in generated()]

                async def attempt(first: str, last: str):
                    gap = GapRow(0, 0, "okx", "spot", instrument.symbol, "id_jump", first, last, "open", 0)
                    return await backfill_gap(gap, instrument, rest, session, context)

                gone = await attempt(ids[0], ids[5])
                assert (gone.rows, gone.complete, gone.status, gone.error) == ([], False, "unrecoverable", "")
                across = await attempt(ids[0], ids[-1])
                kept = [row.trade_id for row in across.rows]
                assert (across.complete, across.status) == (False, "partial")
                assert 20 <= len(kept) < len(ids) and kept == ids[-len(kept):]

    asyncio.run(go())


def test_replies_are_read_by_parsing_the_frame():
    read = okx.EXCHANGE.read_reply
    assert read('{"event": "error", "code": "60018", "msg": "Wrong URL or channel:trades,instId:NOPE-USDT", "connId": "c"}').rejected
    assert not read('{"event": "subscribe", "arg": {"channel": "trades", "instId": "BTC-USDT"}, "connId": "c"}').rejected
    assert read("pong") is None  # cryptofeed's own ping is answered in plain text and handled by cryptofeed
