"""Recover missed trades over REST, as rows identical to the live path's (see `base`).

`backfill_gap` picks the market's venue from its exchange module (`recorder.exchanges`); `resolved`
turns a gap plus an attempt into the updated `GapRow` for the store. The registry is imported as a
module and read at call time: the exchange modules import `recorder.backfill.base`, so either package
may be the one being initialised when the other is imported. What each market can recover:

- exact by id: Binance spot and USDT-M (`aggTrades?fromId`; USDT-M is reported to answer only about
  the last two days), OKX spot and swap (`history-trades`, about three months, fills merged into the
  live feed's aggregated messages), Gate spot and USDT futures (`last_id`, while Gate keeps it);
- recent only (complete only while the gap is within the latest trades): Bybit spot (60) and linear
  (1000), KuCoin spot and futures (100), Phemex spot and perpetuals (the endpoint's latest).
"""

from __future__ import annotations

import ssl as ssl_module

import aiohttp

from recorder import exchanges
from recorder.backfill.base import MAX_PAGES, SLACK_NS, BackfillResult, backfill
from recorder.instruments.model import Instrument
from recorder.store.base import GapRow

__all__ = ["BackfillResult", "backfill_gap", "resolved"]


async def backfill_gap(gap: GapRow, instrument: Instrument, rest_base: str, session: aiohttp.ClientSession,
                       ssl: ssl_module.SSLContext | None = None, *, slack_ns: int = SLACK_NS,
                       max_pages: int = MAX_PAGES) -> BackfillResult:
    """The trades `gap` is missing, fetched from `rest_base` (scheme://host[:port]) with the venue's rate limit.

    Never raises for what an exchange answers (failures land in `result.error`); raises ValueError
    when the gap, the instrument and the market do not belong together.
    """
    try:
        venue = exchanges.market_hooks(gap.exchange, gap.market).backfill
    except KeyError as exc:
        raise ValueError(f"no backfill: {exc.args[0]}") from None
    return await backfill(venue, gap, instrument, rest_base, session, ssl, slack_ns=slack_ns, max_pages=max_pages)


def resolved(gap: GapRow, result: BackfillResult) -> GapRow:
    """The gap row after an attempt: its status and how many rows came back (upserted over the open row)."""
    return gap._replace(status=result.status, recovered=len(result.rows))
