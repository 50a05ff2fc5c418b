"""`Recorder`: which per-trade callback its market feeds get."""

from __future__ import annotations

from recorder.config import Config
from recorder.instruments.model import Instrument
from recorder.markets import market
from recorder.record import Recorder
from recorder.trade_path import MarketState, TradePath

SPEC = market("okx", "spot")
INSTRUMENTS = [Instrument("okx", "spot", "TIA-USDT", "TIA-USDT", "TIA", "USDT")]


def test_feeds_get_the_trade_path_unless_a_trade_callback_is_given(tmp_path):
    config = Config.model_validate({"data_dir": str(tmp_path)})
    default = Recorder(config, None, [SPEC])._start_market(SPEC, INSTRUMENTS)
    assert isinstance(default.feeds.on_trade.__self__, TradePath) and default.feeds.on_trade.__self__.state is default

    made: list[tuple[MarketState, object]] = []

    def counting(state: MarketState):
        async def on_trade(trade, receipt_timestamp: float) -> None:
            state.trades += 1

        made.append((state, on_trade))
        return on_trade

    recorder = Recorder(config, None, [SPEC], trade_callback=counting)
    state = recorder._start_market(SPEC, INSTRUMENTS)
    assert made == [(state, state.feeds.on_trade)] and recorder.states == {SPEC.key: state}
