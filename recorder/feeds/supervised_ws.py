"""The websocket connection every feed instance uses: it reconnects with capped backoff and reports up/down.

Reconnects: cryptofeed's `ConnectionHandler.run` sleeps 1 s after any exception, doubles that delay
until a subscribe succeeds, and gives up after `retries` (connection_handler.py:82-130). Feeds run
with `retries=-1`, and `Feed._wrap_connection` (feed.py:231, a documented hook) swaps each
`WSAsyncConn` for `SupervisedWS`: its `_open` retries internally with a CAPPED, jittered exponential
backoff (`recorder.backoff.Backoff`: immediate first retry, then 1 s doubling to `backoff_cap`; reset
by a session of `healthy_after` seconds) and never raises except on stop, and its `read` ends normally
when the socket closes, so the handler reconnects at once without its own sleep. A subscribe that
raises is logged and the socket closed instead of re-raised (`feed_class`). The handler's delay
therefore never grows and the only wait is ours.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from cryptofeed.connection import WSAsyncConn
from cryptofeed.exceptions import ConnectionClosed
from websockets.exceptions import ConnectionClosed as WebsocketsClosed

from recorder.backoff import Backoff
from recorder.net_errors import describe_error

if TYPE_CHECKING:
    from recorder.feeds.market import ShardRuntime


class SupervisedWS(WSAsyncConn):
    """A `WSAsyncConn` that reconnects with capped backoff inside `_open` and reports up/down."""

    def __init__(self, address: str, conn_id: str, *, runtime: ShardRuntime, logical_id: str, subscription=None,
                 **ws_kwargs: Any) -> None:
        super().__init__(address, conn_id, subscription=subscription, **ws_kwargs)
        self.runtime = runtime
        self.logical_id = logical_id
        self.backoff = Backoff(cap=runtime.owner.backoff_cap, healthy_after=runtime.owner.healthy_after)
        self.up_symbols: tuple[str, ...] | None = None
        self.sessions = 0
        self.close_reason: str | None = None

    async def _open(self) -> None:
        stop = self.runtime.stop_event
        while True:
            delay = self.backoff.delay()
            if delay > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                raise ConnectionClosed(f"{self.logical_id}: stopping")
            try:
                await super()._open()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.backoff.failed()
                failures = self.backoff.failures
                if failures <= 3 or failures % 10 == 0:
                    self.runtime.owner.log.warning("%s: connect to %s failed (%d in a row): %s; retrying with backoff (cap %.0fs)",
                                                   self.logical_id, self.address.split("?")[0], failures, describe_error(exc),
                                                   self.backoff.cap)

    @asynccontextmanager
    async def connect(self):
        await self._open()
        self.connects += 1
        self.sessions += 1
        self.close_reason = None
        started = time.monotonic()
        try:
            yield self
        finally:
            try:
                await self.close()
            finally:
                self.backoff.session_ended(time.monotonic() - started)
                if self.up_symbols is not None:
                    symbols, self.up_symbols = self.up_symbols, None
                    self.runtime.owner.emit(self.logical_id, "down", symbols, self.close_reason or "closed",
                                            planned=self.runtime.stop_event.is_set())

    async def read(self):
        """Frames until the socket closes; a close ends the iteration instead of raising.

        cryptofeed's handler sleeps (1 s, doubling until a subscribe succeeds) after any exception
        before reconnecting (connection_handler.py:103-126); ending normally makes it reconnect at
        once, so the only wait is our own backoff in `_open` (none after a healthy session).
        """
        try:
            async for data in super().read():
                yield data
        except (WebsocketsClosed, ConnectionClosed, ConnectionError, OSError, TimeoutError) as exc:
            self.close_reason = f"{type(exc).__name__}: {exc}"

    def mark_up(self, symbols: tuple[str, ...]) -> None:
        self.up_symbols = symbols
        self.runtime.owner.emit(self.logical_id, "up", symbols)
