"""Extraction: exact window, every market present, stable schema, valid JSON, honest coverage verdicts."""

from __future__ import annotations

import json
import threading

import pyarrow.parquet as pq
import pytest

from extractor.extract import EventRequest, extract_event
from recorder.clock import S
from recorder.config import Config
from recorder.markets import MARKETS
from recorder.store.base import CoverageRow
from recorder.store.embedded import EmbeddedStore
from recorder.trade_row import TRADE_SCHEMA, TradeRow

T = 1_795_000_000 * S  # the announcement
HB = 5 * S


def trade(ts: int, trade_id: str, exchange="binance", market="spot", coin="TIA", symbol=None) -> TradeRow:
    symbol = symbol or (f"{coin}-USDT" if market == "spot" else f"{coin}-USDT-PERP")
    return TradeRow(ts, ts + 1000, exchange, market, symbol, coin, "USDT", "buy", 5.0, 2.0, 10.0, trade_id)


def session(exchange, market, conn, start, end, symbols, closed=True):
    rows = [CoverageRow(start, exchange, market, conn, "host:1", "up", ",".join(symbols))]
    rows += [CoverageRow(t, exchange, market, conn, "host:1", "alive", "") for t in range(start + HB, end, HB)]
    if closed:
        rows.append(CoverageRow(end, exchange, market, conn, "host:1", "down", ""))
    return rows


@pytest.fixture
def env(tmp_path):
    config = Config.model_validate({"data_dir": str(tmp_path / "data"), "recorder": {"symbols_file": str(tmp_path / "none.yaml")}})
    store = EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite")
    yield config, store, tmp_path / "events"
    store.close()


def _extract(env, **kw):
    config, store, out = env
    return extract_event(store, config, EventRequest("TIA", T, 20, 20, **kw), out)


def _markets(folder):
    meta = json.loads((folder / "metadata.json").read_text())
    return meta, {(m["exchange"], m["market"]): m for m in meta["markets"]}


def test_window_bounds_are_exact_and_half_open(env):
    _, store, _ = env
    store.write_trades([
        trade(T - 20 * S - 1000, "too-early"), trade(T - 20 * S, "first"), trade(T, "at"), trade(T + 20 * S - 1000, "last"),
        trade(T + 20 * S, "too-late"), trade(T, "other-coin", coin="TIAX"),
    ])
    folder = _extract(env)
    table = pq.read_table(folder / "trades.parquet")
    assert table.column("trade_id").to_pylist() == ["first", "at", "last"]
    meta, _ = _markets(folder)
    assert meta["window"]["start"] == "2026-11-18T11:06:20.000000000Z"
    assert meta["window"]["end"] == "2026-11-18T11:07:00.000000000Z"
    assert meta["announced_at_kst"].startswith("2026-11-18T20:06:40")


def test_every_market_is_present_even_without_trades(env):
    _, store, _ = env
    store.write_trades([trade(T, "1", "okx", "futures")])
    folder = _extract(env)
    _, markets = _markets(folder)
    assert len(markets) == 12
    for spec in MARKETS:
        raw = json.loads((folder / "raw" / spec.exchange / f"{spec.market}.json").read_text())
        assert isinstance(raw, list)
        assert len(raw) == (1 if spec.key == "okx.futures" else 0)
    assert markets[("okx", "futures")]["trades"] == 1
    assert markets[("okx", "futures")]["notional"] == 10.0


def test_parquet_schema_is_stable_with_and_without_trades(env):
    empty = _extract(env)
    assert pq.read_schema(empty / "trades.parquet") == TRADE_SCHEMA
    env[1].write_trades([trade(T, "1")])
    full = _extract(env)
    assert pq.read_schema(full / "trades.parquet") == TRADE_SCHEMA
    assert str(pq.read_table(full / "trades.parquet").to_pandas()["ts"].dtype) == "datetime64[ns, UTC]"


def test_json_is_valid_and_timestamps_are_iso(env):
    env[1].write_trades([trade(T + 123_456_789, "1")])
    folder = _extract(env)
    raw = json.loads((folder / "raw" / "binance" / "spot.json").read_text())
    assert raw[0]["ts"].endswith("Z") and raw[0]["trade_id"] == "1" and raw[0]["price"] == 5.0


def test_verdicts_complete_gap_not_connected_not_listed(env):
    _, store, _ = env
    store.write_coverage(
        session("binance", "spot", "a", T - 3600 * S, T + 3600 * S, ["TIA-USDT", "BTC-USDT"])
        + session("okx", "spot", "b1", T - 3600 * S, T - 3 * S, ["TIA-USDT"])
        + session("okx", "spot", "b2", T + 4 * S, T + 3600 * S, ["TIA-USDT"])
        + session("gate", "spot", "c", T - 3600 * S, T + 3600 * S, ["ETH-USDT"])
    )
    _, markets = _markets(_extract(env))
    assert markets[("binance", "spot")]["coverage"]["verdict"] == "complete"
    okx = markets[("okx", "spot")]["coverage"]
    assert okx["verdict"] == "gap"
    assert [(g["start"], g["end"]) for g in okx["gaps"]] == [("2026-11-18T11:06:37.000000000Z", "2026-11-18T11:06:44.000000000Z")]
    assert markets[("gate", "spot")]["coverage"]["verdict"] == "not_listed"
    assert markets[("kucoin", "spot")]["coverage"]["verdict"] == "not_connected"


