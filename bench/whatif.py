"""`python -m bench.whatif`: the evidence behind the library changes proposed in bench/README.md.

Not part of `make bench`. Each measurement compares the library's current code with a prototype of
the proposed change, on the same input, in this process; nothing in the library is modified.

- normalizer: `Normalizer.normalize` vs a drop-in fast path (same rows, same rejections) on real
  cryptofeed `Trade` objects from the offline replay of all 12 markets;
- feed hook: the per-message reply check (each exchange module's `read_reply`, a msgspec parse of every
  frame under 4 KiB) on the replay's trade frames;
- sqlite: insert capacity of `EmbeddedStore.write_trades`-shaped transactions by batch size and
  store size, and without the (base, ts) index;
- extraction: each step of `extract_event` on the cached benchmark store vs a faster equivalent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
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


# --- normalizer ------------------------------------------------------------------------------------


class FastNormalizer:
    """Prototype of the proposed `Normalizer.normalize` fast path: same rows, same rejection reasons.

    One dict lookup yields everything per symbol; range checks `0 < x < inf` replace isfinite+sign
    (NaN fails every comparison); the row is built with `tuple.__new__` (a NamedTuple's generated
    `__new__` is a Python function); the slow path (any rejection, Phemex ids) stays the library's.
    """

    def __init__(self, base) -> None:
        from recorder.trade_row import TradeRow

        self.base = base
        self._new = tuple.__new__
        self._row = TradeRow
        self._meta = {s: (base.spec.exchange, base.spec.market, i.symbol, i.base, i.quote, i.price_factor, i.amount_factor)
                      for s, i in base.instruments.items()}

    def normalize(self, trade, receipt_timestamp: float):
        meta = self._meta.get(trade.symbol)
        side = trade.side
        trade_id = trade.id
        if meta is None or (side != "buy" and side != "sell") or trade_id is None or trade_id == "":
            return self.base.normalize(trade, receipt_timestamp)
        try:
            exchange, market, symbol, base, quote, price_factor, amount_factor = meta
            price = float(trade.price) * price_factor
            amount = float(trade.amount) * amount_factor
            notional = price * amount
            ts = round(float(trade.timestamp) * 1_000_000) * 1000
            received = round(receipt_timestamp * 1_000_000) * 1000
        except (TypeError, ValueError, ArithmeticError, AttributeError):
            return self.base.normalize(trade, receipt_timestamp)
        if not (0.0 < price < math.inf and 0.0 < amount < math.inf and notional < math.inf
                and 1_262_304_000_000_000_000 <= ts <= received + 86_400_000_000_000):
            return self.base.normalize(trade, receipt_timestamp)  # counts and logs the rejection as today
        self.base.accepted += 1
        return self._new(self._row, (ts, received, exchange, market, symbol, base, quote, side, price, amount, notional,
                                     trade_id if type(trade_id) is str else str(trade_id)))


def _captured_trades(total: int) -> tuple[dict, object]:
    """Real cryptofeed Trade objects per market, from the offline replay's frames and feeds."""
    from bench.ingest import build_routes
    from recorder.markets import BY_KEY

    universe = universe_sync(SYNTHETIC, seed=SEED)
    frames = generate(universe, total, symbols=SYNTHETIC, seed=SEED)
    got: dict[str, list] = defaultdict(list)
    routes = {}
    for key in frames.trades:
        async def keep(trade, ts, key=key):
            got[key].append((trade, ts))
        routes[key] = build_routes(BY_KEY[key], universe.instruments(key), keep)

    async def replay():
        for key, native, text in frames.items:
            handler, conn = routes[key][native]
            await handler(text, conn, time.time())

    asyncio.run(replay())
    return got, universe


def normalizer(total: int = 120_000) -> dict:
    from recorder.markets import BY_KEY
    from recorder.normalize import Normalizer

    got, universe = _captured_trades(total)
    out: dict = {"per_market_us": {}}
    cur_sum = fast_sum = n_all = 0.0
    for key, items in sorted(got.items()):
        current = Normalizer(BY_KEY[key], universe.instruments(key))
        fast = FastNormalizer(Normalizer(BY_KEY[key], universe.instruments(key)))
        a = [current.normalize(t, ts) for t, ts in items]
        b = [fast.normalize(t, ts) for t, ts in items]
        assert a == b, f"{key}: fast path rows differ"
        t_cur = _best(lambda current=current, items=items: [current.normalize(t, ts) for t, ts in items]) / len(items)
        t_fast = _best(lambda fast=fast, items=items: [fast.normalize(t, ts) for t, ts in items]) / len(items)
        out["per_market_us"][key] = {"current": round(t_cur * 1e6, 2), "fast": round(t_fast * 1e6, 2)}
        cur_sum += t_cur * len(items)
        fast_sum += t_fast * len(items)
        n_all += len(items)
    out["all_us"] = {"current": round(cur_sum / n_all * 1e6, 2), "fast": round(fast_sum / n_all * 1e6, 2)}
    out["identical_rows"] = True
    return out


