"""The normalizer: the one place a cryptofeed trade becomes a row; hostile values are counted, never stored."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recorder.instruments.model import Instrument
from recorder.markets import market
from recorder.normalize import Normalizer, synthetic_trade_id, to_ns

NOW = 1_795_000_000.0


@dataclass
class FakeTrade:
    """The fields of cryptofeed's `Trade` that the normalizer reads."""

    symbol: object
    side: object
    amount: object
    price: object
    timestamp: object
    id: object = None


def _normalizer(key: str, **factors) -> Normalizer:
    exchange, market_type = key.split(".")
    symbol = "PEPE-USDT-PERP" if market_type == "futures" else "PEPE-USDT"
    return Normalizer(market(exchange, market_type), [Instrument(exchange, market_type, symbol, "x", "PEPE", "USDT", **factors)])


def test_factors_convert_contracts_and_multipliers():
    okx = _normalizer("okx.futures", amount_factor=10.0)
    row = okx.normalize(FakeTrade("PEPE-USDT-PERP", "buy", Decimal("3"), Decimal("0.5"), NOW, "77"), NOW + 0.1)
    assert (row.amount, row.price, row.notional, row.trade_id) == (30.0, 0.5, 15.0, "77")

    kpepe = _normalizer("binance.futures", price_factor=0.001, amount_factor=1000.0)
    row = kpepe.normalize(FakeTrade("PEPE-USDT-PERP", "sell", Decimal("2"), Decimal("0.012"), NOW, 5), NOW)
    assert row.base == "PEPE" and math.isclose(row.price, 0.000012) and row.amount == 2000.0 and row.side == "sell"

    phemex = _normalizer("phemex.spot", amount_factor=1e-8)
    row = phemex.normalize(FakeTrade("PEPE-USDT", "buy", Decimal("150000000"), Decimal("0.1"), NOW), NOW)
    assert row.amount == 1.5 and row.trade_id == synthetic_trade_id("PEPE-USDT", to_ns(NOW), "buy", "0.1", "150000000", 0)


def test_timestamps_are_integer_ns_rounded_to_the_microsecond():
    row = _normalizer("okx.spot").normalize(FakeTrade("PEPE-USDT", "buy", 1, 1, 1_795_000_000.123456, "1"), 1_795_000_000.5)
    assert row.ts == 1_795_000_000_123_456_000 and row.received_ts == 1_795_000_000_500_000_000


def test_phemex_resend_gets_the_same_id_and_identical_trades_in_a_frame_stay_distinct():
    norm = _normalizer("phemex.futures")
    trade = FakeTrade("PEPE-USDT-PERP", "buy", Decimal("1"), Decimal("2"), NOW)
    first = [norm.normalize(trade, NOW + 1).trade_id for _ in range(2)]
    resent = [norm.normalize(trade, NOW + 9).trade_id for _ in range(2)]
    assert first == resent and first[0] != first[1]


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("price", Decimal("NaN"), "bad_price_or_amount"), ("price", Decimal("-1"), "bad_price_or_amount"),
    ("amount", Decimal("0"), "bad_price_or_amount"), ("price", "abc", "malformed"), ("side", "long", "bad_side"),
    ("symbol", "NOPE-USDT", "unknown_symbol"), ("timestamp", 1_795_000_000_000.0, "bad_timestamp"),
    ("timestamp", 12.0, "bad_timestamp"), ("amount", Decimal("Infinity"), "bad_price_or_amount"), ("timestamp", None, "malformed"),
])
def test_hostile_values_are_counted_by_reason(field, value, reason):
    norm = _normalizer("gate.spot")
    trade = FakeTrade("PEPE-USDT", "buy", Decimal("1"), Decimal("1"), NOW, "1")
    setattr(trade, field, value)
    assert norm.normalize(trade, NOW) is None
    assert norm.rejected == {reason: 1}


values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                   st.decimals(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2))


@given(symbol=st.one_of(st.just("PEPE-USDT"), values), side=st.one_of(st.sampled_from(["buy", "sell"]), values),
       amount=values, price=values, timestamp=st.one_of(st.floats(NOW - 10, NOW + 10), values), trade_id=values)
def test_arbitrary_input_never_raises_and_never_yields_a_bad_row(symbol, side, amount, price, timestamp, trade_id):
    norm = _normalizer("gate.spot")
    row = norm.normalize(FakeTrade(symbol, side, amount, price, timestamp, trade_id), NOW)
    if row is None:
        assert sum(norm.rejected.values()) == 1
        return
    assert row.side in ("buy", "sell") and row.symbol == "PEPE-USDT"
    assert math.isfinite(row.price) and row.price > 0 and math.isfinite(row.amount) and row.amount > 0
    assert math.isfinite(row.notional) and isinstance(row.trade_id, str) and row.trade_id
