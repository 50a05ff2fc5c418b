"""OKX spot and swap `history-trades`: pages by `tradeId` (type 1), newest first, so id gaps are exact.

API (docs v5): `after=<tradeId>` returns trades with ids below it, newest first, up to 100; no
`after` gives the latest. 20 requests per 2 s per IP for this endpoint, shared by spot and swap.
History reaches back about three months.

Live path (cryptofeed `OKX._trade`): side `BUY if side == 'buy' else SELL`, amount `Decimal(sz)`
(contracts on swaps: the instrument's factor makes coins), price `Decimal(px)`, time
`int(ts) / 1000.0`, id `tradeId` as sent. The `trades` channel cryptofeed subscribes to aggregates:
one message per taker order, price and source, `tradeId` the LAST fill's id and `count` the fills,
so live ids advance by `count` (feed it to `GapDetector.feed` as `span`). REST lists single fills;
the venue is marked `aggregated` so they are merged back into the messages the live feed would
have stored (fills of two taker orders at the same millisecond, side and price cannot be told
apart over REST and merge into one trade: same total, one row fewer).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import BackfillError, Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument

PATH = "/api/v5/market/history-trades"
PAGE_SIZE = 100
LIMIT = RateLimit("okx.history-trades", per_second=7.0, burst=4)
OK = "0"


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    """Ids just below `before`, or the latest trades."""
    query = {"instId": instrument.native, "type": "1", "limit": str(size)}
    if before is not None:
        query["after"] = str(before)
        if floor is not None:
            query["limit"] = str(max(1, min(size, before - floor)))
    return query


def items(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and str(payload.get("code", OK)) != OK:
        raise BackfillError(f"OKX error {payload.get('code')}: {payload.get('msg')}")
    return listed(payload, "data")


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("OKX", instrument.symbol, BUY if item["side"] == "buy" else SELL, Decimal(item["sz"]),
                  Decimal(item["px"]), int(item["ts"]) / 1000.0, id=item["tradeId"])
    return entry_of(trade, int(item["tradeId"]), group=(item["ts"], item["side"], item["px"], item.get("source", "0")))


VENUES = (
    Venue("okx", "spot", PATH, PAGE_SIZE, LIMIT, params, items, entry, aggregated=True),
    Venue("okx", "futures", PATH, PAGE_SIZE, LIMIT, params, items, entry, aggregated=True),
)
