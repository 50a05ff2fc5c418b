"""The embedded store's trade files: sealing, first-written dedup across tiers, torn hot tails, retention, other readers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pyarrow.parquet as pq

from recorder.store.columnar import HOUR_NS, partition_name, read_hot_file
from recorder.store.embedded import EmbeddedStore
from recorder.store.schema import migrations
from recorder.trade_row import TRADE_COLUMNS, table_to_rows
from tests.conftest import eventually
from tests.recorder.store.test_store_contract import T0, S, trade


def _hot_files(store: EmbeddedStore) -> list:
    return sorted(store.hot_dir.glob("date=*/hour=*/*.arrows"))


def test_sealing_keeps_every_trade_once_and_the_first_written_wins_across_tiers(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    first = trade("AAA", T0, "1", price=2.0)
    store.write_trades([first, trade("AAA", T0 + S, "2"), trade("BBB", T0, "1")])
    other = EmbeddedStore(tmp_path / "s.sqlite")
    other.write_trades([first._replace(price=9.0, received_ts=first.received_ts + S), trade("AAA", T0 + 2 * S, "3")])
    other.close()
    before = table_to_rows(store.read_window("AAA", T0, T0 + 10 * S))
    assert store.compact() == 4
    assert not _hot_files(store)
    parts = store.sealed_parts()
    assert [p.path.parent.relative_to(store.sealed_dir).as_posix() for p in parts] == [partition_name(T0 // HOUR_NS)]
    assert table_to_rows(store.read_window("AAA", T0, T0 + 10 * S)) == before
    assert before[0] == first and len(before) == 3
    store.write_trades([first._replace(price=7.0, received_ts=first.received_ts + 5 * S)])  # a late redelivery, hot
    assert table_to_rows(store.read_window("AAA", T0, T0 + S)) == [first]
    assert store.count_trades() == 4
    assert store.compact() == 0  # the redelivery is already sealed: no part is written for it
    assert len(store.sealed_parts()) == 1 and store.count_trades() == 4
    written = pq.read_table(parts[0].path)
    assert written.column("base").to_pylist() == sorted(written.column("base").to_pylist())  # sorted by (base, ts)


def test_a_live_writers_open_file_is_never_sealed_by_another_process(tmp_path):
    writer = EmbeddedStore(tmp_path / "s.sqlite")
    writer.write_trades([trade("AAA", T0, "1")])
    sealer = EmbeddedStore(tmp_path / "s.sqlite")
    assert sealer.compact() == 0 and len(_hot_files(writer)) == 1
    writer.close()  # the writer closes (or rotates) its file: now it can be sealed
    assert sealer.compact() == 1 and sealer.count_trades() == 1


WRITER = """
import sys, time
from recorder.store.embedded import EmbeddedStore
from tests.recorder.store.test_store_contract import T0, trade
store = EmbeddedStore(sys.argv[1])
i = 0
while True:
    now = time.time_ns()
    store.write_trades([trade("AAA", T0 + (i * 100 + j) * 1000, f"{i}-{j}")._replace(received_ts=now) for j in range(100)])
    i += 1
    time.sleep(0.02)
