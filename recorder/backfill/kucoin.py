"""KuCoin spot `market/histories` and futures `trade/history`: the latest 100 trades only, opaque ids.

API: spot `/api/v1/market/histories?symbol=` (`sequence`, `price`, `size`, `side`, `time` in ns),
futures `/api/v1/trade/history?symbol=` (`tradeId`, `price`, `size` in lots, `side`, `ts` in ns),
both inside `{"code": "200000", "data": [...]}`, no paging. Public limits are weight based; a few
requests per second is well inside.

Live path (cryptofeed `KuCoin._trades`, the push protocol): side `BUY if S.lower() == 'buy' else
SELL`, amount `Decimal(q)` (futures: lots, the instrument's factor makes coins), price
`Decimal(p)`, time `M / 1_000_000_000`, id `str(ti)`. Which REST field equals the pushed `ti` is
taken from the simulator (spot `sequence`, futures `tradeId`) and not verified against the live API:
if it differs, a backfilled trade also received live is stored twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import BackfillError, Entry, RateLimit, Venue, entry_of, listed
from recorder.instruments.model import Instrument

RECENT = 100
OK = "200000"
SPOT_LIMIT = RateLimit("kucoin.spot", per_second=5.0, burst=10)
FUTURES_LIMIT = RateLimit("kucoin.futures", per_second=5.0, burst=10)
ID_FIELD = {"spot": "sequence", "futures": "tradeId"}
TIME_FIELD = {"spot": "time", "futures": "ts"}


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"symbol": instrument.native}


def items(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and str(payload.get("code")) != OK:
        raise BackfillError(f"KuCoin error {payload.get('code')}: {payload.get('msg')}")
    return listed(payload, "data")


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("KUCOIN", instrument.symbol, BUY if item["side"].lower() == "buy" else SELL, Decimal(item["size"]),
                  Decimal(item["price"]), item[TIME_FIELD[instrument.market]] / 1_000_000_000,
                  id=str(item[ID_FIELD[instrument.market]]))
    return entry_of(trade)


VENUES = (
    Venue("kucoin", "spot", "/api/v1/market/histories", RECENT, SPOT_LIMIT, params, items, entry),
    Venue("kucoin", "futures", "/api/v1/trade/history", RECENT, FUTURES_LIMIT, params, items, entry),
)
