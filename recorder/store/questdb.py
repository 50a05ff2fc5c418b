"""QuestDB store: ingest with the official client over ILP/HTTP (errors come back), read with psycopg over PGWire.

Every table is WAL with DEDUP UPSERT KEYS, so a retried batch never duplicates a row. UPSERT keeps the
last write, but PumpWatch's rule is that the first receipt of a trade wins (as in the embedded
store): before a batch goes out, the keys already stored in its time span are read back and those
rows are left out, so a re-delivery (backfill, a reconnect snapshot) never changes a stored row.
Rows become visible to readers once the WAL is applied (normally within milliseconds); keys written
by this process in the last `RECENT_S` seconds are also remembered, to cover that lag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict
from questdb import QuestDBError, Sender, TimestampNanos

from recorder.store import questdb_schema as schema
from recorder.store.base import CoverageRow, GapRow, NoticeRow, StoreError, TriggerRow, with_session_ups
from recorder.trade_row import DEDUP_KEY, TRADE_COLUMNS, TRADE_SCHEMA, TradeRow

_SYMBOL_COLUMNS = ["exchange", "market", "symbol", "base", "quote", "side"]
RECENT_S = 30.0
"""how long this process remembers the keys it wrote (WAL apply lag under load stays far below)"""
_SYMBOL_FILTER_MAX = 200
"""a key lookup names the batch's symbols when there are at most this many, else reads its whole time span"""


def _keys(table: str, rows: Sequence[tuple], key: Sequence[str]) -> list[tuple]:
    """(table, *key fields) per row: one attribute getter, no dict per row (a batch holds thousands)."""
    fields = attrgetter(*key)
    return [(table, *fields(row)) for row in rows]


def _where(address: str) -> str:
    info = conninfo_to_dict(address)
    return f"{info.get('host', '?')}:{info.get('port', '?')}"


