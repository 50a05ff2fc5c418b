"""SQL over the embedded store with DuckDB: a `trades` view of sealed parts and unsealed hot rows, plus the small tables.

DuckDB reads the Parquet parts itself; the hot tier (Arrow IPC streams with a torn tail possible) is read by the store,
deduplicated against the parts, and handed over as an Arrow table, so `trades` holds every trade exactly once.
"""

from __future__ import annotations

import sqlite3

import duckdb
import pyarrow as pa

from recorder.store.embedded import EmbeddedStore
from recorder.trade_row import TRADE_COLUMNS

SMALL_TABLES = ("coverage", "gaps", "notices", "triggers")


def connect(store: EmbeddedStore) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views `trades`, `coverage`, `gaps`, `notices`, `triggers` over the store."""
    con = duckdb.connect()
    con.register("unsealed_trades", store.unsealed_trades())
    columns = ", ".join(TRADE_COLUMNS)
    sealed = f"SELECT {columns} FROM read_parquet('{store.sealed_dir}/*/*/*.parquet') UNION ALL " if store.sealed_parts() else ""
    con.execute(f"CREATE VIEW trades AS {sealed}SELECT {columns} FROM unsealed_trades")
    with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as conn:
        for name in SMALL_TABLES:
            cursor = conn.execute(f"SELECT * FROM {name}")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            con.register(name, pa.table({n: [row[i] for row in rows] for i, n in enumerate(names)}))
    return con
