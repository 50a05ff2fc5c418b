"""Parse Upbit notice titles into the coins being listed and their markets.

Pure and total: `parse_title` never raises, so one odd title can never stop the watcher.
The shapes it handles are listed in FIELD_NOTES §1; `tests/recorder/upbit/test_upbit_titles.py`
checks every title of `../shared/fixtures/upbit_titles.tsv`.

How a title is read:
1. Normalise (NFKC, control characters to spaces), cap the scanned length, drop a `[거래]`-style prefix.
2. Split the title into top-level parenthesised groups and classify each: a market list
   (`KRW, BTC 마켓`), a coin list (`MASK, ACS`, `TIA`), an old `ETC/KRW` pair, or other text.
3. Trailing "other" groups are update/correction tails (`(거래지원 개시 시점 변경 안내)`,
   `(헤미(HEMI) 거래지원 취소 안내)`, `(완료)`): the coins are read from the head only, so a coin
   named in a tail is never taken as listed; the full title is kept in `ParsedTitle.title`.
4. Market lists outside parentheses (`커브(CRV) KRW, USDT 마켓`) are found in the head's plain text.
5. Each coin takes the market list that follows it (coins first) or precedes it (market list first).
6. A title is a listing when some coin got a market and the head has no non-listing keyword
   (delisting, caution, suspension, event, fee). Non-listings keep the coins they name, with no markets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_SCAN_CHARS = 2000
"""Only this many characters are read: real titles are under 200, and it bounds regex work."""

TICKER_RE = re.compile(r"[A-Z0-9]{1,15}")
"""Every ticker fullmatches this; the parser also requires one letter so `(2)` or `(2026)` is no coin."""

NON_LISTING_RE = re.compile("종료|유의|중단|이벤트|수수료|혜택|폐지|취소|주의|경고")
"""Words in a title's head that make it something other than a listing, even with a market list."""

_TOKEN = r"[A-Z0-9]{1,15}"
_MARKET_GROUP_RE = re.compile(rf"({_TOKEN}(?:\s*,\s*{_TOKEN})*)\s*마켓")
_PAIR_GROUP_RE = re.compile(rf"({_TOKEN})\s*/\s*({_TOKEN})")
_MARKET_TEXT_RE = re.compile(rf"(?<![A-Za-z0-9])((?:{_TOKEN}\s*,\s*){{0,10}}{_TOKEN})\s*마켓")
_PREFIX_RE = re.compile(r"\s*\[[^\[\]]{0,20}\]")
_LETTER_RE = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class CoinMarkets:
    """One coin named in a title and the Upbit markets it is announced on."""

    symbol: str
    markets: tuple[str, ...]
    krw: bool


@dataclass(frozen=True)
class ParsedTitle:
    """What a title announces; `as_dict` is the stable JSON contract."""

    title: str
    listing: bool
    coins: tuple[CoinMarkets, ...]

    @property
    def krw_symbols(self) -> tuple[str, ...]:
        """The coins newly tradable against KRW: what triggers an extraction."""
        return tuple(c.symbol for c in self.coins if c.krw)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "listing": self.listing,
            "coins": [{"symbol": c.symbol, "markets": list(c.markets), "krw": c.krw} for c in self.coins],
            "krw_symbols": list(self.krw_symbols),
        }


@dataclass(frozen=True)
class _Group:
    """A classified top-level parenthesised group: at most one of the payloads is set."""

    start: int
    end: int
    markets: tuple[str, ...] = ()
    coins: tuple[str, ...] = ()
    pair: tuple[str, str] | None = None

    @property
    def other(self) -> bool:
        return not (self.markets or self.coins or self.pair)


def is_ticker(token: str) -> bool:
    """A ticker as Upbit writes it: 1-15 capitals or digits, at least one letter (`A`, `0G`)."""
    return TICKER_RE.fullmatch(token) is not None and _LETTER_RE.search(token) is not None


