"""An asyncio event loop on a thread of its own, for the service's work that must not wait for the ingest loop.

The ingest loop (feeds, normalizer, writer hand-off) can be saturated for seconds at high trade
rates; the status endpoint, the Upbit watcher and the scheduler each run on a loop of their own so
that they keep their timing. Work crosses between loops only through `submit`/`run` (and
`loop.call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A daemon thread running its own event loop until `stop`; tasks left on it are cancelled at stop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on this loop; callable from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on this loop from another loop, without blocking the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the loop (cancelling what still runs on it) and join the thread; False if it did not end in time."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        return not self._thread.is_alive()
