"""`pumpwatch demo`: from KRW listing notices to analysed event folders and the cross-event report, offline, in about a minute.

It starts the exchange simulator (12 markets) and the fake Upbit, runs the real service against
them on an embedded store in a temporary folder, publishes three listing notices for simulated coins
whose prices jump on different venues after different delays (a different venue leads each time; in
the last one a venue loses its connection inside the window), waits for the service to detect, extract
and analyse each, then writes the cross-event report (`pumpwatch report`) over the events folder.
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


@dataclass(frozen=True)
class Reaction:
    market: str
    delay_s: float | None
    """seconds after the announcement the venue jumps; None: it never reacts"""
    pct: float


def race(*markets: str, first_s: float, step_s: float) -> tuple[Reaction, ...]:
    """The venues in the order they jump (`step_s` apart, the first `first_s` after the notice), smaller jumps later;
    the last one never reacts."""
    return (*(Reaction(key, round(first_s + i * step_s, 3), 28.0 - 1.5 * i) for i, key in enumerate(markets[:-1])),
            Reaction(markets[-1], None, 0.0))


@dataclass(frozen=True)
class Listing:
    coin: str
    scenario: tuple[Reaction, ...]
    trades_per_s: float

    @property
    def title(self) -> str:
        return f"데모코인({self.coin}) KRW, USDT 마켓 디지털 자산 추가"


DISCONNECTED = "kucoin.spot"
DISCONNECT_AFTER_S, REFUSED_S = 1.0, 10.0
"""in the last listing this venue's connection drops 1 s after the notice (once the other windows have closed) and is
refused for 10 s; KuCoin's REST keeps only its latest 100 trades and the coin trades fast there, so the backfill cannot
reach back to the start of the hole and the verdict stays `gap`"""
LISTINGS: tuple[Listing, ...] = (
    Listing("C0003", race("binance.futures", "bybit.futures", "okx.futures", "binance.spot", "kucoin.spot", "gate.futures",
                               "bybit.spot", "okx.spot", "kucoin.futures", "gate.spot", "phemex.futures", "phemex.spot",
                               first_s=0.8, step_s=1.1), 10.0),
    Listing("C0005", race("okx.spot", "binance.futures", "gate.futures", "bybit.futures", "binance.spot", "okx.futures",
                               "kucoin.futures", "bybit.spot", "kucoin.spot", "phemex.futures", "gate.spot", "phemex.spot",
                               first_s=0.45, step_s=0.9), 10.0),
    Listing("C0007", race("bybit.futures", "binance.futures", "okx.futures", "okx.spot", "kucoin.spot", "binance.spot",
                               "gate.futures", "bybit.spot", "kucoin.futures", "phemex.futures", "gate.spot", "phemex.spot",
                               first_s=0.6, step_s=1.0), 40.0),
)
"""three listings, three leaders: binance futures, okx spot, bybit futures; announced at 0 s, 1 s and `after_s` + 1 s,
when the first two windows have closed, so that only the last one has the disconnect"""
DEMO_PREFIX = "pwdemo_"


class DemoError(Exception):
    """The demo did not get its event (the service did not start, a timeout, a failed event): one line, no traceback."""


@dataclass
class DemoEvent:
    coin: str
    event_dir: Path
    metadata: dict
    analysis: dict
    summary: str


@dataclass
class DemoResult:
    events: list[DemoEvent]
    """in the order of `LISTINGS`"""
    report_dir: Path
    report: str
    """report.md's venue table"""


async def _drive_coin(sim: ExchangeSimulator, listing: Listing, announced_ns: int, stop: asyncio.Event) -> None:
    """`listing.trades_per_s` trades a second of the coin on every market, following each venue's jump."""
    rng = random.Random(listing.coin)
    instruments = {r.market: next(x for x in sim.instruments(r.market) if x.base == listing.coin) for r in listing.scenario}
    reactions = {r.market: r for r in listing.scenario}
    while not stop.is_set():
        now = time.time_ns()
        for key, instrument in instruments.items():
            reaction = reactions[key]
            jumped = reaction.delay_s is not None and now >= announced_ns + reaction.delay_s * S
            price = instrument.ref_price * (1 + (reaction.pct / 100 if jumped else 0)) * (1 + rng.uniform(-0.002, 0.002))
            side = "buy" if rng.random() < (0.8 if jumped else 0.5) else "sell"
            amount = rng.uniform(20, 400) / instrument.ref_price * (4 if jumped else 1)
            try:
                sim.publish(key, instrument.native, instrument.coin_price(instrument.quantize_price(price)),
                            instrument.coin_amount(instrument.quantize_size(amount)), side)
            except (ValueError, KeyError):
                continue
        await asyncio.sleep(1 / listing.trades_per_s)


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