def parse_title(title: str) -> ParsedTitle:
    """Parse one notice title; never raises for a str."""
    text = _normalise(title)
    groups = [_classify(text, start, end) for start, end in _top_level_groups(text)]
    head_end = len(text)
    while groups and groups[-1].other and not text[groups[-1].end : head_end].strip():
        head_end = groups.pop().start
    head = text[:head_end]

    market_lists = [(g.start, g.markets) for g in groups if g.markets]
    market_lists += _markets_in_text(_mask_groups(head, groups))
    market_lists.sort()
    mentions: list[tuple[int, str, tuple[str, ...] | None]] = []
    for g in groups:
        mentions += [(g.start, symbol, None) for symbol in g.coins]
        if g.pair:
            mentions.append((g.start, g.pair[0], (g.pair[1],)))

    assigned = _assign(mentions, market_lists)
    listing = any(assigned.values()) and not NON_LISTING_RE.search(head)
    coins = tuple(CoinMarkets(s, m if listing else (), listing and "KRW" in m) for s, m in assigned.items())
    return ParsedTitle(title, listing, coins)


def _normalise(title: str) -> str:
    """NFKC (full-width letters and brackets become ASCII), controls to spaces, format marks dropped."""
    text = unicodedata.normalize("NFKC", title[:MAX_SCAN_CHARS])[:MAX_SCAN_CHARS]
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        chars.append(" " if category[0] in "CZ" else ch)
    text = "".join(chars)
    prefix = _PREFIX_RE.match(text)
    return text[prefix.end() :] if prefix else text


def _top_level_groups(text: str) -> list[tuple[int, int]]:
    """Spans of balanced top-level `(...)` groups; stray or unclosed brackets are plain text."""
    spans = []
    depth = start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
    return spans


def _classify(text: str, start: int, end: int) -> _Group:
    content = text[start + 1 : end - 1].strip()
    if match := _MARKET_GROUP_RE.fullmatch(content):
        return _Group(start, end, markets=_tickers(match.group(1)))
    if (match := _PAIR_GROUP_RE.fullmatch(content)) and is_ticker(match.group(1)) and is_ticker(match.group(2)):
        return _Group(start, end, pair=(match.group(1), match.group(2)))
    tokens = [t.strip() for t in content.split(",")]
    tokens = [t for t in tokens if t.strip(".")]  # `(AGLD, AHT, ...)`: a truncated list
    if tokens and all(is_ticker(t) for t in tokens):
        return _Group(start, end, coins=tuple(tokens))
    return _Group(start, end)


def _tickers(listing: str) -> tuple[str, ...]:
    """Valid, de-duplicated tickers of a comma list, in order."""
    return tuple(dict.fromkeys(t for t in (s.strip() for s in listing.split(",")) if is_ticker(t)))


def _mask_groups(head: str, groups: list[_Group]) -> str:
    """The head with every group blanked out, positions kept, so only plain text is searched."""
    chars = list(head)
    for g in groups:
        chars[g.start : g.end] = " " * (g.end - g.start)
    return "".join(chars)


def _markets_in_text(text: str) -> list[tuple[int, tuple[str, ...]]]:
    found = []
    for match in _MARKET_TEXT_RE.finditer(text):
        if markets := _tickers(match.group(1)):
            found.append((match.start(), markets))
    return found


def _assign(
    coins: list[tuple[int, str, tuple[str, ...] | None]],
    market_lists: list[tuple[int, tuple[str, ...]]],
) -> dict[str, tuple[str, ...]]:
    """Give each coin its markets: its own pair, else the list after it, else the list before it.

    When the first market list comes before the first coin (`KRW, BTC 마켓 ... (MASK, ACS)`),
    each coin takes the nearest list before it instead.
    """
    market_first = bool(coins and market_lists) and market_lists[0][0] < coins[0][0]
    assigned: dict[str, tuple[str, ...]] = {}
    for pos, symbol, own in coins:
        if symbol in assigned:
            continue
        before = [m for p, m in market_lists if p < pos]
        after = [m for p, m in market_lists if p > pos]
        if own is not None:
            assigned[symbol] = own
        elif market_first or not after:
            assigned[symbol] = before[-1] if before else ()
        else:
            assigned[symbol] = after[0]
    return assigned
