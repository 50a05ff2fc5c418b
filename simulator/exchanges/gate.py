"""Gate v4 spot and USDT futures: `spot.trades` (one trade per message) and `futures.trades` (arrays
of contract trades, the size signed by taker side), currency pairs / contracts, trades backfill.

Spot trade times carry a fractional millisecond (`create_time_ms` "1606292218213.4578"), so spot
times are kept to 100 ns; futures sizes are whole contracts of `quanto_multiplier` coins.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from recorder.clock import MS
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


def ms_text(ts_ns: int) -> str:
    """Gate's spot `create_time_ms`: milliseconds with four decimals."""
    return f"{ts_ns // MS}.{ts_ns % MS // 100:04d}"


def not_found(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=f'{{"label":"INVALID_CURRENCY_PAIR","message":"{message}"}}',
                              content_type="application/json")


class GateSpot(Venue):
    key = "gate.spot"
    prefix: ClassVar[str] = "spot"
    ws_paths: ClassVar[tuple[str, ...]] = ("/ws/v4/", "/ws/v4")
    ts_unit_ns = 100

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}_USDT")

    def instrument(self, listing: Listing) -> dict[str, Any]:
        return {
            "id": listing.native, "base": listing.listed_base, "base_name": listing.listed_base,
            "quote": listing.quote, "quote_name": "Tether", "fee": "0.2", "min_base_amount": dec(listing.step),
            "min_quote_amount": "3", "max_base_amount": "", "max_quote_amount": "5000000",
            "amount_precision": listing.size_decimals, "precision": listing.price_decimals,
            "trade_status": "tradable", "sell_start": 0, "buy_start": 0, "delisting_time": 0, "type": "normal",
            "trade_url": f"https://www.gate.io/trade/{listing.native}", "st_tag": False,
        }

    # REST
    def rest_routes(self) -> list[Route]:
        return [("GET", "/api/v4/spot/currency_pairs", self._instruments), ("GET", "/api/v4/spot/trades", self._trades)]

    async def _instruments(self, request: web.Request) -> web.Response:
        return json_response([self.instrument(listing) for listing in self.market.listings.values()])

    async def _trades(self, request: web.Request) -> web.Response:
        """Newest first; with `last_id`, the ids above it (`reverse=true`: below it)."""
        listing = self.market.listings.get(request.query.get("currency_pair", ""))
        if listing is None:
            raise not_found("unknown currency pair")
        limit = clamp_limit(request, 100, 1000)
        last_id = request.query.get("last_id")
        if last_id:
            n = self.ordinal(listing, last_id)
            if request.query.get("reverse") == "true":
                trades = self.market.before(listing.native, n, limit)
            else:
                trades = self.market.since(listing.native, n + 1, limit)
        else:
            trades = self.window(request, listing, limit)
        return json_response([self.rest_trade(listing, t) for t in reversed(trades)])

    def window(self, request: web.Request, listing: Listing, limit: int) -> list[SimTrade]:
        """`from`/`to` in seconds, else the latest trades."""
        start, end = query_int(request, "from"), query_int(request, "to")
        trades = self.market.history(listing.native)
        if start is not None or end is not None:
            lo, hi = (start or 0) * 10**9, (end + 1) * 10**9 if end is not None else 2**63
            trades = [t for t in trades if lo <= t.ts_ns < hi]
        return trades[-limit:]

    @staticmethod
    def rest_trade(listing: Listing, trade: SimTrade) -> dict[str, Any]:
        return {"id": trade.trade_id, "create_time": str(trade.ts_ns // 10**9), "create_time_ms": ms_text(trade.ts_ns),
                "currency_pair": listing.native, "side": trade.side, "role": "taker", "amount": dec(trade.size),
                "price": dec(trade.price), "sequence_id": str(trade.n)}

    # websocket
    def on_message(self, conn: Connection, text: str) -> None:
        request = parse_json(text)
        channel = request.get("channel", "") if request else ""
        event = request.get("event", "") if request else ""
        now_ns = time.time_ns()
        header = {"time": now_ns // 10**9, "time_ms": now_ns // 10**6, "conn_id": conn.id}
        if request is not None and "id" in request:
            header["id"] = request["id"]
        if channel == f"{self.prefix}.ping":
            conn.send({**header, "channel": f"{self.prefix}.pong", "event": "", "result": None})
            return
        if event not in ("subscribe", "unsubscribe"):
            conn.send({**header, "channel": channel, "event": event,
                       "error": {"code": 1, "message": "invalid argument"}, "result": {"status": "failed"}})
            return
        assert request is not None
        payload = request.get("payload") or []
        bad = []
        if channel == f"{self.prefix}.trades":
            for native in payload:
                if event == "unsubscribe":
                    self.market.unsubscribe(conn, native)
                elif not self.market.subscribe(conn, native):
                    bad.append(native)
        reply = {**header, "channel": channel, "event": event, "payload": payload}
        if bad:
            reply.update(error={"code": 2, "message": f"unknown currency pair {','.join(bad)}"}, result={"status": "failed"})
        else:
            reply.update(result={"status": "success"})
        conn.send(reply)

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        now_ns = time.time_ns()
        return [({"time": now_ns // 10**9, "time_ms": now_ns // 10**6, "channel": "spot.trades", "event": "update",
                  "result": {"id": int(t.trade_id or 0), "id_market": t.n, "create_time": t.ts_ns // 10**9,
                             "create_time_ms": ms_text(t.ts_ns), "side": t.side, "currency_pair": listing.native,
                             "amount": dec(t.size), "price": dec(t.price), "range": f"{t.trade_id}-{t.trade_id}"}},
                 [t]) for t in trades]

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message["result"], "price"


class GateFutures(GateSpot):
    key = "gate.futures"
    prefix = "futures"
    ws_paths = ("/v4/ws/usdt",)
    ts_unit_ns = MS

    def listing(self, coin: Coin) -> Listing:
        return make_listing(self.spec, coin, f"{coin.name}_USDT", contract_size=contract_size_for(coin.price),
                            size_decimals=0)

    def instrument(self, listing: Listing) -> dict[str, Any]:
        price = dec(listing.quantize_price(listing.ref_price))
        return {
            "name": listing.native, "type": "direct", "quanto_multiplier": dec(listing.contract_size),
            "ref_discount_rate": "0", "order_price_deviate": "0.2", "maintenance_rate": "0.005", "mark_type": "index",
            "last_price": price, "mark_price": price, "index_price": price, "funding_rate_indicative": "0.0001",
            "mark_price_round": dec(listing.tick), "funding_offset": 0, "in_delisting": False,
            "risk_limit_base": "1000000", "interest_rate": "0.0003", "order_price_round": dec(listing.tick),
            "order_size_min": 1, "ref_rebate_rate": "0.2", "funding_interval": 28800, "risk_limit_step": "1000000",
            "leverage_min": "1", "leverage_max": "100", "risk_limit_max": "8000000", "maker_fee_rate": "-0.0001",
            "taker_fee_rate": "0.00075", "funding_rate": "0.0001", "order_size_max": 1000000,
            "funding_next_apply": 1700000000, "short_users": 100, "config_change_time": 1700000000,
            "trade_size": 1000000, "position_size": 100000, "long_users": 100, "funding_impact_value": "60000",
            "orders_limit": 100, "trade_id": self.first_id(listing), "orderbook_id": 1, "enable_bonus": True,
            "enable_credit": True, "create_time": 1669688556, "funding_cap_ratio": "0.75", "status": "trading",
            "launch_time": 1669688556,
        }

    def rest_routes(self) -> list[Route]:
        return [("GET", "/api/v4/futures/usdt/contracts", self._instruments),
                ("GET", "/api/v4/futures/usdt/trades", self._trades)]

    async def _trades(self, request: web.Request) -> web.Response:
        """Newest first; `last_id` pages back (ids below it)."""
        listing = self.market.listings.get(request.query.get("contract", ""))
        if listing is None:
            raise not_found("unknown contract")
        limit = clamp_limit(request, 100, 1000)
        last_id = request.query.get("last_id")
        if last_id:
            trades = self.market.before(listing.native, self.ordinal(listing, last_id), limit)
        else:
            trades = self.window(request, listing, limit)
        return json_response([self.rest_trade(listing, t) for t in reversed(trades)])

    @staticmethod
    def rest_trade(listing: Listing, trade: SimTrade) -> dict[str, Any]:
        return {"id": int(trade.trade_id or 0), "create_time": trade.ts_ms / 1000, "create_time_ms": trade.ts_ms,
                "contract": listing.native, "size": signed_size(trade), "price": dec(trade.price),
                "is_internal": False}

    def trade_messages(self, listing: Listing, trades: list[SimTrade]) -> Batch:
        now_ns = time.time_ns()
        rows = [{"size": signed_size(t), "id": int(t.trade_id or 0), "create_time": t.ts_ns // 10**9,
                 "create_time_ms": t.ts_ms, "price": dec(t.price), "contract": listing.native, "is_internal": False}
                for t in trades]
        return [({"time": now_ns // 10**9, "time_ms": now_ns // 10**6, "channel": "futures.trades", "event": "update",
                  "result": rows}, trades)]

    def price_slot(self, message: Message) -> tuple[Any, str | int]:
        assert isinstance(message, dict)
        return message["result"][0], "price"


def signed_size(trade: SimTrade) -> int:
    """Whole contracts, negative when the taker sold."""
    return int(trade.size) if trade.side == "buy" else -int(trade.size)
