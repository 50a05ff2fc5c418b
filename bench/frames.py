"""Real-format exchange frames for the offline replay, made by the simulator's own wire encoders.

No socket is opened: each market's `MarketServer` generates ticks of trades exactly as it would
while serving (same prices, sizes, ids, batching per venue), and its `Venue` turns them into the
text frames that exchange sends (Binance wrapped as a combined stream, as cryptofeed subscribes).
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass, field

from recorder.clock import S
from simulator.exchanges import ExchangeSimulator
from simulator.exchanges.venue import dumps

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
    servers = {key: sim._markets[key] for key in keys}
    wanted = {key: {i.native for i in universe.instruments(key)} for key in keys}
    conn = types.SimpleNamespace(state={"combined": True})
    frames = Frames(trades=dict.fromkeys(keys, 0))
    t0 = time.time_ns() - 3600 * S
    tick = 0
    while frames.total_trades < total_trades:
        now_ns = t0 + tick * int(TICK_S * S)
        tick += 1
        for key, server in servers.items():
            groups: dict[str, list] = {}
            for trade in server._tick(now_ns):
                if trade.listing.native in wanted[key]:
                    groups.setdefault(trade.listing.native, []).append(trade)
            for native, group in groups.items():
                for message, carried in server.venue.trade_messages(server.listings[native], group):
                    framed = server.venue.frame(conn, message)
                    frames.items.append((key, native, framed if isinstance(framed, str) else dumps(framed)))
                    frames.trades[key] += len(carried)
    frames.seconds = tick * TICK_S
    return frames
