"""Shared pieces of the per-exchange instrument parsers: coin identity, factors, skip counting.

The parsers are pure functions over the exchanges' REST payloads. A bad entry (missing field,
wrong type) is skipped and counted under a reason; it never raises. Inactive, dated, inverse or
non-USDT-margined entries are counted too (as `not_trading`, `not_linear_usdt_perp`, ...), so a
caller can log what was left out and why.

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
from typing import Any

from recorder.instruments.model import Instrument

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


def text(entry: Mapping[str, Any], key: str) -> str:
    """A required non-empty string field."""
    value = entry.get(key) if isinstance(entry, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"field {key!r} missing or not a non-empty string")
    return value.strip()


def optional_text(entry: Mapping[str, Any], key: str, default: str = "") -> str:
    value = entry.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Malformed(f"field {key!r} is not a string")
    return value.strip()


def number(entry: Mapping[str, Any], key: str, *, positive: bool = True) -> Decimal:
    """A required number given as a JSON number or a numeric string (exchanges use both)."""
    value = entry.get(key) if isinstance(entry, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Malformed(f"field {key!r} missing or not a number")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise Malformed(f"field {key!r} is not a number: {value!r}") from None
    if not result.is_finite() or (positive and result <= 0):
        raise Malformed(f"field {key!r} must be a positive finite number, got {value!r}")
    return result


def flag(entry: Mapping[str, Any], key: str, default: bool | None = None) -> bool:
    value = entry.get(key, default)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise Malformed(f"field {key!r} missing or not a boolean")


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
