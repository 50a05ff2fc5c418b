"""cryptofeed `Trade` → `TradeRow`, in exactly one place; bad trades are counted and logged, never stored."""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterable

from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec
from recorder.ratelimited_log import RateLimitedLog
from recorder.trade_row import TradeRow

LOG = logging.getLogger(__name__)

_MIN_TS_NS = 1_262_304_000 * 1_000_000_000  # 2010-01-01: anything earlier is a unit mix-up
_FUTURE_SLACK_NS = 86_400 * 1_000_000_000
_SIDES = {"buy": "buy", "sell": "sell"}


def to_ns(seconds: float) -> int:
    """Float seconds → integer ns, rounded to the microsecond: exchanges stamp ms or µs and floats blur ns."""
    return round(seconds * 1_000_000) * 1000


def synthetic_trade_id(symbol: str, ts_ns: int, side: str, price: str, amount: str, occurrence: int) -> str:
    """A deterministic id for exchanges that send none (Phemex), so a resent trade dedups onto itself.

    `occurrence` separates identical trades within one frame (one taker order filling two makers at
    the same price, time and size).
    """
    digest = hashlib.blake2b(f"{symbol}|{ts_ns}|{side}|{price}|{amount}".encode(), digest_size=8).hexdigest()
    return f"{digest}-{occurrence}" if occurrence else digest


class Normalizer:
    """Turns the trades of one market into rows, using that market's instrument factors."""

    def __init__(self, spec: MarketSpec, instruments: Iterable[Instrument]) -> None:
        self.spec = spec
        self.instruments: dict[str, Instrument] = {}
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self._log = RateLimitedLog(LOG)
        self._frame: tuple[int, str] | None = None
        self._frame_seen: Counter[str] = Counter()
        self.add(instruments)

    def add(self, instruments: Iterable[Instrument]) -> None:
        for instrument in instruments:
            self.instruments[instrument.symbol] = instrument

    def _reject(self, reason: str, trade: object) -> None:
        self.rejected[reason] += 1
        self._log.warning(reason, "%s: skipped trade (%s): %.200r", self.spec.key, reason, trade)

    def normalize(self, trade, receipt_timestamp: float) -> TradeRow | None:
        """The row for one cryptofeed trade, or None (counted by reason) when it cannot be trusted."""
        try:
            instrument = self.instruments.get(trade.symbol)
            if instrument is None:
                self._reject("unknown_symbol", trade)
                return None
            side = _SIDES.get(trade.side)
            if side is None:
                self._reject("bad_side", trade)
                return None
            price = float(trade.price) * instrument.price_factor
            amount = float(trade.amount) * instrument.amount_factor
            notional = price * amount
            if not (math.isfinite(price) and price > 0 and math.isfinite(amount) and amount > 0 and math.isfinite(notional)):
                self._reject("bad_price_or_amount", trade)
                return None
            ts = to_ns(float(trade.timestamp))
            received = to_ns(float(receipt_timestamp))
            if not _MIN_TS_NS <= ts <= received + _FUTURE_SLACK_NS:
                self._reject("bad_timestamp", trade)
                return None
            trade_id = trade.id
            trade_id = self._synthetic_id(trade, ts, side, received) if trade_id is None or trade_id == "" else str(trade_id)
        except (TypeError, ValueError, ArithmeticError, AttributeError):
            self._reject("malformed", trade)
            return None
        self.accepted += 1
        return TradeRow(
            ts, received, self.spec.exchange, self.spec.market, instrument.symbol, instrument.base, instrument.quote,
            side, price, amount, notional, trade_id,
        )

    def _synthetic_id(self, trade, ts: int, side: str, received: int) -> str:
        key = f"{trade.symbol}|{ts}|{side}|{trade.price}|{trade.amount}"
        if self._frame != (received, trade.symbol):
            self._frame = (received, trade.symbol)
            self._frame_seen.clear()
        occurrence = self._frame_seen[key]
        self._frame_seen[key] += 1
        return synthetic_trade_id(trade.symbol, ts, side, str(trade.price), str(trade.amount), occurrence)
