"""Binance spot (`/api/v3/exchangeInfo`) and USDT-M futures (`/fapi/v1/exchangeInfo`) instruments.

cryptofeed's `BinanceBase._parse_symbol_data` names instruments `Symbol(baseAsset, quoteAsset)`
(spot) and `Symbol(baseAsset, quoteAsset, PERPETUAL)` for `contractType` PERPETUAL and
TRADIFI_PERPETUAL; its `_trade` emits the aggTrade `q` (base coin) and `p` unchanged, so the only
factor is the `1000PEPE`-style multiplier of some USDT-M contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recorder.instruments.common import (
    Endpoint,
    Malformed,
    ParseResult,
    coin_identity,
    entries,
    factors,
    optional_text,
    parse_entries,
    perp_symbol,
    spot_symbol,
    text,
)
from recorder.instruments.model import Instrument

EXCHANGE = "binance"
ENDPOINTS = {
    "spot": Endpoint("/api/v3/exchangeInfo", default_base="https://api.binance.com"),
    "futures": Endpoint("/fapi/v1/exchangeInfo", default_base="https://fapi.binance.com"),
}
LIST_FIELD = "symbols"
TRADING_STATUS = "TRADING"
PERPETUAL_CONTRACT_TYPES = ("PERPETUAL", "TRADIFI_PERPETUAL")
SETTLE = "USDT"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote = text(entry, "baseAsset"), text(entry, "quoteAsset")
    if text(entry, "status") != TRADING_STATUS:
        return "not_trading"
    if entry.get("isSpotTradingAllowed") is False:
        return "not_trading"
    if entry.get("contractType"):
        raise Malformed("spot entry with a contractType")
    base, multiplier = coin_identity(base_raw, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                      price_factor, amount_factor, multiplier)


def _futures_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote = text(entry, "baseAsset"), text(entry, "quoteAsset")
    status = text(entry, "status")
    contract_type = optional_text(entry, "contractType")
    if contract_type not in PERPETUAL_CONTRACT_TYPES:
        return "not_perpetual"
    if quote != SETTLE or optional_text(entry, "marginAsset", SETTLE) != SETTLE:
        return "not_usdt_margined"
    if status != TRADING_STATUS:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=True)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "futures", perp_symbol(base_raw, quote), native, base, quote,
                      price_factor, amount_factor, multiplier)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _futures_entry)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
