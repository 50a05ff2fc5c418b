"""Benchmark 7: the embedded store's trade files: size, insert cost over 20M rows, windows from hot and sealed, retention.

Rows are the simulator's trades (12 markets, 5,700 symbols, its prices, sizes and ids, normalized as the store
holds them): a sample of `SAMPLE` trades, tiled `TILES` times, one tile an hour apart, so the store spans about
two days. Each tile goes through `EmbeddedStore.write_trades` in batches of 5,000 rows (as the writer thread hands
them over; only those calls are timed), then `seal`. Then 100,000 trades of one coin inside a 40 s window are
written into the newest hour with a minute of other trades; `read_window` is timed while they are hot and again
once sealed, and so is `extract_event` of that window (call to event folder in place). Last, `apply_retention` drops the
oldest day.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import SEED, SYNTHETIC, median, summary
from recorder.clock import S

BATCH = 5_000
SAMPLE = 500_000
TILES = 40
COIN = "C0007"
WINDOW_TRADES = 100_000
HOUR_NS = 3600 * S


def simulator_columns(total: int) -> dict[str, list]:
    """About `total` normalized simulator trades as columns (ts, exchange, …) in generation order."""
    from simulator.exchanges import ExchangeSimulator

    sim = ExchangeSimulator(None, SYNTHETIC, 2.0, SEED, history_limit=1)
    natives = {key: {listing.native for listing in sim.instruments(key)} for key in sim.markets}
    t0 = (time.time_ns() - 3 * 86400 * S) // HOUR_NS * HOUR_NS
    tick = 0
    while sum(sim.counts()["generated"].values()) < total:
        for key in sim.markets:
            sim.tick_frames(key, t0 + tick * 50_000_000, natives[key])
        tick += 1
    columns: dict[str, list] = {name: [] for name in ("ts", "received_ts", "exchange", "market", "symbol", "base", "quote",
                                                      "side", "price", "amount", "notional", "trade_id")}
    for t in sim.generated_trades()[:total]:
        trade_id = t["trade_id"] or hashlib.blake2b(f"{t['ts_ns']}{t['price']}{t['amount']}{t['side']}".encode(),
                                                     digest_size=8).hexdigest()
        for name, value in (("ts", t["ts_ns"]), ("received_ts", t["ts_ns"] + 3_000_000 + t["ts_ns"] % 7_000_000),
                            ("exchange", t["exchange"]), ("market", t["market"]), ("symbol", t["symbol"]), ("base", t["base"]),
                            ("quote", t["symbol"].split("-")[1]), ("side", t["side"]), ("price", float(t["price"])),
                            ("amount", float(t["amount"])), ("notional", float(t["price"]) * float(t["amount"])),
                            ("trade_id", str(trade_id))):
            columns[name].append(value)
    return columns


def tile(columns: dict[str, list], shift_ns: int, tag: str) -> list[tuple]:
    """The sample moved by `shift_ns`, ids suffixed so every tile's keys are new."""
    shifted = dict(columns)
    shifted["ts"] = [ts + shift_ns for ts in columns["ts"]]
    shifted["received_ts"] = [ts + shift_ns for ts in columns["received_ts"]]
    shifted["trade_id"] = [f"{trade_id}{tag}" for trade_id in columns["trade_id"]]
    return list(zip(*shifted.values(), strict=True))


def window_rows(columns: dict[str, list], start_ns: int) -> list[tuple]:
    """WINDOW_TRADES trades of COIN spread over the 40 s window, on the markets that list it in the sample."""
    from recorder.trade_row import TradeRow

    symbols = sorted({(e, m, s) for e, m, s, b in zip(columns["exchange"], columns["market"], columns["symbol"], columns["base"],
                                                      strict=True) if b == COIN})
    step = 40 * S // WINDOW_TRADES
    return [TradeRow(start_ns + i * step + 17, start_ns + i * step + 2_000_017, *symbols[i % len(symbols)], COIN, "USDT",
                     "buy" if i % 3 else "sell", 0.05 * (1 + (i % 101) * 0.0001), 100.0 + i % 53,
                     0.05 * (1 + (i % 101) * 0.0001) * (100.0 + i % 53), f"w{i}") for i in range(WINDOW_TRADES)]


def _timed_window(store, start_ns: int, repeats: int) -> tuple[list[float], int]:
    """Timings of `read_window` (the first call warms the page cache: left out) and the rows it returned (the
    100,000 written plus the coin's own trades in the minute of background)."""
    timings, rows = [], 0
    for _ in range(repeats + 1):
        t = time.perf_counter()
        rows = store.read_window(COIN, start_ns, start_ns + 40 * S).num_rows
        timings.append((time.perf_counter() - t) * 1000)
        assert rows >= WINDOW_TRADES, rows
    return timings[1:], rows


