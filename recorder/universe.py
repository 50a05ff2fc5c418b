"""The symbol universe: every instrument whose coin is NOT (yet) on Upbit's KRW market, per market.

- `build_universe` filters each market's instruments by quote and by the Upbit KRW coin set, with a
  "tail": a coin that has just appeared on Upbit KRW (it was in the previous universe, or the
  caller says it was just announced) keeps being recorded until `krw_listed_seen_at + tail`.
- `write_symbols_yaml` / `read_symbols_yaml`: the generated, human-readable file (dated header,
  counts per market, one line per instrument with its factors). Written atomically.
- `refresh`: fetch every market; a market whose fetch fails keeps its previous list from the
  existing file and says so in the returned per-market status. There is no hard-coded fallback: a
  market that fails with no previous list is empty and says so. Without Upbit's KRW list the one
  stored in the file is used; with none ever fetched the universe is unfiltered (every instrument).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from recorder.clock import iso_z
from recorder.instruments.model import Instrument
from recorder.markets import MARKETS, MarketSpec
from recorder.net_errors import describe_error

LOG = logging.getLogger(__name__)

FILE_VERSION = 1
DEFAULT_TAIL = timedelta(hours=24)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it: the 5,700-instrument file parses in ~0.3 s instead of ~1.4 s"""
_INSTRUMENT_FIELDS = ("symbol", "native", "base", "quote", "price_factor", "amount_factor", "multiplier")

Source = Literal["fetched", "previous", "failed"]


class UniverseFileError(Exception):
    """The symbols file exists but cannot be read as a universe; the message names the file and the problem."""


@dataclass(frozen=True)
class MarketStatus:
    """What happened to one market in a refresh."""

    market: str
    source: Source
    """`fetched`: fresh list; `previous`: fetch failed, previous list kept; `failed`: fetch failed, no previous list."""
    listed: int
    """instruments the exchange lists (fetched) or the previous file held (previous)."""
    kept: int
    """instruments in the universe after filtering."""
    error: str | None = None
    fetched_at: datetime | None = None
    """when this market's list was last fetched successfully (older than the refresh for `previous`)."""

    @property
    def ok(self) -> bool:
        return self.source == "fetched"


@dataclass
class Universe:
    """Instruments to record per market key (`binance.spot`), plus the per-coin listing tail."""

    generated_at: datetime
    quotes: tuple[str, ...] = ("USDT",)
    markets: dict[str, list[Instrument]] = field(default_factory=dict)
    krw_listed_seen_at: dict[str, datetime] = field(default_factory=dict)
    """coin → when it was first seen on Upbit KRW; recorded until this + tail."""
    status: dict[str, MarketStatus] = field(default_factory=dict)
    upbit_krw: frozenset[str] = frozenset()
    """the Upbit KRW coins this universe was filtered against (reused when Upbit cannot be read); empty: unfiltered."""
    upbit_krw_at: datetime | None = None
    """when that KRW list was fetched (older than `generated_at` when Upbit could not be read since)."""

    upbit_error: str | None = None
    """why Upbit's KRW list could not be fetched in the refresh that made this universe (None: it was)."""
    written: bool = False
    """whether that refresh wrote the symbols file (it leaves it as it was when every fetch failed)."""

    @property
    def filtered(self) -> bool:
        """False while no Upbit KRW list was ever fetched: every instrument is recorded, KRW-listed coins included."""
        return bool(self.upbit_krw)

    def instruments(self, market_key: str) -> list[Instrument]:
        return list(self.markets.get(market_key, ()))

    def coins(self) -> set[str]:
        return {instrument.base for instruments in self.markets.values() for instrument in instruments}

    def counts(self) -> dict[str, int]:
        return {key: len(instruments) for key, instruments in self.markets.items()}

    @property
    def total(self) -> int:
        return sum(len(instruments) for instruments in self.markets.values())


def fetched_when(moment: datetime | None) -> str:
    """A list's fetch time for a message: ISO UTC, or `at an unknown time` (a file from before times were kept)."""
    return iso_z(moment) if moment is not None else "at an unknown time"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC time")
    return moment.astimezone(UTC)


def _parse_time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise UniverseFileError(f"{where}: expected an ISO time, got {value!r}")
    try:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise UniverseFileError(f"{where}: not an ISO time: {value!r}") from None


