"""Resilience through the simulator: a malformed-frame storm and a 30-second store outage lose nothing."""

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

OUTAGE_S = 30.0


class SwitchableStore(EmbeddedStore):
    """An embedded store that can become unreachable, like a QuestDB server going away."""

    down = False

    def write_trades(self, rows):
        if self.down:
            raise ConnectionError("store unreachable")
        super().write_trades(rows)


def _stored_ids(store, coins) -> list[tuple]:
    ids = []
    for coin in coins:
        table = store.read_window(coin, 0, 2**62)
        ids += zip(table.column("exchange").to_pylist(), table.column("market").to_pylist(), table.column("symbol").to_pylist(),
                   table.column("trade_id").to_pylist(), strict=True)
    return ids


async def _scenario(tmp, markets, body, sim_kwargs):
    async with ExchangeSimulator(markets=markets, **sim_kwargs) as sim:
        upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
        await upbit.start()
        store = SwitchableStore(tmp / "s.sqlite")
        config = simulator_config(sim, upbit.base_url, tmp, markets, recorder={"flush_rows": 200})
        recorder = Recorder(config, store, [s for s in MARKETS if s.key in markets])
        await recorder.start()
        try:
            await body(sim, recorder, store)
            sim.pause()
            await recorder_caught_up(sim, recorder)
        finally:
            await recorder.stop(timeout=60)
            await upbit.stop()
        sent = [t for key in markets for t in sim.sent_trades(key) if t["base"] not in ("BTC", "ETH")]
    return sent, store, recorder


async def _until_sent(sim, key, count, timeout=60.0):
    await eventually_async(lambda: len(sim.sent_trades(key)) >= count, timeout=timeout,
                           what=lambda: f"{count} trades sent on {key} (sent {len(sim.sent_trades(key))})")


def _noticed(recorder) -> int:
    """Malformed trades the normalizer rejected plus frames the feeds skipped."""
    return sum(sum(s.normalizer.rejected.values()) + sum(s.feeds.message_errors.values()) for s in recorder.states.values())


def test_malformed_frame_storm_leaves_the_recorder_running_with_every_good_trade(tmp_path):
    markets = [s.key for s in MARKETS]

    async def body(sim, recorder, store):
        await _until_sent(sim, "okx.spot", 20)
        for key in markets:
            sim.inject_malformed(key, 30)
        await eventually_async(lambda: _noticed(recorder), what="the storm to reach the recorder")
        before = {key: len(sim.sent_trades(key)) for key in markets}
        for key in markets:
            await _until_sent(sim, key, before[key] + 15)

    sent, store, recorder = asyncio.run(_scenario(tmp_path, markets, body, {"symbols": 3, "trades_per_second": 4, "seed": 11}))
    stored = _stored_ids(store, {t["base"] for t in sent})
    assert len(stored) == len(set(stored)), "duplicates stored"
    assert len(stored) == len(sent)
    assert _noticed(recorder) > 0, "the storm was not noticed"
    assert all(s.trades > 0 for s in recorder.states.values())


def test_a_30_second_store_outage_loses_nothing_and_duplicates_nothing(tmp_path):
    markets = ["binance.spot", "gate.futures"]

    async def body(sim, recorder, store):
        await _until_sent(sim, "binance.spot", 30)
        store.down = True
        outage_ends = asyncio.get_running_loop().time() + OUTAGE_S
        await eventually_async(lambda: not recorder.writer.stats.store_ok and len(recorder.writer.spool) > 0,
                               what="the writer to notice the outage and spool")
        await asyncio.sleep(max(0.0, outage_ends - asyncio.get_running_loop().time()))  # the scenario: the outage lasts 30 s
        store.down = False
        before = len(sim.sent_trades("binance.spot"))
        await _until_sent(sim, "binance.spot", before + 30)

    sent, store, recorder = asyncio.run(_scenario(tmp_path, markets, body, {"symbols": 4, "trades_per_second": 5, "seed": 5}))
    stored = _stored_ids(store, {t["base"] for t in sent})
    assert len(stored) == len(set(stored)) == len(sent)
    assert recorder.writer.stats.batches_spooled > 0 and recorder.writer.stats.rows_lost == 0
    assert len(recorder.writer.spool) == 0
