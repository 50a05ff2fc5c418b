"""KuCoin spot and futures as cryptofeed 3.0.1 speaks to them: the UTA push protocol, no token.

cryptofeed connects straight to `wss://x-push-spot.kucoin.com` / `x-push-futures` (path `/`), waits
for nothing, subscribes one `{"action": "subscribe", "channel": "trade", "tradeType", "symbol"}` per
symbol and pings with `{"type": "ping"}`; trades arrive one per message as
`{"T": "trade.SPOT", "P": <ns>, "d": {...}}`. Futures sizes are lots of `multiplier` coins, and
bitcoin is `XBT` there (`XBTUSDTM`). REST serves the classic symbol lists and recent trades.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from simulator.exchanges.model import Coin, Listing, SimTrade, contract_size_for, dec, make_listing
from simulator.exchanges.venue import Batch, Message, Route, Venue, json_response, parse_json

if TYPE_CHECKING:
    from simulator.exchanges.server import Connection

TRADE_CHANNEL = "trade"
RECENT_LIMIT = 100
LISTED_AS = {"BTC": "XBT"}
"""futures base names that differ from the coin's ticker."""


def envelope(data: Any) -> dict[str, Any]:
    return {"code": "200000", "data": data}


class KucoinSpot(Venue):
    key = "kucoin.spot"
    trade_type: ClassVar[str] = "SPOT"
    ws_paths: ClassVar[tuple[str, ...]] = ("/",)

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}-USDT")

    def trade_id(self, listing: Listing, n: int) -> str:
        return str(self.first_id(listing) * 10**8 + 3 * n)

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native, "name": listing.native, "baseCurrency": listing.listed_base,
            "quoteCurrency": listing.quote, "feeCurrency": listing.quote, "market": "USDS",
            "baseMinSize": dec(listing.step), "quoteMinSize": "0.1", "baseMaxSize": "10000000000",
            "quoteMaxSize": "99999999", "baseIncrement": dec(listing.step), "quoteIncrement": "0.000001",
            "priceIncrement": dec(listing.tick), "priceLimitRate": "0.1", "minFunds": "0.1",
            "isMarginEnabled": False, "enableTrading": True, "feeCategory": 1, "makerFeeCoefficient": "1.00",
            "takerFeeCoefficient": "1.00", "st": False, "callauctionIsEnabled": False,
        }

    # REST
    def rest_routes(self) -> list[Route]:
        return [("GET", "/api/v1/symbols", self._symbols), ("GET", "/api/v1/market/histories", self._recent)]

    async def _symbols(self, request: web.Request) -> web.Response:
        return json_response(envelope([self.instrument(listing) for listing in self.market.listings.values()]))

    def _recent_listing(self, request: web.Request) -> Listing:
        listing = self.market.listings.get(request.query.get("symbol", ""))
        if listing is None:
            raise web.HTTPBadRequest(text='{"code":"400100","msg":"symbol not exists"}', content_type="application/json")
        return listing

    async def _recent(self, request: web.Request) -> web.Response:
        listing = self._recent_listing(request)
        trades = self.market.history(listing.native)[-RECENT_LIMIT:]
        return json_response(envelope([{"sequence": t.trade_id, "price": dec(t.price), "size": dec(t.size),
                                        "side": t.side, "time": t.ts_ns} for t in trades]))

    # websocket
    async def on_open(self, conn: Connection, request: web.Request) -> None:
        conn.send({"sessionId": conn.id, "message": "welcome", "pingInterval": 18000, "pingTimeout": 10000})

    def on_message(self, conn: Connection, text: str) -> None:
        request = parse_json(text)
        if request is None:
            conn.send({"type": "error", "code": 400, "message": "invalid json"})
            return
        request_id = request.get("id")
        if request.get("type") == "ping":
            conn.send({"id": request_id, "type": "pong", "ts": str(time.time_ns())})
            return
        action = str(request.get("action", "")).lower()
        if action not in ("subscribe", "unsubscribe"):
            conn.send({"id": request_id, "result": False, "message": f"unknown action {action!r}"})
            return
        if request.get("channel") != TRADE_CHANNEL:
            conn.send({"id": request_id, "result": True})
            return
        if request.get("tradeType") != self.trade_type:
            conn.send({"id": request_id, "result": False, "message": f"tradeType must be {self.trade_type}"})
            return
        symbols = request.get("symbols") or [request.get("symbol", "")]
        if action == "unsubscribe":
            for symbol in symbols:
                self.market.unsubscribe(conn, symbol)
            conn.send({"id": request_id, "result": True})
            return
        bad = [symbol for symbol in symbols if not self.market.subscribe(conn, symbol)]
        conn.send({"id": request_id, "result": not bad, **({"message": f"invalid symbol {bad}"} if bad else {})})

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        push_ns = time.time_ns()
        return [({"T": f"{TRADE_CHANNEL}.{self.trade_type}", "P": push_ns,
                  "d": {"E": self.first_id(listing) + t.n, "M": t.ts_ns, "S": t.side, "p": dec(t.price),
                        "q": dec(t.size), "s": listing.native, "ti": t.trade_id}}, [t]) for t in trades]

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message["d"], "p"


