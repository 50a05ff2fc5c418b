"""Benchmark 3: extraction from a large embedded store.

The store holds ≥20 million trades over the 5,700 instruments of the simulated universe (12
markets; `--quick`: 2 million), 5,000 trades/s of background for about 67 minutes, plus exactly
100,000 trades of one coin inside its 40 s listing window, and the recorder's coverage rows
(an `up` per connection and `alive` every 5 s) so the verdicts are computed as in production.
It is generated with bulk `INSERT … SELECT` into the pre-columnar SQLite layout (schema 001, indexes
dropped and rebuilt with the schema's own DDL), then opened as an `EmbeddedStore`, which converts it
into sealed Parquet parts (the upgrade path of an old store), and cached under `bench/results/` with a
JSON sidecar; reruns reuse it.

Measured: `extract_event` from call to folder in place (the service's code path, with the
universe's symbols file for the conversion factors), against the bare `store.read_window` query.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, SEED, SYNTHETIC, median, simulated_universe, summary
from recorder.clock import S

COIN = "C0007"
WINDOW_TRADES = 100_000
BACKGROUND_RATE = 5_000
"""background trades per second over all instruments."""
STORE_VERSION = 2
"""bump when the generated content changes, so a stale cached store is rebuilt."""


def _legacy_schema() -> str:
    """Schema 001: trades in SQLite, as a store written before the columnar layout holds them."""
    from recorder.store.schema import migrations

    return next(sql for number, _, sql in migrations("embedded") if number == 1)


def build_store(path: Path, symbols_yaml: Path, total: int, log=print) -> dict:
    """Generate the store at `path` (replacing it); returns its facts (also written beside it as JSON)."""
    import asyncio
    from datetime import UTC, datetime

    from recorder.store.embedded import EmbeddedStore
    from recorder.universe import write_symbols_yaml

    started = time.perf_counter()
    universe = asyncio.run(simulated_universe(SYNTHETIC, seed=SEED))
    instruments = [i for market in universe.markets.values() for i in market]
    write_symbols_yaml(symbols_yaml, universe, datetime.now(UTC))  # the universe file, as `pumpwatch symbols refresh` writes it
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    for folder in ("trades", "hot"):
        shutil.rmtree(path.parent / f"{path.stem}-{folder}", ignore_errors=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"BEGIN;\n{_legacy_schema()}\nPRAGMA user_version=1;\nCOMMIT;")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    for name in ("trades_dedup", "trades_base_ts"):  # the conversion reads by rowid: the old indexes would only cost time
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute("CREATE TEMP TABLE inst (k INTEGER PRIMARY KEY, exchange TEXT, market TEXT, symbol TEXT, base TEXT, quote TEXT)")
    background = [i for i in instruments if i.base != COIN]
    target = [i for i in instruments if i.base == COIN]
    conn.executemany("INSERT INTO inst VALUES (?,?,?,?,?,?)",
                     [(k, i.exchange, i.market, i.symbol, i.base, i.quote) for k, i in enumerate(background)])
    conn.execute("CREATE TEMP TABLE tgt (k INTEGER PRIMARY KEY, exchange TEXT, market TEXT, symbol TEXT, base TEXT, quote TEXT)")
    conn.executemany("INSERT INTO tgt VALUES (?,?,?,?,?,?)",
                     [(k, i.exchange, i.market, i.symbol, i.base, i.quote) for k, i in enumerate(target)])
    n_bg = len(background)
    step_ns = S // BACKGROUND_RATE
    span_ns = total * step_ns
    t0 = (time.time_ns() - span_ns - 3600 * S) // S * S
    announced = t0 + span_ns // 2
    start, end = announced - 20 * S, announced + 20 * S
    log(f"[extract] generating {total:,} background trades over {span_ns / S / 60:.0f} min + {WINDOW_TRADES:,} for {COIN} ...")

    def background_sql(lo: int, hi: int) -> str:
        return f"""
        WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {hi})
        SELECT {t0} + i * {step_ns} AS ts, {t0} + i * {step_ns} + 3000000 + (i % 7) * 1000000, inst.exchange, inst.market,
               inst.symbol, inst.base, inst.quote, CASE i % 2 WHEN 0 THEN 'buy' ELSE 'sell' END,
               1.0 + (i % 997) * 0.001, 1.0 + (i % 89), (1.0 + (i % 997) * 0.001) * (1.0 + (i % 89)), CAST(i AS TEXT)
        FROM n JOIN inst ON inst.k = (i * 7919) % {n_bg}"""

    burst_step = (end - start) // WINDOW_TRADES
    burst_sql = f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {WINDOW_TRADES})
        SELECT {start} + i * {burst_step} + 17, {start} + i * {burst_step} + 2000017, tgt.exchange, tgt.market, tgt.symbol,
               tgt.base, tgt.quote, CASE i % 3 WHEN 0 THEN 'sell' ELSE 'buy' END,
               0.05 * (1.0 + 0.3 * (i >= {WINDOW_TRADES // 2}) + (i % 101) * 0.0001), 100.0 + (i % 53),
               0.05 * (1.0 + 0.3 * (i >= {WINDOW_TRADES // 2}) + (i % 101) * 0.0001) * (100.0 + (i % 53)), 'w' || i
        FROM n JOIN tgt ON tgt.k = i % {len(target)}"""
    cols = "ts, received_ts, exchange, market, symbol, base, quote, side, price, amount, notional, trade_id"
    i_start = (start - t0 + step_ns - 1) // step_ns
    i_end = (end - t0 + step_ns - 1) // step_ns
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO trades ({cols}) {background_sql(0, i_start)}")
    conn.execute("CREATE TEMP TABLE win AS SELECT * FROM trades WHERE 0")
    conn.execute(f"INSERT INTO win ({cols}) {background_sql(i_start, i_end)}")
    conn.execute(f"INSERT INTO win ({cols}) {burst_sql}")
    conn.execute(f"INSERT INTO trades ({cols}) SELECT {cols} FROM win ORDER BY ts")
    conn.execute(f"INSERT INTO trades ({cols}) {background_sql(i_end, total)}")
    conn.execute("COMMIT")
    log(f"[extract] rows in {time.perf_counter() - started:.0f}s")
    # coverage as the recorder writes it: per market 5 connections, `up` with their symbols, `alive` every 5 s
    heartbeat = 5 * S
    conn.execute("CREATE TEMP TABLE conns (exchange TEXT, market TEXT, conn_id TEXT, symbols TEXT)")
    by_market: dict[tuple[str, str], list[str]] = {}
    for i in instruments:
        by_market.setdefault((i.exchange, i.market), []).append(i.symbol)
    for (exchange, market), symbols in by_market.items():
        for c in range(5):
            chunk = symbols[c::5]
            conn.execute("INSERT INTO conns VALUES (?,?,?,?)", (exchange, market, f"{exchange}.{market}/{c}.0", ",".join(chunk)))
    beats = span_ns // heartbeat + 2
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO coverage SELECT {t0 - S}, exchange, market, conn_id, 'bench:1', 'up', symbols FROM conns")
    conn.execute(f"""INSERT INTO coverage
        WITH RECURSIVE h(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM h WHERE j + 1 < {beats})
        SELECT {t0} + j * {heartbeat}, exchange, market, conn_id, 'bench:1', 'alive', '' FROM h, conns""")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    log("[extract] converting into the columnar layout (as an upgraded store would on first start) ...")
    store = EmbeddedStore(path)
    count = store.count_trades()
    in_window = store.read_window(COIN, start, end).num_rows
    sealed_bytes = sum(part.path.stat().st_size for part in store.sealed_parts())
    store.close()
    facts = {"version": STORE_VERSION, "total_requested": total, "trades": count, "instruments": len(instruments),
             "coins": len({i.base for i in instruments}), "coin": COIN, "announced_ns": announced, "window_trades": in_window,
             "coverage_rows_per_market": 5 * (beats + 1), "span_s": span_ns / S, "build_s": round(time.perf_counter() - started, 1),
             "bytes": sealed_bytes + path.stat().st_size}
    Path(f"{path}.json").write_text(json.dumps(facts, indent=2))
    log(f"[extract] store ready: {count:,} trades, {facts['bytes'] / 1e9:.1f} GB, {facts['build_s']:.0f}s")
    return facts


