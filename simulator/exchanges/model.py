"""Coins, listings and trades as the simulator holds them: exact decimals in each exchange's own units.

A trade is generated once, in wire units (price per quoted unit on the listing's tick, size in
coins, contracts or lots), so what goes over the wire and what the truth log says can never
disagree: the truth is derived from the same numbers by `Listing.coin_price` / `coin_amount`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from recorder.clock import MS
from recorder.markets import MarketSpec

QUOTE = "USDT"


@dataclass(frozen=True)
class Coin:
    name: str
    """a valid ticker, e.g. `BTC`, `C0001`."""
    price: float
    """reference price of one coin in USDT at start."""


FIXED_COINS: tuple[Coin, ...] = (
    Coin("BTC", 97_000.0),
    Coin("ETH", 3_400.0),
    Coin("PEPE", 0.0000123),
    Coin("SXBT", 0.42),
)
"""Real-looking coins every market lists: PEPE is `1000PEPE` on futures that use multipliers, BTC is
`XBT` on KuCoin futures, and SXBT is an unrelated ticker that merely contains `XBT`."""


def synthetic_coins(n: int, seed: int) -> list[Coin]:
    """`C0001`… with log-uniform prices between 0.0001 and 1000 USDT, the same for every market."""
    rng = random.Random(f"coins:{seed}")
    return [Coin(f"C{i:04d}", 10 ** rng.uniform(-4, 3)) for i in range(1, n + 1)]


def dec(value: Decimal) -> str:
    """Fixed-point text as exchanges send it (never `1E-7`)."""
    return format(value, "f")


def contract_size_for(quoted_price: float) -> Decimal:
    """A power of ten that makes one contract worth roughly 1–10 USDT, like real contract specs."""
    return Decimal(10) ** round(math.log10(5 / quoted_price))


@dataclass(frozen=True)
class Listing:
    """One instrument on one market, with everything needed to encode and normalize its trades."""

    exchange: str
    market: str
    native: str
    """the exchange's instrument id on the wire, e.g. `C0001USDT`, `C0001-USDT-SWAP`, `sC0001USDT`."""
    symbol: str
    """cryptofeed's normalized name: `C0001-USDT`, `1000PEPE-USDT-PERP`, `BTC-USDT-PERP` for `XBTUSDTM`."""
    base: str
    """the coin (`PEPE` for `1000PEPE`, `BTC` for `XBT`)."""
    listed_base: str
    """the base asset as the exchange lists it (`1000PEPE`, `XBT`)."""
    multiplier: int
    """coins per quoted unit: 1000 for `1000PEPE`, else 1."""
    contract_size: Decimal
    """quoted units per wire amount unit (OKX ctVal, Gate quanto_multiplier, KuCoin multiplier); 1 for coins."""
    price_decimals: int
    size_decimals: int
    ref_price: float = field(compare=False)
    """reference price of one coin (not of the quoted unit)."""
    quote: str = QUOTE

    @property
    def key(self) -> str:
        return f"{self.exchange}.{self.market}"

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_decimals)

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.size_decimals)

    def quantize_price(self, coin_price: float) -> Decimal:
        """A coin price → the quoted price on this listing's tick (at least one tick)."""
        ticks = max(1, round(coin_price * self.multiplier * 10**self.price_decimals))
        return Decimal(ticks).scaleb(-self.price_decimals)

    def quantize_size(self, coin_amount: float) -> Decimal:
        """A coin amount → wire units on this listing's step (at least one step)."""
        units = coin_amount / (self.multiplier * float(self.contract_size))
        steps = max(1, round(units * 10**self.size_decimals))
        return Decimal(steps).scaleb(-self.size_decimals)

    def coin_price(self, price: Decimal) -> Decimal:
        return price / self.multiplier

    def coin_amount(self, size: Decimal) -> Decimal:
        return size * self.contract_size * self.multiplier


def make_listing(
    spec: MarketSpec,
    coin: Coin,
    native: str,
    *,
    listed_base: str | None = None,
    multiplier: int = 1,
    contract_size: Decimal | None = None,
    size_decimals: int | None = None,
    max_decimals: int = 12,
) -> Listing:
    """Build a listing with realistic precision: ~6 significant price digits, steps worth ~0.1 USDT.

    `contract_size=None` means the wire amount is in (quoted) coins; otherwise it is in contracts of
    that size and `size_decimals` says how finely contracts divide (0: whole contracts).
    """
    listed = listed_base or coin.name
    quoted_price = coin.price * multiplier
    price_decimals = min(max(6 - math.floor(math.log10(quoted_price)), 0), max_decimals)
    if size_decimals is None:
        size_decimals = min(max(math.ceil(math.log10(quoted_price)) + 1, 0), max_decimals)
    normalized_base = "BTC" if listed == "XBT" else listed
    suffix = "-PERP" if spec.market == "futures" else ""
    return Listing(
        exchange=spec.exchange,
        market=spec.market,
        native=native,
        symbol=f"{normalized_base}-{QUOTE}{suffix}",
        base=coin.name,
        listed_base=listed,
        multiplier=multiplier,
        contract_size=contract_size if contract_size is not None else Decimal(1),
        price_decimals=price_decimals,
        size_decimals=size_decimals,
        ref_price=coin.price,
    )


@dataclass(slots=True)
class SimTrade:
    """One generated trade in wire units; `truth` is its normalized record."""

    seq: int
    """unique across the simulator; identifies the trade in the truth logs."""
    listing: Listing
    ts_ns: int
    """exchange trade time, already truncated to the exchange's resolution."""
    price: Decimal
    size: Decimal
    side: str
    """taker side: `buy` or `sell`."""
    trade_id: str | None
    n: int
    """per-listing ordinal (1, 2, …): the basis of ids and of REST paging."""
    truth: dict = field(default_factory=dict)
    sent: bool = False
    """set once the trade has gone out on any websocket."""

    @property
    def ts_ms(self) -> int:
        return self.ts_ns // MS