# --- feed hook -------------------------------------------------------------------------------------


def feed_hook() -> dict:
    from recorder.exchanges import EXCHANGES

    frames = generate(universe_sync(SYNTHETIC, seed=SEED), 30_000, symbols=SYNTHETIC, seed=SEED)
    out = {}
    for name, exchange in EXCHANGES.items():
        key = f"{name}.spot"
        msgs = [text for k, _, text in frames.items if k == key]

        def parse(msgs=msgs, read=exchange.read_reply):
            return [read(m) if isinstance(m, str) and len(m) < 4096 else None for m in msgs]

        assert not any(reply is not None and (reply.rejected or reply.pong) for reply in parse()), f"{key}: a trade frame read as a reply"
        out[key] = {"parse_us": round(_best(parse) / len(msgs) * 1e6, 3)}
    return out


# --- sqlite ----------------------------------------------------------------------------------------


def _schema_ddl() -> list[str]:
    from recorder.store.schema import migrations

    text = "\n".join(line for line in migrations("embedded")[0][1].splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip().upper().startswith(("CREATE TABLE IF NOT EXISTS TRADES", "CREATE UNIQUE INDEX",
                                                                                 "CREATE INDEX IF NOT EXISTS TRADES"))]


def sqlite(prefills: tuple[int, ...] = (0, 5_000_000), rows: int = 200_000) -> dict:
    """Insert capacity (rows/s) of write_trades-shaped transactions: batch size × store size × (base, ts) index."""
    ddl = _schema_ddl()
    bases = [f"C{i:04d}" for i in range(5700)]
    rng = random.Random(1)
    out = []
    for prefill in prefills:
        for variant in ("schema", "no_base_ts_index"):
            for batch in (5_000, 50_000):
                tmp = Path(tempfile.mkdtemp(prefix="pumpwatch-whatif-", dir=RESULTS))
                try:
                    conn = sqlite3.connect(tmp / "w.sqlite", isolation_level=None)
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute(ddl[0])
                    t0 = time.time_ns()
                    if prefill:
                        conn.execute("BEGIN")
                        conn.execute(f"""WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {prefill})
                            INSERT INTO trades SELECT {t0} - ({prefill} - i) * 1000, {t0}, 'okx', 'spot',
                              'C' || printf('%04d', (i * 7919) % 5700) || '-USDT', 'C' || printf('%04d', (i * 7919) % 5700),
                              'USDT', 'sell', 1.0, 2.0, 2.0, CAST(i AS TEXT) FROM n""")
                        conn.execute("COMMIT")
                    for statement in ddl[1:]:
                        if variant == "schema" or "base" not in statement:
                            conn.execute(statement)
                    data = []
                    for i in range(rows):
                        b = rng.choice(bases)
                        data.append((t0 + i * 10_000, t0 + i * 10_000 + 5, "binance", "spot", f"{b}-USDT", b, "USDT", "buy",
                                     1.2345, 10.0, 12.345, str(100_000_000 + i)))
                    sql = f"INSERT OR IGNORE INTO trades VALUES ({','.join('?' * 12)})"
                    t = time.perf_counter()
                    for i in range(0, rows, batch):
                        conn.execute("BEGIN IMMEDIATE")
                        conn.executemany(sql, data[i:i + batch])
                        conn.execute("COMMIT")
                    rate = rows / (time.perf_counter() - t)
                    conn.close()
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                out.append({"store_rows": prefill, "variant": variant, "batch": batch, "rows_per_s": round(rate)})
                print(f"[whatif] sqlite prefill {prefill:,} {variant} batch {batch:,}: {rate:,.0f} rows/s", flush=True)
    return {"runs": out}


# --- extraction ------------------------------------------------------------------------------------


