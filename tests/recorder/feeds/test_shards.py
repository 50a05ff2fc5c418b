"""Shard planning: every symbol exactly once, within every per-connection and per-instance limit."""

from __future__ import annotations

from recorder.feeds.shards import plan_shards
from recorder.markets import market


def _names(n: int, prefix: str = "C") -> list[str]:
    return [f"{prefix}{i:05d}-USDT" for i in range(n)]

def test_3000_symbols_are_all_assigned_exactly_once():
    symbols = _names(3000)
    plan = plan_shards(market("gate", "spot"), symbols, 100)
    assigned = [s for feed in plan for conn in feed for s in conn]
    assert sorted(assigned) == sorted(symbols) and len(plan) == 30 and all(len(feed) == 1 for feed in plan)
    binance = plan_shards(market("binance", "spot"), symbols, None)
    assert [len(f[0]) for f in binance] == [1024, 1024, 952]

def test_kucoin_450_symbols_need_3_instances():
    plan = plan_shards(market("kucoin", "spot"), _names(450), None)
    assert [sum(map(len, feed)) for feed in plan] == [200, 200, 50]
    assert len(plan_shards(market("kucoin", "futures"), _names(450), 100)) == 5

def test_phemex_250_symbols_need_3_instances_of_connections_up_to_20():
    plan = plan_shards(market("phemex", "futures"), _names(250), 100)
    assert len(plan) == 3
    assert [sum(map(len, feed)) for feed in plan] == [100, 100, 50]
    assert all(len(conn) <= 20 for feed in plan for conn in feed)
    assert sum(len(feed) for feed in plan) == 13
