"""Coverage over a period, from a store with known sessions and gaps: connected share, connections, gaps, longest outage."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.clock import S
from recorder.coverage_report import coverage_report
from recorder.markets import BY_KEY
from recorder.store.base import CoverageRow, GapRow, Store
from tests.conftest import fresh_store, store_kinds

P = 1_800_000_000 * S
"""the period is [P, P + 1000 s)"""
END = P + 1000 * S
HEARTBEAT = 5 * S


def up(ts: int, market: str, conn: str) -> CoverageRow:
    exchange, kind = market.split(".")
    return CoverageRow(ts, exchange, kind, conn, "host:1", "up", "TIA-USDT,ZRO-USDT")


def state(ts: int, market: str, conn: str, what: str) -> CoverageRow:
    exchange, kind = market.split(".")
    return CoverageRow(ts, exchange, kind, conn, "host:1", what, "")


def gap(start_s: int, end_s: int, kind: str, status: str, market: str = "binance.spot") -> GapRow:
    exchange, sort = market.split(".")
    return GapRow(P + start_s * S, P + end_s * S, exchange, sort, "TIA-USDT", kind, "", "", status, 0)


def fill(store: Store) -> None:
    """binance spot: connected from before the period to +300 s, again from +360 s, last heartbeat at +900 s (killed);
    bybit spot: two overlapping shards covering the whole period; okx futures: never connected."""
    store.write_coverage([
        up(P - 100 * S, "binance.spot", "a"), state(P + 100 * S, "binance.spot", "a", "alive"),
        state(P + 300 * S, "binance.spot", "a", "down"),
        up(P + 360 * S, "binance.spot", "b"), state(P + 900 * S, "binance.spot", "b", "alive"),
        up(P, "bybit.spot", "c"), state(P + 600 * S, "bybit.spot", "c", "down"),
        up(P + 500 * S, "bybit.spot", "d"), state(P + 997 * S, "bybit.spot", "d", "alive"),
        state(P + 1200 * S, "bybit.spot", "d", "alive"),
    ])  # fmt: skip
    store.write_gaps([
        gap(300, 360, "disconnect", "backfilled"), gap(400, 401, "id_jump", "partial"), gap(700, 702, "id_jump", "open"),
        gap(905, 1000, "disconnect", "unrecoverable"),
        gap(-5000, -4000, "disconnect", "open"),  # before the period
        gap(10, 20, "id_jump", "open", market="binance.futures"),  # another market
    ])  # fmt: skip
    assert store.wait_visible(30), "every write visible to readers"


@pytest.fixture(params=store_kinds())
def report(request, tmp_path: Path) -> dict:
    with fresh_store(request.param, tmp_path) as store:
        fill(store)
        rows = coverage_report(store, [BY_KEY[k] for k in ("binance.spot", "bybit.spot", "okx.futures")], P, END, HEARTBEAT)
    return {row.key: row for row in rows}


def test_connected_time_is_the_union_of_sessions_a_killed_one_trusted_one_heartbeat_past_its_last(report) -> None:
    binance = report["binance.spot"]
    assert binance.connected_ns == (300 + (905 - 360)) * S
    assert binance.connected_share == pytest.approx(0.845)
    assert binance.connections == 2
    assert binance.longest_outage == (P + 905 * S, END)


def test_overlapping_shards_leave_no_outage(report) -> None:
    bybit = report["bybit.spot"]
    assert (bybit.connected_share, bybit.connections, bybit.longest_outage, bybit.gaps) == (1.0, 2, None, {})


def test_a_market_never_connected_is_one_outage_of_the_whole_period(report) -> None:
    okx = report["okx.futures"]
    assert (okx.connected_share, okx.connections, okx.longest_outage) == (0.0, 0, (P, END))


def test_gaps_of_the_market_in_the_period_by_kind_and_outcome(report) -> None:
    assert report["binance.spot"].gaps == {"disconnect": {"backfilled": 1, "unrecoverable": 1}, "id_jump": {"open": 1, "partial": 1}}
