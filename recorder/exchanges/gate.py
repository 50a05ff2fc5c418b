"""Gate spot and USDT perpetuals: instruments (quanto_multiplier), keepalive, trade-id hint, REST backfill.

Instruments (`/api/v4/spot/currency_pairs`, `/api/v4/futures/usdt/contracts`): cryptofeed's
`Gate._parse_symbol_data` names spot `Symbol(base, quote)` for `trade_status == tradable`;
`GateFutures` names `name.split('_')` as `Symbol(base, quote, PERPETUAL)` unless `in_delisting`.
Spot `_trades` emits `amount` (base coin); futures `_trades` emits `abs(size)` in CONTRACTS of
`quanto_multiplier` coins (and drops size-0 trades, i.e. below one contract), so
`amount_factor = quanto_multiplier`.

Websocket: cryptofeed sends no application ping, so a keepalive `{"time", "channel": "spot.ping"}`
(`futures.ping`) is added and its `*.pong` answer dropped before cryptofeed. A refused subscription
carries `"error": {"code", "message"}`.

Backfill: page back by `last_id`, newest first, so id gaps are exact. Which id is sequential differs.
Spot: the websocket's `id` (cryptofeed's trade id, so the dedup key) is the ALL-market trade id,
growing across every pair, while `id_market` counts up by one per pair; REST returns both as `id`
and `sequence_id` and pages by `id`. So spot gaps are in `id_market` / `sequence_id` terms
(`id_hint` hands `id_market` to `GapDetector.feed` as `seq`), walks start at the newest trade and page
by `id`, and rows keep `id` as their trade id. Futures: `id` (per contract, as far as known) is both.
API (docs v4): spot `/api/v4/spot/trades?currency_pair=&last_id=&reverse=true` returns ids below
`last_id` ("trace back"), up to 1000; futures `/api/v4/futures/usdt/trades?contract=&last_id=` pages
back from `last_id` (the docs call `last_id` deprecated in favour of `from`/`to`; if Gate drops it,
these walks stop making progress and say so). Without `last_id`, the latest trades. Public endpoints
allow about 200 requests per 10 s per IP. Errors come as `{"label", "message"}`.

Live path: spot (cryptofeed `Gate._trades`) side `SELL if side == 'sell' else BUY`, amount
`Decimal(amount)`, price `Decimal(price)`, time `float(create_time_ms) / 1000` (a string with a
fractional millisecond), id `str(id)`. Futures (`GateFutures._trades`) size in contracts signed by
taker side: side `SELL if size < 0 else BUY`, amount `Decimal(abs(size))`, time
`float(create_time_ms / 1000)`; a size of 0 (below one contract) is dropped by the feed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import ErrorReply, Exchange, Keepalive, Market
from recorder.instruments.common import (
    NOT_PERPETUAL,
    Endpoint,
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
from recorder.normalize import to_ns

NAME = "gate"
DEFAULT_BASE = "https://api.gateio.ws"
TRADABLE = "tradable"
TRADING_STATUSES = ("", "trading", "circuit_breaker")
"""futures `status`: absent on older payloads; a circuit breaker is a pause that resumes by itself, so
it stays subscribed; `prelaunch`, `delisting`, `delisted` are skipped."""
INVERSE_TYPE = "inverse"
PAGE_SIZE = 1000
SPOT_LIMIT = RateLimit("gate.spot", per_second=10.0, burst=20)
FUTURES_LIMIT = RateLimit("gate.futures", per_second=10.0, burst=20)


class GatePair(msgspec.Struct):
    """An entry of `/spot/currency_pairs`."""

    id: Text
    base: Text
    quote: Text
    trade_status: Text


class GateContract(msgspec.Struct):
    """An entry of `/futures/usdt/contracts`; `name` is `BASE_QUOTE`."""

    name: Text
    type: str | None = None
    quanto_multiplier: Decimal | None = None
    in_delisting: bool = False
    status: str | None = None


class GateReply(ErrorReply):
    """`channel` ends in `.pong` on the answer to our keepalive; a refused request carries `error`."""

    channel: str | None = None

    @property
    def pong(self) -> bool:
        return self.channel is not None and self.channel.endswith(".pong")


def _keepalive(channel: str) -> Keepalive:
    return Keepalive(20.0, lambda: json.dumps({"time": int(time.time()), "channel": channel}))


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    pair = decode(entry, GatePair)
    return spot_instrument(NAME, pair.id, pair.base, pair.quote, trading=pair.trade_status == TRADABLE)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    contract = decode(entry, GateContract)
    parts = contract.name.split("_")
    if len(parts) != 2 or not all(parts):
        return NOT_PERPETUAL
    base, quote = parts
    return perpetual_instrument(NAME, contract.name, base, quote, linear=contract.type != INVERSE_TYPE,
                                trading=not contract.in_delisting and (contract.status or "") in TRADING_STATUSES,
                                contract_size=lambda: positive(contract.quanto_multiplier, "quanto_multiplier"))


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload), _futures_entry)


def spot_id_market(trade: Any) -> tuple[int, int | None]:
    """Gate spot's `id` counts across every pair; `id_market` is the per-pair sequence (absent: ids are per pair)."""
    raw = trade.raw
    result = raw.get("result") if isinstance(raw, dict) else None
    seq = result.get("id_market") if isinstance(result, dict) else None
    return 1, (int(seq) if seq is not None else None)


def rest_error(payload: Any) -> str | None:
    """`{"label": "INVALID_CONTRACT", "message": "not found"}`: Gate's error answer."""
    if isinstance(payload, Mapping) and "label" in payload and "message" in payload:
        return f"{payload['label']}: {payload['message']}"
    return None


def _limit(size: int, before: int | None, floor: int | None) -> str:
    return str(max(1, min(size, before - floor)) if before is not None and floor is not None else size)


def spot_params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    query = {"currency_pair": instrument.native, "limit": _limit(size, before, floor)}
    if before is not None:
        query.update(last_id=str(before), reverse="true")
    return query


def futures_params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    query = {"contract": instrument.native, "limit": _limit(size, before, floor)}
    if before is not None:
        query["last_id"] = str(before)
    return query


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


EXCHANGE = Exchange(
    NAME,
    {
        "spot": Market(Endpoint("/api/v4/spot/currency_pairs", default_base=DEFAULT_BASE), parse_spot,
                       Venue(NAME, "spot", "/api/v4/spot/trades", PAGE_SIZE, SPOT_LIMIT, spot_params, (), rest_error, spot_entry,
                             pages_by_seq=False),
                       _keepalive("spot.ping"), id_hint=spot_id_market),
        "futures": Market(Endpoint("/api/v4/futures/usdt/contracts", default_base=DEFAULT_BASE), parse_futures,
                          Venue(NAME, "futures", "/api/v4/futures/usdt/trades", PAGE_SIZE, FUTURES_LIMIT, futures_params, (),
                                rest_error, futures_entry),
                          _keepalive("futures.ping")),
    },
    GateReply,
    rest_error,
)