def _timed_extract(store, start_ns: int, repeats: int, out: Path) -> list[float]:
    """Timings of `extract_event` for the window, from call to folder in place (the first call left out)."""
    from extractor.extract import EventRequest, extract_event
    from recorder.config import Config

    config = Config.model_validate({"data_dir": str(out), "extraction": {"events_dir": str(out / "events")}})
    request = EventRequest(COIN, start_ns + 20 * S, 20.0, 20.0)
    timings = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        folder = extract_event(store, config, request, factors={})
        timings.append((time.perf_counter() - t) * 1000)
        shutil.rmtree(folder)
    return timings[1:]


def run(quick: bool = False, repeats: int | None = None, log=print) -> dict:
    from recorder.store.embedded import EmbeddedStore

    repeats = repeats or (3 if quick else 7)
    sample, tiles = (100_000, 20) if quick else (SAMPLE, TILES)
    log(f"[store] {sample:,} simulator trades ...")
    columns = simulator_columns(sample)
    span = max(columns["ts"]) - min(columns["ts"])
    work = Path(tempfile.mkdtemp(prefix="pumpwatch-bench-store-"))
    try:
        store = EmbeddedStore(work / "bench.sqlite", retention_s=(tiles * 3600 - 86400))
        rates, seal_s = [], []
        for k in range(tiles):
            rows = tile(columns, k * HOUR_NS, f"-{k}")
            spent = 0.0
            for i in range(0, len(rows), BATCH):
                t = time.perf_counter()
                store.write_trades(rows[i : i + BATCH])
                spent += time.perf_counter() - t
            rates.append(len(rows) / spent)
            t = time.perf_counter()
            store.compact()
            seal_s.append(time.perf_counter() - t)
            if k == 0:
                parts = store.sealed_parts()
                bytes_per_trade = sum(p.path.stat().st_size for p in parts) / sum(p.rows for p in parts)
                log(f"[store] one hour sealed: {bytes_per_trade:.1f} bytes/trade")
            log(f"[store] tile {k + 1}/{tiles}: {rates[-1]:,.0f} rows/s written, sealed in {seal_s[-1]:.1f}s")
        background = store.count_trades()
        last_hour = min(columns["ts"]) // HOUR_NS * HOUR_NS + (tiles - 1) * HOUR_NS
        start = last_hour + span + 20 * S
        hot_background = tile(columns, (tiles - 1) * HOUR_NS + span + S, "-hot")[: len(columns["ts"]) * 60 * S // max(span, 1)]
        for i in range(0, len(hot_background), BATCH):
            store.write_trades(hot_background[i : i + BATCH])
        window = window_rows(columns, start)
        for i in range(0, len(window), BATCH):
            store.write_trades(window[i : i + BATCH])
        hot_ms, window_rows_read = _timed_window(store, start, repeats)
        hot_extract_ms = _timed_extract(store, start, repeats, work)
        hot_rows = store.hot_figures().rows
        store.compact()
        sealed_ms, sealed_rows_read = _timed_window(store, start, repeats)
        sealed_extract_ms = _timed_extract(store, start, repeats, work)
        assert sealed_rows_read == window_rows_read, (sealed_rows_read, window_rows_read)
        total = store.count_trades()
        parts = store.sealed_parts()
        all_bytes = sum(p.path.stat().st_size for p in parts)
        now = min(columns["ts"]) + tiles * HOUR_NS + HOUR_NS
        t = time.perf_counter()
        dropped = store.apply_retention(now)
        retention_s = time.perf_counter() - t
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    quarter = max(1, tiles // 4)
    flat = median(rates[-quarter:]) / median(rates[:quarter])
    return {
        "sample_trades": sample, "tiles": tiles, "store_trades": total, "background_trades": background,
        "symbols": len(set(zip(columns["exchange"], columns["market"], columns["symbol"], strict=True))),
        "bytes_per_trade_sealed_one_hour": round(bytes_per_trade, 1),
        "bytes_per_trade_sealed_store": round(all_bytes / sum(p.rows for p in parts), 1),
        "write_trades_rows_per_s": summary(rates, 0),
        "insert_rate_last_quarter_over_first": round(flat, 3),
        "seal_s_per_tile": summary(seal_s, 2),
        "window_hot_ms": summary(hot_ms, 1), "window_sealed_ms": summary(sealed_ms, 1), "hot_rows_at_window_read": hot_rows,
        "extract_event_hot_ms": summary(hot_extract_ms, 1), "extract_event_sealed_ms": summary(sealed_extract_ms, 1),
        "window_rows": window_rows_read,
        "retention_dropped_rows": dropped, "retention_s": round(retention_s, 3),
        "targets": {"bytes_per_trade_le_40": bytes_per_trade <= 40, "window_hot_lt_300ms": median(hot_ms) < 300,
                    "window_sealed_lt_300ms": median(sealed_ms) < 300, "store_ge_20M": total >= 20_000_000 or quick,
                    "extract_hot_lt_300ms": median(hot_extract_ms) < 300, "extract_sealed_lt_300ms": median(sealed_extract_ms) < 300,
                    "retention_lt_1s": retention_s < 1.0, "insert_flat_within_20pct": flat >= 0.8},
    }
