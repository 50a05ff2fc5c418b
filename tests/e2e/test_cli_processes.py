"""The installed commands as a user runs them, pointed at the simulator through a config file alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import yaml

from recorder.store.embedded import EmbeddedStore
from tests.conftest import eventually
from tests.e2e.background import BackgroundSimulators

PUMPWATCH = [sys.executable, "-m", "pumpwatch"]


@pytest.fixture
def sims():
    background = BackgroundSimulators(markets=["okx.spot", "binance.futures"], symbols=5, trades_per_second=4)
    yield background
    background.close()


def test_symbols_refresh_writes_the_universe(sims, tmp_path):
    config = sims.write_config(tmp_path / "c.yaml", tmp_path / "data")
    result = subprocess.run([*PUMPWATCH, "symbols", "refresh", "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    universe = yaml.safe_load((tmp_path / "data" / "symbols.yaml").read_text())
    text = (tmp_path / "data" / "symbols.yaml").read_text()
    assert text.startswith("#") and "okx.spot" in text and "binance.futures" in text
    assert universe is not None
    assert "BTC-USDT" not in text  # BTC is on Upbit KRW already


def test_record_runs_and_sigterm_flushes_and_exits_0(sims, tmp_path):
    config = sims.write_config(tmp_path / "c.yaml", tmp_path / "data")
    process = subprocess.Popen([*PUMPWATCH, "record", "--config", str(config), "--markets", "okx.spot"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        db = tmp_path / "data" / "pumpwatch.sqlite"
        eventually(lambda: db.exists() and EmbeddedStore(db).count_trades() > 20, timeout=60, what="20 trades stored")
        sims.run(sims.sim.pause)
        sent = [t for t in sims.run(sims.sim.sent_trades, "okx.spot") if t["base"] not in ("BTC", "ETH")]
        eventually(lambda: EmbeddedStore(db).count_trades() >= len(sent), timeout=60,
                   what=lambda: f"{len(sent)} sent trades stored (have {EmbeddedStore(db).count_trades()})")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    store = EmbeddedStore(db)
    assert store.count_trades() == len(sent)
    states = [row.state for row in store.read_coverage("okx", "spot", 0, 2**62)]
    assert "up" in states and "down" in states
    assert store.read_coverage("binance", "futures", 0, 2**62) == []  # not in --markets


def test_kill_9_loses_nothing_older_than_a_second(sims, tmp_path):
    config = sims.write_config(tmp_path / "c.yaml", tmp_path / "data")
    process = subprocess.Popen([*PUMPWATCH, "record", "--config", str(config), "--markets", "okx.spot"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "data" / "pumpwatch.sqlite"
    try:
        eventually(lambda: db.exists() and EmbeddedStore(db).count_trades() > 50, timeout=60, what="50 trades stored")
        kill_ns = time.time_ns()
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    sent = [t for t in sims.run(sims.sim.sent_trades, "okx.spot") if t["base"] not in ("BTC", "ETH")]
    old_enough = {t["trade_id"] for t in sent if t["ts_ns"] < kill_ns - 1_000_000_000}
    stored: set[str] = set()
    store = EmbeddedStore(db)
    for coin in {t["base"] for t in sent}:
        stored |= set(store.read_window(coin, 0, 2**62).column("trade_id").to_pylist())
    assert old_enough and old_enough <= stored, f"lost {len(old_enough - stored)} of {len(old_enough)}"


def test_a_second_run_or_record_on_the_same_data_directory_is_refused_naming_the_first(tmp_path):
    exchanges = "".join(f"  {name}:\n    spot: {{enabled: false}}\n    futures: {{enabled: false}}\n"
                        for name in ("binance", "bybit", "okx", "kucoin", "gate", "phemex"))
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nrecorder:\n  symbols_file: {tmp_path / 'symbols.yaml'}\n"
                      f"service:\n  log_dir: {tmp_path / 'logs'}\n  status_port: 0\n"
                      f"upbit:\n  api_base: http://127.0.0.1:1\n  announcements_base: http://127.0.0.1:1\nexchanges:\n{exchanges}")
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen([*PUMPWATCH, "run", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: "started:" in log.read_text(), timeout=60, what=lambda: f"the first service started: {log.read_text()}")
        for command in ("run", "record"):
            second = subprocess.run([*PUMPWATCH, command, "--config", str(config)], capture_output=True, text=True, timeout=30)
            assert second.returncode == 2, second.stderr
            assert second.stderr == (f"pumpwatch: {tmp_path / 'data'} is in use by pumpwatch process {first.pid} "
                                     f"(lock {tmp_path / 'data' / 'pumpwatch.lock'}); stop it, or give this one "
                                     "another data_dir\n")
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    again = subprocess.Popen([*PUMPWATCH, "record", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # the lock went with the process: a new one starts
        eventually(lambda: (tmp_path / "data" / "pumpwatch.lock").read_text().strip() == str(again.pid), timeout=60,
                   what="the new process holding the lock")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(60)


def test_two_recorders_with_data_directories_of_their_own_write_one_embedded_store(sims, tmp_path):
    shared = tmp_path / "store" / "pumpwatch.sqlite"
    processes = []
    for name, market in (("a", "okx.spot"), ("b", "binance.futures")):
        config = sims.write_config(tmp_path / f"{name}.yaml", tmp_path / name, store={"embedded_file": str(shared)})
        processes.append(subprocess.Popen([*PUMPWATCH, "record", "--config", str(config), "--markets", market],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        eventually(lambda: shared.exists() and {r.exchange for r in EmbeddedStore(shared).read_coverage("okx", "spot", 0, 2**62)
                                                + EmbeddedStore(shared).read_coverage("binance", "futures", 0, 2**62)}
                   == {"okx", "binance"}, timeout=60, what="both recorders connected")
        sims.run(sims.sim.pause)
        sent = [t for market in ("okx.spot", "binance.futures") for t in sims.run(sims.sim.sent_trades, market)
                if t["base"] not in ("BTC", "ETH")]
        eventually(lambda: EmbeddedStore(shared).count_trades() >= len(sent), timeout=60,
                   what=lambda: f"{len(sent)} sent trades stored (have {EmbeddedStore(shared).count_trades()})")
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [process.returncode for process in processes] == [0, 0], outputs
    store = EmbeddedStore(shared)
    assert store.compact() >= 0 and store.count_trades() == len(sent)
    stored = [(row["exchange"], row["trade_id"]) for coin in {t["base"] for t in sent}
              for row in store.read_window(coin, 0, 2**62).select(["exchange", "trade_id"]).to_pylist()]
    assert len(stored) == len(set(stored)) == len(sent)
    assert not (tmp_path / "a" / "pumpwatch.sqlite").exists() and (tmp_path / "b" / "pumpwatch.lock").exists()
