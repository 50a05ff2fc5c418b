"""Fetch one market's instrument list over REST and parse it with the exchange's parser.

Every failure (transport, HTTP status, non-JSON body, an error envelope as the exchange module's
`rest_error` reads it, a payload without the expected list) raises `InstrumentFetchError` naming the
market and the URL; a bad single entry never does (the parser skips and counts it). The endpoint and
the parser are the exchange module's (`recorder.exchanges`).
"""

from __future__ import annotations

import json
import logging
import ssl as ssl_module
from collections.abc import Mapping
from typing import Any

import aiohttp

from recorder.exchanges import EXCHANGES, market_hooks
from recorder.instruments.common import Endpoint, ParseResult
from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec
from recorder.net_errors import describe_error

LOG = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 30.0
MAX_PAGES = 100
"""a cursor that never ends is a payload error, not a reason to loop forever."""
_HEADERS = {"Accept": "application/json", "User-Agent": "pumpwatch-recorder"}


class InstrumentFetchError(Exception):
    """An instrument list could not be fetched or read; the message names the market and the URL."""

    def __init__(self, market: str, url: str, reason: str) -> None:
        super().__init__(f"{market}: instrument list from {url}: {reason}")
        self.market = market
        self.url = url
        self.reason = reason


def endpoint(spec: MarketSpec) -> Endpoint:
    return market_hooks(spec.exchange, spec.market).instruments


def default_rest_base(spec: MarketSpec) -> str:
    """The venue's public REST base for this market (used when the configuration gives none)."""
    return endpoint(spec).default_base


def parse_payload(spec: MarketSpec, payload: Any) -> ParseResult:
    """Run the market's parser over an already-fetched payload (a list of pages for cursor endpoints)."""
    return market_hooks(spec.exchange, spec.market).parse(payload)


def _dig(payload: Any, dotted: str) -> Any:
    node = payload
    for key in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


async def _get_json(spec: MarketSpec, session: aiohttp.ClientSession, url: str, params: dict[str, str],
                    ssl: ssl_module.SSLContext | None) -> Any:
    shown = url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
    try:
        async with session.get(url, params=params, headers=_HEADERS, ssl=ssl if ssl is not None else True,
                               timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
            body = await response.text()
            if response.status != 200:
                raise InstrumentFetchError(spec.key, shown, f"HTTP {response.status}: {body[:200]!r}")
    except InstrumentFetchError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise InstrumentFetchError(spec.key, shown, describe_error(exc)) from exc
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InstrumentFetchError(spec.key, shown, f"body is not JSON: {body[:200]!r}") from exc
    problem = EXCHANGES[spec.exchange].rest_error(payload)
    if problem:
        raise InstrumentFetchError(spec.key, shown, f"exchange error {problem}")
    return payload


async def fetch_payload(spec: MarketSpec, rest_base: str | None, session: aiohttp.ClientSession,
                        ssl: ssl_module.SSLContext | None = None) -> Any:
    """The raw payload (cursor endpoints: the list of pages, in order)."""
    ep = endpoint(spec)
    base = (rest_base or ep.default_base).rstrip("/")
    url = base + ep.path
    params = dict(ep.params)
    if ep.cursor_field is None:
        return await _get_json(spec, session, url, params, ssl)
    pages: list[Any] = []
    seen: set[str] = set()
    while True:
        page = await _get_json(spec, session, url, params, ssl)
        pages.append(page)
        cursor = _dig(page, ep.cursor_field)
        if not cursor:
            return pages
        if not isinstance(cursor, str) or cursor in seen or len(pages) >= MAX_PAGES:
            raise InstrumentFetchError(spec.key, url, f"pagination does not end (cursor {cursor!r} after {len(pages)} pages)")
        seen.add(cursor)
        params = {**dict(ep.params), "cursor": cursor}


async def fetch_instruments(spec: MarketSpec, rest_base: str | None, session: aiohttp.ClientSession,
                            ssl: ssl_module.SSLContext | None = None) -> list[Instrument]:
    """Fetch and parse one market's instruments: actively trading spot or USDT linear perpetuals.

    `rest_base` is scheme+host[+port] (None: the venue's public base). Skipped entries are logged
    with counts per reason; a payload without any instrument list raises InstrumentFetchError.
    """
    payload = await fetch_payload(spec, rest_base, session, ssl)
    ep = endpoint(spec)
    url = (rest_base or ep.default_base).rstrip("/") + ep.path
    try:
        result = parse_payload(spec, payload)
    except ValueError as exc:
        raise InstrumentFetchError(spec.key, url, f"unexpected payload: {exc}") from exc
    if result.malformed:
        LOG.warning("%s: %d malformed instrument entries skipped (%s); e.g. %s", spec.key, result.malformed,
                    result.summary(), "; ".join(result.examples.values()))
    else:
        LOG.debug("%s: %s", spec.key, result.summary())  # the caller logs the counts when they change
    return result.instruments
