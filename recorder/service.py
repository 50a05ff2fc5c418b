"""The always-on service: recorder, symbol refresh, Upbit watcher, extraction and analysis in one process.

APScheduler runs the periodic work (universe refresh, retention, the per-minute rate line) and
one dated job per trigger (announcement + window + settle). Triggers live in the store, so a
restart reschedules the ones not finished yet.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from recorder.config import Config
from recorder.markets import MarketSpec
from recorder.record import Recorder
from recorder.status import StatusServer
from recorder.store import open_store
from recorder.store.base import Store
from recorder.tls import client_ssl_context
from recorder.watcher import ListingWatcher, Trigger

LOG = logging.getLogger(__name__)
S = 1_000_000_000


class Service:
    def __init__(self, config: Config, markets: list[MarketSpec] | None = None, *, watch: bool = True) -> None:
        self.config = config
        self.watch = watch
        self.markets = markets or config.enabled_markets()
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self.watcher: ListingWatcher | None = None
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.status_server: StatusServer | None = None
        self.events: list[dict] = []
        self.failures: list[dict] = []
        self.started_at = time.time()
        self._stop = asyncio.Event()

    # --- triggers ------------------------------------------------------------------------------
    def schedule_extraction(self, trigger: Trigger) -> None:
        ready_ns = trigger.announced_ns + round((self.config.extraction.after + self.config.extraction.settle) * S)
        run_date = datetime.fromtimestamp(max(ready_ns / S, time.time()), tz=UTC)
        self.scheduler.add_job(self.finish_trigger, "date", run_date=run_date, args=[trigger], misfire_grace_time=None,
                               id=f"extract:{trigger.notice_id}:{trigger.coin}", replace_existing=True)
        LOG.info("extraction of %s scheduled at %s", trigger.coin, run_date.isoformat())

    async def finish_trigger(self, trigger: Trigger) -> Path | None:
        """Extract the window, then analyse it; each step's outcome is written to the triggers table."""
        from analysis.report import analyze_event
        from extractor.extract import EventRequest, extract_event, universe_factors

        assert self.store is not None
        request = EventRequest(trigger.coin, trigger.announced_ns, self.config.extraction.before, self.config.extraction.after,
                               trigger.detected_ns, trigger.notice_id, trigger.title or None, trigger.url or None)
        try:
            if self.recorder is not None:
                await self.recorder.settle()
                await self.recorder.repairer.repair_window(trigger.coin, request.start_ns, request.end_ns)
                await self.recorder.settle()
            factors = universe_factors(self.recorder.universe) if self.recorder and self.recorder.universe else None
            folder = await asyncio.to_thread(extract_event, self.store, self.config, request, factors=factors)
            self.store.write_triggers([trigger.row("extracted", str(folder))])
            analysis = self.config.analysis
            await asyncio.to_thread(analyze_event, folder, analysis.pump_threshold, analysis.min_trades)
            self.store.write_triggers([trigger.row("analyzed", str(folder))])
        except Exception as exc:
            LOG.exception("event %s (notice %d) failed", trigger.coin, trigger.notice_id)
            self.store.write_triggers([trigger.row("failed", detail=str(exc)[:500])])
            self.failures.append({"coin": trigger.coin, "notice_id": trigger.notice_id, "error": str(exc)[:500]})
            return None
        self.events = [{"coin": trigger.coin, "notice_id": trigger.notice_id, "folder": str(folder)}, *self.events][:20]
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

    # --- status --------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        recorder = self.recorder.status() if self.recorder else {"markets": {}, "writer": {}}
        watcher = self.watcher
        return {
            "service": {"started_at": datetime.fromtimestamp(self.started_at, tz=UTC).isoformat(), "store": self.config.store.kind},
            **recorder,
            "upbit": {"state": watcher.backoff.state if watcher else "stopped", "polls": watcher.polls if watcher else 0,
                      "recent_notices": watcher.recent if watcher else []},
            "events_extracted": len(self.events),
            "events": self.events,
        }

    # --- lifecycle -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, *, install_signals: bool = True, ready: asyncio.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop)
        self.store = await asyncio.to_thread(open_store, self.config)
        ssl = client_ssl_context(self.config.tls_ca_file)
        self.recorder = Recorder(self.config, self.store, self.markets, ssl=ssl)
        self.watcher = ListingWatcher(self.config, self.store, self.schedule_extraction, ssl=ssl)
        self.status_server = StatusServer(self.snapshot, self.config.service.status_host, self.config.service.status_port)
        try:
            port = await self.status_server.start()
            LOG.info("status on http://%s:%d/status and /metrics", self.config.service.status_host, port)
        except OSError as exc:
            LOG.error("status endpoint not started (%s:%d): %s", self.config.service.status_host, self.config.service.status_port, exc)
            self.status_server = None
        await self.recorder.start()
        self.scheduler.add_job(self.recorder.refresh_universe, "interval", seconds=self.config.recorder.refresh_interval,
                               id="symbols-refresh", max_instances=1, coalesce=True)
        self.scheduler.add_job(self._retention, "interval", hours=1, id="retention", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.recorder.log_rates, "interval", seconds=self.config.service.rate_log_interval,
                               id="rate-log", max_instances=1, coalesce=True)
        self.scheduler.start()
        LOG.info("%d unfinished triggers rescheduled", self.reschedule_pending())
        watcher_task = asyncio.create_task(self.watcher.run(self._stop) if self.watch else self._stop.wait(), name="upbit-watcher")
        if ready is not None:
            ready.set()
        try:
            await self._stop.wait()
        finally:
            LOG.info("shutting down")
            self.scheduler.shutdown(wait=False)
            await watcher_task
            await self.recorder.stop()
            if self.status_server is not None:
                await self.status_server.stop()
            await asyncio.to_thread(self.store.close)
            LOG.info("stopped cleanly")

    async def _retention(self) -> None:
        assert self.store is not None
        dropped = await asyncio.to_thread(self.store.apply_retention, time.time_ns())
        if dropped:
            LOG.info("retention: dropped %d trades older than %s", dropped, self.config.store.retention)
