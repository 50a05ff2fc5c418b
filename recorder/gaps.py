"""Gap detection: where trades of one instrument may be missing, as `GapRow`s for the store and the backfill.

Three kinds, one per kind of evidence:

- `id_jump` (`GapDetector`): on markets whose trade ids count up by one per trade and symbol
  (`MarketSpec.trade_id == "sequential"`: Binance `a`, OKX `tradeId`, Gate `id`), an id that
  skips ahead proves trades were missed, and names exactly which. The detector sits on the hot path,
  so a trade costs one dict lookup and one int compare. OKX's live messages aggregate fills: pass
  the message's `count` as `span`, or every aggregated message looks like a gap. Gate spot's trade
  id is all-market: pass the message's `id_market` as `seq`. `id_hint` reads both from the raw
  message with the exchange module's hook.
- `disconnect` (`DisconnectTracker`, `disconnect_gaps`): a connection carrying a symbol went down
  and the next session carrying it came up later; nothing was heard in between. On sequential markets
  the same loss also shows up as an `id_jump` with the exact ids once the symbol trades again.
- `silence` (`silence_gaps`): a symbol has been quiet for longer than a threshold. Not proof of loss
  (quiet coins exist); on opaque-id markets it is the only hint, so the backfill can check by REST.

Rows are `status="open"`; the backfill (`recorder.backfill`) resolves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from recorder.exchanges import market_hooks
from recorder.exchanges.base import IdHint
from recorder.markets import BY_KEY, MarketSpec
from recorder.store.base import CoverageRow, GapRow
from recorder.trade_row import TradeRow

OPEN = "open"


class GapDetector:
    """Per-symbol id continuity for one sequential market: feed it every accepted row, in arrival order.

    A row whose first id (its id for single trades) is above `last + 1` yields a gap from the last
    trade's time to this one's, naming the missing ids; an id at or below the last one (duplicate or
    late) is counted in `out_of_order` and changes nothing. An id that does not parse as an integer
    is counted in `unparsable`.
    """

    __slots__ = ("_last", "exchange", "gaps", "market", "out_of_order", "unparsable")

    def __init__(self, spec: MarketSpec) -> None:
        if spec.trade_id != "sequential":
            raise ValueError(f"{spec.key}: trade ids are {spec.trade_id!r}, not sequential; id jumps prove nothing there")
        self.exchange = spec.exchange
        self.market = spec.market
        self._last: dict[str, list[int]] = {}
        """symbol → [last id, its ts]: a mutable pair, so the common case allocates nothing."""
        self.out_of_order = 0
        self.unparsable = 0
        self.gaps = 0

    def feed(self, row: TradeRow, span: int = 1, seq: int | None = None) -> GapRow | None:
        """The gap this row reveals, if any.

        `span`: how many ids the row stands for, ending at its own (OKX aggregates a taker order's
        fills at one price into one message carrying the last fill's id and `count`).
        `seq`: the per-symbol sequence when it is not the trade id (Gate spot: `id_market`).
        """
        if seq is not None:
            trade_id = seq
        else:
            try:
                trade_id = int(row.trade_id)
            except ValueError:
                self.unparsable += 1
                return None
        last = self._last.get(row.symbol)
        if last is None:
            self._last[row.symbol] = [trade_id, row.ts]
            return None
        previous = last[0]
        if trade_id <= previous:
            self.out_of_order += 1
            return None
        last[0] = trade_id
        first = trade_id - span + 1
        if first <= previous + 1:
            last[1] = row.ts
            return None
        gap = GapRow(last[1], row.ts, self.exchange, self.market, row.symbol, "id_jump", str(previous + 1),
                     str(first - 1), OPEN, 0)
        last[1] = row.ts
        self.gaps += 1
        return gap

    def feed_many(self, rows: Iterable[TradeRow]) -> list[GapRow]:
        """Rows of one span each (every market but OKX)."""
        feed = self.feed
        return [gap for gap in map(feed, rows) if gap is not None]

    def last_seen(self) -> dict[str, int]:
        """symbol → ts of its newest trade, for `silence_gaps`."""
        return {symbol: last[1] for symbol, last in self._last.items()}


class DisconnectTracker:
    """Per symbol, how many live sessions carry it; a symbol left with none is down until a session carries it again.

    Feed it each connection's `up` (with the symbols it subscribed) and `down`; `up` returns a
    `disconnect` gap from the moment the symbol lost its last carrier to this `up`. A symbol's first
    `up` is no gap. Sessions are keyed by connection id, so a reconnect under the same id works.
    """

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str, str], tuple[str, ...]] = {}
        """(exchange, market, conn_id) → symbols of its live session"""
        self._carriers: dict[tuple[str, str, str], int] = {}
        """(exchange, market, symbol) → live sessions carrying it"""
        self._down_since: dict[tuple[str, str, str], int] = {}
        """(exchange, market, symbol) → when it lost its last carrier"""

    def up(self, exchange: str, market: str, conn_id: str, symbols: Sequence[str], ts: int) -> list[GapRow]:
        session = (exchange, market, conn_id)
        if session in self._sessions:
            self.down(exchange, market, conn_id, ts)
        self._sessions[session] = tuple(symbols)
        gaps = []
        for symbol in symbols:
            key = (exchange, market, symbol)
            self._carriers[key] = self._carriers.get(key, 0) + 1
            since = self._down_since.pop(key, None)
            if since is not None and since < ts:
                gaps.append(GapRow(since, ts, exchange, market, symbol, "disconnect", "", "", OPEN, 0))
        return gaps

    def down(self, exchange: str, market: str, conn_id: str, ts: int) -> None:
        for symbol in self._sessions.pop((exchange, market, conn_id), ()):
            key = (exchange, market, symbol)
            left = self._carriers[key] - 1
            if left:
                self._carriers[key] = left
            else:
                del self._carriers[key]
                self._down_since[key] = ts

    def forget(self, exchange: str, market: str, symbols: Sequence[str]) -> None:
        """Symbols unsubscribed on purpose: their silence from now on is no gap, even if they come back later."""
        for symbol in symbols:
            self._down_since.pop((exchange, market, symbol), None)

    def on_event(self, event) -> list[GapRow]:
        """A `recorder.feeds.events.ConnectionEvent` (exchange, market, conn_id, state, symbols, ts_ns)."""
        if event.state == "up":
            return self.up(event.exchange, event.market, event.conn_id, event.symbols, event.ts_ns)
        self.down(event.exchange, event.market, event.conn_id, event.ts_ns)
        return []

    def pending(self, now_ns: int) -> list[GapRow]:
        """Symbols still without a carrier, as gaps up to `now_ns` (the store upserts the final row over them)."""
        return [GapRow(since, now_ns, exchange, market, symbol, "disconnect", "", "", OPEN, 0)
                for (exchange, market, symbol), since in self._down_since.items()]


def disconnect_gaps(rows: Iterable[CoverageRow], stale_after_ns: int | None = None) -> list[GapRow]:
    """`disconnect` gaps from stored coverage rows (any order), across recorder processes.

    Sessions are `process/conn_id`. A session with no `down` (its process was killed) is trusted until
    its last `up`/`alive` row: with `stale_after_ns` set, when an `up` arrives more than that after
    a session's last sign of life, that session counts as down at its last sign of life.
    """
    tracker = DisconnectTracker()
    alive: dict[tuple[str, str, str], int] = {}
    gaps: list[GapRow] = []
    for row in sorted(rows, key=lambda r: r.ts):
        session = f"{row.process}/{row.conn_id}"
        key = (row.exchange, row.market, session)
        if row.state == "up":
            if stale_after_ns is not None:
                for stale, last in [item for item in alive.items() if row.ts - item[1] > stale_after_ns]:
                    tracker.down(*stale, last)
                    del alive[stale]
            gaps += tracker.up(row.exchange, row.market, session, [s for s in row.symbols.split(",") if s], row.ts)
            alive[key] = row.ts
        elif row.state == "alive":
            if key in alive:
                alive[key] = row.ts
        else:
            tracker.down(row.exchange, row.market, session, row.ts)
            alive.pop(key, None)
    return gaps


def silence_gaps(exchange: str, market: str, last_seen: Mapping[str, int], now_ns: int, threshold_ns: int) -> list[GapRow]:
    """`silence` gaps for symbols whose newest trade is older than `threshold_ns` at `now_ns`.

    The row spans the newest trade to now; asked again later, the same start upserts a longer row.
    """
    cutoff = now_ns - threshold_ns
    return [GapRow(ts, now_ns, exchange, market, symbol, "silence", "", "", OPEN, 0)
            for symbol, ts in last_seen.items() if ts < cutoff]


def id_hint(market_key: str) -> IdHint | None:
    """The market's hint reader (its exchange module's `id_hint`: what the raw message says beyond the
    trade id), made safe: a malformed raw message counts as a plain single trade. None: (1, None) always."""
    spec = BY_KEY[market_key]
    reader = market_hooks(spec.exchange, spec.market).id_hint
    if reader is None:
        return None

    def safe(trade) -> tuple[int, int | None]:
        try:
            return reader(trade)
        except (TypeError, ValueError, AttributeError):
            return 1, None

    return safe
