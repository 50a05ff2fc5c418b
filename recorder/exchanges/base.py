"""What shared code reads and calls of an exchange: one frozen `Exchange` per module, one `Market` per market type.

Each module of `recorder/exchanges/` builds its `Exchange` from its own constants, payload structs and
parsers; `recorder.exchanges.EXCHANGES` maps names to them. Shared code (`recorder.feeds`,
`recorder.instruments.fetch` and `cryptofeed_symbols`, `recorder.backfill`, `recorder.gaps`) reads
these fields and calls these hooks; it never compares an exchange's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec

from recorder.backfill.base import Venue
from recorder.instruments.common import Endpoint, ParseResult
from recorder.instruments.model import Instrument

IdHint = Callable[[Any], tuple[int, int | None]]
"""cryptofeed `Trade` → (span, seq) for `GapDetector.feed`: what the raw message says beyond the trade id."""


class Reply(msgspec.Struct):
    """The fields of a websocket frame that make it a control reply rather than market data.

    Each exchange subclasses it with its own field names. Every frame under 4 KiB is decoded into it
    (unknown fields are skipped), so a rejection or a pong is recognised by parsing the frame, never by
    searching its text.
    """

    @property
    def rejected(self) -> bool:
        """The exchange refused a request (a subscription); cryptofeed would only log it."""
        return False

    @property
    def pong(self) -> bool:
        """The answer to one of our own keepalive pings: dropped before cryptofeed, which does not expect it."""
        return False


class ErrorReply(Reply):
    """`{"error": {"code": …, "msg"/"message": …}, …}`: a refused request on Binance, Gate and Phemex."""

    error: dict[str, Any] | None = None

    @property
    def rejected(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Keepalive:
    """An application-level ping that cryptofeed does not send for this venue (its server drops quiet sockets)."""

    interval: float
    message: Callable[[], str]


def code_error(payload: Any, *, ok: str, code: str = "code", message: str = "msg") -> str | None:
    """A `{code: …, msg: …}` envelope with any code but `ok` (compared as text; no code at all is fine), described."""
    if isinstance(payload, Mapping) and str(payload.get(code, ok)) != ok:
        return f"{code} {payload.get(code)}: {payload.get(message)}"
    return None


def native_symbol(instrument: Instrument) -> str:
    return instrument.native


def no_symbol_info(instrument: Instrument) -> Mapping[str, Any]:
    return {}


def subscribable(instrument: Instrument) -> str | None:
    return None


@dataclass(frozen=True)
class Market:
    """One market type (spot or futures) of an exchange: instruments, backfill, cryptofeed's needs."""

    instruments: Endpoint
    """where the instrument list lives (`recorder.instruments.fetch` pages and checks it)."""
    parse: Callable[[Any], ParseResult]
    """the fetched payload (cursor endpoints: the list of pages) → instruments and skip counts."""
    backfill: Venue
    keepalive: Keepalive | None = None
    cryptofeed_symbol: Callable[[Instrument], str] = native_symbol
    """the key cryptofeed's symbol mapping holds for the instrument: what it subscribes with."""
    symbol_info: Callable[[Instrument], Mapping[str, Any]] = no_symbol_info
    """per-symbol `info` entries the feed class reads while running (`Symbols.set`), beside `instrument_type`."""
    unsubscribable: Callable[[Instrument], str | None] = subscribable
    """why cryptofeed could not deliver this instrument's trades, or None."""
    id_hint: IdHint | None = None


@dataclass(frozen=True)
class Exchange:
    """Everything about one exchange that shared code needs."""

    name: str
    markets: Mapping[str, Market]
    """market type → its hooks; the types are exactly the exchange's rows in `recorder.markets.MARKETS`."""
    reply: type[Reply]
    rest_error: Callable[[Any], str | None]
    """an error envelope inside an HTTP 200 REST answer, described; None for a normal answer."""
    multi_connection: bool = False
    """cryptofeed's feed instances hold several connections, split by the endpoint limit (Phemex); others
    get one connection per instance (see `recorder.feeds.shards`)."""

    @cached_property
    def _reply_decoder(self) -> msgspec.json.Decoder:
        return msgspec.json.Decoder(self.reply)

    def read_reply(self, frame: str | bytes) -> Reply | None:
        """The frame's control fields, or None when it is not a JSON object of the expected shape."""
        try:
            return self._reply_decoder.decode(frame)
        except msgspec.DecodeError:
            return None
