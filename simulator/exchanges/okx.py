"""OKX v5 spot and USDT swaps: `trades` pushes with `data` arrays, instruments, history-trades backfill.

Swap sizes are in contracts of `ctVal` coins (`ctType` linear, settled in USDT), in steps of the
instrument's `lotSz`; the simulator's PEPE swap is `PEPE-USDT-SWAP` with a large `ctVal`, as OKX
lists it (no `1000PEPE`). Clients ping with the text `ping` and get the text `pong`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from simulator.exchanges.model import Coin, Listing, SimTrade, contract_size_for, dec, make_listing
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

TRADE_CHANNEL = "trades"
SWAP_LOT_DECIMALS = 2
"""swap `lotSz` 0.01: contracts divide into hundredths."""


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


class OkxSpot(Venue):
    key = "okx.spot"
    inst_type: ClassVar[str] = "SPOT"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws/v5/public",)

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}-USDT")

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "instType": "SPOT", "instId": listing.native, "uly": "", "instFamily": "", "category": "1",
            "baseCcy": listing.listed_base, "quoteCcy": listing.quote, "settleCcy": "", "ctVal": "", "ctMult": "",
            "ctValCcy": "", "optType": "", "stk": "", "listTime": "1606468572000", "expTime": "", "lever": "10",
            "tickSz": dec(listing.tick), "lotSz": dec(listing.step), "minSz": dec(listing.step), "ctType": "",
            "alias": "", "state": "live", "ruleType": "normal", "maxLmtSz": "9999999999", "maxMktSz": "1000000",
            "maxLmtAmt": "20000000", "maxMktAmt": "1000000", "maxStopSz": "1000000",
        }

    # REST
    def rest_routes(self) -> list[Route]:
        return [
            ("GET", "/api/v5/public/instruments", self._instruments),
            ("GET", "/api/v5/public/underlying", self._underlying),
            ("GET", "/api/v5/market/history-trades", self._history_trades),
            ("GET", "/api/v5/market/trades", self._trades),
        ]

    async def _instruments(self, request: web.Request) -> web.Response:
        inst_type = request.query.get("instType", "")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            return json_response(envelope([], "51000", "Parameter instType error"), status=400)
        listings = list(self.market.listings.values()) if inst_type == self.inst_type else []
        if inst_id := request.query.get("instId"):
            listings = [listing for listing in listings if listing.native == inst_id]
        return json_response(envelope([self.instrument(listing) for listing in listings]))

    async def _underlying(self, request: web.Request) -> web.Response:
        return json_response(envelope([[]]))

    def _listing_or_error(self, request: web.Request) -> Listing:
        listing = self.market.listings.get(request.query.get("instId", ""))
        if listing is None:
            raise web.HTTPBadRequest(text='{"code":"51001","msg":"Instrument ID does not exist","data":[]}',
                                     content_type="application/json")
        return listing

    async def _history_trades(self, request: web.Request) -> web.Response:
        """Newest first; `after` pages back (ids below it), `before` forward (the ids just above it)."""
        listing = self._listing_or_error(request)
        limit = clamp_limit(request, 100, 100)
        after, before = query_int(request, "after"), query_int(request, "before")
        native = listing.native
        if request.query.get("type", "1") == "2":
            trades = self.market.history(native)
            if after is not None:
                trades = [t for t in trades if t.ts_ms < after][-limit:]
            elif before is not None:
                trades = [t for t in trades if t.ts_ms > before][:limit]
            else:
                trades = trades[-limit:]
        elif after is not None:
            trades = self.market.before(native, self.ordinal(listing, str(after)), limit)
        elif before is not None:
            trades = self.market.since(native, self.ordinal(listing, str(before)) + 1, limit)
        else:
            trades = self.market.history(native)[-limit:]
        return json_response(envelope([self.rest_trade(listing, t) for t in reversed(trades)]))

    async def _trades(self, request: web.Request) -> web.Response:
        listing = self._listing_or_error(request)
        trades = self.market.history(listing.native)[-clamp_limit(request, 100, 500) :]
        return json_response(envelope([self.rest_trade(listing, t) for t in reversed(trades)]))

    @staticmethod
    def rest_trade(listing: Listing, trade: SimTrade) -> dict[str, Any]:
        return {"instId": listing.native, "side": trade.side, "sz": dec(trade.size), "px": dec(trade.price),
                "source": "0", "tradeId": trade.trade_id, "ts": str(trade.ts_ms)}

    # websocket
    def on_message(self, conn: Connection, text: str) -> None:
        if text == "ping":
            conn.send("pong")
            return
        request = parse_json(text)
        op = request.get("op") if request else None
        if request is None or op not in ("subscribe", "unsubscribe"):
            conn.send({"event": "error", "code": "60012", "msg": f"Invalid request: {text[:100]}", "connId": conn.id})
            return
        for arg in request.get("args") or []:
            channel, inst_id = arg.get("channel"), arg.get("instId", "")
            if channel == TRADE_CHANNEL and op == "subscribe" and not self.market.subscribe(conn, inst_id):
                conn.send({"event": "error", "code": "60018",
                           "msg": f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist. Please use the "
                                  "correct URL, channel and parameters referring to API document.",
                           "connId": conn.id})
                continue
            if channel == TRADE_CHANNEL and op == "unsubscribe":
                self.market.unsubscribe(conn, inst_id)
            ack = {"event": op, "arg": arg, "connId": conn.id}
            if "id" in request:
                ack["id"] = request["id"]
            conn.send(ack)

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        rows = [{"instId": listing.native, "tradeId": t.trade_id, "px": dec(t.price), "sz": dec(t.size),
                 "side": t.side, "ts": str(t.ts_ms), "count": "1", "source": "0", "seqId": t.n} for t in trades]
        return [({"arg": {"channel": TRADE_CHANNEL, "instId": listing.native}, "data": rows}, trades)]

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message["data"][0], "px"


class OkxSwap(OkxSpot):
    key = "okx.futures"
    inst_type = "SWAP"

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}-USDT-SWAP", contract_size=contract_size_for(coin.price),
                            size_decimals=SWAP_LOT_DECIMALS)

    def instrument(self, listing: Listing) -> dict[str, Any]:
        family = f"{listing.listed_base}-{listing.quote}"
        return {
            "instType": "SWAP", "instId": listing.native, "uly": family, "instFamily": family, "category": "1",
            "baseCcy": "", "quoteCcy": "", "settleCcy": listing.quote, "ctVal": dec(listing.contract_size),
            "ctMult": "1", "ctValCcy": listing.listed_base, "optType": "", "stk": "", "listTime": "1611916828000",
            "expTime": "", "lever": "50", "tickSz": dec(listing.tick), "lotSz": dec(listing.step),
            "minSz": dec(listing.step), "ctType": "linear", "alias": "", "state": "live", "ruleType": "normal",
            "maxLmtSz": "100000000", "maxMktSz": "20000", "maxLmtAmt": "20000000", "maxMktAmt": "",
            "maxStopSz": "20000",
        }