"""


def test_a_torn_hot_tail_after_kill_9_is_cut_and_nothing_older_than_a_second_is_lost(tmp_path):
    path = tmp_path / "s.sqlite"
    EmbeddedStore(path).close()
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=os.getcwd())
    try:
        eventually(lambda: EmbeddedStore(path).count_trades() >= 2000, what="2,000 trades written")
        kill_ns = time.time_ns()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    [hot] = _hot_files(EmbeddedStore(path))
    complete = read_hot_file(hot).num_rows
    with open(hot, "r+b") as handle:  # a write cut short by the crash: the last message loses its end
        handle.truncate(hot.stat().st_size - 37)
    store = EmbeddedStore(path)
    rows = table_to_rows(store.read_window("AAA", 0, 2**62))
    assert complete - 100 <= len(rows) < complete  # exactly the torn batch is cut
    assert {r.trade_id for r in rows} == {f"{i}-{j}" for i in range(len(rows) // 100) for j in range(100)}  # no garbage
    assert all(r.received_ts < kill_ns for r in rows) and max(r.received_ts for r in rows) >= kill_ns - S
    assert store.compact() == len(rows) and store.count_trades() == len(rows) and not _hot_files(store)
    store.write_trades([trade("AAA", T0 - S, "after-restart")])
    assert store.count_trades() == len(rows) + 1


def test_retention_deletes_whole_hour_folders(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite", retention_s=3600)
    old_hour = (T0 - 7200 * S) // HOUR_NS * HOUR_NS
    store.write_trades([trade("OLD", old_hour + S, "1"), trade("OLD", old_hour + 2 * S, "2")])
    store.compact()
    store.write_trades([trade("OLD", old_hour + HOUR_NS - S, "3"), trade("NEW", old_hour + HOUR_NS, "4")])
    assert store.apply_retention(old_hour + 2 * HOUR_NS) == 3  # the cutoff is the end of the old hour
    assert store.count_trades() == 1
    assert [p.relative_to(store.sealed_dir).as_posix() for p in store.sealed_dir.glob("date=*/hour=*")] == []
    assert [p.relative_to(store.hot_dir).as_posix() for p in store.hot_dir.glob("date=*/hour=*")] == [
        partition_name(old_hour // HOUR_NS + 1)]


def test_an_old_sqlite_store_is_converted_losing_nothing(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    [(_, _, init)] = [m for m in migrations("embedded") if m[0] == 1]
    conn.executescript(f"BEGIN;\n{init}\nPRAGMA user_version=1;\nCOMMIT;")
    old = [trade(f"C{i % 7}", T0 - (i % 5) * HOUR_NS + i * 1000, str(i), ("binance", "okx")[i % 2]) for i in range(5000)]
    conn.executemany(f"INSERT INTO trades ({','.join(TRADE_COLUMNS)}) VALUES ({','.join('?' * 12)})", old)
    conn.execute("INSERT INTO notices VALUES (1, 42, 't', 1, 1, 1, 'X', 'u')")
    conn.commit()
    conn.close()
    old_size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    store = EmbeddedStore(path, progress=lambda done, total: seen.append((done, total)))
    assert path.stat().st_size < old_size / 4  # the old table's pages are returned to the disk
    assert seen and seen[-1] == (5000, 5000)
    assert store.count_trades() == 5000 and not _hot_files(store)
    assert len({p.path.parent for p in store.sealed_parts()}) == 5  # one folder per hour
    got = sorted(r for coin in {r.base for r in old} for r in table_to_rows(store.read_window(coin, 0, 2**62)))
    assert got == sorted(old)
    assert store.seen_notice_ids() == {42}
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert ("trades",) not in tables


def test_sealed_files_are_one_dataset_for_duckdb_polars_and_pandas(tmp_path):
    import duckdb
    import pandas as pd
    import polars as pl

    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.write_trades([trade("AAA", T0 + i * S, str(i)) for i in range(10)] + [trade("BBB", T0 - HOUR_NS, "x")])
    store.compact()
    root = store.sealed_dir
    duck = duckdb.sql(f"SELECT base, count(*) AS n FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true) "
                      "GROUP BY base ORDER BY base").fetchall()
    polars = (pl.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True).group_by("base").len().sort("base").collect().rows())
    pandas = pd.read_parquet(root).groupby("base").size()
    assert duck == polars == [("AAA", 10), ("BBB", 1)]
    assert pandas.to_dict() == {"AAA": 10, "BBB": 1}


def test_a_later_duplicate_sealed_first_never_beats_an_earlier_write_still_hot(tmp_path):
    early, late = EmbeddedStore(tmp_path / "s.sqlite"), EmbeddedStore(tmp_path / "s.sqlite")
    first = trade("AAA", T0, "1", price=2.0)
    early.write_trades([first])  # its file stays open: a live writer
    late.write_trades([first._replace(price=9.0, received_ts=first.received_ts + S), trade("AAA", T0 + S, "2")])
    late.close()
    assert late.compact() == 1  # only "2": the key "1" was written first by the live file
    assert table_to_rows(late.read_window("AAA", T0, T0 + S)) == [first]
    early.close()
    assert late.compact() == 1
    assert table_to_rows(late.read_window("AAA", T0, T0 + 2 * S))[0] == first and late.count_trades() == 2


TWIN = """
import sys
from recorder.store.embedded import EmbeddedStore
from tests.recorder.store.test_store_contract import trade
store = EmbeddedStore(sys.argv[1])
t0, offset = int(sys.argv[2]), int(sys.argv[3])
for i in range(40):
    store.write_trades([trade("AAA", t0 + (offset + i * 250 + j) * 1000, str(offset + i * 250 + j)) for j in range(250)])
store.close()
"""


def test_two_writer_processes_and_a_sealer_at_once_store_every_key_once(tmp_path):
    path = tmp_path / "s.sqlite"
    sealer = EmbeddedStore(path)
    writers = [subprocess.Popen([sys.executable, "-c", TWIN, str(path), str(T0), str(offset)], cwd=os.getcwd())
               for offset in (0, 5000)]  # T0 passed on: each process would compute its own
    while any(w.poll() is None for w in writers):  # seal whatever the writers have closed, while they write
        sealer.seal(time.time_ns() + 10**18)
    assert [w.returncode for w in writers] == [0, 0]
    sealer.compact()
    ids = table_to_rows(sealer.read_window("AAA", 0, 2**62))
    assert sorted(int(r.trade_id) for r in ids) == list(range(15000))  # 0–9,999 and 5,000–14,999 overlap: each key once
    assert sealer.count_trades() == 15000 and not _hot_files(sealer)


def test_late_rows_are_sealed_apart_so_live_parts_keep_a_short_span(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    now = time.time_ns() // S * S
    live = [trade(f"C{i:04d}", now - 5 * S + i, str(i)) for i in range(3000)]
    backfill = [trade("C0007", now - 3600 * S, "old")]  # a repair's rows: written long after their trade time
    store.write_trades(live + backfill)
    assert store.compact() == 3001
    spans = sorted((p.rows, p.max_ts - p.min_ts) for p in store.sealed_parts())
    assert spans == [(1, 0), (3000, 2999)]


def test_a_resent_row_already_sealed_among_many_coins_is_dropped_when_sealed_again(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    now = time.time_ns() // S * S
    live = [trade(f"C{i:04d}", now - 5 * S + i % 4, str(i)) for i in range(200_000)]  # several row groups
    store.write_trades(live)
    assert store.compact() == 200_000
    store.write_trades([live[150_000]._replace(price=9.0), live[7], trade("C0007", now - 2 * S, "new")])
    assert store.compact() == 1
    assert store.count_trades() == 200_001
    assert table_to_rows(store.read_window("C0007", now - 10 * S, now))[0] == live[7]
