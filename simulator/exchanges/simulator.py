"""`ExchangeSimulator`: the twelve markets on local TLS ports, scriptable from tests and the demo.

Each market is an aiohttp server on its own ephemeral port serving REST and websockets on the
exchange's real paths, so a cryptofeed feed whose endpoint scheme, host and port are replaced by
`endpoint(key)` (path kept) works unchanged once it trusts `ca_file`.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from recorder.markets import BY_KEY, MARKETS
from simulator.exchanges.binance import BinanceFutures, BinanceSpot
from simulator.exchanges.bybit import BybitLinear, BybitSpot
from simulator.exchanges.gate import GateFutures, GateSpot
from simulator.exchanges.kucoin import KucoinFutures, KucoinSpot
from simulator.exchanges.model import FIXED_COINS, Listing, synthetic_coins
from simulator.exchanges.okx import OkxSpot, OkxSwap
from simulator.exchanges.phemex import PhemexPerpetual, PhemexSpot
from simulator.exchanges.pricing import Jump, PriceModel, PricePath
from simulator.exchanges.server import MALFORMED_KINDS, MarketServer
from simulator.exchanges.tls import server_ssl_context
from simulator.exchanges.truth import TruthLog
from simulator.exchanges.venue import Venue

VENUES: dict[str, type[Venue]] = {
    venue.key: venue
    for venue in (BinanceSpot, BinanceFutures, BybitSpot, BybitLinear, OkxSpot, OkxSwap,
                  KucoinSpot, KucoinFutures, GateSpot, GateFutures, PhemexSpot, PhemexPerpetual)
}
"""market key → wire format; the keys are exactly `recorder.markets.BY_KEY`'s."""


class ExchangeSimulator:
    """Every listed market trades `FIXED_COINS` plus `symbols` synthetic coins (`C0001`…).

    `trades_per_second` is per symbol; with the same `seed` the sequence of trades (symbols,
    prices, sizes, sides, ids) repeats, while trade times are the wall clock. `price_path`
    replaces the default price path; `jump` schedules moves on top of either.
    """

    def __init__(
        self,
        markets: Iterable[str] | None = None,
        symbols: int = 20,
        trades_per_second: float = 1.0,
        seed: int = 0,
        *,
        price_path: PricePath | None = None,
        tick_interval: float = 0.05,
        history_limit: int = 10_000,
        truth_limit: int | None = None,
    ) -> None:
        keys = list(markets) if markets is not None else [spec.key for spec in MARKETS]
        unknown = [key for key in keys if key not in BY_KEY]
        if unknown:
            raise KeyError(f"unknown markets {unknown}; known: {', '.join(BY_KEY)}")
        coins = [*FIXED_COINS, *synthetic_coins(symbols, seed)]
        self._prices = PriceModel({coin.name: coin.price for coin in coins}, seed, price_path)
        self._truth = TruthLog(truth_limit)
        sequence = itertools.count(1)
        self._markets = {
            key: MarketServer(VENUES[key], coins, self._prices, self._truth, sequence, rate=trades_per_second,
                              seed=seed, tick_s=tick_interval, history_limit=history_limit)
            for key in keys
        }
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.ca_file: Path | None = None
        """PEM of the CA that signed the simulator's certificate; set by `start()`."""

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pumpwatch-sim-")
        self.ca_file, context = server_ssl_context(Path(self._tmp.name))
        for market in self._markets.values():
            await market.start(context)

    async def stop(self) -> None:
        for market in self._markets.values():
            await market.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> ExchangeSimulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def _market(self, key: str) -> MarketServer:
        try:
            return self._markets[key]
        except KeyError:
            raise KeyError(f"market {key} is not simulated; simulated: {', '.join(self._markets)}") from None

    @property
    def markets(self) -> list[str]:
        return list(self._markets)

    def endpoint(self, market_key: str) -> tuple[str, str]:
        """(`wss://127.0.0.1:PORT`, `https://127.0.0.1:PORT`): replace scheme, host and port, keep paths."""
        port = self._market(market_key).port
        return f"wss://127.0.0.1:{port}", f"https://127.0.0.1:{port}"

    def instruments(self, market_key: str) -> list[Listing]:
        return list(self._market(market_key).listings.values())

    def sent_trades(self, market_key: str | None = None) -> list[dict]:
        """Each trade that went out on a websocket, once, in normalized form (see `truth`)."""
        return self._truth.sent_trades(market_key)

    def generated_trades(self, market_key: str | None = None) -> list[dict]:
        """Every trade generated, including those held back by `skip_trades`."""
        return self._truth.generated_trades(market_key)

    def counts(self) -> dict[str, dict[str, int]]:
        """Trades `generated` and `sent` per market, all of them even where `truth_limit` keeps no records."""
        return {"generated": dict(self._truth.generated_count), "sent": dict(self._truth.sent_count)}

    def tick_frames(self, market_key: str, now_ns: int, natives: set[str]) -> list[tuple[str, str, int]]:
        """One tick of the market's trades at `now_ns` as text frames, without a socket (see `MarketServer.tick_frames`)."""
        return self._market(market_key).tick_frames(now_ns, natives)

    def subscribed(self, market_key: str) -> set[str]:
        """Native symbols with a trade subscription on any open connection."""
        return self._market(market_key).subscribed()

    def connections(self, market_key: str) -> int:
        return self._market(market_key).connections()

    async def disconnect(self, market_key: str, refuse_for: float = 0) -> None:
        """Close every socket of the market now (code 1011) and refuse upgrades for `refuse_for` seconds."""
        await self._market(market_key).disconnect(refuse_for)

    def inject_malformed(self, market_key: str, n: int, kinds: Sequence[str] = MALFORMED_KINDS) -> int:
        """Send `n` malformed frames on each subscribed connection; returns how many were queued."""
        return self._market(market_key).inject_malformed(n, kinds)

    def skip_trades(self, market_key: str, native: str, n: int) -> None:
        """Generate the next `n` trades of `native` without sending them; history and REST keep them."""
        self._market(market_key).skip(native, n)

    def jump(self, base: str, pct: float, at_ns: int, market_key: str | None = None) -> None:
        """From `at_ns` on, `base` trades `pct` % higher on `market_key` (None: every market)."""
        self._prices.add_jump(Jump(base, pct, at_ns, market_key))

    def publish(self, market_key: str, native: str, price: Decimal | str, amount: Decimal | str,
                side: str = "buy") -> dict:
        """Trade now at `price` per coin for `amount` coins; returns the normalized record."""
        return self._market(market_key).publish(native, Decimal(price), Decimal(amount), side).truth

    def pause(self) -> None:
        for market in self._markets.values():
            market.paused = True

    def resume(self) -> None:
        for market in self._markets.values():
            market.paused = False
