"""KuCoin spot (`/api/v1/symbols`) and USDT-margined perpetual (`/api/v1/contracts/active`) instruments.

cryptofeed's `KuCoin._parse_symbol_data` names spot `Symbol(baseCurrency, quoteCurrency)` for
`enableTrading`; `KuCoinFutures` names `FFWCSX` contracts `Symbol(base, quote, PERPETUAL)` after
`str.replace('XBT', 'BTC')` (substring: a bug for any ticker containing XBT; here only the whole
token is replaced) and keeps `multiplier` as `contract_size`. Both `_trades` emit `q` unchanged:
base coin on spot, LOTS on futures (one lot = `multiplier` coins), so `amount_factor = multiplier`.
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
    xbt_to_btc,
)
from recorder.instruments.model import Instrument

EXCHANGE = "kucoin"
ENDPOINTS = {
    "spot": Endpoint("/api/v1/symbols", default_base="https://api.kucoin.com"),
    "futures": Endpoint("/api/v1/contracts/active", default_base="https://api-futures.kucoin.com"),
}
LIST_FIELD = "data"
PERPETUAL_TYPE = "FFWCSX"
OPEN_STATUS = "Open"
SETTLE = "USDT"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote = text(entry, "baseCurrency"), text(entry, "quoteCurrency")
    if not flag(entry, "enableTrading"):
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                      price_factor, amount_factor, multiplier)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote_raw = text(entry, "baseCurrency"), text(entry, "quoteCurrency")
    if text(entry, "type") != PERPETUAL_TYPE:
        return "not_perpetual"
    inverse = flag(entry, "isInverse", False)
    if inverse or quote_raw != SETTLE or optional_text(entry, "settleCurrency", SETTLE) != SETTLE:
        return "not_usdt_margined"
    lot = number(entry, "multiplier")
    if text(entry, "status") != OPEN_STATUS:
        return "not_trading"
    base_name, quote_name = xbt_to_btc(base_raw), xbt_to_btc(quote_raw)
    base, multiplier = coin_identity(base_raw, strip_multiplier=True)
    price_factor, amount_factor = factors(multiplier, lot)
    return Instrument(EXCHANGE, "futures", perp_symbol(base_name, quote_name), native, base, quote_raw,
                      price_factor, amount_factor, multiplier)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _futures_entry)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