def cached_store(total: int, log=print) -> tuple[Path, Path, dict]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"extract-store-{total // 1_000_000}M.sqlite"
    symbols = RESULTS / f"extract-store-{total // 1_000_000}M.symbols.yaml"
    meta = Path(f"{path}.json")
    if path.exists() and meta.exists() and symbols.exists():
        facts = json.loads(meta.read_text())
        if facts.get("version") == STORE_VERSION and facts.get("total_requested") == total:
            log(f"[extract] reusing cached store {path.name} ({facts['trades']:,} trades)")
            facts["cached"] = True
            return path, symbols, facts
    facts = build_store(path, symbols, total, log)
    facts["cached"] = False
    return path, symbols, facts


def run(quick: bool = False, repeats: int | None = None, log=print) -> dict:
    from extractor.event_folder import folder_name, write_event
    from extractor.extract import EventRequest, extract_event, market_summaries, universe_factors
    from recorder.config import Config
    from recorder.store.embedded import EmbeddedStore
    from recorder.universe import read_symbols_yaml

    repeats = repeats or (5 if quick else 9)
    total = 2_000_000 if quick else 20_000_000
    path, symbols, facts = cached_store(total, log)
    store = EmbeddedStore(path, create=False)
    out = Path(tempfile.mkdtemp(prefix="pumpwatch-bench-events-"))
    config = Config.model_validate({"data_dir": str(out), "recorder": {"symbols_file": str(symbols)},
                                    "extraction": {"events_dir": str(out / "events")}})
    request = EventRequest(facts["coin"], facts["announced_ns"], 20.0, 20.0)
    # the service's path: the in-memory universe's factors, passed as the service passes them
    factors = universe_factors(read_symbols_yaml(symbols))
    factors_source = "in-memory universe, as the service passes it (`factors=`)"

    timings: dict[str, list[float]] = {k: [] for k in ("extract", "read_window", "summaries", "write_event")}
    first = None
    rows = None
    try:
        for i in range(repeats + 1):
            t = time.perf_counter()
            table = store.read_window(request.coin, request.start_ns, request.end_ns)
            read = time.perf_counter() - t
            rows = table.num_rows
            t = time.perf_counter()
            folder = extract_event(store, config, request, factors=factors)
            took = time.perf_counter() - t
            assert (folder / "metadata.json").exists() and (folder / "trades.parquet").exists()
            shutil.rmtree(folder)
            # the same steps one by one, for the breakdown
            t = time.perf_counter()
            markets = market_summaries(store, request, table, config.recorder.coverage_heartbeat, factors)
            t_summaries = time.perf_counter() - t
            t = time.perf_counter()
            folder = write_event(out / "parts", folder_name(request.coin, request.announced_ns), table, {"markets": markets})
            t_write = time.perf_counter() - t
            shutil.rmtree(folder)
            if i == 0:
                first = {"extract_ms": round(took * 1000, 1), "read_window_ms": round(read * 1000, 1)}
                continue  # the first pass warms the page cache; it is reported apart
            for key, value in (("extract", took), ("read_window", read), ("summaries", t_summaries), ("write_event", t_write)):
                timings[key].append(value * 1000)
    finally:
        store.close()
        shutil.rmtree(out, ignore_errors=True)
    extract_ms = median(timings["extract"])
    read_ms = median(timings["read_window"])
    return {
        "store": {k: v for k, v in facts.items() if k != "version"},
        "store_file": str(path.relative_to(RESULTS.parent.parent)),
        "window_rows": rows,
        "repeats": repeats,
        "factors_source": factors_source,
        "first_call": first,
        "extract_ms": summary(timings["extract"], 1),
        "read_window_ms": summary(timings["read_window"], 1),
        "breakdown_ms": {"read_window": round(read_ms, 1), "market_summaries": round(median(timings["summaries"]), 1),
                         "write_event": round(median(timings["write_event"]), 1)},
        "ratio_to_read_window": round(extract_ms / read_ms, 2),
        "targets": {"extract_lt_300ms": extract_ms < 300, "store_ge_20M": facts["trades"] >= 20_000_000 or quick,
                    "window_100k": rows == WINDOW_TRADES},
    }
