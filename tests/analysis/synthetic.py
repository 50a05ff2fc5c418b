"""Synthetic event folders with known answers, written the way the extractor writes them (same schema, same metadata shape)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.event import NS_PER_MS, NS_PER_S, iso_utc, parse_time_ns
from recorder.markets import MARKETS
from recorder.trade_row import TRADE_SCHEMA

ANNOUNCED = "2026-11-20T05:00:00+00:00"
T = parse_time_ns(ANNOUNCED)


@dataclass
class EventBuilder:
    """Collect trades by offset from the announcement, then write `trades.parquet` and `metadata.json`."""

    root: Path
    coin: str = "TIA"
    announced_ns: int = T
    """the announcement (ns UTC); other events than the reference one move it"""
    before_s: float = 20
    after_s: float = 20
    rows: list[dict[str, Any]] = field(default_factory=list)
    coverage: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def trade(
        self, exchange: str, market: str, offset_ms: float, price: float, amount: float = 1.0, side: str = "buy", symbol: str | None = None
    ) -> None:
        ts = self.announced_ns + round(offset_ms * NS_PER_MS)
        self.rows.append(
            {
                "ts": ts,
                "received_ts": ts + 5 * NS_PER_MS,
                "exchange": exchange,
                "market": market,
                "symbol": symbol or (f"{self.coin}-USDT" if market == "spot" else f"{self.coin}-USDT-PERP"),
                "base": self.coin,
                "quote": "USDT",
                "side": side,
                "price": price,
                "amount": amount,
                "notional": price * amount,
                "trade_id": str(len(self.rows)),
            }
        )

    def flat_before(self, exchange: str, market: str, price: float, every_ms: int = 1000, start_ms: int = -20_000) -> None:
        """Quiet pre-announcement trading at one price."""
        for offset in range(start_ms, 0, every_ms):
            self.trade(exchange, market, offset, price, side="buy" if offset % 2000 else "sell")

    def verdict(self, exchange: str, market: str, verdict: str, gaps: list[tuple[float, float]] = ()) -> None:
        self.coverage[(exchange, market)] = {
            "verdict": verdict,
            "gaps": [
                {"start": iso_utc(self.announced_ns + round(a * NS_PER_MS)), "end": iso_utc(self.announced_ns + round(b * NS_PER_MS)),
                 "kind": "reconnect"} for a, b in gaps
            ],
        }

    def write(self, name: str = "TIA_20261120T140000KST") -> Path:
        folder = self.root / name
        folder.mkdir(parents=True)
        rows = sorted(self.rows, key=lambda r: r["ts"])
        columns = {f.name: [r[f.name] for r in rows] for f in TRADE_SCHEMA}
        pq.write_table(pa.Table.from_pydict(columns, schema=TRADE_SCHEMA), folder / "trades.parquet", compression="zstd")
        markets = []
        for spec in MARKETS:
            count = sum(1 for r in rows if (r["exchange"], r["market"]) == (spec.exchange, spec.market))
            markets.append(
                {
                    "exchange": spec.exchange,
                    "market": spec.market,
                    "instruments": [f"{self.coin}-USDT" if spec.market == "spot" else f"{self.coin}-USDT-PERP"],
                    "trades": count,
                    "future_key": {"ignored": True},
                    "coverage": self.coverage.get((spec.exchange, spec.market), {"verdict": "complete", "gaps": []}),
                }
            )
        metadata = {
            "coin": self.coin,
            "announced_at": iso_utc(self.announced_ns),
            "announced_at_kst": "2026-11-20T14:00:00.000000+09:00" if self.announced_ns == T else None,
            "window": {
                "start": iso_utc(self.announced_ns - round(self.before_s * NS_PER_S)),
                "end": iso_utc(self.announced_ns + round(self.after_s * NS_PER_S)),
                "before_s": self.before_s,
                "after_s": self.after_s,
            },
            "markets": markets,
            "something_new": [1, 2, 3],
        }
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
        return folder


def listing(builder: EventBuilder) -> EventBuilder:
    """The reference scenario; every number below is asserted somewhere.

    - binance futures: flat 10.0, pumps 800 ms after T (bar 0 holds 5 trades), peaks at 12.5 at +3.2 s.
    - binance spot: flat 10.0, first trade at/above 10.3 at +2.1 s (bar 2).
    - kucoin spot: one stray +10 % print in bar 0 (too few trades), real pump in bar 5 (+5.3 s).
    - gate spot: a 10 % dump with plenty of trades: never a pump.
    - okx spot: pumps at +200 ms but had a recording gap: listed, never ranked.
    - bybit spot: complete coverage, no trades at all: ranked last.
    - the other six markets: complete, no trades.
    """
    b = builder
    b.flat_before("binance", "futures", 10.0)
    for offset, price in [(100, 10.01), (300, 10.02), (800, 10.5), (850, 10.6), (900, 10.7), (1500, 11.0), (3200, 12.5), (6000, 11.8)]:
        b.trade("binance", "futures", offset, price, amount=100)
    b.flat_before("binance", "spot", 10.0)
    for offset, price in [(0, 10.0), (1500, 10.1), (2100, 10.4), (2200, 10.5), (2300, 10.6), (4000, 11.0)]:
        b.trade("binance", "spot", offset, price, amount=10)
    b.flat_before("kucoin", "spot", 10.0)
    for offset, price in [(400, 11.0), (600, 10.05), (5300, 10.35), (5400, 10.4), (5500, 10.45)]:
        b.trade("kucoin", "spot", offset, price)
    b.flat_before("gate", "spot", 10.0)
    for i in range(20):
        b.trade("gate", "spot", 200 + i * 100, 10.0 * (1 - 0.005 * (i + 1)), side="sell")
    b.flat_before("okx", "spot", 10.0)
    for offset, price in [(200, 10.5), (250, 10.6), (300, 10.7)]:
        b.trade("okx", "spot", offset, price)
    b.verdict("okx", "spot", "gap", gaps=[(-8000, -3000)])
    return b


def pump(builder: EventBuilder, exchange: str, market: str, at_ms: float, peak: float = 11.0, peak_ms: float = 3000) -> None:
    """A venue flat at 10.0 that pumps at `at_ms`: three trades at +5 % from `at_ms` (one 1 s bar), then `peak` at `peak_ms`.

    Known answers: first pump trade at `at_ms`, peak gain `peak / 10 - 1` at `peak_ms`; amounts of 1 coin each.
    """
    builder.flat_before(exchange, market, 10.0)
    for step in range(3):
        builder.trade(exchange, market, at_ms + step, 10.5)
    builder.trade(exchange, market, peak_ms, peak)
