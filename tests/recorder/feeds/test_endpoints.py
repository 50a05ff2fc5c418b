"""Endpoint rewriting keeps every path."""

from __future__ import annotations

import pytest

from recorder.feeds.endpoints import rewrite_url


@pytest.mark.parametrize(("url", "base", "expected"), [
    ("wss://stream.bybit.com/v5/public/spot", "wss://127.0.0.1:8443", "wss://127.0.0.1:8443/v5/public/spot"),
    ("wss://ws.okx.com:8443/ws/v5/public", "wss://localhost:9000", "wss://localhost:9000/ws/v5/public"),
    ("wss://x-push-spot.kucoin.com", "wss://127.0.0.1:1", "wss://127.0.0.1:1"),
    ("https://api.bybit.com/v5/market/instruments-info?category=spot", "http://127.0.0.1:80",
     "http://127.0.0.1:80/v5/market/instruments-info?category=spot"),
    ("wss://api.gateio.ws/ws/v4/", None, "wss://api.gateio.ws/ws/v4/"),
    ("wss://fstream.binance.com", "wss://proxy.local/prefix/", "wss://proxy.local/prefix"),
])
def test_rewrite_url_keeps_path(url, base, expected):
    assert rewrite_url(url, base) == expected
