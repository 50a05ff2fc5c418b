"""`python -m bench.whatif`: the evidence behind the library changes proposed in bench/README.md.

Not part of `make bench`. Each measurement calls the library's own code on inputs that vary what a
proposal would change; nothing in the library is modified, and no copy of library code is kept here.

- feed hook: the per-message reply check (each exchange module's `read_reply`, the msgspec parse the
  feed hook runs on every frame under 4 KiB) on each of the replay's trade frames;
- sqlite: insert capacity of `EmbeddedStore.write_trades` by batch size and store size, with the
  schema's indexes and without the (base, ts) index (dropped from the store file).

Earlier versions also compared a prototype `Normalizer` fast path and faster extraction steps; those
prototypes were copies of library code and were removed (their figures in bench/README.md are marked).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, SEED, SYNTHETIC, quiet_logging, universe_sync
from bench.frames import generate


def _best(fn, repeats: int = 5) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# --- feed hook -------------------------------------------------------------------------------------


def feed_hook() -> dict:
    from recorder.exchanges import EXCHANGES

    frames = generate(universe_sync(SYNTHETIC, seed=SEED), 30_000, symbols=SYNTHETIC, seed=SEED)
    out = {}
    for name, exchange in EXCHANGES.items():
        key = f"{name}.spot"
        msgs = [text for k, _, text in frames.items if k == key]

        def parse(msgs=msgs, read=exchange.read_reply):
            return [read(m) for m in msgs]

        assert not any(reply is not None and (reply.rejected or reply.pong) for reply in parse()), f"{key}: a trade frame read as a reply"
        out[key] = {"parse_us": round(_best(parse) / len(msgs) * 1e6, 3)}
    return out


# --- sqlite ----------------------------------------------------------------------------------------


def _prefilled_store(path: Path, prefill: int, base_index: bool) -> None:
    """A store with the real schema and `prefill` rows of 5,700 interleaved coins; without `base_index`, no (base, ts) index."""
    from bench.extract import drop_trade_indexes
    from recorder.store.embedded import EmbeddedStore
    from recorder.trade_row import TRADE_COLUMNS

    EmbeddedStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    indexes = drop_trade_indexes(conn)  # filled without indexes, then built once: minutes faster
    if prefill:
        t0 = time.time_ns()
        conn.execute(f"""WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {prefill})
            INSERT INTO trades ({",".join(TRADE_COLUMNS)}) SELECT {t0} - ({prefill} - i) * 1000, {t0}, 'okx', 'spot',
              'C' || printf('%04d', (i * 7919) % 5700) || '-USDT', 'C' || printf('%04d', (i * 7919) % 5700),
              'USDT', 'sell', 1.0, 2.0, 2.0, CAST(i AS TEXT) FROM n""")
    for ddl in indexes:
        if base_index or "base" not in ddl:
            conn.execute(ddl)
    conn.close()


def sqlite(prefills: tuple[int, ...] = (0, 5_000_000), rows: int = 200_000) -> dict:
    """Insert capacity (rows/s) of `EmbeddedStore.write_trades` by batch size × store size × (base, ts) index."""
    from recorder.store.embedded import EmbeddedStore
    from recorder.trade_row import TradeRow

    bases = [f"C{i:04d}" for i in range(5700)]
    rng = random.Random(1)
    out = []
    for prefill in prefills:
        for variant in ("schema", "no_base_ts_index"):
            for batch in (5_000, 50_000):
                tmp = Path(tempfile.mkdtemp(prefix="pumpwatch-whatif-", dir=RESULTS))
                try:
                    _prefilled_store(tmp / "w.sqlite", prefill, base_index=variant == "schema")
                    store = EmbeddedStore(tmp / "w.sqlite", create=False)
                    t0 = time.time_ns()
                    data = []
                    for i in range(rows):
                        b = rng.choice(bases)
                        data.append(TradeRow(t0 + i * 10_000, t0 + i * 10_000 + 5, "binance", "spot", f"{b}-USDT", b, "USDT", "buy",
                                             1.2345, 10.0, 12.345, str(100_000_000 + i)))
                    t = time.perf_counter()
                    for i in range(0, rows, batch):
                        store.write_trades(data[i:i + batch])
                    rate = rows / (time.perf_counter() - t)
                    assert store.count_trades() == prefill + rows
                    store.close()
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                out.append({"store_rows": prefill, "variant": variant, "batch": batch, "rows_per_s": round(rate)})
                print(f"[whatif] sqlite prefill {prefill:,} {variant} batch {batch:,}: {rate:,.0f} rows/s", flush=True)
    return {"runs": out}


MEASUREMENTS = ("feed_hook", "sqlite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__)
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (sqlite prefill 1M instead of 5M)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(MEASUREMENTS)
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement {unknown}; known: {', '.join(MEASUREMENTS)}")
    quiet_logging()
    results = {}
    for name in names:
        if name == "feed_hook":
            results[name] = feed_hook()
        else:
            results[name] = sqlite((0, 1_000_000) if args.quick else (0, 5_000_000))
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "whatif.json"
    try:
        merged = json.loads(path.read_text())
    except (OSError, ValueError):
        merged = {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
