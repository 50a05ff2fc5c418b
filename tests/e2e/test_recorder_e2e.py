"""End to end: the real cryptofeed feeds for all 12 markets against the simulator, through config overrides alone.

Every trade the simulator sent is stored exactly once with the right normalized values: OKX, Gate
and KuCoin contracts converted, Phemex spot scaling fixed, Binance sides right, Phemex resends
deduplicated, multiplier instruments (1000PEPE) priced per coin.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from recorder.markets import MARKETS
from recorder.record import Recorder
from recorder.trade_row import table_to_rows
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import simulator_config
from tests.conftest import eventually_async, fresh_store, store_kinds
from tests.e2e.catch_up import recorder_caught_up


async def _record(tmp: Path, kind: str, sim_kwargs: dict, markets: list[str] | None, until) -> tuple[list[dict], list, Recorder]:
    with fresh_store(kind, tmp) as store:
        async with ExchangeSimulator(markets=markets, **sim_kwargs) as sim:
            upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
            await upbit.start()
            try:
                config = simulator_config(sim, upbit.base_url, tmp, markets)
                recorder = Recorder(config, store, [s for s in MARKETS if markets is None or s.key in markets])
                await recorder.start()
                try:
                    await until(sim, recorder)
                    sim.pause()
                    await recorder_caught_up(sim, recorder)
                finally:
                    await recorder.stop()
                sent = sim.sent_trades()
            finally:
                await upbit.stop()
        assert store.wait_visible(60)
        rows = []
        for coin in {t["base"] for t in sent} | {"BTC", "ETH", "PEPE"}:
            rows += table_to_rows(store.read_window(coin, 0, 2**62))
    return sent, rows, recorder


@pytest.mark.parametrize("kind", store_kinds())
def test_every_sent_trade_is_stored_once_with_normalized_values(tmp_path, kind):
    async def until(sim, recorder):
        def short() -> dict[str, int]:
            return {s.key: n for s in MARKETS if (n := len(sim.sent_trades(s.key))) < 40}

        await eventually_async(lambda: not short(), timeout=60, what=lambda: f"40 trades sent on every market; short: {short()}")

    sent, rows, recorder = asyncio.run(_record(tmp_path, kind, {"symbols": 4, "trades_per_second": 3, "seed": 7}, None, until))
    assert {(t["exchange"], t["market"]) for t in sent} == {(s.exchange, s.market) for s in MARKETS}
    # BTC and ETH are on Upbit KRW already: not recorded, and the simulator's trades of them are not expected
    expected = [t for t in sent if t["base"] not in ("BTC", "ETH")]
    stored = {}
    for row in rows:
        key = (row.exchange, row.market, row.symbol, row.trade_id)
        assert key not in stored, f"stored twice: {row}"
        stored[key] = row
    assert len(rows) == len(expected), (len(rows), len(expected))
    by_content = {}
    for row in rows:
        by_content.setdefault((row.exchange, row.market, row.symbol, row.side), []).append(row)
    for truth in expected:
        candidates = by_content.get((truth["exchange"], truth["market"], truth["symbol"], truth["side"]), [])
        match = [r for r in candidates
                 if abs(r.ts - truth["ts_ns"]) <= 1000  # exchange times reach the recorder as float seconds: µs precision
                 and math.isclose(r.price, float(truth["price"]), rel_tol=1e-9)
                 and math.isclose(r.amount, float(truth["amount"]), rel_tol=1e-9)
                 and (truth["trade_id"] is None or r.trade_id == truth["trade_id"])]
        assert match, f"not stored: {truth}; candidates {candidates}"
        assert match[0].base == truth["base"] and math.isclose(match[0].notional, match[0].price * match[0].amount)
    assert sum(sum(s.normalizer.rejected.values()) for s in recorder.states.values()) == 0
    assert recorder.writer.stats.rows_lost == 0


def test_three_thousand_symbols_on_one_market_are_all_subscribed_and_recorded(tmp_path):
    key = "gate.spot"

    async def until(sim, recorder):
        listed = {listing.native for listing in sim.instruments(key)} - {"BTC_USDT", "ETH_USDT"}
        await eventually_async(lambda: sim.subscribed(key) >= listed and len(sim.sent_trades(key)) >= 500, timeout=90,
                               what=lambda: f"{len(listed)} symbols subscribed (have {len(sim.subscribed(key))}) and 500 trades sent")
        report = recorder.states[key].feeds.report()
        assert report.subscribed == report.listed == len(listed) and not report.not_subscribed

    sent, rows, _ = asyncio.run(_record(tmp_path, "embedded", {"symbols": 3000, "trades_per_second": 0.1, "seed": 3}, [key], until))
    expected = [t for t in sent if t["base"] not in ("BTC", "ETH")]
    assert len({t["symbol"] for t in expected}) > 200
    assert len(rows) == len(expected)
    assert {(r.symbol, r.trade_id) for r in rows} == {(t["symbol"], t["trade_id"]) for t in expected}
