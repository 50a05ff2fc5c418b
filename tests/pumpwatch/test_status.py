"""Status off the ingest loop: /status, /metrics and detection while that loop is blocked; receive lag per market."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
import urllib.request
from datetime import UTC, datetime
from types import SimpleNamespace

from pumpwatch.service import Service
from pumpwatch.status import metrics_text, process_figures
from pumpwatch.status_table import render
from recorder.clock import KST, S
from recorder.config import Config
from recorder.lag import SAMPLES_PER_SECOND, ReceiveLag, weighted_median
from recorder.loops import LoopThread
from recorder.markets import BY_KEY, MARKETS
from recorder.normalize import Normalizer
from recorder.record import MarketState, Recorder
from recorder.store.embedded import EmbeddedStore
from simulator.upbit import FakeUpbit
from tests.conftest import eventually

MS = 1_000_000


def _no_markets(tmp_path, upbit_base: str) -> Config:
    """A service with every market disabled: the loops, the watcher and the status endpoint, nothing to connect to."""
    exchanges: dict[str, dict] = {}
    for spec in MARKETS:
        exchanges.setdefault(spec.exchange, {})[spec.market] = {"enabled": False}
    return Config.model_validate({
        "data_dir": str(tmp_path), "exchanges": exchanges,
        "recorder": {"symbols_file": str(tmp_path / "symbols.yaml")},
        "upbit": {"api_base": upbit_base, "announcements_base": upbit_base, "poll_interval": "100ms", "poll_jitter": "0ms"},
        "service": {"status_port": 0, "log_dir": str(tmp_path / "logs")},
    })


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=3) as response:  # the failure condition: no answer within 3 s
        return response.read()


def test_status_metrics_and_detection_answer_while_the_ingest_loop_is_blocked(tmp_path):
    upbit_thread = LoopThread("fake-upbit")  # Upbit is remote: its fake must not live on the loop this test blocks
    upbit_thread.start()
    fake = FakeUpbit()
    base = upbit_thread.submit(fake.start()).result(10)

    async def publish(title: str) -> int:
        return fake.publish(title, at=datetime.now(KST).replace(microsecond=0))

    def blocked_ingest_loop(service: Service) -> tuple[dict, str]:
        """Runs ON the ingest loop without yielding: everything below is served by the other threads."""
        url = f"http://127.0.0.1:{service.status_server.port}"
        notice = upbit_thread.submit(publish("셀레스티아(TIA) KRW 마켓 디지털 자산 추가")).result(10)

        def answered_while_blocked() -> dict | None:
            status = json.loads(_get(url + "/status"))
            noticed = any(n["id"] == notice for n in status["upbit"]["recent_notices"])
            return status if noticed and status["service"]["ingest_loop_stalled_s"] >= 1.0 else None

        status = eventually(answered_while_blocked, timeout=30,
                            what="/status showing the notice and the ingest loop stalled for a second")
        eventually(lambda: service.scheduler.get_job(f"extract:{notice}:TIA"), timeout=10, what="the extraction job")
        return status, _get(url + "/metrics").decode()

    async def scenario() -> tuple[dict, str]:
        service = Service(_no_markets(tmp_path, base))
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(install_signals=False, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 60)
            return blocked_ingest_loop(service)
        finally:
            service.request_stop()
            await task

    try:
        status, metrics = asyncio.run(scenario())
    finally:
        upbit_thread.submit(fake.stop()).result(10)
        upbit_thread.stop()
    assert [n["krw_symbols"] for n in status["upbit"]["recent_notices"]] == [["TIA"]]
    assert all(n["first_listed_at"].endswith("Z") for n in status["upbit"]["recent_notices"]), "ISO 8601 UTC, as in the logs"
    assert "pumpwatch_ingest_loop_stalled_seconds" in metrics
    [row] = EmbeddedStore(tmp_path / "pumpwatch.sqlite").read_triggers()
    assert (row.symbol, row.status) == ("TIA", "scheduled")


def test_receive_lag_median_and_max_over_the_last_minute():
    lag = ReceiveLag()
    start = 1_800_000_000 * S
    assert lag.window(start) is None
    for i, lag_ms in enumerate([10, 20, 30, 40, 500]):
        lag.add(start + i * MS - lag_ms * MS, start + i * MS)
    window = lag.window(start)
    assert (window.median_s, window.max_s, window.trades) == (0.03, 0.5, 5)
    lag.add(start + 30 * S - 2 * S, start + 30 * S)
    assert lag.window(start + 30 * S).max_s == 2.0
    assert lag.window(start + 60 * S) == (2.0, 2.0, 1)  # the first second has left the window
    assert lag.window(start + 91 * S) is None


def test_a_busy_second_weighs_what_it_carried():
    lag = ReceiveLag()
    start = 1_800_000_000 * S
    for second in range(10):  # ten quiet seconds of 64 trades, 5 ms late: 640 samples
        at = start + second * S
        for i in range(SAMPLES_PER_SECOND):
            lag.add(at + i * MS - 5 * MS, at + i * MS)
    busy = start + 10 * S
    for i in range(SAMPLES_PER_SECOND * 20):  # one overloaded second of 1,280 trades, 2 s late: 64 samples standing for 20 each
        lag.add(busy + i * 100 - 2 * S, busy + i * 100)
    window = lag.window(busy)
    assert (window.median_s, window.max_s, window.trades) == (2.0, 2.0, SAMPLES_PER_SECOND * 30)


def test_weighted_median():
    assert weighted_median([(3, 1.0), (1, 1.0), (2, 1.0)]) == 2
    assert weighted_median([(1, 1.0), (2, 1.0)]) == 1.5
    assert weighted_median([(1, 1.0), (100, 5.0)]) == 100


def _recorder_with(tmp_path, key: str, lags_ms: list[int], threshold: str = "5s") -> Recorder:
    config = Config.model_validate({"data_dir": str(tmp_path), "service": {"receive_lag_warn": threshold}})
    spec = BY_KEY[key]
    recorder = Recorder(config, EmbeddedStore(tmp_path / "s.sqlite"), [spec])
    state = recorder.states[key] = MarketState(spec, Normalizer(spec, []))
    now = time.time_ns()
    for lag_ms in lags_ms:
        state.lag.add(now - lag_ms * MS, now)
    return recorder


def test_status_metrics_and_table_show_the_receive_lag_per_market(tmp_path):
    recorder = _recorder_with(tmp_path, "okx.futures", [100, 200, 300, 1500])
    recorder.states["gate.spot"] = MarketState(BY_KEY["gate.spot"], Normalizer(BY_KEY["gate.spot"], []))
    snapshot = {"service": {"store": "embedded", "ingest_loop_stalled_s": 0.0}, **recorder.status()}
    okx, gate = snapshot["markets"]["okx.futures"], snapshot["markets"]["gate.spot"]
    assert (okx["receive_lag_median_s"], okx["receive_lag_max_s"]) == (0.25, 1.5)
    assert (gate["receive_lag_median_s"], gate["receive_lag_max_s"]) == (None, None)
    metrics = metrics_text(snapshot).decode()
    assert 'pumpwatch_market_receive_lag_median_seconds{exchange="okx",market="futures"} 0.25' in metrics
    assert 'pumpwatch_market_receive_lag_max_seconds{exchange="okx",market="futures"} 1.5' in metrics
    assert 'pumpwatch_market_receive_lag_max_seconds{exchange="gate"' not in metrics
    table = render(snapshot)
    assert "recv lag med/max" in table and "250/1500ms" in table
    assert "ingest loop stalled: 0.00s" in table


def test_receive_lag_above_the_threshold_warns_at_most_once_a_minute_per_market(tmp_path, caplog):
    slow = _recorder_with(tmp_path, "kucoin.spot", [100, 200, 6000])
    with caplog.at_level(logging.WARNING, logger="recorder.record"):
        slow.warn_receive_lag()
        slow.warn_receive_lag()
        _recorder_with(tmp_path, "bybit.spot", [100, 200, 6000], threshold="10s").warn_receive_lag()
    warnings = [r.getMessage() for r in caplog.records if "receive lag" in r.getMessage()]
    assert warnings == ["kucoin.spot: receive lag over the last minute: median 0.200 s, max 6.000 s (3 trades), "
                        "above service.receive_lag_warn 5s"]


def test_status_is_safe_to_build_while_the_ingest_side_changes_what_it_reads(tmp_path):
    recorder = _recorder_with(tmp_path, "binance.spot", [])
    state = recorder.states["binance.spot"]
    done = threading.Event()
    turns = [0]

    def ingest() -> None:
        """What the ingest loop does meanwhile: sessions come and go, trades arrive, rejections are counted."""
        while not done.is_set():
            i = turns[0] = turns[0] + 1
            event = SimpleNamespace(exchange="binance", market="spot", conn_id=f"c{i % 50}", state="up" if i % 3 else "down",
                                    symbols=["BTC-USDT"], ts_ns=time.time_ns())
            recorder.coverage.on_connection(event)
            now = time.time_ns()
            state.lag.add(now - (i % 7) * MS, now)
            state.normalizer.rejected[f"reason-{i % 97}"] += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    snapshots = []
    try:
        while len(snapshots) < 2000 or turns[0] < 20000:
            snapshots.append(recorder.status())
    finally:
        done.set()
        thread.join()
    assert all(list(s["markets"]) == ["binance.spot"] for s in snapshots)


def test_the_process_figures_a_long_run_must_keep_flat_are_in_status_and_metrics():
    async def go():
        await asyncio.sleep(0)
        return process_figures(asyncio.get_running_loop())

    figures = asyncio.run(go())
    assert figures["pid"] == os.getpid() and figures["rss_bytes"] > 0 and figures["open_fds"] > 0
    assert figures["threads"] >= 1 and figures["ingest_loop_tasks"] == 1  # the probe itself
    metrics = metrics_text({"process": figures}).decode()
    for name in ("rss_bytes", "open_fds", "threads", "ingest_loop_tasks"):
        assert f"pumpwatch_process_{name} " in metrics


def test_an_unfiltered_universe_is_flagged_in_status_metrics_and_the_table(tmp_path):
    from recorder.universe import Universe

    recorder = _recorder_with(tmp_path, "okx.futures", [])
    recorder.universe = Universe(datetime.now(KST), markets={"okx.futures": []})
    snapshot = recorder.status()
    assert snapshot["universe"]["filtered"] is False
    assert "pumpwatch_universe_filtered 0.0" in metrics_text(snapshot).decode()
    assert "universe: UNFILTERED, no Upbit KRW list fetched yet" in render(snapshot)

    recorder.universe = Universe(datetime.now(KST), markets={"okx.futures": []}, upbit_krw=frozenset({"BTC", "ETH"}),
                                 upbit_krw_at=datetime(2026, 11, 20, 5, tzinfo=KST))
    snapshot = recorder.status()
    assert "pumpwatch_universe_filtered 1.0" in metrics_text(snapshot).decode()
    assert "universe: 0 instruments, filtered by 2 Upbit KRW coins (fetched 2026-11-19T20:00:00Z)" in render(snapshot)


def test_trades_per_second_in_the_first_minute_is_over_the_time_elapsed(tmp_path):
    recorder = _recorder_with(tmp_path, "okx.futures", [100] * 30)  # 30 trades received just now
    recorder.states["okx.futures"].started_ns = time.time_ns() - 10 * S
    assert recorder.status()["markets"]["okx.futures"]["trades_per_s"] == 3.0


def test_counters_are_prometheus_counters_and_every_watcher_figure_is_a_metric(tmp_path):
    recorder = _recorder_with(tmp_path, "okx.futures", [100, 200])
    upbit = {"state": "server_error", "polls": 7, "failures_total": 4, "consecutive_failures": 2,
             "last_success_at": "2026-11-20T05:00:00Z", "last_error": "HTTP 500", "last_error_at": "2026-11-20T05:00:03Z",
             "next_poll_at": "2026-11-20T05:00:09Z", "next_poll_in_s": 4.5, "recent_notices": []}
    snapshot = {"service": {"store": "embedded", "ingest_loop_stalled_s": 0.0}, **recorder.status(), "upbit": upbit,
                "events_extracted": 2, "events_failed": 1, "process": {"rss_bytes": 1, "open_fds": 2, "threads": 3}}
    text = metrics_text(snapshot).decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    assert {name for name, kind in types.items() if name.endswith("_total")} == {name for name, kind in types.items()
                                                                                if kind == "counter"}
    for name in ("pumpwatch_market_trades_total", "pumpwatch_market_rejected_total", "pumpwatch_writer_rows_written_total",
                 "pumpwatch_events_extracted_total", "pumpwatch_upbit_polls_total", "pumpwatch_upbit_poll_failures_total"):
        assert types.get(name) == "counter", name
    assert "pumpwatch_upbit_poll_failures_total 4.0" in text
    assert "pumpwatch_upbit_up 0.0" in text and "pumpwatch_upbit_consecutive_failures 2.0" in text
    [success] = re.findall(r"^pumpwatch_upbit_last_success_timestamp_seconds (\S+)$", text, re.MULTILINE)
    assert float(success) == datetime(2026, 11, 20, 5, tzinfo=UTC).timestamp()
    assert "pumpwatch_upbit_next_poll_seconds 4.5" in text
    table = render(snapshot)
    assert "upbit: server_error  polls: 7 (4 failed, 2 in a row)  last success: 2026-11-20T05:00:00Z" in table
    assert "last error: 2026-11-20T05:00:03Z HTTP 500  next poll in 4.5s" in table


def test_the_service_says_what_it_started_in_one_line(tmp_path, caplog):
    async def scenario() -> int:
        fake = FakeUpbit()
        service = Service(_no_markets(tmp_path, await fake.start()))
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(install_signals=False, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 60)
            return service.status_server.port
        finally:
            service.request_stop()
            await task
            await fake.stop()

    with caplog.at_level(logging.INFO):
        port = asyncio.run(scenario())
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("started:")]
    assert started == [f"started: 0 markets (none), 0 instruments (filtered by 3 Upbit KRW coins), store embedded "
                       f"{tmp_path / 'pumpwatch.sqlite'}, status http://127.0.0.1:{port}/status, Upbit watcher on"]
    assert not [r for r in caplog.records if "+00:00" in r.getMessage() or "+09:00" in r.getMessage()]
