"""Per-market metrics on synthetic trades with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.event import NS_PER_MS, NS_PER_S, iso_utc
from analysis.metrics import bar_index, market_metrics, reference_price, second_bars

T = 1_795_150_800 * NS_PER_S  # 2026-11-20T05:00:00Z
WINDOW = (T - 20 * NS_PER_S, T + 20 * NS_PER_S)


def frame(rows: list[tuple[float, float, float, str]]) -> pd.DataFrame:
    """(offset ms, price, amount, side) → one market's trades."""
    return pd.DataFrame(
        {
            "ts_ns": np.array([T + round(o * NS_PER_MS) for o, _, _, _ in rows], dtype=np.int64),
            "side": [s for _, _, _, s in rows],
            "price": [p for _, p, _, _ in rows],
            "amount": [a for _, _, a, _ in rows],
            "notional": [p * a for _, p, a, _ in rows],
            "symbol": ["TIA-USDT"] * len(rows),
        }
    )


def flat(price: float = 10.0) -> list[tuple[float, float, float, str]]:
    return [(o, price, 1.0, "sell") for o in range(-19_000, 0, 1000)]


def metrics(rows, **kwargs):
    return market_metrics(frame(rows), T, window=WINDOW, **kwargs)


def test_reference_is_the_vwap_of_the_window_before() -> None:
    trades = frame([(-15_000, 10.0, 1.0, "buy"), (-5_000, 11.0, 3.0, "sell"), (-25_000, 50.0, 9.0, "buy"), (0, 99.0, 1.0, "buy")])
    ts, price, amount = trades["ts_ns"].to_numpy(), trades["price"].to_numpy(), trades["amount"].to_numpy()
    ref = reference_price(ts, price, amount, T, 20.0)
    assert ref.method == "vwap"
    assert ref.price == pytest.approx((10.0 + 33.0) / 4.0)  # the -25 s trade is outside, the one at T is after
    assert ref.trades == 2


def test_empty_reference_window_falls_back_to_the_last_trade_before() -> None:
    out = metrics([(-45_000, 9.0, 1.0, "buy"), (-30_000, 10.0, 2.0, "buy"), (500, 10.1, 1.0, "buy")])
    assert out["reference"]["method"] == "last_trade_before"
    assert out["reference"]["price"] == 10.0
    assert out["reference"]["last_trade_before_ms"] == -30_000.0
    assert out["reference"]["trades_in_window"] == 0


def test_no_trade_before_means_no_reference_and_no_reaction() -> None:
    out = metrics([(100, 10.0, 1.0, "buy"), (200, 20.0, 1.0, "buy"), (300, 30.0, 1.0, "buy")])
    assert out["reference"]["price"] is None and out["reference"]["method"] is None
    assert out["reaction_ms"] is None and out["peak_gain"] is None
    assert out["peak"]["price"] == 30.0  # still reported, just not as a gain
    assert out["first_trade_after"]["ms"] == 100.0


def test_bar_index_is_floor_division_on_both_sides() -> None:
    offsets = np.array([-20_000, -1_000, -200, -1, 0, 800, 999, 1_000, 19_999], dtype=np.int64) * NS_PER_MS
    assert bar_index(T + offsets, T).tolist() == [-20, -1, -1, -1, 0, 0, 0, 1, 19]


def test_pump_800_ms_after_reacts_in_bar_zero_and_reports_the_trade_precisely() -> None:
    out = metrics([*flat(), (100, 10.01, 1, "buy"), (800, 10.5, 1, "buy"), (850, 10.6, 1, "buy"), (3200, 12.5, 1, "buy")])
    assert out["reaction_ms"] == 0
    assert out["reaction_at"] == iso_utc(T)
    assert out["first_pump_trade_ms"] == 800.0
    assert out["first_pump_trade_at"] == "2026-11-20T05:00:00.800000000Z"
    assert out["first_pump_trade_price"] == 10.5
    assert out["reaction_bar"] == {"high": 10.6, "trades": 3, "notional": pytest.approx(10.01 + 10.5 + 10.6)}
    assert out["peak_gain"] == pytest.approx(0.25)
    assert out["time_to_peak_ms"] == 3_200.0
    assert out["pump_level"] == pytest.approx(10.3)


