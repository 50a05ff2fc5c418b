"""Phemex spot and USDT perpetual instruments (`/exchange/public/cfg/v2/products`, one payload for both).

cryptofeed 3.0.1's `Phemex._parse_symbol_data` reads only `data.products` and names instruments
from `displaySymbol` (`"BTC / USDT"`). The live payload lists the USDT perpetuals under
`data.perpProductsV2` (with `priceScale: 0`, which cryptofeed would even route to the v1 channel);
here both lists are read, `perpProductsV2` first.

Units of cryptofeed's trade:
- spot (v1 `trades`, channel `trade.subscribe`): price = `priceEp / price_scale` with cryptofeed's
  `price_scale = 10**priceScale` (this module only accepts the spot `priceScale` of 8 that
  `cryptofeed_symbols` installs), amount = the raw scaled integer `qtyEv` (a cryptofeed bug), so
  `amount_factor = 10**-valueScale` of the base currency (8 unless `data.currencies` says otherwise).
- USDT perps (v2 `trades_p`, channel `trade_p.subscribe`): decimal price and base-coin size: factor 1
  (times the `1000PEPE`-style multiplier).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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

EXCHANGE = "phemex"
PATH = "/exchange/public/cfg/v2/products"
ENDPOINTS = {
    "spot": Endpoint(PATH, default_base="https://api.phemex.com"),
    "futures": Endpoint(PATH, default_base="https://api.phemex.com"),
}
SPOT_LISTS = (("data", "products"),)
PERP_LISTS = (("data", "perpProductsV2"), ("data", "products"))
CURRENCIES = ("data", "currencies")
LISTED = "Listed"
SPOT_TYPE = "spot"
PERP_TYPES = ("perpetualv2", "perpetualpilot")
"""USDT-margined perpetuals; `Perpetual` (v1) products are coin-margined (inverse)."""
SETTLE = "USDT"
SPOT_PRICE_SCALE = 8
"""`priceScale` of every spot product; cryptofeed divides `priceEp` by 10**this (see cryptofeed_symbols)."""
DEFAULT_VALUE_SCALE = 8


def _display(entry: Mapping[str, Any]) -> tuple[str, str]:
    """cryptofeed's naming source: `displaySymbol` split on '/', stripped."""
    parts = text(entry, "displaySymbol").split("/")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise Malformed("displaySymbol is not 'BASE / QUOTE'")
    return parts[0].strip(), parts[1].strip()


def _value_scales(payload: Any) -> dict[str, int]:
    scales: dict[str, int] = {}
    try:
        currencies = entries(payload, *CURRENCIES)
    except ValueError:
        return scales
    for currency in currencies:
        if isinstance(currency, Mapping) and isinstance(currency.get("currency"), str) and type(currency.get("valueScale")) is int:
            scales[currency["currency"]] = currency["valueScale"]
    return scales


def _lists(payload: Any, paths: tuple[tuple[str, ...], ...]) -> list[Any]:
    items: list[Any] = []
    found = False
    for path in paths:
        try:
            items.extend(entries(payload, *path))
            found = True
        except ValueError:
            continue
    if not found:
        raise ValueError(f"payload has none of {', '.join('.'.join(p) for p in paths)}")
    return items


def parse_spot(payload: Any) -> ParseResult:
    scales = _value_scales(payload)

    def one(entry: Mapping[str, Any]) -> Instrument | str:
        native = text(entry, "symbol")
        if text(entry, "type").lower() != SPOT_TYPE:
            return "not_spot"
        base_raw, quote = _display(entry)
        if text(entry, "status") != LISTED:
            return "not_trading"
        price_scale = entry.get("priceScale", SPOT_PRICE_SCALE)
        if price_scale != SPOT_PRICE_SCALE:
            return "unsupported_price_scale"
        currency = optional_text(entry, "baseCurrency", base_raw)
        value_scale = scales.get(currency, DEFAULT_VALUE_SCALE)
        base, multiplier = coin_identity(base_raw, strip_multiplier=False)
        price_factor, amount_factor = factors(multiplier, amount_scale=Decimal(10) ** -value_scale)
        return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                          price_factor, amount_factor, multiplier)

    return parse_entries(_lists(payload, SPOT_LISTS), one)


def parse_futures(payload: Any) -> ParseResult:
    def one(entry: Mapping[str, Any]) -> Instrument | str:
        native = text(entry, "symbol")
        kind = text(entry, "type").lower()
        if kind == SPOT_TYPE:
            return "not_perpetual"
        if kind not in PERP_TYPES:
            return "not_usdt_margined" if "perpetual" in kind else "not_perpetual"
        base_raw, quote = _display(entry)
        if quote != SETTLE or optional_text(entry, "settleCurrency", SETTLE) != SETTLE:
            return "not_usdt_margined"
        if text(entry, "status") != LISTED:
            return "not_trading"
        base, multiplier = coin_identity(base_raw, strip_multiplier=True)
        price_factor, amount_factor = factors(multiplier)
        return Instrument(EXCHANGE, "futures", perp_symbol(base_raw, quote), native, base, quote,
                          price_factor, amount_factor, multiplier)

    return parse_entries(_lists(payload, PERP_LISTS), one)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
