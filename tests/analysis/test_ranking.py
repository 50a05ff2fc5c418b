"""Across markets: first pump, ranking, and markets whose coverage forbids ranking them."""

from __future__ import annotations

from analysis.event import load_event
from analysis.ranking import rank_markets
from analysis.report import build_analysis
from tests.analysis.synthetic import EventBuilder, listing


def entry(exchange: str, market: str, verdict: str, reaction_ms=None, first_ms=None, peak=None, trades=0, notional=0.0) -> dict:
    return {
        "exchange": exchange,
        "market": market,
        "verdict": verdict,
        "reaction_ms": reaction_ms,
        "first_pump_trade_ms": first_ms,
        "peak_gain": peak,
        "time_to_peak_ms": None,
        "after": {"trades": trades, "notional": notional, "imbalance": None},
        "gaps": [{"start_ms": -1000.0, "end_ms": 500.0}] if verdict == "gap" else [],
    }


def test_first_pump_is_the_earliest_among_fully_recorded_markets() -> None:
    out = rank_markets(
        [
            entry("okx", "spot", "gap", 0, 50.0, 0.2, 5),
            entry("bybit", "spot", "complete", 2000, 2100.0, 0.1, 9),
            entry("binance", "futures", "backfilled", 0, 800.0, 0.25, 7),
            entry("gate", "spot", "not_connected"),
            entry("kucoin", "spot", "complete"),
            entry("binance", "spot", "complete", 0, 300.0, 0.05, 3),
        ]
    )
    assert out["first_pump"]["exchange"] == "binance" and out["first_pump"]["market"] == "spot"
    assert out["first_pump"]["first_pump_trade_ms"] == 300.0
    assert out["first_pump"]["same_bar"] == ["binance.futures"]
    assert [(r["rank"], r["exchange"], r["market"]) for r in out["ranking"]] == [
        (1, "binance", "spot"),
        (2, "binance", "futures"),
        (3, "bybit", "spot"),
        (None, "kucoin", "spot"),
    ]
    assert [r["behind_first_ms"] for r in out["ranking"]] == [0.0, 500.0, 1800.0, None]
    assert [(u["exchange"], u["market"], u["verdict"]) for u in out["unranked"]] == [
        ("okx", "spot", "gap"),
        ("gate", "spot", "not_connected"),
    ]
    assert out["unranked"][0]["gaps"] == [{"start_ms": -1000.0, "end_ms": 500.0}]
    assert "no recorder was connected" in out["unranked"][1]["reason"]


def test_markets_without_a_reaction_follow_traded_before_silent_higher_peak_first() -> None:
    out = rank_markets(
        [
            entry("a", "spot", "complete"),
            entry("b", "spot", "complete", peak=-0.05, trades=4),
            entry("c", "spot", "complete", peak=0.02, trades=4),
        ]
    )
    assert out["first_pump"] is None
    assert [(r["rank"], r["exchange"]) for r in out["ranking"]] == [(None, "c"), (None, "b"), (None, "a")]


def test_no_rankable_market_means_no_first_pump_even_if_a_gapped_one_pumped() -> None:
    out = rank_markets([entry("okx", "spot", "gap", 0, 10.0, 0.5, 9), entry("x", "futures", "unknown", 1000, 1500.0, 0.1, 5)])
    assert out["first_pump"] is None and out["ranking"] == []
    assert [u["verdict"] for u in out["unranked"]] == ["gap", "unknown"]


def test_listing_event_ranks_venues_and_lists_the_gap_separately(builder: EventBuilder) -> None:
    analysis = build_analysis(load_event(listing(builder).write()))
    first = analysis["first_pump"]
    assert (first["exchange"], first["market"], first["reaction_ms"], first["first_pump_trade_ms"]) == ("binance", "futures", 0, 800.0)
    reacted = [
        (r["rank"], f"{r['exchange']}.{r['market']}", r["reaction_ms"], r["first_pump_trade_ms"]) for r in analysis["ranking"] if r["rank"]
    ]
    assert reacted == [(1, "binance.futures", 0, 800.0), (2, "binance.spot", 2000, 2100.0), (3, "kucoin.spot", 5000, 5300.0)]
    not_reacting = [f"{r['exchange']}.{r['market']}" for r in analysis["ranking"] if r["rank"] is None]
    assert not_reacting[0] == "gate.spot"  # traded (a dump), so ahead of the silent ones
    assert "bybit.spot" in not_reacting  # complete coverage, no trades: a genuine "did not move"
    assert len(analysis["ranking"]) == 11
    # okx spot pumped at +200 ms, earlier than anyone, but had a gap: listed, not ranked, not first
    assert [(u["exchange"], u["market"], u["verdict"]) for u in analysis["unranked"]] == [("okx", "spot", "gap")]
    assert analysis["unranked"][0]["first_pump_trade_ms"] == 200.0
    assert analysis["unranked"][0]["gaps"][0]["start_ms"] == -8000.0
    assert analysis["unranked"][0]["gaps"][0]["end_ms"] == -3000.0


def test_trades_of_a_market_missing_from_metadata_are_analysed_but_not_ranked(builder: EventBuilder) -> None:
    builder.flat_before("binance", "spot", 10.0)
    builder.flat_before("newex", "spot", 10.0)
    for offset in (100, 200, 300):
        builder.trade("newex", "spot", offset, 12.0)
    analysis = build_analysis(load_event(builder.write()))
    assert analysis["first_pump"] is None
    assert [(u["exchange"], u["verdict"], u["reaction_ms"]) for u in analysis["unranked"]] == [("newex", "unknown", 0)]
