"""`TradePath`: one market's per-trade callback hands rows to whatever writer it is given."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from cryptofeed.types import Trade

from recorder.instruments.model import Instrument
from recorder.markets import market
from recorder.normalize import Normalizer
from recorder.sinks import TRADES, Sink
from recorder.trade_path import MarketState, TradePath

NOW = 1_795_000_000.0


class ListWriter:
    """Not a `StoreWriter`: just the `add(sink, row)` a `RowWriter` has."""

    def __init__(self) -> None:
        self.added: list[tuple[Sink, tuple]] = []

    def add(self, sink: Sink, row: tuple) -> None:
        self.added.append((sink, row))


def test_any_writer_with_add_takes_the_rows_and_id_jumps_still_reach_submit_gap():
    spec = market("binance", "spot")
    state = MarketState(spec, Normalizer(spec, [Instrument("binance", "spot", "TIA-USDT", "TIAUSDT", "TIA", "USDT")]))
    writer, gaps = ListWriter(), []
    path = TradePath(state, writer, gaps.append)

    async def go() -> None:
        for symbol, trade_id, at in (("TIA-USDT", "7", NOW), ("TIA-USDT", "10", NOW + 1), ("NOPE-USDT", "11", NOW + 2)):
            await path.on_trade(Trade("BINANCE", symbol, "buy", Decimal("2"), Decimal("1.5"), at, id=trade_id, raw={}), at + 0.01)

    asyncio.run(go())
    assert [(sink, row.trade_id) for sink, row in writer.added] == [(TRADES, "7"), (TRADES, "10")]  # the unknown symbol: rejected
    assert state.trades == 2 and state.last_trade_ns == writer.added[-1][1].ts
    assert len(gaps) == 1 and gaps[0].symbol == "TIA-USDT"  # ids 8 and 9 never arrived
