"""Shared pieces of the per-exchange instrument parsers: coin identity, factors, the checks, skip counting.

The parsers (one per market in each `recorder/exchanges/<exchange>.py`) are pure functions over the
exchanges' REST payloads: each entry is decoded into the exchange's own struct (`decode`), and the
exchange states its field values to `spot_instrument` / `perpetual_instrument`, which apply the same
checks in the same order for every venue. A bad entry (missing field, wrong type) is skipped and
counted under a reason; it never raises. Inactive, dated, inverse or non-USDT-margined entries are
counted too (as `not_trading`, `not_perpetual`, `not_usdt_margined`, ...), so a caller can log what
was left out and why.

Coin identity rule (`coin_identity`):

1. The exchange's base token is upper-cased; `XBT` becomes `BTC` only as the whole token
   (cryptofeed's KuCoin futures parser replaces the substring, which would mangle any ticker
   containing "XBT").
2. Multiplier prefixes are stripped ONLY on futures (perpetual) instruments, where the venues use
   them for re-denominated contracts (`1000PEPE`, `10000LADYS`, `1000000MOG`, Binance's
   `1MBABYDOGE`), and only when the remainder is a plausible ticker: it starts with a letter and
   continues with letters or digits (`1000X` → `X` is allowed: one-letter tickers exist).
   Known prefixes: 1000, 10000, 100000, 1000000, 10000000 and `1M` (= 1,000,000; remainder of at
   least three characters). Bybit's suffix form (`SHIB1000`) is handled the same way on futures.
3. Spot bases are never stripped: spot tickers that start with digits are real coins (`1INCH`,
   `0G`, `2Z`) and a spot asset such as Binance's `1000SATS` is the venue's own token, not a
   contract multiplier (no venue marks spot multipliers in its payload).

The resulting factors: `price = raw_price * price_factor` (price per one coin) and
`amount = raw_amount * amount_factor` (coins), with `price_factor = 1 / multiplier` and
`amount_factor = multiplier * contract_size * amount_scale`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import msgspec

from recorder.instruments.model import Instrument
from recorder.markets import FUTURES, SPOT

_PLAUSIBLE_TICKER = re.compile(r"^[A-Z][A-Z0-9]*$")
MULTIPLIER_PREFIXES: tuple[tuple[str, int], ...] = (
    ("10000000", 10_000_000),
    ("1000000", 1_000_000),
    ("100000", 100_000),
    ("10000", 10_000),
    ("1000", 1_000),
    ("1M", 1_000_000),
)
"""longest first, so `1000000MOG` is MOG x 1,000,000 and not `000MOG` x 1000."""
_MIN_REMAINDER = {"1M": 3}
SETTLE = "USDT"
"""the one quote and margin currency recorded on futures: USDT-margined linear perpetuals only."""
NOT_TRADING = "not_trading"
NOT_PERPETUAL = "not_perpetual"
NOT_USDT_MARGINED = "not_usdt_margined"

Text = Annotated[str, msgspec.Meta(pattern=r"\S")]
"""a field that must hold a non-blank string (ids, names, statuses)."""


class Malformed(Exception):
    """One entry of a payload does not have the expected shape; the entry is skipped and counted."""


@dataclass
class ParseResult:
    """Instruments parsed from one payload, plus what was left out, by reason."""

    instruments: list[Instrument] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    """one example entry (shortened) per malformed reason, for a log line."""

    @property
    def malformed(self) -> int:
        return sum(count for reason, count in self.skipped.items() if reason.startswith("malformed"))

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def summary(self) -> str:
        parts = [f"{len(self.instruments)} instruments"]
        parts += [f"{reason}={count}" for reason, count in sorted(self.skipped.items())]
        return ", ".join(parts)


def coin_identity(raw_base: str, *, strip_multiplier: bool) -> tuple[str, int]:
    """The coin behind an exchange's base token and how many coins one quoted unit stands for."""
    token = raw_base.strip().upper()
    if token == "XBT":
        return "BTC", 1
    if not strip_multiplier:
        return token, 1
    for prefix, multiplier in MULTIPLIER_PREFIXES:
        if token.startswith(prefix):
            rest = token[len(prefix):]
            if _PLAUSIBLE_TICKER.match(rest) and len(rest) >= _MIN_REMAINDER.get(prefix, 1):
                return ("BTC" if rest == "XBT" else rest), multiplier
    for suffix, multiplier in MULTIPLIER_PREFIXES:
        if suffix.isdigit() and token.endswith(suffix):
            rest = token[: -len(suffix)]
            if len(rest) >= 2 and _PLAUSIBLE_TICKER.match(rest) and not rest[-1].isdigit():
                return ("BTC" if rest == "XBT" else rest), multiplier
    return token, 1


def xbt_to_btc(token: str) -> str:
    """cryptofeed-style name part with `XBT` replaced only as a whole token."""
    return "BTC" if token == "XBT" else token


def decode[S: msgspec.Struct](entry: Any, struct: type[S]) -> S:
    """One payload entry as the exchange's typed struct; a missing or mistyped field makes it Malformed.

    Lax: booleans and numbers may come as JSON text (`"true"`, `"0.01"`), as the venues send them.
    """
    try:
        return msgspec.convert(entry, struct, strict=False)
    except msgspec.ValidationError as exc:
        raise Malformed(str(exc)) from None


