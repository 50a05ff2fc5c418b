"""The repair queue: bounded by the universe (one gap per instrument and kind), oldest first."""

import asyncio

from recorder.repair import RepairQueue
from recorder.store.base import GapRow


def gap(symbol: str, start: int, kind: str = "disconnect", market: str = "spot") -> GapRow:
    return GapRow(start, start + 10, "binance", market, symbol, kind, "", "", "open", 0)


def test_a_newer_gap_of_the_same_instrument_and_kind_replaces_the_queued_one():
    queue = RepairQueue()
    assert queue.put(gap("A-USDT", 1)) is False
    assert queue.put(gap("A-USDT", 2, kind="id_jump")) is False, "another kind is another hole"
    assert queue.put(gap("A-USDT", 3, market="futures")) is False, "another market is another instrument"
    assert queue.put(gap("A-USDT", 4)) is True
    assert len(queue) == 3

    async def drain() -> list[GapRow]:
        return [await queue.get() for _ in range(len(queue))]

    starts = [g.ts for g in asyncio.run(drain())]
    assert starts == [2, 3, 4], "the replacement goes to the back; the others keep their order"


def test_storms_over_the_whole_universe_never_grow_the_queue_past_it():
    queue = RepairQueue()
    symbols = [f"C{n:04d}-USDT" for n in range(500)]
    for storm in range(20):
        for symbol in symbols:
            queue.put(gap(symbol, storm))
    assert len(queue) == len(symbols)


def test_get_waits_for_a_gap():
    async def scenario() -> GapRow:
        queue = RepairQueue()
        waiter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        assert not waiter.done()
        queue.put(gap("B-USDT", 7))
        return await asyncio.wait_for(waiter, 5)

    assert asyncio.run(scenario()).ts == 7
