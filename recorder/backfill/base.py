"""The shared half of the REST backfill: rate limits, one GET, and the two ways of walking an endpoint.

An exchange module (`recorder/exchanges/<exchange>.py`) describes each market as a `Venue` (path,
page size, rate limit, query builder, where the list sits, error envelope, entry parser) and parses
each REST entry into the cryptofeed `Trade` its live feed would have built from the websocket (same
side rule, same Decimal arithmetic, same float timestamp). Those trades then go through the
recorder's own `Normalizer`, so a backfilled row is the row the live path would have stored: same
symbol, factors, µs-rounded ts and trade id (for Phemex the same `synthetic_trade_id`, a REST answer
counting as one frame like the snapshot Phemex sends on subscribe). A backfilled trade that was also
received live therefore has the same dedup key (ts, exchange, market, symbol, trade_id) and
re-inserting it is a no-op.

Walks:
- sequential markets (ids count up by one per fill): pages of ids below a cursor, newest first,
  until the gap's first id (id gaps: exact, complete when every missing id came back) or until
  before the gap's start (time gaps: complete when the ids seen are contiguous back past the start);
- recent-only markets: one request for the latest trades; complete only when the oldest trade in
  the answer is older than the gap's start, i.e. the whole window is still within what the endpoint
  returns (opaque ids cannot prove more).

Aggregating venues (OKX: its `trades` channel sends one message per taker order, price and source,
with the LAST fill's id and the summed size, while REST lists every fill) get their REST fills merged
the same way: contiguous ids with the same time, side, price and source become one trade with the
last id. Only whole aggregates inside the id range are stored; one that runs past the range's top
belongs to the live message that revealed the gap, so storing part of it would double-count (or,
under the same key, overwrite the live row with a smaller size).
"""

from __future__ import annotations

import asyncio
import json
import ssl as ssl_module
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import aiohttp
from cryptofeed.types import Trade

from recorder.clock import S, iso_utc
from recorder.instruments.common import entries
from recorder.instruments.model import Instrument
from recorder.markets import BY_KEY, MarketSpec
from recorder.normalize import Normalizer, to_ns
from recorder.store.base import GapRow
from recorder.trade_row import TradeRow

REQUEST_TIMEOUT_S = 20.0
MAX_PAGES = 200
"""per gap: 200k Binance trades, 20k OKX trades; beyond that the result says partial."""
SLACK_NS = S
"""time gaps are widened by this much on each side: the exchange's clock is not ours and a down is
noticed after the fact. Trades already stored come back with the same dedup key: a no-op."""
_HEADERS = {"Accept": "application/json", "User-Agent": "pumpwatch-backfill"}


class BackfillError(Exception):
    """A request or its answer was unusable (transport, HTTP status, not JSON, error envelope, wrong shape)."""


@dataclass(frozen=True)
class RateLimit:
    """A budget shared by every request with the same `name` (one exchange endpoint group, one IP)."""

    name: str
    per_second: float
    burst: int


class TokenBucket:
    """Reserve-then-sleep: the reservation is synchronous, so concurrent tasks queue without a lock
    (and the bucket works from any event loop)."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = limit.per_second
        self.burst = float(limit.burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0 when one was in the bucket)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate) - 1
        self._stamp = now
        return max(0.0, -self._tokens / self.rate)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait:
            await asyncio.sleep(wait)


_BUCKETS: dict[str, TokenBucket] = {}


def bucket(limit: RateLimit) -> TokenBucket:
    if limit.name not in _BUCKETS:
        _BUCKETS[limit.name] = TokenBucket(limit)
    return _BUCKETS[limit.name]


@dataclass(slots=True)
class Entry:
    """One REST trade: its sequential id (None on opaque markets), time, and the live feed's `Trade`."""

    seq: int | None
    ts_ns: int
    trade: Trade | None
    """None when the live feed drops such a trade (e.g. Gate futures size 0); `dropped` says why."""
    dropped: str = ""
    group: tuple | None = None
    """aggregating venues: fills with equal `group` and contiguous ids form one live message."""
    first: int | None = None
    """after merging: the first fill id of the aggregate (`seq` is its last)."""
    cursor: int | None = None
    """what the endpoint pages by, when that is not `seq` (Gate spot: the all-market `id`)."""

    @property
    def position(self) -> int | None:
        return self.seq if self.cursor is None else self.cursor


