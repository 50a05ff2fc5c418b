"""Alerts: a listing detected, its event ready; sent to webhooks and local commands without ever holding anything up.

Every alert goes out on a thread of its own (`alerts`, an event loop): `Alerter.send` only hands it over, so a
slow or dead sink never delays detection, extraction or analysis. Each sink gets `alerts.timeout` per attempt and
`alerts.retries` more attempts, waiting a doubling, jittered `alerts.backoff` between them; what still fails is
logged and counted (`/metrics`: `pumpwatch_alerts_failed_total`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from pumpwatch.watcher import Trigger
from recorder.backoff import Backoff
from recorder.clock import KST, MS, S, iso_utc
from recorder.config import AlertsConfig, AlertSink
from recorder.loops import LoopThread

LOG = logging.getLogger(__name__)
DETECTED, READY = "detected", "ready"


class AlertFailed(Exception):
    """One attempt at one sink failed; the message says how."""


def _kst(ns: int) -> str:
    """`2026-11-20 14:00:00 KST`: Upbit's clock, the one a trader reads."""
    return datetime.fromtimestamp(ns // S, tz=KST).strftime("%Y-%m-%d %H:%M:%S KST")


def detection_alert(trigger: Trigger) -> dict[str, Any]:
    """What a trader needs the moment a listing is seen: the coin, the title, when it was announced, how late we saw it."""
    return {
        "kind": DETECTED,
        "coin": trigger.coin,
        "title": trigger.title,
        "url": trigger.url,
        "notice_id": trigger.notice_id,
        "announced_at": iso_utc(trigger.announced_ns, "ms"),
        "announced_at_kst": _kst(trigger.announced_ns),
        "detected_at": iso_utc(trigger.detected_ns, "ms"),
        "detection_latency_ms": (trigger.detected_ns - trigger.announced_ns) // MS,
        "text": f"PumpWatch: {trigger.coin} KRW listing announced {_kst(trigger.announced_ns)}, "
        f"detected {(trigger.detected_ns - trigger.announced_ns) // MS:,} ms later: {trigger.title}",
    }


def ready_alert(trigger: Trigger, event_dir: Path, summary_line: str, chart: Path | None) -> dict[str, Any]:
    """The event folder is complete: the summary's first line and where the chart is."""
    line = summary_line.replace("**", "")
    return {
        "kind": READY,
        "coin": trigger.coin,
        "title": trigger.title,
        "notice_id": trigger.notice_id,
        "announced_at": iso_utc(trigger.announced_ns, "ms"),
        "announced_at_kst": _kst(trigger.announced_ns),
        "event_dir": str(event_dir),
        "summary": line,
        "chart": str(chart) if chart is not None else None,
        "text": f"PumpWatch: {trigger.coin} ({_kst(trigger.announced_ns)}): {line}" + (f" Chart: {chart}" if chart else ""),
    }


class Alerter:
    """Delivers alerts to every configured sink on the `alerts` thread; `send` is safe from any thread and returns at once."""

    def __init__(self, config: AlertsConfig, *, ssl: Any = None) -> None:
        self.config = config
        self.ssl = ssl
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self._thread: LoopThread | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self.config.sinks and self._thread is None:
            self._thread = LoopThread("alerts")
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the HTTP session and end the thread (alerts still in flight are cancelled)."""
        if self._thread is None:
            return
        try:
            self._thread.submit(self._close()).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            LOG.warning("alerts: the HTTP session did not close within %.0fs", timeout)
        self._thread.stop(timeout)
        self._thread = None

    def send(self, alert: dict[str, Any]) -> concurrent.futures.Future | None:
        """Hand `alert` to the alerts thread (None when no sink is configured); never blocks, never raises."""
        if self._thread is None:
            return None
        coroutine = self.deliver(alert)
        try:
            return self._thread.submit(coroutine)
        except RuntimeError:  # the loop closed under us (shutting down): the alert is lost, and counted
            coroutine.close()
            self.failed += len(self.config.sinks)
            LOG.error("alert %s of %s not sent: the alerts thread has stopped", alert.get("kind"), alert.get("coin"))
            return None

    def status(self) -> dict[str, int]:
        return {"sinks": len(self.config.sinks), "sent": self.sent, "failed": self.failed, "retried": self.retried}

    async def deliver(self, alert: dict[str, Any]) -> None:
        """Every sink at once, each with its retries; counted per sink."""
        body = json.dumps(alert, ensure_ascii=False).encode()
        await asyncio.gather(*(self._with_retries(sink, body, alert["kind"]) for sink in self.config.sinks))

    async def _with_retries(self, sink: AlertSink, body: bytes, kind: str) -> None:
        name = sink.webhook.split("?", 1)[0] if sink.webhook else f"command {sink.command[0]}"
        backoff = Backoff(base=self.config.backoff, cap=self.config.backoff * 2**self.config.retries, immediate_retry=False)
        for attempt in range(self.config.retries + 1):
            try:
                if sink.webhook:
                    await self._post(sink.webhook, body)
                else:
                    await self._run(sink.command, body)
                self.sent += 1
                return
            except AlertFailed as exc:
                if attempt == self.config.retries:
                    self.failed += 1
                    LOG.error("alert %s to %s failed after %d attempts: %s", kind, name, attempt + 1, exc)
                    return
                self.retried += 1
                await asyncio.sleep(backoff.delay())
                backoff.failed()

    async def _post(self, url: str, body: bytes) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        try:
            async with self._session.post(url, data=body, headers={"Content-Type": "application/json"}, ssl=self.ssl) as response:
                if response.status >= 300:
                    raise AlertFailed(f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AlertFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc

    async def _run(self, argv: tuple[str, ...], body: bytes) -> None:
        try:
            process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                                                           stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise AlertFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            _, stderr = await asyncio.wait_for(process.communicate(body), self.config.timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AlertFailed(f"no exit within {self.config.timeout:g}s") from None
        if process.returncode != 0:
            last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise AlertFailed(f"exit status {process.returncode}" + (f": {last[0]}" if last[0] else ""))

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
