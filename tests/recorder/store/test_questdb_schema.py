"""QuestDB schema upkeep: opening changes nothing that is right, retention changes only on purpose, wrong servers say so.

The server tests run when PUMPWATCH_TEST_QUESTDB_ILP/_PG name a real QuestDB, each in its own table namespace.
"""

from __future__ import annotations

import logging
import os

import psycopg
import pytest

from recorder.store import questdb_schema as schema
from recorder.store.base import StoreError
from recorder.store.questdb import QuestDBStore
from tests.conftest import QUESTDB_ENV, drop_questdb_namespace, eventually, questdb_configured, questdb_test_prefix

needs_server = pytest.mark.skipif(not questdb_configured(), reason="no QuestDB named by PUMPWATCH_TEST_QUESTDB_ILP/_PG")
HOUR, DAY = 3600.0, 86400.0


@pytest.fixture
def namespace():
    """A table prefix of the test's own; its tables are dropped afterwards."""
    prefix = questdb_test_prefix()
    yield prefix
    drop_questdb_namespace(prefix)


def _open(prefix: str, retention_s: float = 30 * DAY, create: bool = True) -> QuestDBStore:
    ilp, pg = (os.environ[name] for name in QUESTDB_ENV)
    return QuestDBStore(ilp, pg, retention_s=retention_s, table_prefix=prefix, create=create)


def _settled(prefix: str) -> dict:
    """The state once every table's WAL is applied (an ALTER ... SET TTL shows in tables() only then)."""
    def applied():
        with psycopg.connect(os.environ[QUESTDB_ENV[1]], autocommit=True) as conn:
            return all(w == s for name, w, s in conn.execute("SELECT name, writerTxn, sequencerTxn FROM wal_tables()")
                       if name.startswith(prefix))

    eventually(applied)
    return _state(prefix)


def _ttls(prefix: str) -> dict:
    return {table: ttl for table, ttl in _settled(prefix)["ttl"].items() if ttl[0]}


def _state(prefix: str) -> dict:
    """Everything an open could change: each table's TTL and its WAL sequencer transaction (DDL bumps it)."""
    with psycopg.connect(os.environ[QUESTDB_ENV[1]], autocommit=True) as conn:
        ttl = {name: (value, unit) for name, value, unit in conn.execute("SELECT table_name, ttlValue, ttlUnit FROM tables()")
               if name.startswith(prefix)}
        txn = {name: seq for name, seq in conn.execute("SELECT name, sequencerTxn FROM wal_tables()") if name.startswith(prefix)}
        return {"ttl": ttl, "txn": txn}


@needs_server
def test_opening_an_up_to_date_store_changes_nothing(namespace, caplog):
    _open(namespace).close()
    before = _settled(namespace)
    assert set(before["ttl"]) == {namespace + t for t in (*schema.TABLES, schema.SCHEMA_TABLE)}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=schema.__name__):
        _open(namespace).close()
        _open(namespace, retention_s=HOUR, create=False).close()  # a reader with another retention: no say
    assert _state(namespace) == before
    assert not caplog.records


@needs_server
def test_each_schema_file_is_applied_once_and_recorded(namespace):
    _open(namespace).close()
    _open(namespace).close()
    with psycopg.connect(os.environ[QUESTDB_ENV[1]], autocommit=True) as conn:
        recorded = conn.execute(f"SELECT version, name FROM {namespace}{schema.SCHEMA_TABLE}").fetchall()
    assert recorded == [(1, "001_init.sql")]


@needs_server
def test_a_retention_change_reaches_every_retained_table_with_one_log_line(namespace, caplog):
    _open(namespace, retention_s=HOUR).close()
    assert _ttls(namespace) == {
        namespace + "trades": (1, "HOUR"), namespace + "coverage": (1, "DAY"), namespace + "gaps": (1, "DAY")}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=schema.__name__):
        _open(namespace, retention_s=2 * DAY).close()
    assert _ttls(namespace) == {
        namespace + "trades": (2, "DAY"), namespace + "coverage": (2, "DAY"), namespace + "gaps": (2, "DAY")}
    [line] = [r.getMessage() for r in caplog.records]
    assert f"{namespace}trades TTL 1 HOURS -> 48 HOURS" in line and f"{namespace}gaps TTL 1 DAYS -> 2 DAYS" in line


@needs_server
def test_tables_of_another_schema_are_named_not_written(namespace):
    with psycopg.connect(os.environ[QUESTDB_ENV[1]], autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {namespace}trades (ts TIMESTAMP, received_ts TIMESTAMP, price DOUBLE) "
                     "TIMESTAMP(ts) PARTITION BY HOUR WAL")
    with pytest.raises(StoreError, match=rf"{namespace}trades exists with another schema \(ts is TIMESTAMP.*table_prefix"):
        _open(namespace)


@needs_server
def test_a_reader_of_a_namespace_without_tables_is_told_so(namespace):
    with pytest.raises(StoreError, match=f"no PumpWatch tables prefixed '{namespace}'"):
        _open(namespace, create=False)


def test_an_unreachable_server_is_one_clear_error():
    with pytest.raises(StoreError, match=r"cannot connect to QuestDB PGWire at 127\.0\.0\.1:1: Connection refused"):
        QuestDBStore("http::addr=127.0.0.1:1;", "postgresql://admin:quest@127.0.0.1:1/qdb")


class _Build:
    def __init__(self, text: str) -> None:
        self.text = text

    def execute(self, sql: str):
        assert sql == "SELECT build()"
        return self

    def fetchone(self):
        return (self.text,)


def test_the_server_version_is_checked_against_the_minimum():
    assert schema.server_version(_Build("Build Information: QuestDB 9.3.1, JDK 17.0.15, Commit Hash 97456db")) == (9, 3, 1)
    with pytest.raises(StoreError, match=r"QuestDB 9\.0\.3 is too old: PumpWatch needs QuestDB 9\.1\.0 or newer"):
        schema.server_version(_Build("Build Information: QuestDB 9.0.3, JDK 17, Commit Hash x"))
    with pytest.raises(StoreError, match="does not say it is QuestDB"):
        schema.server_version(_Build("PostgreSQL 16.4"))


def test_ttls_compare_by_length_as_the_server_reduces_them():
    assert schema.Retention(720, "HOUR") == schema.Retention(30, "DAY") == schema.Retention(720, "HOUR")
    assert schema.Retention(48, "HOUR") != schema.Retention(1, "DAY")
    assert schema.Retention(1, "MONTH") != schema.Retention(30, "DAY")
    assert schema.Retention(0, "HOUR") == schema.Retention(0, "DAY")


def test_retention_follows_each_tables_partition_unit():
    assert {t: str(r) for t, r in schema.wanted_retention(30 * DAY).items()} == {
        "trades": "720 HOURS", "coverage": "30 DAYS", "gaps": "30 DAYS"}
    assert {t: str(r) for t, r in schema.wanted_retention(90 * 60).items()} == {
        "trades": "2 HOURS", "coverage": "1 DAYS", "gaps": "1 DAYS"}
