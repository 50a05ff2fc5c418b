"""Coverage rows: one stored session per up…down, even when a feed reuses its connection id across reconnects."""

from __future__ import annotations

from dataclasses import dataclass

from recorder.coverage import CoverageTracker
from recorder.coverage_sessions import coin_coverage, sessions


@dataclass(frozen=True)
class Event:
    exchange: str
    market: str
    conn_id: str
    state: str
    symbols: tuple[str, ...]
    ts_ns: int


class Collect:
    def __init__(self) -> None:
        self.rows = []

    def add(self, kind, row):
        self.rows.append(row)


def test_reconnects_become_separate_sessions_and_heartbeats_follow_the_open_one():
    writer = Collect()
    tracker = CoverageTracker(writer, process="h:1")
    tracker.on_connection(Event("okx", "spot", "okx.spot/0.0", "up", ("A-USDT", "B-USDT"), 100))
    tracker.heartbeat(150)
    tracker.on_connection(Event("okx", "spot", "okx.spot/0.0", "down", ("A-USDT", "B-USDT"), 200))
    tracker.on_connection(Event("okx", "spot", "okx.spot/0.0", "up", ("A-USDT", "B-USDT"), 300))
    tracker.heartbeat(350)
    tracker.close_all(400)
    got = sessions(writer.rows, heartbeat_ns=10)
    assert [(s.start, s.end, s.closed, sorted(s.symbols)) for s in got] == [
        (100, 200, True, ["A-USDT", "B-USDT"]), (300, 400, True, ["A-USDT", "B-USDT"])]
    assert len({s.conn_id for s in got}) == 2
    assert tracker.connected() == {}


def test_a_second_up_without_down_closes_the_first_session():
    writer = Collect()
    tracker = CoverageTracker(writer, process="h:1")
    tracker.on_connection(Event("gate", "spot", "g/1", "up", ("A-USDT",), 100))
    tracker.on_connection(Event("gate", "spot", "g/1", "up", ("A-USDT",), 500))
    assert [(r.state, r.ts) for r in writer.rows] == [("up", 100), ("down", 500), ("up", 500)]
    assert tracker.connected() == {"gate.spot": {"connections": 1, "symbols": 1}}


def test_a_coins_holes_in_a_window_are_where_no_session_carried_each_of_its_symbols():
    writer = Collect()
    tracker = CoverageTracker(writer, process="h:1")
    tracker.on_connection(Event("okx", "futures", "a", "up", ("1000PEPE-USDT-PERP", "TIA-USDT-PERP"), 100))
    tracker.on_connection(Event("okx", "futures", "b", "up", ("OTHER-USDT-PERP",), 100))
    tracker.on_connection(Event("okx", "futures", "a", "down", (), 300))
    tracker.on_connection(Event("okx", "futures", "c", "up", ("1000PEPE-USDT-PERP",), 400))
    tracker.close_all(900)
    pepe = coin_coverage(writer.rows, "PEPE", 200, 1000, heartbeat_ns=10)
    assert pepe.connected and pepe.instruments == ["1000PEPE-USDT-PERP"]
    assert sorted(s.conn_id.split("@")[0] for s in pepe.carrying) == ["a", "c"]
    assert pepe.holes == [("1000PEPE-USDT-PERP", 300, 400), ("1000PEPE-USDT-PERP", 900, 1000)]
    assert coin_coverage(writer.rows, "TIA", 200, 1000, heartbeat_ns=10).holes == [("TIA-USDT-PERP", 300, 1000)]
    absent = coin_coverage(writer.rows, "XYZ", 200, 1000, heartbeat_ns=10)
    assert absent.connected and absent.carrying == [] and absent.holes == []
    assert not coin_coverage(writer.rows, "PEPE", 2000, 3000, heartbeat_ns=10).connected
