"""Phemex spot and USDT perpetuals: instruments (scaled spot amounts), cryptofeed's channel routing, backfill.

Instruments (`/exchange/public/cfg/v2/products`, one payload for both): cryptofeed 3.0.1's
`Phemex._parse_symbol_data` reads only `data.products` and names instruments from `displaySymbol`
(`"BTC / USDT"`). The live payload lists the USDT perpetuals under `data.perpProductsV2` (with
`priceScale: 0`, which cryptofeed would even route to the v1 channel); here both lists are read,
`perpProductsV2` first.

Units of cryptofeed's trade:
- spot (v1 `trades`, channel `trade.subscribe`): price = `priceEp / price_scale` with cryptofeed's
  `price_scale = 10**priceScale` (only the spot `priceScale` of 8 is accepted, the one `symbol_info`
  installs), amount = the raw scaled integer `qtyEv` (a cryptofeed bug), so
  `amount_factor = 10**-valueScale` of the base currency (8 unless `data.currencies` says otherwise).
- USDT perps (v2 `trades_p`, channel `trade_p.subscribe`): decimal price and base-coin size: factor 1
  (times the `1000PEPE`-style multiplier).
cryptofeed reads `api_version` and `price_scale` per symbol while running (`_apply_symbol_mapping`,
`subscribe`, `_trade`), so `symbol_info` installs them.

Websocket: a feed instance holds several connections of at most 20 symbols (cryptofeed's endpoint
`limit` split), so `multi_connection`. cryptofeed pings itself; a refused request carries
`"error": {"code", "message"}`. Phemex resends its last 1000 trades on every subscribe (deduplicated
by the store).

Backfill (spot `/md/trade`, USDT perpetual `/md/v2/trade`): the latest trades only, and no trade ids:
`{"error": null, "result": {"symbol", "trades" | "trades_p": [[ts_ns, side, price, size], ...]}}`,
newest first, the same rows the websocket snapshot carries on subscribe; no paging. Public market data
allows roughly 100 requests per minute per IP; one per second stays inside. Live path (cryptofeed
`Phemex._trade` / `_trade_p`): side `BUY if side == 'Buy' else SELL`, time `ts / 1_000_000_000.0`;
spot (v1) price `Decimal(priceEp) / Decimal(10**priceScale)` and amount the raw scaled
`Decimal(qtyEv)` (the instrument's factor unscales it), perps (v2) `Decimal` of the text. The id is
the normalizer's `synthetic_trade_id`; one REST answer counts as one frame, like the snapshot, so
identical trades in it are numbered as the live path numbers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from cryptofeed.defines import BUY, SELL
from cryptofeed.types import Trade

from recorder.backfill.base import Entry, RateLimit, Venue, entry_of
from recorder.exchanges.base import ErrorReply, Exchange, Market, code_error
from recorder.instruments.common import (
    NOT_PERPETUAL,
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

NAME = "phemex"
PRODUCTS = Endpoint("/exchange/public/cfg/v2/products", default_base="https://api.phemex.com")
SPOT_LISTS = (("data", "products"),)
PERP_LISTS = (("data", "perpProductsV2"), ("data", "products"))
CURRENCIES = ("data", "currencies")
LISTED = "Listed"
SPOT_TYPE = "spot"
PERP_TYPES = ("perpetualv2", "perpetualpilot")
"""USDT-margined perpetuals; `Perpetual` (v1) products are coin-margined (inverse)."""
SPOT_PRICE_SCALE = 8
"""`priceScale` of every spot product; cryptofeed divides `priceEp` by 10**this."""
DEFAULT_VALUE_SCALE = 8
RECENT = 1000
TRADES_LIMIT = RateLimit("phemex.md", per_second=1.0, burst=5)
SPOT_SCALE = Decimal(10**SPOT_PRICE_SCALE)


class PhemexProduct(msgspec.Struct):
    """An entry of `data.products` or `data.perpProductsV2`."""

    symbol: Text
    type: Text
    status: Text
    displaySymbol: str = ""
    priceScale: int = SPOT_PRICE_SCALE
    baseCurrency: str | None = None
    settleCurrency: str | None = None

    def pair(self) -> tuple[str, str]:
        """cryptofeed's naming source: `displaySymbol` split on '/', stripped (read once the type is wanted)."""
        parts = self.displaySymbol.split("/")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise Malformed("displaySymbol is not 'BASE / QUOTE'")
        return parts[0].strip(), parts[1].strip()


