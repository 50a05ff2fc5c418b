"""The cryptofeed class we run per market: its own endpoints and TLS, pre-set symbols, and our hooks.

- Symbols: `recorder.instruments.cryptofeed_symbols.install` fills `Symbols` before a feed is built,
  so `load_symbols` returns at once (exchange.py:128); a feed that would still try a REST symbol
  fetch raises instead (`_fetch_symbol_data` is overridden).
- Connections: `_wrap_connection` (feed.py:231) hands each websocket to `SupervisedWS`; `subscribe`
  reports the connection up once the subscription was sent, and a subscribe that raises closes the
  socket to reconnect instead of stopping the handler.
- Keepalive: where cryptofeed sends no application ping for an exchange that needs one (Bybit,
  Gate), the exchange module's `Keepalive` is added as `keepalive_interval`/`keepalive`.
- Replies: every frame under 4 KiB is parsed into the exchange's `Reply` struct: a rejected request
  is counted and logged loudly (cryptofeed only logs it), the answer to our own ping is dropped
  (cryptofeed would log it as unhandled, or raise).
- Per-message errors: an exception while handling one message would make cryptofeed drop and
  reconnect the whole connection (connection_handler.py:136); here it is counted and logged
  (rate-limited), and the connection keeps reading. This includes exceptions raised by `on_trade`.
- Offline replay: `replay_connections` gives the connections `run` would open, without opening them,
  so frames can be pushed through the same hooks and parsers without a socket (bench.ingest).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptofeed.connection import RestEndpoint, WebsocketEndpoint, WSAsyncConn

from recorder.exchanges import EXCHANGES
from recorder.exchanges.base import Exchange
from recorder.feeds.endpoints import TLSHTTPConn, rewrite_url
from recorder.feeds.supervised_ws import SupervisedWS
from recorder.instruments import cryptofeed_symbols
from recorder.markets import MarketSpec
from recorder.net_errors import describe_error

if TYPE_CHECKING:
    from recorder.feeds.market import ShardRuntime


class ReplayConnection(NamedTuple):
    """One connection of a feed that is built but not run: `await handler(frame, conn, receipt_time)` takes a frame
    the way a live frame arriving on `conn` goes (our hooks, cryptofeed's parser, `on_trade`)."""

    conn: Any
    """the connection as `run` wraps it (`SupervisedWS` for a websocket); never opened"""
    handler: Callable[[str, Any, float], Awaitable[None]]
    symbols: tuple[str, ...]
    """the normalized symbols this connection subscribes"""


class _RecorderFeedMixin:
    """Behaviour added to every cryptofeed class we run; mixed in before the exchange class."""

    _pw_exchange: Exchange
    _pw_keepalive: Callable[[], str] | None = None
    _pw_ssl: ssl_module.SSLContext | None = None

    def __init__(self, *args: Any, pw_runtime: ShardRuntime, **kwargs: Any) -> None:
        self._pw_runtime = pw_runtime
        super().__init__(*args, **kwargs)
        self.http_conn = TLSHTTPConn(self.id, self.http_proxy, self._pw_ssl)

    @classmethod
    async def _fetch_symbol_data(cls, conn):
        raise RuntimeError(f"{cls.id}: symbols must be installed with recorder.instruments.cryptofeed_symbols.install "
                           "before a feed is built; refusing cryptofeed's own REST symbol loading")

    def _wrap_connection(self, conn):
        if not isinstance(conn, WSAsyncConn) or isinstance(conn, SupervisedWS):
            return conn
        runtime = self._pw_runtime
        return SupervisedWS(conn.address, self.id, runtime=runtime, logical_id=runtime.next_logical_id(),
                            subscription=conn.subscription, **conn.ws_kwargs)

    def replay_connections(self) -> list[ReplayConnection]:
        """The connections `run` would open, wrapped as `run` wraps them, none opened.

        For replaying frames offline through the production feed (bench.ingest measures ingest without the
        network this way) without reaching into cryptofeed's connection set-up.
        """
        return [ReplayConnection(self._wrap_connection(conn), handler, self._pw_symbols_of(conn))
                for conn, _subscribe, handler in self.connect()]

    def _pw_symbols_of(self, conn) -> tuple[str, ...]:
        out = []
        for symbols in (getattr(conn, "subscription", None) or {}).values():
            for symbol in symbols:
                with suppress(Exception):
                    out.append(self.exchange_symbol_to_std_symbol(symbol))
        return tuple(out)

    async def subscribe(self, conn):
        try:
            await super().subscribe(conn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pw_runtime.owner.log.warning("%s: subscribe failed (%s); closing the socket to reconnect",
                                               getattr(conn, "logical_id", conn.uuid), describe_error(exc))
            with suppress(Exception):
                await conn.close()
            return
        if isinstance(conn, SupervisedWS):
            conn.mark_up(self._pw_symbols_of(conn))

    async def keepalive(self, conn):
        if self._pw_keepalive is not None:
            await conn.write(self._pw_keepalive())
        else:
            await super().keepalive(conn)

    async def message_handler(self, msg, conn, timestamp):
        reply = self._pw_exchange.read_reply(msg) if isinstance(msg, str) and len(msg) < 4096 else None
        if reply is not None:
            if reply.rejected:
                self._pw_runtime.owner.rejection(getattr(conn, "logical_id", "?"), msg)
            if reply.pong:
                return
        try:
            await super().message_handler(msg, conn, timestamp)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pw_runtime.owner.message_error(getattr(conn, "logical_id", "?"), exc, msg)


def feed_subclass(spec: MarketSpec, *, ws_base: str | None = None, rest_base: str | None = None,
                  ssl: ssl_module.SSLContext | None = None, connection_limit: int | None = None) -> type:
    """The cryptofeed class for `spec` with endpoints rewritten, TLS options, keepalive and our hooks."""
    base = cryptofeed_symbols.feed_class(spec)
    exchange = EXCHANGES[spec.exchange]
    endpoints = []
    for endpoint in base.websocket_endpoints:
        options = dict(endpoint.options or {})
        if ssl is not None:
            options["ssl"] = ssl
        limit = endpoint.limit
        if exchange.multi_connection and connection_limit:
            limit = min(limit, connection_limit) if limit else connection_limit
        endpoints.append(WebsocketEndpoint(rewrite_url(endpoint.address, ws_base), sandbox=None,
                                           instrument_filter=endpoint.instrument_filter,
                                           channel_filter=endpoint.channel_filter, limit=limit, options=options))
    rest = [dataclasses.replace(ep, address=rewrite_url(ep.address, rest_base), sandbox=None) if isinstance(ep, RestEndpoint) else ep
            for ep in base.rest_endpoints]
    attrs: dict[str, Any] = {
        "websocket_endpoints": endpoints,
        "rest_endpoints": rest,
        "_pw_ssl": ssl,
        "_pw_exchange": exchange,
        "__module__": __name__,
        "__qualname__": f"Recorder{base.__name__}_{spec.market}",
    }
    keepalive = exchange.markets[spec.market].keepalive
    if keepalive is not None and not getattr(base, "keepalive_interval", None):
        attrs["keepalive_interval"] = keepalive.interval
        attrs["_pw_keepalive"] = staticmethod(keepalive.message)
    return type(attrs["__qualname__"], (_RecorderFeedMixin, base), attrs)
