"""Run the exchange simulator and the fake Upbit on a background event loop, for tests that start real processes."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from pathlib import Path

import yaml

from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import merge, simulator_overrides


class BackgroundSimulators:
    def __init__(self, markets: list[str] | None = None, **sim_kwargs) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.markets = markets
        self.sim = ExchangeSimulator(markets=markets, **sim_kwargs)
        self.upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
        self.call(self.sim.start())
        self.call(self.upbit.start())

    def call(self, coroutine):
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=60)

    def run(self, function, *args):
        """Call a plain simulator method on its own loop thread."""

        async def invoke():
            return function(*args)

        return self.call(invoke())

    def write_config(self, path: Path, data_dir: Path, **extra) -> Path:
        raw = {"data_dir": str(data_dir), "recorder": {"symbols_file": str(data_dir / "symbols.yaml")},
               "service": {"log_dir": str(data_dir / "logs"), "status_port": 0}}
        raw = merge(merge(raw, simulator_overrides(self.sim, self.upbit.base_url, self.markets)), extra)
        path.write_text(yaml.safe_dump(raw))
        return path

    def close(self) -> None:
        self.call(self.upbit.stop())
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
