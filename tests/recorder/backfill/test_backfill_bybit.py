"""Bybit spot and linear: recent-trade returns the held-back trades while they are recent; live ones come back identical."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from recorder.backfill import backfill_gap, bybit, resolved
from recorder.instruments.fetch import fetch_instruments
from recorder.markets import BY_KEY
from recorder.store.base import GapRow
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async
from tests.recorder.backfill.scenario import recent_markets


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
