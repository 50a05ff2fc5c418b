"""One gap to its venue's backfill, and the gap row that records the attempt."""


from __future__ import annotations

import ssl as ssl_module

import aiohttp

from recorder import exchanges
from recorder.backfill.base import MAX_PAGES, SLACK_NS, BackfillResult, backfill
from recorder.instruments.model import Instrument
from recorder.store.base import GapRow


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