def test_later_pump_reacts_at_its_bar_start() -> None:
    out = metrics([*flat(), (1500, 10.1, 1, "buy"), (2100, 10.4, 1, "buy"), (2200, 10.5, 1, "buy"), (2300, 10.6, 1, "buy")])
    assert (out["reaction_ms"], out["first_pump_trade_ms"]) == (2_000, 2_100.0)


def test_a_dump_never_counts_as_a_pump() -> None:
    dump = [(200 + i * 50, 10.0 * (1 - 0.01 * (i + 1)), 5.0, "sell") for i in range(30)]
    out = metrics(flat() + dump)
    assert out["reaction_ms"] is None and out["first_pump_trade_ms"] is None
    assert out["peak_gain"] == pytest.approx(-0.01)
    assert out["trough_gain"] == pytest.approx(-0.30)
    # also with a tiny threshold: every after-trade is below the reference
    assert metrics(flat() + dump, pump_threshold=1e-9)["reaction_ms"] is None


def test_min_trades_ignores_a_stray_print() -> None:
    rows = [
        *flat(),
        (400, 11.0, 1, "buy"),
        (600, 10.05, 1, "buy"),
        (5300, 10.35, 1, "buy"),
        (5400, 10.4, 1, "buy"),
        (5500, 10.45, 1, "buy"),
    ]
    assert (metrics(rows)["reaction_ms"], metrics(rows)["first_pump_trade_ms"]) == (5_000, 5_300.0)
    assert (metrics(rows, min_trades=1)["reaction_ms"], metrics(rows, min_trades=1)["first_pump_trade_ms"]) == (0, 400.0)
    assert metrics(rows, min_trades=4)["reaction_ms"] is None


def test_threshold_is_inclusive_and_configurable() -> None:
    at_threshold = [*flat(), (10, 10.3, 1, "buy"), (20, 10.3, 1, "buy"), (30, 10.3, 1, "buy")]
    assert metrics(at_threshold)["first_pump_trade_ms"] == 10.0
    assert metrics(at_threshold, pump_threshold=0.05)["reaction_ms"] is None


def test_a_trade_at_the_announcement_instant_is_after_it() -> None:
    out = metrics([*flat(), (0, 10.5, 1, "buy"), (1, 10.5, 1, "buy"), (2, 10.5, 1, "buy")])
    assert out["first_pump_trade_ms"] == 0.0
    assert out["after"]["trades"] == 3 and out["before"]["trades"] == 19


def test_a_pump_before_the_announcement_is_not_a_reaction() -> None:
    early = [(-900, 11.0, 1, "buy"), (-800, 11.0, 1, "buy"), (-700, 11.0, 1, "buy")]
    out = metrics([(-10_000, 10.0, 1, "buy"), *early, (500, 10.0, 1, "buy")], reference_window_s=5)
    assert out["reference"]["price"] == pytest.approx(11.0)
    assert out["reaction_ms"] is None


def test_flows_and_taker_imbalance() -> None:
    out = metrics([*flat(), (100, 10.0, 3.0, "buy"), (200, 10.0, 1.0, "sell"), (300, 10.0, 1.0, "buy")])
    assert out["before"] == {"notional": 190.0, "trades": 19, "buy_notional": 0.0, "sell_notional": 190.0, "imbalance": -1.0}
    assert out["after"]["notional"] == 50.0 and out["after"]["trades"] == 3
    assert out["after"]["imbalance"] == pytest.approx((40 - 10) / 50)


def test_empty_market_has_every_bar_and_no_numbers() -> None:
    out = metrics([])
    assert [b["second"] for b in out["bars"]] == list(range(-20, 20))
    assert all(b["open"] is None and b["trades"] == 0 and b["notional"] == 0 for b in out["bars"])
    assert out["reaction_ms"] is None and out["first_trade_after"] is None and out["peak"] is None
    assert out["after"] == {"notional": 0.0, "trades": 0, "buy_notional": 0.0, "sell_notional": 0.0, "imbalance": None}


