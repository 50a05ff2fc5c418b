"""The exchange simulator and the recorder as two processes talking over real TLS websockets.

`LiveSession` starts the simulator (all 12 markets, 475 recorded symbols each, plus the fake Upbit)
in one process and the real `Recorder` (feeds → normalizer → writer → embedded store) in another;
the parent only orchestrates and reads /proc, so the two busy processes share the machine's cores.
The simulator starts paused: the recorder subscribes everything first, then trading is resumed.

`mode="baseline"` runs the same Recorder with the same feeds, but its per-trade callback only
counts (no normalizer, no writer, no store rows). `mode="service"` runs the whole `Service` instead
(ingest loop, control loop with the Upbit watcher and the scheduler, status thread), as `pumpwatch
run` does, recording each trigger instead of scheduling its extraction.
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
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import KRW_COINS, SEED, SYMBOLS_PER_MARKET, SYNTHETIC, cpu_seconds, quiet_logging, rss_kib

LISTING_TITLE = "테스트코인({coin}) KRW 마켓 디지털 자산 추가"


# --- the simulator process -------------------------------------------------------------------------


def simulator_main(pipe, symbols: int, rate: float, seed: int) -> None:
    """The simulator process: all markets and the fake Upbit, driven by commands over `pipe` (also used by `bench.soak`)."""
    quiet_logging()
    asyncio.run(_sim_async(pipe, symbols, rate, seed))


async def _sim_async(pipe, symbols: int, rate: float, seed: int) -> None:
    from simulator.exchanges import ExchangeSimulator
    from simulator.upbit import FakeUpbit

    sim = ExchangeSimulator(None, symbols, rate, seed, tick_interval=0.05, history_limit=50, truth_limit=0)  # counts only
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
                pipe.send({**sim.counts(), "at": time.monotonic()})
            elif command == "publish":
                at = time.time_ns()
                notice_id = upbit.publish(arg)
                pipe.send((notice_id, at))
            elif command == "disconnect":  # every market's sockets closed, upgrades refused for `arg` seconds
                for key in sim.markets:
                    await sim.disconnect(key, refuse_for=arg)
                pipe.send(time.monotonic())
            elif command == "krw":  # Upbit's KRW coins from now on
                upbit.set_krw_markets(arg)
                pipe.send(time.monotonic())
            elif command == "subscribed":  # the bases subscribed per market
                pipe.send({key: sorted({x.base for x in sim.instruments(key) if x.native in sim.subscribed(key)}) for key in sim.markets})
            elif command == "stop":
                break
    finally:
        await upbit.stop()
        await sim.stop()
        pipe.send("stopped")


def _upbit_main(pipe) -> None:
    quiet_logging()
    asyncio.run(_upbit_async(pipe))


async def _upbit_async(pipe) -> None:
    """The fake Upbit alone, as a remote server is: its answers do not wait for the simulator's busy loop."""
    from simulator.upbit import FakeUpbit

    upbit = FakeUpbit(krw_coins=KRW_COINS)
    await upbit.start()
    pipe.send(upbit.base_url)
    try:
        while (message := await asyncio.to_thread(pipe.recv))[0] == "publish":
            at = time.time_ns()
            pipe.send((upbit.publish(message[1]), at))
    finally:
        await upbit.stop()
        pipe.send("stopped")


# --- the recorder process --------------------------------------------------------------------------


class SimulatorEndpoints:
    """What `simulator_config` reads from a simulator, for a simulator living in another process."""

    def __init__(self, endpoints: dict, ca_file: str) -> None:
        self._endpoints = endpoints
        self.ca_file = ca_file

    def endpoint(self, key: str) -> tuple[str, str]:
        return tuple(self._endpoints[key])


def _recorder_main(pipe, samples, mode: str, sim_info: dict, data_dir: str, poll_interval: float | None) -> None:
    quiet_logging()
    main = _service_async if mode == "service" else _recorder_async
    asyncio.run(main(pipe, samples, mode, sim_info, Path(data_dir), poll_interval))


def _config(sim_info: dict, data_dir: Path, poll_interval: float | None):
    from simulator.wiring import simulator_config

    extra = {"upbit": {"poll_interval": f"{round(poll_interval * 1000)}ms"}} if poll_interval else {}
    return simulator_config(SimulatorEndpoints(sim_info["endpoints"], sim_info["ca_file"]), sim_info["upbit"], data_dir, **extra)


async def _report(samples, recorder, trades, extra) -> None:
    """Every 0.25 s, the recorder's counters to the parent (`extra()` adds what the mode has to say)."""
    while True:
        connected = recorder.coverage.connected()
        samples.put({"at": time.monotonic(), "trades": trades(), "rows_written": recorder.writer.stats.rows_written,
                     "backlog": recorder.writer.backlog(), "spool_files": len(recorder.writer.spool),
                     "symbols": sum(c["symbols"] for c in connected.values()),
                     "connections": sum(c["connections"] for c in connected.values()), **extra()})
        await asyncio.sleep(0.25)


def _final(recorder, store, trades: int) -> dict:
    status = recorder.status()
    return {
        "trades": trades,
        "stored": store.count_trades(),
        "rows_written": recorder.writer.stats.rows_written,
        "rows_lost": recorder.writer.stats.rows_lost,
        "batches_spooled": recorder.writer.stats.batches_spooled,
        "rejected": sum(m["rejected_total"] for m in status["markets"].values()),
        "message_errors": sum(sum(s.feeds.message_errors.values()) for s in recorder.states.values() if s.feeds),
    }


