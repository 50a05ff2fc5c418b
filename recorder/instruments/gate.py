"""Gate spot (`/api/v4/spot/currency_pairs`) and USDT perpetual (`/api/v4/futures/usdt/contracts`) instruments.

cryptofeed's `Gate._parse_symbol_data` names spot `Symbol(base, quote)` for `trade_status ==
tradable`; `GateFutures` names `name.split('_')` as `Symbol(base, quote, PERPETUAL)` unless
`in_delisting`. Spot `_trades` emits `amount` (base coin); futures `_trades` emits `abs(size)` in
CONTRACTS of `quanto_multiplier` coins (and drops size-0 trades, i.e. below one contract), so
`amount_factor = quanto_multiplier`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.instruments.common import (
    Endpoint,
    ParseResult,
    coin_identity,
    entries,
    factors,
    flag,
    number,
    optional_text,
    parse_entries,
    perp_symbol,
    spot_symbol,
    text,
)
from recorder.instruments.model import Instrument

EXCHANGE = "gate"
ENDPOINTS = {
    "spot": Endpoint("/api/v4/spot/currency_pairs", default_base="https://api.gateio.ws"),
    "futures": Endpoint("/api/v4/futures/usdt/contracts", default_base="https://api.gateio.ws"),
}
TRADABLE = "tradable"
TRADING_STATUSES = ("", "trading", "circuit_breaker")
"""futures `status`: absent on older payloads; a circuit breaker is a pause that resumes by itself, so
it stays subscribed; `prelaunch`, `delisting`, `delisted` are skipped."""
INVERSE_TYPE = "inverse"
SETTLE = "USDT"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "id")
    base_raw, quote = text(entry, "base"), text(entry, "quote")
    if text(entry, "trade_status") != TRADABLE:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                      price_factor, amount_factor, multiplier)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "name")
    parts = native.split("_")
    if len(parts) != 2 or not all(parts):
        return "not_perpetual"
    base_raw, quote = parts
    if quote != SETTLE or optional_text(entry, "type") == INVERSE_TYPE:
        return "not_usdt_margined"
    contract = number(entry, "quanto_multiplier")
    if flag(entry, "in_delisting", False) or optional_text(entry, "status") not in TRADING_STATUSES:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=True)
    price_factor, amount_factor = factors(multiplier, contract)
    return Instrument(EXCHANGE, "futures", perp_symbol(base_raw, quote), native, base, quote,
                      price_factor, amount_factor, multiplier)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload), _futures_entry)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
