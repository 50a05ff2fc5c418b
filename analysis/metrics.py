"""Per-market metrics of one listing: reference price, 1-second bars, reaction, peak, money flow.

All functions are pure: they take one market's trades (integer-ns exchange times, prices per coin,
notional in quote currency) and the announcement instant, and return plain values. Offsets are
milliseconds from the announcement; gains are fractions (0.03 = +3 %).

Conventions, chosen once here:
- "before" is `ts < T`, "after" is `ts >= T`: a trade stamped exactly at the announcement is a
  reaction, not a reference.
- Bar k covers [T + k s, T + (k+1) s), so bar 0 is the first second after the announcement and
  bar -1 the last second before it (floor division, also for negative offsets).
- A pump is a rise: a bar reacts when its *high* is at least `pump_threshold` above the reference
  and it has at least `min_trades` trades (one stray print is not a market moving). A fall of any
  size never counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.event import NS_PER_S, iso_utc, offset_ms

DEFAULT_PUMP_THRESHOLD = 0.03
DEFAULT_MIN_TRADES = 3
DEFAULT_REFERENCE_WINDOW_S = 20.0
_REL_TOLERANCE = 1e-12
"""`10 * 1.03` is 10.299999999999999 in floating point: a trade exactly at the threshold still counts."""


@dataclass(frozen=True)
class Reference:
    """The price the move is measured from."""

    price: float | None
    method: str | None
    """`vwap` (over the reference window), `last_trade_before` (window empty), `mean` (window holds only
    zero-amount prints) or None (no trade before the announcement at all)"""
    trades: int
    """trades inside the reference window"""
    last_trade_before_ns: int | None


@dataclass(frozen=True)
class Reaction:
    bar: int
    """index of the reacting bar (its start is `bar` seconds after the announcement)"""
    first_pump_trade_ns: int
    """exchange time of the first trade inside that bar at or above the threshold"""
    first_pump_trade_price: float


def pump_level(reference: float, pump_threshold: float) -> float:
    """The lowest price that counts as pumped (with a hair of tolerance for float rounding)."""
    return reference * (1.0 + pump_threshold) * (1.0 - _REL_TOLERANCE)


def reference_price(ts_ns: np.ndarray, price: np.ndarray, amount: np.ndarray, announced_ns: int, window_s: float,
                    last_before: tuple[int, float] | None = None) -> Reference:
    """VWAP over [T - window, T); if nobody traded there, the last trade before T; None if none at all.

    Why VWAP: a single last print can be an outlier; volume weighting over the quiet pre-window is
    what the market actually paid. The fallback keeps thin markets measurable. `last_before` is the
    market's last trade before the extracted window (from the store), used when the window has none before T.
    """
    before = ts_ns < announced_ns
    if not before.any():
        if last_before is not None:
            return Reference(last_before[1], "last_trade_before", 0, last_before[0])
        return Reference(None, None, 0, None)
    last_index = int(np.flatnonzero(before)[-1])
    last_ns = int(ts_ns[last_index])
    in_window = before & (ts_ns >= announced_ns - round(window_s * NS_PER_S))
    volume = float(amount[in_window].sum())
    if in_window.any() and volume > 0:
        vwap = float((price[in_window] * amount[in_window]).sum() / volume)
        return Reference(vwap, "vwap", int(in_window.sum()), last_ns)
    if in_window.any():  # only zero-amount prints: fall back to their plain mean
        return Reference(float(price[in_window].mean()), "mean", int(in_window.sum()), last_ns)
    return Reference(float(price[last_index]), "last_trade_before", 0, last_ns)


def bar_index(ts_ns: np.ndarray, announced_ns: int) -> np.ndarray:
    """Bar of each trade: floor((ts - T) / 1 s), so -0.2 s is bar -1 and +0.8 s is bar 0."""
    return np.floor_divide(ts_ns.astype(np.int64) - np.int64(announced_ns), np.int64(NS_PER_S))


DENSE_BARS_MAX = 600
"""A range of at most this many seconds gets a bar for every second; a longer one only for the seconds with trades,
so the bars built (and analysis.json, and the chart) follow the trades, never the window's length."""


