"""Binance spot and USDT-M: a held-back run of aggTrades is detected live and recovered exactly by id."""

from __future__ import annotations

import asyncio

from tests.recorder.backfill.scenario import sequential_markets


def test_binance_gaps_are_recovered_exactly():
    asyncio.run(sequential_markets(["binance.spot", "binance.futures"]))
