"""Shared test helpers: the repository root, ../shared, polling for a condition instead of sleeping."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

T = TypeVar("T")


class _Polling:
    """One deadline and one failure message for every wait in the suite (sync and async callers alike)."""

    def __init__(self, what: str | Callable[[], str], timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def check(self, value: object) -> None:
        if time.monotonic() > self.deadline:
            what = self.what() if callable(self.what) else self.what
            raise AssertionError(f"timed out after {self.timeout:g}s waiting for {what or 'a condition'}; last value: {value!r}")


def eventually(probe: Callable[[], T], *, what: str | Callable[[], str] = "", timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll until `probe()` returns a truthy value and return it; fail loudly with `what` and the last value.

    Tests wait for conditions this way, never by sleeping and then counting. `what` may be a callable,
    evaluated only on failure, to say what was still missing.
    """
    polling = _Polling(what, timeout)
    while True:
        value = probe()
        if value:
            return value
        polling.check(value)
        time.sleep(interval)


async def eventually_async(probe: Callable[[], T], *, what: str | Callable[[], str] = "", timeout: float = 30.0,
                           interval: float = 0.02) -> T:
    """`eventually` for code on an event loop: the probe runs on the loop, between its other work."""
    polling = _Polling(what, timeout)
    while True:
        value = probe()
        if value:
            return value
        polling.check(value)
        await asyncio.sleep(interval)


@pytest.fixture
def shared_dir() -> Path:
    return SHARED


QUESTDB_ENV = ("PUMPWATCH_TEST_QUESTDB_ILP", "PUMPWATCH_TEST_QUESTDB_PG")
TEST_PREFIX = "pwtest_"
"""every table a test creates on a QuestDB server starts with this, then a per-store id: a user's tables are never touched"""


def questdb_configured() -> bool:
    return all(os.environ.get(name) for name in QUESTDB_ENV)


def store_kinds() -> list:
    """`embedded` always; `questdb` too when PUMPWATCH_TEST_QUESTDB_ILP and _PG name a server."""
    kinds = [pytest.param("embedded", id="embedded")]
    if questdb_configured():
        kinds.append(pytest.param("questdb", id="questdb"))
    return kinds


def questdb_test_prefix() -> str:
    return f"{TEST_PREFIX}{uuid.uuid4().hex[:10]}_"


def questdb_overrides(prefix: str) -> dict:
    """Config keys that point a service at the test server, in the test's own table namespace."""
    ilp, pg = (os.environ[name] for name in QUESTDB_ENV)
    return {"store": {"kind": "questdb", "questdb": {"ilp": ilp, "pg": pg, "table_prefix": prefix}}}


@contextmanager
def fresh_store(kind: str, directory: Path, retention_s: float = 30 * 86400) -> Iterator:
    """A fresh store of `kind`; a QuestDB one lives in its own table namespace and is dropped afterwards."""
    if kind == "embedded":
        from recorder.store.embedded import EmbeddedStore

        store = EmbeddedStore(directory / "store.sqlite", retention_s=retention_s)
        try:
            yield store
        finally:
            store.close()
        return
    from recorder.store.questdb import QuestDBStore

    ilp, pg = (os.environ[name] for name in QUESTDB_ENV)
    prefix = questdb_test_prefix()
    store = QuestDBStore(ilp, pg, retention_s=retention_s, table_prefix=prefix)
    try:
        yield store
    finally:
        store.close()
        drop_questdb_namespace(prefix)


def drop_questdb_namespace(prefix: str) -> None:
    from recorder.store.questdb import drop_namespace

    drop_namespace(os.environ[QUESTDB_ENV[1]], prefix)


@pytest.fixture(scope="session", autouse=True)
def questdb_user_tables_untouched():
    """Against a real server, prove the suite leaves every table outside its own namespace as it found it."""
    if not questdb_configured():
        yield
        return
    import psycopg

    def snapshot() -> dict:
        with psycopg.connect(os.environ[QUESTDB_ENV[1]], autocommit=True) as conn:
            names = [r[0] for r in conn.execute("SELECT table_name, ttlValue, ttlUnit FROM tables()")
                     if not r[0].startswith(TEST_PREFIX)]
            return {name: (conn.execute("SELECT ttlValue, ttlUnit FROM tables() WHERE table_name = %s", (name,)).fetchone(),
                           conn.execute(f"SELECT \"column\", type FROM table_columns('{name}')").fetchall())
                    for name in names}

    before = snapshot()
    yield
    after = snapshot()
    assert after == before, "the test suite changed tables outside its own namespace"
