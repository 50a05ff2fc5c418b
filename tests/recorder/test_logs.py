"""Log lines: ISO 8601 UTC times whatever the machine's zone; a retried failure is said once per change of state."""

from __future__ import annotations

import logging
import re
import time

from recorder.config import Config
from recorder.logs import ChangeLog, setup_logging
from recorder.markets import BY_KEY
from recorder.normalize import Normalizer
from recorder.record import MarketState, Recorder
from recorder.store.embedded import EmbeddedStore


def test_log_times_are_iso_utc_with_z_whatever_the_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging("INFO")
        handler = next(h for h in root.handlers if getattr(h, "_pumpwatch", False))
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        record.created, record.msecs = 1_763_614_800.25, 250.0
        assert handler.format(record).startswith("2025-11-20T05:00:00.250Z INFO    x: hello")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def test_a_change_log_says_each_state_once_and_the_recovery_once(caplog):
    log = ChangeLog(logging.getLogger("t"))
    with caplog.at_level(logging.INFO, logger="t"):
        log.recovered("upbit", "fine again")  # nothing was wrong: silent
        for _ in range(3):
            log.change("upbit", "down", "upbit down")
        log.change("upbit", "slow", "upbit slow")
        log.recovered("upbit", "fine again")
        log.recovered("upbit", "fine again")
    assert [r.getMessage() for r in caplog.records] == ["upbit down", "upbit slow", "fine again"]


def test_idle_markets_are_one_line_per_change_not_one_per_market_per_minute(tmp_path, caplog):
    config = Config.model_validate({"data_dir": str(tmp_path)})
    keys = ["binance.spot", "okx.futures", "gate.spot"]
    recorder = Recorder(config, EmbeddedStore(tmp_path / "s.sqlite"), [BY_KEY[k] for k in keys])
    for key in keys:
        recorder.states[key] = MarketState(BY_KEY[key], Normalizer(BY_KEY[key], []))
    with caplog.at_level(logging.INFO, logger="recorder.record"):
        for _ in range(3):
            recorder.log_rates()
        recorder.states["gate.spot"].trades = 600
        recorder.log_rates()
        recorder.log_rates()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "rate: no connection and no trades on binance.spot, gate.spot, okx.futures"
    assert re.fullmatch(r"rate gate\.spot: [\d.]+ trades/s, 0 connections, 0 symbols, 0 rejected", lines[1])
    assert lines[2] == "rate: no connection and no trades on binance.spot, okx.futures"
    assert lines[3:] == [lines[0]], "gate.spot, without connection, idle again: one line for the change"


def test_a_gap_in_a_log_line_gives_its_span_in_utc_not_in_epoch_nanoseconds():
    from recorder.store.base import GapRow

    gap = GapRow(1_763_614_800_250_000_000, 1_763_614_801_000_000_000, "okx", "spot", "TIA-USDT", "disconnect", "", "", "open", 0)
    assert "repair of %s failed" % (gap,) == (  # noqa: UP031 (as the logging call formats it)
        "repair of okx.spot TIA-USDT disconnect gap 2025-11-20T05:00:00.250Z to 2025-11-20T05:00:01.000Z (open) failed")
