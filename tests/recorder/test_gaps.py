"""Gap detection: id jumps on sequential markets, disconnects from connection events and coverage rows, silence."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.clock import S
from recorder.gaps import DisconnectTracker, GapDetector, disconnect_gaps, silence_gaps
from recorder.markets import market
from recorder.store.base import CoverageRow, GapRow
from recorder.trade_row import TradeRow


def row(trade_id: int | str, ts: int = 0, symbol: str = "TIA-USDT") -> TradeRow:
    return TradeRow(ts, ts, "binance", "spot", symbol, "TIA", "USDT", "buy", 1.0, 1.0, 1.0, str(trade_id))


def detector() -> GapDetector:
    return GapDetector(market("binance", "spot"))


def test_only_sequential_markets_have_a_detector():
    for exchange in ("binance", "okx", "gate"):
        for kind in ("spot", "futures"):
            GapDetector(market(exchange, kind))
    for exchange in ("bybit", "kucoin", "phemex"):
        with pytest.raises(ValueError, match="not sequential"):
            GapDetector(market(exchange, "spot"))


def test_contiguous_ids_are_no_gap():
    d = detector()
    assert d.feed_many(row(i, i * 10) for i in range(100, 200)) == []
    assert (d.gaps, d.out_of_order) == (0, 0)


def test_a_jump_names_the_missing_ids_and_spans_the_neighbours_times():
    d = detector()
    assert d.feed(row(100, 1_000)) is None
    gap = d.feed(row(105, 2_000))
    assert gap == GapRow(1_000, 2_000, "binance", "spot", "TIA-USDT", "id_jump", "101", "104", "open", 0)
    assert d.feed(row(106, 3_000)) is None
    assert d.feed(row(107, 4_000)) is None
    assert d.gaps == 1


def test_duplicates_and_late_ids_are_counted_not_gaps():
    d = detector()
    gaps = d.feed_many([row(1, 10), row(2, 20), row(2, 20), row(4, 40), row(3, 30), row(1, 10), row(5, 50)])
    assert [(g.first_missing_id, g.last_missing_id) for g in gaps] == [("3", "3")]
    assert d.out_of_order == 3
    assert d.feed(row(6, 60)) is None, "a late id does not move the cursor back"


def test_the_first_trade_of_a_symbol_is_no_gap_and_symbols_are_independent():
    d = detector()
    assert d.feed(row(500, 1, "A-USDT")) is None
    assert d.feed(row(9, 2, "B-USDT")) is None
    assert d.feed(row(501, 3, "A-USDT")) is None
    gap = d.feed(row(12, 4, "B-USDT"))
    assert (gap.symbol, gap.first_missing_id, gap.last_missing_id, gap.ts, gap.end_ts) == ("B-USDT", "10", "11", 2, 4)
    assert d.last_seen() == {"A-USDT": 3, "B-USDT": 4}


def test_a_row_standing_for_several_ids_covers_them():
    """OKX: one live message per taker order and price, carrying the last fill's id and the fill count."""
    d = detector()
    assert d.feed(row(100, 1)) is None
    assert d.feed(row(103, 2), span=3) is None, "101..103 arrive as one message"
    gap = d.feed(row(110, 3), span=2)
    assert (gap.first_missing_id, gap.last_missing_id, gap.ts, gap.end_ts) == ("104", "108", 2, 3)
    assert d.feed(row(109, 4)) is None and d.out_of_order == 1


def test_an_unparsable_id_is_counted_and_skipped():
    d = detector()
    assert d.feed_many([row(1), row("abc"), row(2)]) == []
    assert d.unparsable == 1


def test_many_symbols_interleaved():
    rng = random.Random(3)
    symbols = [f"C{i:04d}-USDT" for i in range(2_000)]
    next_id = {s: rng.randrange(10**9) for s in symbols}
    skipped: dict[str, tuple[int, int]] = {}
    rows = []
    for step in range(20_000):
        symbol = symbols[rng.randrange(len(symbols))]
        if symbol not in skipped and step % 97 == 0 and next_id[symbol] > 0:
            n = rng.randint(1, 50)
            skipped[symbol] = (next_id[symbol], next_id[symbol] + n - 1)
            next_id[symbol] += n
        rows.append(row(next_id[symbol], step, symbol))
        next_id[symbol] += 1
    d = detector()
    gaps = d.feed_many(rows)
    first_seen = {}
    for r in rows:
        first_seen.setdefault(r.symbol, int(r.trade_id))
    expected = {s: ids for s, ids in skipped.items() if first_seen[s] < ids[0]}
    assert {g.symbol: (int(g.first_missing_id), int(g.last_missing_id)) for g in gaps} == expected


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=500), min_size=1), st.randoms(use_true_random=False))
def test_gaps_cover_exactly_the_missing_ids(received, rng):
    """Ids arrive in order with random duplicates: the gaps cover exactly the ids never received."""
    stream = []
    for i in sorted(received):
        stream += [i] * rng.choice((1, 1, 1, 2, 3))
    d = detector()
    gaps = d.feed_many(row(i, i * 7) for i in stream)
    covered = [i for gap in gaps for i in range(int(gap.first_missing_id), int(gap.last_missing_id) + 1)]
    assert sorted(covered) == sorted(set(range(min(received), max(received) + 1)) - received)
    assert len(covered) == len(set(covered))
    assert all(gap.ts == (int(gap.first_missing_id) - 1) * 7 and gap.end_ts == (int(gap.last_missing_id) + 1) * 7 for gap in gaps)
    assert d.out_of_order == len(stream) - len(received)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=200))
