"""Upbit's market list down never stops the recording: the exchanges are fetched anyway, filtered with the last
known KRW set, or, with none ever known, recorded unfiltered (and /status says so)."""

from __future__ import annotations

import asyncio
import logging

from recorder import record
from recorder.config import Config
from recorder.markets import MARKETS
from recorder.record import Recorder, fetch_universe
from recorder.store.embedded import EmbeddedStore
from recorder.tls import client_ssl_context
from simulator.exchanges import ExchangeSimulator
from simulator.upbit import FakeUpbit
from simulator.wiring import merge, simulator_config
from tests.conftest import eventually_async

MARKET_KEYS = ["binance.spot", "okx.futures"]
SPECS = [spec for spec in MARKETS if spec.key in MARKET_KEYS]
DEAD = "http://127.0.0.1:1"


def _offline(config: Config) -> Config:
    """The same config with every REST address unreachable: a first `make run` without internet."""
    exchanges = {spec.exchange: {spec.market: {"rest_base": DEAD}} for spec in SPECS}
    return Config.model_validate(merge(config.model_dump(mode="json"), {"exchanges": exchanges, "upbit": {"api_base": DEAD}}))


def _coins(recorder: Recorder) -> set[str]:
    return {i.base for state in recorder.states.values() if state.feeds for i in state.feeds.instruments.values()}


def test_exchanges_are_fetched_and_recorded_while_upbit_is_down_after_an_offline_first_start(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(record, "DEGRADED_RETRY_S", 0.3)
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with ExchangeSimulator(markets=MARKET_KEYS, symbols=3, trades_per_second=4, seed=5) as sim:
            upbit = FakeUpbit(krw_coins=("BTC", "ETH"))
            base = await upbit.start()
            port = int(base.rpartition(":")[2])
            config = simulator_config(sim, base, tmp_path, MARKET_KEYS, recorder={"listed_tail": "0s"})
            ssl = client_ssl_context(config.tls_ca_file)

            first, _ = await fetch_universe(_offline(config), SPECS, ssl)  # the first start, offline: an empty file
            assert first.total == 0
            await upbit.stop()  # from here on the exchanges answer, Upbit does not

            store = EmbeddedStore(tmp_path / "s.sqlite")
            recorder = Recorder(config, store, SPECS)
            await recorder.start()
            try:
                universe = recorder.status()["universe"]
                assert universe["filtered"] is False and universe["instruments"] > 0, universe
                assert {"BTC", "C0001"} <= _coins(recorder), "with no KRW set ever known, every instrument is recorded"
                await eventually_async(lambda: all(recorder.states[k].trades > 5 for k in MARKET_KEYS), timeout=60,
                                       what="trades on every market while Upbit is down")

                await upbit.start(port=port)  # Upbit answers again: the next retry filters
                await eventually_async(lambda: recorder.status()["universe"]["filtered"] and "BTC" not in _coins(recorder),
                                       timeout=30, what="the universe filtered (BTC unsubscribed) once Upbit answers")
                assert "C0001" in _coins(recorder)
                assert recorder.degraded() == []
            finally:
                await recorder.stop()

            await upbit.stop()  # down again, and a restart: the KRW set stored in symbols.yaml is the last known one
            recorder = Recorder(config, store, SPECS)
            await recorder.start()
            try:
                universe = recorder.status()["universe"]
                assert universe["filtered"] is True and universe["upbit_krw"] == 2, universe
                assert "BTC" not in _coins(recorder) and "C0001" in _coins(recorder)
                assert recorder.status()["markets"]["binance.spot"]["listed"] > 0
            finally:
                await recorder.stop()
                store.close()

    asyncio.run(scenario())
    text = caplog.text
    assert "recording EVERY instrument, unfiltered" in text
    assert "filtering with the last known Upbit KRW list (2 coins" in text


def test_retried_failures_are_logged_once_until_they_change(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(record, "DEGRADED_RETRY_S", 0.05)
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        upbit = FakeUpbit()
        upbit.fail_next(1000, 500)
        base = await upbit.start()
        exchanges = {spec.exchange: {spec.market: {"rest_base": DEAD}} for spec in SPECS}
        config = Config.model_validate({"data_dir": str(tmp_path), "recorder": {"symbols_file": str(tmp_path / "symbols.yaml")},
                                        "upbit": {"api_base": base}, "exchanges": exchanges})
        store = EmbeddedStore(tmp_path / "s.sqlite")
        recorder = Recorder(config, store, SPECS)
        await recorder.start()
        try:
            await eventually_async(lambda: upbit.requests >= 5, what="five tries of the lists")
        finally:
            await recorder.stop()
            await upbit.stop()
            store.close()

    asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records]
    assert sum("Upbit market list unavailable (HTTP 500)" in line for line in lines) == 1, lines
    for key in MARKET_KEYS:
        assert sum(line.startswith(f"universe: {key} instrument fetch FAILED (") for line in lines) == 1, lines
        assert "cannot connect to 127.0.0.1:1: Connection refused" in next(line for line in lines if key in line)
    assert sum(line.startswith("universe: retrying") for line in lines) == 1, lines
    assert not [line for line in lines if "SSLContext" in line]


def test_markets_started_empty_offline_are_recorded_once_the_exchanges_answer_while_upbit_does_not(tmp_path, monkeypatch):
    monkeypatch.setattr(record, "DEGRADED_RETRY_S", 0.3)
    offline = [True]
    real = record.make_fetcher

    def fetcher(*args, **kwargs):
        fetch = real(*args, **kwargs)

        async def maybe_offline(spec):
            if offline[0]:
                raise OSError("network unreachable")
            return await fetch(spec)

        return maybe_offline

    monkeypatch.setattr(record, "make_fetcher", fetcher)

    async def scenario() -> None:
        async with ExchangeSimulator(markets=MARKET_KEYS, symbols=3, trades_per_second=4, seed=7) as sim:
            config = simulator_config(sim, DEAD, tmp_path, MARKET_KEYS)  # Upbit never answers in this test
            store = EmbeddedStore(tmp_path / "s.sqlite")
            recorder = Recorder(config, store, SPECS)
            await recorder.start()
            try:
                assert recorder.universe.total == 0
                offline[0] = False  # the exchanges answer now; the retry fetches their lists
                await eventually_async(lambda: all(recorder.states[k].trades > 5 for k in MARKET_KEYS), timeout=60,
                                       what="trades on every market that started with no instrument")
                assert recorder.status()["universe"]["filtered"] is False and recorder.degraded() == ["upbit"]
            finally:
                await recorder.stop()
                store.close()

    asyncio.run(scenario())
