"""Recover missed trades over REST, as rows identical to the live path's (see `base`).

`backfill_gap` picks the market's venue; `resolved` turns a gap plus an attempt into the updated
`GapRow` for the store. What each market can recover:

- exact by id: Binance spot and USDT-M (`aggTrades?fromId`; USDT-M is reported to answer only about
  the last two days), OKX spot and swap (`history-trades`, about three months, fills merged into the
  live feed's aggregated messages), Gate spot and USDT futures (`last_id`, while Gate keeps it);
- recent only (complete only while the gap is within the latest trades): Bybit spot (60) and linear
  (1000), KuCoin spot and futures (100), Phemex spot and perpetuals (the endpoint's latest).
"""

from __future__ import annotations

import ssl as ssl_module

import aiohttp

from recorder.backfill import binance, bybit, gate, kucoin, okx, phemex
from recorder.backfill.base import MAX_PAGES, SLACK_NS, BackfillResult, Venue, backfill
from recorder.instruments.model import Instrument
from recorder.store.base import GapRow

VENUES: dict[str, Venue] = {
    venue.key: venue for module in (binance, okx, gate, bybit, kucoin, phemex) for venue in module.VENUES
}
"""market key → its trade endpoint; the keys are exactly `recorder.markets.BY_KEY`'s."""

__all__ = ["VENUES", "BackfillResult", "backfill_gap", "resolved"]


async def backfill_gap(gap: GapRow, instrument: Instrument, rest_base: str, session: aiohttp.ClientSession,
                       ssl: ssl_module.SSLContext | None = None, *, slack_ns: int = SLACK_NS,
                       max_pages: int = MAX_PAGES) -> BackfillResult:
    """The trades `gap` is missing, fetched from `rest_base` (scheme://host[:port]) with the venue's rate limit.

    Never raises for what an exchange answers (failures land in `result.error`); raises ValueError
    when the gap, the instrument and the market do not belong together.
    """
    venue = VENUES.get(f"{gap.exchange}.{gap.market}")
    if venue is None:
        raise ValueError(f"no backfill for market {gap.exchange}.{gap.market}; known: {', '.join(VENUES)}")
    return await backfill(venue, gap, instrument, rest_base, session, ssl, slack_ns=slack_ns, max_pages=max_pages)


def resolved(gap: GapRow, result: BackfillResult) -> GapRow:
    """The gap row after an attempt: its status and how many rows came back (upserted over the open row)."""
    return gap._replace(status=result.status, recovered=len(result.rows))
