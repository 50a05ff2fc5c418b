"""Phemex spot and perpetuals: the recent-trades endpoints return the held-back trades with the live path's synthetic ids."""

from __future__ import annotations

import asyncio

from tests.recorder.backfill.scenario import recent_markets


def test_phemex_recent_gaps_are_recovered():
    asyncio.run(recent_markets(["phemex.spot", "phemex.futures"]))
