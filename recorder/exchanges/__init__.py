"""One module per exchange, and the one registry of them.

Everything about an exchange lives in its module (`binance.py`, `bybit.py`, …): endpoints and wire
facts, the payload structs named after its JSON fields, instrument parsing and conversion factors,
what cryptofeed needs (symbol keys and info, keepalive, reply checks), the REST error envelope, the
trade-id hint and the REST backfill. Each module builds one `Exchange` (`base.py`); `EXCHANGES` maps
names to them and agrees with `recorder.markets.MARKETS` (a test checks both ways).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from recorder.exchanges import binance, bybit, gate, kucoin, okx, phemex
from recorder.exchanges.base import Exchange, Market

EXCHANGES: Mapping[str, Exchange] = MappingProxyType(
    {exchange.name: exchange for exchange in (binance.EXCHANGE, bybit.EXCHANGE, okx.EXCHANGE, kucoin.EXCHANGE, gate.EXCHANGE,
                                              phemex.EXCHANGE)})
"""exchange name → its hooks; the names are exactly the exchanges of `recorder.markets.MARKETS`."""


def market_hooks(exchange: str, market: str) -> Market:
    """The hooks of one market; a KeyError names the unknown pair."""
    try:
        return EXCHANGES[exchange].markets[market]
    except KeyError:
        known = ", ".join(f"{name}.{kind}" for name, ex in EXCHANGES.items() for kind in ex.markets)
        raise KeyError(f"no exchange module for market {exchange}.{market}; known: {known}") from None


__all__ = ["EXCHANGES", "Exchange", "Market", "market_hooks"]
