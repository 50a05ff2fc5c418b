"""Price paths: a smooth default per coin, a user-supplied function instead, and scheduled jumps.

Prices are per ONE coin; listings convert to their quoted unit. The default path is a slow,
deterministic swing around each coin's reference price, so the same coin trades at similar prices
on every market (as arbitrage keeps real markets together) and jumps stand out.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from recorder.clock import S

PricePath = Callable[[str, str, int], float]
"""(coin, market key, exchange time ns) → price of one coin in USDT."""

SWING = 0.004
SWING_PERIOD_S = 300.0


@dataclass(frozen=True)
class Jump:
    """From `at_ns` on, `base` trades `pct` percent higher (lower if negative) on `market_key` (None: all)."""

    base: str
    pct: float
    at_ns: int
    market_key: str | None = None


class PriceModel:
    def __init__(self, reference: dict[str, float], seed: int, path: PricePath | None = None) -> None:
        self._reference = reference
        self._seed = seed
        self._path = path
        self._jumps: dict[str, list[Jump]] = {}

    def add_jump(self, jump: Jump) -> None:
        self._jumps.setdefault(jump.base, []).append(jump)

    def price(self, base: str, market_key: str, ts_ns: int) -> float:
        if self._path is not None:
            price = self._path(base, market_key, ts_ns)
        else:
            phase = zlib.crc32(f"{self._seed}:{base}".encode()) / 2**32
            swing = math.sin(2 * math.pi * (ts_ns / S / SWING_PERIOD_S + phase))
            price = self._reference[base] * (1 + SWING * swing)
        for jump in self._jumps.get(base, ()):
            if ts_ns >= jump.at_ns and jump.market_key in (None, market_key):
                price *= 1 + jump.pct / 100
        return price
