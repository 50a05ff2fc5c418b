"""OKX spot and USDT linear swaps: instruments (ctVal), websocket replies, trade-id hint, REST backfill.

Instruments (`/api/v5/public/instruments?instType=SPOT|SWAP`): cryptofeed's `OKX._parse_symbol_data`
names spot `Symbol(baseCcy, quoteCcy)` and a swap `BASE-QUOTE-SWAP` as `Symbol(BASE, QUOTE,
PERPETUAL)`, skipping `state == preopen`. Its `_trade` emits `sz` unchanged: for swaps that is a
number of CONTRACTS, each worth `ctVal` (× `ctMult`) coins of `ctValCcy`, so
`amount_factor = ctVal × ctMult`.

Websocket: cryptofeed pings (`ping`/`pong` text) itself; a refused request:
`{"event": "error", "code": "60018", "msg": …}`. The `trades` channel aggregates: one message per
taker order, price and source, `tradeId` the LAST fill's id and `count` the fills, so live ids advance
by `count` (`id_hint` hands it to `GapDetector.feed` as `span`).

Backfill (`/api/v5/market/history-trades`): pages by `tradeId` (type 1), newest first, so id gaps are
exact. `after=<tradeId>` returns trades with ids below it, newest first, up to 100; no `after` gives
the latest. 20 requests per 2 s per IP for this endpoint, shared by spot and swap. History reaches
back about three months. Live path (cryptofeed `OKX._trade`): side `BUY if side == 'buy' else SELL`,
amount `Decimal(sz)` (contracts on swaps: the instrument's factor makes coins), price `Decimal(px)`,
time `int(ts) / 1000.0`, id `tradeId` as sent. REST lists single fills; the venue is marked
`aggregated` so they are merged back into the messages the live feed would have stored (fills of two
taker orders at the same millisecond, side and price cannot be told apart over REST and merge into one
trade: same total, one row fewer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import Exchange, Market, Reply, code_error
from recorder.instruments.common import (
    NOT_PERPETUAL,
    Endpoint,
    Malformed,
    ParseResult,
    Text,
    decode,
    entries,
    parse_entries,
    perpetual_instrument,
    positive,
    spot_instrument,
)
from recorder.instruments.model import Instrument

NAME = "okx"
INSTRUMENTS_PATH = "/api/v5/public/instruments"
DEFAULT_BASE = "https://www.okx.com"
LIST_FIELD = "data"
LIVE_STATE = "live"
SWAP = "SWAP"
LINEAR = "linear"
OK = "0"
TRADES_PATH = "/api/v5/market/history-trades"
PAGE_SIZE = 100
TRADES_LIMIT = RateLimit("okx.history-trades", per_second=7.0, burst=4)


class OkxSpot(msgspec.Struct):
    """A `SPOT` entry of public/instruments."""

    instId: Text
    instType: Text
    baseCcy: Text
    quoteCcy: Text
    state: Text


class OkxSwap(msgspec.Struct):
    """A `SWAP` entry of public/instruments; numbers come as text, `""` where they do not apply."""

    instId: Text
    instType: Text
    state: Text
    ctType: str = ""
    settleCcy: str = ""
    ctVal: str = ""
    ctMult: str = ""
    ctValCcy: str = ""


class OkxReply(Reply):
    """`event` is `subscribe` for an accepted request and `error` for a refused one."""

    event: str | None = None

    @property
    def rejected(self) -> bool:
        return self.event == "error"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    pair = decode(entry, OkxSpot)
    if pair.instType != "SPOT":
        raise Malformed("instType is not SPOT")
    return spot_instrument(NAME, pair.instId, pair.baseCcy, pair.quoteCcy, trading=pair.state == LIVE_STATE)


def _swap_entry(entry: Mapping[str, Any]) -> Instrument | str:
    swap = decode(entry, OkxSwap)
    parts = swap.instId.split("-")
    if swap.instType != SWAP or len(parts) != 3 or parts[2] != SWAP:
        return NOT_PERPETUAL
    base, quote, _ = parts

    def contract_size() -> Decimal:
        """Coins per contract: `ctVal` of `ctValCcy` (which must be the base), times `ctMult` when given."""
        if swap.ctValCcy and swap.ctValCcy.upper() != base.upper():
            raise Malformed(f"ctValCcy {swap.ctValCcy!r} is not the instrument's base {base!r}")
        return positive(swap.ctVal, "ctVal") * (positive(swap.ctMult, "ctMult") if swap.ctMult else Decimal(1))

    return perpetual_instrument(NAME, swap.instId, base, quote, linear=swap.ctType == LINEAR, settle=(swap.settleCcy,),
                                trading=swap.state == LIVE_STATE, contract_size=contract_size)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _swap_entry)


def trade_count(trade: Any) -> tuple[int, int | None]:
    """OKX's `trades` channel aggregates a taker order's fills at one price: the message stands for `count` ids."""
    raw = trade.raw
    return (int(raw.get("count") or 1) if isinstance(raw, dict) else 1), None


def rest_error(payload: Any) -> str | None:
    """`{"code": "51001", "msg": "Instrument ID does not exist", "data": []}`: any code but "0"."""
    return code_error(payload, ok=OK)


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    """Ids just below `before`, or the latest trades."""
    query = {"instId": instrument.native, "type": "1", "limit": str(size)}
    if before is not None:
        query["after"] = str(before)
        if floor is not None:
            query["limit"] = str(max(1, min(size, before - floor)))
    return query


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("OKX", instrument.symbol, BUY if item["side"] == "buy" else SELL, Decimal(item["sz"]),
                  Decimal(item["px"]), int(item["ts"]) / 1000.0, id=item["tradeId"])
    return entry_of(trade, int(item["tradeId"]), group=(item["ts"], item["side"], item["px"], item.get("source", "0")))


def _market(inst_type: str, parse: Callable[[Any], ParseResult], market: str) -> Market:
    return Market(Endpoint(INSTRUMENTS_PATH, (("instType", inst_type),), default_base=DEFAULT_BASE), parse,
                  Venue(NAME, market, TRADES_PATH, PAGE_SIZE, TRADES_LIMIT, params, (LIST_FIELD,), rest_error, entry, aggregated=True),
                  id_hint=trade_count)


EXCHANGE = Exchange(NAME, {"spot": _market("SPOT", parse_spot, "spot"), "futures": _market(SWAP, parse_futures, "futures")},
                    OkxReply, rest_error)
