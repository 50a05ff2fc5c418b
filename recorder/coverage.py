"""Connection coverage: each websocket session's up, heartbeats and down go to the store.

With these rows anyone can answer "was market X recording coin Y throughout [a, b]?" for any
window; a process killed without a `down` row is trusted only until its last heartbeat.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

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
        """conn_id → (exchange, market, symbols, up_ts)"""

    def on_connection(self, event) -> None:
        """Feed lifecycle hook: `event` has exchange, market, conn_id, state (`up`/`down`), symbols, ts_ns."""
        if event.state == "up":
            self.open[event.conn_id] = (event.exchange, event.market, tuple(event.symbols), event.ts_ns)
            symbols = ",".join(event.symbols)
        else:
            if self.open.pop(event.conn_id, None) is None:
                return
            symbols = ""
        self.writer.add("coverage", CoverageRow(event.ts_ns, event.exchange, event.market, event.conn_id, self.process,
                                                event.state, symbols))

    def heartbeat(self, now_ns: int | None = None) -> None:
        now_ns = now_ns or time.time_ns()
        for conn_id, (exchange, market, _, _) in list(self.open.items()):
            self.writer.add("coverage", CoverageRow(now_ns, exchange, market, conn_id, self.process, "alive", ""))

    async def run_heartbeats(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.heartbeat()

    def close_all(self, now_ns: int | None = None) -> None:
        """On shutdown: every open session ends now (a clean `down`, not a trusted-until-heartbeat guess)."""
        now_ns = now_ns or time.time_ns()
        for conn_id, (exchange, market, _, _) in list(self.open.items()):
            self.writer.add("coverage", CoverageRow(now_ns, exchange, market, conn_id, self.process, "down", ""))
        self.open.clear()

    def connected(self) -> dict[str, dict]:
        """Per market key: open connections and symbols carried (for status and logs)."""
        out: dict[str, dict] = {}
        for exchange, market, symbols, _ in self.open.values():
            entry = out.setdefault(f"{exchange}.{market}", {"connections": 0, "symbols": 0})
            entry["connections"] += 1
            entry["symbols"] += len(symbols)
        return out
