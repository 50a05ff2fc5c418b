"""After the simulator pauses: wait until the recorder took every trade it sent, instead of sleeping and counting."""

from __future__ import annotations

from recorder.record import Recorder
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async


def behind(sim: ExchangeSimulator, recorder: Recorder) -> dict[str, tuple[int, int]]:
    """Per market still behind: (trades the simulator sent of recorded instruments, trades the recorder took)."""
    lagging = {}
    for key, state in recorder.states.items():
        sent = sum(1 for t in sim.sent_trades(key) if recorder.instrument_of(key, t["symbol"]) is not None)
        if state.trades < sent:
            lagging[key] = (sent, state.trades)
    return lagging


async def recorder_caught_up(sim: ExchangeSimulator, recorder: Recorder, timeout: float = 60.0) -> None:
    """Every sent trade received (Phemex's resends count too, so received may exceed sent), then handed to the store."""
    await eventually_async(lambda: not behind(sim, recorder), timeout=timeout,
                           what=lambda: f"the recorder to receive every sent trade; behind (sent, taken): {behind(sim, recorder)}")
    await recorder.settle(timeout=timeout)
