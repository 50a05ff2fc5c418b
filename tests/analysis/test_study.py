"""The cross-event study on synthetic events with known answers: who led, by how much, how often, counted honestly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import analyze_event
from analysis.event import NS_PER_S
from analysis.study import REPORT_MD, REPORT_PARQUET, REPORT_PNG, study_frame, thresholds_line, venue_stats, write_report
from recorder.markets import MARKETS
from tests.analysis.synthetic import EventBuilder, T, pump

DAY = 86_400 * NS_PER_S


def four_events(root: Path) -> list[dict]:
    """Four listings; every market not named is `complete` without trades.

    - TIA (day 0): binance futures +100 ms (peak at +6 s), okx spot +350, bybit futures +1,200; gate spot "pumps" at
      +50 ms but had a gap: never counted.
    - ZRO (day 1): okx spot +80, binance futures +200, bybit futures +2,500.
    - ARB (day 2): binance futures +40, okx spot +1,000; bybit futures trades flat (no pump).
    - FEW (day 3): only binance and bybit futures recorded (the rest `not_connected`): bybit +10, binance +500.
      Two counted markets: no race, but its reactions count.
    """
    events = []
    tia = EventBuilder(root, coin="TIA", announced_ns=T)
    pump(tia, "binance", "futures", 100, peak_ms=6000)
    pump(tia, "okx", "spot", 350)
    pump(tia, "bybit", "futures", 1200)
    pump(tia, "gate", "spot", 50)
    tia.verdict("gate", "spot", "gap", gaps=[(-500, 20)])
    events.append(tia.write("TIA_20261120T140000KST"))
    zro = EventBuilder(root, coin="ZRO", announced_ns=T + DAY)
    pump(zro, "okx", "spot", 80)
    pump(zro, "binance", "futures", 200)
    pump(zro, "bybit", "futures", 2500)
    events.append(zro.write("ZRO_20261121T140000KST"))
    arb = EventBuilder(root, coin="ARB", announced_ns=T + 2 * DAY)
    pump(arb, "binance", "futures", 40)
    pump(arb, "okx", "spot", 1000)
    arb.flat_before("bybit", "futures", 10.0, start_ms=-20_000)
    arb.trade("bybit", "futures", 500, 10.0)
    events.append(arb.write("ARB_20261122T140000KST"))
    few = EventBuilder(root, coin="FEW", announced_ns=T + 3 * DAY)
    pump(few, "bybit", "futures", 10)
    pump(few, "binance", "futures", 500)
    for spec in MARKETS:
        if spec.key not in ("binance.futures", "bybit.futures"):
            few.verdict(spec.exchange, spec.market, "not_connected")
    events.append(few.write("FEW_20261123T140000KST"))
    return [analyze_event(folder, chart=False) for folder in events]


@pytest.fixture(scope="module")
def analyses(tmp_path_factory) -> list[dict]:
    return four_events(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def stats(analyses) -> dict[str, dict]:
    return {s["venue"]: s for s in venue_stats(study_frame(analyses))}


def test_one_row_per_event_and_market_with_the_event_race(analyses) -> None:
    frame = study_frame(analyses)
    assert len(frame) == 4 * 12
    tia = frame[frame["event"] == "TIA_20261120T140000KST"].set_index("venue")
    assert tia.loc["binance.futures", ["reaction_ms", "behind_first_ms", "rank", "first"]].tolist() == [100.0, 0.0, 1, True]
    assert tia.loc["okx.spot", ["reaction_ms", "behind_first_ms", "rank", "first"]].tolist() == [350.0, 250.0, 2, False]
    assert tia.loc["binance.futures", "notional_first_5s"] == pytest.approx(3 * 10.5)  # the peak at +6 s is outside
    assert tia.loc["okx.spot", "notional_first_5s"] == pytest.approx(3 * 10.5 + 11.0)
    assert tia.loc["gate.spot", ["counted", "reaction_ms", "first"]].tolist() == [False, 50.0, False]
    few = frame[frame["event"] == "FEW_20261123T140000KST"]
    assert set(few["counted_markets"]) == {2} and not few["lead_eligible"].any()


def test_the_leader_and_its_lead_are_counted_over_races_only(stats) -> None:
    binance = stats["binance.futures"]
    assert (binance["events"], binance["races"], binance["led"], binance["top3"]) == (4, 3, 2, 3)
    assert binance["behind_first_ms"] == {"median": 0.0, "q1": 0.0, "q3": 60.0, "n": 3}
    okx = stats["okx.spot"]
    assert (okx["events"], okx["races"], okx["led"], okx["top3"]) == (3, 3, 1, 3)
    assert okx["behind_first_ms"] == {"median": 250.0, "q1": 125.0, "q3": 605.0, "n": 3}
    bybit = stats["bybit.futures"]
    assert (bybit["events"], bybit["races"], bybit["led"], bybit["top3"]) == (4, 3, 0, 2)  # FEW's win is no race


def test_reaction_peak_and_notional_count_every_fully_recorded_market(stats) -> None:
    binance = stats["binance.futures"]
    assert binance["reaction_ms"] == {"median": 150.0, "q1": 85.0, "q3": 275.0, "n": 4}  # 100, 200, 40, 500
    assert binance["peak_gain"]["median"] == pytest.approx(0.1) and binance["peak_gain"]["n"] == 4
    assert binance["time_to_peak_ms"]["median"] == 3000.0
    assert binance["notional_first_5s"]["median"] == pytest.approx(42.5)
    assert stats["bybit.futures"]["reaction_ms"] == {"median": 1200.0, "q1": 605.0, "q3": 1850.0, "n": 3}


def test_a_market_with_a_gap_is_in_no_statistic(stats) -> None:
    gate = stats["gate.spot"]
    assert gate["events"] == 2 and gate["reaction_ms"]["n"] == 0 and gate["led"] == 0


def test_venues_are_ordered_by_share_of_races_led(analyses) -> None:
    order = [s["venue"] for s in venue_stats(study_frame(analyses))]
    assert order[:3] == ["binance.futures", "okx.spot", "bybit.futures"]


def test_the_threshold_of_counted_markets_decides_which_events_are_races(analyses) -> None:
    stats = {s["venue"]: s for s in venue_stats(study_frame(analyses, min_counted=2))}
    assert (stats["bybit.futures"]["races"], stats["bybit.futures"]["led"]) == (4, 1)


def test_the_report_writes_parquet_markdown_and_a_chart_of_what_it_counted(analyses, tmp_path: Path) -> None:
    result = write_report(analyses, tmp_path)
    assert [p.name for p in result["files"]] == [REPORT_PARQUET, REPORT_MD, REPORT_PNG]
    assert len(pd.read_parquet(tmp_path / REPORT_PARQUET)) == 48
    markdown = (tmp_path / REPORT_MD).read_text(encoding="utf-8")
    assert "4 analysed events; 3 races in the lead statistics; 1 excluded from them for fewer than 3" in markdown
    assert "| binance.futures | 4 | 2/3 (67%) | 3/3 (100%) | 150 (85–275) n=4 | 0 (0–60) n=3 | +10.0 n=4 |" in markdown
    assert "| 2026-11-23 14:00:00 KST | FEW | bybit.futures | 2/12 | no: 2 counted markets (< 3) |" in markdown

    react_ax, led_ax = result["figure"].axes
    by_height = sorted(zip(react_ax.get_yticks(), (t.get_text() for t in react_ax.get_yticklabels()), strict=True), reverse=True)
    assert [label for _, label in by_height[:4]] == [
        "binance.futures\npumped in 4 of 4", "okx.spot\npumped in 3 of 3", "bybit.futures\npumped in 3 of 4", "binance.spot\nno pump in 3",
    ]  # the leader on top
    assert react_ax.get_xscale() == "log"
    dots = {c.get_label(): len(c.get_offsets()) for c in react_ax.collections}
    assert dots == {"binance.futures": 4, "okx.spot": 3, "bybit.futures": 3}
    widths = sorted((round(p.get_width(), 1) for p in led_ax.patches), reverse=True)
    assert widths[:3] == [66.7, 33.3, 0.0]


def test_the_report_says_which_thresholds_its_events_were_analysed_with(analyses) -> None:
    alike = study_frame(analyses)
    assert thresholds_line(alike) == "Thresholds: pump_threshold 0.03 / min_trades 3 (every event)."
    stricter = [*analyses[:3], {**analyses[3], "parameters": {**analyses[3]["parameters"], "pump_threshold": 0.1}}]
    assert thresholds_line(study_frame(stricter)) == (
        "Thresholds MIXED (pump_threshold 0.03 / min_trades 3, pump_threshold 0.1 / min_trades 3): "
        "run `pumpwatch analyze --all` to analyse every event alike.")
