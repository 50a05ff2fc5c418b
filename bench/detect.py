"""Benchmark 5: detection latency, from the fake Upbit publishing a notice to the watcher's trigger callback.

The real `ListingWatcher.run` polls the fake Upbit with the configured poll interval and jitter
(config defaults unless overridden). Each notice is published at a random moment of the poll cycle
(uniform over one interval + jitter after the previous trigger), so the sample covers the worst
phase too. Each latency splits into the wait for the next poll (publish → start of the poll that
returned the notice; bounded by the interval ± jitter by design) and the processing (that poll's
request, parsing, the durable notice/trigger rows, up to the callback), which is what the code
controls. The fake Upbit runs in its own thread and event loop, like a remote server would.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path

from bench.common import summary
from bench.live import random_titles
from recorder.clock import MS


class _UpbitThread:
    """FakeUpbit on its own loop in a thread; `publish` is thread-safe and returns the publish time."""

    def __init__(self) -> None:
        from simulator.upbit import FakeUpbit

        self.fake = FakeUpbit(krw_coins=("BTC", "ETH"))
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fake-upbit", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.base_url = self.loop.run_until_complete(self.fake.start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> str:
        self.thread.start()
        self._ready.wait(30)
        return self.base_url

    def publish(self, title: str) -> tuple[int, int]:
        async def go() -> tuple[int, int]:
            at = time.time_ns()
            return self.fake.publish(title), at

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def ms(seconds: float) -> str:
    """A config duration (the config takes `500ms`-style strings, not numbers)."""
    return f"{round(seconds * 1000)}ms"


async def _measure(n: int, base_url: str, upbit: _UpbitThread, data_dir: Path, poll_interval: float | None,
                   poll_jitter: float | None) -> dict:
    from pumpwatch.watcher import ListingWatcher
    from recorder.config import Config
    from recorder.store.embedded import EmbeddedStore

    upbit_cfg = {"api_base": base_url, "announcements_base": base_url}
    if poll_interval:
        upbit_cfg["poll_interval"] = ms(poll_interval)
    if poll_jitter is not None:
        upbit_cfg["poll_jitter"] = ms(poll_jitter)
    config = Config.model_validate({"data_dir": str(data_dir), "upbit": upbit_cfg})
    store = EmbeddedStore(data_dir / "detect.sqlite")
    triggered: dict[int, tuple[int, int]] = {}
    """notice id → (trigger time, start of the poll that found it), ns"""
    arrived = asyncio.Event()

    def on_trigger(trigger) -> None:
        triggered[trigger.notice_id] = (time.time_ns(), watcher.poll_started_ns)
        arrived.set()

    watcher = ListingWatcher(config, store, on_trigger)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        while watcher.polls < 1:  # the catch-up pass is done, regular polling has begun
            await asyncio.sleep(0.05)
        rng = random.Random(3)
        interval, jitter = config.upbit.poll_interval, config.upbit.poll_jitter
        rows = []
        for title in random_titles(n, seed=11):
            await asyncio.sleep(rng.uniform(0, interval + jitter))
            arrived.clear()
            notice_id, published = await asyncio.to_thread(upbit.publish, title)
            await asyncio.wait_for(arrived.wait(), timeout=10 * (interval + jitter) + 10)
            detected, poll = triggered[notice_id]
            rows.append({"latency_ms": (detected - published) / MS, "wait_ms": max(0, poll - published) / MS,
                         "processing_ms": (detected - poll) / MS})
    finally:
        stop.set()
        await task
        store.close()
    excess = [r["latency_ms"] - interval * 1000 for r in rows]
    # the longest wait the watcher's own Backoff can choose between two polls (jitter at its extremes)
    b = watcher.backoff
    longest = max(type(b)(b.interval, b.max_interval, b.jitter, rand=lambda r=r: r).next_delay() for r in (0.0, 0.5, 1 - 1e-9))
    worst = (longest - interval) * 1000 + max(r["processing_ms"] for r in rows)
    return {
        "notices": n, "poll_interval_s": interval, "poll_jitter_s": jitter,
        "note": ("latency − interval is at most (longest wait the Backoff can choose − interval) + processing "
                 "(worst_case_minus_interval_ms); the observed max also depends on the random jitter draws"),
        "latency_ms": summary([r["latency_ms"] for r in rows], 1),
        "latency_minus_interval_ms": summary(excess, 1),
        "wait_for_poll_ms": summary([r["wait_ms"] for r in rows], 1),
        "processing_ms": summary([r["processing_ms"] for r in rows], 1),
        "longest_poll_wait_s": round(longest, 3),
        "worst_case_minus_interval_ms": round(worst, 1),
        "targets": {
            "max_latency_minus_interval_lt_100ms": max(excess) < 100,
            "processing_max_lt_100ms": max(r["processing_ms"] for r in rows) < 100,
            "worst_case_by_design_lt_100ms": worst < 100,
        },
    }


def run(quick: bool = False, notices: int | None = None, poll_interval: float | None = None, poll_jitter: float | None = None,
        log=print) -> dict:
    n = notices or (6 if quick else 20)
    upbit = _UpbitThread()
    base_url = upbit.start()
    try:
        with tempfile.TemporaryDirectory(prefix="pumpwatch-bench-detect-") as tmp:
            log(f"[detect] {n} notices against the watcher ...")
            return asyncio.run(_measure(n, base_url, upbit, Path(tmp), poll_interval, poll_jitter))
    finally:
        upbit.stop()
