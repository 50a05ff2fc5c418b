"""Embedded store: one SQLite file in WAL mode, so `extract` and `sqlite3` can read while the recorder writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from recorder.clock import S
from recorder.store.base import CoverageRow, GapRow, NoticeRow, TriggerRow, with_session_ups
from recorder.store.schema import migrations
from recorder.trade_row import TRADE_COLUMNS, TRADE_SCHEMA, TradeRow


class EmbeddedStore:
    """SQLite store; one connection per thread, writes serialized by SQLite's own lock."""

    kind = "embedded"

    def __init__(self, path: str | Path, retention_s: float = 30 * 86400, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(f"embedded store {self.path} does not exist (has the recorder run with this config?)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_ns = int(retention_s * S)
        self._local = threading.local()
        self._migrate()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, _, sql in migrations("embedded"):
            if number > version:
                conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;")

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
        placeholders = ",".join("?" * len(TRADE_COLUMNS))
        self._write(f"INSERT OR IGNORE INTO trades ({','.join(TRADE_COLUMNS)}) VALUES ({placeholders})", rows)

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        selected = [name for name in TRADE_COLUMNS if name != "base"]  # constant: not fetched row by row
        rows = self._conn().execute(
            f"SELECT {','.join(selected)} FROM trades WHERE base = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts, exchange, market, symbol, trade_id",
            (base, start_ns, end_ns),
        ).fetchall()
        columns = dict(zip(selected, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(selected, ())
        arrays = [pa.repeat(pa.scalar(base), len(rows)) if field.name == "base" else pa.array(columns[field.name], type=field.type)
                  for field in TRADE_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=TRADE_SCHEMA)

    def count_trades(self) -> int:
        return self._conn().execute("SELECT count(*) FROM trades").fetchone()[0]

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
        cutoff = now_ns - self.retention_ns
        conn = self._conn()
        dropped = conn.execute("DELETE FROM trades WHERE ts < ?", (cutoff,)).rowcount
        conn.execute("DELETE FROM coverage WHERE ts < ?", (cutoff,))
        conn.execute("DELETE FROM gaps WHERE end_ts < ?", (cutoff,))
        return dropped

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
