"""OKX spot and swap: a held-back run of trades is detected live and recovered exactly by tradeId (history-trades)."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from recorder.backfill import backfill_gap
from recorder.instruments.fetch import fetch_instruments
from recorder.markets import BY_KEY
from recorder.store.base import GapRow
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async
from tests.recorder.backfill.scenario import sequential_markets


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