def test_a_killed_recorder_is_trusted_only_until_its_last_heartbeat(env):
    _, store, _ = env
    store.write_coverage(session("bybit", "futures", "k", T - 600 * S, T + 2 * S, ["TIA-USDT-PERP"], closed=False))
    _, markets = _markets(_extract(env))
    coverage = markets[("bybit", "futures")]["coverage"]
    assert coverage["verdict"] == "gap"
    assert coverage["gaps"][0]["end"] == "2026-11-18T11:07:00.000000000Z"


def test_rerun_keeps_the_first_version_and_force_replaces(env):
    first = _extract(env)
    second = _extract(env)
    assert first.exists() and second.name == first.name + ".v2"
    env[1].write_trades([trade(T, "late")])
    forced = extract_event(env[1], env[0], EventRequest("TIA", T, 20, 20), env[2], force=True)
    assert forced == first
    assert pq.read_table(forced / "trades.parquet").num_rows == 1
    assert not [p for p in env[2].iterdir() if p.name.startswith(".")]


def test_extraction_while_the_recorder_keeps_writing(env):
    _, store, _ = env
    store.write_trades([trade(T + i * 1000, f"w{i}") for i in range(1000)])
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            store.write_trades([trade(T + 3600 * S + i, f"later{i}")])
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        folders = [_extract(env) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert all(pq.read_table(f / "trades.parquet").num_rows == 1000 for f in folders)


def test_metadata_records_the_notice(env):
    folder = _extract(env, detected_ns=T + 2 * S, notice_id=6490, title="커브(CRV) KRW, USDT 마켓 디지털 자산 추가")
    meta, _ = _markets(folder)
    assert meta["notice_id"] == 6490 and meta["detection_latency_ms"] == 2000
    assert meta["store"] == "embedded" and meta["coin"] == "TIA"
    assert folder.name == "TIA_20261118T200640KST"


def test_a_backfilled_disconnect_makes_the_verdict_backfilled_and_a_partial_one_keeps_gap(env):
    from recorder.store.base import GapRow

    _, store, _ = env
    store.write_coverage(session("okx", "spot", "b1", T - 3600 * S, T - 3 * S, ["TIA-USDT"])
                         + session("okx", "spot", "b2", T + 4 * S, T + 3600 * S, ["TIA-USDT"])
                         + session("gate", "spot", "g1", T - 3600 * S, T - 3 * S, ["TIA-USDT"])
                         + session("gate", "spot", "g2", T + 4 * S, T + 3600 * S, ["TIA-USDT"]))
    store.write_gaps([GapRow(T - 3 * S, T + 4 * S, "okx", "spot", "TIA-USDT", "disconnect", "", "", "backfilled", 12),
                      GapRow(T - 3 * S, T + 4 * S, "gate", "spot", "TIA-USDT", "disconnect", "", "", "partial", 3)])
    _, markets = _markets(_extract(env))
    okx, gate = markets[("okx", "spot")]["coverage"], markets[("gate", "spot")]["coverage"]
    assert okx["verdict"] == "backfilled" and okx["gaps"][0]["recovered"] == 12
    assert gate["verdict"] == "gap" and gate["gaps"][0]["status"] == "partial"


def test_a_coin_nobody_carried_is_refused_without_a_folder_unless_allowed(env, caplog):
    from extractor.extract import NothingRecorded

    config, store, out = env
    store.write_coverage(session("binance", "spot", "a", T - 3600 * S, T + 3600 * S, ["TIA-USDT", "BTC-USDT"]))
    store.write_trades([trade(T, "1")])
    with pytest.raises(NothingRecorded, match="NOPE"):
        extract_event(store, config, EventRequest("NOPE", T, 20, 20), out, allow_empty=False)
    with pytest.raises(NothingRecorded, match="was the recorder running"):  # nothing connected at all: not the ticker's fault
        extract_event(store, config, EventRequest("TIA", T + 86_400 * S, 20, 20), out, allow_empty=False)
    assert not out.exists()
    assert extract_event(store, config, EventRequest("TIA", T, 20, 20), out, allow_empty=False).exists()
    # the service's call: the empty event is written (its verdicts are the record), and the log says why it is empty
    folder = extract_event(store, config, EventRequest("NOPE", T, 20, 20), out)
    _, markets = _markets(folder)
    assert {m["coverage"]["verdict"] for m in markets.values()} == {"not_listed", "not_connected"}
    assert any("NOPE" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