def extraction(total: int = 20_000_000) -> dict:
    import functools

    import pyarrow as pa
    import yaml

    from bench.extract import cached_store
    from extractor.event_folder import _json_records, write_json
    from extractor.timeparse import iso_utc
    from recorder.store.embedded import EmbeddedStore
    from recorder.trade_row import TRADE_COLUMNS, TRADE_SCHEMA
    from recorder.universe import read_symbols_yaml

    path, symbols, facts = cached_store(total)
    store = EmbeddedStore(path, create=False)
    start, end = facts["announced_ns"] - 20 * 10**9, facts["announced_ns"] + 20 * 10**9
    coin = facts["coin"]
    out: dict = {}
    table = store.read_window(coin, start, end)
    out["read_window_ms"] = round(_best(lambda: store.read_window(coin, start, end), 3) * 1000, 1)
    cols = ",".join(TRADE_COLUMNS)
    sql = f"SELECT {cols} FROM trades WHERE base = ? AND ts >= ? AND ts < ? ORDER BY ts, exchange, market, symbol, trade_id"
    conn = store._conn()
    out["read_window_fetchall_only_ms"] = round(_best(lambda: conn.execute(sql, (coin, start, end)).fetchall(), 3) * 1000, 1)
    try:
        import adbc_driver_sqlite.dbapi as adbc  # optional: not a project dependency

        with adbc.connect(f"file:{path}?mode=ro") as aconn:
            cur = aconn.cursor()

            def via_adbc():
                cur.execute(sql, (coin, start, end))
                return cur.fetch_arrow_table()

            got = via_adbc()
            assert got.num_rows == table.num_rows
            out["read_window_adbc_ms"] = round(_best(via_adbc, 3) * 1000, 1)
    except ImportError:
        out["read_window_adbc_ms"] = "adbc-driver-sqlite not installed"
    text = Path(symbols).read_text()
    out["symbols_yaml_safe_load_ms"] = round(_best(lambda: read_symbols_yaml(symbols), 2) * 1000, 1)
    out["symbols_yaml_csafeloader_ms"] = round(_best(lambda: yaml.load(text, Loader=yaml.CSafeLoader), 2) * 1000, 1)
    cast = table.cast(TRADE_SCHEMA)
    out["json_records_current_ms"] = round(_best(lambda: _json_records(cast), 2) * 1000, 1)

    @functools.lru_cache(maxsize=8192)
    def second(s: int) -> str:
        return iso_utc(s * 1_000_000_000)[:19]

    def fast_records(t: pa.Table) -> list[dict]:
        names = t.column_names
        columns = []
        for name in names:
            column = t.column(name)
            if pa.types.is_timestamp(column.type):
                columns.append([f"{second(v // 1_000_000_000)}.{v % 1_000_000_000:09d}Z" for v in column.cast(pa.int64()).to_pylist()])
            else:
                columns.append(column.to_pylist())
        return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]

    assert fast_records(cast) == _json_records(cast)
    out["json_records_columnwise_ms"] = round(_best(lambda: fast_records(cast), 2) * 1000, 1)
    records = fast_records(cast)
    tmp = Path(tempfile.mkdtemp(prefix="pumpwatch-whatif-"))
    try:
        out["write_json_indent2_ms"] = round(_best(lambda: write_json(tmp / "a.json", records), 2) * 1000, 1)
        out["write_json_compact_ms"] = round(_best(lambda: (tmp / "b.json").write_text(json.dumps(records, separators=(",", ":"))), 2)
                                             * 1000, 1)
        import msgspec  # already installed: cryptofeed's JSON backend

        encode = msgspec.json.Encoder().encode
        assert json.loads(encode(records)) == records
        out["write_json_msgspec_ms"] = round(_best(lambda: (tmp / "c.json").write_bytes(encode(records)), 2) * 1000, 1)
        out["write_json_msgspec_indent2_ms"] = round(
            _best(lambda: (tmp / "d.json").write_bytes(msgspec.json.format(encode(records), indent=2)), 2) * 1000, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__)
    parser.add_argument("--only", help="comma-separated subset of: normalizer, feed_hook, sqlite, extraction")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (2M-row extraction store, sqlite prefill 1M)")
    args = parser.parse_args(argv)
    quiet_logging()
    names = args.only.split(",") if args.only else ["normalizer", "feed_hook", "sqlite", "extraction"]
    results = {}
    for name in names:
        if name == "normalizer":
            results[name] = normalizer()
        elif name == "feed_hook":
            results[name] = feed_hook()
        elif name == "sqlite":
            results[name] = sqlite((0, 1_000_000) if args.quick else (0, 5_000_000))
        elif name == "extraction":
            results[name] = extraction(2_000_000 if args.quick else 20_000_000)
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
