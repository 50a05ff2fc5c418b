"""A fake Upbit: the announcement list and the market list on their real paths and shapes.

Tests, the demo and benchmarks drive it (`publish`, `edit`, `fail_next`) to exercise the watcher
without touching Upbit. One server plays both hosts (api-manager.upbit.com and api.upbit.com), so
`base_url` is both the announcements base and the API base. Run it alone with
`python -m simulator.upbit --port 8081`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from aiohttp import web

from recorder.clock import KST
from recorder.upbit.announcements import ANNOUNCEMENTS_PATH, MARKET_ALL_PATH

Failure = int | Literal["garbage"]

REQUIRED_PARAMS = frozenset({"os", "page", "per_page", "category"})
"""Without these the real endpoint answers 400."""

CATEGORY_LABELS = {"trade": "거래"}
"""Query value -> the Korean `category` notices carry; `all` returns every category."""

OTHER_MARKETS = ("BTC-ETH", "BTC-XRP", "USDT-BTC", "USDT-ETH")
"""Non-KRW markets served alongside the KRW ones, so clients must filter by quote."""

GARBAGE = "<html><body>upstream temporarily unavailable</body></html>"


class FakeUpbit:
    """In-process fake of Upbit's announcement and market-list endpoints."""

    def __init__(self, krw_coins: Iterable[str] = ("BTC", "ETH", "XRP")) -> None:
        self._notices: dict[int, dict[str, Any]] = {}
        self._raw: list[object] = []
        self._krw_coins = list(krw_coins)
        self._failures: deque[Failure] = deque()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.requests = 0
        """Requests received on any path, failed ones included."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: an ephemeral port) and return the base URL."""
        app = web.Application()
        app.router.add_get(ANNOUNCEMENTS_PATH, self._announcements)
        app.router.add_get(MARKET_ALL_PATH, self._market_all)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._url = None

    @property
    def base_url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeUpbit is not started")
        return self._url

    def publish(self, title: str, at: datetime | None = None, id: int | None = None, category: str = "거래") -> int:
        """Post a notice (first_listed_at = listed_at = `at`, default now) and return its id."""
        notice_id = max(self._notices, default=0) + 1 if id is None else id
        if notice_id in self._notices:
            raise ValueError(f"notice {notice_id} exists")
        stamp = _stamp(at)
        self._notices[notice_id] = {
            "id": notice_id,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-upbit/{notice_id}")),
            "title": title,
            "category": category,
            "listed_at": stamp,
            "first_listed_at": stamp,
            "need_new_badge": True,
            "need_update_badge": False,
        }
        return notice_id

    def edit(self, id: int, new_title_tail: str, at: datetime | None = None) -> None:
        """Edit like Upbit does: append a tail, re-stamp listed_at, keep first_listed_at."""
        notice = self._notices[id]
        notice["title"] = f"{notice['title']} {new_title_tail.strip()}"
        notice["listed_at"] = _stamp(at)
        notice["need_update_badge"] = True

    def publish_raw(self, notice: object) -> None:
        """Serve `notice` verbatim ahead of the sorted notices (to test malformed entries)."""
        self._raw.append(notice)

    def set_krw_markets(self, coins: Iterable[str]) -> None:
        self._krw_coins = list(coins)

    def fail_next(self, n: int, status: Failure) -> None:
        """Answer the next `n` requests (any path) with `status` (e.g. 429, 403, 500) or non-JSON 200."""
        self._failures.extend([status] * n)

    def _begin_request(self) -> web.Response | None:
        """Count the request; return the queued failure to answer with, if any."""
        self.requests += 1
        if not self._failures:
            return None
        failure = self._failures.popleft()
        if failure == "garbage":
            return web.Response(text=GARBAGE, content_type="text/html")
        return web.Response(status=failure, text=f"HTTP {failure}")

    async def _announcements(self, request: web.Request) -> web.Response:
        if failure := self._begin_request():
            return failure
        query = request.query
        if not REQUIRED_PARAMS.issubset(query.keys()):
            return _bad_request("os, page, per_page and category are required")
        try:
            page, per_page = int(query["page"]), int(query["per_page"])
        except ValueError:
            return _bad_request("page and per_page must be integers")
        category = query["category"]
        if page < 1 or per_page < 1:
            return _bad_request("page and per_page must be positive")
        label = CATEGORY_LABELS.get(category, category)
        notices = sorted(
            (n for n in self._notices.values() if category == "all" or n["category"] == label),
            key=lambda n: (datetime.fromisoformat(n["listed_at"]), n["id"]),
            reverse=True,
        )
        listing: list[object] = [*self._raw, *notices]
        data = {
            "total_pages": math.ceil(len(listing) / per_page),
            "total_count": len(listing),
            "notices": listing[(page - 1) * per_page : page * per_page],
            "fixed_notices": [],
        }
        return web.json_response({"success": True, "data": data}, dumps=_dumps)

    async def _market_all(self, request: web.Request) -> web.Response:
        if failure := self._begin_request():
            return failure
        markets = [f"KRW-{coin}" for coin in self._krw_coins] + list(OTHER_MARKETS)
        body = [{"market": m, "korean_name": m.partition("-")[2], "english_name": m.partition("-")[2]} for m in markets]
        return web.json_response(body, dumps=_dumps)


def _stamp(at: datetime | None) -> str:
    """Upbit's time stamp: second precision, +09:00."""
    if at is None:
        at = datetime.now(KST)
    if at.tzinfo is None:
        raise ValueError("notice times must be timezone-aware")
    return at.astimezone(KST).replace(microsecond=0).isoformat()


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _bad_request(message: str) -> web.Response:
    body = {"success": False, "data": None, "error": {"code": "invalid_parameter", "message": message}}
    return web.json_response(body, status=400, dumps=_dumps)


async def _serve(host: str, port: int, titles: list[str]) -> None:
    fake = FakeUpbit()
    for title in titles:
        fake.publish(title)
    print(await fake.start(host, port), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--title", action="append", default=[], help="publish this notice at start (repeatable)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.title))


if __name__ == "__main__":
    main()
