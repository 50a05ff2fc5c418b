"""Embedded store: trades as files (an Arrow IPC hot tier sealed into hour-partitioned Parquet, see `columnar`), the
small tables (coverage, gaps, notices, triggers) in one SQLite file in WAL mode beside them.

`<name>.sqlite` names the store: its trades live in `<name>-trades/` (sealed) and `<name>-hot/` (hot) next to it. A store
written by an older PumpWatch (trades in SQLite) is converted when it is first opened (`migrate_legacy_trades`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa

from recorder.clock import S
from recorder.store.base import CoverageRow, GapRow, NoticeRow, TriggerRow, with_session_ups
from recorder.store.columnar import HotFigures, Part, TradeFiles
from recorder.store.schema import migrations
from recorder.store.sealer import seal_in_child
from recorder.trade_row import TRADE_COLUMNS, TradeRow, rows_to_table

LOG = logging.getLogger(__name__)
LEGACY_CHUNK = 200_000
"""rows of an old SQLite `trades` table converted per step"""


class EmbeddedStore:
    """Trades in files (writers never share a lock), the rest in SQLite (one connection per thread)."""

    kind = "embedded"

    def __init__(self, path: str | Path, retention_s: float = 30 * 86400, *, create: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(f"embedded store {self.path} does not exist (has the recorder run with this config?)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_ns = int(retention_s * S)
        self.sealed_dir = self.path.parent / f"{self.path.stem}-trades"
        self.hot_dir = self.path.parent / f"{self.path.stem}-hot"
        self.files = TradeFiles(self.sealed_dir, self.hot_dir, self.hot_dir / ".seal.lock")
        self._local = threading.local()
        self._migrate(progress)
        rows_to_table([])  # pyarrow imports pandas on its first conversion of Python values: here, not in the writer thread

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _migrate(self, progress: Callable[[int, int], None] | None) -> None:
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, name, sql in migrations("embedded"):
            if number > version:
                if name == "002_trades_to_files.sql":
                    self.migrate_legacy_trades(progress)
                conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;")
                if name == "002_trades_to_files.sql":
                    conn.execute("VACUUM")  # the old trades table's pages go back to the disk, not to a free list
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def migrate_legacy_trades(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Convert the old SQLite `trades` table into sealed parts (then schema 002 drops it); returns rows converted.

        Rows go through the hot tier in insertion order, so what SQLite stored is what the parts hold; a crash midway
        leaves the table in place and the next open converts again (duplicates of a key collapse onto the first)."""
        conn = self._conn()
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'trades'").fetchone():
            return 0
        total = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        if not total:
            return 0
        LOG.warning("converting %d trades of %s into %s (once)", total, self.path, self.sealed_dir)
        done, last = 0, -1
        while True:
            rows = conn.execute(f"SELECT rowid, {','.join(TRADE_COLUMNS)} FROM trades WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                (last, LEGACY_CHUNK)).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            self.files.append(rows_to_table([row[1:] for row in rows]))
            done += len(rows)
            if progress is not None:
                progress(done, total)
        self.compact()
        LOG.warning("converted %d trades into %s", done, self.sealed_dir)
        return done

    def _write(self, sql: str, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def write_trades(self, rows: Sequence[TradeRow]) -> None:
        """Appended to this process's hot files and fsynced; duplicates are resolved when read and when sealed."""
        self.files.append(rows_to_table(list(rows)))

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        return self.files.read_window(base, start_ns, end_ns)

    def count_trades(self) -> int:
        return self.files.count()

    def seal(self, now_ns: int) -> int:
        """Seal the hot files no live writer holds into Parquet parts, in a child process (`recorder.store.sealer`: the
        service runs it every minute); rows sealed."""
        self.files.rotate(now_ns)
        return seal_in_child(self.files)

    def compact(self) -> int:
        """Seal everything recorded so far, this process's open files included; waits for a seal under way elsewhere."""
        return self.files.seal(time.time_ns(), everything=True, wait=True)

    def sealed_parts(self) -> list[Part]:
        return self.files.sealed_parts()

    def hot_figures(self) -> HotFigures:
        return self.files.hot_figures()

    def unsealed_trades(self) -> pa.Table:
        """Hot rows not sealed yet, each key once: with the parts, every trade exactly once (for SQL over both tiers)."""
        return self.files.unsealed()

    def write_coverage(self, rows: Sequence[CoverageRow]) -> None:
        self._write("INSERT OR IGNORE INTO coverage VALUES (?,?,?,?,?,?,?)", rows)

    def read_coverage(self, exchange: str, market: str, start_ns: int, end_ns: int) -> list[CoverageRow]:
        conn = self._conn()
        rows = conn.execute(
            "SELECT * FROM coverage WHERE exchange = ? AND market = ? AND ts >= ? AND ts <= ?",
            (exchange, market, start_ns, end_ns),
        ).fetchall()
        return with_session_ups(rows, lambda chunk: conn.execute(
            f"SELECT * FROM coverage WHERE state = 'up' AND conn_id IN ({','.join('?' * len(chunk))})", chunk), 500)

    def write_gaps(self, rows: Sequence[GapRow]) -> None:
        self._write("INSERT OR REPLACE INTO gaps VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def read_gaps(self, start_ns: int, end_ns: int, exchange: str | None = None, market: str | None = None) -> list[GapRow]:
        sql = "SELECT * FROM gaps WHERE ts <= ? AND end_ts >= ?"
        args: list = [end_ns, start_ns]
        if exchange is not None:
            sql += " AND exchange = ?"
            args.append(exchange)
        if market is not None:
            sql += " AND market = ?"
            args.append(market)
        return [GapRow(*row) for row in self._conn().execute(sql + " ORDER BY ts", args)]

    def write_notices(self, rows: Sequence[NoticeRow]) -> None:
        self._write("INSERT OR IGNORE INTO notices VALUES (?,?,?,?,?,?,?,?)", rows)

    def seen_notice_ids(self) -> set[int]:
        return {row[0] for row in self._conn().execute("SELECT notice_id FROM notices")}

    def write_triggers(self, rows: Sequence[TriggerRow]) -> None:
        self._write("INSERT OR REPLACE INTO triggers VALUES (?,?,?,?,?,?,?,?)", rows)

    def read_triggers(self, since_ns: int = 0) -> list[TriggerRow]:
        cursor = self._conn().execute("SELECT * FROM triggers WHERE ts >= ? ORDER BY ts, notice_id, symbol", (since_ns,))
        return [TriggerRow(*row) for row in cursor]

    def wait_visible(self, timeout_s: float) -> bool:
        """A committed SQLite transaction is visible at once."""
        return True

    def apply_retention(self, now_ns: int) -> int:
        """Trades: whole hour folders ending at or before the cutoff are deleted (rows dropped returned); the small tables by row."""
        cutoff = now_ns - self.retention_ns
        conn = self._conn()
        dropped = self.files.drop_before(cutoff)
        conn.execute("DELETE FROM coverage WHERE ts < ?", (cutoff,))
        conn.execute("DELETE FROM gaps WHERE end_ts < ?", (cutoff,))
        return dropped

    def close(self) -> None:
        self.files.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
