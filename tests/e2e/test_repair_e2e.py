"""No trade lost: an id gap and a disconnect are repaired from REST to exactly the trades the exchange made."""

from __future__ import annotations

import asyncio

from recorder.markets import MARKETS
from recorder.record import Recorder
from recorder.store.embedded import EmbeddedStore
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import simulator_config
from tests.conftest import eventually_async
from tests.e2e.catch_up import recorder_caught_up

MARKET_KEYS = ["binance.spot", "okx.futures", "gate.spot"]


def test_id_gaps_and_a_disconnect_are_backfilled_to_the_exact_set_generated(tmp_path):
    async def scenario():
        async with ExchangeSimulator(markets=MARKET_KEYS, symbols=3, trades_per_second=5, seed=9) as sim:
            upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
            await upbit.start()
            store = EmbeddedStore(tmp_path / "s.sqlite")
            recorder = Recorder(simulator_config(sim, upbit.base_url, tmp_path, MARKET_KEYS), store,
                                [s for s in MARKETS if s.key in MARKET_KEYS])
            await recorder.start()
            try:
                await eventually_async(lambda: min(len(sim.sent_trades(k)) for k in MARKET_KEYS) >= 30,
                                       what="30 trades sent on every market")
                for key in MARKET_KEYS:
                    native = next(x.native for x in sim.instruments(key) if x.base == "C0001")
                    sim.skip_trades(key, native, 4)
                await sim.disconnect("okx.futures", refuse_for=2.0)
                await eventually_async(lambda: recorder.repairer.stats.backfilled >= len(MARKET_KEYS), timeout=60,
                                       what=lambda: f"a backfill per market (have {recorder.repairer.stats.backfilled})")
                sim.pause()
                await recorder_caught_up(sim, recorder)
                await eventually_async(recorder.repairer.idle, timeout=60, what="the repairer to finish every gap")
                await recorder.settle()
            finally:
                await recorder.stop()
                await upbit.stop()
            generated = [t for k in MARKET_KEYS for t in sim.generated_trades(k) if t["base"] not in ("BTC", "ETH")]
            sent_ids: dict[tuple, list[int]] = {}
            for t in (t for k in MARKET_KEYS for t in sim.sent_trades(k)):
                sent_ids.setdefault((t["exchange"], t["market"], t["symbol"]), []).append(int(t["trade_id"]))
            # a missed trade is provable between the first trade received and the last: that span is the truth
            span = {key: (min(ids), max(ids)) for key, ids in sent_ids.items()}
            revealed = [t for t in generated
                        if span.get((t["exchange"], t["market"], t["symbol"]), (1, 0))[0] <= int(t["trade_id"])
                        <= span.get((t["exchange"], t["market"], t["symbol"]), (1, 0))[1]]
            return generated, revealed, store, recorder

    generated, revealed, store, recorder = asyncio.run(scenario())
    stored = set()
    for coin in {t["base"] for t in generated}:
        table = store.read_window(coin, 0, 2**62)
        rows = list(zip(table.column("exchange").to_pylist(), table.column("market").to_pylist(),
                        table.column("symbol").to_pylist(), table.column("trade_id").to_pylist(), strict=True))
        assert len(rows) == len(set(rows)), "duplicates"
        stored |= set(rows)
    def keys(trades):
        return {(t["exchange"], t["market"], t["symbol"], t["trade_id"]) for t in trades}

    assert recorder.repairer.stats.backfilled >= len(MARKET_KEYS)
    assert keys(revealed) <= stored, f"lost {sorted(keys(revealed) - stored)[:5]}"
    assert stored <= keys(generated), f"not made by the exchange: {sorted(stored - keys(generated))[:5]}"
    assert {g.status for g in store.read_gaps(0, 2**62) if g.kind == "id_jump"} == {"backfilled"}
