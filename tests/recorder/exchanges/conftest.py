"""Helpers for the instrument tests: feed raw websocket frames into the REAL cryptofeed classes."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from cryptofeed.defines import TRADES
from cryptofeed.symbols import Symbols

from recorder.instruments.cryptofeed_symbols import feed_class, install
from recorder.instruments.model import Instrument
from recorder.markets import MarketSpec


@pytest.fixture(autouse=True)
def _isolated_symbols():
    """cryptofeed's symbol table is process-global: restore it after each test."""
    saved = copy.copy(Symbols.data)
    yield
    Symbols.data = saved


async def _cryptofeed_trades(spec: MarketSpec, instruments: Iterable[Instrument], frames: Iterable[Any],
                            address: str = "wss://example.invalid/") -> list[Any]:
    """Install `instruments`, build the real feed class and hand it each raw frame; return its trades."""
    instruments = list(instruments)
    install(spec, instruments)
    trades: list[Any] = []

    async def on_trade(trade, receipt_timestamp):
        trades.append(trade)

    feed = feed_class(spec)(symbols=[i.symbol for i in instruments], channels=[TRADES], callbacks={TRADES: on_trade},
                            config={"log": {"disabled": True}})
    conn = SimpleNamespace(uuid="test.ws.1", address=address, subscription={})
    for frame in frames:
        await feed.message_handler(frame if isinstance(frame, str) else json.dumps(frame), conn, time.time())
    return trades


@pytest.fixture
def cryptofeed_trades():
    """`await cryptofeed_trades(spec, instruments, frames, address=...)` → the trades the real class emits."""
    return _cryptofeed_trades
