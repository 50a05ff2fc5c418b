"""Against a canned server: bad answers never crash the caller; paging parameters and venue quirks are exact."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from recorder.backfill.base import RateLimit, TokenBucket
from recorder.backfill.fill import BackfillResult, backfill_gap, resolved
from recorder.exchanges import market_hooks
from recorder.instruments.model import Instrument
from recorder.store.base import GapRow

T0 = 1_700_000_000_000  # ms, safely in the past (the normalizer rejects future trades)


def instrument(exchange: str, market: str, **factors: Any) -> Instrument:
    natives = {("binance", "spot"): "TIAUSDT", ("okx", "spot"): "TIA-USDT", ("gate", "futures"): "TIA_USDT",
               ("gate", "spot"): "TIA_USDT",
               ("bybit", "spot"): "TIAUSDT", ("kucoin", "futures"): "TIAUSDTM", ("phemex", "spot"): "sTIAUSDT",
               ("phemex", "futures"): "TIAUSDT"}
    suffix = "-PERP" if market == "futures" else ""
    return Instrument(exchange, market, f"TIA-USDT{suffix}", natives[exchange, market], "TIA", "USDT", **factors)


def id_gap(exchange: str, market: str, first: int, last: int) -> GapRow:
    symbol = "TIA-USDT-PERP" if market == "futures" else "TIA-USDT"
    return GapRow(T0 * 10**6, (T0 + 1000) * 10**6, exchange, market, symbol, "id_jump", str(first), str(last), "open", 0)


def time_gap(exchange: str, market: str, start_ms: int, end_ms: int) -> GapRow:
    symbol = "TIA-USDT-PERP" if market == "futures" else "TIA-USDT"
    return GapRow(start_ms * 10**6, end_ms * 10**6, exchange, market, symbol, "disconnect", "", "", "open", 0)


def agg(trade_id: int, price: str = "5.0", **extra: Any) -> dict:
    return {"a": trade_id, "p": price, "q": "2", "f": trade_id, "l": trade_id, "T": T0 + trade_id, "m": False, **extra}


class Canned:
    """A local HTTP server answering each request with the next canned (status, body) of its path."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, str]]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def add(self, path: str, status: int, body: Any) -> None:
        self.answers.setdefault(path, []).append((status, body if isinstance(body, str) else json.dumps(body)))

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        queue = self.answers.get(request.path) or [(404, "no canned answer")]
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.Response(status=status, text=body, content_type="application/json")

    async def run(self, body: Callable[[str, aiohttp.ClientSession], Any]) -> Any:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        try:
            async with aiohttp.ClientSession() as session:
                return await body(f"http://127.0.0.1:{sock.getsockname()[1]}", session)
        finally:
            await runner.cleanup()


def run(canned: Canned, gap: GapRow, inst: Instrument) -> BackfillResult:
    return asyncio.run(canned.run(lambda base, session: backfill_gap(gap, inst, base, session)))


@pytest.mark.parametrize(("status", "body"), [(500, "oops"), (429, '{"code":-1003,"msg":"Too many requests"}'),
                                              (200, "<html>maintenance</html>"), (200, {"code": -1121, "msg": "Invalid"})])
def test_a_failed_first_request_leaves_the_gap_open_with_the_reason(status, body):
    canned = Canned()
    canned.add("/api/v3/aggTrades", status, body)
    result = run(canned, id_gap("binance", "spot", 10, 12), instrument("binance", "spot"))
    assert (result.rows, result.complete, result.status) == ([], False, "open")
    assert "/api/v3/aggTrades" in result.error


def test_a_failure_part_way_keeps_what_came_back_as_partial():
    canned = Canned()
    canned.add("/api/v3/aggTrades", 200, [agg(i) for i in range(1002, 2002)])
    canned.add("/api/v3/aggTrades", 429, {"code": -1003, "msg": "Too many requests"})
    result = run(canned, id_gap("binance", "spot", 1, 2001), instrument("binance", "spot"))
    assert (len(result.rows), result.complete, result.status) == (1000, False, "partial")
    assert "HTTP 429" in result.error
    assert resolved(id_gap("binance", "spot", 1, 2001), result)._replace(ts=0, end_ts=0) == GapRow(
        0, 0, "binance", "spot", "TIA-USDT", "id_jump", "1", "2001", "partial", 1000)


def test_binance_pages_from_exact_ids():
    canned = Canned()
    canned.add("/api/v3/aggTrades", 200, [agg(i) for i in range(1501, 2501)])
    canned.add("/api/v3/aggTrades", 200, [agg(i) for i in range(1199, 1501)])
    result = run(canned, id_gap("binance", "spot", 1200, 2499), instrument("binance", "spot"))
    assert result.complete and [int(r.trade_id) for r in result.rows] == list(range(1200, 2500))
    assert [q["fromId"] for _, q in canned.requests] == ["1501", "1199"], "one id beyond each end of the range"
    assert [q["limit"] for _, q in canned.requests] == ["1000", "302"]
    assert result.requests == 2