def connect(pg_dsn: str) -> psycopg.Connection:
    """A PGWire connection, or one line saying which server could not be reached and why."""
    try:
        return psycopg.connect(pg_dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = (str(exc).strip().splitlines() or ["no reason given"])[0].rsplit(" failed: ", 1)[-1].removeprefix("ERROR:").strip()
        raise StoreError(f"cannot connect to QuestDB PGWire at {_where(pg_dsn)}: {reason}") from exc


def drop_namespace(pg_dsn: str, prefix: str) -> list[str]:
    """Drop the PumpWatch tables of one prefix (a test run's or the demo's own); returns their names."""
    with connect(pg_dsn) as conn:
        return schema.drop_namespace(conn, prefix)


class QuestDBStore:
    kind = "questdb"

    def __init__(self, ilp_conf: str, pg_dsn: str, retention_s: float = 30 * 86400, *, table_prefix: str = "",
                 create: bool = True) -> None:
        """`create`: the recorder's open (migrate, align retention); readers pass False and change nothing."""
        self.ilp_conf = ilp_conf if ilp_conf.endswith(";") else ilp_conf + ";"
        self.pg_dsn = pg_dsn
        self.retention_s = retention_s
        self.prefix = table_prefix
        self.tables = {name: table_prefix + name for name in schema.TABLES}
        self._local = threading.local()
        self._send_lock = threading.Lock()
        self._sender: Sender | None = None
        self._recent: dict[tuple, float] = {}
        self._recent_lock = threading.Lock()
        """guards iterating and changing `_recent`: the writer thread (trades) and the watcher's (notices) share it"""
        conn = self._pg()
        self.version = schema.server_version(conn)
        if create:
            schema.migrate(conn, table_prefix)
            schema.apply_retention(conn, table_prefix, retention_s)
            with self._send_lock:
                self._connect_sender()
        elif set(schema.TABLES) - set(schema.existing_tables(conn, table_prefix)):
            raise StoreError(f"QuestDB at {_where(pg_dsn)} has no PumpWatch tables prefixed {table_prefix!r} "
                             "(has the recorder run with this config?)")

    # --- connections ---------------------------------------------------------------------------
    def _pg(self) -> psycopg.Connection:
        conn = getattr(self._local, "pg", None)
        if conn is None or conn.closed:
            conn = connect(self.pg_dsn)
            self._local.pg = conn
        return conn

    def _connect_sender(self) -> Sender:
        if self._sender is None:
            sender = Sender.from_conf(self.ilp_conf + "auto_flush=off;")
            try:
                sender.establish()
            except QuestDBError as exc:
                raise StoreError(f"QuestDB ILP/HTTP ({self.ilp_conf.rstrip(';')}) is not usable: {exc}") from exc
            if sender.protocol_version < 2:
                sender.close(flush=False)
                raise StoreError("the QuestDB server speaks ILP protocol version 1 only; nanosecond timestamps need "
                                 f"version 2 (QuestDB {'.'.join(map(str, schema.MIN_VERSION))} or newer)")
            self._sender = sender
        return self._sender

    def _send(self, fill: Callable[[Any], None]) -> None:
        """Serialize rows into a fresh buffer and flush it; on failure the sender is rebuilt next time."""
        with self._send_lock:
            sender = self._connect_sender()
            buffer = sender.new_buffer()
            fill(buffer)
            try:
                sender.flush(buffer, clear=False)
            except Exception:
                self._sender = None
                try:
                    sender.close(flush=False)
                finally:
                    raise

    def _select(self, table: str, fields: Sequence[str]) -> str:
        """Nanosecond columns come back as integers: exact, and no datetime round trip."""
        ns = schema.NS_COLUMNS[table]
        names = ", ".join(f"cast({name} AS long) {name}" if name in ns else name for name in fields)
        return f"SELECT {names} FROM {self.tables[table]}"

    # --- first receipt wins ----------------------------------------------------------------------
    def _unseen(self, table: str, rows: Sequence[tuple], key: Sequence[str], narrow_by: str | None) -> list:
        """The rows whose key is neither stored nor written by this process lately; the first of equal keys in a batch."""
        now = time.monotonic()
        with self._recent_lock:
            while self._recent:
                oldest = next(iter(self._recent))
                if self._recent[oldest] > now - RECENT_S:
                    break
                del self._recent[oldest]
        fresh: dict[tuple, tuple] = {}
        for k, row in zip(_keys(table, rows, key), rows, strict=True):
            if k not in fresh and k not in self._recent:
                fresh[k] = row
        if not fresh:
            return []
        stamps = [k[1] for k in fresh]
        sql = f"{self._select(table, key)} WHERE ts >= %s::timestamp_ns AND ts <= %s::timestamp_ns"
        args: list = [min(stamps), max(stamps)]
        if narrow_by is not None:
            position = 1 + list(key).index(narrow_by)
            values = sorted({k[position] for k in fresh})
            if len(values) <= _SYMBOL_FILTER_MAX:
                sql += f" AND {narrow_by} IN ({', '.join(['%s'] * len(values))})"
                args += values
        for stored in self._pg().execute(sql, args):
            fresh.pop((table, *stored), None)
        return list(fresh.values())

    def _remember(self, table: str, rows: Sequence[tuple], key: Sequence[str]) -> None:
        keys = dict.fromkeys(_keys(table, rows, key), time.monotonic())
        with self._recent_lock:
            self._recent.update(keys)

    # --- trades ----------------------------------------------------------------------------------
    def write_trades(self, rows: Sequence[TradeRow]) -> None:
        rows = self._unseen("trades", rows, DEDUP_KEY, "symbol")
        if not rows:
            return
        frame = pd.DataFrame.from_records(rows, columns=list(TRADE_COLUMNS))
        frame["ts"] = pd.to_datetime(frame["ts"], unit="ns", utc=True)
        frame["received_ts"] = pd.to_datetime(frame["received_ts"], unit="ns", utc=True)
        for name in _SYMBOL_COLUMNS:
            frame[name] = frame[name].astype("category")
        self._send(lambda buffer: buffer.dataframe(frame, table_name=self.tables["trades"], symbols=_SYMBOL_COLUMNS, at="ts"))
        self._remember("trades", rows, DEDUP_KEY)

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        cursor = self._pg().execute(
            f"{self._select('trades', TRADE_COLUMNS)} WHERE base = %s AND ts >= %s::timestamp_ns AND ts < %s::timestamp_ns"
            " ORDER BY ts, exchange, market, symbol, trade_id",
            (base, start_ns, end_ns),
        )
        records = cursor.fetchall()
        columns = list(zip(*records, strict=True)) if records else [[] for _ in TRADE_COLUMNS]
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, TRADE_SCHEMA, strict=True)]
        return pa.Table.from_arrays(arrays, schema=TRADE_SCHEMA)

    def count_trades(self) -> int:
        return self._pg().execute(f"SELECT count() FROM {self.tables['trades']}").fetchone()[0]

    # --- the small tables ------------------------------------------------------------------------
    def _rows(self, table: str, rows: Sequence[tuple], symbols: tuple[str, ...]) -> None:
        if not rows:
            return
        fields = rows[0]._fields
        ns = schema.NS_COLUMNS[table]

        def fill(buffer) -> None:
            for row in rows:
                values = row._asdict()
                buffer.row(
                    self.tables[table],
                    symbols={name: str(values[name]) for name in symbols},
                    columns={
                        name: (TimestampNanos(values[name]) if name in ns else values[name])
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
        select = self._select("coverage", CoverageRow._fields)
        rows = conn.execute(
            f"{select} WHERE exchange = %s AND market = %s AND ts >= %s::timestamp_ns AND ts <= %s::timestamp_ns",
            (exchange, market, start_ns, end_ns),
        ).fetchall()
        return with_session_ups(rows, lambda chunk: conn.execute(
            f"{select} WHERE state = 'up' AND conn_id IN ({', '.join(['%s'] * len(chunk))})", chunk), 200)

    def write_gaps(self, rows: Sequence[GapRow]) -> None:
        self._rows("gaps", rows, ("exchange", "market", "symbol", "kind", "status"))

    def read_gaps(self, start_ns: int, end_ns: int, exchange: str | None = None, market: str | None = None) -> list[GapRow]:
        sql = f"{self._select('gaps', GapRow._fields)} WHERE ts <= %s::timestamp_ns AND end_ts >= %s::timestamp_ns"
        args: list = [end_ns, start_ns]
        for name, value in (("exchange", exchange), ("market", market)):
            if value is not None:
                sql += f" AND {name} = %s"
                args.append(value)
        return [GapRow(*r[:9], int(r[9])) for r in self._pg().execute(sql + " ORDER BY ts", args)]

    def write_notices(self, rows: Sequence[NoticeRow]) -> None:
        rows = self._unseen("notices", rows, ("ts", "notice_id"), None)
        self._rows("notices", rows, ())
        self._remember("notices", rows, ("ts", "notice_id"))

    def seen_notice_ids(self) -> set[int]:
        return {row[0] for row in self._pg().execute(f"SELECT DISTINCT notice_id FROM {self.tables['notices']}")}

    def write_triggers(self, rows: Sequence[TriggerRow]) -> None:
        self._rows("triggers", rows, ("symbol", "status"))

    def read_triggers(self, since_ns: int = 0) -> list[TriggerRow]:
        cursor = self._pg().execute(
            f"{self._select('triggers', TriggerRow._fields)} WHERE ts >= %s::timestamp_ns ORDER BY ts, notice_id, symbol",
            (since_ns,),
        )
        return [TriggerRow(r[0], int(r[1]), r[2], r[3], int(r[4]), r[5], r[6] or "", r[7] or "") for r in cursor]

    def wait_visible(self, timeout_s: float) -> bool:
        """Accepted WAL transactions become readable when applied (milliseconds, more under load); a suspended table never."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = schema.pending_wal(self._pg(), self.prefix)
            if not pending:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def seal(self, now_ns: int) -> int:
        """Nothing to seal: QuestDB partitions and compresses on its own."""
        return 0

    def apply_retention(self, now_ns: int) -> int:
        """QuestDB drops whole partitions by itself (the TTL set at start from store.retention); nothing to do here."""
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
