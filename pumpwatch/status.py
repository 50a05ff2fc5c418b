"""The status endpoint: JSON at `/status`, Prometheus text at `/metrics`, bound to loopback by default.

The server runs on a thread and event loop of its own, so it answers while the ingest loop is
saturated (or blocked); `snapshot` is therefore called on that thread and must only read state that
is safe to read from another thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

import pyarrow as pa
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


MARKET_METRICS: tuple[tuple[str, str, str], ...] = (
    ("connected", "pumpwatch_market_connected", "1 if at least one connection is up"),
    ("connections", "pumpwatch_market_connections", "open websocket connections"),
    ("symbols", "pumpwatch_market_symbols_subscribed", "symbols carried by open connections"),
    ("listed", "pumpwatch_market_symbols_listed", "symbols in the market's universe"),
    ("trades_total", "pumpwatch_market_trades_total", "trades accepted since start"),
    ("trades_per_s", "pumpwatch_market_trades_per_second", "trades per second over the last minute (since start, within it)"),
    ("last_trade_age_s", "pumpwatch_market_last_trade_age_seconds", "age of the newest trade"),
    ("rejected_total", "pumpwatch_market_rejected_total", "trades skipped as malformed"),
    ("receive_lag_median_s", "pumpwatch_market_receive_lag_median_seconds",
     "median of receipt time minus exchange trade time over the last minute"),
    ("receive_lag_max_s", "pumpwatch_market_receive_lag_max_seconds", "max of receipt time minus exchange trade time over the last minute"),
)
"""snapshot key per market → metric name and help; a name ending in `_total` is a counter, the rest gauges"""

SECTION_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("writer", "rows_written", "pumpwatch_writer_rows_written_total", "trade rows written to the store"),
    ("writer", "rows_lost", "pumpwatch_writer_rows_lost_total", "rows lost because the spool was full"),
    ("writer", "spool_files", "pumpwatch_writer_spool_files", "batches waiting in the spool"),
    ("writer", "spool_bytes", "pumpwatch_writer_spool_bytes", "bytes in the spool"),
    ("writer", "write_lag_s", "pumpwatch_writer_write_lag_s", "seconds from batch hand-over to stored"),
    ("universe", "instruments", "pumpwatch_universe_instruments", "instruments in the universe being recorded"),
    ("universe", "filtered", "pumpwatch_universe_filtered",
     "1 if filtered by an Upbit KRW list; 0: no list fetched yet, every coin recorded"),
    ("upbit", "polls", "pumpwatch_upbit_polls_total", "announcement polls of the watcher (the start's catch-up included)"),
    ("upbit", "failures_total", "pumpwatch_upbit_poll_failures_total", "announcement polls that failed"),
    ("upbit", "consecutive_failures", "pumpwatch_upbit_consecutive_failures", "failed polls in a row (0: the last one succeeded)"),
    ("upbit", "next_poll_in_s", "pumpwatch_upbit_next_poll_seconds", "seconds until the next poll"),
    ("service", "ingest_loop_stalled_s", "pumpwatch_ingest_loop_stalled_seconds",
     "how long the ingest event loop is overdue for its next turn (0: keeping up)"),
    ("alerts", "sent", "pumpwatch_alerts_sent_total", "alerts delivered (one per alert and sink)"),
    ("alerts", "failed", "pumpwatch_alerts_failed_total", "alerts a sink never took, after every retry"),
    ("alerts", "retried", "pumpwatch_alert_retries_total", "alert attempts that failed and were retried"),
    ("process", "rss_bytes", "pumpwatch_process_rss_bytes", "resident memory"),
    ("process", "arrow_bytes", "pumpwatch_process_arrow_bytes", "memory Arrow has allocated and not freed (trade batches, seals, reads)"),
    ("process", "open_fds", "pumpwatch_process_open_fds", "open file descriptors"),
    ("process", "threads", "pumpwatch_process_threads", "Python threads"),
    ("process", "ingest_loop_tasks", "pumpwatch_process_ingest_loop_tasks", "asyncio tasks on the ingest loop"),
)
"""(section, key) of the snapshot → metric name and help; `_total` names are counters"""


def _family(name: str, help_text: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily | GaugeMetricFamily:
    kind = CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily
    return kind(name, help_text, labels=list(labels))


def _epoch_s(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class SnapshotCollector(Collector):
    """Prometheus families read from one /status snapshot: the values are counted elsewhere, so counters are
    declared here as counters (`_total`) without a prometheus_client Counter that would count on its own."""

    def __init__(self, snapshot: dict) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        for key, name, help_text in MARKET_METRICS:
            family = _family(name, help_text, ("exchange", "market"))
            for market_key, market in snapshot.get("markets", {}).items():
                if market.get(key) is not None:
                    family.add_metric(list(market_key.split(".", 1)), float(market[key]))
            yield family
        for section, key, name, help_text in SECTION_METRICS:
            value = snapshot.get(section, {}).get(key)
            if value is not None:
                family = _family(name, help_text)
                family.add_metric([], float(value))
                yield family
        gaps = snapshot.get("gaps", {})
        for key, value in gaps.items():
            name = f"pumpwatch_gaps_{key}" if key == "queued" else f"pumpwatch_gaps_{key}_total"
            family = _family(name, f"gap repairs: {key.replace('_', ' ')}")
            family.add_metric([], float(value))
            yield family
        upbit = snapshot.get("upbit", {})
        if "state" in upbit:
            yield GaugeMetricFamily("pumpwatch_upbit_up", "1 if the last announcement poll succeeded",
                                    value=float(upbit["state"] == "ok"))
        if upbit.get("last_success_at"):
            yield GaugeMetricFamily("pumpwatch_upbit_last_success_timestamp_seconds", "when a poll last succeeded (unix time)",
                                    value=_epoch_s(upbit["last_success_at"]))
        for key, help_text in (("events_extracted", "event folders written"), ("events_failed", "triggers whose event failed")):
            if key in snapshot:
                family = _family(f"pumpwatch_{key}_total", help_text)
                family.add_metric([], float(snapshot[key]))
                yield family


def metrics_text(snapshot: dict) -> bytes:
    """Render a status snapshot as Prometheus metrics (a fresh registry per scrape: no global state)."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(snapshot))
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
    return {"pid": os.getpid(), "rss_bytes": rss, "arrow_bytes": pa.total_allocated_bytes(), "open_fds": fds,
            "threads": threading.active_count(), "ingest_loop_tasks": tasks}