def test_malformed_entries_are_counted_and_leave_the_range_incomplete():
    canned = Canned()
    broken = agg(11)
    del broken["p"]
    canned.add("/api/v3/aggTrades", 200, [agg(10), broken, agg(12, price="-1"), "junk"])
    canned.add("/api/v3/aggTrades", 200, [])
    result = run(canned, id_gap("binance", "spot", 10, 12), instrument("binance", "spot"))
    assert [r.trade_id for r in result.rows] == ["10"]
    assert result.skipped == {"malformed: KeyError": 1, "malformed: TypeError": 1, "rejected: bad_price_or_amount": 1}
    assert not result.complete and result.status == "partial" and not result.error, "id 11 never came back"


def test_gate_futures_size_zero_is_dropped_like_the_live_feed_but_accounts_for_its_id():
    def row(trade_id: int, size: int) -> dict:
        return {"id": trade_id, "create_time": (T0 + trade_id) / 1000, "create_time_ms": T0 + trade_id,
                "contract": "TIA_USDT", "size": size, "price": "5.1"}

    canned = Canned()
    canned.add("/api/v4/futures/usdt/trades", 200, [row(12, -3), row(11, 0), row(10, 2)])
    result = run(canned, id_gap("gate", "futures", 10, 12), instrument("gate", "futures", amount_factor=0.1))
    assert result.complete and result.skipped == {"size 0 (dropped live too)": 1}
    assert [(r.trade_id, r.side, r.amount) for r in result.rows] == [("10", "buy", 0.2), ("12", "sell", pytest.approx(0.3))]
    assert canned.requests[0][1] == {"contract": "TIA_USDT", "limit": "5", "last_id": "14"}


@pytest.mark.parametrize(("exchange", "market", "path", "body"), [
    ("okx", "spot", "/api/v5/market/history-trades", {"code": "51001", "msg": "Instrument ID does not exist", "data": []}),
    ("gate", "futures", "/api/v4/futures/usdt/trades", {"label": "INVALID_CONTRACT", "message": "not found"}),
    ("bybit", "spot", "/v5/market/recent-trade", {"retCode": 10001, "retMsg": "params error", "result": {}}),
    ("kucoin", "futures", "/api/v1/trade/history", {"code": "400100", "msg": "symbol not exists"}),
    ("phemex", "spot", "/md/trade", {"error": {"code": 6001, "message": "invalid argument"}, "id": 0, "result": None}),
    ("phemex", "futures", "/md/v2/trade", {"result": {"trades": []}}),
])
def test_error_envelopes_and_wrong_shapes_become_errors(exchange, market, path, body):
    canned = Canned()
    canned.add(path, 200, body)
    gap = id_gap(exchange, market, 1, 2) if market_hooks(exchange, market).backfill.sequential else time_gap(exchange, market, T0, T0 + 10)
    result = run(canned, gap, instrument(exchange, market))
    assert (result.rows, result.complete, result.status) == ([], False, "open")
    assert result.error


