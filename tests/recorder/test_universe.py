"""Universe filtering, the yaml round trip, the previous-list fallback and the Upbit listing tail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from recorder.instruments.model import Instrument
from recorder.markets import market
from recorder.universe import (
    MarketStatus,
    Universe,
    UniverseFileError,
    build_universe,
    read_symbols_yaml,
    refresh,
    write_symbols_yaml,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BINANCE_SPOT = market("binance", "spot")
BINANCE_FUT = market("binance", "futures")
OKX_FUT = market("okx", "futures")


def spot(base, quote="USDT"):
    return Instrument("binance", "spot", f"{base}-{quote}", f"{base}{quote}", base, quote)


def perp(base, listed=None, multiplier=1):
    listed = listed or base
    return Instrument("binance", "futures", f"{listed}-USDT-PERP", f"{listed}USDT", base, "USDT",
                      1 / multiplier, float(multiplier), multiplier)


def okx_perp(base, ct_val):
    return Instrument("okx", "futures", f"{base}-USDT-PERP", f"{base}-USDT-SWAP", base, "USDT", 1.0, ct_val, 1)


def test_build_keeps_coins_not_on_upbit_krw_and_configured_quotes():
    lists = {"binance.spot": [spot("BTC"), spot("TIA"), spot("TIA", "BTC"), spot("NEW")],
             "binance.futures": [perp("PEPE", "1000PEPE", 1000), perp("NEW")]}
    universe = build_universe({"KRW-BTC", "pepe"}, lists, now=T0)
    assert [i.symbol for i in universe.instruments("binance.spot")] == ["NEW-USDT", "TIA-USDT"]
    assert [i.symbol for i in universe.instruments("binance.futures")] == ["NEW-USDT-PERP"]
    both = build_universe({"BTC"}, lists, quotes=("USDT", "BTC"), now=T0)
    assert "TIA-BTC" in {i.symbol for i in both.instruments("binance.spot")}


def test_yaml_round_trip_is_exact_and_readable(tmp_path):
    lists = {"binance.futures": [perp("PEPE", "1000PEPE", 1000), perp("TIA")], "okx.futures": [okx_perp("BTC", 0.01)]}
    universe = build_universe(set(), lists, now=T0)
    universe.krw_listed_seen_at["TIA"] = T0 - timedelta(hours=2)
    universe.status["okx.futures"] = MarketStatus("okx.futures", "previous", 1, 1, "HTTP 503", T0 - timedelta(hours=3))
    path = tmp_path / "symbols.yaml"
    write_symbols_yaml(path, universe, T0)
    text = path.read_text()
    assert text.startswith("# PumpWatch symbol universe. GENERATED")
    assert "# generated_at: 2025-03-01T12:00:00Z" in text
    assert "binance.futures      2" in text and "!! PREVIOUS: HTTP 503" in text
    assert ("{symbol: 1000PEPE-USDT-PERP, native: 1000PEPEUSDT, base: PEPE, quote: USDT, price_factor: 0.001, "
            "amount_factor: 1000.0, multiplier: 1000}") in text
    back = read_symbols_yaml(path)
    assert back.markets == universe.markets
    assert back.krw_listed_seen_at == {"TIA": T0 - timedelta(hours=2)}
    assert back.generated_at == T0
    assert back.status["okx.futures"].source == "previous" and back.status["okx.futures"].fetched_at == T0 - timedelta(hours=3)
    assert yaml.safe_load(text)["version"] == 1


def test_bad_file_names_the_problem(tmp_path):
    path = tmp_path / "symbols.yaml"
    path.write_text("version: 1\ngenerated_at: 2025-03-01T12:00:00Z\nmarkets:\n  binance.spot:\n    instruments:\n    - {symbol: X}\n")
    with pytest.raises(UniverseFileError, match=r"markets\.binance\.spot\.instruments\[0\]"):
        read_symbols_yaml(path)


def fetcher(results):
    async def fetch(spec):
        outcome = results[spec.key]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return fetch


def test_refresh_keeps_previous_list_of_a_failed_market(tmp_path):
    path = tmp_path / "symbols.yaml"
    markets = [BINANCE_SPOT, BINANCE_FUT, OKX_FUT]
    first = {"binance.spot": [spot("TIA"), spot("ABC")], "binance.futures": [perp("TIA")], "okx.futures": [okx_perp("TIA", 1.0)]}
    universe, status = asyncio.run(refresh(path, upbit_krw=set(), fetch=fetcher(first), markets=markets, now=T0))
    assert all(s.ok for s in status.values()) and universe.total == 4

    second = {"binance.spot": [spot("TIA"), spot("ABC"), spot("NEW")], "binance.futures": RuntimeError("HTTP 503"),
              "okx.futures": []}
    later = T0 + timedelta(hours=1)
    universe, status = asyncio.run(refresh(path, upbit_krw=set(), fetch=fetcher(second), markets=markets, now=later))
    assert status["binance.spot"].source == "fetched" and status["binance.spot"].kept == 3
    assert status["binance.futures"].source == "previous" and "HTTP 503" in status["binance.futures"].error
    assert status["binance.futures"].fetched_at == T0 and status["binance.futures"].kept == 1
    assert status["okx.futures"].source == "previous" and "no instrument" in status["okx.futures"].error
    assert [i.symbol for i in universe.instruments("binance.futures")] == ["TIA-USDT-PERP"]
    on_disk = read_symbols_yaml(path)
    assert on_disk.instruments("binance.futures") == universe.instruments("binance.futures")
    assert on_disk.status["binance.futures"].source == "previous"
    assert "!! PREVIOUS" in path.read_text()


def test_refresh_without_previous_list_is_empty_and_failed_not_a_fallback(tmp_path):
    path = tmp_path / "symbols.yaml"
    universe, status = asyncio.run(refresh(path, upbit_krw=set(), fetch=fetcher({"binance.spot": OSError("refused")}),
                                           markets=[BINANCE_SPOT], now=T0))
    assert status["binance.spot"].source == "failed" and universe.instruments("binance.spot") == []


def test_tail_keeps_a_just_listed_coin_for_the_tail_then_drops_it(tmp_path):
    path = tmp_path / "symbols.yaml"
    lists = {"binance.spot": [spot("TIA"), spot("ABC"), spot("BTC")]}
    fetch = fetcher(lists)
    krw = {"BTC"}
    u, _ = asyncio.run(refresh(path, upbit_krw=krw, fetch=fetch, markets=[BINANCE_SPOT], now=T0))
    assert u.coins() == {"TIA", "ABC"} and u.krw_listed_seen_at == {}     # BTC was always on KRW: no tail

    krw = {"BTC", "TIA"}                                                    # TIA gets listed on Upbit KRW
    t1 = T0 + timedelta(hours=1)
    u, _ = asyncio.run(refresh(path, upbit_krw=krw, fetch=fetch, markets=[BINANCE_SPOT], now=t1))
    assert u.coins() == {"TIA", "ABC"} and u.krw_listed_seen_at == {"TIA": t1}
    assert read_symbols_yaml(path).krw_listed_seen_at == {"TIA": t1}

    u, _ = asyncio.run(refresh(path, upbit_krw=krw, fetch=fetch, markets=[BINANCE_SPOT], now=t1 + timedelta(hours=23)))
    assert "TIA" in u.coins() and u.krw_listed_seen_at == {"TIA": t1}      # first-seen time is kept, not renewed

    u, _ = asyncio.run(refresh(path, upbit_krw=krw, fetch=fetch, markets=[BINANCE_SPOT], now=t1 + timedelta(hours=24)))
    assert u.coins() == {"ABC"} and u.krw_listed_seen_at == {}


def test_announced_coin_gets_a_tail_with_a_configurable_length():
    lists = {"binance.spot": [spot("TIA")]}
    announced = {"TIA": T0}
    kept = build_universe({"TIA"}, lists, now=T0 + timedelta(minutes=30), tail=timedelta(hours=1), announced=announced)
    assert kept.coins() == {"TIA"}
    gone = build_universe({"TIA"}, lists, now=T0 + timedelta(hours=1), tail=timedelta(hours=1), announced=announced)
    assert gone.coins() == set()


def test_naive_times_are_rejected():
    with pytest.raises(ValueError):
        build_universe(set(), {}, now=datetime(2025, 1, 1))


def test_universe_accessors():
    u = Universe(T0, markets={"binance.spot": [spot("A"), spot("B")]})
    assert u.total == 2 and u.counts() == {"binance.spot": 2} and u.instruments("nope") == []


def test_missing_upbit_list_reuses_the_stored_one_and_with_none_stored_records_everything_unfiltered(tmp_path):
    path = tmp_path / "symbols.yaml"
    lists = {"binance.spot": [spot("TIA"), spot("BTC")]}
    unfiltered, _ = asyncio.run(refresh(path, upbit_krw=None, fetch=fetcher(lists), markets=[BINANCE_SPOT], now=T0))
    assert unfiltered.coins() == {"TIA", "BTC"} and not unfiltered.filtered and unfiltered.upbit_krw_at is None
    assert "# UNFILTERED" in path.read_text() and not read_symbols_yaml(path).filtered

    later = T0 + timedelta(hours=1)
    asyncio.run(refresh(path, upbit_krw={"KRW-BTC"}, fetch=fetcher(lists), markets=[BINANCE_SPOT], now=later))
    stored = read_symbols_yaml(path)
    assert stored.upbit_krw == {"BTC"} and stored.upbit_krw_at == later
    assert stored.krw_listed_seen_at == {}, "coins recorded while unfiltered were not just listed: no tail for them"

    universe, _ = asyncio.run(refresh(path, upbit_krw=None, fetch=fetcher(lists), markets=[BINANCE_SPOT],
                                      now=later + timedelta(hours=1)))
    assert universe.coins() == {"TIA"} and universe.filtered and universe.upbit_krw_at == later
