"""Inferred aggressive orders: grouping by market, instrument, side and millisecond; buckets; the largest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.event import NS_PER_MS
from analysis.taker_orders import entry_bucket, infer_orders, notional_bucket, taker_order_summary

T = 1_795_150_800_000_000_000


def trades(rows: list[tuple]) -> pd.DataFrame:
    """(exchange, market, symbol, side, offset µs, price, amount) → trades."""
    return pd.DataFrame(
        {
            "ts_ns": np.array([T + us * 1000 for _, _, _, _, us, _, _ in rows], dtype=np.int64),
            "exchange": [r[0] for r in rows],
            "market": [r[1] for r in rows],
            "symbol": [r[2] for r in rows],
            "side": [r[3] for r in rows],
            "price": [float(r[5]) for r in rows],
            "amount": [float(r[6]) for r in rows],
            "notional": [float(r[5]) * float(r[6]) for r in rows],
        }
    )


def test_fills_in_one_millisecond_with_one_side_are_one_order() -> None:
    orders = infer_orders(
        trades(
            [
                ("binance", "spot", "TIA-USDT", "buy", 800_000, 10.0, 5),
                ("binance", "spot", "TIA-USDT", "buy", 800_400, 10.2, 5),  # same ms (800), same side: same order
                ("binance", "spot", "TIA-USDT", "sell", 800_500, 10.1, 1),  # other side: another order
                ("binance", "spot", "TIA-USDT", "buy", 801_000, 10.3, 1),  # next ms: another order
                ("binance", "futures", "TIA-USDT-PERP", "buy", 800_100, 10.0, 2),  # other market
                ("binance", "futures", "1000TIA-USDT-PERP", "buy", 800_100, 10.0, 2),  # other instrument
            ]
        )
    )
    assert len(orders) == 5
    first = orders[(orders["market"] == "spot") & (orders["side"] == "buy")].iloc[0]
    assert (first["fills"], first["amount"], first["notional"]) == (2, 10.0, 101.0)
    assert (first["min_price"], first["max_price"], first["vwap"]) == (10.0, 10.2, 10.1)
    assert first["entry_ns"] == T + 800 * NS_PER_MS


def test_bucket_edges() -> None:
    assert [entry_bucket(ms) for ms in (-1, 0, 500, 1000, 1000.001, 5000, 5000.5, 19_999)] == [
        None, "<=1s", "<=1s", "<=1s", "1-5s", "1-5s", ">5s", ">5s",
    ]  # fmt: skip
    assert [notional_bucket(n) for n in (0, 99.99, 100, 999.99, 1000, 9999.99, 10_000, 1e9)] == [
        "<100", "<100", "100-1k", "100-1k", "1k-10k", "1k-10k", ">=10k", ">=10k",
    ]  # fmt: skip


def test_summary_buckets_and_largest_orders() -> None:
    rows = [("okx", "spot", "TIA-USDT", "buy", -5_000_000, 10.0, 100)]  # before the announcement: only counted
    rows += [("okx", "spot", "TIA-USDT", "buy", 300_000 + i, 10.0, 3) for i in range(3)]  # 3 fills, one order of 90
    rows += [("okx", "spot", "TIA-USDT", "sell", 900_000, 10.0, 50)]  # 500 sell at +0.9 s
    rows += [("okx", "futures", "TIA-USDT-PERP", "buy", 2_000_000, 10.0, 200)]  # 2k at +2 s
    rows += [("okx", "futures", "TIA-USDT-PERP", "buy", 7_000_000, 10.0, 1500)]  # 15k at +7 s
    rows += [("gate", "spot", "TIA-USDT", "buy", 7_500_000 + 1000 * i, 10.0, 1) for i in range(12)]  # 12 orders of 10
    out = taker_order_summary(trades(rows), T)
    assert out["label"] == "inferred aggressive order"
    assert out["before_announcement"] == {"orders": 1, "notional": 1000.0}
    assert out["orders"]["orders"] == 16
    by_time = {b["bucket"]: (b["orders"], b["notional"]) for b in out["by_entry_time"]}
    assert by_time == {"<=1s": (2, 590.0), "1-5s": (1, 2000.0), ">5s": (13, 15_120.0)}
    by_size = {b["bucket"]: b["orders"] for b in out["by_notional"]}
    assert by_size == {"<100": 13, "100-1k": 1, "1k-10k": 1, ">=10k": 1}
    assert out["by_entry_time"][0]["buy_notional"] == 90.0 and out["by_entry_time"][0]["sell_notional"] == 500.0
    assert out["by_market"]["okx.futures"]["orders"]["notional"] == 17_000.0
    largest = out["largest"]
    assert len(largest) == 10
    assert [o["notional"] for o in largest[:4]] == [15_000.0, 2_000.0, 500.0, 90.0]
    assert largest[0]["entry_ms"] == 7000.0 and largest[0]["entry_at"] == "2026-11-20T05:00:07.000000000Z"
    assert largest[3]["fills"] == 3
    assert [o["entry_ms"] for o in largest[4:]] == [7500.0, 7501.0, 7502.0, 7503.0, 7504.0, 7505.0]  # ties: earliest first


def test_no_trades_gives_empty_buckets() -> None:
    out = taker_order_summary(trades([]), T)
    assert out["orders"]["orders"] == 0 and out["largest"] == [] and out["by_market"] == {}
    assert all(b["orders"] == 0 and b["mean_notional"] is None for b in out["by_entry_time"])
