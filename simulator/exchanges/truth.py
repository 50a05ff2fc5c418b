"""The truth logs: what the simulator generated and what it actually put on a websocket, normalized.

Tests compare a store with `sent` exactly, so a record carries the price per ONE coin and the
amount in coins (never contracts, lots or scaled integers), and each trade appears once in `sent`
however many times it went out (Phemex resends recent trades on every subscribe; two feeds may
subscribe the same symbol).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable

from simulator.exchanges.model import SimTrade


def normalize(trade: SimTrade) -> dict:
    """The normalized record of a trade, as the store should hold it."""
    listing = trade.listing
    return {
        "exchange": listing.exchange,
        "market": listing.market,
        "native": listing.native,
        "symbol": listing.symbol,
        "base": listing.base,
        "ts_ns": trade.ts_ns,
        "price": listing.coin_price(trade.price),
        "amount": listing.coin_amount(trade.size),
        "side": trade.side,
        "trade_id": trade.trade_id,
    }


class TruthLog:
    """Per-market logs of generated and sent trades; `limit` bounds each (None: keep everything)."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._generated: dict[str, deque[dict]] = {}
        self._sent: dict[str, deque[dict]] = {}
        self.generated_count: Counter[str] = Counter()
        """trades generated per market, all of them whatever `limit` keeps"""
        self.sent_count: Counter[str] = Counter()
        """trades sent per market (each once), all of them whatever `limit` keeps"""

    def _log(self, logs: dict[str, deque[dict]], key: str) -> deque[dict]:
        if key not in logs:
            logs[key] = deque(maxlen=self._limit)
        return logs[key]

    def generated(self, trade: SimTrade) -> None:
        key = trade.listing.key
        self.generated_count[key] += 1
        self._log(self._generated, key).append(trade.truth)

    def sent(self, trades: Iterable[SimTrade]) -> None:
        for trade in trades:
            if not trade.sent:
                trade.sent = True
                key = trade.listing.key
                self.sent_count[key] += 1
                self._log(self._sent, key).append(trade.truth)

    def generated_trades(self, market_key: str | None = None) -> list[dict]:
        return self._select(self._generated, market_key)

    def sent_trades(self, market_key: str | None = None) -> list[dict]:
        return self._select(self._sent, market_key)

    @staticmethod
    def _select(logs: dict[str, deque[dict]], market_key: str | None) -> list[dict]:
        if market_key is not None:
            return [dict(r) for r in logs.get(market_key, ())]
        return [dict(r) for log in logs.values() for r in log]