def normalize_coins(coins: Iterable[str]) -> set[str]:
    """Upbit KRW coins as bare upper-case tickers (`KRW-BTC` and `btc` both become `BTC`)."""
    out = set()
    for coin in coins:
        token = coin.strip().upper()
        out.add(token.removeprefix("KRW-"))
    return out


def update_listed_seen(
    upbit_krw: set[str],
    previous: Universe | None,
    now: datetime,
    tail: timedelta = DEFAULT_TAIL,
    announced: Mapping[str, datetime] | None = None,
) -> dict[str, datetime]:
    """The coin → first-seen-on-KRW times still inside their tail.

    A coin enters when it is on Upbit KRW now but was recorded in the previous universe (it has
    just been listed), or when the caller reports an announcement for it. Entries leave once
    `seen + tail <= now`. An unfiltered previous universe held every coin, so it says nothing
    about new listings.
    """
    now = _utc(now)
    seen = dict(previous.krw_listed_seen_at) if previous else {}
    for coin, moment in (announced or {}).items():
        seen.setdefault(coin.upper(), _utc(moment))
    if previous is not None and previous.filtered:
        for coin in upbit_krw & previous.coins():
            seen.setdefault(coin, now)
    return {coin: moment for coin, moment in seen.items() if moment + tail > now}


def build_universe(
    upbit_krw: Iterable[str],
    instruments: Mapping[str, Iterable[Instrument]],
    *,
    quotes: Iterable[str] = ("USDT",),
    now: datetime,
    previous: Universe | None = None,
    tail: timedelta = DEFAULT_TAIL,
    announced: Mapping[str, datetime] | None = None,
    status: Mapping[str, MarketStatus] | None = None,
    upbit_krw_at: datetime | None = None,
) -> Universe:
    """Keep instruments quoted in `quotes` whose coin is not on Upbit KRW, or still inside its tail."""
    krw = normalize_coins(upbit_krw)
    quotes = tuple(q.upper() for q in quotes)
    seen = update_listed_seen(krw, previous, now, tail, announced)
    markets: dict[str, list[Instrument]] = {}
    for key, items in instruments.items():
        kept = []
        for instrument in items:
            if instrument.quote.upper() not in quotes:
                continue
            if instrument.base.upper() in krw and instrument.base.upper() not in seen:
                continue
            kept.append(instrument)
        markets[key] = sorted(kept, key=lambda i: i.symbol)
    return Universe(_utc(now), quotes, markets, seen, dict(status or {}), frozenset(krw),
                    _utc(upbit_krw_at) if upbit_krw_at is not None and krw else None)


# --- the yaml file -------------------------------------------------------------------------------


def _instrument_row(instrument: Instrument) -> dict[str, Any]:
    return {name: getattr(instrument, name) for name in _INSTRUMENT_FIELDS}


def _header(universe: Universe, generated_at: datetime) -> str:
    lines = [
        "# PumpWatch symbol universe. GENERATED by the recorder: do not edit by hand (the next refresh overwrites it).",
        f"# generated_at: {iso_z(generated_at)}",
        f"# quotes: {', '.join(universe.quotes)}; instruments: {universe.total}; coins: {len(universe.coins())}",
        "# price = cryptofeed price * price_factor (per one coin); amount = cryptofeed amount * amount_factor (coins)",
    ]
    for spec in MARKETS:
        if spec.key not in universe.markets and spec.key not in universe.status:
            continue
        count = len(universe.markets.get(spec.key, ()))
        state = universe.status.get(spec.key)
        note = ""
        if state is not None and state.source != "fetched":
            note = f"  !! {state.source.upper()}: {' '.join(str(state.error).split())}"
        lines.append(f"#   {spec.key:<16} {count:>5}{note}")
    if not universe.filtered:
        lines.append("# UNFILTERED: no Upbit KRW list fetched yet, every instrument is recorded (KRW-listed coins too)")
    if universe.krw_listed_seen_at:
        lines.append("# tail (just listed on Upbit KRW, still recorded): " + ", ".join(sorted(universe.krw_listed_seen_at)))
    return "\n".join(lines) + "\n"


