"""Gate: instrument parsing and factors against the real cryptofeed, and REST backfill.

Instruments: Gate spot and USDT perpetual instruments (quanto_multiplier), factors against the real cryptofeed.
Backfill: Gate spot and USDT futures: a held-back run of trades is detected live and recovered exactly by id (last_id).
"""

from __future__ import annotations

import asyncio
import math

from recorder.exchanges import gate
from recorder.markets import market
from tests.recorder.backfill.scenario import sequential_markets


def pair(pid, status="tradable"):
    base, quote = pid.split("_")
    return {"id": pid, "base": base, "base_name": base.title(), "quote": quote, "quote_name": "Tether", "fee": "0.2",
            "min_base_amount": "0.001", "min_quote_amount": "1.0", "max_base_amount": "10000", "max_quote_amount": "10000000",
            "amount_precision": 3, "precision": 6, "trade_status": status, "sell_start": 1516378650, "buy_start": 1516378650,
            "delisting_time": 0, "trade_url": f"https://www.gate.io/trade/{pid}", "st_tag": False}


def contract(name, quanto, *, delisting=False, status="trading", kind="direct"):
    return {"name": name, "type": kind, "quanto_multiplier": quanto, "ref_discount_rate": "0", "order_price_deviate": "0.5",
            "maintenance_rate": "0.005", "mark_type": "index", "last_price": "38026", "mark_price": "37985.6",
            "index_price": "37954.92", "funding_rate_indicative": "0.000219", "mark_price_round": "0.01", "funding_offset": 0,
            "in_delisting": delisting, "risk_limit_base": "1000000", "interest_rate": "0.0003", "order_price_round": "0.1",
            "order_size_min": 1, "ref_rebate_rate": "0.2", "funding_interval": 28800, "risk_limit_step": "1000000",
            "leverage_min": "1", "leverage_max": "100", "risk_limit_max": "8000000", "maker_fee_rate": "-0.00025",
            "taker_fee_rate": "0.00075", "funding_rate": "0.002053", "order_size_max": 1000000, "funding_next_apply": 1610035200,
            "short_users": 977, "config_change_time": 1609899548, "trade_size": 28530850594, "position_size": 5223816,
            "long_users": 455, "funding_impact_value": "60000", "orders_limit": 50, "trade_id": 10851092,
            "orderbook_id": 2129638396, "enable_bonus": True, "enable_credit": True, "create_time": 1669688556,
            "funding_cap_ratio": "0.75", "status": status}


PAIRS = [pair("BTC_USDT"), pair("ETH_BTC"), pair("OLD_USDT", status="untradable"), pair("SELL_USDT", status="sellable"),
         {"id": "NOQUOTE_USDT", "base": "NOQUOTE", "trade_status": "tradable"}]
CONTRACTS = [contract("BTC_USDT", "0.0001"), contract("PEPE_USDT", "10000000"), contract("1000SATS_USDT", "100"),
             contract("CB_USDT", "1", status="circuit_breaker"), contract("OLD_USDT", "1", delisting=True),
             contract("PRE_USDT", "1", status="prelaunch"), contract("BTC_USD", "1", kind="inverse"),
             {**contract("BAD_USDT", "1"), "quanto_multiplier": None}]


def test_spot_tradable_only():
    result = gate.parse_spot(PAIRS)
    assert [i.symbol for i in result.instruments] == ["BTC-USDT", "ETH-BTC"]
    assert result.skipped == {"not_trading": 2, "malformed": 1}


def test_futures():
    result = gate.parse_futures(CONTRACTS)
    got = {i.symbol: i for i in result.instruments}
    assert set(got) == {"BTC-USDT-PERP", "PEPE-USDT-PERP", "1000SATS-USDT-PERP", "CB-USDT-PERP"}
    assert got["BTC-USDT-PERP"].amount_factor == 0.0001 and got["PEPE-USDT-PERP"].amount_factor == 1e7
    sats = got["1000SATS-USDT-PERP"]
    assert (sats.base, sats.price_factor, sats.amount_factor) == ("SATS", 0.001, 100_000.0)
    assert result.skipped == {"not_trading": 2, "not_usdt_margined": 1, "malformed": 1}


def test_payload_must_be_a_list():
    import pytest

    with pytest.raises(ValueError):
        gate.parse_spot({"label": "INVALID_KEY", "message": "..."})


def test_contracts_times_quanto_multiplier_are_coins(cryptofeed_trades):
    instruments = gate.parse_futures(CONTRACTS).instruments
    frame = {"channel": "futures.trades", "event": "update", "time": 1732600000, "time_ms": 1732600000123,
             "result": [{"size": -108, "id": 27753479, "create_time": 1732600000, "create_time_ms": 1732600000120,
                         "price": "97000.4", "contract": "BTC_USDT"}]}
    (trade,) = asyncio.run(cryptofeed_trades(market("gate", "futures"), instruments, [frame]))
    btc = next(i for i in instruments if i.symbol == "BTC-USDT-PERP")
    assert trade.side == "sell" and float(trade.price) * btc.price_factor == 97000.4
    assert math.isclose(float(trade.amount) * btc.amount_factor, 0.0108, rel_tol=1e-12)


def test_spot_amount_is_coins(cryptofeed_trades):
    instruments = gate.parse_spot(PAIRS).instruments
    frame = {"time": 1732600000, "channel": "spot.trades", "event": "update",
             "result": {"id": 309143071, "create_time": 1732600000, "create_time_ms": "1732600000213.4578", "side": "buy",
                        "currency_pair": "BTC_USDT", "amount": "0.0123", "price": "97001.5"}}
    (trade,) = asyncio.run(cryptofeed_trades(market("gate", "spot"), instruments, [frame]))
    assert (trade.symbol, float(trade.amount), float(trade.price), trade.id) == ("BTC-USDT", 0.0123, 97001.5, "309143071")


def test_gate_gaps_are_recovered_exactly():
    asyncio.run(sequential_markets(["gate.spot", "gate.futures"]))


def test_replies_are_read_by_parsing_the_frame():
    read = gate.EXCHANGE.read_reply
    pong = read('{"time": 1732600000, "channel": "futures.pong", "event": "", "error": null, "result": null}')
    assert pong.pong and not pong.rejected
    refused = read('{"time": 1, "channel": "spot.trades", "event": "subscribe", "error": {"code": 2, "message": "invalid argument"}, '
                   '"result": {"status": "failed"}}')
    assert refused.rejected and not refused.pong
    trade = read('{"time": 1, "channel": "spot.trades", "event": "update", "result": {"id": 1, "currency_pair": "PONG_USDT"}}')
    assert not (trade.rejected or trade.pong)