def test_bars_are_ohlc_per_second() -> None:
    bars = second_bars(frame([(-500, 10, 1, "sell"), (100, 11, 1, "buy"), (200, 13, 2, "buy"), (900, 12, 1, "sell")]), T, -2, 1)
    assert bars.index.tolist() == [-2, -1, 0, 1]
    zero = bars.loc[0]
    assert (zero["open"], zero["high"], zero["low"], zero["close"], zero["trades"]) == (11, 13, 11, 12, 3)
    assert (zero["notional"], zero["buy_notional"], zero["sell_notional"]) == (49, 37, 12)
    assert bars.loc[1]["trades"] == 0 and np.isnan(bars.loc[1]["open"])


def test_a_long_window_builds_bars_only_where_there_are_trades() -> None:
    """400 days of window, a handful of trades: the bars built follow the trades, not the window's length."""
    day_ms = 86_400_000
    rows = [(-300 * day_ms, 9.0, 1, "buy"), *flat(), (800, 10.5, 1, "buy"), (850, 10.6, 1, "buy"), (900, 10.7, 1, "buy")]
    window = (T - 400 * 86_400 * NS_PER_S, T + 6 * 3600 * NS_PER_S)
    out = market_metrics(frame(rows), T, window=window)
    assert [b["second"] for b in out["bars"]] == [-300 * 86_400, *range(-19, 0), 0]
    assert out["bars"][-1]["trades"] == 3 and out["reaction_ms"] == 0
    assert len(second_bars(frame(rows), T, -400 * 86_400, 6 * 3600)) == 21
    assert len(second_bars(frame([]), T, -400 * 86_400, 6 * 3600)) == 0


def test_a_stray_trade_far_outside_a_short_window_adds_one_bar_not_a_year_of_them() -> None:
    bars = second_bars(frame([(-365 * 86_400_000, 10.0, 1.0, "buy"), (100, 10.0, 1.0, "buy")]), T, -20, 19)
    assert bars.index.tolist() == [-365 * 86_400, 0]


offsets = st.integers(min_value=-20_000, max_value=19_999)
prices = st.floats(min_value=8.0, max_value=14.0, allow_nan=False)
trade = st.tuples(offsets, prices, st.floats(min_value=0.01, max_value=100), st.sampled_from(["buy", "sell"]))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(trade, max_size=60), threshold=st.sampled_from([0.01, 0.03, 0.1]), min_trades=st.integers(1, 4))
def test_reaction_is_the_first_bar_that_satisfies_the_rule(rows, threshold, min_trades) -> None:
    out = metrics(rows, pump_threshold=threshold, min_trades=min_trades)
    bars = out["bars"]
    assert sum(b["trades"] for b in bars) == len(rows)
    assert sum(b["notional"] for b in bars) == pytest.approx(sum(p * a for _, p, a, _ in rows))
    ref = out["reference"]["price"]
    qualifying = [
        b["second"]
        for b in bars
        if ref and b["second"] >= 0 and b["trades"] >= min_trades and b["high"] >= ref * (1 + threshold) * (1 - 1e-12)
    ]
    assert out["reaction_ms"] == (qualifying[0] * 1000 if qualifying else None)
    if out["reaction_ms"] is not None:
        assert out["reaction_ms"] <= out["first_pump_trade_ms"] < out["reaction_ms"] + 1000
        assert out["first_pump_trade_price"] >= ref * (1 + threshold) * (1 - 1e-12)
        assert out["peak_gain"] >= threshold - 1e-9


def test_reference_falls_back_to_the_last_trade_the_extractor_found_before_the_window():
    import numpy as np

    from analysis.metrics import reference_price

    announced = 1_795_000_000 * 1_000_000_000
    empty = np.array([], dtype=np.int64)
    ref = reference_price(empty, np.array([]), np.array([]), announced, 20.0, (announced - 90 * 1_000_000_000, 2.5))
    assert (ref.price, ref.method) == (2.5, "last_trade_before")
    assert reference_price(empty, np.array([]), np.array([]), announced, 20.0).price is None