def test_an_empty_recent_answer_proves_nothing():
    canned = Canned()
    canned.add("/v5/market/recent-trade", 200, {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": []}})
    result = run(canned, time_gap("bybit", "spot", T0, T0 + 10), instrument("bybit", "spot"))
    assert (result.complete, result.status, result.error) == (False, "unrecoverable", "")


def test_an_unreachable_exchange_is_an_error_not_a_crash():
    async def go():
        async with aiohttp.ClientSession() as session:
            return await backfill_gap(id_gap("binance", "spot", 1, 2), instrument("binance", "spot"), "http://127.0.0.1:9", session)

    result = asyncio.run(go())
    assert result.status == "open" and "ClientConnectorError" in result.error


def test_a_gap_of_another_market_is_a_caller_bug():
    async def go(gap, inst):
        async with aiohttp.ClientSession() as session:
            return await backfill_gap(gap, inst, "http://127.0.0.1:9", session)

    with pytest.raises(ValueError, match="do not belong"):
        asyncio.run(go(id_gap("binance", "spot", 1, 2), instrument("okx", "spot")))
    with pytest.raises(ValueError, match="above"):
        asyncio.run(go(id_gap("binance", "spot", 5, 2), instrument("binance", "spot")))


def test_status_follows_completeness_rows_and_errors():
    def status(rows: int, complete: bool, error: str = "") -> str:
        return BackfillResult([None] * rows, complete, "", error=error).status  # type: ignore[list-item]

    assert status(3, True) == "backfilled"
    assert status(0, True) == "backfilled", "nothing was missing after all (e.g. every id was a dropped trade)"
    assert status(3, False) == "partial"
    assert status(0, False) == "unrecoverable"
    assert status(0, False, "HTTP 503") == "open"
    assert status(2, False, "HTTP 503") == "partial"


def test_the_token_bucket_allows_a_burst_then_paces():
    now = [100.0]
    bucket = TokenBucket(RateLimit("test", per_second=2.0, burst=3), clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [bucket.reserve() for _ in range(3)] == [0.5, 1.0, 1.5], "queued callers wait their turn"
    now[0] += 1.5
    assert bucket.reserve() == 0.5, "refilled three tokens, all owed"
    now[0] += 100
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5], "an idle bucket refills to its burst only"


def okx_fill(trade_id: int, ms: int, px: str = "5.1", sz: str = "1", side: str = "buy") -> dict:
    return {"instId": "TIA-USDT", "side": side, "sz": sz, "px": px, "source": "0", "tradeId": str(trade_id), "ts": str(ms)}


def test_okx_fills_merge_back_into_the_live_feeds_aggregated_messages():
    """OKX pushes one message per taker order and price (last fill's id, summed size); REST lists the fills."""
    canned = Canned()
    canned.add("/api/v5/market/history-trades", 200, {"code": "0", "msg": "", "data": [
        okx_fill(107, T0 + 5, sz="4"),
        okx_fill(106, T0 + 4, sz="0.25"), okx_fill(105, T0 + 4, sz="0.5"), okx_fill(104, T0 + 4, sz="1.25"),
        okx_fill(103, T0 + 3, px="5.2"), okx_fill(102, T0 + 3, px="5.2", side="sell"), okx_fill(101, T0 + 2),
        okx_fill(100, T0 + 1)]})
    canned.add("/api/v5/market/history-trades", 200, {"code": "0", "msg": "", "data": []})
    # live: 100 (count 1) ... 107 (count 1); the messages 102, 103 and 106 (count 3) were missed
    result = run(canned, id_gap("okx", "spot", 101, 106), instrument("okx", "spot"))
    assert result.complete, result
    assert [(r.trade_id, r.side, r.price, r.amount) for r in result.rows] == [
        ("101", "buy", 5.1, 1.0), ("102", "sell", 5.2, 1.0), ("103", "buy", 5.2, 1.0), ("106", "buy", 5.1, 2.0)]
    assert canned.requests[0][1] == {"instId": "TIA-USDT", "type": "1", "limit": "8", "after": "108"}


def test_okx_an_aggregate_reaching_past_the_range_belongs_to_the_live_message():
    """A detector fed without `span` reports the fills of the next aggregated message as missing: nothing is stored."""
    canned = Canned()
    canned.add("/api/v5/market/history-trades", 200, {"code": "0", "msg": "", "data": [
        okx_fill(105, T0 + 4), okx_fill(104, T0 + 4), okx_fill(103, T0 + 4), okx_fill(102, T0 + 2), okx_fill(101, T0 + 1)]})
    canned.add("/api/v5/market/history-trades", 200, {"code": "0", "msg": "", "data": []})
    # live: 101, then 105 with count 3 (fills 103-105); a span-blind detector says 102..104 are missing
    result = run(canned, id_gap("okx", "spot", 102, 104), instrument("okx", "spot"))
    assert result.complete and [r.trade_id for r in result.rows] == ["102"], result


def test_gate_spot_pages_by_the_all_market_id_and_proves_completeness_by_sequence_id():
    """Gate spot's `id` grows across every pair; `sequence_id` (the websocket's `id_market`) counts this pair."""

    def row(all_market_id: int, sequence_id: int) -> dict:
        return {"id": str(all_market_id), "create_time": "1700000000", "create_time_ms": f"{T0 + sequence_id}.5000",
                "currency_pair": "TIA_USDT", "side": "sell", "role": "", "amount": "3", "price": "5.1",
                "sequence_id": str(sequence_id)}

    canned = Canned()
    canned.add("/api/v4/spot/trades", 200, [row(9_050, 55), row(9_031, 54), row(9_007, 53)])
    canned.add("/api/v4/spot/trades", 200, [row(8_990, 52), row(8_975, 51), row(8_940, 50), row(8_901, 49)])
    result = run(canned, id_gap("gate", "spot", 50, 52), instrument("gate", "spot"))
    assert result.complete, result
    expected = [(trade_id, (T0 + seq) * 10**6 + 500_000) for trade_id, seq in (("8940", 50), ("8975", 51), ("8990", 52))]
    assert [(r.trade_id, r.ts) for r in result.rows] == expected
    assert [q for _, q in canned.requests] == [{"currency_pair": "TIA_USDT", "limit": "1000"},
                                                {"currency_pair": "TIA_USDT", "limit": "1000", "last_id": "9007", "reverse": "true"}]


def test_a_recent_answer_says_how_far_back_it_reaches_in_utc():
    canned = Canned()
    trade = {"execId": "1", "symbol": "TIAUSDT", "price": "5", "size": "2", "side": "Buy", "time": str(T0 + 5), "isBlockTrade": False}
    canned.add("/v5/market/recent-trade", 200, {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": [trade]}})
    result = run(canned, time_gap("bybit", "spot", T0, T0 + 10), instrument("bybit", "spot"))
    assert "the answer reaches back to 2023-11-14T22:13:20.005Z, after the window's start 2023-11-14T22:13:1" in result.note
