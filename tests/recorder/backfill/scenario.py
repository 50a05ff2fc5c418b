"""A live scenario for the backfill tests: the simulator, the REAL cryptofeed feeds, a held-back run of trades.

`Scenario(keys)` starts the exchange simulator for `keys`, fetches each market's instruments with the
recorder's own parsers, runs `MarketFeeds` into the recorder's `Normalizer` (and a `GapDetector` on
sequential markets), then `skip_and_backfill()` holds back a few trades of one symbol per market,
waits until the feed has moved past them, and backfills the gap over REST. The checks compare the
backfilled rows with the simulator's truth and with the rows the live path produced.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import aiohttp

from recorder.backfill.base import backfill
from recorder.backfill.fill import BackfillResult, backfill_gap
from recorder.exchanges import market_hooks
from recorder.feeds.market import MarketFeeds
from recorder.gaps import GapDetector
from recorder.instruments.fetch import fetch_instruments
from recorder.instruments.model import Instrument
from recorder.markets import BY_KEY
from recorder.normalize import Normalizer
from recorder.store.base import GapRow
from recorder.trade_row import TradeRow
from simulator.exchanges import ExchangeSimulator
from tests.conftest import eventually_async

SKIP = 5
SLACK_NS = 100_000_000
"""time gaps are widened by this much (the default is 1 s; the simulator's history starts with the test)."""
COIN = "C0002"


@dataclass
class Market:
    key: str
    instrument: Instrument
    normalizer: Normalizer
    detector: GapDetector | None
    live: list[TradeRow] = field(default_factory=list)
    gaps: list[GapRow] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    gap: GapRow | None = None
    result: BackfillResult | None = None
    sequence: Callable[[str], int] = int
    """trade id → the per-symbol sequence the detector follows and gaps name."""

    async def on_trade(self, trade, receipt_timestamp: float) -> None:
        row = self.normalizer.normalize(trade, receipt_timestamp)
        if row is None or row.symbol != self.instrument.symbol:
            return
        self.live.append(row)
        if self.detector is not None and (gap := self.detector.feed(row, seq=self.sequence(row.trade_id))) is not None:
            self.gaps.append(gap)


class Scenario:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.sim = ExchangeSimulator(markets=keys, symbols=3, trades_per_second=20, seed=11)
        self.markets: dict[str, Market] = {}
        self.feeds: list[MarketFeeds] = []

    async def __aenter__(self) -> Scenario:
        await self.sim.start()
        self.ssl = ssl.create_default_context(cafile=str(self.sim.ca_file))
        self.session = aiohttp.ClientSession()
        for key in self.keys:
            spec = BY_KEY[key]
            ws, rest = self.sim.endpoint(key)
            instruments = await fetch_instruments(spec, rest, self.session, ssl=self.ssl)
            instrument = next(i for i in instruments if i.base == COIN)
            detector = GapDetector(spec) if spec.trade_id == "sequential" else None
            market = self.markets[key] = Market(key, instrument, Normalizer(spec, instruments), detector)
            if key == "gate.spot":
                market.sequence = self.gate_spot_sequence
            feeds = MarketFeeds(spec, instruments, on_trade=market.on_trade, ws_base=ws, rest_base=rest,
                                ssl_ca_file=str(self.sim.ca_file), start_stagger=0)
            await feeds.start()
            self.feeds.append(feeds)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for feeds in self.feeds:
            await feeds.stop()
        await self.session.close()
        await self.sim.stop()

    def rest(self, key: str) -> str:
        return self.sim.endpoint(key)[1]

    def generated(self, key: str) -> list[dict]:
        native = self.markets[key].instrument.native
        return [r for r in self.sim.generated_trades(key) if r["native"] == native]

    def gate_spot_sequence(self, trade_id: str) -> int:
        """Real Gate spot sends `id_market` (per pair) next to its all-market `id`; the simulator sends no
        `id_market`, and its REST `sequence_id` is the pair's trade ordinal: recover that from the id."""
        first = int(self.generated("gate.spot")[0]["trade_id"])
        return int(trade_id) - first + 1

    def sent(self, key: str) -> list[dict]:
        native = self.markets[key].instrument.native
        return [r for r in self.sim.sent_trades(key) if r["native"] == native]

    def in_window(self, key: str, start: int, end: int) -> list[dict]:
        """Generated trades of the coin whose time, rounded to the µs as the live path rounds it, is in [start, end]."""
        return [r for r in self.generated(key) if start <= (r["ts_ns"] + 500) // 1000 * 1000 <= end]

    async def backfill(self, key: str, gap: GapRow) -> BackfillResult:
        return await backfill_gap(gap, self.markets[key].instrument, self.rest(key), self.session, self.ssl, slack_ns=SLACK_NS)

    async def skip_and_backfill(self) -> dict[str, Market]:
        """Hold back SKIP trades of COIN on every market, let the feeds move on, then backfill the gaps."""
        await eventually_async(lambda: all(len(m.live) >= 10 for m in self.markets.values()), what="live trades of the coin")
        marks = {}
        for key, market in self.markets.items():
            marks[key] = len(self.generated(key))
            self.sim.skip_trades(key, market.instrument.native, SKIP)
        after = {key: len(m.live) for key, m in self.markets.items()}
        await eventually_async(lambda: all(len(m.live) >= after[k] + 3 for k, m in self.markets.items()),
                               what="live trades after the held-back ones")
        self.sim.pause()
        await eventually_async(lambda: all(len(set(map(dedup_key, m.live))) == len(self.sent(k)) for k, m in self.markets.items()),
                               what="every sent trade of the coin received")
        for key, market in self.markets.items():
            generated = self.generated(key)
            mark = marks[key]
            market.skipped = generated[mark : mark + SKIP]
            if market.detector is not None:
                assert len(market.gaps) == 1, market.gaps
                market.gap = market.gaps[0]
            else:
                spec = BY_KEY[key]
                market.gap = GapRow(generated[mark - 1]["ts_ns"], generated[mark + SKIP]["ts_ns"], spec.exchange,
                                    spec.market, market.instrument.symbol, "disconnect", "", "", "open", 0)
            market.result = await self.backfill(key, market.gap)
        return self.markets


def content(row: TradeRow) -> tuple:
    """Everything but the local receive time: what the store keeps per dedup key."""
    return row[:1] + row[2:]


def dedup_key(row: TradeRow) -> tuple:
    return row.ts, row.exchange, row.market, row.symbol, row.trade_id


def matches(row: TradeRow, truth: dict, instrument: Instrument) -> bool:
    """A row is the truth record normalized: same trade, price per coin and amount in coins."""
    return (abs(row.ts - truth["ts_ns"]) < 1000 and row.side == truth["side"]
            and (truth["trade_id"] is None or row.trade_id == truth["trade_id"])
            and (row.symbol, row.base, row.exchange, row.market) == (instrument.symbol, instrument.base,
                                                                     truth["exchange"], truth["market"])
            and math.isclose(row.price, float(truth["price"]), rel_tol=1e-12)
            and math.isclose(row.amount, float(truth["amount"]), rel_tol=1e-12))


def check_exact(market: Market) -> None:
    """Sequential markets: the detected gap names the held-back ids and the backfill returns exactly them."""
    ids = [r["trade_id"] for r in market.skipped]
    expected = ("id_jump", str(market.sequence(ids[0])), str(market.sequence(ids[-1])))
    assert (market.gap.kind, market.gap.first_missing_id, market.gap.last_missing_id) == expected
    result = market.result
    assert result.complete and result.status == "backfilled", result
    assert [row.trade_id for row in result.rows] == ids
    for row, truth in zip(result.rows, market.skipped, strict=True):
        assert matches(row, truth, market.instrument), (row, truth)
    assert not set(map(dedup_key, result.rows)) & set(map(dedup_key, market.live))


def check_recent(scenario: Scenario, market: Market) -> None:
    """Recent-only markets: the whole window comes back, held-back trades included, live ones identical."""
    result = market.result
    assert result.complete and result.status == "backfilled", result
    start, end = market.gap.ts - SLACK_NS, market.gap.end_ts + SLACK_NS
    for truth in market.skipped:
        assert sum(matches(row, truth, market.instrument) for row in result.rows) == 1, truth
    assert len(result.rows) == len(scenario.in_window(market.key, start, end))
    back = {content(row) for row in result.rows}
    live = {content(row) for row in market.live if start <= row.ts <= end}
    assert live and live <= back, "a trade received live comes back with the same key and values"
    assert len(back) == len(result.rows) == len(live) + len(market.skipped)


def check_time_window(scenario: Scenario, market: Market, result: BackfillResult, gap: GapRow) -> None:
    """Sequential market, gap known by time only: every trade in the window, contiguous ids, complete."""
    assert result.complete and result.status == "backfilled", result
    start, end = gap.ts - SLACK_NS, gap.end_ts + SLACK_NS
    truth = scenario.in_window(market.key, start, end)
    assert [row.trade_id for row in result.rows] == [r["trade_id"] for r in truth]
    for row, record in zip(result.rows, truth, strict=True):
        assert matches(row, record, market.instrument), (row, record)


def check_overlap(live: list[TradeRow], backfilled: list[TradeRow]) -> None:
    """Rows fetched again for trades received live are the live rows (bar the receive time): a store no-op."""
    by_key = {dedup_key(row): content(row) for row in live}
    again = [row for row in backfilled if dedup_key(row) in by_key]
    assert again
    for row in again:
        assert content(row) == by_key[dedup_key(row)]


async def sequential_markets(keys: list[str]) -> None:
    """Exact recovery by id, the live rows fetched again unchanged, time-only gaps, and paging in small steps."""
    async with Scenario(keys) as sc:
        markets = await sc.skip_and_backfill()
        for key in keys:
            market = markets[key]
            check_exact(market)
            first, last = int(market.gap.first_missing_id), int(market.gap.last_missing_id)
            wider = await sc.backfill(key, market.gap._replace(first_missing_id=str(first - 3), last_missing_id=str(last + 3)))
            assert wider.complete and len(wider.rows) == last - first + 7, wider
            check_overlap(market.live, wider.rows)
            by_time = market.gap._replace(kind="disconnect", first_missing_id="", last_missing_id="")
            check_time_window(sc, market, await sc.backfill(key, by_time), by_time)
            venue = market_hooks(market.instrument.exchange, market.instrument.market).backfill
            paged = await backfill(replace(venue, page_size=2), market.gap, market.instrument, sc.rest(key), sc.session, sc.ssl)
            assert paged.complete and paged.requests >= 4, paged
            assert list(map(content, paged.rows)) == list(map(content, market.result.rows))


async def recent_markets(keys: list[str]) -> None:
    async with Scenario(keys) as sc:
        markets = await sc.skip_and_backfill()
        for key in keys:
            check_recent(sc, markets[key])
