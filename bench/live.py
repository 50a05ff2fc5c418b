"""The exchange simulator and the recorder as two processes talking over real TLS websockets.

`LiveSession` starts the simulator (all 12 markets, 475 recorded symbols each, plus the fake Upbit)
in one process and the real `Recorder` (feeds → normalizer → writer → embedded store) in another;
the parent only orchestrates and reads /proc, so the two busy processes share the machine's cores.
The simulator starts paused: the recorder subscribes everything first, then trading is resumed.

`mode="baseline"` runs the same Recorder with the same feeds, but its per-trade callback only
counts (no normalizer, no writer, no store rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import KRW_COINS, SEED, SYMBOLS_PER_MARKET, SYNTHETIC, cpu_seconds, quiet_logging, rss_kib

LISTING_TITLE = "테스트코인({coin}) KRW 마켓 디지털 자산 추가"


# --- the simulator process -------------------------------------------------------------------------


def _sim_main(pipe, symbols: int, rate: float, seed: int) -> None:
    quiet_logging()
    asyncio.run(_sim_async(pipe, symbols, rate, seed))


async def _sim_async(pipe, symbols: int, rate: float, seed: int) -> None:
    from recorder.simulator.exchanges import ExchangeSimulator
    from recorder.simulator.upbit import FakeUpbit

    sim = ExchangeSimulator(None, symbols, rate, seed, tick_interval=0.05, history_limit=50, truth_limit=0)
    sent: Counter[str] = Counter()
    generated: Counter[str] = Counter()

    def on_sent(trades) -> None:  # the truth log, counting instead of keeping records
        for trade in trades:
            if not trade.sent:
                trade.sent = True
                sent[trade.listing.key] += 1

    def on_generated(trade) -> None:
        generated[trade.listing.key] += 1

    sim._truth.sent = on_sent
    sim._truth.generated = on_generated
    await sim.start()
    sim.pause()
    upbit = FakeUpbit(krw_coins=KRW_COINS)
    await upbit.start()
    pipe.send({"endpoints": {key: sim.endpoint(key) for key in sim.markets}, "ca_file": str(sim.ca_file),
               "upbit": upbit.base_url, "pid": os.getpid()})
    try:
        while True:
            command, arg = await asyncio.to_thread(pipe.recv)
            if command == "resume":
                sim.resume()
                pipe.send(time.monotonic())
            elif command == "pause":
                sim.pause()
                pipe.send(time.monotonic())
            elif command == "counts":
                pipe.send({"sent": dict(sent), "generated": dict(generated), "at": time.monotonic()})
            elif command == "publish":
                at = time.time_ns()
                notice_id = upbit.publish(arg)
                pipe.send((notice_id, at))
            elif command == "stop":
                break
    finally:
        await upbit.stop()
        await sim.stop()
        pipe.send("stopped")


# --- the recorder process --------------------------------------------------------------------------


class _Endpoints:
    """What `simulator_config` reads from a simulator, for a simulator living in another process."""

    def __init__(self, endpoints: dict, ca_file: str) -> None:
        self._endpoints = endpoints
        self.ca_file = ca_file

    def endpoint(self, key: str) -> tuple[str, str]:
        return tuple(self._endpoints[key])


def _recorder_main(pipe, samples, mode: str, sim_info: dict, data_dir: str, watch: bool, poll_interval: float | None) -> None:
    quiet_logging()
    asyncio.run(_recorder_async(pipe, samples, mode, sim_info, Path(data_dir), watch, poll_interval))


async def _recorder_async(pipe, samples, mode: str, sim_info: dict, data_dir: Path, watch: bool, poll_interval: float | None) -> None:
    from recorder.markets import MARKETS
    from recorder.record import Recorder
    from recorder.simulator.wiring import simulator_config
    from recorder.store.embedded import EmbeddedStore
    from recorder.watcher import ListingWatcher

    extra = {"upbit": {"poll_interval": f"{round(poll_interval * 1000)}ms"}} if poll_interval else {}
    config = simulator_config(_Endpoints(sim_info["endpoints"], sim_info["ca_file"]), sim_info["upbit"], data_dir, **extra)
    store = EmbeddedStore(data_dir / "bench.sqlite")
    recorder = Recorder(config, store, list(MARKETS))
    counter = [0]
    if mode == "baseline":
        def noop_factory(state):
            async def on_trade(trade, receipt_timestamp: float) -> None:
                counter[0] += 1
            return on_trade

        recorder._on_trade = noop_factory  # same feeds, a callback that does nothing but count
    triggers: list[tuple[int, int, str]] = []
    stop_watch = asyncio.Event()
    tasks = []
    await recorder.start()
    if watch:
        watcher = ListingWatcher(config, store, lambda t: triggers.append((time.time_ns(), t.notice_id, t.coin)))
        tasks.append(asyncio.create_task(watcher.run(stop_watch)))

    def trades() -> int:
        return counter[0] if mode == "baseline" else sum(s.trades for s in recorder.states.values())

    async def report() -> None:
        sent_triggers = 0
        while True:
            connected = recorder.coverage.connected()
            samples.put({"at": time.monotonic(), "trades": trades(), "rows_written": recorder.writer.stats.rows_written,
                         "backlog": recorder.writer.backlog(), "spool_files": len(recorder.writer.spool),
                         "symbols": sum(c["symbols"] for c in connected.values()),
                         "connections": sum(c["connections"] for c in connected.values()),
                         "triggers": triggers[sent_triggers:]})
            sent_triggers = len(triggers)
            await asyncio.sleep(0.25)

    tasks.append(asyncio.create_task(report()))
    await asyncio.to_thread(pipe.recv)  # "stop"
    stop_watch.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await recorder.stop(timeout=120)
    status = recorder.status()
    pipe.send({
        "trades": trades(),
        "stored": store.count_trades(),
        "rows_written": recorder.writer.stats.rows_written,
        "rows_lost": recorder.writer.stats.rows_lost,
        "batches_spooled": recorder.writer.stats.batches_spooled,
        "rejected": sum(m["rejected_total"] for m in status["markets"].values()),
        "message_errors": sum(sum(s.feeds.message_errors.values()) for s in recorder.states.values() if s.feeds),
        "triggers": triggers,
    })
    store.close()


# --- orchestration ---------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    trades: int
    rows_written: int
    backlog: int
    rss_kib: int
    recorder_cpu_s: float
    sim_cpu_s: float


@dataclass
class LiveSession:
    mode: str
    rate: float
    """trades per second per simulated symbol (offered load)."""
    watch: bool = False
    poll_interval: float | None = None
    symbols: int = SYNTHETIC
    samples: list[Sample] = field(default_factory=list)
    triggers: list[tuple[int, int, str]] = field(default_factory=list)

    def __enter__(self) -> LiveSession:
        ctx = mp.get_context("spawn")
        self._tmp = tempfile.mkdtemp(prefix="pumpwatch-bench-live-")
        self._sim_pipe, child = ctx.Pipe()
        self.sim = ctx.Process(target=_sim_main, args=(child, self.symbols, self.rate, SEED), name="bench-sim")
        self.sim.start()
        if not self._sim_pipe.poll(120):
            raise RuntimeError("simulator did not start")
        self.sim_info = self._sim_pipe.recv()
        self._rec_pipe, child = ctx.Pipe()
        self._samples = ctx.Queue()
        self.rec = ctx.Process(target=_recorder_main, name="bench-recorder",
                               args=(child, self._samples, self.mode, self.sim_info, self._tmp, self.watch, self.poll_interval))
        self.rec.start()
        self.final: dict | None = None
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            if self.final is None and self.rec.is_alive():
                self._rec_pipe.send("stop")
                self._rec_pipe.poll(120)
        with contextlib.suppress(Exception):
            self._sim_pipe.send(("stop", None))
            self._sim_pipe.poll(30)
        for proc in (self.rec, self.sim):
            proc.join(30)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        shutil.rmtree(self._tmp, ignore_errors=True)

    # sim commands
    def _sim(self, command: str, arg=None):
        self._sim_pipe.send((command, arg))
        return self._sim_pipe.recv()

    def resume(self) -> float:
        return self._sim("resume")

    def pause(self) -> float:
        return self._sim("pause")

    def sent(self) -> int:
        return sum(self._sim("counts")["sent"].values())

    def publish(self, title: str) -> tuple[int, int]:
        return self._sim("publish", title)

    # recorder samples
    def poll(self, wait: float = 0.0) -> dict | None:
        """Drain the recorder's reports; returns the latest (and records a sample with /proc figures)."""
        latest = None
        deadline = time.monotonic() + wait
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                report = self._samples.get(timeout=timeout) if timeout > 0 else self._samples.get_nowait()
            except Exception:
                break
            latest = report
            self.triggers += report.get("triggers", [])
            if timeout <= 0 and self._samples.empty():
                break
        if latest is not None:
            self.samples.append(Sample(latest["at"], latest["trades"], latest["rows_written"], latest["backlog"],
                                       rss_kib(self.rec.pid), cpu_seconds(self.rec.pid), cpu_seconds(self.sim.pid)))
        return latest

    def wait_subscribed(self, timeout: float = 120.0, expected: int = 12 * SYMBOLS_PER_MARKET) -> float:
        """Seconds until the recorder reports every symbol subscribed."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            report = self.poll(wait=0.5)
            if report and report["symbols"] >= expected:
                return time.monotonic() - start
        raise RuntimeError(f"recorder subscribed {report and report['symbols']} of {expected} symbols in {timeout:.0f}s")

    def watch_for(self, seconds: float, interval: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll(wait=min(interval, max(0.0, end - time.monotonic())))

    def settle(self, timeout: float = 60.0, quiet_s: float = 1.5) -> None:
        """Wait until the recorder's trade count stops moving (the sim paused) and its writer is idle."""
        last, since = None, time.monotonic()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            report = self.poll(wait=0.3)
            if report is None:
                continue
            state = (report["trades"], report["rows_written"], report["backlog"])
            if state != last:
                last, since = state, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return

    def stop_recorder(self) -> dict:
        self._rec_pipe.send("stop")
        if not self._rec_pipe.poll(180):
            raise RuntimeError("recorder did not stop")
        self.final = self._rec_pipe.recv()
        self.triggers += [t for t in self.final["triggers"] if t not in self.triggers]
        return self.final


def random_titles(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [LISTING_TITLE.format(coin=f"C{rng.randrange(1, 9999):04d}") for _ in range(n)]
