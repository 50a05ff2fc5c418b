"""Gate spot and USDT futures trades: page back by `last_id`, newest first, so id gaps are exact.

Which id is sequential differs. Spot: the websocket's `id` (cryptofeed's trade id, so the dedup key)
is the ALL-market trade id, growing across every pair, while `id_market` counts up by one per pair;
REST returns both as `id` and `sequence_id` and pages by `id`. So spot gaps are in `id_market` /
`sequence_id` terms (feed `id_market` to `GapDetector.feed` as `seq`), walks start at the newest
trade and page by `id`, and rows keep `id` as their trade id. Futures: `id` (per contract, as far
as known) is both.

API (docs v4): spot `/api/v4/spot/trades?currency_pair=&last_id=&reverse=true` returns ids below
`last_id` ("trace back"), up to 1000; futures `/api/v4/futures/usdt/trades?contract=&last_id=` pages
back from `last_id` (the docs call `last_id` deprecated in favour of `from`/`to`; if Gate drops it,
these walks stop making progress and say so). Without `last_id`, the latest trades. Public
endpoints allow about 200 requests per 10 s per IP.

Live path: spot (cryptofeed `Gate._trades`) side `SELL if side == 'sell' else BUY`, amount
`Decimal(amount)`, price `Decimal(price)`, time `float(create_time_ms) / 1000` (a string with a
fractional millisecond), id `str(id)`. Futures (`GateFutures._trades`) size in contracts signed by
taker side: side `SELL if size < 0 else BUY`, amount `Decimal(abs(size))`, time
`float(create_time_ms / 1000)`; a size of 0 (below one contract) is dropped by the feed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import BackfillError, Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument
from recorder.normalize import to_ns

PAGE_SIZE = 1000
SPOT_LIMIT = RateLimit("gate.spot", per_second=10.0, burst=20)
FUTURES_LIMIT = RateLimit("gate.futures", per_second=10.0, burst=20)


def _size(size: int, before: int | None, floor: int | None) -> str:
    return str(max(1, min(size, before - floor)) if before is not None and floor is not None else size)


def spot_params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    query = {"currency_pair": instrument.native, "limit": _size(size, before, floor)}
    if before is not None:
        query.update(last_id=str(before), reverse="true")
    return query


def futures_params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    query = {"contract": instrument.native, "limit": _size(size, before, floor)}
    if before is not None:
        query["last_id"] = str(before)
    return query


def items(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "label" in payload:
        raise BackfillError(f"Gate error {payload.get('label')}: {payload.get('message')}")
    return listed(payload)


def spot_entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("GATE", instrument.symbol, SELL if item["side"] == "sell" else BUY, Decimal(item["amount"]),
                  Decimal(item["price"]), float(item["create_time_ms"]) / 1000, id=str(item["id"]))
    return entry_of(trade, int(item["sequence_id"]), cursor=int(item["id"]))


def futures_entry(item: Any, instrument: Instrument) -> Entry:
    size = item["size"]
    timestamp = float(item["create_time_ms"] / 1000)
    if not size:
        return Entry(int(item["id"]), to_ns(timestamp), None, "size 0 (dropped live too)")
    trade = Trade("GATE_FUTURES", instrument.symbol, SELL if size < 0 else BUY, Decimal(abs(size)),
                  Decimal(item["price"]), timestamp, id=str(item["id"]))
    return entry_of(trade, int(item["id"]))


VENUES = (
    Venue("gate", "spot", "/api/v4/spot/trades", PAGE_SIZE, SPOT_LIMIT, spot_params, items, spot_entry,
          pages_by_seq=False),
    Venue("gate", "futures", "/api/v4/futures/usdt/trades", PAGE_SIZE, FUTURES_LIMIT, futures_params, items,
          futures_entry),
)
