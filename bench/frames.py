"""Real-format exchange frames for the offline replay, made by the simulator's own wire encoders.

No socket is opened: `ExchangeSimulator.tick_frames` generates each market's ticks of trades exactly
as it would while serving (same prices, sizes, ids, batching per venue) and returns the text frames
that exchange sends (Binance wrapped as a combined stream, as cryptofeed subscribes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from recorder.clock import S
from simulator.exchanges import ExchangeSimulator

TICK_S = 0.05


@dataclass
class Frames:
    """Frames of every market, interleaved tick by tick as they would arrive."""

    items: list[tuple[str, str, str]] = field(default_factory=list)
    """(market key, native symbol, text frame) in arrival order."""
    trades: dict[str, int] = field(default_factory=dict)
    """trades carried, per market."""
    seconds: float = 0.0
    """simulated time the frames span."""

    @property
    def total_trades(self) -> int:
        return sum(self.trades.values())

    def only(self, markets: set[str]) -> Frames:
        return Frames([item for item in self.items if item[0] in markets],
                      {k: v for k, v in self.trades.items() if k in markets}, self.seconds)


def generate(universe, total_trades: int, *, rate: float = 2.0, symbols: int, seed: int,
             markets: list[str] | None = None) -> Frames:
    """About `total_trades` trades over every market of `universe`, `rate` trades/s per symbol.

    Only symbols of the universe are traded (cryptofeed knows no other); time starts now and
    advances one simulator tick (50 ms) per step, so trade times are realistic and distinct.
    """
    keys = markets or [key for key, instruments in universe.markets.items() if instruments]
    sim = ExchangeSimulator(keys, symbols, rate, seed, tick_interval=TICK_S, history_limit=100)
    wanted = {key: {i.native for i in universe.instruments(key)} for key in keys}
    frames = Frames(trades=dict.fromkeys(keys, 0))
    t0 = time.time_ns() - 3600 * S
    tick = 0
    while frames.total_trades < total_trades:
        now_ns = t0 + tick * int(TICK_S * S)
        tick += 1
        for key in keys:
            for native, text, carried in sim.tick_frames(key, now_ns, wanted[key]):
                frames.items.append((key, native, text))
                frames.trades[key] += carried
    frames.seconds = tick * TICK_S
    return frames
