"""QuestDB schema upkeep: server version check, versioned migrations, retention (TTL) per table.

A QuestDB server is shared state: several deployments, a console user and a test run may all use
it. So opening a store changes nothing that is already right: each schema file is applied once and
recorded in `<prefix>pumpwatch_schema`, and a TTL is altered only when `store.retention` asks for a
different one, with one log line naming every change. Readers (`extract`) never alter anything.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from string import Template

import psycopg

from recorder.store.base import StoreError
from recorder.store.schema import migrations

LOG = logging.getLogger(__name__)

MIN_VERSION = (9, 1, 0)
"""TIMESTAMP_NS columns arrived in QuestDB 9.1.0; the store keeps nanosecond times and needs them."""

SCHEMA_TABLE = "pumpwatch_schema"
TABLES = ("trades", "coverage", "gaps", "notices", "triggers")
TTL_UNITS = {"trades": ("HOUR", 3600), "coverage": ("DAY", 86400), "gaps": ("DAY", 86400)}
"""Tables that follow `store.retention`, in their partition unit (a TTL drops whole partitions).
Notices and triggers are kept: they are tiny and they are the event history."""

_UNIT_HOURS = {"HOUR": 1, "DAY": 24, "WEEK": 168}

NS_COLUMNS = {"trades": ("ts", "received_ts"), "coverage": ("ts",), "gaps": ("ts", "end_ts"),
              "notices": ("ts", "listed_at", "seen_at"), "triggers": ("ts", "detected_at")}


@dataclass(frozen=True)
class Retention:
    """A table's TTL as `tables()` reports it: the unit is singular there, and the server reduces it
    (a TTL set as 720 HOURS reads back as 30 DAY), so two TTLs compare by their length in hours."""

    value: int
    unit: str

    def __str__(self) -> str:
        return f"{self.value} {self.unit}S" if self.value else "none"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Retention) and self.hours == other.hours

    def __hash__(self) -> int:
        return hash(self.hours)

    @property
    def hours(self) -> int | tuple[int, str]:
        """Calendar units (MONTH, YEAR) have no fixed length: they equal only themselves."""
        factor = _UNIT_HOURS.get(self.unit)
        return self.value * factor if factor else (self.value, self.unit)


def server_version(conn: psycopg.Connection) -> tuple[int, int, int]:
    """The server's QuestDB version from `build()`; one clear error when it is too old or not QuestDB."""
    text = str(conn.execute("SELECT build()").fetchone()[0])
    match = re.search(r"QuestDB (\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise StoreError(f"the PGWire server does not say it is QuestDB (build() = {text!r})")
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if version < MIN_VERSION:
        raise StoreError(f"QuestDB {'.'.join(map(str, version))} is too old: PumpWatch needs QuestDB "
                         f"{'.'.join(map(str, MIN_VERSION))} or newer (TIMESTAMP_NS columns)")
    return version


def existing_tables(conn: psycopg.Connection, prefix: str) -> dict[str, Retention]:
    """This namespace's tables and their TTLs, keyed by the unprefixed name."""
    rows = conn.execute("SELECT table_name, ttlValue, ttlUnit FROM tables()").fetchall()
    found = {}
    for name, ttl_value, ttl_unit in rows:
        if name.startswith(prefix) and name[len(prefix):] in (*TABLES, SCHEMA_TABLE):
            found[name[len(prefix):]] = Retention(int(ttl_value or 0), str(ttl_unit or "").upper())
    return found


def applied_versions(conn: psycopg.Connection, prefix: str) -> set[int]:
    return {int(row[0]) for row in conn.execute(f"SELECT version FROM {prefix}{SCHEMA_TABLE}")}


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def migrate(conn: psycopg.Connection, prefix: str) -> list[int]:
    """Apply the schema files not yet recorded; returns the versions applied now."""
    tables = existing_tables(conn, prefix)
    if SCHEMA_TABLE not in tables:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {prefix}{SCHEMA_TABLE} (version INT, name VARCHAR, applied_at TIMESTAMP)")
    done = applied_versions(conn, prefix)
    applied = []
    for number, name, sql in migrations("questdb"):
        if number in done:
            continue
        for statement in _statements(Template(sql).substitute(prefix=prefix)):
            conn.execute(statement)
        conn.execute(f"INSERT INTO {prefix}{SCHEMA_TABLE} VALUES (%s, %s, now())", (number, name))
        applied.append(number)
    if applied:
        check_columns(conn, prefix)
        LOG.info("QuestDB schema: applied %s to tables prefixed %r", ", ".join(f"{n:03d}" for n in applied), prefix)
    return applied


def check_columns(conn: psycopg.Connection, prefix: str) -> None:
    """Tables left by an older PumpWatch (microsecond TIMESTAMP) are named, never written with the wrong unit."""
    for table, columns in NS_COLUMNS.items():
        types = {row[0]: row[1] for row in conn.execute(f"SELECT \"column\", type FROM table_columns('{prefix}{table}')")}
        wrong = [f"{name} is {types.get(name)}" for name in columns if types.get(name) != "TIMESTAMP_NS"]
        if wrong:
            raise StoreError(f"table {prefix}{table} exists with another schema ({', '.join(wrong)}, expected TIMESTAMP_NS): "
                             "set store.questdb.table_prefix to start fresh tables beside it, or drop it")


def wanted_retention(retention_s: float) -> dict[str, Retention]:
    return {table: Retention(max(1, math.ceil(retention_s / size)), unit) for table, (unit, size) in TTL_UNITS.items()}


def apply_retention(conn: psycopg.Connection, prefix: str, retention_s: float) -> dict[str, tuple[Retention, Retention]]:
    """Set each retained table's TTL to the config's where it differs; one log line lists the changes."""
    current = existing_tables(conn, prefix)
    changes = {}
    for table, wanted in wanted_retention(retention_s).items():
        have = current.get(table, Retention(0, ""))
        if have != wanted:
            conn.execute(f"ALTER TABLE {prefix}{table} SET TTL {wanted}")
            changes[table] = (have, wanted)
    if changes:
        replaced = any(old.value for old, _ in changes.values())  # a new table's first TTL is news, not a warning
        LOG.log(logging.WARNING if replaced else logging.INFO, "QuestDB retention set by store.retention: %s",
                "; ".join(f"{prefix}{table} TTL {old} -> {new}" for table, (old, new) in changes.items()))
    return changes


def pending_wal(conn: psycopg.Connection, prefix: str) -> list[str]:
    """This namespace's tables with WAL transactions not yet applied; a suspended table is an error, not a wait."""
    pending = []
    for name, suspended, writer_txn, sequencer_txn, error in conn.execute(
            "SELECT name, suspended, writerTxn, sequencerTxn, errorMessage FROM wal_tables()"):
        if not (name.startswith(prefix) and name[len(prefix):] in TABLES):
            continue
        if suspended:
            raise StoreError(f"QuestDB suspended WAL table {name}: {error or 'no reason given'} "
                             f"(see QuestDB's docs: ALTER TABLE {name} RESUME WAL)")
        if writer_txn < sequencer_txn:
            pending.append(name)
    return pending


def drop_namespace(conn: psycopg.Connection, prefix: str) -> list[str]:
    """Drop every PumpWatch table of one prefix (a test run's or the demo's own); returns their names."""
    dropped = []
    for table in existing_tables(conn, prefix):
        conn.execute(f"DROP TABLE IF EXISTS {prefix}{table}")
        dropped.append(prefix + table)
    return dropped
