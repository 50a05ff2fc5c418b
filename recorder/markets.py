"""The 12 markets as data: one frozen record per market, read by shared code.

Shared code reads these fields and never compares an exchange name with a literal; a quirk that
is behaviour lives in the exchange's own module (`recorder/exchanges/<exchange>.py`), registered in
`recorder.exchanges.EXCHANGES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TradeIdKind = Literal["sequential", "opaque", "none"]

SPOT = "spot"
FUTURES = "futures"
"""the two market types: spot pairs and USDT-margined linear perpetuals."""


@dataclass(frozen=True)
class MarketSpec:
    """Facts about one market that the recorder, the simulator and the extractor share."""

    exchange: str
    market: str
    feed_class: str
    """cryptofeed class as `module:Class`; several markets may share one class (Bybit, OKX, Phemex)."""
    cryptofeed_id: str
    """cryptofeed's exchange id: the key of its global symbol table, shared by spot and futures."""
    max_symbols_per_feed: int | None
    """cryptofeed raises above this many symbols per feed instance (KuCoin 200, Phemex 100)."""
    max_symbols_per_connection: int | None
    """the exchange's own cap per websocket connection; None when cryptofeed splits by itself."""
    trade_id: TradeIdKind
    """`sequential`: a per-symbol sequence increases by one per trade, so a jump is a gap. OKX's live
    messages stand for `count` fills; Gate spot's `id` is all-market and its per-pair sequence is
    `id_market` (both read by the exchange module's `id_hint`, see `recorder.gaps.id_hint`)."""
    amount_unit: Literal["coin", "contract", "scaled_1e8"]
    """what cryptofeed emits as `amount`; the instrument's factor converts it to coins."""

    @property
    def key(self) -> str:
        return f"{self.exchange}.{self.market}"


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("binance", "spot", "cryptofeed.exchanges.binance:Binance", "BINANCE", None, 1024, "sequential", "coin"),
    MarketSpec("binance", "futures", "cryptofeed.exchanges.binance_futures:BinanceFutures", "BINANCE_FUTURES", None, 1024, "sequential", "coin"),
    MarketSpec("bybit", "spot", "cryptofeed.exchanges.bybit:Bybit", "BYBIT", None, None, "opaque", "coin"),
    MarketSpec("bybit", "futures", "cryptofeed.exchanges.bybit:Bybit", "BYBIT", None, None, "opaque", "coin"),
    MarketSpec("okx", "spot", "cryptofeed.exchanges.okx:OKX", "OKX", None, None, "sequential", "coin"),
    MarketSpec("okx", "futures", "cryptofeed.exchanges.okx:OKX", "OKX", None, None, "sequential", "contract"),
    MarketSpec("kucoin", "spot", "cryptofeed.exchanges.kucoin:KuCoin", "KUCOIN", 200, None, "opaque", "coin"),
    MarketSpec("kucoin", "futures", "cryptofeed.exchanges.kucoin_futures:KuCoinFutures", "KUCOIN_FUTURES", 200, None, "opaque", "contract"),
    MarketSpec("gate", "spot", "cryptofeed.exchanges.gate:Gate", "GATE", None, None, "sequential", "coin"),
    MarketSpec("gate", "futures", "cryptofeed.exchanges.gate_futures:GateFutures", "GATE_FUTURES", None, None, "sequential", "contract"),
    MarketSpec("phemex", "spot", "cryptofeed.exchanges.phemex:Phemex", "PHEMEX", 100, 20, "none", "scaled_1e8"),
    MarketSpec("phemex", "futures", "cryptofeed.exchanges.phemex:Phemex", "PHEMEX", 100, 20, "none", "coin"),
)

BY_KEY: dict[str, MarketSpec] = {m.key: m for m in MARKETS}


def market(exchange: str, market_type: str) -> MarketSpec:
    """Look a market up by its names; a KeyError names the unknown pair."""
    try:
        return BY_KEY[f"{exchange}.{market_type}"]
    except KeyError:
        raise KeyError(f"unknown market {exchange}.{market_type}; known: {', '.join(BY_KEY)}") from None
