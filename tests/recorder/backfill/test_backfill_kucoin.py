"""KuCoin spot and futures: the latest-100 endpoints return the held-back trades while recent; live ones come back identical."""

from __future__ import annotations

import asyncio

from tests.recorder.backfill.scenario import recent_markets


def test_kucoin_recent_gaps_are_recovered():
    asyncio.run(recent_markets(["kucoin.spot", "kucoin.futures"]))
