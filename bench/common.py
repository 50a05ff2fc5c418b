"""Shared pieces of the benchmarks: machine facts, medians, the simulated universe, process helpers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

KRW_COINS = ("BTC", "ETH")
"""what the fake Upbit lists in KRW: the universe leaves these two out, as in production."""
SYMBOLS_PER_MARKET = 475
SYNTHETIC = SYMBOLS_PER_MARKET + len(KRW_COINS) - 4
"""synthetic coins per market: 4 fixed coins + 473 synthetic − BTC, ETH = 475 recorded per market, 5,700 in all."""
SEED = 11


def machine_info() -> dict:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    import sqlite3
    import subprocess

    git = {}
    with contextlib.suppress(Exception):  # read-only git queries: which code was measured
        root = Path(__file__).resolve().parent.parent
        git["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                       timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.splitlines()
        git["modified"] = [line[3:] for line in status]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": mem_gib,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "git": git,
    }


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def summary(values: Iterable[float], digits: int = 1) -> dict:
    """median, min, max and every run, rounded."""
    values = [float(v) for v in values]
    if not values:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": [round(v, digits) for v in values]}


def quiet_logging() -> None:
    """Benchmarks print their own table; the library's INFO lines would drown it (errors still show)."""
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("recorder", "pumpwatch", "simulator", "cryptofeed", "aiohttp", "websockets", "extractor", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)


def rss_kib(pid: int | None = None) -> int:
    """Resident set size of a process in KiB (from /proc)."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds a process has used (from /proc), including its threads."""
    with open(f"/proc/{pid or os.getpid()}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def simulated_universe(symbols: int = SYNTHETIC, markets: list[str] | None = None, seed: int = SEED):
    """The universe the recorder would build against the simulator (real REST fetch and instrument parsers)."""
    from recorder.markets import MARKETS
    from recorder.record import fetch_universe
    from recorder.tls import client_ssl_context
    from simulator.exchanges import ExchangeSimulator
    from simulator.upbit import FakeUpbit
    from simulator.wiring import simulator_config

    specs = [s for s in MARKETS if markets is None or s.key in markets]
    with tempfile.TemporaryDirectory(prefix="pumpwatch-bench-universe-") as tmp:
        async with ExchangeSimulator([s.key for s in specs], symbols, 0.0, seed) as sim:
            upbit = FakeUpbit(krw_coins=KRW_COINS)
            await upbit.start()
            try:
                config = simulator_config(sim, upbit.base_url, Path(tmp), [s.key for s in specs])
                universe, _upbit_ok = await fetch_universe(config, specs, client_ssl_context(config.tls_ca_file))
                return universe
            finally:
                await upbit.stop()


def universe_sync(symbols: int = SYNTHETIC, markets: list[str] | None = None, seed: int = SEED):
    return asyncio.run(simulated_universe(symbols, markets, seed))


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start

