"""Benchmark 1: ingest capacity without the network.

Real-format frames of all 12 markets (made by the simulator's wire encoders, `bench.frames`) are
fed straight into the `message_handler` of the real cryptofeed feed instances the recorder builds
(`MarketFeeds.build_for_replay`: our subclass with its rejection/pong checks, symbols pre-set,
sharded as in production, each connection wrapped as a live run wraps it, none opened), with the
receipt time a live connection would pass. Trades then go through the recorder's own per-trade
callback (`Recorder.trade_path(state).on_trade`: Normalizer → StoreWriter.add) and the writer
thread into a fresh embedded SQLite store.

Baseline: the same frames through the same feeds into a callback that does nothing. "nostore": the whole pipeline
(normalizer, writer, its thread) with a store whose `write_trades` drops the rows, so pipeline / nostore is the store's
own share of the cost, measured in the same run.

Each measured run is a fresh forked process (or two, for the two-core layout), so no run inherits
another's heap, caches or store; frames are generated once in the parent and shared copy-on-write.
"""

from __future__ import annotations

import asyncio
import gc
import marshal
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

from bench.common import SEED, SYNTHETIC, median, summary, universe_sync
from bench.frames import Frames, generate
from recorder.feeds.market import MarketFeeds
from recorder.sinks import Sink

MODES = ("baseline", "nostore", "pipeline")


# --- inside a worker process -------------------------------------------------------------------------


def build_routes(spec, instruments, on_trade) -> tuple[MarketFeeds, dict[str, tuple]]:
    """The market's production feeds, built for replay, and native symbol → (message_handler, connection) that carries it."""
    feeds = MarketFeeds(spec, instruments, on_trade=on_trade, max_symbols_per_connection=100)
    native = {i.symbol: i.native for i in feeds.instruments.values()}
    return feeds, {native[symbol]: (c.handler, c.conn) for c in feeds.build_for_replay() for symbol in c.symbols}


def replay_plan(routes: dict[str, tuple[MarketFeeds, dict[str, tuple]]], frames: Frames) -> list[tuple]:
    """(handler, connection, frame) of every frame of the routed markets, in arrival order."""
    return [(*routes[key][1][native], text) for key, native, text in frames.items if key in routes]


async def replay(plan: list[tuple]) -> None:
    """Every frame into its feed, stamped with the time it is handed over, as a live connection stamps it."""
    clock = time.time
    for handler, conn, text in plan:
        await handler(text, conn, clock())


async def _noop(trade, receipt_timestamp: float) -> None:
    return None


def _discarding_store(path: str):
    """An embedded store whose `write_trades` drops the rows: the "nostore" mode's store."""
    from recorder.store.embedded import EmbeddedStore

    class DiscardingStore(EmbeddedStore):
        def write_trades(self, rows) -> None:
            return None

    return DiscardingStore(path)


def worker(mode: str, markets: list[str], universe, frames: Frames, store_path: str, barrier, results) -> None:
    """One replaying process: build feeds (and the recorder's pipeline), wait for the others, replay, drain."""
    from bench.common import quiet_logging
    from recorder.config import Config
    from recorder.markets import BY_KEY
    from recorder.normalize import Normalizer
    from recorder.record import Recorder
    from recorder.store.embedded import EmbeddedStore
    from recorder.trade_path import MarketState

    quiet_logging()
    recorder = None
    states: dict[str, MarketState] = {}
    callbacks = {}
    if mode in ("pipeline", "nostore"):
        store = EmbeddedStore(store_path) if mode == "pipeline" else _discarding_store(store_path)
        config = Config.model_validate({"data_dir": str(Path(store_path).parent / f"data-{os.getpid()}")})
        recorder = Recorder(config, store, [BY_KEY[k] for k in markets], ssl=False)
        for key in markets:
            states[key] = MarketState(BY_KEY[key], Normalizer(BY_KEY[key], universe.instruments(key)))
            callbacks[key] = recorder.trade_path(states[key]).on_trade
    else:
        callbacks = dict.fromkeys(markets, _noop)
    routes = {key: build_routes(BY_KEY[key], universe.instruments(key), callbacks[key]) for key in markets}
    plan = replay_plan(routes, frames)
    trades = sum(v for k, v in frames.trades.items() if k in routes)
    if recorder is not None:
        recorder.writer.start()

    gc.freeze()  # as `Recorder.start` does once its feeds are built: the collector leaves startup objects (and the frames) alone
    barrier.wait()
    start, cpu0 = time.monotonic(), time.process_time()
    asyncio.run(replay(plan))
    parsed = time.monotonic()
    written_at_parse_end = recorder.writer.stats.rows_written if recorder is not None else 0
    if recorder is not None:
        recorder.writer.stop(timeout=600)
    stored = time.monotonic()
    out = {"markets": markets, "trades": trades, "frames": len(plan), "start": start, "parsed": parsed, "stored": stored,
           "cpu_s": time.process_time() - cpu0}
    if recorder is not None:
        out["accepted"] = sum(s.normalizer.accepted for s in states.values())
        out["rejected"] = sum(sum(s.normalizer.rejected.values()) for s in states.values())
        out["rows_written"] = recorder.writer.stats.rows_written
        out["written_at_parse_end"] = written_at_parse_end
        out["rows_lost"] = recorder.writer.stats.rows_lost
        out["spooled"] = recorder.writer.stats.batches_spooled
        out["message_errors"] = sum(sum(feeds.message_errors.values()) for feeds, _ in routes.values())
    results.put(out)