def second_bars(trades: pd.DataFrame, announced_ns: int, first_bar: int, last_bar: int) -> pd.DataFrame:
    """1-second OHLC bars with notional and trade counts for bars `first_bar..last_bar` (inclusive).

    Every second of the range gets a row, empty ones with NaN prices and zero counts, so bars of
    different markets line up; bars outside the range are added if trades fall there. When that
    makes more than `DENSE_BARS_MAX` seconds, only the seconds with trades get a row (an empty
    second says nothing a missing one does not). `trades` must be sorted by `ts_ns`.
    """
    columns = ["open", "high", "low", "close", "notional", "buy_notional", "sell_notional", "trades"]
    ts = trades["ts_ns"].to_numpy(dtype=np.int64)
    k = bar_index(ts, announced_ns)
    if len(k):
        first_bar, last_bar = min(first_bar, int(k.min())), max(last_bar, int(k.max()))
    index = pd.RangeIndex(first_bar, last_bar + 1, name="bar")
    dense = len(index) <= DENSE_BARS_MAX
    if not len(k):
        empty = pd.DataFrame(index=index if dense else index[:0], columns=columns, dtype=float)
        return empty.assign(notional=0.0, buy_notional=0.0, sell_notional=0.0, trades=0)
    side = trades["side"].to_numpy()
    notional = trades["notional"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "bar": k,
            "price": trades["price"].to_numpy(dtype=float),
            "notional": notional,
            "buy_notional": np.where(side == "buy", notional, 0.0),
            "sell_notional": np.where(side == "sell", notional, 0.0),
        }
    )
    grouped = frame.groupby("bar", sort=True)
    bars = pd.DataFrame(
        {
            "open": grouped["price"].first(),
            "high": grouped["price"].max(),
            "low": grouped["price"].min(),
            "close": grouped["price"].last(),
            "notional": grouped["notional"].sum(),
            "buy_notional": grouped["buy_notional"].sum(),
            "sell_notional": grouped["sell_notional"].sum(),
            "trades": grouped["price"].size(),
        }
    )
    if dense:
        bars = bars.reindex(index)
    return bars.fillna({"notional": 0.0, "buy_notional": 0.0, "sell_notional": 0.0, "trades": 0}).astype({"trades": int})


def find_reaction(
    bars: pd.DataFrame,
    ts_ns: np.ndarray,
    price: np.ndarray,
    announced_ns: int,
    reference: float | None,
    pump_threshold: float,
    min_trades: int,
) -> Reaction | None:
    """The first bar at or after the announcement whose high clears the threshold with enough trades.

    The reaction time is that bar's start (second resolution, comparable across venues whatever their
    timestamp precision); the first trade at/above the threshold inside it gives the precise moment.
    """
    if reference is None or reference <= 0:
        return None
    level = pump_level(reference, pump_threshold)
    after = bars[bars.index >= 0]
    hits = after[(after["high"] >= level) & (after["trades"] >= min_trades)]
    if hits.empty:
        return None
    bar = int(hits.index[0])
    start = announced_ns + bar * NS_PER_S
    inside = (ts_ns >= start) & (ts_ns < start + NS_PER_S) & (price >= level)
    first = int(np.flatnonzero(inside)[0])
    return Reaction(bar, int(ts_ns[first]), float(price[first]))