def positive(value: Decimal | str | None, name: str) -> Decimal:
    """A contract size: a positive finite number, given as a decimal or as the venue's numeric text."""
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else value
    except InvalidOperation:
        raise Malformed(f"field {name!r} is not a number: {value!r}") from None
    if result is None or not result.is_finite() or result <= 0:
        raise Malformed(f"field {name!r} must be a positive finite number, got {value!r}")
    return result


def factors(multiplier: int, contract_size: Decimal = Decimal(1), amount_scale: Decimal = Decimal(1)) -> tuple[float, float]:
    """(price_factor, amount_factor) for one quoted unit of `multiplier` coins in contracts of `contract_size`."""
    price_factor = float(Decimal(1) / Decimal(multiplier))
    amount_factor = float(Decimal(multiplier) * contract_size * amount_scale)
    if not (math.isfinite(price_factor) and math.isfinite(amount_factor) and price_factor > 0 and amount_factor > 0):
        raise Malformed("conversion factors are not positive finite numbers")
    return price_factor, amount_factor


def spot_symbol(base: str, quote: str) -> str:
    """cryptofeed's normalized spot name (`Symbol(base, quote).normalized`)."""
    return base if base == quote else f"{base}-{quote}"


def perp_symbol(base: str, quote: str) -> str:
    """cryptofeed's normalized perpetual name (`Symbol(base, quote, type=PERPETUAL).normalized`)."""
    return f"{spot_symbol(base, quote)}-PERP"


def spot_instrument(exchange: str, native: str, base: str, quote: str, *, trading: bool,
                    amount_scale: Decimal = Decimal(1)) -> Instrument | str:
    """A spot pair as cryptofeed names it, or `not_trading`; a spot base keeps its digits (rule 3 above)."""
    if not trading:
        return NOT_TRADING
    coin, multiplier = coin_identity(base, strip_multiplier=False)
    price_factor, amount_factor = factors(multiplier, amount_scale=amount_scale)
    return Instrument(exchange, SPOT, spot_symbol(base, quote), native, coin, quote.upper(), price_factor, amount_factor, multiplier)


def perpetual_instrument(exchange: str, native: str, base: str, quote: str, *, perpetual: bool = True, linear: bool = True,
                         settle: Iterable[str | None] = (), trading: bool,
                         contract_size: Callable[[], Decimal] | None = None, symbol: str | None = None) -> Instrument | str:
    """A USDT-margined linear perpetual, or why not: `not_perpetual`, `not_usdt_margined`, `not_trading`, in that order.

    `linear`: the venue's own word that the contract is not inverse. `settle`: the venue's margin or
    settle currency fields; each must be USDT, like `quote` (None: the venue left the field out).
    `contract_size`: coins per contract, read only once the entry is a USDT perpetual (inverse contracts
    carry other, even negative, values); it raises Malformed for a bad one. `symbol`: cryptofeed's name,
    when it is not `BASE-QUOTE-PERP` of the raw tokens.
    """
    if not perpetual:
        return NOT_PERPETUAL
    if not linear or quote != SETTLE or any(currency not in (None, SETTLE) for currency in settle):
        return NOT_USDT_MARGINED
    size = contract_size() if contract_size is not None else Decimal(1)
    if not trading:
        return NOT_TRADING
    coin, multiplier = coin_identity(base, strip_multiplier=True)
    price_factor, amount_factor = factors(multiplier, size)
    return Instrument(exchange, FUTURES, symbol or perp_symbol(base, quote), native, coin, quote, price_factor, amount_factor,
                      multiplier)


def entries(payload: Any, *path: str) -> list[Any]:
    """The list at `payload[path...]`; a missing or non-list container is a payload-level error."""
    node = payload
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise ValueError(f"payload has no {'.'.join(path)!r} list")
        node = node[key]
    if not isinstance(node, list):
        raise ValueError(f"payload field {'.'.join(path) or '(top level)'!r} is not a list")
    return node


def parse_entries(items: Iterable[Any], parse_one: Callable[[Any], Instrument | str], result: ParseResult | None = None) -> ParseResult:
    """Run `parse_one` over every entry: an Instrument is kept, a str is a skip reason, Malformed is counted.

    The first instrument for a normalized symbol wins; later duplicates are counted as
    `duplicate_symbol` (two exchange ids that cryptofeed would name alike cannot both be subscribed).
    """
    result = result if result is not None else ParseResult()
    seen: set[str] = {instrument.symbol for instrument in result.instruments}
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise Malformed("entry is not an object")
            outcome = parse_one(item)
        except Malformed as exc:
            result.skip("malformed")
            result.examples.setdefault("malformed", f"{exc}: {repr(item)[:160]}")
            continue
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            result.skip("malformed")
            result.examples.setdefault("malformed", f"{type(exc).__name__}: {exc}: {repr(item)[:160]}")
            continue
        if isinstance(outcome, str):
            result.skip(outcome)
            continue
        if outcome.symbol in seen:
            result.skip("duplicate_symbol")
            continue
        seen.add(outcome.symbol)
        result.instruments.append(outcome)
    return result


@dataclass(frozen=True)
class Endpoint:
    """Where one market's instrument list lives, relative to the market's REST base."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    cursor_field: str | None = None
    """paginated by cursor: the response field (dotted) holding the next cursor, sent back as `cursor`."""
    default_base: str = ""
    """the venue's public REST base, used when the configuration gives none."""
