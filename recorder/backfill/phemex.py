"""Phemex spot `/md/trade` and USDT perpetual `/md/v2/trade`: the latest trades only, and no trade ids.

API: `{"error": null, "result": {"symbol", "trades" | "trades_p": [[ts_ns, side, price, size], ...]}}`,
newest first, the same rows the websocket snapshot carries on subscribe; no paging. Public market
data allows roughly 100 requests per minute per IP; one per second stays inside.

Live path (cryptofeed `Phemex._trade` / `_trade_p`): side `BUY if side == 'Buy' else SELL`, time
`ts / 1_000_000_000.0`; spot (v1) price `Decimal(priceEp) / Decimal(10**priceScale)` and amount the
raw scaled `Decimal(qtyEv)` (the instrument's factor unscales it), perps (v2) `Decimal` of the text.
The id is the normalizer's `synthetic_trade_id`; one REST answer counts as one frame, like the
snapshot, so identical trades in it are numbered as the live path numbers them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import BackfillError, Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument
from recorder.instruments.phemex import SPOT_PRICE_SCALE

RECENT = 1000
LIMIT = RateLimit("phemex.md", per_second=1.0, burst=5)
SPOT_SCALE = Decimal(10**SPOT_PRICE_SCALE)
ROWS_FIELD = {"spot": "trades", "futures": "trades_p"}


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"symbol": instrument.native}


def _items(payload: Any, field: str) -> list[Any]:
    if not isinstance(payload, dict) or payload.get("error") is not None:
        raise BackfillError(f"Phemex error: {str(payload)[:200]}")
    return listed(payload, "result", field)


def spot_items(payload: Any) -> list[Any]:
    return _items(payload, ROWS_FIELD["spot"])


def perp_items(payload: Any) -> list[Any]:
    return _items(payload, ROWS_FIELD["futures"])


def spot_entry(item: Any, instrument: Instrument) -> Entry:
    ts, side, price, amount = item
    return entry_of(Trade("PHEMEX", instrument.symbol, BUY if side == "Buy" else SELL, Decimal(amount),
                          Decimal(price) / SPOT_SCALE, ts / 1_000_000_000.0))


def perp_entry(item: Any, instrument: Instrument) -> Entry:
    ts, side, price, amount = item
    return entry_of(Trade("PHEMEX", instrument.symbol, BUY if side == "Buy" else SELL, Decimal(amount),
                          Decimal(price), ts / 1_000_000_000.0))


VENUES = (
    Venue("phemex", "spot", "/md/trade", RECENT, LIMIT, params, spot_items, spot_entry),
    Venue("phemex", "futures", "/md/v2/trade", RECENT, LIMIT, params, perp_items, perp_entry),
)
