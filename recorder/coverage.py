"""Connection coverage: each websocket session's up, heartbeats and down go to the store.

With these rows anyone can answer "was market X recording coin Y throughout [a, b]?" for any
window; a process killed without a `down` row is trusted only until its last heartbeat.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from recorder.sinks import COVERAGE
from recorder.store.base import CoverageRow
from recorder.writer import StoreWriter


def process_name() -> str:
    """`host:pid`: which recorder process carried a connection (several may share one store)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CoverageTracker:
    def __init__(self, writer: StoreWriter, process: str | None = None) -> None:
        self.writer = writer
        self.process = process or process_name()
        self.open: dict[str, tuple[str, str, tuple[str, ...], int]] = {}
        """session id → (exchange, market, symbols, up_ts)"""
        self._session_of: dict[str, str] = {}
        self._sessions = 0
        self._started = time.time_ns()

    def on_connection(self, event) -> None:
        """Feed lifecycle hook: `event` has exchange, market, conn_id, state (`up`/`down`), symbols, ts_ns.

        A feed reuses its connection id across reconnects; each up…down gets a session id of its own
        (`<conn_id>@<process start>#<n>`), so a stored session never spans a disconnect.
        """
        if event.state == "up":
            previous = self._session_of.pop(event.conn_id, None)
            if previous is not None:  # an up without a down: close the old session first
                self._write(self.open.pop(previous, None), previous, "down", event.ts_ns)
            self._sessions += 1
            session = f"{event.conn_id}@{self._started}#{self._sessions}"
            self._session_of[event.conn_id] = session
            self.open[session] = (event.exchange, event.market, tuple(event.symbols), event.ts_ns)
            self._write(self.open[session], session, "up", event.ts_ns)
        else:
            session = self._session_of.pop(event.conn_id, None)
            if session is not None:
                self._write(self.open.pop(session, None), session, "down", event.ts_ns)

    def _write(self, entry: tuple[str, str, tuple[str, ...], int] | None, session: str, state: str, ts_ns: int) -> None:
        if entry is None:
            return
        exchange, market, symbols, _ = entry
        self.writer.add(COVERAGE, CoverageRow(ts_ns, exchange, market, session, self.process, state,
                                                ",".join(symbols) if state == "up" else ""))

    def heartbeat(self, now_ns: int | None = None) -> None:
        now_ns = now_ns or time.time_ns()
        for conn_id, (exchange, market, _, _) in list(self.open.items()):
            self.writer.add(COVERAGE, CoverageRow(now_ns, exchange, market, conn_id, self.process, "alive", ""))

    async def run_heartbeats(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.heartbeat()

    def close_all(self, now_ns: int | None = None) -> None:
        """On shutdown: every open session ends now (a clean `down`, not a trusted-until-heartbeat guess)."""
        now_ns = now_ns or time.time_ns()
        for session, entry in list(self.open.items()):
            self._write(entry, session, "down", now_ns)
        self.open.clear()
        self._session_of.clear()

    def connected(self) -> dict[str, dict]:
        """Per market key: open connections and symbols carried (for status and logs); safe from any thread.

        `list(...)` copies the sessions in one C call, which the GIL keeps atomic against the ingest loop's changes.
        """
        out: dict[str, dict] = {}
        for exchange, market, symbols, _ in list(self.open.values()):
            entry = out.setdefault(f"{exchange}.{market}", {"connections": 0, "symbols": 0})
            entry["connections"] += 1
            entry["symbols"] += len(symbols)
        return out