class KucoinFutures(KucoinSpot):
    key = "kucoin.futures"
    trade_type = "FUTURES"

    def listing(self, coin: Coin) -> Listing:
        listed = LISTED_AS.get(coin.name, coin.name)
        return make_listing(self.spec, coin, f"{listed}USDTM", listed_base=listed,
                            contract_size=contract_size_for(coin.price), size_decimals=0)

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "symbol": listing.native, "rootSymbol": listing.quote, "type": "FFWCSX", "firstOpenDate": 1585555200000,
            "expireDate": None, "settleDate": None, "baseCurrency": listing.listed_base,
            "quoteCurrency": listing.quote, "settleCurrency": listing.quote, "maxOrderQty": 1000000,
            "maxPrice": 1000000.0, "lotSize": 1, "tickSize": float(listing.tick), "indexPriceTickSize": float(listing.tick),
            "multiplier": float(listing.contract_size), "initialMargin": 0.014, "maintainMargin": 0.007,
            "maxRiskLimit": 100000, "minRiskLimit": 100000, "riskStep": 50000, "makerFeeRate": 0.0002,
            "takerFeeRate": 0.0006, "takerFixFee": 0.0, "makerFixFee": 0.0, "settlementFee": None,
            "isDeleverage": True, "isQuanto": False, "isInverse": False, "markMethod": "FairPrice",
            "fairMethod": "FundingRate", "fundingBaseSymbol": f".{listing.listed_base}INT8H",
            "fundingQuoteSymbol": ".USDTINT8H", "fundingRateSymbol": f".{listing.native}FPI8H",
            "indexSymbol": f".K{listing.listed_base}USDT", "settlementSymbol": "", "status": "Open",
            "fundingFeeRate": 0.0001, "predictedFundingFeeRate": 0.0001, "fundingRateGranularity": 28800000,
            "openInterest": "1000000", "turnoverOf24h": 1.0e7, "volumeOf24h": 1.0e6, "markPrice": listing.ref_price,
            "indexPrice": listing.ref_price, "lastTradePrice": listing.ref_price, "nextFundingRateTime": 1000000,
            "maxLeverage": 75, "supportCross": True, "buyLimit": 0, "sellLimit": 0,
        }

    def rest_routes(self) -> list[Route]:
        return [("GET", "/api/v1/contracts/active", self._symbols), ("GET", "/api/v1/trade/history", self._recent)]

    async def _recent(self, request: web.Request) -> web.Response:
        listing = self._recent_listing(request)
        trades = self.market.history(listing.native)[-RECENT_LIMIT:]
        return json_response(envelope([{"sequence": self.first_id(listing) + t.n, "contractId": 1,
                                        "tradeId": t.trade_id, "makerOrderId": f"m{t.trade_id}",
                                        "takerOrderId": f"t{t.trade_id}", "ts": t.ts_ns, "size": int(t.size),
                                        "price": dec(t.price), "side": t.side} for t in reversed(trades)]))
