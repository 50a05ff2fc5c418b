"""Bybit v5 spot and linear: `publicTrade` arrays, instruments-info with cursor paging, recent-trade.

Spot and linear share symbol names (`C0001USDT`); the websocket path (`/v5/public/spot` or
`/v5/public/linear`) says which, and cryptofeed reads it from the URL's last segment. Linear
instruments page by `nextPageCursor` (cryptofeed asks `limit=1000` once and never follows it);
spot ignores `limit`/`cursor` and returns everything, as Bybit documents. Trade ids are opaque:
numeric strings on spot, UUIDs on linear.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from recorder.clock import MS
from simulator.exchanges.model import Coin, Listing, SimTrade, dec, make_listing
from simulator.exchanges.venue import Batch, Message, Route, Venue, clamp_limit, json_response, parse_json

if TYPE_CHECKING:
    from simulator.exchanges.server import Connection

TRADE_TOPIC = "publicTrade"
MULTIPLIED = {"PEPE": 1000}
ID_NAMESPACE = uuid.UUID("5f0c3a52-8b1e-4c47-9a0e-2d6c1c7e9b10")


def envelope(result: dict[str, Any], code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": time.time_ns() // MS}


class BybitSpot(Venue):
    key = "bybit.spot"
    category: ClassVar[str] = "spot"
    ws_paths: ClassVar[tuple[str, ...]] = ("/v5/public/spot",)
    page_size: ClassVar[tuple[int, int] | None] = None
    """(default, max) instruments per page; None: no paging (spot)."""
    recent_limit: ClassVar[tuple[int, int]] = (60, 60)

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}USDT")

    def trade_id(self, listing: Listing, n: int) -> str:
        return str(self.first_id(listing) * 10**10 + n)

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native,
            "baseCoin": listing.listed_base,
            "quoteCoin": listing.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "none",
            "stTag": "0",
            "lotSizeFilter": {"basePrecision": dec(listing.step), "quotePrecision": "0.00000001",
                              "minOrderQty": dec(listing.step), "maxOrderQty": "9000000", "minOrderAmt": "1",
                              "maxOrderAmt": "4000000"},
            "priceFilter": {"tickSize": dec(listing.tick)},
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        }

    # REST
    def rest_routes(self) -> list[Route]:
        return [("GET", "/v5/market/instruments-info", self._instruments), ("GET", "/v5/market/recent-trade", self._recent)]

    async def _instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "")
        if category not in ("spot", "linear", "inverse", "option"):
            return json_response(envelope({}, 10001, "params error: category is invalid"))
        listings = list(self.market.listings.values()) if category == self.category else []
        if symbol := request.query.get("symbol"):
            listings = [listing for listing in listings if listing.native == symbol]
        cursor = ""
        if self.page_size is not None:
            limit = clamp_limit(request, *self.page_size)
            start = decode_cursor(request.query.get("cursor", ""))
            listings, rest = listings[start : start + limit], listings[start + limit :]
            cursor = encode_cursor(start + limit) if rest else ""
        result = {"category": category, "list": [self.instrument(listing) for listing in listings],
                  "nextPageCursor": cursor}
        return json_response(envelope(result))

    async def _recent(self, request: web.Request) -> web.Response:
        if request.query.get("category") != self.category:
            return json_response(envelope({}, 10001, "params error: category is invalid"))
        listing = self.market.listings.get(request.query.get("symbol", ""))
        if listing is None:
            return json_response(envelope({}, 10001, "params error: Symbol Invalid"))
        trades = self.market.history(listing.native)[-clamp_limit(request, *self.recent_limit) :]
        rows = [{"execId": t.trade_id, "symbol": listing.native, "price": dec(t.price), "size": dec(t.size),
                 "side": t.side.title(), "time": str(t.ts_ms), "isBlockTrade": False, "isRPITrade": False,
                 "seq": str(self.first_id(listing) + t.n)} for t in reversed(trades)]
        return json_response(envelope({"category": self.category, "list": rows}))

    # websocket
    def on_message(self, conn: Connection, text: str) -> None:
        request = parse_json(text)
        op = request.get("op") if request else None
        req_id = request.get("req_id", "") if request else ""
        if op == "ping":
            conn.send(self.pong(conn, req_id))
        elif op in ("subscribe", "unsubscribe"):
            assert request is not None
            bad = []
            for topic in request.get("args") or []:
                channel, _, native = str(topic).partition(".")
                if channel != TRADE_TOPIC:
                    continue
                if op == "unsubscribe":
                    self.market.unsubscribe(conn, native)
                elif not self.market.subscribe(conn, native):
                    bad.append(topic)
            ok = not bad
            conn.send({"success": ok, "ret_msg": "" if ok else f"Invalid symbol :[{','.join(bad)}]",
                       "conn_id": conn.id, "req_id": req_id, "op": op})
        else:
            conn.send({"success": False, "ret_msg": f"Invalid request: {text[:100]}", "conn_id": conn.id, "op": op or ""})

    def pong(self, conn: Connection, req_id: str) -> dict[str, Any]:
        return {"success": True, "ret_msg": "pong", "conn_id": conn.id, "req_id": req_id, "op": "ping"}

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        history = self.market.history(listing.native)
        rows = []
        for trade in trades:
            index = trade.n - history[0].n - 1 if history else -1
            previous = history[index].price if index >= 0 else trade.price
            rows.append(self.row(listing, trade, previous))
        message = {"topic": f"{TRADE_TOPIC}.{listing.native}", "type": "snapshot", "ts": time.time_ns() // MS,
                   "data": rows}
        return [(message, trades)]

    def row(self, listing: Listing, trade: SimTrade, previous_price: Any) -> dict[str, Any]:
        return {"i": trade.trade_id, "T": trade.ts_ms, "p": dec(trade.price), "v": dec(trade.size),
                "S": trade.side.title(), "s": listing.native, "BT": False, "RPI": False,
                "seq": self.first_id(listing) + trade.n}

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message["data"][0], "p"


class BybitLinear(BybitSpot):
    key = "bybit.futures"
    category = "linear"
    ws_paths = ("/v5/public/linear",)
    page_size = (500, 1000)
    recent_limit = (500, 1000)

    def listing(self, coin: Coin) -> Listing:
        multiplier = MULTIPLIED.get(coin.name, 1)
        listed = f"{multiplier}{coin.name}" if multiplier > 1 else coin.name
        return make_listing(self.spec, coin, f"{listed}USDT", listed_base=listed, multiplier=multiplier)

    def trade_id(self, listing: Listing, n: int) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"{self.market.seed}:{listing.native}:{n}"))

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": listing.listed_base,
            "quoteCoin": listing.quote,
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(listing.price_decimals),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "50.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": dec(listing.tick), "maxPrice": "1999999.80", "tickSize": dec(listing.tick)},
            "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": dec(listing.step), "qtyStep": dec(listing.step),
                              "postOnlyMaxOrderQty": "1000000", "maxMktOrderQty": "500000", "minNotionalValue": "5"},
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": listing.quote,
            "copyTrading": "both",
            "upperFundingRate": "0.005",
            "lowerFundingRate": "-0.005",
            "isPreListing": False,
            "preListingInfo": None,
            "displayName": "",
        }

    def pong(self, conn: Connection, req_id: str) -> dict[str, Any]:
        return {"req_id": req_id, "op": "pong", "args": [str(time.time_ns() // MS)], "conn_id": conn.id}

    def row(self, listing: Listing, trade: SimTrade, previous_price: Any) -> dict[str, Any]:
        row = super().row(listing, trade, previous_price)
        row["L"] = "PlusTick" if trade.price > previous_price else "MinusTick" if trade.price < previous_price else "ZeroPlusTick"
        return row


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset={offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset="))
    except ValueError:
        raise web.HTTPBadRequest(text="invalid cursor") from None
