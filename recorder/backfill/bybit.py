"""Bybit spot and linear `recent-trade`: the latest trades only (spot 60, linear 1000), opaque ids.

API (docs v5): `/v5/market/recent-trade?category=spot|linear&symbol=&limit=`, newest first, inside
`{"retCode": 0, "result": {"list": [...]}}`; no paging, no time range. Public limit about 600
requests per 5 s per IP. A gap is recoverable only while it is among the latest trades.

Live path (cryptofeed `Bybit._trade`): side `BUY if S == 'Buy' else SELL`, amount `Decimal(v)`,
price `Decimal(p)`, time `T / 1000.0` (ms), id `i` (REST: `execId`, `size`, `price`, `side`, `time`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import BackfillError, Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument

PATH = "/v5/market/recent-trade"
LIMIT = RateLimit("bybit.public", per_second=10.0, burst=20)
CATEGORY = {"spot": "spot", "futures": "linear"}
RECENT = {"spot": 60, "futures": 1000}


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"category": CATEGORY[instrument.market], "symbol": instrument.native, "limit": str(size)}


def items(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and payload.get("retCode") != 0:
        raise BackfillError(f"Bybit error {payload.get('retCode')}: {payload.get('retMsg')}")
    return listed(payload, "result", "list")


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("BYBIT", instrument.symbol, BUY if item["side"] == "Buy" else SELL, Decimal(item["size"]),
                  Decimal(item["price"]), int(item["time"]) / 1000.0, id=item["execId"])
    return entry_of(trade)


VENUES = tuple(Venue("bybit", market, PATH, RECENT[market], LIMIT, params, items, entry) for market in ("spot", "futures"))
