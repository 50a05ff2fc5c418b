"""An event folder read into memory: the metadata that matters for analysis and the trades as a frame.

The folder is written by the extractor, possibly by an older or newer version, so the metadata is
read tolerantly: unknown keys are ignored, missing optional ones take defaults, and a market that
has trades but no metadata entry is still analysed (with verdict `unknown`, so it is never ranked).
Timestamps become integer nanoseconds since the epoch (UTC) here and nowhere else.
The time units, `KST`, `iso_utc` and `iso_kst` are copies of `recorder/clock.py`'s and `extractor/timeparse.py`'s:
`analysis` imports nothing in-house, by design.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
KST = timezone(timedelta(hours=9), "KST")
"""Korea has no daylight saving time: a fixed offset needs no tz database."""

RANKABLE_VERDICTS = frozenset({"complete", "backfilled"})
"""Coverage verdicts under which a market's silence means "did not move", not "was not listening"."""

TRADE_COLUMNS = ("ts_ns", "received_ns", "exchange", "market", "symbol", "base", "quote", "side", "price", "amount", "notional", "trade_id")


class EventFolderError(ValueError):
    """The folder is not an event folder this package can read; the message names the file and the problem."""


@dataclass(frozen=True)
class MarketInfo:
    """One market as the extractor described it."""

    exchange: str
    market: str
    instruments: tuple[str, ...] = ()
    verdict: str = "unknown"
    gaps: tuple[dict[str, Any], ...] = ()
    trades_reported: int | None = None
    last_before: tuple[int, float] | None = None
    """(ts ns, price) of the market's last trade before the window, as the extractor found it in the store"""

    @property
    def key(self) -> str:
        return f"{self.exchange}.{self.market}"

    @property
    def rankable(self) -> bool:
        return self.verdict in RANKABLE_VERDICTS


@dataclass(frozen=True)
class Event:
    coin: str
    announced_ns: int
    start_ns: int
    end_ns: int
    markets: tuple[MarketInfo, ...]
    trades: pd.DataFrame = field(repr=False)
    """All markets' trades sorted by `ts_ns` (stable), columns as in `TRADE_COLUMNS`."""
    folder: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def before_s(self) -> float:
        return (self.announced_ns - self.start_ns) / NS_PER_S

    @property
    def after_s(self) -> float:
        return (self.end_ns - self.announced_ns) / NS_PER_S

    def market_trades(self, info: MarketInfo) -> pd.DataFrame:
        frame = self.trades
        return frame[(frame["exchange"] == info.exchange) & (frame["market"] == info.market)]


def parse_time_ns(value: str | int | float) -> int:
    """ISO 8601 (nanoseconds kept, `Z` or an offset; naive = UTC) or epoch ns → integer ns UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


def iso_utc(ns: int) -> str:
    """ns → `2026-11-20T05:00:00.123456789Z`, the same shape the extractor writes."""
    seconds, rest = divmod(int(ns), NS_PER_S)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


def iso_kst(ns: int) -> str:
    """ns → `2026-11-20T14:00:00.123456+09:00`: ISO 8601 in Upbit's zone, exactly as `metadata.json` writes it."""
    seconds, rest = divmod(int(ns), NS_PER_S)
    return datetime.fromtimestamp(seconds, tz=KST).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}+09:00"


def kst_label(ns: int) -> str:
    """`2026-11-20 14:00:00 KST`: how a Korean trader reads the announcement time (ms shown only if set); for the chart, never files."""
    seconds, rest = divmod(int(ns), NS_PER_S)
    text = datetime.fromtimestamp(seconds, tz=KST).strftime("%Y-%m-%d %H:%M:%S")
    millis = rest // NS_PER_MS
    return f"{text}.{millis:03d} KST" if millis else f"{text} KST"


def offset_ms(ns: int, announced_ns: int) -> float:
    """Offset from the announcement in milliseconds, microsecond resolution (exchanges stamp in ms or µs)."""
    return round((int(ns) - int(announced_ns)) / NS_PER_MS, 3)


