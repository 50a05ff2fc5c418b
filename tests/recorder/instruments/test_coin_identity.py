"""The coin-identity rule shared by every parser (see recorder/instruments/common.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recorder.instruments.common import coin_identity


@pytest.mark.parametrize(("raw", "futures", "expected"), [
    ("1000PEPE", True, ("PEPE", 1000)),
    ("10000LADYS", True, ("LADYS", 10_000)),
    ("100000X", True, ("X", 100_000)),
    ("1000000MOG", True, ("MOG", 1_000_000)),
    ("1000X", True, ("X", 1000)),
    ("1MBABYDOGE", True, ("BABYDOGE", 1_000_000)),
    ("SHIB1000", True, ("SHIB", 1000)),
    ("1000XBT", True, ("BTC", 1000)),
    ("XBT", True, ("BTC", 1)),
    ("XBT", False, ("BTC", 1)),
    ("SXBT", True, ("SXBT", 1)),
    ("XBTX", False, ("XBTX", 1)),
    ("1INCH", True, ("1INCH", 1)),
    ("0G", True, ("0G", 1)),
    ("1000", True, ("1000", 1)),
    ("10001", True, ("10001", 1)),
    ("1000PEPE", False, ("1000PEPE", 1)),
    ("1000SATS", False, ("1000SATS", 1)),
    ("1MT", True, ("1MT", 1)),
    ("A", True, ("A", 1)),
    ("pepe", False, ("PEPE", 1)),
])
def test_rule(raw, futures, expected):
    assert coin_identity(raw, strip_multiplier=futures) == expected


@given(st.from_regex(r"[A-Z][A-Z0-9]{0,9}", fullmatch=True), st.sampled_from([1000, 10_000, 100_000, 1_000_000]))
def test_prefix_round_trip(coin, multiplier):
    expected = "BTC" if coin == "XBT" else coin
    assert coin_identity(f"{multiplier}{coin}", strip_multiplier=True) == (expected, multiplier)


@given(st.from_regex(r"[0-9A-Z]{1,12}", fullmatch=True))
def test_spot_never_strips(token):
    coin, multiplier = coin_identity(token, strip_multiplier=False)
    assert multiplier == 1 and (coin == token or (token == "XBT" and coin == "BTC"))