async def run_demo(workdir: Path, *, before_s: float = 10.0, after_s: float = 10.0, symbols: int = 30,
                   analysis: dict | None = None, store: dict | None = None,
                   progress: Callable[[str], None] = print) -> DemoResult:
    """Run the whole scenario in `workdir`; `symbols` simulated coins per market (at least 8: the demo coins are C0003…C0007).

    `analysis`: the `analysis` config section to use (thresholds); the defaults otherwise.
    `store`: the `store` config section (see `demo_store`); an embedded store in `workdir` otherwise.
    """
    if symbols < 8:
        raise ValueError("the demo needs at least 8 simulated coins per market")
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
        drivers: list[asyncio.Task] = []
        try:
            await _started(task, ready, 60)
            if missing := await service.recorder.wait_carried(60):
                raise DemoError(f"the recorder did not subscribe every simulated market within 60 s: {missing}")
            where = (f"QuestDB tables {config.store.questdb.table_prefix}*" if config.store.kind == "questdb"
                     else str(workdir))
            say(f"service running: recording {service.recorder.universe.total} instruments into {where}")
            first_ns = (time.time_ns() // S + round(before_s) + 1) * S  # Upbit stamps whole seconds
            announced = [first_ns, first_ns + S, first_ns + (round(after_s) + 1) * S]
            for listing, announced_ns in zip(LISTINGS, announced, strict=True):
                for reaction in listing.scenario:
                    if reaction.delay_s is not None:
                        sim.jump(listing.coin, reaction.pct, announced_ns + round(reaction.delay_s * S), reaction.market)
                drivers.append(asyncio.create_task(_drive_coin(sim, listing, announced_ns, stop_driver)))
            say(f"recording the {before_s:.0f} s before the first announcement...")
            # a folder used before holds the notice ids it saw: new ids, or the watcher would ignore the notices as seen
            seen = await asyncio.to_thread(service.store.seen_notice_ids)
            notice_ids = []
            for i, (listing, announced_ns) in enumerate(zip(LISTINGS, announced, strict=True)):
                await asyncio.sleep(max(0.0, (announced_ns - time.time_ns()) / S))
                notice_ids.append(upbit.publish(listing.title, at=datetime.fromtimestamp(announced_ns // S, tz=UTC),
                                                id=max(seen, default=0) + 1 + i))
                say(f"Upbit publishes: {listing.title} ({_leader(listing)} will move first)")
            await asyncio.sleep(DISCONNECT_AFTER_S)
            await sim.disconnect(DISCONNECTED, refuse_for=REFUSED_S)
            say(f"{DISCONNECTED} loses its connection (refused for {REFUSED_S:.0f} s)")
            outcomes = await _outcomes(service, notice_ids, after_s + 60)
        finally:
            stop_driver.set()
            service.request_stop()
            await task
            await upbit.stop()
            await asyncio.gather(*drivers)
    from analysis.report import summary_table

    events = []
    for listing, outcome in zip(LISTINGS, outcomes, strict=True):
        event_dir = Path(outcome["folder"])
        analysis = json.loads((event_dir / "analysis.json").read_text())
        metadata = json.loads((event_dir / "metadata.json").read_text())
        say(f"event folder ready: {event_dir}")
        events.append(DemoEvent(listing.coin, event_dir, metadata, analysis, summary_table(analysis)))
    report_dir, report = await asyncio.to_thread(_report, config.events_path, workdir / "report")
    say(f"cross-event report written: {report_dir}")
    return DemoResult(events, report_dir, report)


def _leader(listing: Listing) -> str:
    return min((r for r in listing.scenario if r.delay_s is not None), key=lambda r: r.delay_s).market


async def _outcomes(service: Service, notice_ids: list[int], wait_s: float) -> list[dict]:
    """The event of each notice, in order, once all are there; a failed one or a timeout is a DemoError.

    Only this run's notices count: a used folder may hold an unfinished trigger of an earlier run, rescheduled at start.
    """
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if failed := [f for f in service.failures if f["notice_id"] in notice_ids]:
            raise DemoError(f"the event of {failed[0]['coin']} failed: {failed[0]['error']}")
        done = {e["notice_id"]: e for e in service.events if e["notice_id"] in notice_ids}
        if len(done) == len(notice_ids):
            return [done[notice_id] for notice_id in notice_ids]
        await asyncio.sleep(0.5)
    raise DemoError(f"the service did not produce every event within {wait_s:.0f} s of the last notice; see the log above")


def _report(events_dir: Path, out_dir: Path) -> tuple[Path, str]:
    """`pumpwatch report` over the events folder (earlier demo runs in a used folder included)."""
    from analysis.catalog import ANALYSED, scan_events
    from analysis.study import write_report

    result = write_report([e.analysis for e in scan_events(events_dir) if e.status == ANALYSED], out_dir)
    return out_dir, result["markdown"].split("\n\nHow each number", 1)[0]