def _timestamps_ns(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    raise EventFolderError(f"timestamp column has type {column.type}, expected timestamp or integer ns")


def read_trades(path: Path) -> pd.DataFrame:
    """`trades.parquet` as a frame with integer-ns timestamps, sorted by exchange time (stable)."""
    try:
        return _read_trades(path)
    except (pa.ArrowException, OSError) as exc:  # truncated, not Parquet, columns of the wrong type, unreadable
        raise EventFolderError(f"{path}: not a readable trades file ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (Arrow's span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_trades(path: Path) -> pd.DataFrame:
    table = pq.read_table(path)
    missing = {"ts", "exchange", "market", "side", "price", "amount"} - set(table.column_names)
    if missing:
        raise EventFolderError(f"{path}: missing columns {sorted(missing)}")
    n = table.num_rows

    def text(name: str) -> list:
        return [str(v) for v in table.column(name).to_pylist()] if name in table.column_names else [""] * n

    ts = _timestamps_ns(table.column("ts")).to_numpy()
    received = _timestamps_ns(table.column("received_ts")).to_numpy() if "received_ts" in table.column_names else ts
    price = table.column("price").cast(pa.float64()).to_numpy()
    amount = table.column("amount").cast(pa.float64()).to_numpy()
    notional = table.column("notional").cast(pa.float64()).to_numpy() if "notional" in table.column_names else price * amount
    frame = pd.DataFrame(
        {
            "ts_ns": ts,
            "received_ns": received,
            "exchange": text("exchange"),
            "market": text("market"),
            "symbol": text("symbol"),
            "base": text("base"),
            "quote": text("quote"),
            "side": [s.lower() for s in text("side")],
            "price": price,
            "amount": amount,
            "notional": notional,
            "trade_id": text("trade_id"),
        },
        columns=list(TRADE_COLUMNS),
    )
    return frame.sort_values("ts_ns", kind="stable").reset_index(drop=True)


def _market_info(raw: Any) -> MarketInfo | None:
    if not isinstance(raw, dict) or not raw.get("exchange") or not raw.get("market"):
        return None
    coverage = raw.get("coverage") if isinstance(raw.get("coverage"), dict) else {}
    gaps = coverage.get("gaps") if isinstance(coverage.get("gaps"), list) else []
    instruments = raw.get("instruments") if isinstance(raw.get("instruments"), list) else []
    trades = raw.get("trades")
    last_before = None
    prior = raw.get("last_trade_before_window")
    if isinstance(prior, dict) and isinstance(prior.get("price"), (int, float)) and prior["price"] > 0:
        try:
            last_before = (parse_time_ns(prior["ts"]), float(prior["price"]))
        except (KeyError, ValueError, TypeError):
            last_before = None
    return MarketInfo(
        exchange=str(raw["exchange"]),
        market=str(raw["market"]),
        instruments=tuple(str(i) for i in instruments),
        verdict=str(coverage.get("verdict") or "unknown"),
        gaps=tuple(g for g in gaps if isinstance(g, dict)),
        trades_reported=trades if isinstance(trades, int) and not isinstance(trades, bool) else None,
        last_before=last_before,
    )


def load_event(event_dir: Path) -> Event:
    """Read `metadata.json` and `trades.parquet` of one event folder."""
    event_dir = Path(event_dir)
    meta_path = event_dir / "metadata.json"
    trades_path = event_dir / "trades.parquet"
    for path in (meta_path, trades_path):
        if not path.is_file():
            raise EventFolderError(f"{path}: not found (is {event_dir} an event folder?)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EventFolderError(f"{meta_path}: not valid JSON ({_one_line(exc)})") from None
    if not isinstance(metadata, dict):
        raise EventFolderError(f"{meta_path}: expected a JSON object")
    if not isinstance(metadata.get("markets") or [], list):
        raise EventFolderError(f"{meta_path}: markets is {type(metadata['markets']).__name__}, expected a list")
    if "announced_at" not in metadata:
        raise EventFolderError(f"{meta_path}: missing announced_at")
    try:
        announced_ns = parse_time_ns(metadata["announced_at"])
    except (ValueError, TypeError) as exc:
        raise EventFolderError(f"{meta_path}: announced_at {metadata['announced_at']!r} is not a time ({exc})") from None

    trades = read_trades(trades_path)
    window = metadata.get("window") if isinstance(metadata.get("window"), dict) else {}
    start_ns, end_ns = _window(window, announced_ns)
    if end_ns < start_ns:
        raise EventFolderError(f"{meta_path}: the window ends ({iso_utc(end_ns)}) before it starts ({iso_utc(start_ns)})")

    markets: list[MarketInfo] = []
    seen: set[tuple[str, str]] = set()
    for raw in metadata.get("markets") or []:
        info = _market_info(raw)
        if info is not None and (info.exchange, info.market) not in seen:
            markets.append(info)
            seen.add((info.exchange, info.market))
    # Trades of a market the metadata does not describe: analysed, never ranked.
    for exchange, market in trades[["exchange", "market"]].drop_duplicates().itertuples(index=False):
        if (exchange, market) not in seen:
            markets.append(MarketInfo(exchange=exchange, market=market))
            seen.add((exchange, market))

    coin = metadata.get("coin")
    if not coin and len(trades):
        coin = str(trades["base"].mode().iloc[0])
    return Event(
        coin=str(coin or "?"),
        announced_ns=announced_ns,
        start_ns=start_ns,
        end_ns=end_ns,
        markets=tuple(markets),
        trades=trades,
        folder=str(metadata.get("folder") or event_dir.name),
        metadata=metadata,
    )


def _window(window: dict[str, Any], announced_ns: int) -> tuple[int, int]:
    """[start, end) of the extracted window: explicit bounds win, then before_s/after_s, then ±20 s."""

    def bound(key: str, seconds_key: str, sign: int) -> int:
        if window.get(key):
            try:
                return parse_time_ns(window[key])
            except (ValueError, TypeError):
                pass
        seconds = window.get(seconds_key)
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            return announced_ns + sign * round(seconds * NS_PER_S)
        return announced_ns + sign * 20 * NS_PER_S

    return bound("start", "before_s", -1), bound("end", "after_s", +1)
