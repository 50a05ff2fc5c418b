"""QuestDB store: ingest with the official client over ILP/HTTP (errors come back), read with psycopg over PGWire.

Every table is WAL with DEDUP UPSERT KEYS, so a retried batch, a reconnect snapshot or a backfill
never duplicates a row. Rows become visible to readers once the WAL is applied (normally within
milliseconds); readers that must see their own writes poll.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from string import Template

import pandas as pd
import psycopg
import pyarrow as pa
from questdb import Sender, TimestampNanos

from recorder.store.base import CoverageRow, GapRow, NoticeRow, TriggerRow
from recorder.store.schema import migrations
from recorder.trade_row import TIMESTAMP, TRADE_COLUMNS, TRADE_SCHEMA, TradeRow

_SYMBOL_COLUMNS = ["exchange", "market", "symbol", "base", "quote", "side"]


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, tz=UTC)


def _ns(value: datetime | None) -> int:
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(pd.Timestamp(value).value)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


class QuestDBStore:
    kind = "questdb"

    def __init__(self, ilp_conf: str, pg_dsn: str, retention_s: float = 30 * 86400) -> None:
        self.ilp_conf = ilp_conf if ilp_conf.endswith(";") else ilp_conf + ";"
        self.pg_dsn = pg_dsn
        self.retention_s = retention_s
        self._local = threading.local()
        self._send_lock = threading.Lock()
        self._sender: Sender | None = None
        self._migrate()

    def _pg(self) -> psycopg.Connection:
        conn = getattr(self._local, "pg", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.pg_dsn, autocommit=True)
            self._local.pg = conn
        return conn

    def _migrate(self) -> None:
        hours = max(1, math.ceil(self.retention_s / 3600))
        days = max(1, math.ceil(self.retention_s / 86400))
        conn = self._pg()
        for _, sql in migrations("questdb"):
            text = Template(sql).substitute(retention_hours=hours, retention_days=days)
            for statement in _statements(text):
                conn.execute(statement)

    def _send(self, fill) -> None:
        """Serialize rows into a fresh buffer and flush it; on failure the sender is rebuilt next time."""
        with self._send_lock:
            if self._sender is None:
                sender = Sender.from_conf(self.ilp_conf + "auto_flush=off;")
                sender.establish()
                self._sender = sender
            buffer = self._sender.new_buffer()
            fill(buffer)
            try:
                self._sender.flush(buffer, clear=False)
            except Exception:
                sender, self._sender = self._sender, None
                try:
                    sender.close(flush=False)
                finally:
                    raise

    def write_trades(self, rows: Sequence[TradeRow]) -> None:
        if not rows:
            return
        frame = pd.DataFrame.from_records(list(rows), columns=list(TRADE_COLUMNS))
        frame["ts"] = pd.to_datetime(frame["ts"], unit="ns", utc=True)
        frame["received_ts"] = pd.to_datetime(frame["received_ts"], unit="ns", utc=True)
        for name in _SYMBOL_COLUMNS:
            frame[name] = frame[name].astype("category")
        self._send(lambda buffer: buffer.dataframe(frame, table_name="trades", symbols=_SYMBOL_COLUMNS, at="ts"))

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        cursor = self._pg().execute(
            f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades WHERE base = %s AND ts >= %s AND ts < %s"
            " ORDER BY ts, exchange, market, symbol, trade_id",
            (base, _dt(start_ns), _dt(end_ns)),
        )
        records = cursor.fetchall()
        columns = list(zip(*records, strict=True)) if records else [[] for _ in TRADE_COLUMNS]
        arrays = []
        for values, field in zip(columns, TRADE_SCHEMA, strict=True):
            if field.type == TIMESTAMP:
                arrays.append(pa.array(values, type=pa.timestamp("us", tz="UTC")).cast(TIMESTAMP))
            else:
                arrays.append(pa.array(values, type=field.type))
        return pa.Table.from_arrays(arrays, schema=TRADE_SCHEMA)

    def count_trades(self) -> int:
        return self._pg().execute("SELECT count() FROM trades").fetchone()[0]

    def _rows(self, table: str, rows: Sequence[tuple], symbols: tuple[str, ...], timestamps: tuple[str, ...] = ()) -> None:
        if not rows:
            return
        fields = rows[0]._fields

        def fill(buffer) -> None:
            for row in rows:
                values = row._asdict()
                buffer.row(
                    table,
                    symbols={name: str(values[name]) for name in symbols},
                    columns={
                        name: (_dt(values[name]) if name in timestamps else values[name])
                        for name in fields
                        if name not in symbols and name != "ts"
                    },
                    at=TimestampNanos(values["ts"]),
                )

        self._send(fill)

    def write_coverage(self, rows: Sequence[CoverageRow]) -> None:
        self._rows("coverage", rows, ("exchange", "market", "conn_id", "process", "state"))

    def read_coverage(self, exchange: str, market: str, start_ns: int, end_ns: int) -> list[CoverageRow]:
        conn = self._pg()
        select = "SELECT ts, exchange, market, conn_id, process, state, symbols FROM coverage"
        rows = conn.execute(
            f"{select} WHERE exchange = %s AND market = %s AND ts >= %s AND ts <= %s",
            (exchange, market, _dt(start_ns), _dt(end_ns)),
        ).fetchall()
        conn_ids = sorted({row[3] for row in rows})
        ups = []
        for i in range(0, len(conn_ids), 200):
            chunk = conn_ids[i : i + 200]
            ups += conn.execute(
                f"{select} WHERE state = 'up' AND conn_id IN ({', '.join(['%s'] * len(chunk))})", chunk
            ).fetchall()
        merged = {(_ns(r[0]), *r[1:6], r[6] or "") for r in rows + ups}
        return sorted(CoverageRow(*row) for row in merged)

    def write_gaps(self, rows: Sequence[GapRow]) -> None:
        self._rows("gaps", rows, ("exchange", "market", "symbol", "kind", "status"), ("end_ts",))

    def read_gaps(self, start_ns: int, end_ns: int, exchange: str | None = None, market: str | None = None) -> list[GapRow]:
        sql = f"SELECT {', '.join(GapRow._fields)} FROM gaps WHERE ts <= %s AND end_ts >= %s"
        args: list = [_dt(end_ns), _dt(start_ns)]
        for name, value in (("exchange", exchange), ("market", market)):
            if value is not None:
                sql += f" AND {name} = %s"
                args.append(value)
        return [
            GapRow(_ns(r[0]), _ns(r[1]), *r[2:9], int(r[9])) for r in self._pg().execute(sql + " ORDER BY ts", args)
        ]

    def write_notices(self, rows: Sequence[NoticeRow]) -> None:
        self._rows("notices", rows, (), ("listed_at", "seen_at"))

    def seen_notice_ids(self) -> set[int]:
        return {row[0] for row in self._pg().execute("SELECT DISTINCT notice_id FROM notices")}

    def write_triggers(self, rows: Sequence[TriggerRow]) -> None:
        self._rows("triggers", rows, ("symbol", "status"), ("detected_at",))

    def read_triggers(self, since_ns: int = 0) -> list[TriggerRow]:
        cursor = self._pg().execute(
            f"SELECT {', '.join(TriggerRow._fields)} FROM triggers WHERE ts >= %s ORDER BY ts, notice_id, symbol",
            (_dt(since_ns),),
        )
        return [TriggerRow(_ns(r[0]), int(r[1]), r[2], _ns(r[3]), int(r[4]), r[5], r[6] or "", r[7] or "") for r in cursor]

    def apply_retention(self, now_ns: int) -> int:
        """QuestDB drops whole partitions by itself (TTL from config, set at start); nothing to do here."""
        return 0

    def close(self) -> None:
        with self._send_lock:
            if self._sender is not None:
                self._sender.close()
                self._sender = None
        conn = getattr(self._local, "pg", None)
        if conn is not None:
            conn.close()
            self._local.pg = None
