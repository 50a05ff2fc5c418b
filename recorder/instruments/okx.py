"""OKX spot and USDT linear swap instruments (`/api/v5/public/instruments?instType=SPOT|SWAP`).

cryptofeed's `OKX._parse_symbol_data` names spot `Symbol(baseCcy, quoteCcy)` and a swap
`BASE-QUOTE-SWAP` as `Symbol(BASE, QUOTE, PERPETUAL)`, skipping `state == preopen`. Its `_trade`
emits `sz` unchanged: for swaps that is a number of CONTRACTS, each worth `ctVal` (× `ctMult`)
coins of `ctValCcy`, so `amount_factor = ctVal × ctMult`.
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
    number,
    optional_text,
    parse_entries,
    perp_symbol,
    spot_symbol,
    text,
)
from recorder.instruments.model import Instrument

EXCHANGE = "okx"
PATH = "/api/v5/public/instruments"
ENDPOINTS = {
    "spot": Endpoint(PATH, (("instType", "SPOT"),), default_base="https://www.okx.com"),
    "futures": Endpoint(PATH, (("instType", "SWAP"),), default_base="https://www.okx.com"),
}
LIST_FIELD = "data"
LIVE_STATE = "live"
SWAP_SUFFIX = "SWAP"
LINEAR = "linear"
SETTLE = "USDT"


def _spot_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "instId")
    base_raw, quote = text(entry, "baseCcy"), text(entry, "quoteCcy")
    if text(entry, "instType") != "SPOT":
        raise Malformed("instType is not SPOT")
    if text(entry, "state") != LIVE_STATE:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier)
    return Instrument(EXCHANGE, "spot", spot_symbol(base_raw, quote), native, base, quote.upper(),
                      price_factor, amount_factor, multiplier)


def _swap_entry(entry: Mapping[str, Any]) -> Instrument | str:
    native = text(entry, "instId")
    parts = native.split("-")
    if text(entry, "instType") != "SWAP" or len(parts) != 3 or parts[2] != SWAP_SUFFIX:
        return "not_perpetual"
    base_raw, quote = parts[0], parts[1]
    if optional_text(entry, "ctType") != LINEAR or optional_text(entry, "settleCcy") != SETTLE or quote != SETTLE:
        return "not_usdt_margined"
    state = text(entry, "state")
    contract_value = number(entry, "ctVal")
    contract_mult = number(entry, "ctMult") if entry.get("ctMult") not in (None, "") else Decimal(1)
    if state != LIVE_STATE:
        return "not_trading"
    base, multiplier = coin_identity(base_raw, strip_multiplier=True)
    value_ccy = optional_text(entry, "ctValCcy")
    if value_ccy and value_ccy.upper() != base_raw.upper():
        raise Malformed(f"ctValCcy {value_ccy!r} is not the instrument's base {base_raw!r}")
    price_factor, amount_factor = factors(multiplier, contract_value * contract_mult)
    return Instrument(EXCHANGE, "futures", perp_symbol(base_raw, quote), native, base, quote,
                      price_factor, amount_factor, multiplier)


def parse_spot(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _spot_entry)


def parse_futures(payload: Any) -> ParseResult:
    return parse_entries(entries(payload, LIST_FIELD), _swap_entry)


PARSERS = {"spot": parse_spot, "futures": parse_futures}
