"""`pumpwatch demo`: from a KRW listing notice to an analysed event folder, offline, in under a minute.

It starts the exchange simulator (12 markets) and the fake Upbit, runs the real service against
them on an embedded store in a temporary folder, publishes a listing notice for a simulated coin
whose price jumps on different venues after different delays (one venue loses its connection
inside the window), and waits for the service to detect, extract and analyse it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pumpwatch.service import Service
from recorder.clock import S
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import simulator_config

COIN = "C0003"
TITLE = f"데모코인({COIN}) KRW, USDT 마켓 디지털 자산 추가"


@dataclass(frozen=True)
class Reaction:
    market: str
    delay_s: float | None
    """seconds after the announcement the venue jumps; None: it never reacts"""
    pct: float


SCENARIO: tuple[Reaction, ...] = (
    Reaction("binance.futures", 0.8, 28.0),
    Reaction("bybit.futures", 2.3, 24.0),
    Reaction("okx.futures", 3.6, 22.0),
    Reaction("binance.spot", 4.4, 25.0),
    Reaction("gate.futures", 6.0, 18.0),
    Reaction("bybit.spot", 7.2, 20.0),
    Reaction("okx.spot", 8.5, 19.0),
    Reaction("kucoin.futures", 10.0, 15.0),
    Reaction("gate.spot", 11.5, 14.0),
    Reaction("phemex.futures", 13.0, 12.0),
    Reaction("kucoin.spot", 5.0, 16.0),
    Reaction("phemex.spot", None, 0.0),
)
DEMO_PREFIX = "pwdemo_"
DISCONNECTED = "kucoin.spot"
"""this venue's connection drops 3 s after the announcement and is refused for 10 s; KuCoin's REST keeps only
its latest 100 trades, so the backfill cannot reach back to the start of the hole and the verdict stays `gap`"""


class DemoError(Exception):
    """The demo did not get its event (the service did not start, a timeout, a failed event): one line, no traceback."""


@dataclass
class DemoResult:
    event_dir: Path
    metadata: dict
    analysis: dict
    summary: str


async def _drive_coin(sim: ExchangeSimulator, announced_ns: int, stop: asyncio.Event) -> None:
    """About twenty trades a second of the demo coin on every market, following each venue's jump."""
    rng = random.Random(7)
    listings = {key: next(x for x in sim.instruments(key) if x.base == COIN) for key in (r.market for r in SCENARIO)}
    reactions = {r.market: r for r in SCENARIO}
    while not stop.is_set():
        now = time.time_ns()
        for key, listing in listings.items():
            reaction = reactions[key]
            jumped = reaction.delay_s is not None and now >= announced_ns + reaction.delay_s * S
            price = listing.ref_price * (1 + (reaction.pct / 100 if jumped else 0)) * (1 + rng.uniform(-0.002, 0.002))
            side = "buy" if rng.random() < (0.8 if jumped else 0.5) else "sell"
            amount = rng.uniform(20, 400) / listing.ref_price * (4 if jumped else 1)
            try:
                sim.publish(key, listing.native, listing.coin_price(listing.quantize_price(price)),
                            listing.coin_amount(listing.quantize_size(amount)), side)
            except (ValueError, KeyError):
                continue
        await asyncio.sleep(0.05)