def market_metrics(
    trades: pd.DataFrame,
    announced_ns: int,
    *,
    window: tuple[int, int],
    pump_threshold: float = DEFAULT_PUMP_THRESHOLD,
    min_trades: int = DEFAULT_MIN_TRADES,
    reference_window_s: float = DEFAULT_REFERENCE_WINDOW_S,
    last_before: tuple[int, float] | None = None,
) -> dict[str, Any]:
    """Everything measured on one market, as a JSON-ready dict (times as ISO strings and ms offsets).

    `trades` holds one market's trades (columns `ts_ns`, `side`, `price`, `amount`, `notional`),
    `window` the extracted [start, end) in ns, used to lay out the bars.
    """
    trades = trades.sort_values("ts_ns", kind="stable")
    ts = trades["ts_ns"].to_numpy(dtype=np.int64)
    price = trades["price"].to_numpy(dtype=float)
    amount = trades["amount"].to_numpy(dtype=float)
    notional = trades["notional"].to_numpy(dtype=float)
    side = trades["side"].to_numpy()
    after = ts >= announced_ns

    ref = reference_price(ts, price, amount, announced_ns, reference_window_s, last_before)
    start_ns, end_ns = window
    first_bar = int(bar_index(np.array([start_ns]), announced_ns)[0])
    last_bar = int(bar_index(np.array([end_ns - 1]), announced_ns)[0])
    bars = second_bars(trades, announced_ns, first_bar, last_bar)
    reaction = find_reaction(bars, ts, price, announced_ns, ref.price, pump_threshold, min_trades)

    out: dict[str, Any] = {
        "reference": {
            "price": ref.price,
            "method": ref.method,
            "window_ms": round(reference_window_s * 1000),
            "trades_in_window": ref.trades,
            "last_trade_before_ms": offset_ms(ref.last_trade_before_ns, announced_ns) if ref.last_trade_before_ns is not None else None,
        },
        "pump_level": ref.price * (1.0 + pump_threshold) if ref.price else None,
    }

    first_after = int(np.argmax(after)) if after.any() else None
    out["first_trade_after"] = _moment(ts, price, first_after, announced_ns)

    out["reaction_ms"] = reaction.bar * 1000 if reaction else None
    out["reaction_at"] = iso_utc(announced_ns + reaction.bar * NS_PER_S) if reaction else None
    out["first_pump_trade_ms"] = offset_ms(reaction.first_pump_trade_ns, announced_ns) if reaction else None
    out["first_pump_trade_at"] = iso_utc(reaction.first_pump_trade_ns) if reaction else None
    out["first_pump_trade_price"] = reaction.first_pump_trade_price if reaction else None
    if reaction:
        bar = bars.loc[reaction.bar]
        out["reaction_bar"] = {"high": float(bar["high"]), "trades": int(bar["trades"]), "notional": float(bar["notional"])}
    else:
        out["reaction_bar"] = None

    peak_index = int(np.flatnonzero(after)[np.argmax(price[after])]) if after.any() else None
    out["peak"] = _moment(ts, price, peak_index, announced_ns)
    out["peak_gain"] = price[peak_index] / ref.price - 1.0 if peak_index is not None and ref.price else None
    out["time_to_peak_ms"] = out["peak"]["ms"] if out["peak"] else None
    trough_index = int(np.flatnonzero(after)[np.argmin(price[after])]) if after.any() else None
    out["trough_gain"] = price[trough_index] / ref.price - 1.0 if trough_index is not None and ref.price else None

    out["before"] = _flow(notional[~after], side[~after])
    out["after"] = _flow(notional[after], side[after])
    out["bars"] = bars_to_records(bars)
    return _floats(out)


def _moment(ts: np.ndarray, price: np.ndarray, index: int | None, announced_ns: int) -> dict[str, Any] | None:
    if index is None:
        return None
    return {"ms": offset_ms(int(ts[index]), announced_ns), "at": iso_utc(int(ts[index])), "price": float(price[index])}


def _flow(notional: np.ndarray, side: np.ndarray) -> dict[str, Any]:
    """Money and trade count on one side of the announcement, with the taker imbalance.

    Imbalance = (buy - sell) / (buy + sell) taker notional: +1 means only aggressive buying.
    Trades with an unknown side are counted in `notional` but not in the imbalance.
    """
    buy = float(notional[side == "buy"].sum())
    sell = float(notional[side == "sell"].sum())
    return {
        "notional": float(notional.sum()),
        "trades": len(notional),
        "buy_notional": buy,
        "sell_notional": sell,
        "imbalance": (buy - sell) / (buy + sell) if buy + sell > 0 else None,
    }


def bars_to_records(bars: pd.DataFrame) -> list[dict[str, Any]]:
    """Bars as JSON rows: `second` (bar start, seconds from the announcement), prices null when empty."""
    rows = []
    for bar, row in bars.iterrows():
        rows.append(
            {
                "second": int(bar),
                **{key: (None if pd.isna(row[key]) else float(row[key])) for key in ("open", "high", "low", "close")},
                "notional": float(row["notional"]),
                "buy_notional": float(row["buy_notional"]),
                "sell_notional": float(row["sell_notional"]),
                "trades": int(row["trades"]),
            }
        )
    return rows


def _floats(value: Any) -> Any:
    """numpy scalars → Python numbers, NaN/inf → None: `json.dumps(allow_nan=False)` must never fail."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_floats(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if np.isfinite(number) else None
    return value
