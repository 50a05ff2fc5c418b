"""Gate spot and USDT futures: a held-back run of trades is detected live and recovered exactly by id (last_id)."""

from __future__ import annotations

import asyncio

from tests.recorder.backfill.scenario import sequential_markets


def test_gate_gaps_are_recovered_exactly():
    asyncio.run(sequential_markets(["gate.spot", "gate.futures"]))
