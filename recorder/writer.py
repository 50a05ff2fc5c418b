"""Batches rows from the event loop and writes them to the store on a thread of its own.

The websocket side only appends to a list; a batch is handed over at `flush_rows` rows or every
`flush_interval`. When the store fails or falls behind, batches go to the on-disk spool and are
replayed when it recovers, so memory stays bounded and the event loop never waits. A write that
hangs (a SQLite lock held by another process, a QuestDB request waiting for its timeout) blocks the
writer thread, so a second thread, the spiller, moves what queues up beyond `max_pending_rows` to
the spool meanwhile. Replay order does not matter: every write is idempotent on the dedup key.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recorder.memory import release_free_memory
from recorder.sinks import TRADES, Sink
from recorder.spool import Spool, SpoolFull
from recorder.store.base import Store

LOG = logging.getLogger(__name__)

_STOP = object()
GROUP_ROWS = 50_000
"""batches that queued up while the store was busy are written in one transaction, up to this many rows"""
MAX_PENDING_ROWS = 25_000
"""rows waiting in memory for the store before new batches go to the spool (about 15 MB of trade rows: measured
about 600 bytes a row in the soak); at 6,000 trades/s that is 4 s of a store that does not answer"""


@dataclass
class WriterStats:
    rows_written: int = 0
    batches_written: int = 0
    batches_spooled: int = 0
    batches_replayed: int = 0
    rows_lost: int = 0
    store_ok: bool = True
    last_error: str = ""
    last_write_lag_s: float = 0.0
    written_by_kind: dict[str, int] = field(default_factory=dict)


class StoreWriter:
    """The only thread that writes to the store."""

    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        *,
        flush_rows: int = 5000,
        max_pending_rows: int = MAX_PENDING_ROWS,
        retry_interval_s: float = 1.0,
        spool_max_bytes: int = 10 * 1024**3,
    ) -> None:
        self.store = store
        self.spool = Spool(spool_dir, spool_max_bytes)
        self.flush_rows = flush_rows
        self.max_pending_rows = max_pending_rows
        self.retry_interval_s = retry_interval_s
        self.stats = WriterStats()
        self._queue: queue.Queue = queue.Queue()
        self._pending: dict[Sink, list] = {}
        self._pending_since: float | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._spiller = threading.Thread(target=self._spill_loop, name="store-spiller", daemon=True)
        self._spill_needed = threading.Event()
        self._stopping = False
        self._queued_rows = 0
        self._retry_at = 0.0

    # --- called from the event loop (or any thread) ------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._spiller.start()

    def add(self, sink: Sink, row: tuple) -> None:
        with self._lock:
            rows = self._pending.get(sink)
            if rows is None:  # not `setdefault(sink, [])`: a list per trade made the collector run every 700 trades
                rows = self._pending[sink] = []
            rows.append(row)
            if self._pending_since is None:
                self._pending_since = time.monotonic()
            if len(rows) >= self.flush_rows:
                self._hand_over(sink, self._pending.pop(sink))

    def add_many(self, sink: Sink, rows: Sequence[tuple]) -> None:
        if rows:
            with self._lock:
                self._hand_over(sink, list(rows))

    def flush(self) -> None:
        """Hand every partial batch to the writer thread (called every `flush_interval`)."""
        with self._lock:
            pending, self._pending, self._pending_since = self._pending, {}, None
            for sink, rows in pending.items():
                if rows:
                    self._hand_over(sink, rows)

    def _hand_over(self, sink: Sink, rows: list) -> None:
        """Queue a batch for the writer (under `_lock`); past the memory bound, wake the spiller."""
        self._queued_rows += len(rows)
        self._queue.put((sink, rows, time.monotonic()))
        if self._queued_rows > self.max_pending_rows:
            self._spill_needed.set()

    def _taken(self, item) -> None:
        if item is not _STOP:
            with self._lock:
                self._queued_rows -= len(item[1])

    @property
    def queued_rows(self) -> int:
        """Rows handed over and waiting in memory for the store."""
        return self._queued_rows

    def backlog(self) -> int:
        return self._queue.qsize()

    def wait_idle(self, timeout: float) -> bool:
        """Block until every handed-over batch is stored or spooled (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def stop(self, timeout: float = 30.0) -> bool:
        """Flush, drain and stop; returns False if the writer did not finish in time (rows then sit in the spool)."""
        self.flush()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._stop_spiller()
        return not self._thread.is_alive()

    def _stop_spiller(self) -> None:
        self._stopping = True
        self._spill_needed.set()
        self._spiller.join(5.0)

    # --- the writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        carry = None
        while True:
            if carry is not None:
                item, carry = carry, None
            else:
                try:
                    item = self._queue.get(timeout=self.retry_interval_s)
                except queue.Empty:
                    self._replay()
                    continue
                self._taken(item)
            if item is _STOP:  # a batch the spiller is still writing must reach the spool before the last replay
                self._stop_spiller()
                self._replay(deadline=time.monotonic() + 10.0)
                self._queue.task_done()
                return
            sink, rows, queued_at = item
            done = 1
            while len(rows) < GROUP_ROWS:  # group commit: one transaction for what queued up meanwhile
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                self._taken(following)
                if following is _STOP or following[0] is not sink:
                    carry = following
                    break
                rows = rows + following[1]
                done += 1
            if len(self.spool) or self._queued_rows > self.max_pending_rows:
                self._to_spool(sink, rows)
                self._replay()
            elif not self._write(sink, rows, queued_at):
                self._to_spool(sink, rows)
            for _ in range(done):
                self._queue.task_done()

    def _spill_loop(self) -> None:
        """While the writer thread is stuck in a write, keep what queues up beyond the bound on disk, not in memory."""
        while not self._stopping:
            self._spill_needed.wait()
            self._spill_needed.clear()
            while not self._stopping and self._queued_rows > self.max_pending_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:  # the writer must see it: put it back, it stays last
                    self._queue.put(_STOP)
                    self._queue.task_done()
                    break
                self._taken(item)
                self._to_spool(item[0], item[1])
                self._queue.task_done()

    def _write(self, sink: Sink, rows: list, queued_at: float | None = None) -> bool:
        try:
            sink.write(self.store, rows)
        except Exception as exc:  # any store failure: keep the rows, say so once per state change
            if self.stats.store_ok:
                LOG.error("store write failed, spooling to %s until it recovers: %s", self.spool.directory, exc)
            self.stats.store_ok = False
            self.stats.last_error = str(exc)[:500]
            self._retry_at = time.monotonic() + self.retry_interval_s
            return False
        if not self.stats.store_ok:
            LOG.warning("store writes recovered; replaying %d spooled batches", len(self.spool))
        self.stats.store_ok = True
        self.stats.batches_written += 1
        self.stats.written_by_kind[sink.name] = self.stats.written_by_kind.get(sink.name, 0) + len(rows)
        if sink is TRADES:
            self.stats.rows_written += len(rows)
        if queued_at is not None:
            self.stats.last_write_lag_s = time.monotonic() - queued_at
        return True

    def _to_spool(self, sink: Sink, rows: list) -> None:
        try:
            self.spool.put(sink, rows)
            self.stats.batches_spooled += 1
        except (SpoolFull, OSError) as exc:
            self.stats.rows_lost += len(rows)
            LOG.error("LOST %d %s rows: the store is failing and the spool cannot take more: %s", len(rows), sink.name, exc)

    def _replay(self, deadline: float | None = None) -> None:
        if not len(self.spool) or (not self.stats.store_ok and time.monotonic() < self._retry_at and deadline is None):
            return
        for path in self.spool.files():
            if deadline is not None and time.monotonic() > deadline:
                return
            try:
                sink, rows = self.spool.read(path)
            except Exception as exc:
                LOG.error("unreadable spool file %s kept aside: %s", path, exc)
                self.spool.set_aside(path)
                continue
            if not self._write(sink, rows):
                return
            self.spool.remove(path)
            self.stats.batches_replayed += 1
            if not len(self.spool):
                release_free_memory()  # the outage is over: hand its peak back instead of keeping it for good
            if self._queued_rows > self.max_pending_rows:
                return
