"""The writer: batches reach the store; a store outage spools to disk and replays in order, losing nothing."""

from __future__ import annotations

import threading

from recorder.sinks import COVERAGE, TRADES
from recorder.spool import Spool
from recorder.store.base import CoverageRow
from recorder.store.embedded import EmbeddedStore
from recorder.writer import StoreWriter
from tests.conftest import eventually
from tests.recorder.store.test_store_contract import T0, S, trade


class FlakyStore(EmbeddedStore):
    """An embedded store that can be switched off, like a QuestDB server going away."""

    down = False
    order: list[str]

    def write_trades(self, rows):
        if self.down:
            raise ConnectionError("store unreachable")
        self.order.extend(r.trade_id for r in rows)
        super().write_trades(rows)


def _store(tmp_path) -> FlakyStore:
    store = FlakyStore(tmp_path / "s.sqlite")
    store.order = []
    return store


def test_rows_are_written_at_flush_rows_or_on_flush(tmp_path):
    store = _store(tmp_path)
    writer = StoreWriter(store, tmp_path / "spool", flush_rows=10)
    writer.start()
    for i in range(25):
        writer.add(TRADES, trade("AAA", T0 + i, str(i)))
    eventually(lambda: writer.stats.rows_written == 20)
    writer.flush()
    eventually(lambda: writer.stats.rows_written == 25)
    assert writer.stop()
    assert store.read_window("AAA", T0, T0 + S).num_rows == 25


def test_outage_spools_then_replays_in_order_without_loss_or_duplicates(tmp_path):
    store = _store(tmp_path)
    writer = StoreWriter(store, tmp_path / "spool", flush_rows=5, retry_interval_s=0.05)
    writer.start()
    store.down = True
    for i in range(50):
        writer.add(TRADES, trade("AAA", T0 + i, f"{i:03d}"))
    eventually(lambda: writer.wait_idle(0) and writer.stats.batches_spooled >= 1)
    assert not writer.stats.store_ok and store.read_window("AAA", T0, T0 + S).num_rows == 0
    store.down = False
    for i in range(50, 60):
        writer.add(TRADES, trade("AAA", T0 + i, f"{i:03d}"))
    eventually(lambda: writer.stats.rows_written == 60 and len(writer.spool) == 0)
    assert writer.stop()
    assert store.order == [f"{i:03d}" for i in range(60)]
    assert store.read_window("AAA", T0, T0 + S).num_rows == 60
    assert writer.stats.rows_lost == 0


def test_batches_that_queue_up_are_written_in_one_transaction(tmp_path):
    store = _store(tmp_path)
    writer = StoreWriter(store, tmp_path / "spool", flush_rows=10)
    for i in range(100):  # queued before the writer thread starts: ten batches waiting
        writer.add(TRADES, trade("AAA", T0 + i, f"{i:03d}"))
    writer.start()
    eventually(lambda: writer.stats.rows_written == 100)
    assert writer.stats.batches_written == 1
    assert writer.stop()
    assert store.order == [f"{i:03d}" for i in range(100)]


def test_spool_survives_a_restart(tmp_path):
    store = _store(tmp_path)
    store.down = True
    writer = StoreWriter(store, tmp_path / "spool", flush_rows=3, retry_interval_s=0.05)
    writer.start()
    for i in range(9):
        writer.add(TRADES, trade("AAA", T0 + i, str(i)))
    writer.add(COVERAGE, CoverageRow(T0, "okx", "spot", "c1", "h:1", "up", "AAA-USDT"))
    writer.stop(timeout=5)
    assert len(Spool(tmp_path / "spool")) >= 1

    store.down = False
    restarted = StoreWriter(store, tmp_path / "spool", retry_interval_s=0.05)
    restarted.start()
    eventually(lambda: len(restarted.spool) == 0)
    assert restarted.stop()
    assert store.read_window("AAA", T0, T0 + S).num_rows == 9
    assert len(store.read_coverage("okx", "spot", T0, T0)) == 1


class HangingStore(EmbeddedStore):
    """A write that blocks until released, like a SQLite lock held by another process or a QuestDB request timing out."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.release = threading.Event()
        self.entered = threading.Event()

    def write_trades(self, rows):
        self.entered.set()
        self.release.wait()
        super().write_trades(rows)


def test_while_a_write_hangs_what_queues_beyond_the_bound_goes_to_disk_not_memory(tmp_path):
    store = HangingStore(tmp_path / "s.sqlite")
    writer = StoreWriter(store, tmp_path / "spool", flush_rows=10, max_pending_rows=50)
    writer.start()
    for i in range(10):
        writer.add(TRADES, trade("AAA", T0 + i, f"{i:04d}"))
    eventually(store.entered.is_set, what="the first write to start (and hang)")
    for i in range(10, 400):
        writer.add(TRADES, trade("AAA", T0 + i, f"{i:04d}"))
    eventually(lambda: writer.queued_rows <= 50 and writer.stats.batches_spooled >= 30,
               what=lambda: f"the spiller to bound memory (queued {writer.queued_rows}, spooled {writer.stats.batches_spooled})")
    store.release.set()
    eventually(lambda: writer.stats.rows_written == 400 and len(writer.spool) == 0, what="every row stored after the hang")
    assert writer.stop() and writer.stats.rows_lost == 0
    assert store.read_window("AAA", T0, T0 + S).column("trade_id").to_pylist() == [f"{i:04d}" for i in range(400)]
