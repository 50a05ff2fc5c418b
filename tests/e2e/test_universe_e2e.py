"""A coin that leaves the universe while the recorder runs is unsubscribed live; the other coins never pause."""

from __future__ import annotations

import asyncio

from recorder.markets import MARKETS
from recorder.record import Recorder
from recorder.store.embedded import EmbeddedStore
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import simulator_config
from tests.conftest import eventually_async

MARKET_KEYS = ["binance.spot", "okx.futures"]
LEAVING = "C0001"


def test_a_coin_listed_on_upbit_krw_is_unsubscribed_live_without_a_gap_for_the_others(tmp_path):
    async def scenario():
        async with ExchangeSimulator(markets=MARKET_KEYS, symbols=3, trades_per_second=4, seed=13) as sim:
            upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
            await upbit.start()
            store = EmbeddedStore(tmp_path / "s.sqlite")
            config = simulator_config(sim, upbit.base_url, tmp_path, MARKET_KEYS, recorder={"listed_tail": "0s"})
            recorder = Recorder(config, store, [s for s in MARKETS if s.key in MARKET_KEYS])
            await recorder.start()
            try:
                natives = {key: {x.native for x in sim.instruments(key) if x.base == LEAVING} for key in MARKET_KEYS}
                await eventually_async(lambda: all(natives[k] <= sim.subscribed(k) for k in MARKET_KEYS), what="the coin subscribed")
                upbit.set_krw_markets(["BTC", "ETH", LEAVING])
                await recorder.refresh_universe()
                gone = {key: not (natives[key] & sim.subscribed(key)) for key in MARKET_KEYS}
                carried = {key: recorder.states[key].feeds.carried for key in MARKET_KEYS}
                awaiting = {key: recorder.states[key].feeds.awaiting for key in MARKET_KEYS}
                counts = {key: recorder.states[key].trades for key in MARKET_KEYS}
                await eventually_async(lambda: all(recorder.states[k].trades > counts[k] + 10 for k in MARKET_KEYS),
                                       what="trades of the other coins after the change")
                await recorder.settle()
            finally:
                await recorder.stop()
                await upbit.stop()
            return gone, carried, awaiting

    gone, carried, awaiting = asyncio.run(scenario())
    assert gone == dict.fromkeys(MARKET_KEYS, True), "the simulator still streams the coin"
    for key in MARKET_KEYS:
        assert carried[key] and not any(symbol.startswith(LEAVING + "-") for symbol in carried[key])
    assert awaiting == {key: set() for key in MARKET_KEYS}
    store = EmbeddedStore(tmp_path / "s.sqlite")
    assert [g for g in store.read_gaps(0, 2**62) if g.kind == "disconnect"] == [], "moving the other coins made a gap"
