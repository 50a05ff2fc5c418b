"""Binance spot and USDT-M futures: instruments, websocket replies, REST backfill.

Instruments (`/api/v3/exchangeInfo`, `/fapi/v1/exchangeInfo`): cryptofeed's
`BinanceBase._parse_symbol_data` names instruments `Symbol(baseAsset, quoteAsset)` (spot) and
`Symbol(baseAsset, quoteAsset, PERPETUAL)` for `contractType` PERPETUAL and TRADIFI_PERPETUAL; its
`_trade` emits the aggTrade `q` (base coin) and `p` unchanged, so the only factor is the
`1000PEPE`-style multiplier of some USDT-M contracts.

Websocket: the server pings at protocol level (`websockets` answers), so there is no keepalive of
ours; a refused subscription comes back as `{"error": {"code", "msg"}, "id"}`.

Backfill (aggTrades): `fromId` pages forward from an exact id, so id gaps are exact. Live path
(cryptofeed `Binance._trade`): side `SELL if m else BUY`, amount `Decimal(q)`, price `Decimal(p)`,
time `T / 1000.0`, id `str(a)`. REST `/api/v3/aggTrades` and `/fapi/v1/aggTrades` return the same
fields, oldest first; without `fromId`, the latest trades. Weights: a few units per request on spot
(of 6000 per minute), 20 on futures (of 2400 per minute); the budgets stay inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import ErrorReply, Exchange, Market
from recorder.instruments.common import (
    Endpoint,
    Malformed,
    ParseResult,
    Text,
    decode,
    entries,
    parse_entries,
    perpetual_instrument,
    spot_instrument,
)
from recorder.instruments.model import Instrument

NAME = "binance"
LIST_FIELD = "symbols"
TRADING_STATUS = "TRADING"
PERPETUAL_CONTRACT_TYPES = ("PERPETUAL", "TRADIFI_PERPETUAL")
PAGE_SIZE = 1000
SPOT_LIMIT = RateLimit("binance.api", per_second=10.0, burst=20)
FUTURES_LIMIT = RateLimit("binance.fapi", per_second=1.5, burst=5)


class BinanceSymbol(msgspec.Struct):
    """An entry of exchangeInfo's `symbols` (spot and USDT-M share the fields read here)."""

    symbol: Text
    status: Text
    baseAsset: Text
    quoteAsset: Text
    contractType: str | None = None
    marginAsset: str | None = None
    isSpotTradingAllowed: bool | None = None


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    pair = decode(entry, BinanceSymbol)
    if pair.contractType:
        raise Malformed("spot entry with a contractType")
    return spot_instrument(NAME, pair.symbol, pair.baseAsset, pair.quoteAsset,
                           trading=pair.status == TRADING_STATUS and pair.isSpotTradingAllowed is not False)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    contract = decode(entry, BinanceSymbol)
    return perpetual_instrument(NAME, contract.symbol, contract.baseAsset, contract.quoteAsset,
                                perpetual=contract.contractType in PERPETUAL_CONTRACT_TYPES, settle=(contract.marginAsset,),
                                trading=contract.status == TRADING_STATUS)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _futures_entry)


def rest_error(payload: Any) -> str | None:
    """`{"code": -1121, "msg": "Invalid symbol."}`: Binance's errors carry a negative code."""
    if isinstance(payload, Mapping) and isinstance(payload.get("code"), int) and payload["code"] < 0:
        return f"code {payload['code']}: {payload.get('msg')}"
    return None


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    """The page of ids just below `before` (no lower than `floor`), or the latest trades."""
    if before is None:
        return {"symbol": instrument.native, "limit": str(size)}
    start = max(0, before - size, floor or 0)
    return {"symbol": instrument.native, "fromId": str(start), "limit": str(max(1, min(size, before - start)))}


def entry(item: Any, instrument: Instrument) -> Entry:
    trade = Trade("BINANCE", instrument.symbol, SELL if item["m"] else BUY, Decimal(item["q"]), Decimal(item["p"]),
                  item["T"] / 1000.0, id=str(item["a"]))
    return entry_of(trade, int(item["a"]))


EXCHANGE = Exchange(
    NAME,
    {
        "spot": Market(Endpoint("/api/v3/exchangeInfo", default_base="https://api.binance.com"), parse_spot,
                       Venue(NAME, "spot", "/api/v3/aggTrades", PAGE_SIZE, SPOT_LIMIT, params, (), rest_error, entry)),
        "futures": Market(Endpoint("/fapi/v1/exchangeInfo", default_base="https://fapi.binance.com"), parse_futures,
                          Venue(NAME, "futures", "/fapi/v1/aggTrades", PAGE_SIZE, FUTURES_LIMIT, params, (), rest_error, entry)),
    },
    ErrorReply,
    rest_error,
)
