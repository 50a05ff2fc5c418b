"""Alerts reach a webhook (a local aiohttp server here) and a local command, retried with backoff, never blocking the sender."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from pumpwatch.alerts import Alerter, detection_alert, ready_alert
from pumpwatch.service import Service
from pumpwatch.status import metrics_text
from pumpwatch.status_table import render
from pumpwatch.watcher import Trigger
from recorder.clock import MS, S
from recorder.config import AlertsConfig, AlertSink, Config
from recorder.store.embedded import EmbeddedStore
from tests.analysis.synthetic import EventBuilder, listing
from tests.conftest import eventually, eventually_async

ANNOUNCED = 1_763_614_800 * S  # 2025-11-20T05:00:00Z = 14:00:00 KST
TRIGGER = Trigger(notice_id=5123, coin="TIA", announced_ns=ANNOUNCED, detected_ns=ANNOUNCED + 850 * MS,
                  title="셀레스티아(TIA) KRW 마켓 디지털 자산 추가", url="https://upbit.com/service_center/notice?id=5123")


@asynccontextmanager
async def webhook(answers: Callable[[int], int | None]) -> AsyncIterator[tuple[str, list[dict]]]:
    """A local webhook: the n-th request (from 1) gets status `answers(n)`; None means never answer."""
    received: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        status = answers(len(received))
        if status is None:
            await asyncio.Event().wait()
        return web.Response(status=status, text="ok" if status < 300 else "no")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook?token=secret", received
    finally:
        await runner.cleanup()


def alerter(*sinks: AlertSink, retries: int = 3, timeout: str = "5s") -> Alerter:
    config = AlertsConfig.model_validate({"sinks": [s.model_dump(exclude_none=True) for s in sinks], "retries": retries,
                                          "backoff": "10ms", "timeout": timeout})
    sender = Alerter(config)
    sender.start()
    return sender


def saving_command(path: Path) -> AlertSink:
    """A local command that saves its stdin: how a script receives the alert."""
    return AlertSink(command=(sys.executable, "-c", f"import sys; open({str(path)!r}, 'wb').write(sys.stdin.buffer.read())"))


def test_a_detection_reaches_the_webhook_and_the_command(tmp_path: Path) -> None:
    saved = tmp_path / "alert.json"

    async def scenario() -> list[dict]:
        async with webhook(lambda n: 200) as (url, received):
            sender = alerter(AlertSink(webhook=url), saving_command(saved))
            try:
                sender.send(detection_alert(TRIGGER))
                await eventually_async(lambda: sender.sent == 2, what=lambda: f"delivered: {sender.status()}")
            finally:
                sender.stop()
            return received

    received = asyncio.run(scenario())
    alert = received[0]
    assert alert == json.loads(saved.read_text(encoding="utf-8"))
    assert (alert["kind"], alert["coin"], alert["title"]) == ("detected", "TIA", TRIGGER.title)
    assert alert["announced_at"] == "2025-11-20T05:00:00.000Z" and alert["announced_at_kst"] == "2025-11-20 14:00:00 KST"
    assert alert["detection_latency_ms"] == 850
    assert alert["text"].startswith("PumpWatch: TIA KRW listing announced 2025-11-20 14:00:00 KST, detected 850 ms later")


def test_a_ready_event_sends_the_summary_line_and_the_chart_path(tmp_path: Path) -> None:
    alert = ready_alert(TRIGGER, tmp_path / "TIA_20251120T140000KST", "**First pump: binance futures** at +800 ms.",
                        tmp_path / "TIA_20251120T140000KST" / "chart.png")
    assert alert["kind"] == "ready" and alert["summary"] == "First pump: binance futures at +800 ms."
    assert alert["chart"].endswith("TIA_20251120T140000KST/chart.png")
    assert alert["text"] == f"PumpWatch: TIA (2025-11-20 14:00:00 KST): First pump: binance futures at +800 ms. Chart: {alert['chart']}"


def test_a_webhook_failing_twice_is_retried_until_it_takes_the_alert() -> None:
    async def scenario() -> tuple[list[dict], dict]:
        async with webhook(lambda n: 500 if n <= 2 else 200) as (url, received):
            sender = alerter(AlertSink(webhook=url))
            try:
                sender.send(detection_alert(TRIGGER))
                await eventually_async(lambda: sender.sent == 1, what=lambda: f"delivered: {sender.status()}")
            finally:
                sender.stop()
            return received, sender.status()

    received, status = asyncio.run(scenario())
    assert len(received) == 3 and received[0] == received[2]
    assert status == {"sinks": 1, "sent": 1, "failed": 0, "retried": 2}


def test_a_webhook_that_always_fails_is_logged_and_counted_in_metrics(caplog) -> None:
    async def scenario() -> tuple[str, list[dict], dict]:
        async with webhook(lambda n: 503) as (url, received):
            sender = alerter(AlertSink(webhook=url), retries=2)
            try:
                sender.send(detection_alert(TRIGGER))
                await eventually_async(lambda: sender.failed == 1, what=lambda: f"failures: {sender.status()}")
            finally:
                sender.stop()
            return url, received, sender.status()

    with caplog.at_level(logging.ERROR, logger="pumpwatch.alerts"):
        url, received, status = asyncio.run(scenario())
    assert len(received) == 3 and status == {"sinks": 1, "sent": 0, "failed": 1, "retried": 2}
    without_query = url.split("?")[0]  # a token in the query is never logged
    assert [r.getMessage() for r in caplog.records] == [f"alert detected to {without_query} failed after 3 attempts: HTTP 503"]
    metrics = metrics_text({"alerts": status}).decode()
    assert "pumpwatch_alerts_failed_total 1.0" in metrics and "pumpwatch_alert_retries_total 2.0" in metrics
    assert "alerts: 1 sinks  sent: 0  failed: 1  retried: 2" in render({"alerts": status})


def test_a_sink_that_never_answers_does_not_hold_up_the_sender() -> None:
    async def scenario() -> dict:
        async with webhook(lambda n: None) as (url, _received):
            sender = alerter(AlertSink(webhook=url), retries=1, timeout="200ms")
            try:
                pending = sender.send(detection_alert(TRIGGER))
                assert pending is not None and not pending.done()  # handed over, not waited for
                await eventually_async(lambda: sender.failed == 1, what=lambda: f"failures: {sender.status()}")
            finally:
                sender.stop()
            return sender.status()

    assert asyncio.run(scenario()) == {"sinks": 1, "sent": 0, "failed": 1, "retried": 1}


def test_a_failing_command_is_retried_then_counted_with_its_last_error_line(caplog) -> None:
    failing = AlertSink(command=(sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit('no route to the pager')"))

    async def scenario() -> dict:
        sender = alerter(failing, retries=1)
        try:
            sender.send(detection_alert(TRIGGER))
            await eventually_async(lambda: sender.failed == 1, what=lambda: f"failures: {sender.status()}")
        finally:
            sender.stop()
        return sender.status()

    with caplog.at_level(logging.ERROR, logger="pumpwatch.alerts"):
        assert asyncio.run(scenario()) == {"sinks": 1, "sent": 0, "failed": 1, "retried": 1}
    assert caplog.records[-1].getMessage().endswith("failed after 2 attempts: exit status 1: no route to the pager")


def test_without_sinks_nothing_runs() -> None:
    sender = Alerter(AlertsConfig())
    sender.start()
    assert sender.send(detection_alert(TRIGGER)) is None
    sender.stop()


def test_the_service_alerts_on_detection_and_shows_the_counts_in_its_status(tmp_path: Path) -> None:
    saved = tmp_path / "alert.json"
    config = Config.model_validate({"data_dir": str(tmp_path), "alerts": {"sinks": [saving_command(saved).model_dump(exclude_none=True)]}})
    service = Service(config)
    service.alerter.start()
    try:
        service.on_detection(TRIGGER)
        eventually(lambda: service.snapshot()["alerts"]["sent"] == 1, what=lambda: f"alerts: {service.snapshot()['alerts']}")
    finally:
        service.alerter.stop()
    assert json.loads(saved.read_text(encoding="utf-8"))["coin"] == "TIA"
    assert [job.id for job in service.scheduler.get_jobs()] == ["extract:5123:TIA"]


def test_the_service_alerts_when_the_event_is_ready_with_the_summary_line_and_the_chart(tmp_path: Path, monkeypatch) -> None:
    import extractor.extract

    folder = listing(EventBuilder(tmp_path / "events")).write()
    monkeypatch.setattr(extractor.extract, "extract_event", lambda *args, **kwargs: folder)
    saved = tmp_path / "alert.json"
    config = Config.model_validate({"data_dir": str(tmp_path), "alerts": {"sinks": [saving_command(saved).model_dump(exclude_none=True)]}})
    service = Service(config)
    service.store = EmbeddedStore(tmp_path / "store.sqlite")
    service.alerter.start()
    try:
        assert asyncio.run(service.finish_trigger(TRIGGER)) == folder
        eventually(lambda: service.alerter.sent == 1, what=lambda: f"alerts: {service.alerter.status()}")
    finally:
        service.alerter.stop()
        service.store.close()
    alert = json.loads(saved.read_text(encoding="utf-8"))
    assert alert["kind"] == "ready" and alert["event_dir"] == str(folder)
    assert alert["summary"] == "First pump: binance futures at +800 ms (bar +0 s), peak +25.0 % at +3,200 ms."
    assert alert["chart"] == str(folder / "chart.png")
