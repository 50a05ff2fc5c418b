"""Capped, jittered exponential backoff over consecutive failures: reconnects and Upbit polls share one rule."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """The wait before the next attempt: `base` doubling per consecutive failure, never above `cap`.

    Pure: it never sleeps and draws its jitter from `rand` (uniform in [0, 1)), so tests can make it
    deterministic. Count failures with `failed`, successes with `succeeded` (or `session_ended`), then
    wait `delay()`.
    """

    base: float = 1.0
    cap: float = 30.0
    jitter: tuple[float, float] = (0.8, 1.2)
    """the delay is scaled by a factor drawn from this range (and still never exceeds `cap`)."""
    immediate_retry: bool = True
    """the first retry after a failure goes at once (a dropped connection); without it `base` is the
    wait after a success too (a poll period) and the first failure doubles it."""
    healthy_after: float = 30.0
    """a session at least this long resets the failure count (`session_ended`)."""
    rand: Callable[[], float] = random.random
    failures: int = 0

    def delay(self) -> float:
        """Seconds to wait now: with `immediate_retry` 0, 0, base, 2·base …; without it base, 2·base, 4·base …"""
        if self.immediate_retry:
            if self.failures <= 1:
                return 0.0
            doublings = self.failures - 2
        else:
            doublings = self.failures
        raw = min(self.cap, self.base * 2 ** min(doublings, 30))
        low, high = self.jitter
        return min(self.cap, raw * (high - (high - low) * self.rand()))

    def failed(self) -> None:
        self.failures += 1

    def succeeded(self) -> None:
        self.failures = 0

    def session_ended(self, duration: float) -> None:
        """A session that lasted `healthy_after` counts as a success; a shorter one as another failure."""
        if duration >= self.healthy_after:
            self.succeeded()
        else:
            self.failed()
