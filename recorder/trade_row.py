"""The normalized trade row: one per trade, identical in every store and every event folder."""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa

TIMESTAMP = pa.timestamp("ns", tz="UTC")

TRADE_SCHEMA = pa.schema(
    [
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("received_ts", TIMESTAMP, nullable=False),
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("market", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("base", pa.string(), nullable=False),
        pa.field("quote", pa.string(), nullable=False),
        pa.field("side", pa.string(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("notional", pa.float64(), nullable=False),
        pa.field("trade_id", pa.string(), nullable=False),
    ]
)
TRADE_COLUMNS: tuple[str, ...] = tuple(TRADE_SCHEMA.names)
DEDUP_KEY: tuple[str, ...] = ("ts", "exchange", "market", "symbol", "trade_id")


class TradeRow(NamedTuple):
    """A tuple, not a dataclass: the recorder builds one per trade on the hot path."""

    ts: int
    """exchange trade time, integer nanoseconds since the epoch, UTC"""
    received_ts: int
    """local receive time of the frame that carried the trade, integer nanoseconds"""
    exchange: str
    market: str
    symbol: str
    base: str
    quote: str
    side: str
    price: float
    amount: float
    notional: float
    trade_id: str


def rows_to_table(rows: list[TradeRow] | list[tuple]) -> pa.Table:
    """Columnar view of a batch of rows with the trade schema (timestamps as ns UTC)."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in TRADE_COLUMNS]
    arrays = [pa.array(column, type=field.type) for column, field in zip(columns, TRADE_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=TRADE_SCHEMA)


def table_to_rows(table: pa.Table) -> list[TradeRow]:
    """Rows back from a table with the trade schema; timestamps as integer ns again."""
    table = table.select(list(TRADE_COLUMNS))
    columns = []
    for name in TRADE_COLUMNS:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns.append(column.to_pylist())
    return [TradeRow(*values) for values in zip(*columns, strict=True)]