async def _recorder_async(pipe, samples, mode: str, sim_info: dict, data_dir: Path, poll_interval: float | None) -> None:
    from recorder.feeds.events import TradeCallback
    from recorder.markets import MARKETS
    from recorder.record import Recorder
    from recorder.store.embedded import EmbeddedStore
    from recorder.trade_path import MarketState

    config = _config(sim_info, data_dir, poll_interval)
    store = EmbeddedStore(data_dir / "bench.sqlite")
    counter = [0]

    def counting(state: MarketState) -> TradeCallback:
        async def on_trade(trade, receipt_timestamp: float) -> None:
            counter[0] += 1

        return on_trade

    # baseline: the same recorder and feeds, a per-trade callback that does nothing but count
    recorder = Recorder(config, store, list(MARKETS), trade_callback=counting if mode == "baseline" else None)
    await recorder.start()

    def trades() -> int:
        return counter[0] if mode == "baseline" else sum(s.trades for s in recorder.states.values())

    reporter = asyncio.create_task(_report(samples, recorder, trades, dict))
    await asyncio.to_thread(pipe.recv)  # "stop"
    reporter.cancel()
    await asyncio.gather(reporter, return_exceptions=True)
    await recorder.stop(timeout=120)
    pipe.send(_final(recorder, store, trades()))
    store.close()


async def _service_async(pipe, samples, mode: str, sim_info: dict, data_dir: Path, poll_interval: float | None) -> None:
    from pumpwatch.service import Service
    from recorder.markets import MARKETS

    triggers: list[tuple[int, int, str, int]] = []

    class BenchService(Service):
        def schedule_extraction(self, trigger) -> None:
            """Record the detection (and the start of the poll that found it); extraction is benchmark 3's business."""
            triggers.append((time.time_ns(), trigger.notice_id, trigger.coin, self.watcher.poll_started_ns))

    service = BenchService(_config(sim_info, data_dir, poll_interval), list(MARKETS))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(install_signals=False, ready=ready))
    await ready.wait()
    recorder = service.recorder
    sent = [0]

    def extra() -> dict:
        new, sent[0] = triggers[sent[0]:], len(triggers)
        return {"triggers": new, "status_port": service.status_server.port}

    reporter = asyncio.create_task(_report(samples, recorder, lambda: sum(s.trades for s in recorder.states.values()), extra))
    await asyncio.to_thread(pipe.recv)  # "stop"
    reporter.cancel()
    await asyncio.gather(reporter, return_exceptions=True)
    service.request_stop()
    await task
    final = _final(recorder, service.store, sum(s.trades for s in recorder.states.values()))
    pipe.send({**final, "triggers": triggers})


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
    poll_interval: float | None = None
    symbols: int = SYNTHETIC
    samples: list[Sample] = field(default_factory=list)
    triggers: list[tuple[int, int, str, int]] = field(default_factory=list)
    """mode "service": (trigger time ns, notice id, coin, start of the poll that found it ns)"""
    status_port: int | None = None
    """mode "service": the service's status endpoint"""
    upbit_apart: bool = False
    """the fake Upbit in a process of its own (else on the simulator's loop, which trading keeps busy)"""

    def __enter__(self) -> LiveSession:
        ctx = mp.get_context("spawn")
        self._tmp = tempfile.mkdtemp(prefix="pumpwatch-bench-live-")
        self._sim_pipe, child = ctx.Pipe()
        self.sim = ctx.Process(target=simulator_main, args=(child, self.symbols, self.rate, SEED), name="bench-sim")
        self.sim.start()
        if not self._sim_pipe.poll(120):
            raise RuntimeError("simulator did not start")
        self.sim_info = self._sim_pipe.recv()
        self.upbit = None
        if self.upbit_apart:
            self._upbit_pipe, child = ctx.Pipe()
            self.upbit = ctx.Process(target=_upbit_main, args=(child,), name="bench-upbit")
            self.upbit.start()
            if not self._upbit_pipe.poll(60):
                raise RuntimeError("fake Upbit did not start")
            self.sim_info["upbit"] = self._upbit_pipe.recv()
        self._rec_pipe, child = ctx.Pipe()
        self._samples = ctx.Queue()
        self.rec = ctx.Process(target=_recorder_main, name="bench-recorder",
                               args=(child, self._samples, self.mode, self.sim_info, self._tmp, self.poll_interval))
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
        if self.upbit is not None:
            with contextlib.suppress(Exception):
                self._upbit_pipe.send(("stop", None))
                self._upbit_pipe.poll(30)
        for proc in (self.rec, self.sim, *([self.upbit] if self.upbit is not None else [])):
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

    def counts(self) -> dict:
        """The simulator's trades `generated` and `sent` per market, and when it counted them (`at`, monotonic)."""
        return self._sim("counts")

    def sent(self) -> int:
        return sum(self.counts()["sent"].values())

    def publish(self, title: str) -> tuple[int, int]:
        """Publish a notice on the fake Upbit; returns its id and the publish time (ns)."""
        if self.upbit is None:
            return self._sim("publish", title)
        self._upbit_pipe.send(("publish", title))
        return self._upbit_pipe.recv()

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
            self.status_port = report.get("status_port", self.status_port)
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
        self.triggers += [t for t in self.final.get("triggers", []) if t not in self.triggers]
        return self.final


def random_titles(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [LISTING_TITLE.format(coin=f"C{rng.randrange(1, 9999):04d}") for _ in range(n)]