class PhemexCurrency(msgspec.Struct):
    """An entry of `data.currencies`: `valueScale` is the decimals of the currency's scaled integers."""

    currency: str
    valueScale: int


def _value_scales(payload: Any) -> dict[str, int]:
    scales: dict[str, int] = {}
    try:
        currencies = entries(payload, *CURRENCIES)
    except ValueError:
        return scales
    for item in currencies:
        try:
            currency = msgspec.convert(item, PhemexCurrency)
        except msgspec.ValidationError:
            continue
        scales[currency.currency] = currency.valueScale
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
        product = decode(entry, PhemexProduct)
        if product.type.lower() != SPOT_TYPE:
            return "not_spot"
        base, quote = product.pair()
        listed = product.status == LISTED
        if listed and product.priceScale != SPOT_PRICE_SCALE:
            return "unsupported_price_scale"
        value_scale = scales.get(product.baseCurrency or base, DEFAULT_VALUE_SCALE)
        return spot_instrument(NAME, product.symbol, base, quote, trading=listed, amount_scale=Decimal(10) ** -value_scale)

    return parse_entries(_lists(payload, SPOT_LISTS), one)


def parse_futures(payload: Any) -> ParseResult:
    def one(entry: Mapping[str, Any]) -> Instrument | str:
        product = decode(entry, PhemexProduct)
        kind = product.type.lower()
        if "perpetual" not in kind:
            return NOT_PERPETUAL
        base, quote = product.pair()
        return perpetual_instrument(NAME, product.symbol, base, quote, linear=kind in PERP_TYPES, settle=(product.settleCurrency,),
                                    trading=product.status == LISTED)

    return parse_entries(_lists(payload, PERP_LISTS), one)


def spot_info(instrument: Instrument) -> Mapping[str, Any]:
    """Spot goes to the v1 channel, whose prices cryptofeed divides by `price_scale`."""
    return {"api_version": 1, "price_scale": 10**SPOT_PRICE_SCALE}


def perpetual_info(instrument: Instrument) -> Mapping[str, Any]:
    """USDT perpetuals go to the v2 channel (`trade_p.subscribe`), whose prices are decimals."""
    return {"api_version": 2}


def rest_error(payload: Any) -> str | None:
    """`{"code": 6001, "msg": …}` (products) or `{"error": {"code", "message"}, "result": null}` (market data)."""
    if isinstance(payload, Mapping) and payload.get("error") is not None:
        return str(payload["error"])[:200]
    return code_error(payload, ok="0")


def params(instrument: Instrument, before: int | None, floor: int | None, size: int) -> dict[str, str]:
    return {"symbol": instrument.native}


def spot_entry(item: Any, instrument: Instrument) -> Entry:
    ts, side, price, amount = item
    return entry_of(Trade("PHEMEX", instrument.symbol, BUY if side == "Buy" else SELL, Decimal(amount),
                          Decimal(price) / SPOT_SCALE, ts / 1_000_000_000.0))


def perp_entry(item: Any, instrument: Instrument) -> Entry:
    ts, side, price, amount = item
    return entry_of(Trade("PHEMEX", instrument.symbol, BUY if side == "Buy" else SELL, Decimal(amount),
                          Decimal(price), ts / 1_000_000_000.0))


EXCHANGE = Exchange(
    NAME,
    {
        "spot": Market(PRODUCTS, parse_spot,
                       Venue(NAME, "spot", "/md/trade", RECENT, TRADES_LIMIT, params, ("result", "trades"), rest_error, spot_entry),
                       symbol_info=spot_info),
        "futures": Market(PRODUCTS, parse_futures,
                          Venue(NAME, "futures", "/md/v2/trade", RECENT, TRADES_LIMIT, params, ("result", "trades_p"), rest_error,
                                perp_entry),
                          symbol_info=perpetual_info),
    },
    ErrorReply,
    rest_error,
    multi_connection=True,
)