# --- prototype: parse in one process, write in another (not what the library does today) ------------------


class PipeWriter:
    """The parsing process's `RowWriter` (what `TradePath` is given in place of `StoreWriter`): batches of
    trade rows (all a `TradePath` hands it) go to the writer process.

    A batch travels as one `marshal` blob of plain tuples: pickling 5,000 NamedTuples one by one costs
    the parsing process more than the parsing (measured: 70k/s with pickle, see bench/README.md).
    """

    def __init__(self, conn, flush_rows: int = 5000) -> None:
        import queue as queue_module
        import threading

        self.flush_rows = flush_rows
        self.rows: list = []
        self.outbox: queue_module.SimpleQueue = queue_module.SimpleQueue()

        def sender() -> None:  # blocks on the pipe without the GIL, so the event loop never waits on the writer
            while True:
                blob = self.outbox.get()
                conn.send_bytes(blob)
                if not blob:
                    return

        self.sender = threading.Thread(target=sender, daemon=True)
        self.sender.start()

    def add(self, sink: Sink, row: tuple) -> None:
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.outbox.put(marshal.dumps([tuple(row) for row in self.rows]))
            self.rows = []

    def close(self) -> None:
        """Send what is left and the end mark; return once the sender has written everything to the pipe."""
        self.flush()
        self.outbox.put(b"")
        self.sender.join()


def split_parser(markets: list[str], universe, frames: Frames, conn, barrier, results) -> None:
    """Feeds → `TradePath.on_trade` (Normalizer) → a `PipeWriter` → batches of rows over a pipe to `split_writer`.

    Gaps the trade path finds (jumps in sequential trade ids) are only counted: no repairer in this process.
    """
    from bench.common import quiet_logging
    from recorder.markets import BY_KEY
    from recorder.normalize import Normalizer
    from recorder.trade_path import MarketState, TradePath

    quiet_logging()
    writer = PipeWriter(conn)
    gaps: list = []
    states = {key: MarketState(BY_KEY[key], Normalizer(BY_KEY[key], universe.instruments(key))) for key in markets}
    routes = {key: build_routes(BY_KEY[key], universe.instruments(key), TradePath(state, writer, gaps.append).on_trade)
              for key, state in states.items()}
    plan = replay_plan(routes, frames)

    gc.freeze()  # as `Recorder.start` does once its feeds are built: the collector leaves startup objects (and the frames) alone
    barrier.wait()
    start, cpu0 = time.monotonic(), time.process_time()
    asyncio.run(replay(plan))
    writer.close()
    results.put({"role": "parser", "trades": sum(v for k, v in frames.trades.items() if k in routes), "frames": len(plan),
                 "start": start, "parsed": time.monotonic(), "cpu_s": time.process_time() - cpu0,
                 "rejected": sum(sum(s.normalizer.rejected.values()) for s in states.values()), "gaps": len(gaps),
                 "message_errors": sum(sum(feeds.message_errors.values()) for feeds, _ in routes.values())})