Params = Callable[[Instrument, int | None, int | None, int], dict[str, str]]
"""(instrument, ids below this (None: the latest), lowest id wanted (None: unknown), page size) → query."""


@dataclass(frozen=True)
class Venue:
    """One market's trade endpoint, as data plus three small functions from its exchange module."""

    exchange: str
    market: str
    path: str
    page_size: int
    limit: RateLimit
    params: Params
    rows: tuple[str, ...]
    """where the list of trades sits in a response body (empty: the body is the list)."""
    error: Callable[[Any], str | None]
    """the exchange's error envelope inside an HTTP 200, described; None for a normal answer."""
    entry: Callable[[Any, Instrument], Entry]
    """one item → Entry; KeyError/TypeError/ValueError/ArithmeticError mean a malformed item."""
    aggregated: bool = False
    """the websocket merges fills (see the module docstring); REST fills are merged to match."""
    pages_by_seq: bool = True
    """the endpoint's cursor is the sequence itself, so a walk can start right above a gap; otherwise
    (Gate spot) it starts at the newest trade."""

    @property
    def key(self) -> str:
        return f"{self.exchange}.{self.market}"

    @property
    def spec(self) -> MarketSpec:
        return BY_KEY[self.key]

    @property
    def sequential(self) -> bool:
        return self.spec.trade_id == "sequential"


@dataclass
class BackfillResult:
    rows: list[TradeRow]
    complete: bool
    """sequential: every missing id came back; recent-only: the whole window is within the answer."""
    note: str
    skipped: Counter[str] = field(default_factory=Counter)
    """entries not turned into rows, by reason: malformed (anywhere in the answers), or in the gap but
    dropped by the live feed too or rejected by the normalizer (such an id still counts as found)."""
    error: str = ""
    """a request failed part-way or at once: worth retrying later."""
    requests: int = 0

    @property
    def status(self) -> str:
        """The gap's status after this attempt: `backfilled`, `partial`, `unrecoverable`, or still `open`."""
        if self.complete:
            return "backfilled"
        if self.error:
            return "partial" if self.rows else "open"
        return "partial" if self.rows else "unrecoverable"


def listed(venue: Venue, payload: Any) -> list[Any]:
    """The trades of one answer; an error envelope or a body without the list is a BackfillError."""
    problem = venue.error(payload)
    if problem:
        raise BackfillError(f"{venue.exchange} error {problem}")
    try:
        return entries(payload, *venue.rows)
    except ValueError as exc:
        raise BackfillError(f"{exc}: {str(payload)[:200]}") from None


def entry_of(trade: Trade, seq: int | None = None, group: tuple | None = None, cursor: int | None = None) -> Entry:
    """An Entry for a trade the live feed would emit; its time exactly as the normalizer will round it."""
    return Entry(seq, to_ns(float(trade.timestamp)), trade, group=group, cursor=cursor)


def merge_runs(entries: list[Entry]) -> list[Entry]:
    """Aggregate fills as the websocket does: contiguous ids with one `group` become one trade, last id, summed size."""
    merged: list[Entry] = []
    run: list[Entry] = []

    def close() -> None:
        if not run:
            return
        last = run[-1]
        if len(run) == 1:
            merged.append(replace(last, first=last.seq))
        else:
            t = last.trade
            total = sum((e.trade.amount for e in run), Decimal(0))
            trade = Trade(t.exchange, t.symbol, t.side, total, t.price, t.timestamp, id=str(last.seq))
            merged.append(replace(last, trade=trade, first=run[0].seq))
        run.clear()

    for entry in sorted((e for e in entries if e.seq is not None), key=lambda e: e.seq):
        if run and not (entry.seq == run[-1].seq + 1 and entry.group is not None and entry.group == run[-1].group):
            close()
        run.append(entry)
    close()
    return merged


