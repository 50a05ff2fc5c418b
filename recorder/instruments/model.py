"""The instrument record every other part reads: identity across venues plus conversion factors."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument on one market, as the universe and the recorder see it.

    `price_factor` and `amount_factor` turn what cryptofeed emits into a price per one coin and an
    amount in coins: `price = raw_price * price_factor`, `amount = raw_amount * amount_factor`.
    Examples: OKX swap amount in contracts → `amount_factor = ctVal`; `1000PEPE-USDT-PERP` quotes
    the price of 1000 coins → `price_factor = 1/1000`, `amount_factor = 1000` (times any contract
    size); Phemex spot's scaled amounts → `amount_factor = 1e-8`.
    """

    exchange: str
    market: str
    symbol: str
    """cryptofeed's normalized instrument, e.g. `TIA-USDT`, `1000PEPE-USDT-PERP`."""
    native: str
    """the exchange's own instrument id, e.g. `TIAUSDT`, `TIA-USDT-SWAP`, `sTIAUSDT`."""
    base: str
    """the coin, after XBT→BTC and removing multiplier prefixes (`PEPE` for `1000PEPE`)."""
    quote: str
    price_factor: float = 1.0
    amount_factor: float = 1.0
    multiplier: int = 1
    """the `1000` of `1000PEPE`: how many coins one quoted unit stands for."""

    def as_dict(self) -> dict:
        return asdict(self)