def test_any_order_reports_what_never_arrived_before_the_cursor_passed_it(ids):
    """Arbitrary order: the cursor follows the highest id so far; a late id does not retract its gap."""
    d = detector()
    gaps = d.feed_many(row(i, k) for k, i in enumerate(ids))
    covered = [i for gap in gaps for i in range(int(gap.first_missing_id), int(gap.last_missing_id) + 1)]
    assert len(covered) == len(set(covered)), "gaps never overlap"
    advancing = [ids[0]]
    for i in ids[1:]:
        if i > advancing[-1]:
            advancing.append(i)
    assert set(covered) == set(range(ids[0], advancing[-1] + 1)) - set(advancing)
    assert d.out_of_order == len(ids) - len(advancing)


# --- disconnects --------------------------------------------------------------------------------


def test_a_reconnect_yields_one_gap_per_symbol_it_carried():
    t = DisconnectTracker()
    assert t.up("okx", "spot", "okx.spot/0.0", ["A-USDT", "B-USDT"], 10 * S) == []
    t.down("okx", "spot", "okx.spot/0.0", 20 * S)
    gaps = t.up("okx", "spot", "okx.spot/0.0", ["A-USDT", "B-USDT"], 23 * S)
    assert gaps == [GapRow(20 * S, 23 * S, "okx", "spot", s, "disconnect", "", "", "open", 0) for s in ("A-USDT", "B-USDT")]
    assert t.pending(30 * S) == []


def test_a_symbol_still_carried_by_another_session_is_no_gap():
    t = DisconnectTracker()
    t.up("binance", "spot", "c1", ["A-USDT"], 1)
    t.up("binance", "spot", "c2", ["A-USDT", "B-USDT"], 2)
    t.down("binance", "spot", "c1", 3)
    assert t.up("binance", "spot", "c1", ["A-USDT"], 4) == []
    t.down("binance", "spot", "c2", 5)
    assert [(g.symbol, g.ts) for g in t.pending(6)] == [("B-USDT", 5)]
    assert [(g.symbol, g.ts, g.end_ts) for g in t.up("binance", "spot", "c3", ["B-USDT"], 7)] == [("B-USDT", 5, 7)]


def test_symbols_move_to_the_next_session_that_carries_them():
    t = DisconnectTracker()
    t.up("gate", "spot", "c1", ["A-USDT", "B-USDT"], 1)
    t.down("gate", "spot", "c1", 2)
    assert [g.symbol for g in t.up("gate", "spot", "c2", ["B-USDT"], 3)] == ["B-USDT"]
    assert [(g.symbol, g.end_ts) for g in t.pending(4)] == [("A-USDT", 4)]
    assert [(g.symbol, g.ts, g.end_ts) for g in t.up("gate", "spot", "c9", ["A-USDT"], 8)] == [("A-USDT", 2, 8)]


def test_a_symbol_unsubscribed_on_purpose_leaves_no_gap_even_when_it_returns():
    t = DisconnectTracker()
    t.up("gate", "spot", "c1", ["A-USDT", "B-USDT"], 1)
    t.up("gate", "spot", "c2", ["A-USDT"], 2)  # make-before-break: the kept symbol's new carrier first
    t.down("gate", "spot", "c1", 3)
    t.forget("gate", "spot", ["B-USDT"])
    assert t.pending(4) == []
    assert t.up("gate", "spot", "c3", ["B-USDT"], 9) == []


def test_connection_events_drive_the_tracker():
    t = DisconnectTracker()

    def event(state, ts, symbols=()):
        return SimpleNamespace(exchange="bybit", market="futures", conn_id="bybit.futures/0.0", state=state,
                               symbols=tuple(symbols), ts_ns=ts)

    assert t.on_event(event("up", 1, ["A-USDT-PERP"])) == []
    assert t.on_event(event("down", 2, ["A-USDT-PERP"])) == []
    assert [(g.ts, g.end_ts, g.kind) for g in t.on_event(event("up", 3, ["A-USDT-PERP"]))] == [(2, 3, "disconnect")]


def coverage(ts, state, conn="c1", process="h:1", symbols=""):
    return CoverageRow(ts, "kucoin", "spot", conn, process, state, symbols)


def test_coverage_rows_give_the_same_gaps_in_any_order():
    rows = [coverage(1, "up", symbols="A-USDT,B-USDT"), coverage(5, "alive"), coverage(6, "down"),
            coverage(9, "up", symbols="A-USDT,B-USDT")]
    gaps = disconnect_gaps(reversed(rows))
    assert [(g.symbol, g.ts, g.end_ts) for g in gaps] == [("A-USDT", 6, 9), ("B-USDT", 6, 9)]


def test_a_killed_process_is_trusted_until_its_last_heartbeat():
    rows = [coverage(0, "up", symbols="A-USDT"), coverage(10 * S, "alive"), coverage(20 * S, "alive"),
            # killed: no down; a new process reuses the same logical connection id
            coverage(95 * S, "up", process="h:2", symbols="A-USDT")]
    assert disconnect_gaps(rows) == [], "without a staleness rule the dead session still carries the symbol"
    gaps = disconnect_gaps(rows, stale_after_ns=60 * S)
    assert [(g.symbol, g.ts, g.end_ts) for g in gaps] == [("A-USDT", 20 * S, 95 * S)]


def test_silence_gaps_span_the_last_trade_to_now():
    gaps = silence_gaps("bybit", "spot", {"A-USDT": 10 * S, "B-USDT": 95 * S}, 100 * S, 60 * S)
    assert gaps == [GapRow(10 * S, 100 * S, "bybit", "spot", "A-USDT", "silence", "", "", "open", 0)]
