"""Binance spot and USDT-M futures: aggTrade streams, exchangeInfo, aggTrades backfill.

Subscriptions come in the URL (`/stream?streams=c0001usdt@aggTrade/...`, what cryptofeed uses)
or as `SUBSCRIBE` requests; every trade is its own aggTrade event (one taker order at one price),
wrapped as `{"stream", "data"}` on combined streams. The server pings; clients answer with pongs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from recorder.clock import MS
from simulator.exchanges.model import Coin, Listing, SimTrade, dec, make_listing
from simulator.exchanges.venue import (
    Batch,
    Message,
    Route,
    Venue,
    clamp_limit,
    json_response,
    parse_json,
    query_int,
)

if TYPE_CHECKING:
    from simulator.exchanges.server import Connection

TRADE_STREAM = "aggTrade"
MULTIPLIED = {"PEPE": 1000}
"""coins Binance futures lists per 1000 (`1000PEPEUSDT`)."""


class BinanceSpot(Venue):
    key = "binance.spot"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws", "/ws/{streams:.+}", "/stream")
    heartbeat = 20.0
    info_path: ClassVar[str] = "/api/v3/exchangeInfo"
    trades_path: ClassVar[str] = "/api/v3/aggTrades"

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}USDT")

    def symbol_info(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native,
            "status": "TRADING",
            "baseAsset": listing.listed_base,
            "baseAssetPrecision": 8,
            "quoteAsset": listing.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": self.filters(listing),
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        }

    @staticmethod
    def filters(listing: Listing) -> list[dict[str, Any]]:
        return [
            {"filterType": "PRICE_FILTER", "minPrice": dec(listing.tick), "maxPrice": "1000000.00000000",
             "tickSize": dec(listing.tick)},
            {"filterType": "LOT_SIZE", "minQty": dec(listing.step), "maxQty": "9000000.00000000",
             "stepSize": dec(listing.step)},
        ]

    # REST
    def rest_routes(self) -> list[Route]:
        return [("GET", self.info_path, self._exchange_info), ("GET", self.trades_path, self._agg_trades)]

    async def _exchange_info(self, request: web.Request) -> web.Response:
        return json_response({
            "timezone": "UTC",
            "serverTime": time.time_ns() // MS,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [],
            "symbols": [self.symbol_info(listing) for listing in self.market.listings.values()],
        })

    async def _agg_trades(self, request: web.Request) -> web.Response:
        listing = self.market.listings.get(request.query.get("symbol", ""))
        if listing is None:
            return json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = clamp_limit(request, 500, 1000)
        from_id = query_int(request, "fromId")
        start, end = query_int(request, "startTime"), query_int(request, "endTime")
        if from_id is not None:
            trades = self.market.since(listing.native, self.ordinal(listing, str(from_id)), limit)
        elif start is not None or end is not None:
            lo, hi = start or 0, end if end is not None else 2**63
            trades = [t for t in self.market.history(listing.native) if lo <= t.ts_ms <= hi][:limit]
        else:
            trades = self.market.history(listing.native)[-limit:]
        return json_response([self.rest_trade(t) for t in trades])

    def rest_trade(self, trade: SimTrade) -> dict[str, Any]:
        agg_id = int(trade.trade_id or 0)
        return {"a": agg_id, "p": dec(trade.price), "q": dec(trade.size), "f": agg_id, "l": agg_id,
                "T": trade.ts_ms, "m": trade.side == "sell", "M": True}

    # websocket
    async def on_open(self, conn: Connection, request: web.Request) -> None:
        conn.state["combined"] = request.path.endswith("/stream")
        streams = request.query.get("streams") or request.match_info.get("streams", "")
        for stream in filter(None, streams.split("/")):
            self._subscribe_stream(conn, stream)

    def _subscribe_stream(self, conn: Connection, stream: str) -> None:
        symbol, _, channel = stream.partition("@")
        if channel == TRADE_STREAM:
            self.market.subscribe(conn, symbol.upper())

    def on_message(self, conn: Connection, text: str) -> None:
        request = parse_json(text)
        if request is None or "method" not in request:
            conn.send({"error": {"code": 3, "msg": "Invalid JSON: expected an object with a method"}})
            return
        method, params = request["method"], request.get("params") or []
        if method == "SUBSCRIBE":
            for stream in params:
                self._subscribe_stream(conn, stream)
            conn.send({"result": None, "id": request.get("id")})
        elif method == "UNSUBSCRIBE":
            for stream in params:
                symbol, _, channel = stream.partition("@")
                if channel == TRADE_STREAM:
                    self.market.unsubscribe(conn, symbol.upper())
            conn.send({"result": None, "id": request.get("id")})
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send({"result": [f"{s.lower()}@{TRADE_STREAM}" for s in sorted(conn.subs)], "id": request.get("id")})
        else:
            conn.send({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": request.get("id")})

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        event_ms = time.time_ns() // MS
        return [(self.event(listing, trade, event_ms), [trade]) for trade in trades]

    def event(self, listing: Listing, trade: SimTrade, event_ms: int) -> dict[str, Any]:
        agg_id = int(trade.trade_id or 0)
        return {"e": "aggTrade", "E": event_ms, "s": listing.native, "a": agg_id, "p": dec(trade.price),
                "q": dec(trade.size), "f": agg_id, "l": agg_id, "T": trade.ts_ms, "m": trade.side == "sell", "M": True}

    def frame(self, state: dict[str, object], message: Message) -> Message:
        if not state.get("combined") or not isinstance(message, dict):
            return message
        return {"stream": f"{message['s'].lower()}@{TRADE_STREAM}", "data": message}

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        return message, "p"


class BinanceFutures(BinanceSpot):
    """USDT-M: the same stream format on `/market/stream` (cryptofeed's route for aggTrade), and
    `1000PEPE`-style listings quoted per 1000 coins."""

    key = "binance.futures"
    ws_paths: ClassVar[tuple[str, ...]] = tuple(
        f"{prefix}{path}" for prefix in ("", "/market", "/public") for path in ("/ws", "/ws/{streams:.+}", "/stream")
    )
    heartbeat = 60.0
    info_path = "/fapi/v1/exchangeInfo"
    trades_path = "/fapi/v1/aggTrades"

    def listing(self, coin: Coin) -> Listing:
        multiplier = MULTIPLIED.get(coin.name, 1)
        listed = f"{multiplier}{coin.name}" if multiplier > 1 else coin.name
        return make_listing(self.spec, coin, f"{listed}USDT", listed_base=listed, multiplier=multiplier)

    def symbol_info(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native,
            "pair": listing.native,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": listing.listed_base,
            "quoteAsset": listing.quote,
            "marginAsset": listing.quote,
            "pricePrecision": listing.price_decimals,
            "quantityPrecision": listing.size_decimals,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "filters": self.filters(listing),
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    def rest_trade(self, trade: SimTrade) -> dict[str, Any]:
        record = super().rest_trade(trade)
        del record["M"]
        return record

    def event(self, listing: Listing, trade: SimTrade, event_ms: int) -> dict[str, Any]:
        event = super().event(listing, trade, event_ms)
        del event["M"]
        return event
