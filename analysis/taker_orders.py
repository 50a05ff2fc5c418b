"""Inferred aggressive orders: who hit the book after the announcement, when, and how big.

Trades are anonymous, so an order is *inferred*: the fills of one market and instrument with the
same taker side and the same exchange-timestamp millisecond are taken as one aggressive order
(a market order sweeping several price levels is printed as several trades with one timestamp).
Two different takers in the same millisecond are merged, and an order whose fills are stamped
across a millisecond boundary is split: the numbers are an estimate, labelled as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.event import NS_PER_MS, iso_utc, offset_ms

LABEL = "inferred aggressive order"
GROUPING = "fills of one market and instrument with the same taker side and the same exchange timestamp millisecond"

ENTRY_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<=1s", 0.0, 1000.0),
    ("1-5s", 1000.0, 5000.0),
    (">5s", 5000.0, float("inf")),
)
"""(label, lower, upper] in ms after the announcement; the first bucket also takes 0 ms itself."""

NOTIONAL_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<100", 0.0, 100.0),
    ("100-1k", 100.0, 1_000.0),
    ("1k-10k", 1_000.0, 10_000.0),
    (">=10k", 10_000.0, float("inf")),
)
"""[lower, upper) in quote currency."""

LARGEST = 10


def infer_orders(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per inferred order: exchange, market, symbol, side, entry_ns, fills, amount, notional, prices.

    `trades` may hold several markets; columns `ts_ns`, `exchange`, `market`, `symbol`, `side`,
    `price`, `amount`, `notional`. Rows are sorted by entry time.
    """
    columns = ["exchange", "market", "symbol", "side", "entry_ns", "fills", "amount", "notional", "vwap", "min_price", "max_price"]
    if trades.empty:
        return pd.DataFrame(columns=columns)
    frame = trades[["ts_ns", "exchange", "market", "symbol", "side", "price", "amount", "notional"]].copy()
    frame["ms"] = np.floor_divide(frame["ts_ns"].to_numpy(dtype=np.int64), NS_PER_MS)
    frame["price_amount"] = frame["price"] * frame["amount"]
    grouped = frame.groupby(["exchange", "market", "symbol", "side", "ms"], sort=False)
    orders = grouped.agg(
        entry_ns=("ts_ns", "min"),
        fills=("price", "size"),
        amount=("amount", "sum"),
        notional=("notional", "sum"),
        price_amount=("price_amount", "sum"),
        min_price=("price", "min"),
        max_price=("price", "max"),
    ).reset_index()
    orders["vwap"] = np.where(orders["amount"] > 0, orders["price_amount"] / orders["amount"].where(orders["amount"] > 0, 1.0), np.nan)
    return orders.sort_values(["entry_ns", "exchange", "market", "symbol", "side"], kind="stable")[columns].reset_index(drop=True)


def _bucket_stats(orders: pd.DataFrame) -> dict[str, Any]:
    buys = orders[orders["side"] == "buy"]
    sells = orders[orders["side"] == "sell"]
    count = len(orders)
    return {
        "orders": count,
        "buy_orders": len(buys),
        "sell_orders": len(sells),
        "notional": float(orders["notional"].sum()),
        "buy_notional": float(buys["notional"].sum()),
        "sell_notional": float(sells["notional"].sum()),
        "mean_notional": float(orders["notional"].mean()) if count else None,
    }


def entry_bucket(offset: float) -> str | None:
    """Bucket label of an entry `offset` ms after the announcement; None before it."""
    if offset < 0:
        return None
    for label, lower, upper in ENTRY_BUCKETS:
        if offset <= upper and (offset > lower or lower == 0.0):
            return label
    return None


def notional_bucket(notional: float) -> str:
    for label, lower, upper in NOTIONAL_BUCKETS:
        if lower <= notional < upper:
            return label
    return NOTIONAL_BUCKETS[0][0]  # negative notional cannot happen; keep it countable anyway


def _buckets(orders: pd.DataFrame, announced_ns: int) -> dict[str, Any]:
    offsets = (orders["entry_ns"].to_numpy(dtype=np.int64) - announced_ns) / NS_PER_MS
    entry = np.array([entry_bucket(o) for o in offsets], dtype=object)
    size = np.array([notional_bucket(n) for n in orders["notional"].to_numpy(dtype=float)], dtype=object)
    return {
        "orders": _bucket_stats(orders),
        "by_entry_time": [{"bucket": label, **_bucket_stats(orders[entry == label])} for label, _, _ in ENTRY_BUCKETS],
        "by_notional": [{"bucket": label, **_bucket_stats(orders[size == label])} for label, _, _ in NOTIONAL_BUCKETS],
    }


def taker_order_summary(trades: pd.DataFrame, announced_ns: int, *, largest: int = LARGEST) -> dict[str, Any]:
    """Inferred orders entered at or after the announcement: buckets overall and per market, the largest ones.

    Orders entered before the announcement are only counted (`before_announcement`): the question
    here is who rushed in once the notice was out.
    """
    orders = infer_orders(trades)
    after = orders[orders["entry_ns"] >= announced_ns] if len(orders) else orders
    before = orders[orders["entry_ns"] < announced_ns] if len(orders) else orders
    per_market: dict[str, Any] = {}
    for (exchange, market), part in after.groupby(["exchange", "market"], sort=False):
        per_market[f"{exchange}.{market}"] = _buckets(part, announced_ns)
    top = after.sort_values(["notional", "entry_ns"], ascending=[False, True], kind="stable").head(largest)
    return {
        "label": LABEL,
        "grouping": GROUPING,
        "scope": "orders entered at or after the announcement",
        "entry_buckets_ms": [{"bucket": label, "after_ms": lower, "up_to_ms": _finite(upper)} for label, lower, upper in ENTRY_BUCKETS],
        "notional_buckets": [{"bucket": label, "from": lower, "below": _finite(upper)} for label, lower, upper in NOTIONAL_BUCKETS],
        "before_announcement": {"orders": len(before), "notional": float(before["notional"].sum()) if len(before) else 0.0},
        **_buckets(after, announced_ns),
        "by_market": per_market,
        "largest": [_order_record(row, announced_ns) for row in top.itertuples(index=False)],
    }


def _finite(value: float) -> float | None:
    return None if value == float("inf") else value


def _order_record(row: Any, announced_ns: int) -> dict[str, Any]:
    vwap = float(row.vwap)
    return {
        "exchange": row.exchange,
        "market": row.market,
        "symbol": row.symbol,
        "side": row.side,
        "entry_ms": offset_ms(int(row.entry_ns), announced_ns),
        "entry_at": iso_utc(int(row.entry_ns)),
        "fills": int(row.fills),
        "amount": float(row.amount),
        "notional": float(row.notional),
        "vwap": vwap if np.isfinite(vwap) else None,
        "min_price": float(row.min_price),
        "max_price": float(row.max_price),
    }