async def _started(task: asyncio.Task, ready: asyncio.Event, timeout: float) -> None:
    """Wait until the service is ready; raise its own error if it ended first (a store it cannot open)."""
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait({waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        task.result()
    if waiter not in done:
        raise DemoError(f"the service did not start within {timeout:.0f} s; see the log above")


def demo_store(store: dict) -> dict:
    """The `store` config section the demo runs on: a QuestDB one gets a table namespace of the demo's own.

    The demo's tables are `<table_prefix>pwdemo_trades` and so on; each demo run starts them afresh,
    so a user's recorded tables are never written, and the last demo stays there to query.
    """
    if store.get("kind") != "questdb":
        return store
    questdb = dict(store.get("questdb", {}))
    questdb["table_prefix"] = questdb.get("table_prefix", "") + DEMO_PREFIX
    return {**store, "questdb": questdb}


def _fresh_demo_tables(config) -> list[str]:
    if config.store.kind != "questdb":
        return []
    from recorder.store.questdb import drop_namespace

    return drop_namespace(config.store.questdb.pg, config.store.questdb.table_prefix)


async def run_demo(workdir: Path, *, before_s: float = 20.0, after_s: float = 20.0, symbols: int = 30,
                   analysis: dict | None = None, store: dict | None = None,
                   progress: Callable[[str], None] = print) -> DemoResult:
    """Run the whole scenario in `workdir`; `symbols` simulated coins per market (at least 3: the demo coin is C0003).

    `analysis`: the `analysis` config section to use (thresholds); the defaults otherwise.
    `store`: the `store` config section (see `demo_store`); an embedded store in `workdir` otherwise.
    """
    if symbols < 3:
        raise ValueError("the demo needs at least 3 simulated coins per market")
    started = time.monotonic()

    def say(message: str) -> None:
        progress(f"[{time.monotonic() - started:5.1f}s] {message}")

    async with ExchangeSimulator(symbols=symbols, trades_per_second=1.0, seed=42) as sim:
        upbit = FakeUpbit(krw_coins=("BTC", "ETH", "XRP"))
        await upbit.start()
        say(f"exchange simulator: 12 markets, {symbols + 4} coins each; fake Upbit at {upbit.base_url}")
        config = simulator_config(sim, upbit.base_url, workdir, extraction={"before": f"{before_s}s", "after": f"{after_s}s",
                                                                            "settle": "1s"},
                                  upbit={"poll_interval": "1s", "poll_jitter": "100ms"}, service={"status_port": 0},
                                  **({"analysis": analysis} if analysis else {}), **({"store": demo_store(store)} if store else {}))
        if dropped := await asyncio.to_thread(_fresh_demo_tables, config):
            say(f"QuestDB: the previous demo's tables dropped ({', '.join(dropped)})")
        service = Service(config)
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(install_signals=False, ready=ready))
        stop_driver = asyncio.Event()
        driver = None
        try:
            await _started(task, ready, 60)
            if missing := await service.recorder.wait_carried(60):
                raise DemoError(f"the recorder did not subscribe every simulated market within 60 s: {missing}")
            where = (f"QuestDB tables {config.store.questdb.table_prefix}*" if config.store.kind == "questdb"
                     else str(workdir))
            say(f"service running: recording {service.recorder.universe.total} instruments into {where}")
            announced_ns = (time.time_ns() // S + round(before_s) + 1) * S  # Upbit stamps whole seconds
            for reaction in SCENARIO:
                if reaction.delay_s is not None:
                    sim.jump(COIN, reaction.pct, announced_ns + round(reaction.delay_s * S), reaction.market)
            driver = asyncio.create_task(_drive_coin(sim, announced_ns, stop_driver))
            say(f"recording the {before_s:.0f} s before the announcement...")
            await asyncio.sleep(max(0.0, (announced_ns - time.time_ns()) / S))
            # a folder used before holds the notice ids it saw: a new id, or the watcher would ignore the notice as seen
            seen = await asyncio.to_thread(service.store.seen_notice_ids)
            notice_id = upbit.publish(TITLE, at=datetime.fromtimestamp(announced_ns // S, tz=UTC), id=max(seen, default=0) + 1)
            say(f"Upbit publishes: {TITLE}")
            await asyncio.sleep(3.0)
            await sim.disconnect(DISCONNECTED, refuse_for=10.0)
            say(f"{DISCONNECTED} loses its connection (refused for 10 s)")
            wait_s = after_s + 60

            def mine(outcomes: list[dict]) -> list[dict]:
                """This run's outcomes: a used folder may hold an unfinished trigger of an earlier run, rescheduled at start."""
                return [outcome for outcome in outcomes if outcome["notice_id"] == notice_id]

            deadline = time.monotonic() + wait_s
            while not mine(service.events) and not mine(service.failures) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            if failed := mine(service.failures):
                raise DemoError(f"the event failed: {failed[0]['error']}")
            if not (events := mine(service.events)):
                raise DemoError(f"the service did not produce an event within {wait_s:.0f} s of the notice; see the log above")
        finally:
            stop_driver.set()
            service.request_stop()
            await task
            await upbit.stop()
            if driver is not None:
                await driver
    event_dir = Path(events[0]["folder"])
    from analysis.report import summary_table

    analysis = json.loads((event_dir / "analysis.json").read_text())
    metadata = json.loads((event_dir / "metadata.json").read_text())
    say(f"event folder ready: {event_dir}")
    return DemoResult(event_dir, metadata, analysis, summary_table(analysis))
