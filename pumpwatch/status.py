"""The status endpoint: JSON at `/status`, Prometheus text at `/metrics`, bound to loopback by default.

The server runs on a thread and event loop of its own, so it answers while the ingest loop is
saturated (or blocked); `snapshot` is therefore called on that thread and must only read state that
is safe to read from another thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from recorder.loops import LoopThread


class StatusServer:
    def __init__(self, snapshot: Callable[[], dict], host: str, port: int) -> None:
        self.snapshot = snapshot
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._thread: LoopThread | None = None

    async def start(self) -> int:
        """Start the server on its own thread; returns the port (the real one when 0 was asked for)."""
        self._thread = LoopThread("status-server")
        self._thread.start()
        try:
            return await self._thread.run(self._serve())
        except BaseException:
            await asyncio.to_thread(self._thread.stop)
            self._thread = None
            raise

    async def _serve(self) -> int:
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the real port when 0 was asked for
        return self.port

    async def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            await self._thread.run(self._runner.cleanup())
        await asyncio.to_thread(self._thread.stop)
        self._thread = None

    async def _status(self, _request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=metrics_text(self.snapshot()), headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_text(snapshot: dict) -> bytes:
    """Render a status snapshot as Prometheus metrics (a fresh registry per scrape: no global state)."""
    registry = CollectorRegistry()
    labels = ("exchange", "market")
    per_market = {
        "connected": Gauge("pumpwatch_market_connected", "1 if at least one connection is up", labels, registry=registry),
        "connections": Gauge("pumpwatch_market_connections", "open websocket connections", labels, registry=registry),
        "symbols": Gauge("pumpwatch_market_symbols_subscribed", "symbols carried by open connections", labels, registry=registry),
        "trades_total": Gauge("pumpwatch_market_trades_total", "trades accepted since start", labels, registry=registry),
        "trades_per_s": Gauge("pumpwatch_market_trades_per_second", "trades per second over the last minute", labels,
                              registry=registry),
        "last_trade_age_s": Gauge("pumpwatch_market_last_trade_age_seconds", "age of the newest trade", labels, registry=registry),
        "rejected_total": Gauge("pumpwatch_market_rejected_total", "trades skipped as malformed", labels, registry=registry),
        "receive_lag_median_s": Gauge("pumpwatch_market_receive_lag_median_seconds",
                                      "median of receipt time minus exchange trade time over the last minute", labels, registry=registry),
        "receive_lag_max_s": Gauge("pumpwatch_market_receive_lag_max_seconds",
                                   "max of receipt time minus exchange trade time over the last minute", labels, registry=registry),
    }
    for key, market in snapshot.get("markets", {}).items():
        exchange, _, market_type = key.partition(".")
        for name, gauge in per_market.items():
            value = market.get(name)
            if value is not None:
                gauge.labels(exchange, market_type).set(float(value))
    writer = snapshot.get("writer", {})
    for name, help_text in (("rows_written", "trade rows written to the store"), ("spool_files", "batches waiting in the spool"),
                            ("spool_bytes", "bytes in the spool"), ("write_lag_s", "seconds from batch hand-over to stored"),
                            ("rows_lost", "rows lost because the spool was full")):
        Gauge(f"pumpwatch_writer_{name}", help_text, registry=registry).set(float(writer.get(name, 0) or 0))
    for name, value in snapshot.get("gaps", {}).items():
        Gauge(f"pumpwatch_gaps_{name}", f"gap repairs: {name.replace('_', ' ')}", registry=registry).set(float(value))
    Gauge("pumpwatch_events_extracted", "event folders written", registry=registry).set(float(snapshot.get("events_extracted", 0)))
    for name, help_text in (("rss_bytes", "resident memory"), ("open_fds", "open file descriptors"), ("threads", "Python threads"),
                            ("ingest_loop_tasks", "asyncio tasks on the ingest loop")):
        value = snapshot.get("process", {}).get(name)
        if value is not None:
            Gauge(f"pumpwatch_process_{name}", help_text, registry=registry).set(float(value))
    stalled = snapshot.get("service", {}).get("ingest_loop_stalled_s")
    if stalled is not None:
        Gauge("pumpwatch_ingest_loop_stalled_seconds", "how long the ingest event loop is overdue for its next turn (0: keeping up)",
              registry=registry).set(float(stalled))
    return generate_latest(registry)


def process_figures(ingest_loop: asyncio.AbstractEventLoop | None) -> dict:
    """What a long run must keep flat: RSS, open files, threads, tasks on the ingest loop (None where unknown)."""
    rss = None
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            rss = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:")), None)
        fds: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = None
    tasks = None
    for _ in range(5):  # the ingest thread may add a task while this thread copies the set
        try:
            tasks = len(asyncio.all_tasks(ingest_loop)) if ingest_loop is not None else None
            break
        except RuntimeError:
            continue
    return {"pid": os.getpid(), "rss_bytes": rss, "open_fds": fds, "threads": threading.active_count(), "ingest_loop_tasks": tasks}