def universe_to_yaml(universe: Universe, generated_at: datetime) -> str:
    body: dict[str, Any] = {
        "version": FILE_VERSION,
        "generated_at": iso_z(generated_at),
        "quotes": list(universe.quotes),
        "krw_listed_seen_at": {coin: iso_z(moment) for coin, moment in sorted(universe.krw_listed_seen_at.items())},
        "upbit_krw": sorted(universe.upbit_krw),
        "upbit_krw_fetched_at": iso_z(universe.upbit_krw_at) if universe.upbit_krw_at else None,
        "markets": {},
    }
    keys = [spec.key for spec in MARKETS if spec.key in universe.markets or spec.key in universe.status]
    keys += sorted(set(universe.markets) - set(keys))
    for key in keys:
        instruments = universe.markets.get(key, [])
        state = universe.status.get(key)
        entry: dict[str, Any] = {"count": len(instruments)}
        if state is not None:
            entry["source"] = state.source
            if state.fetched_at is not None:
                entry["fetched_at"] = iso_z(state.fetched_at)
            if state.error:
                entry["error"] = state.error
        entry["instruments"] = [_instrument_row(i) for i in instruments]
        body["markets"][key] = entry
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=400, default_flow_style=None)
    return _header(universe, generated_at) + text


def write_symbols_yaml(path: str | Path, universe: Universe, generated_at: datetime) -> None:
    """Write the universe atomically (temp file + rename in the same directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = universe_to_yaml(universe, generated_at)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _market_key_parts(key: str) -> tuple[str, str]:
    exchange, _, market = key.partition(".")
    if not exchange or not market:
        raise UniverseFileError(f"market key {key!r} is not exchange.market")
    return exchange, market


def read_symbols_yaml(path: str | Path) -> Universe:
    """Read a file written by `write_symbols_yaml`; UniverseFileError names the file and the problem."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise
    except (OSError, yaml.YAMLError) as exc:
        raise UniverseFileError(f"{path}: cannot read symbols file: {exc}") from None
    if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION:
        raise UniverseFileError(f"{path}: not a version-{FILE_VERSION} symbols file")
    generated_at = _parse_time(raw.get("generated_at"), f"{path}: generated_at")
    quotes = raw.get("quotes") or ["USDT"]
    if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
        raise UniverseFileError(f"{path}: quotes must be a list of strings")
    seen_raw = raw.get("krw_listed_seen_at") or {}
    if not isinstance(seen_raw, dict):
        raise UniverseFileError(f"{path}: krw_listed_seen_at must be a mapping")
    seen = {str(coin).upper(): _parse_time(moment, f"{path}: krw_listed_seen_at.{coin}") for coin, moment in seen_raw.items()}
    krw_raw = raw.get("upbit_krw") or []
    if not isinstance(krw_raw, list):
        raise UniverseFileError(f"{path}: upbit_krw must be a list")
    krw_at = raw.get("upbit_krw_fetched_at")
    krw_at = _parse_time(krw_at, f"{path}: upbit_krw_fetched_at") if krw_at else None
    markets_raw = raw.get("markets") or {}
    if not isinstance(markets_raw, dict):
        raise UniverseFileError(f"{path}: markets must be a mapping")
    markets: dict[str, list[Instrument]] = {}
    status: dict[str, MarketStatus] = {}
    for key, entry in markets_raw.items():
        exchange, market = _market_key_parts(str(key))
        if not isinstance(entry, dict) or not isinstance(entry.get("instruments", []), list):
            raise UniverseFileError(f"{path}: markets.{key} must hold an instruments list")
        items = []
        for index, row in enumerate(entry.get("instruments") or []):
            try:
                items.append(Instrument(
                    exchange=exchange, market=market, symbol=str(row["symbol"]), native=str(row["native"]),
                    base=str(row["base"]), quote=str(row["quote"]), price_factor=float(row["price_factor"]),
                    amount_factor=float(row["amount_factor"]), multiplier=int(row["multiplier"]),
                ))
            except (KeyError, TypeError, ValueError) as exc:
                raise UniverseFileError(f"{path}: markets.{key}.instruments[{index}]: {type(exc).__name__}: {exc}") from None
        markets[str(key)] = items
        if "source" in entry:
            fetched_at = _parse_time(entry["fetched_at"], f"{path}: markets.{key}.fetched_at") if entry.get("fetched_at") else None
            status[str(key)] = MarketStatus(str(key), entry["source"], len(items), len(items), entry.get("error"), fetched_at)
    return Universe(generated_at, tuple(quotes), markets, seen, status, frozenset(str(c).upper() for c in krw_raw), krw_at)