def split_writer(store_path: str, conn, barrier, results) -> None:
    """The only writer: `EmbeddedStore.write_trades` per batch, as the StoreWriter thread would call it.

    A reader thread empties the pipe into a local queue, so the parser never waits on a write.
    """
    import queue as queue_module
    import threading

    from recorder.store.embedded import EmbeddedStore

    store = EmbeddedStore(store_path)
    inbox: queue_module.SimpleQueue = queue_module.SimpleQueue()

    def reader() -> None:
        while blob := conn.recv_bytes():
            inbox.put(blob)
        inbox.put(None)

    threading.Thread(target=reader, daemon=True).start()
    barrier.wait()
    cpu0 = time.process_time()
    rows = 0
    while (blob := inbox.get()) is not None:
        batch = marshal.loads(blob)
        store.write_trades(batch)
        rows += len(batch)
    results.put({"role": "writer", "rows": rows, "stored": time.monotonic(), "cpu_s": time.process_time() - cpu0})


def run_split(universe, frames: Frames, workdir: Path) -> dict:
    from recorder.store.embedded import EmbeddedStore

    ctx = mp.get_context("fork")
    store_path = workdir / f"split-{time.monotonic_ns()}.sqlite"
    EmbeddedStore(store_path).close()
    barrier = ctx.Barrier(3)
    results = ctx.Queue()
    receive, send = ctx.Pipe(duplex=False)
    procs = [ctx.Process(target=split_parser, args=(sorted(frames.trades), universe, frames, send, barrier, results)),
             ctx.Process(target=split_writer, args=(str(store_path), receive, barrier, results))]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=600)
    outs = {o["role"]: o for o in (results.get(timeout=900) for _ in procs)}
    for proc in procs:
        proc.join(60)
    parser, writer = outs["parser"], outs["writer"]
    wall = writer["stored"] - parser["start"]
    stored = EmbeddedStore(store_path).count_trades()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    return {"mode": "pipeline", "processes": 2, "trades": parser["trades"], "frames": parser["frames"], "wall_s": wall,
            "parse_wall_s": parser["parsed"] - parser["start"], "trades_per_s": parser["trades"] / wall,
            "cpu_s": parser["cpu_s"] + writer["cpu_s"], "stored": stored, "lost": parser["trades"] - stored,
            "rejected": parser["rejected"], "gaps": parser["gaps"], "rows_lost": 0, "spooled": 0,
            "message_errors": parser["message_errors"]}


# --- the parent -------------------------------------------------------------------------------------


def run_once(mode: str, groups: list[list[str]], universe, frames: Frames, workdir: Path, on_started=None) -> dict:
    """One measured run with one process per group of markets, all writing to one fresh SQLite file.

    `on_started(pids)` is called once the workers exist and before they are released (to attach a profiler).
    """
    from recorder.store.embedded import EmbeddedStore

    ctx = mp.get_context("fork")
    store_path = workdir / f"run-{time.monotonic_ns()}.sqlite"
    if mode != "baseline":
        EmbeddedStore(store_path).close()  # schema in place before the writers race
    barrier = ctx.Barrier(len(groups) + 1)  # the parent releases the workers once they are all ready
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(mode, group, universe, frames, str(store_path), barrier, results))
             for group in groups]
    for proc in procs:
        proc.start()
    if on_started is not None:
        on_started([proc.pid for proc in procs])
    barrier.wait(timeout=600)
    outs = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(60)
    trades = sum(o["trades"] for o in outs)
    start = min(o["start"] for o in outs)
    wall = max(o["stored"] for o in outs) - start
    run = {"mode": mode, "processes": len(groups), "trades": trades, "frames": sum(o["frames"] for o in outs),
           "wall_s": wall, "parse_wall_s": max(o["parsed"] for o in outs) - start, "trades_per_s": trades / wall,
           "cpu_s": sum(o["cpu_s"] for o in outs)}
    if mode == "pipeline":
        stored = EmbeddedStore(store_path).count_trades()
        run.update(stored=stored, lost=trades - stored, written_at_parse_end=sum(o["written_at_parse_end"] for o in outs),
                   rejected=sum(o["rejected"] for o in outs),
                   rows_lost=sum(o["rows_lost"] for o in outs), spooled=sum(o["spooled"] for o in outs),
                   message_errors=sum(o["message_errors"] for o in outs))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    return run


def split_markets(frames: Frames, n: int) -> list[list[str]]:
    """`n` groups of markets with about equal trade counts (largest first, greedy)."""
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for key, count in sorted(frames.trades.items(), key=lambda kv: -kv[1]):
        i = load.index(min(load))
        groups[i].append(key)
        load[i] += count
    return groups


