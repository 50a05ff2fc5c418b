"""Bybit spot and USDT linear perpetual instruments (`/v5/market/instruments-info`, cursor-paginated).

cryptofeed's `Bybit._parse_symbol_data` names spot `Symbol(baseCoin, quoteCoin)` (its own
exchange symbol `BASE/QUOTE`, because spot and linear share names like `TIAUSDT`) and linear
perpetuals `Symbol(baseCoin, quoteCoin, PERPETUAL)`. It asks for `limit=1000` and never follows
`nextPageCursor`; `fetch.py` does. `_trade` emits `v` (base coin) and `p` unchanged.
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
    optional_text,
    parse_entries,
    perp_symbol,
    spot_symbol,
    text,
)
from recorder.instruments.model import Instrument

EXCHANGE = "bybit"
PATH = "/v5/market/instruments-info"
ENDPOINTS = {
    "spot": Endpoint(PATH, (("category", "spot"),), cursor_field="result.nextPageCursor", default_base="https://api.bybit.com"),
    "futures": Endpoint(PATH, (("category", "linear"), ("limit", "1000")), cursor_field="result.nextPageCursor",
                        default_base="https://api.bybit.com"),
}
LIST_PATH = ("result", "list")
TRADING_STATUS = "Trading"
PERPETUAL_CONTRACT_TYPE = "LinearPerpetual"
SETTLE = "USDT"


def _pages(payload: Any) -> list[Any]:
    """One response or the list of cursor pages `fetch.py` collected."""
    pages = payload if isinstance(payload, list) else [payload]
    items: list[Any] = []
    for page in pages:
        items.extend(entries(page, *LIST_PATH))
    return items


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote = text(entry, "baseCoin"), text(entry, "quoteCoin")
    if text(entry, "status") != TRADING_STATUS:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                      price_factor, amount_factor, multiplier)


def _linear_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "symbol")
    base_raw, quote = text(entry, "baseCoin"), text(entry, "quoteCoin")
    status = text(entry, "status")
    if optional_text(entry, "contractType") != PERPETUAL_CONTRACT_TYPE:
        return "not_perpetual"
    if quote != SETTLE or optional_text(entry, "settleCoin", SETTLE) != SETTLE:
        return "not_usdt_margined"
    if status != TRADING_STATUS:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=True)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "futures", perp_symbol(base_raw, quote), native, base, quote,
                      price_factor, amount_factor, multiplier)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(_pages(payload), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(_pages(payload), _linear_entry)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
