"""Bybit spot and USDT linear perpetuals: instruments, cryptofeed's spot naming, keepalive, REST backfill.

Instruments (`/v5/market/instruments-info?category=spot|linear`, cursor-paginated): cryptofeed's
`Bybit._parse_symbol_data` names spot `Symbol(baseCoin, quoteCoin)` (its own exchange symbol
`BASE/QUOTE`, because spot and linear share names like `TIAUSDT`) and linear perpetuals
`Symbol(baseCoin, quoteCoin, PERPETUAL)`. It asks for `limit=1000` and never follows
`nextPageCursor`; `recorder.instruments.fetch` does. `_trade` emits `v` (base coin) and `p` unchanged.

Websocket: cryptofeed sends no ping and Bybit closes a socket that stays silent, so a keepalive
`{"op": "ping"}` is added; its answer (`{"success": true, "ret_msg": "pong", "op": "ping"}`, or
`"op": "pong"` on linear) is dropped before cryptofeed. A refused subscription:
`{"success": false, "ret_msg": "Invalid symbol …", "op": "subscribe"}`. cryptofeed turns a spot
trade's `TIAUSDT` into its `TIA/USDT` key with a regex over a fixed list of quotes (bybit.py:83-88):
a pair with another quote cannot be subscribed, and is reported as such (`unsubscribable`).

Backfill (`/v5/market/recent-trade?category=spot|linear&symbol=&limit=`): the latest trades only
(spot 60, linear 1000), newest first, inside `{"retCode": 0, "result": {"list": [...]}}`; no paging,
no time range, opaque ids. Public limit about 600 requests per 5 s per IP. A gap is recoverable only
while it is among the latest trades. Live path (cryptofeed `Bybit._trade`): side `BUY if S == 'Buy'
else SELL`, amount `Decimal(v)`, price `Decimal(p)`, time `T / 1000.0` (ms), id `i` (REST: `execId`,
`size`, `price`, `side`, `time`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import Exchange, Keepalive, Market, Reply, code_error
from recorder.instruments.common import (
    Endpoint,
    ParseResult,
    Text,
    decode,
    entries,
    parse_entries,
    perpetual_instrument,
    spot_instrument,
)
from recorder.instruments.model import Instrument

NAME = "bybit"
INSTRUMENTS_PATH = "/v5/market/instruments-info"
DEFAULT_BASE = "https://api.bybit.com"
LIST_PATH = ("result", "list")
NEXT_CURSOR = "result.nextPageCursor"
TRADING_STATUS = "Trading"
PERPETUAL_CONTRACT_TYPE = "LinearPerpetual"
TRADES_PATH = "/v5/market/recent-trade"
TRADES_LIMIT = RateLimit("bybit.public", per_second=10.0, burst=20)
CATEGORY = {"spot": "spot", "futures": "linear"}
RECENT = {"spot": 60, "futures": 1000}
KEEPALIVE = Keepalive(20.0, lambda: json.dumps({"op": "ping"}))
SPOT_QUOTES = re.compile(r"(USDT|USDC|EUR|BTC|ETH|DAI|BRZ)$")
"""bybit.py:83-88: how cryptofeed turns a Bybit spot trade's `TIAUSDT` into its `TIA/USDT` key."""


class BybitInstrument(msgspec.Struct):
    """An entry of instruments-info's `result.list` (spot and linear share the fields read here)."""

    symbol: Text
    baseCoin: Text
    quoteCoin: Text
    status: Text
    contractType: str | None = None
    settleCoin: str | None = None


class BybitReply(Reply):
    """`success` answers a request (false: refused); `op` is `ping`/`pong` on the answer to our keepalive."""

    success: bool | None = None
    op: str | None = None

    @property
    def rejected(self) -> bool:
        return self.success is False

    @property
    def pong(self) -> bool:
        return self.op in ("ping", "pong")


def _pages(payload: Any) -> list[Any]:
    """One response or the list of cursor pages `fetch.py` collected."""
    pages = payload if isinstance(payload, list) else [payload]
    items: list[Any] = []
    for page in pages:
        items.extend(entries(page, *LIST_PATH))
    return items


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    pair = decode(entry, BybitInstrument)
    return spot_instrument(NAME, pair.symbol, pair.baseCoin, pair.quoteCoin, trading=pair.status == TRADING_STATUS)


def _linear_entry(entry: Mapping[str, Any]) -> Instrument | str:
    contract = decode(entry, BybitInstrument)
    return perpetual_instrument(NAME, contract.symbol, contract.baseCoin, contract.quoteCoin,
                                perpetual=contract.contractType == PERPETUAL_CONTRACT_TYPE, settle=(contract.settleCoin,),
                                trading=contract.status == TRADING_STATUS)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(_pages(payload), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(_pages(payload), _linear_entry)


def spot_key(instrument: Instrument) -> str:
    """cryptofeed keys a Bybit spot pair `BASE/QUOTE` (spot and linear share exchange ids like `TIAUSDT`)."""
    base, _, quote = instrument.symbol.rpartition("-")
    return f"{base}/{quote}"


def spot_unsubscribable(instrument: Instrument) -> str | None:
    """A spot pair whose quote cryptofeed's trade parser does not know would never deliver a trade."""
    key = spot_key(instrument)
    if SPOT_QUOTES.sub(r"/\1", instrument.native) != key:
        return f"cryptofeed's Bybit spot trade parser cannot map {instrument.native} back to {key} (quote not recognised)"
    return None


def rest_error(payload: Any) -> str | None:
    """`{"retCode": 10001, "retMsg": "params error"}`: anything but retCode 0 is an error."""
    return code_error(payload, ok="0", code="retCode", message="retMsg")


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"category": CATEGORY[instrument.market], "symbol": instrument.native, "limit": str(size)}


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("BYBIT", instrument.symbol, BUY if item["side"] == "Buy" else SELL, Decimal(item["size"]),
                  Decimal(item["price"]), int(item["time"]) / 1000.0, id=item["execId"])
    return entry_of(trade)


def _venue(market: str) -> Venue:
    return Venue(NAME, market, TRADES_PATH, RECENT[market], TRADES_LIMIT, params, LIST_PATH, rest_error, entry)


EXCHANGE = Exchange(
    NAME,
    {
        "spot": Market(Endpoint(INSTRUMENTS_PATH, (("category", "spot"),), cursor_field=NEXT_CURSOR, default_base=DEFAULT_BASE),
                       parse_spot, _venue("spot"), KEEPALIVE, cryptofeed_symbol=spot_key, unsubscribable=spot_unsubscribable),
        "futures": Market(Endpoint(INSTRUMENTS_PATH, (("category", "linear"), ("limit", "1000")), cursor_field=NEXT_CURSOR,
                                   default_base=DEFAULT_BASE),
                          parse_futures, _venue("futures"), KEEPALIVE),
    },
    BybitReply,
    rest_error,
)
