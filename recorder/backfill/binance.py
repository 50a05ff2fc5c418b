"""Binance spot and USDT-M aggTrades: `fromId` pages forward from an exact id, so id gaps are exact.

Live path (cryptofeed `Binance._trade`): side `SELL if m else BUY`, amount `Decimal(q)`, price
`Decimal(p)`, time `T / 1000.0`, id `str(a)`. REST `/api/v3/aggTrades` and `/fapi/v1/aggTrades`
return the same fields, oldest first; without `fromId`, the latest trades. Weights: a few units per
request on spot (of 6000 per minute), 20 on futures (of 2400 per minute); the budgets stay inside.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument

PAGE_SIZE = 1000
SPOT_LIMIT = RateLimit("binance.api", per_second=10.0, burst=20)
FUTURES_LIMIT = RateLimit("binance.fapi", per_second=1.5, burst=5)


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    """The page of ids just below `before` (no lower than `floor`), or the latest trades."""
    if before is None:
        return {"symbol": instrument.native, "limit": str(size)}
    start = max(0, before - size, floor or 0)
    return {"symbol": instrument.native, "fromId": str(start), "limit": str(max(1, min(size, before - start)))}


def items(payload: Any) -> list[Any]:
    return listed(payload)


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("BINANCE", instrument.symbol, SELL if item["m"] else BUY, Decimal(item["q"]), Decimal(item["p"]),
                  item["T"] / 1000.0, id=str(item["a"]))
    return entry_of(trade, int(item["a"]))


VENUES = (
    Venue("binance", "spot", "/api/v3/aggTrades", PAGE_SIZE, SPOT_LIMIT, params, items, entry),
    Venue("binance", "futures", "/fapi/v1/aggTrades", PAGE_SIZE, FUTURES_LIMIT, params, items, entry),
)
