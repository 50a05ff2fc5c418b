"""The always-on service: recorder, symbol refresh, Upbit watcher, extraction and analysis in one process.

Three event loops, each on its own thread, so that a saturated ingest loop delays nothing else:

- the ingest loop (the main thread): cryptofeed feeds, normalizer, writer hand-off, coverage, gap
  repairs; it can be busy for seconds at high trade rates;
- the control loop (`control`): the Upbit watcher and APScheduler (periodic jobs and one dated job
  per trigger: announcement + window + settle); work that needs the ingest loop (subscribing new
  instruments, repairing a window's gaps) is handed over with `run_coroutine_threadsafe`;
- the status loop (`status.StatusServer`): `/status` and `/metrics`, built from state that is safe
  to read from another thread.

The store writer, extraction and analysis run on threads of their own. Triggers live in the store,
so a restart reschedules the ones not finished yet.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import urllib.parse
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from pumpwatch.alerts import Alerter, detection_alert, ready_alert
from pumpwatch.lock import DataDirLock
from pumpwatch.status import StatusServer, process_figures
from pumpwatch.watcher import ListingWatcher, Trigger
from recorder.clock import S, iso_z
from recorder.config import Config
from recorder.loops import LoopThread
from recorder.markets import MarketSpec
from recorder.memory import release_free_memory
from recorder.record import Recorder
from recorder.store import open_store
from recorder.store.base import Store, StoreError
from recorder.tls import client_ssl_context

LOG = logging.getLogger(__name__)
T = TypeVar("T")
TICK_S = 0.25
"""the ingest loop stamps a tick this often; /status reports how long it has gone without one"""
LAG_CHECK_S = 10.0
"""how often the receive lag is checked against service.receive_lag_warn"""
MEMORY_RELEASE_S = 60.0
"""how often freed heap goes back to the OS (glibc's per-thread arenas keep peaks from bursts otherwise)"""
SEAL_S = 60.0
"""how often the store seals its closed hot files (the embedded store's Parquet parts; QuestDB: nothing)"""
PERIODIC = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
"""periodic jobs: one run at a time, a late run is still run once (no "missed by" warning, no burst of catch-up runs)"""


class Service:
    def __init__(self, config: Config, markets: list[MarketSpec] | None = None, *, watch: bool = True) -> None:
        self.config = config
        self.watch = watch
        self.markets = markets or config.enabled_markets()
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self.watcher: ListingWatcher | None = None
        self.control: LoopThread | None = None
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        """started on the control loop, where its timers fire and its jobs run (whatever the ingest loop is doing)"""
        self.status_server: StatusServer | None = None
        self.alerter = Alerter(config.alerts)
        """sends on a thread of its own: a slow sink never holds up detection or extraction"""
        self.events: list[dict] = []
        """the latest events, newest first (at most 20)"""
        self.failures: list[dict] = []
        self.events_total = 0
        """every event folder written since start (`events` keeps only the latest)"""
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._ingest_loop: asyncio.AbstractEventLoop | None = None
        self._ingest_tick: float | None = None
        self._watch_stop: asyncio.Event | None = None
        self._watch_task: asyncio.Task | None = None

    # --- triggers ------------------------------------------------------------------------------
    def schedule_extraction(self, trigger: Trigger) -> None:
        """Add the trigger's dated job; callable from any thread (APScheduler hands it to the control loop)."""
        run_date = datetime.fromtimestamp(max(trigger.ready_ns(self.config.extraction) / S, time.time()), tz=UTC)
        self.scheduler.add_job(self.finish_trigger, "date", run_date=run_date, args=[trigger], misfire_grace_time=None,
                               id=f"extract:{trigger.notice_id}:{trigger.coin}", replace_existing=True)
        LOG.info("extraction of %s scheduled at %s", trigger.coin, iso_z(run_date))

    def on_detection(self, trigger: Trigger) -> None:
        """The watcher's callback: schedule the extraction, then hand the detection alert over (it never waits for a sink)."""
        self.schedule_extraction(trigger)
        self.alerter.send(detection_alert(trigger))

    async def finish_trigger(self, trigger: Trigger) -> Path | None:
        """Extract the window, then analyse it; each step's outcome is written to the triggers table. Runs on the control loop."""
        from analysis.report import analyze_event, first_pump_line
        from extractor.extract import EventRequest, extract_event, universe_factors

        assert self.store is not None
        request = EventRequest(trigger.coin, trigger.announced_ns, self.config.extraction.before, self.config.extraction.after,
                               trigger.detected_ns, trigger.notice_id, trigger.title or None, trigger.url or None)
        try:
            if self.recorder is not None:
                await self.recorder.settle()
                await self._on_ingest_loop(self.recorder.repairer.repair_window(trigger.coin, request.start_ns, request.end_ns))
                await self.recorder.settle()
            universe = self.recorder.universe if self.recorder else None

            def extract() -> Path:
                """On a worker thread: the factors and the extraction would hold the control loop (and the watcher)."""
                return extract_event(self.store, self.config, request, factors=universe_factors(universe) if universe else None)

            folder = await asyncio.to_thread(extract)
            await asyncio.to_thread(self.store.write_triggers, [trigger.row("extracted", str(folder))])
            analysis = self.config.analysis
            result = await asyncio.to_thread(analyze_event, folder, analysis.pump_threshold, analysis.min_trades)
            await asyncio.to_thread(self.store.write_triggers, [trigger.row("analyzed", str(folder))])
            chart = (result.get("files") or {}).get("chart")
            self.alerter.send(ready_alert(trigger, folder, first_pump_line(result), folder / chart if chart else None))
        except Exception as exc:
            LOG.exception("event %s (notice %d) failed", trigger.coin, trigger.notice_id)
            await asyncio.to_thread(self.store.write_triggers, [trigger.row("failed", detail=str(exc)[:500])])
            self.failures.append({"coin": trigger.coin, "notice_id": trigger.notice_id, "error": str(exc)[:500]})
            return None
        self.events = [{"coin": trigger.coin, "notice_id": trigger.notice_id, "folder": str(folder)}, *self.events][:20]
        self.events_total += 1
        LOG.warning("event ready: %s", folder)
        return folder

    def reschedule_pending(self) -> int:
        """Triggers stored as scheduled but never finished (a restart): schedule them again."""
        assert self.store is not None
        since = time.time_ns() - round(self.config.upbit.lookback * S) - 3600 * S
        pending = [row for row in self.store.read_triggers(since) if row.status == "scheduled"]
        for row in pending:
            self.schedule_extraction(Trigger.from_row(row))
        return len(pending)

    async def _on_ingest_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the ingest loop (where the feeds and the repairer's HTTP session live) and await it from here."""
        assert self._ingest_loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._ingest_loop))

    async def _refresh_universe(self) -> None:
        assert self.recorder is not None
        await self._on_ingest_loop(self.recorder.refresh_universe())

    # --- status --------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """Everything /status shows; called on the status thread, so it only reads what is safe to read from there."""
        recorder = self.recorder.status() if self.recorder else {"markets": {}, "writer": {}}
        watcher = self.watcher
        tick = self._ingest_tick
        stalled = round(max(0.0, time.monotonic() - tick - TICK_S), 3) if tick is not None else None
        return {
            "service": {"started_at": datetime.fromtimestamp(self.started_at, tz=UTC).isoformat(), "store": self.config.store.kind,
                        "ingest_loop_stalled_s": stalled},
            **recorder,
            "upbit": watcher.status() if watcher else {"state": "stopped"},
            "events_extracted": self.events_total,
            "events_failed": len(self.failures),
            "events": self.events,
            "alerts": self.alerter.status(),
            "process": process_figures(self._ingest_loop),
        }

    def start_summary(self) -> str:
        """One line saying what runs: markets, instruments, store, status address, watcher (after the recorder started)."""
        keys = [spec.key for spec in self.markets]
        universe = self.recorder.universe_status() if self.recorder else {"instruments": 0, "filtered": False}
        filtering = (f"filtered by {universe['upbit_krw']} Upbit KRW coins" if universe["filtered"]
                     else "UNFILTERED: no Upbit KRW list yet")
        store = self.config.store
        if store.kind == "embedded":
            where = f"embedded {self.config.data_path / store.embedded_file}"
        else:  # the address only: the PGWire URL holds a password
            pg = urllib.parse.urlsplit(store.questdb.pg)
            where = f"QuestDB {pg.hostname}:{pg.port} (tables prefixed {store.questdb.table_prefix!r})"
        status = (f"http://{self.config.service.status_host}:{self.status_server.port}/status" if self.status_server
                  else "not served")
        return (f"started: {len(keys)} markets ({', '.join(keys) or 'none'}), {universe['instruments']} instruments ({filtering}), "
                f"store {where}, status {status}, {'Upbit watcher on' if self.watch else 'recorder only (no Upbit watcher)'}")

    async def _tick_ingest_loop(self) -> None:
        """Stamp each turn of the ingest loop: the status thread cannot ask that loop, so it reads how old the stamp is."""
        while True:
            self._ingest_tick = time.monotonic()
            await asyncio.sleep(TICK_S)

    # --- lifecycle -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, *, install_signals: bool = True, ready: asyncio.Event | None = None) -> None:
        """Run until `request_stop` (or SIGINT/SIGTERM); then stop everything in order and flush the writer.

        Raises DataDirBusy, before touching anything, while another process runs on the same data directory."""
        lock = DataDirLock(self.config.data_path)
        lock.acquire()
        try:
            await self._run(install_signals, ready)
        finally:
            lock.release()

    async def _run(self, install_signals: bool, ready: asyncio.Event | None) -> None:
        loop = self._ingest_loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop)
        self.store = await asyncio.to_thread(open_store, self.config)
        ssl = client_ssl_context(self.config.tls_ca_file)
        self.recorder = Recorder(self.config, self.store, self.markets, ssl=ssl)
        if self.watch:
            self.watcher = await asyncio.to_thread(ListingWatcher, self.config, self.store, self.on_detection, ssl=ssl)
        self.status_server = StatusServer(self.snapshot, self.config.service.status_host, self.config.service.status_port)
        try:
            await self.status_server.start()
        except OSError as exc:
            LOG.error("status endpoint not started (%s:%d): %s", self.config.service.status_host, self.config.service.status_port, exc)
            self.status_server = None
        self.alerter.ssl = ssl
        self.alerter.start()
        ticker = asyncio.create_task(self._tick_ingest_loop(), name="ingest-tick")
        await self.recorder.start()
        self.scheduler.add_job(self._refresh_universe, "interval", seconds=self.config.recorder.refresh_interval,
                               id="symbols-refresh", **PERIODIC)
        self.scheduler.add_job(self._retention, "interval", hours=1, id="retention", **PERIODIC)
        self.scheduler.add_job(self._seal, "interval", seconds=SEAL_S, id="seal", **PERIODIC)
        self.scheduler.add_job(self.recorder.log_rates, "interval", seconds=self.config.service.rate_log_interval,
                               id="rate-log", **PERIODIC)
        self.scheduler.add_job(self.recorder.warn_receive_lag, "interval", seconds=LAG_CHECK_S, id="receive-lag", **PERIODIC)
        self.scheduler.add_job(asyncio.to_thread, "interval", args=[release_free_memory], seconds=MEMORY_RELEASE_S,
                               id="release-memory", **PERIODIC)
        self.control = LoopThread("control")
        self.control.start()
        try:
            await self.control.run(self._start_control())
            LOG.info("%s", self.start_summary())
            LOG.info("%d unfinished triggers rescheduled", await asyncio.to_thread(self.reschedule_pending))
            if ready is not None:
                ready.set()
            await self._stop.wait()
        finally:
            LOG.info("shutting down")
            await self.control.run(self._stop_control())
            if not await asyncio.to_thread(self.control.stop):  # an extraction still running is cancelled: rescheduled at next start
                LOG.error("the control thread did not stop within 30s")
            ticker.cancel()
            await self.recorder.stop()
            await asyncio.to_thread(self.alerter.stop)
            if self.status_server is not None:
                await self.status_server.stop()
            await asyncio.to_thread(self.store.close)
            LOG.info("stopped cleanly")

    async def _start_control(self) -> None:
        """On the control loop: start the scheduler (it adopts the running loop) and the watcher there."""
        self.scheduler.start()
        if self.watcher is not None:
            self._watch_stop = asyncio.Event()
            self._watch_task = asyncio.create_task(self.watcher.run(self._watch_stop), name="upbit-watcher")
            self._watch_task.add_done_callback(_watcher_ended)

    async def _stop_control(self) -> None:
        """On the control loop: stop the scheduler (running jobs are cancelled with the loop) and let the watcher finish."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._watch_task is not None and self._watch_stop is not None:
            self._watch_stop.set()
            await asyncio.gather(self._watch_task, return_exceptions=True)

    async def _retention(self) -> None:
        assert self.store is not None
        dropped = await asyncio.to_thread(self.store.apply_retention, time.time_ns())
        if dropped:
            LOG.info("retention: dropped %d trades older than %s", dropped, self.config.store.retention)

    async def _seal(self) -> None:
        assert self.store is not None
        try:
            sealed = await asyncio.to_thread(self.store.seal, time.time_ns())
        except StoreError as exc:  # the hot files stay and the next minute's seal takes them
            LOG.error("%s", exc)
            return
        if sealed:
            LOG.debug("sealed %d trades", sealed)


def _watcher_ended(task: asyncio.Task) -> None:
    """The watcher only ends when asked to; say so loudly if it died instead (detection has stopped)."""
    if not task.cancelled() and task.exception() is not None:
        LOG.error("upbit watcher stopped: %r; no listing will be detected until restart", task.exception(), exc_info=task.exception())