async def get_json(session: aiohttp.ClientSession, url: str, params: Mapping[str, str], limit: RateLimit,
                   ssl: ssl_module.SSLContext | None) -> Any:
    """One rate-limited GET; floats parse as Decimal, as cryptofeed parses the websocket."""
    await bucket(limit).acquire()
    shown = url + "?" + "&".join(f"{k}={v}" for k, v in params.items())
    try:
        async with session.get(url, params=params, headers=_HEADERS, ssl=ssl if ssl is not None else True,
                               timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
            body = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise BackfillError(f"{shown}: {type(exc).__name__}: {exc}") from exc
    if status != 200:
        raise BackfillError(f"{shown}: HTTP {status}: {body[:200]!r}")
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError as exc:
        raise BackfillError(f"{shown}: body is not JSON: {body[:200]!r}") from exc


class _Walk:
    """One backfill attempt: requests, parsing, and turning what was kept into rows."""

    def __init__(self, venue: Venue, instrument: Instrument, rest_base: str, session: aiohttp.ClientSession,
                 ssl: ssl_module.SSLContext | None) -> None:
        self.venue = venue
        self.instrument = instrument
        self.url = rest_base.rstrip("/") + venue.path
        self.session = session
        self.ssl = ssl
        self.skipped: Counter[str] = Counter()
        self.pages = 0

    async def page(self, before: int | None, floor: int | None) -> list[Entry]:
        """One request, parsed; a malformed item is counted and left out."""
        params = self.venue.params(self.instrument, before, floor, self.venue.page_size)
        payload = await get_json(self.session, self.url, params, self.venue.limit, self.ssl)
        self.pages += 1
        try:
            items = listed(self.venue, payload)
        except BackfillError as exc:
            raise BackfillError(f"{self.url} {params}: {exc}") from None
        out = []
        for item in items:
            try:
                out.append(self.venue.entry(item, self.instrument))
            except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
                self.skipped[f"malformed: {type(exc).__name__}"] += 1
        return out

    def finish(self, kept: list[Entry], complete: bool, note: str, error: str = "") -> BackfillResult:
        """Rows for the kept entries through the recorder's normalizer, all as one frame received now."""
        normalizer = Normalizer(self.venue.spec, [self.instrument])
        received = time.time()
        rows = []
        for entry in kept:
            if entry.trade is None:
                self.skipped[entry.dropped] += 1
            elif (row := normalizer.normalize(entry.trade, received)) is not None:
                rows.append(row)
        self.skipped.update({f"rejected: {k}": v for k, v in normalizer.rejected.items()})
        rows.sort(key=lambda row: (row.ts, row.trade_id))
        return BackfillResult(rows, complete, note, self.skipped, error, self.pages)

    def merged(self, entries: list[Entry]) -> list[Entry]:
        if self.venue.aggregated:
            return merge_runs(entries)
        return [replace(e, first=e.seq) for e in entries]


async def _walk_down(walk: _Walk, before: int | None, floor: int | None, max_pages: int,
                     done: Callable[[list[Entry]], bool]) -> tuple[dict[int, Entry], str]:
    """Pages below a cursor (None: from the newest) until `done(page)` or the endpoint runs dry; entries by seq."""
    seen: dict[int, Entry] = {}
    try:
        while walk.pages < max_pages:
            below = [e for e in await walk.page(before, floor)
                     if e.seq is not None and e.position is not None and (before is None or e.position < before)]
            if not below:
                break
            seen.update((e.seq, e) for e in below)
            before = min(e.position for e in below)
            if done(below):
                break
    except BackfillError as exc:
        return seen, str(exc)
    return seen, ""


async def walk_ids(walk: _Walk, first: int, last: int, max_pages: int) -> BackfillResult:
    """Pages of ids from just above `last` down to just below `first`: exact by id.

    The one id beyond each end shows whether an aggregate crosses the range's edge.
    """
    start = (last + 2, first - 1) if walk.venue.pages_by_seq else (None, None)
    seen, error = await _walk_down(walk, *start, max_pages, lambda page: min(e.seq for e in page) < first)
    found = sum(1 for seq in seen if first <= seq <= last)
    groups = walk.merged(list(seen.values()))
    kept = [g for g in groups if first <= g.first and g.seq <= last]
    cut = [g for g in groups if g.first < first <= g.seq <= last]
    wanted = last - first + 1
    note = f"ids {first}..{last}: {found} of {wanted} found, {len(kept)} trades"
    if cut:
        note += f"; an aggregate starting below {first} left out"
    return walk.finish(kept, found == wanted and not cut, note, error)


async def walk_back_to(walk: _Walk, start_ns: int, end_ns: int, max_pages: int) -> BackfillResult:
    """Pages from the newest trade back past `start_ns`; complete when the ids seen are contiguous."""
    seen, error = await _walk_down(walk, None, None, max_pages, lambda page: min(e.ts_ns for e in page) < start_ns)
    reached = bool(seen) and min(e.ts_ns for e in seen.values()) < start_ns
    contiguous = bool(seen) and max(seen) - min(seen) + 1 == len(seen)
    kept = [g for g in walk.merged(list(seen.values())) if start_ns <= g.ts_ns <= end_ns]
    note = (f"time window: {len(kept)} trades; walked {len(seen)} ids back "
            f"{'past' if reached else 'not past'} the start, {'contiguous' if contiguous else 'with holes'}")
    return walk.finish(kept, reached and contiguous, note, error)


async def latest(walk: _Walk, start_ns: int, end_ns: int) -> BackfillResult:
    """One request for the latest trades; complete only if the answer reaches back before `start_ns`."""
    try:
        answer = await walk.page(None, None)
    except BackfillError as exc:
        return walk.finish([], False, "recent trades: request failed", str(exc))
    if not answer:
        return walk.finish([], False, "recent trades: the endpoint returned none, completeness unknown")
    oldest = min(e.ts_ns for e in answer)
    kept = [e for e in answer if start_ns <= e.ts_ns <= end_ns]
    covered = oldest < start_ns
    note = (f"recent trades: {len(kept)} in the window; the answer reaches back to {iso_utc(oldest, 'ms')}, "
            f"{'before' if covered else 'after'} the window's start {iso_utc(start_ns, 'ms')}")
    return walk.finish(kept, covered, note)


async def backfill(venue: Venue, gap: GapRow, instrument: Instrument, rest_base: str, session: aiohttp.ClientSession,
                   ssl: ssl_module.SSLContext | None = None, *, slack_ns: int = SLACK_NS,
                   max_pages: int = MAX_PAGES) -> BackfillResult:
    """Fetch what `gap` is missing from `venue` (see the module docstring for what `complete` means)."""
    if (gap.exchange, gap.market) != (venue.exchange, venue.market) or (instrument.exchange, instrument.market) != (
            venue.exchange, venue.market) or gap.symbol != instrument.symbol:
        raise ValueError(f"gap {gap.exchange}.{gap.market} {gap.symbol} and instrument {instrument.exchange}."
                         f"{instrument.market} {instrument.symbol} do not belong to {venue.key}")
    walk = _Walk(venue, instrument, rest_base, session, ssl)
    start, end = gap.ts - slack_ns, gap.end_ts + slack_ns
    if not venue.sequential:
        return await latest(walk, start, end)
    if gap.first_missing_id and gap.last_missing_id:
        first, last = int(gap.first_missing_id), int(gap.last_missing_id)
        if first > last:
            raise ValueError(f"gap's first missing id {first} is above its last {last}")
        return await walk_ids(walk, first, last, max_pages)
    return await walk_back_to(walk, start, end, max_pages)
