"""Phemex spot and USDT perpetuals: `trades` (v1, scaled integers) and `trades_p` (v2, decimal text),
a snapshot of the latest trades (up to 1000) on every subscribe, and the products list.

Spot uses the v1 channel: prices are `priceEp` (×10^priceScale, 8 here) and sizes `qtyEv`
(×10^valueScale, 8) — cryptofeed divides the price but not the size. USDT perps use the v2 channel
(`trade_p.subscribe`), which cryptofeed picks for perpetual products that carry no `priceScale`;
perps appear that way under `data.products` and in full under `data.perpProductsV2`, as on the live
API. Phemex trades carry no id.
"""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from simulator.exchanges.model import Coin, Listing, SimTrade, dec, make_listing
from simulator.exchanges.venue import Batch, Message, Route, Venue, json_response, parse_json

if TYPE_CHECKING:
    from simulator.exchanges.server import Connection

SCALE = 8
"""spot priceScale and valueScale."""
RESEND_LIMIT = 1000
MULTIPLIED = {"PEPE": 1000}


def scaled(value: Decimal) -> int:
    return int(value.scaleb(SCALE))


def envelope(products: list[dict[str, Any]], perps: list[dict[str, Any]], currencies: list[str]) -> dict[str, Any]:
    return {"code": 0, "msg": "OK", "data": {
        "ratioScale": 8,
        "currencies": [{"currency": c, "name": c, "code": i, "valueScale": SCALE, "minValueEv": 1,
                        "maxValueEv": 5000000000000000000, "needAddrTag": 0, "status": "Listed", "displayCurrency": c,
                        "inAssetsDisplay": 1, "perpetual": 2, "stableCoin": int(c == "USDT"), "assetsPrecision": 8}
                       for i, c in enumerate(currencies, start=1)],
        "products": products,
        "perpProductsV2": perps,
        "riskLimits": [], "leverages": [], "riskLimitsV2": [], "leveragesV2": [], "leverageMargins": [],
    }}


class PhemexSpot(Venue):
    key = "phemex.spot"
    channel: ClassVar[str] = "trade"
    trades_key: ClassVar[str] = "trades"
    ws_paths: ClassVar[tuple[str, ...]] = ("/", "/ws")
    ts_unit_ns = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sequence = itertools.count(1)

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"s{coin.name}USDT", max_decimals=SCALE)

    def trade_id(self, listing: Listing, n: int) -> None:
        return None

    def product(self, code: int, listing: Listing) -> dict[str, Any]:
        base = listing.listed_base
        return {
            "symbol": listing.native, "code": code, "type": "Spot", "displaySymbol": f"{base} / {listing.quote}",
            "quoteCurrency": listing.quote, "priceScale": SCALE, "ratioScale": 8,
            "pricePrecision": listing.price_decimals, "baseCurrency": base,
            "baseTickSize": f"{dec(listing.step)} {base}", "baseTickSizeEv": scaled(listing.step),
            "quoteTickSize": f"{dec(listing.tick)} {listing.quote}", "quoteTickSizeEv": scaled(listing.tick),
            "minOrderValue": "1 USDT", "minOrderValueEv": 100000000, "maxBaseOrderSize": f"1000000000 {base}",
            "maxBaseOrderSizeEv": 100000000000000000, "maxOrderValue": "5000000 USDT",
            "maxOrderValueEv": 500000000000000, "defaultTakerFee": "0.001", "defaultTakerFeeEr": 100000,
            "defaultMakerFee": "0.001", "defaultMakerFeeEr": 100000, "description": f"{base}/USDT spot trading",
            "status": "Listed", "tipOrderQty": 0, "listTime": 1629072000000, "buyPriceUpperLimitPct": 100,
            "sellPriceLowerLimitPct": 100, "leverage": 5, "valueScale": SCALE,
        }

    def products(self) -> dict[str, Any]:
        listings = list(self.market.listings.values())
        products = [self.product(code, listing) for code, listing in enumerate(listings, start=1001)]
        return envelope(products, [], ["USDT", *(listing.listed_base for listing in listings)])

    # REST
    def rest_routes(self) -> list[Route]:
        return [("GET", "/exchange/public/cfg/v2/products", self._products), ("GET", "/md/trade", self._recent)]

    async def _products(self, request: web.Request) -> web.Response:
        return json_response(self.products())

    async def _recent(self, request: web.Request) -> web.Response:
        listing = self.market.listings.get(request.query.get("symbol", ""))
        if listing is None:
            return json_response({"error": {"code": 6001, "message": "invalid argument"}, "id": 0, "result": None})
        return json_response({"error": None, "id": 0, "result": self.snapshot(listing)[0]})

    # websocket
    def on_message(self, conn: Connection, text: str) -> None:
        request = parse_json(text)
        if request is None:
            conn.send({"error": {"code": 6001, "message": "invalid argument"}, "id": None, "result": None})
            return
        request_id, method, params = request.get("id"), str(request.get("method", "")), request.get("params") or []
        channel, _, action = method.partition(".")
        if method == "server.ping":
            conn.send({"error": None, "id": request_id, "result": "pong"})
        elif channel == self.channel and action == "subscribe" and params and self.market.subscribe(conn, params[0]):
            conn.send({"error": None, "id": request_id, "result": {"status": "success"}})
            message, trades = self.snapshot(self.market.listings[params[0]])
            conn.send(message, trades)
        elif channel == self.channel and action == "unsubscribe":
            for native in params or list(conn.subs):
                self.market.unsubscribe(conn, native)
            conn.send({"error": None, "id": request_id, "result": {"status": "success"}})
        elif channel in ("trade", "trade_p"):
            conn.send({"error": {"code": 6001, "message": "invalid argument"}, "id": request_id, "result": None})
        else:
            conn.send({"error": None, "id": request_id, "result": {"status": "success"}})

    def snapshot(self, listing: Listing) -> tuple[dict[str, Any], list[SimTrade]]:
        """The latest trades, newest first, as resent on every subscribe."""
        trades = self.market.history(listing.native)[-RESEND_LIMIT:]
        return self.message(listing, trades, "snapshot"), trades

    def message(self, listing: Listing, trades: list[SimTrade], kind: str) -> dict[str, Any]:
        rows = [[t.ts_ns, t.side.title(), scaled(t.price), scaled(t.size)] for t in reversed(trades)]
        return {"sequence": next(self._sequence), "symbol": listing.native, self.trades_key: rows, "type": kind}

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        return [(self.message(listing, trades, "incremental"), trades)]

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message[self.trades_key][0], 2


