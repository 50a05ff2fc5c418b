"""How a market's symbols are split into feed instances and websocket connections, and which cannot be subscribed.

One feed instance per websocket connection, except on exchanges with `multi_connection` (Phemex),
whose instances hold up to `max_symbols_per_feed` (100) symbols on connections of
`max_symbols_per_connection` (20) made by cryptofeed's own endpoint `limit` split (feed.py:378).
KuCoin and Gate subscribe every symbol of the FEED on each connection (kucoin.py:233, gate.py:288),
so they must be one connection per instance; Binance puts streams in the URL and gives each address
the whole feed subscription (feed.py:414), so one connection per instance also keeps
`conn.subscription` honest.
"""

from __future__ import annotations

from collections.abc import Sequence

from recorder.exchanges import EXCHANGES, market_hooks
from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec


def connection_cap(spec: MarketSpec, max_symbols_per_connection: int | None) -> int | None:
    """Symbols per websocket connection: the tighter of the exchange cap and the configured one."""
    caps = [c for c in (spec.max_symbols_per_connection, max_symbols_per_connection, spec.max_symbols_per_feed) if c]
    return min(caps) if caps else None


def plan_shards(spec: MarketSpec, symbols: Sequence[str], max_symbols_per_connection: int | None) -> list[list[list[str]]]:
    """Feed instances → connections → symbols, every symbol exactly once, in the given order.

    Connections hold at most `connection_cap` symbols. Instances hold one connection, except for
    exchanges with `multi_connection` (Phemex), whose instances hold as many whole connections as fit in
    `spec.max_symbols_per_feed`.
    """
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        return []
    cap = connection_cap(spec, max_symbols_per_connection) or len(symbols)
    connections = [symbols[i:i + cap] for i in range(0, len(symbols), cap)]
    per_feed = _connections_per_feed(spec, cap)
    return [connections[i:i + per_feed] for i in range(0, len(connections), per_feed)]


def _connections_per_feed(spec: MarketSpec, cap: int) -> int:
    if EXCHANGES[spec.exchange].multi_connection and spec.max_symbols_per_feed:
        return max(1, spec.max_symbols_per_feed // cap)
    return 1


def shard_capacity(spec: MarketSpec, max_symbols_per_connection: int | None) -> int | None:
    """Symbols a full feed instance holds (None: unbounded)."""
    cap = connection_cap(spec, max_symbols_per_connection)
    return cap * _connections_per_feed(spec, cap) if cap else None


def unsubscribable(spec: MarketSpec, instrument: Instrument) -> str | None:
    """Why cryptofeed could not deliver this instrument's trades, or None (the exchange module's rule)."""
    return market_hooks(spec.exchange, spec.market).unsubscribable(instrument)
