"""Client pieces for Upbit's announcement list and market list, called by the watcher.

Parsing is pure (`parse_page`, `parse_market_all`) and separate from the HTTP calls, which do one
request each and raise typed errors; `Backoff` turns those errors into a poll delay and a state.
Facts (endpoints, envelope, time stamps) are from FIELD_NOTES §1. Unknown fields are ignored;
`fixed_notices` (pinned notices, never listings) are not read.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeIs

import aiohttp

from recorder import backoff
from recorder.clock import KST

if TYPE_CHECKING:
    from ssl import SSLContext

"""Upbit's time zone; applied to a time stamp that comes without an offset."""

ANNOUNCEMENTS_PATH = "/api/v1/announcements"
MARKET_ALL_PATH = "/v1/market/all"
NOTICE_URL = "https://upbit.com/service_center/notice?id={id}"

PollState = Literal["ok", "rate_limited", "forbidden", "server_error", "timeout", "network_error", "bad_response"]


class UpbitError(Exception):
    """Base of every failure these calls report on purpose."""


class UpbitHTTPError(UpbitError):
    """A status other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class AnnouncementHTTPError(UpbitHTTPError):
    """The announcement list answered with a status other than 200 (429, 403 and 5xx are expected)."""


class AnnouncementFormatError(UpbitError):
    """The announcement list answered 200 with something that is not the documented envelope."""


class MarketListError(UpbitError):
    """`/v1/market/all` answered with something that cannot be trusted as the full market list."""


@dataclass(frozen=True)
class Notice:
    """One announcement; `first_listed_at` is the announcement time (`listed_at` moves on edits)."""

    id: int
    title: str
    category: str | None
    listed_at: datetime
    first_listed_at: datetime
    uuid: str | None
    url: str


@dataclass(frozen=True)
class AnnouncementPage:
    notices: tuple[Notice, ...]
    total_pages: int
    """1 when the field is missing or invalid, so a caller never pages into the unknown."""
    skipped: int
    """Notices dropped as malformed; non-zero means the payload changed shape and deserves a log line."""


def parse_page(payload: bytes | str | object) -> AnnouncementPage:
    """Parse one page: raw bytes/str JSON, or an already decoded object.

    A broken envelope raises `AnnouncementFormatError`; a broken notice is skipped and counted.
    """
    body = _decode(payload, AnnouncementFormatError)
    if not isinstance(body, dict) or body.get("success") is not True:
        raise AnnouncementFormatError("success is not true")
    data = body.get("data")
    if not isinstance(data, dict):
        raise AnnouncementFormatError("missing data")
    raw_notices = data.get("notices")
    if not isinstance(raw_notices, list):
        raise AnnouncementFormatError("missing data.notices")
    parsed = [parse_notice(item) for item in raw_notices]
    notices = tuple(n for n in parsed if n is not None)
    total_pages = data.get("total_pages")
    if not _is_int(total_pages) or total_pages < 0:
        total_pages = 1
    return AnnouncementPage(notices, total_pages, len(parsed) - len(notices))


def parse_notice(item: object) -> Notice | None:
    """One notice, or None when a field the watcher needs is missing or of the wrong type."""
    if not isinstance(item, dict):
        return None
    notice_id, title = item.get("id"), item.get("title")
    category, uuid = item.get("category"), item.get("uuid")
    if not _is_int(notice_id) or notice_id <= 0 or not isinstance(title, str):
        return None
    if not all(value is None or isinstance(value, str) for value in (category, uuid)):
        return None
    listed_at = _parse_time(item.get("listed_at"))
    raw_first = item.get("first_listed_at")
    first_listed_at = listed_at if raw_first is None else _parse_time(raw_first)
    if listed_at is None or first_listed_at is None:
        return None
    return Notice(notice_id, title, category, listed_at, first_listed_at, uuid, NOTICE_URL.format(id=notice_id))


def parse_market_all(payload: bytes | str | object) -> set[str]:
    """Coins on the KRW market (`KRW-BTC` -> `BTC`).

    All or nothing: a partial list would make listed coins look new, so any bad entry raises.
    """
    body = _decode(payload, MarketListError)
    if not isinstance(body, list):
        raise MarketListError("market list is not a JSON array")
    coins = set()
    for entry in body:
        market = entry.get("market") if isinstance(entry, dict) else None
        if not isinstance(market, str) or "-" not in market:
            raise MarketListError(f"bad market entry: {str(entry)[:80]!r}")
        quote, _, base = market.partition("-")
        if quote == "KRW" and base:
            coins.add(base)
    if not coins:
        raise MarketListError("no KRW market in the market list")
    return coins


async def fetch_page(
    session: aiohttp.ClientSession,
    base: str,
    page: int,
    per_page: int = 20,
    ssl: SSLContext | bool | None = None,
) -> AnnouncementPage:
    """GET one page of trade announcements; timeouts and connection errors propagate from aiohttp."""
    params = {"os": "web", "page": str(page), "per_page": str(per_page), "category": "trade"}
    url = base.rstrip("/") + ANNOUNCEMENTS_PATH
    async with session.get(url, params=params, ssl=True if ssl is None else ssl) as response:
        if response.status != 200:
            raise AnnouncementHTTPError(response.status)
        body = await response.read()
    return parse_page(body)


async def fetch_market_all(
    session: aiohttp.ClientSession,
    api_base: str,
    ssl: SSLContext | bool | None = None,
) -> set[str]:
    """GET the market list and return the coins already on the KRW market."""
    url = api_base.rstrip("/") + MARKET_ALL_PATH
    async with session.get(url, ssl=True if ssl is None else ssl) as response:
        if response.status != 200:
            raise UpbitHTTPError(response.status)
        body = await response.read()
    return parse_market_all(body)


def classify_error(error: BaseException) -> PollState | None:
    """The poll state a failed request puts the watcher in; None for errors that are bugs, not outages."""
    if isinstance(error, UpbitHTTPError):
        if error.status == 429:
            return "rate_limited"
        if error.status == 403:
            return "forbidden"
        return "server_error" if error.status >= 500 else "bad_response"
    if isinstance(error, TimeoutError):  # asyncio.TimeoutError and aiohttp's timeouts included
        return "timeout"
    if isinstance(error, aiohttp.ClientError):
        return "network_error"
    if isinstance(error, UpbitError):
        return "bad_response"
    return None


@dataclass(frozen=True)
class StateChange:
    """Returned once per change of poll state, so the caller logs one line, not one per request."""

    previous: PollState
    current: PollState
    failures: int
    """Consecutive failed polls including this one; 0 on recovery."""


class Backoff:
    """Poll delay with jitter, doubling per consecutive failure up to `max_interval`, and the poll state.

    The delay is the shared `recorder.backoff.Backoff` with `interval` as the wait after a success.
    Pure: it never sleeps and takes its randomness from `rand` (uniform in [0, 1)), so tests
    are deterministic. Call `record` after each poll, then sleep `next_delay()`.
    """

    def __init__(
        self,
        interval: float,
        max_interval: float = 60.0,
        jitter: float = 0.1,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if interval <= 0 or max_interval < interval or not 0 <= jitter < 1:
            raise ValueError("need 0 < interval <= max_interval and 0 <= jitter < 1")
        self.interval = interval
        self.max_interval = max_interval
        self.jitter = jitter
        self._delays = backoff.Backoff(base=interval, cap=max_interval, jitter=(1 - jitter, 1.0), immediate_retry=False, rand=rand)
        self.state: PollState = "ok"

    @property
    def failures(self) -> int:
        return self._delays.failures

    def record(self, state: PollState) -> StateChange | None:
        """Record the outcome of one poll; returns the change when the state differs from the last one."""
        previous = self.state
        if state == "ok":
            self._delays.succeeded()
        else:
            self._delays.failed()
        self.state = state
        return None if state == previous else StateChange(previous, state, self.failures)

    def next_delay(self) -> float:
        """Seconds until the next poll: interval × 2^failures (at most max_interval), shortened by up to `jitter`.

        Jitter only shortens the wait, so the configured interval is an upper bound and a notice is
        seen at most one interval (plus the request) after it appears.
        """
        return self._delays.delay()


def _decode(payload: bytes | str | object, error: type[UpbitError]) -> Any:
    if not isinstance(payload, (bytes, bytearray, str)):
        return payload
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise error(f"not JSON: {type(exc).__name__}") from None


def _is_int(value: object) -> TypeIs[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=KST)