class PhemexPerpetual(PhemexSpot):
    key = "phemex.futures"
    channel = "trade_p"
    trades_key = "trades_p"

    def listing(self, coin: Coin) -> Listing:
        multiplier = MULTIPLIED.get(coin.name, 1)
        listed = f"{multiplier}{coin.name}" if multiplier > 1 else coin.name
        native = f"u{listed}USDT" if listed[0].isdigit() else f"{listed}USDT"
        return make_listing(self.spec, coin, native, listed_base=listed, multiplier=multiplier)

    def product(self, code: int, listing: Listing) -> dict[str, Any]:
        """The perpetual as `data.products` lists it: no scales, which tells cryptofeed to use v2."""
        base = listing.listed_base
        return {
            "symbol": listing.native, "code": code, "type": "PerpetualV2",
            "displaySymbol": f"{base} / {listing.quote}", "indexSymbol": f".{base}USDT",
            "markSymbol": f".M{base}USDT", "fundingRateSymbol": f".{base}USDTFR",
            "fundingRate8hSymbol": f".{base}USDTFR8H", "contractUnderlyingAssets": base,
            "settleCurrency": listing.quote, "quoteCurrency": listing.quote, "tickSize": dec(listing.tick),
            "pricePrecision": listing.price_decimals, "baseCurrency": base, "status": "Listed",
            "listTime": 1669680000000, "majorSymbol": False, "fundingInterval": 28800,
        }

    def perp_product(self, code: int, listing: Listing) -> dict[str, Any]:
        return {
            **self.product(code, listing), "priceScale": 0, "ratioScale": 0, "qtyPrecision": listing.size_decimals,
            "qtyStepSize": dec(listing.step), "minOrderValueRv": "1", "maxOrderQtyRq": "1000000",
            "minPriceRp": dec(listing.tick), "maxPriceRp": "2000000", "maxLeverage": 50, "defaultLeverage": "-10",
            "initMarginEr": 1000000, "maintMarginEr": 500000, "defaultRiskLimitEv": 10000000000,
            "deleverage": True, "makerFeeRateRr": "0.0001", "takerFeeRateRr": "0.0006",
            "description": f"{listing.listed_base}/USDT perpetual contracts, settled in USDT.",
        }

    def products(self) -> dict[str, Any]:
        listings = list(self.market.listings.values())
        numbered = list(enumerate(listings, start=41001))
        return envelope([self.product(code, listing) for code, listing in numbered],
                        [self.perp_product(code, listing) for code, listing in numbered], ["USDT"])

    def rest_routes(self) -> list[Route]:
        return [("GET", "/exchange/public/cfg/v2/products", self._products), ("GET", "/md/v2/trade", self._recent)]

    def message(self, listing: Listing, trades: list[SimTrade], kind: str) -> dict[str, Any]:
        now_ns = time.time_ns()
        rows = [[t.ts_ns, t.side.title(), dec(t.price), dec(t.size)] for t in reversed(trades)]
        return {"dts": now_ns, "mts": now_ns, "sequence": next(self._sequence), "symbol": listing.native,
                self.trades_key: rows, "type": kind}