def run(quick: bool = False, repeats: int | None = None, log=print, profile_hook=None) -> dict:
    repeats = repeats or (3 if quick else 5)
    total = 100_000 if quick else 300_000
    log(f"[ingest] universe and {total:,} trades of frames ...")
    universe = universe_sync(SYNTHETIC, seed=SEED)
    frames = generate(universe, total, symbols=SYNTHETIC, seed=SEED)
    one = [sorted(frames.trades)]
    two = split_markets(frames, 2)
    layouts = {"1proc": one, "2proc": two}
    runs: dict[str, dict[str, list[dict]]] = {layout: {mode: [] for mode in MODES} for layout in layouts}
    runs["split"] = {"pipeline": []}
    with tempfile.TemporaryDirectory(prefix="pumpwatch-bench-ingest-") as tmp:
        for i in range(repeats):
            for layout, groups in layouts.items():
                for mode in MODES:
                    result = run_once(mode, groups, universe, frames, Path(tmp))
                    runs[layout][mode].append(result)
                    log(f"[ingest] run {i + 1}/{repeats} {layout} {mode}: {result['trades_per_s']:,.0f} trades/s"
                        + (f", stored {result['stored']:,}/{result['trades']:,}" if mode == "pipeline" else ""))
            result = run_split(universe, frames, Path(tmp))
            runs["split"]["pipeline"].append(result)
            log(f"[ingest] run {i + 1}/{repeats} split (prototype): {result['trades_per_s']:,.0f} trades/s, "
                f"stored {result['stored']:,}/{result['trades']:,}")
        if profile_hook is not None:
            profile_hook(lambda on_started: run_once("pipeline", one, universe, frames, Path(tmp), on_started=on_started))
    out: dict = {"trades_per_run": frames.total_trades, "frames_per_run": len(frames.items),
                 "trades_per_frame": round(frames.total_trades / len(frames.items), 2), "markets": len(frames.trades),
                 "symbols": sum(len(universe.instruments(k)) for k in frames.trades), "repeats": repeats,
                 "two_process_split": two}
    for layout, modes in runs.items():
        baseline = modes.get("baseline") or runs["1proc"]["baseline"]
        base = [r["trades_per_s"] for r in baseline]
        pipeline = modes["pipeline"]
        pipe = [r["trades_per_s"] for r in pipeline]
        ratios = [p / b for p, b in zip(pipe, base, strict=True)]
        out[layout] = {
            "baseline_trades_per_s": summary(base, 0),
            "pipeline_trades_per_s": summary(pipe, 0),
            "pipeline_parse_only_trades_per_s": summary([r["trades"] / r["parse_wall_s"] for r in pipeline], 0),
            "ratio": summary(ratios, 3),
            **({"nostore_trades_per_s": summary([r["trades_per_s"] for r in modes["nostore"]], 0),
                "ratio_to_nostore": summary([p / r["trades_per_s"] for p, r in zip(pipe, modes["nostore"], strict=True)], 3)}
               if "nostore" in modes else {}),
            "cpu_us_per_trade_baseline": round(median(r["cpu_s"] / r["trades"] * 1e6 for r in baseline), 2),
            "cpu_us_per_trade_pipeline": round(median(r["cpu_s"] / r["trades"] * 1e6 for r in pipeline), 2),
            "lost_total": sum(r["lost"] for r in pipeline),
            "rejected_total": sum(r["rejected"] for r in pipeline),
            "message_errors_total": sum(r["message_errors"] for r in pipeline),
            "zero_loss": all(r["lost"] == 0 and r["rows_lost"] == 0 for r in pipeline),
        }
        if layout != "split":
            out[layout]["stored_while_parsing_pct"] = round(
                median(100 * r["written_at_parse_end"] / r["trades"] for r in pipeline), 1)
    out["split"]["note"] = ("prototype, not the library's layout: parse+normalize in one process, EmbeddedStore.write_trades "
                            "in another; ratio against the one-process baseline")
    out["targets"] = {
        "1proc_ratio_ge_0.7": out["1proc"]["ratio"]["median"] >= 0.7,
        "1proc_ratio_to_nostore_ge_0.7": out["1proc"]["ratio_to_nostore"]["median"] >= 0.7,
        "2proc_ge_100k_per_s": out["2proc"]["pipeline_trades_per_s"]["median"] >= 100_000,
        "split_prototype_ge_100k_per_s": out["split"]["pipeline_trades_per_s"]["median"] >= 100_000,
        "zero_loss": out["1proc"]["zero_loss"] and out["2proc"]["zero_loss"] and out["split"]["zero_loss"],
    }
    return out
