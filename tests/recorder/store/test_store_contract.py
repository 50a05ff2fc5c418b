"""The store contract: every store behaves the same. QuestDB runs when PUMPWATCH_TEST_QUESTDB_ILP/_PG are set,
in a table namespace of its own (see tests/conftest.py), so a server holding a user's data is never touched."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import pyarrow as pa
import pytest

from recorder.clock import S
from recorder.store.base import CoverageRow, GapRow, NoticeRow, TriggerRow
from recorder.store.embedded import EmbeddedStore
from recorder.trade_row import TRADE_SCHEMA, TradeRow, table_to_rows
from tests.conftest import eventually, fresh_store, store_kinds

T0 = (time.time_ns() // S - 600) * S
"""near now: QuestDB's TTL counts back from a table's newest row, so old fixed times would be evicted on commit"""


@pytest.fixture(params=store_kinds())
def store(request, tmp_path):
    with fresh_store(request.param, tmp_path, retention_s=3600) as s:
        yield s


@contextmanager
def _second_handle(store, tmp_path):
    """Another process's view of the same store: nothing it knows comes from the first handle's memory."""
    if store.kind == "embedded":
        other = EmbeddedStore(store.path)
    else:
        from recorder.store.questdb import QuestDBStore

        other = QuestDBStore(store.ilp_conf, store.pg_dsn, store.retention_s, table_prefix=store.prefix)
    try:
        yield other
    finally:
        other.close()


def _coin() -> str:
    """A fresh coin per test, so a shared QuestDB server never mixes tests."""
    return "T" + uuid.uuid4().hex[:8].upper()


def trade(coin: str, ts: int, trade_id: str, exchange: str = "binance", market: str = "spot", price: float = 2.0) -> TradeRow:
    symbol = f"{coin}-USDT" if market == "spot" else f"{coin}-USDT-PERP"
    return TradeRow(ts, ts + 5_000_000, exchange, market, symbol, coin, "USDT", "buy", price, 3.0, price * 3.0, trade_id)


def test_window_is_half_open_and_sorted_across_markets(store):
    coin = _coin()
    start, end = T0, T0 + 40 * S
    rows = [
        trade(coin, start - 1000, "before"),
        trade(coin, start, "at-start", "okx", "futures"),
        trade(coin, start + 10 * S, "mid", "gate", "spot"),
        trade(coin, start + 5 * S, "earlier", "bybit", "futures"),
        trade(coin, end - 1000, "last-in"),
        trade(coin, end, "at-end"),
    ]
    store.write_trades(rows)
    table = eventually(lambda: (t := store.read_window(coin, start, end)).num_rows == 4 and t)
    assert table.schema == TRADE_SCHEMA
    assert [r.trade_id for r in table_to_rows(table)] == ["at-start", "earlier", "mid", "last-in"]


def test_window_reads_only_the_asked_coin(store):
    coin, other = _coin(), _coin()
    store.write_trades([trade(coin, T0, "a"), trade(other, T0, "b")])
    table = eventually(lambda: (t := store.read_window(coin, T0 - S, T0 + S)).num_rows and t)
    assert table.column("base").to_pylist() == [coin]


def test_rows_round_trip_exactly(store):
    coin = _coin()
    row = TradeRow(T0 + 123_456_789, T0 + 223_457_001, "kucoin", "futures", f"{coin}-USDT-PERP", coin, "USDT", "sell",
                   0.000123, 1_000_000.0, 123.0, "9f2c")
    store.write_trades([row])
    table = eventually(lambda: (t := store.read_window(coin, T0, T0 + S)).num_rows and t)
    assert table_to_rows(table) == [row]


def test_writes_are_idempotent_on_the_dedup_key(store):
    coin = _coin()
    batch = [trade(coin, T0 + i * S, str(i)) for i in range(5)]
    store.write_trades(batch)
    store.write_trades(batch)
    store.write_trades([*batch[2:], trade(coin, T0 + 9 * S, "9")])
    table = eventually(lambda: (t := store.read_window(coin, T0, T0 + 60 * S)).num_rows >= 6 and t)
    assert sorted(table.column("trade_id").to_pylist()) == ["0", "1", "2", "3", "4", "9"]


def test_first_receipt_wins_and_a_redelivery_never_changes_a_stored_row(store, tmp_path):
    coin = _coin()
    first = trade(coin, T0, "7", price=2.0)
    store.write_trades([first])
    eventually(lambda: store.read_window(coin, T0, T0 + S).num_rows == 1)
    again = first._replace(received_ts=first.received_ts + 3 * S, price=2.5, notional=7.5)
    store.write_trades([again])  # same process, right after
    with _second_handle(store, tmp_path) as other:
        other.write_trades([again._replace(received_ts=first.received_ts + 9 * S), trade(coin, T0 + S // 2, "8")])
    table = eventually(lambda: (t := store.read_window(coin, T0, T0 + S)).num_rows == 2 and t)
    assert table_to_rows(table)[0] == first


def test_a_batch_with_one_key_twice_keeps_the_first(store):
    coin = _coin()
    first = trade(coin, T0, "1", price=2.0)
    store.write_trades([first, first._replace(price=3.0, received_ts=first.received_ts + S)])
    table = eventually(lambda: (t := store.read_window(coin, T0, T0 + S)).num_rows and t)
    assert table_to_rows(table) == [first]


def test_same_trade_id_on_other_markets_is_not_a_duplicate(store):
    coin = _coin()
    store.write_trades([trade(coin, T0, "1", "binance", "spot"), trade(coin, T0, "1", "binance", "futures"),
                        trade(coin, T0, "1", "gate", "spot")])
    eventually(lambda: store.read_window(coin, T0, T0 + S).num_rows == 3)


def test_empty_window_has_the_schema(store):
    table = store.read_window(_coin(), T0, T0 + S)
    assert table.num_rows == 0 and table.schema == TRADE_SCHEMA


def test_coverage_returns_sessions_that_began_before_the_window(store):
    conn = "c-" + uuid.uuid4().hex[:8]
    exchange = "ex" + uuid.uuid4().hex[:6]
    rows = [
        CoverageRow(T0 - 3600 * S, exchange, "spot", conn, "host:1", "up", "A-USDT,B-USDT"),
        CoverageRow(T0 + 5 * S, exchange, "spot", conn, "host:1", "alive", ""),
        CoverageRow(T0 + 30 * S, exchange, "spot", conn, "host:1", "down", ""),
    ]
    store.write_coverage(rows)
    got = eventually(lambda: (r := store.read_coverage(exchange, "spot", T0, T0 + 40 * S)) and len(r) == 3 and r)
    assert got == rows


def test_gap_status_is_upserted(store):
    symbol = _coin() + "-USDT"
    gap = GapRow(T0 + 1, T0 + 2 * S + 999, "okx", "spot", symbol, "id_jump", "101", "105", "open", 0)
    store.write_gaps([gap])
    store.write_gaps([gap._replace(status="backfilled", recovered=5)])
    got = eventually(lambda: [g for g in store.read_gaps(T0, T0 + S, "okx", "spot") if g.symbol == symbol and g.status == "backfilled"])
    assert got == [gap._replace(status="backfilled", recovered=5)]


def test_notices_and_triggers_are_durable(store):
    notice_id = int(uuid.uuid4().int % 1_000_000_000)
    store.write_notices([NoticeRow(T0, notice_id, "셀레스티아(TIA) KRW 마켓 디지털 자산 추가", T0, T0 + S, True, "TIA", "u")])
    eventually(lambda: notice_id in store.seen_notice_ids())
    trig = TriggerRow(T0, notice_id, "TIA", T0 + S, 1000, "scheduled", "", "")
    store.write_triggers([trig])
    store.write_triggers([trig._replace(status="extracted", event_dir="data/events/x")])
    got = eventually(lambda: [t for t in store.read_triggers(T0) if t.notice_id == notice_id and t.status == "extracted"])
    assert got == [trig._replace(status="extracted", event_dir="data/events/x")]


def test_embedded_retention_drops_only_old_trades(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite", retention_s=3600)
    store.write_trades([trade("OLD", T0 - 7200 * S, "1"), trade("NEW", T0 - 60 * S, "2")])
    assert store.apply_retention(T0) == 1
    assert store.read_window("OLD", 0, T0).num_rows == 0
    assert store.read_window("NEW", 0, T0).num_rows == 1


def test_embedded_schema_is_versioned(tmp_path):
    EmbeddedStore(tmp_path / "s.sqlite").close()
    import sqlite3

    assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA user_version").fetchone()[0] >= 1
    EmbeddedStore(tmp_path / "s.sqlite").close()  # re-opening applies nothing twice


def test_arrow_table_is_usable_by_pandas(store):
    coin = _coin()
    store.write_trades([trade(coin, T0, "1")])
    table = eventually(lambda: (t := store.read_window(coin, T0, T0 + S)).num_rows and t)
    frame = table.to_pandas()
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(table, pa.Table)
