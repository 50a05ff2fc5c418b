"""Where each kind of row ends up: the store method that takes it and how the spool keeps it, stated once.

The writer and the spool are handed a `Sink`, never a name to build a method name from, so a reader
(or a tool) follows `TRADES` to `write_trades` to `Store.write_trades`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from recorder.store.base import CoverageRow, GapRow, Store
from recorder.trade_row import TradeRow, rows_to_table, table_to_rows


@dataclass(frozen=True, eq=False)
class Sink:
    """One kind of row: compared by identity, so it is a cheap dict key on the hot path."""

    name: str
    """the spool file's tag and the writer's stats key"""
    write: Callable[[Store, Sequence], None]
    suffix: str
    """the spool file's format"""
    dump: Callable[[Sequence, Path], None]
    load: Callable[[Path], list]


def write_trades(store: Store, rows: Sequence[TradeRow]) -> None:
    store.write_trades(rows)


def write_coverage(store: Store, rows: Sequence[CoverageRow]) -> None:
    store.write_coverage(rows)


def write_gaps(store: Store, rows: Sequence[GapRow]) -> None:
    store.write_gaps(rows)


def dump_arrow(rows: Sequence[TradeRow], path: Path) -> None:
    table = rows_to_table(list(rows))
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def load_arrow(path: Path) -> list[TradeRow]:
    with pa.memory_map(str(path)) as source:
        return table_to_rows(ipc.open_file(source).read_all())


def dump_json(rows: Sequence[tuple], path: Path) -> None:
    path.write_text(json.dumps([list(row) for row in rows]), encoding="utf-8")


def json_loader(row_type: type[CoverageRow] | type[GapRow]) -> Callable[[Path], list]:
    def load(path: Path) -> list:
        return [row_type(*values) for values in json.loads(path.read_text(encoding="utf-8"))]

    load.__name__ = f"load_{row_type.__name__}_json"
    return load


TRADES = Sink("trades", write_trades, "arrow", dump_arrow, load_arrow)
COVERAGE = Sink("coverage", write_coverage, "json", dump_json, json_loader(CoverageRow))
GAPS = Sink("gaps", write_gaps, "json", dump_json, json_loader(GapRow))
BY_NAME: dict[str, Sink] = {sink.name: sink for sink in (TRADES, COVERAGE, GAPS)}
