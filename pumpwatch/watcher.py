"""The Upbit listing watcher: poll announcements, parse titles, store notices and triggers durably.

A notice is handled once, by `id` (an edit re-stamps `listed_at` and appends a tail; it never
triggers again). The announcement time is `first_listed_at`. On start the watcher pages back
through recent notices (up to `upbit.lookback`) and handles every one the store has not seen, so a
restart never misses a listing and never re-triggers one.

In the service the watcher runs on a thread and event loop of its own (the control loop), so a busy
ingest loop never delays a poll; the trigger callback is called on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from recorder.clock import MS, S, iso_utc, iso_z
from recorder.config import Config, ExtractionConfig
from recorder.markets import MARKETS
from recorder.net_errors import describe_error
from recorder.store.base import NoticeRow, Store, TriggerRow
from recorder.upbit.announcements import Backoff, Notice, classify_error, fetch_page
from recorder.upbit.titles import ParsedTitle, parse_title

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    """A KRW listing to extract: one per coin of a notice."""

    notice_id: int
    coin: str
    announced_ns: int
    detected_ns: int
    title: str
    url: str

    @property
    def latency_ms(self) -> int:
        return (self.detected_ns - self.announced_ns) // MS

    def ready_ns(self, extraction: ExtractionConfig) -> int:
        """When the window can be extracted: the announcement + `after` + `settle`."""
        return self.announced_ns + round((extraction.after + extraction.settle) * S)

    @classmethod
    def from_row(cls, row: TriggerRow, title: str = "", url: str = "") -> Trigger:
        return cls(row.notice_id, row.symbol, row.ts, row.detected_at, title, url)

    def row(self, status: str, event_dir: str = "", detail: str = "") -> TriggerRow:
        return TriggerRow(self.announced_ns, self.notice_id, self.coin, self.detected_ns, self.latency_ms, status, event_dir, detail)


def _ns(moment) -> int:
    return int(moment.timestamp()) * S + moment.microsecond * 1000


class ListingWatcher:
    def __init__(
        self,
        config: Config,
        store: Store,
        on_trigger: Callable[[Trigger], None],
        *,
        ssl=None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.store = store
        self.on_trigger = on_trigger
        self.ssl = ssl
        self.clock = clock
        self.seen: set[int] = store.seen_notice_ids()
        upbit = config.upbit
        self.backoff = Backoff(upbit.poll_interval, max(upbit.max_backoff, upbit.poll_interval),
                               min(0.9, upbit.poll_jitter / upbit.poll_interval))
        self.recent: list[dict] = []
        """the last notices seen, newest first (for status)"""
        self.skipped_notices = 0
        self.polls = 0
        """requests of the poll loop (the start's catch-up included), failed ones too"""
        self.failed_polls = 0
        self.last_success_ns: int | None = None
        self.last_error: str | None = None
        self.last_error_ns: int | None = None
        self.next_poll_ns: int | None = None
        self.poll_started_ns: int | None = None
        """when the latest poll (or catch-up) began, by `clock`: a trigger handed over now came from that poll"""

    # --- handling one notice -------------------------------------------------------------------
    async def handle(self, notice: Notice) -> list[Trigger]:
        """Store the notice and a trigger per KRW coin, and call `on_trigger` for the servable ones.

        The store work runs on a thread, where it may wait for the recorder's writer to release the
        database. A trigger whose extraction is due later (every live detection) is handed to
        `on_trigger` before that wait, so detection stays one poll interval away at any ingest load
        (a crash before the rows are stored re-handles the notice at restart). One due at once (a
        notice found late) is handed over only once stored, so its extraction's status rows always
        follow its `scheduled` row.
        """
        if notice.id in self.seen:
            return []
        now = self.clock()
        parsed = parse_title(notice.title)
        triggers, rows = await asyncio.to_thread(self._store_notice, notice, parsed, now, asyncio.get_running_loop())
        self.seen.add(notice.id)
        self.recent = [{"id": notice.id, "title": notice.title, "listing": parsed.listing,
                        "krw_symbols": list(parsed.krw_symbols), "first_listed_at": iso_z(notice.first_listed_at)},
                       *self.recent][:10]
        scheduled = [t for t, r in zip(triggers, rows, strict=True) if r.status == "scheduled"]
        for trigger in scheduled:
            if not self._due_later(trigger, now):
                self.on_trigger(trigger)
        return scheduled

    def _due_later(self, trigger: Trigger, now: int) -> bool:
        return trigger.ready_ns(self.config.extraction) > now

    def _store_notice(self, notice: Notice, parsed: ParsedTitle, now: int,
                      loop: asyncio.AbstractEventLoop) -> tuple[list[Trigger], list[TriggerRow]]:
        """Triggers first, then the notice: a crash in between re-handles the notice, never loses it (on a worker thread)."""
        announced = _ns(notice.first_listed_at)
        triggers = [Trigger(notice.id, coin, announced, now, notice.title, notice.url) for coin in parsed.krw_symbols]
        rows = []
        for trigger in triggers:
            servable, why = self._servable(trigger)
            rows.append(trigger.row("scheduled" if servable else "unservable", detail=why))
            if servable and self._due_later(trigger, now):
                loop.call_soon_threadsafe(self.on_trigger, trigger)
            LOG.warning("KRW listing detected: %s (notice %d, announced %s, detected %.1fs later)%s", trigger.coin, notice.id,
                        iso_z(notice.first_listed_at), trigger.latency_ms / 1000, "" if servable else f": not extracted, {why}")
        self.store.write_triggers(rows)
        self.store.write_notices([NoticeRow(announced, notice.id, notice.title, _ns(notice.listed_at), now, parsed.listing,
                                            ",".join(parsed.krw_symbols), notice.url)])
        return triggers, rows

    def _servable(self, trigger: Trigger) -> tuple[bool, str]:
        """Whether the store can still serve the window: inside retention and recorded (or still ahead)."""
        now = self.clock()
        start = trigger.announced_ns - round(self.config.extraction.before * S)
        end = trigger.announced_ns + round(self.config.extraction.after * S)
        if end < now - round(self.config.store.retention * S):
            return False, "the window is older than the store's retention"
        if end > now - 60 * S:
            return True, ""
        for spec in MARKETS:
            if self.store.read_coverage(spec.exchange, spec.market, start, end):
                return True, ""
        return False, "the recorder was not running during the window"

    # --- polling -------------------------------------------------------------------------------
    async def catch_up(self, session: aiohttp.ClientSession) -> int:
        """Page back through notices up to the lookback horizon; handle the unseen ones oldest first."""
        self.poll_started_ns = self.clock()
        horizon = self.poll_started_ns - round(self.config.upbit.lookback * S)
        found: dict[int, Notice] = {}
        page, total = 1, 1
        while page <= min(total, 50):
            result = await fetch_page(session, self.config.upbit.announcements_base, page, self.config.upbit.per_page, self.ssl)
            total = result.total_pages
            self.skipped_notices += result.skipped
            for notice in result.notices:
                found.setdefault(notice.id, notice)
            if not result.notices or min(_ns(n.listed_at) for n in result.notices) < horizon:
                break
            page += 1
        fresh = sorted((n for n in found.values() if n.id not in self.seen and _ns(n.first_listed_at) >= horizon),
                       key=lambda n: n.first_listed_at)
        for notice in fresh:
            await self.handle(notice)
        old = [n for n in found.values() if n.id not in self.seen]
        if old:
            rows = [NoticeRow(_ns(n.first_listed_at), n.id, n.title, _ns(n.listed_at), self.clock(), parse_title(n.title).listing,
                              "", n.url) for n in old]
            await asyncio.to_thread(self.store.write_notices, rows)
            self.seen.update(n.id for n in old)
        return len(fresh)

    async def poll_once(self, session: aiohttp.ClientSession) -> list[Trigger]:
        self.poll_started_ns = self.clock()
        result = await fetch_page(session, self.config.upbit.announcements_base, 1, self.config.upbit.per_page, self.ssl)
        if result.skipped:
            self.skipped_notices += result.skipped
            LOG.warning("upbit: %d malformed notices skipped in one page", result.skipped)
        triggers = []
        for notice in sorted(result.notices, key=lambda n: n.first_listed_at):
            triggers += await self.handle(notice)
        return triggers

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Catch up, then poll until `stop` is set; every failure is survived, one log line per state change."""
        stop = stop or asyncio.Event()
        caught_up = False
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "pumpwatch"}) as session:
            while not stop.is_set():
                self.polls += 1
                try:
                    if not caught_up:
                        handled = await self.catch_up(session)
                        caught_up = True
                        LOG.info("upbit: caught up on recent notices (%d unhandled found)", handled)
                    else:
                        await self.poll_once(session)
                    state = "ok"
                    self.last_success_ns = self.clock()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    state = classify_error(exc)
                    if state is None:
                        LOG.exception("upbit: unexpected error while polling; continuing")
                        state = "bad_response"
                    self.failed_polls += 1
                    self.last_error, self.last_error_ns = describe_error(exc), self.clock()
                change = self.backoff.record(state)
                if change is not None:
                    log = LOG.info if change.current == "ok" else LOG.warning
                    log("upbit: poll state %s -> %s (consecutive failures: %d)%s", change.previous, change.current, change.failures,
                        "" if change.current == "ok" else f": {self.last_error}")
                delay = self.backoff.next_delay()
                self.next_poll_ns = self.clock() + round(delay * S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        self.next_poll_ns = None

    def status(self) -> dict:
        """The watcher's part of /status: is it polling, since when does it fail and why, when is the next try.

        Read from the status thread: plain attributes the control loop rebinds, never mutates in place."""
        now, next_poll = self.clock(), self.next_poll_ns
        return {
            "state": self.backoff.state, "polls": self.polls, "failures_total": self.failed_polls,
            "consecutive_failures": self.backoff.failures,
            "last_success_at": iso_utc(self.last_success_ns, "s") if self.last_success_ns else None,
            "last_error": self.last_error,
            "last_error_at": iso_utc(self.last_error_ns, "s") if self.last_error_ns else None,
            "next_poll_at": iso_utc(next_poll, "ms") if next_poll else None,
            "next_poll_in_s": round(max(0, next_poll - now) / S, 3) if next_poll else None,
            "skipped_notices": self.skipped_notices, "recent_notices": self.recent,
        }
