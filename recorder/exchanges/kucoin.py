"""KuCoin spot and USDT-margined perpetuals: instruments (lots, XBT), cryptofeed's contract sizes, replies, backfill.

Instruments (`/api/v1/symbols`, futures `/api/v1/contracts/active`): cryptofeed's
`KuCoin._parse_symbol_data` names spot `Symbol(baseCurrency, quoteCurrency)` for `enableTrading`;
`KuCoinFutures` names `FFWCSX` contracts `Symbol(base, quote, PERPETUAL)` after
`str.replace('XBT', 'BTC')` (substring: a bug for any ticker containing XBT; here only the whole
token is replaced) and keeps `multiplier` as `contract_size`, which it reads while running, so
`symbol_info` installs it. Both `_trades` emit `q` unchanged: base coin on spot, LOTS on futures (one
lot = `multiplier` coins), so `amount_factor = multiplier`.

Websocket: cryptofeed 3.0.1 connects straight to `wss://x-push-spot.kucoin.com` / `x-push-futures`
(kucoin.py:30; no bullet token) and pings itself. A refused request: `{"id", "result": false,
"message"}`, or `{"type": "error", …}` for a frame it could not read.

Backfill: spot `/api/v1/market/histories?symbol=` (`sequence`, `price`, `size`, `side`, `time` in
ns), futures `/api/v1/trade/history?symbol=` (`tradeId`, `price`, `size` in lots, `side`, `ts` in
ns), both inside `{"code": "200000", "data": [...]}`: the latest 100 trades only, no paging, opaque
ids. Public limits are weight based; a few requests per second is well inside. Live path (cryptofeed
`KuCoin._trades`, the push protocol): side `BUY if S.lower() == 'buy' else SELL`, amount `Decimal(q)`
(futures: lots, the instrument's factor makes coins), price `Decimal(p)`, time `M / 1_000_000_000`, id
`str(ti)`. Which REST field equals the pushed `ti` is taken from the simulator (spot `sequence`,
futures `tradeId`) and not verified against the live API: if it differs, a backfilled trade also
received live is stored twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import Exchange, Market, Reply, code_error
from recorder.instruments.common import (
    Endpoint,
    ParseResult,
    Text,
    decode,
    entries,
    parse_entries,
    perp_symbol,
    perpetual_instrument,
    positive,
    spot_instrument,
    xbt_to_btc,
)
from recorder.instruments.model import Instrument

NAME = "kucoin"
LIST_FIELD = "data"
PERPETUAL_TYPE = "FFWCSX"
OPEN_STATUS = "Open"
OK = "200000"
RECENT = 100
SPOT_LIMIT = RateLimit("kucoin.spot", per_second=5.0, burst=10)
FUTURES_LIMIT = RateLimit("kucoin.futures", per_second=5.0, burst=10)
ID_FIELD = {"spot": "sequence", "futures": "tradeId"}
TIME_FIELD = {"spot": "time", "futures": "ts"}


class KucoinSymbol(msgspec.Struct):
    """An entry of `/api/v1/symbols`."""

    symbol: Text
    baseCurrency: Text
    quoteCurrency: Text
    enableTrading: bool


class KucoinContract(msgspec.Struct):
    """An entry of `/api/v1/contracts/active`; `multiplier` is coins per lot (negative on inverse contracts)."""

    symbol: Text
    baseCurrency: Text
    quoteCurrency: Text
    type: Text
    status: Text
    isInverse: bool = False
    settleCurrency: str | None = None
    multiplier: Decimal | None = None


class KucoinReply(Reply):
    """`result: false` answers a refused request; `type: "error"` a frame the server could not read."""

    result: bool | None = None
    type: str | None = None

    @property
    def rejected(self) -> bool:
        return self.result is False or self.type == "error"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    pair = decode(entry, KucoinSymbol)
    return spot_instrument(NAME, pair.symbol, pair.baseCurrency, pair.quoteCurrency, trading=pair.enableTrading)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    contract = decode(entry, KucoinContract)
    base, quote = contract.baseCurrency, contract.quoteCurrency
    return perpetual_instrument(NAME, contract.symbol, base, quote, perpetual=contract.type == PERPETUAL_TYPE,
                                linear=not contract.isInverse, settle=(contract.settleCurrency,),
                                trading=contract.status == OPEN_STATUS,
                                contract_size=lambda: positive(contract.multiplier, "multiplier"),
                                symbol=perp_symbol(xbt_to_btc(base), xbt_to_btc(quote)))


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _futures_entry)


def contract_info(instrument: Instrument) -> Mapping[str, Any]:
    """What `KuCoinFutures._parse_symbol_data` would store per contract: the lot size and the inverse flag."""
    return {"contract_size": Decimal(repr(instrument.amount_factor)) / Decimal(instrument.multiplier), "is_inverse": False}


def rest_error(payload: Any) -> str | None:
    """`{"code": "400100", "msg": "symbol not exists"}`: any code but "200000"."""
    return code_error(payload, ok=OK)


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"symbol": instrument.native}


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("KUCOIN", instrument.symbol, BUY if item["side"].lower() == "buy" else SELL, Decimal(item["size"]),
                  Decimal(item["price"]), item[TIME_FIELD[instrument.market]] / 1_000_000_000,
                  id=str(item[ID_FIELD[instrument.market]]))
    return entry_of(trade)


EXCHANGE = Exchange(
    NAME,
    {
        "spot": Market(Endpoint("/api/v1/symbols", default_base="https://api.kucoin.com"), parse_spot,
                       Venue(NAME, "spot", "/api/v1/market/histories", RECENT, SPOT_LIMIT, params, (LIST_FIELD,), rest_error, entry)),
        "futures": Market(Endpoint("/api/v1/contracts/active", default_base="https://api-futures.kucoin.com"), parse_futures,
                          Venue(NAME, "futures", "/api/v1/trade/history", RECENT, FUTURES_LIMIT, params, (LIST_FIELD,), rest_error,
                                entry),
                          symbol_info=contract_info),
    },
    KucoinReply,
    rest_error,
)