# --- refresh -------------------------------------------------------------------------------------

Fetcher = Callable[[MarketSpec], Awaitable[list[Instrument]]]


async def refresh(
    path: str | Path,
    *,
    upbit_krw: Iterable[str] | None,
    fetch: Fetcher,
    markets: Iterable[MarketSpec] = MARKETS,
    quotes: Iterable[str] = ("USDT",),
    tail: timedelta = DEFAULT_TAIL,
    now: datetime | None = None,
    announced: Mapping[str, datetime] | None = None,
    write: bool = True,
    upbit_error: str | None = None,
) -> tuple[Universe, dict[str, MarketStatus]]:
    """Fetch every market, rebuild the universe, write the file; return the universe and per-market status.

    The file is written only when something was fetched (a market's list or Upbit's): when every
    fetch failed it stays as it was (`Universe.written` says which).

    A market whose fetch raises (or returns no instrument at all) keeps the instruments the
    existing file holds for it (re-filtered against the current Upbit KRW set); with no previous
    list it is empty, with status `failed`. The caller reports these from the status. The previous
    file is read leniently: an unreadable file is logged and treated as absent.

    `upbit_krw=None` means Upbit's market list could not be read: the set stored in the previous
    file is reused (the universe says when it was fetched); with none stored the universe is
    unfiltered (`Universe.filtered` is False): recording every coin beats recording nothing.
    `upbit_error` says why it could not be read.
    """
    now = _utc(now or datetime.now(UTC))
    markets = list(markets)
    path = Path(path)
    previous: Universe | None = None
    if path.exists():
        try:
            previous = read_symbols_yaml(path)
        except (UniverseFileError, OSError) as exc:
            LOG.error("universe: previous symbols file unusable, continuing without it: %s", exc)

    krw_at: datetime | None = now
    upbit_fetched = upbit_krw is not None
    if upbit_krw is None:
        upbit_krw = previous.upbit_krw if previous is not None else frozenset()
        krw_at = previous.upbit_krw_at if previous is not None else None
    results = await asyncio.gather(*(fetch(spec) for spec in markets), return_exceptions=True)
    lists: dict[str, list[Instrument]] = {}
    status: dict[str, MarketStatus] = {}
    for spec, result in zip(markets, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        error = None
        if isinstance(result, Exception):
            error = describe_error(result)
        elif not result:
            error = "the exchange listed no instrument"
        if error is None:
            lists[spec.key] = list(result)
            status[spec.key] = MarketStatus(spec.key, "fetched", len(result), 0, None, now)
            continue
        old = previous.instruments(spec.key) if previous is not None else []
        old_state = previous.status.get(spec.key) if previous is not None else None
        fetched_at = old_state.fetched_at if old_state is not None else (previous.generated_at if previous and old else None)
        lists[spec.key] = old
        status[spec.key] = MarketStatus(spec.key, "previous" if old else "failed", len(old), 0, error, fetched_at if old else None)

    universe = build_universe(upbit_krw, lists, quotes=quotes, now=now, previous=previous, tail=tail, announced=announced,
                              upbit_krw_at=krw_at)
    for key, state in status.items():
        status[key] = MarketStatus(key, state.source, state.listed, len(universe.markets.get(key, ())), state.error, state.fetched_at)
    universe.status = status
    universe.upbit_error = None if upbit_fetched else upbit_error or "unavailable"
    if write and (upbit_fetched or any(state.ok for state in status.values())):
        write_symbols_yaml(path, universe, now)
        universe.written = True
    return universe, status


def make_fetcher(session: Any, rest_bases: Mapping[str, str | None] | None = None, ssl: Any = None) -> Fetcher:
    """A `refresh` fetcher over `fetch_instruments` with per-market REST bases (market key → base or None)."""
    from recorder.instruments.fetch import fetch_instruments

    async def fetch(spec: MarketSpec) -> list[Instrument]:
        return await fetch_instruments(spec, (rest_bases or {}).get(spec.key), session, ssl=ssl)

    return fetch
