"""The contract between the shared market server and one exchange module, plus REST helpers.

An exchange module subclasses `Venue` once per market: class attributes hold the facts (paths,
heartbeat, time resolution), methods hold the wire shapes. The server owns connections,
subscriptions, history and faults, so a venue never tracks sockets itself.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from recorder.clock import MS
from recorder.markets import BY_KEY, MarketSpec
from simulator.exchanges.model import Coin, Listing, SimTrade

if TYPE_CHECKING:
    from simulator.exchanges.server import Connection, MarketServer

Message = dict[str, Any] | list[Any] | str
"""A JSON-able object, or text sent as is."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]
Batch = list[tuple[Message, list[SimTrade]]]
"""Messages for one listing, each with the trades it carries."""


class Venue:
    """One market's wire format."""

    key: ClassVar[str]
    ws_paths: ClassVar[tuple[str, ...]]
    heartbeat: ClassVar[float | None] = None
    """seconds between server-sent protocol pings; None when the exchange expects client pings."""
    ts_unit_ns: ClassVar[int] = MS
    """the resolution of the exchange's trade times (ms for most)."""

    def __init__(self, market: MarketServer) -> None:
        self.market = market
        self.spec: MarketSpec = BY_KEY[self.key]

    # listings and ids
    def listing(self, coin: Coin) -> Listing:
        raise NotImplementedError

    def first_id(self, listing: Listing) -> int:
        """Where a listing's ids start: large and different per listing, like a long-running market."""
        return 100_000_000 + zlib.crc32(f"{self.market.seed}:{listing.native}".encode()) % 900_000_000

    def trade_id(self, listing: Listing, n: int) -> str | None:
        """The id of the listing's n-th trade; sequential by default."""
        return str(self.first_id(listing) + n)

    def ordinal(self, listing: Listing, trade_id: str) -> int:
        """Inverse of the sequential `trade_id`, for REST paging by id."""
        return int(trade_id) - self.first_id(listing)

    # REST
    def rest_routes(self) -> list[Route]:
        raise NotImplementedError

    # websocket
    async def on_open(self, conn: Connection, request: web.Request) -> None:
        """Called once the socket is accepted: welcome messages, URL-borne subscriptions."""

    def on_message(self, conn: Connection, text: str) -> None:
        raise NotImplementedError

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        """The messages that carry `trades` (all of one listing, oldest first), batched as the exchange does."""
        raise NotImplementedError

    def frame(self, state: dict[str, object], message: Message) -> Message:
        """Per-connection wrapping of a trade message (Binance's combined streams); `state`: the connection's facts."""
        return message

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        """Where the first trade's price sits in a trade message, so faults can corrupt it."""
        raise NotImplementedError


# helpers shared by the exchange modules
def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def as_text(message: Message) -> str:
    """A message as the text frame that goes on the socket."""
    return message if isinstance(message, str) else dumps(message)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(obj), status=status, content_type="application/json")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


def clamp_limit(request: web.Request, default: int, maximum: int, name: str = "limit") -> int:
    limit = query_int(request, name, default)
    assert limit is not None
    return max(1, min(limit, maximum))


def parse_json(text: str) -> dict[str, Any] | None:
    """A client frame as a dict, or None when it is not a JSON object."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
