"""Receive lag per market: exchange trade time to local receipt, median and max over the last minute.

`ReceiveLag.add` runs once per trade on the ingest loop, so it only counts into the current
one-second slot: the max, and a bounded uniform sample (reservoir) of the lags; nothing is sorted
per trade. `window` runs on any other thread (status, the lag warning): it copies the slots and
computes a weighted median over the samples, each sample standing for count/len(samples) trades of
its second, so a busy second weighs what it carried.

Thread safety without locks: a slot is replaced by a new object when its second changes, never
reset in place, and a reader only takes C-level copies (`list(...)`) of the slot list and of a
slot's samples, which the GIL makes atomic; a slot updated while it is read is at most one trade
ahead in its count.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import NamedTuple

from recorder.clock import S

WINDOW_S = 60
SAMPLES_PER_SECOND = 64
"""reservoir size per second and market: the median over a minute then rests on up to 3,840 samples"""


class _Slot:
    __slots__ = ("count", "max", "samples", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.count = 0
        self.max = -(1 << 62)
        self.samples: list[int] = []


class LagWindow(NamedTuple):
    """The receive lag of one market over the last minute, in seconds (negative: the exchange's clock is ahead)."""

    median_s: float
    max_s: float
    trades: int


class ReceiveLag:
    def __init__(self, random_fraction: Callable[[], float] = random.random) -> None:
        self._slots: list[_Slot] = [_Slot(-1) for _ in range(WINDOW_S)]
        self._current = self._slots[0]
        self._random = random_fraction

    def add(self, ts_ns: int, received_ns: int) -> None:
        """Count one trade: exchange time `ts_ns`, local receipt `received_ns` (the hot path: no sorting, one object per second)."""
        lag = received_ns - ts_ns
        second = received_ns // S
        slot = self._current
        if slot.second != second:
            slot = self._current = self._slots[second % WINDOW_S] = _Slot(second)
        slot.count += 1
        if lag > slot.max:
            slot.max = lag
        samples = slot.samples
        if len(samples) < SAMPLES_PER_SECOND:
            samples.append(lag)
        else:  # reservoir sampling (algorithm R): every lag of the second is kept with the same probability
            index = int(self._random() * slot.count)
            if index < SAMPLES_PER_SECOND:
                samples[index] = lag

    def window(self, now_ns: int) -> LagWindow | None:
        """Median and max over the seconds (now − 60 s, now]; None without a trade in that minute. Any thread."""
        now_s = now_ns // S
        weighted: list[tuple[int, float]] = []
        trades = 0
        highest = None
        for slot in list(self._slots):
            if not now_s - WINDOW_S < slot.second <= now_s:
                continue
            samples = list(slot.samples)
            count = slot.count
            if not samples:
                continue
            trades += count
            highest = slot.max if highest is None else max(highest, slot.max)
            weight = count / len(samples)  # count was read after the samples: never fewer
            weighted += [(lag, weight) for lag in samples]
        if highest is None:
            return None
        return LagWindow(round(weighted_median(weighted) / S, 4), round(highest / S, 4), trades)


def weighted_median(pairs: list[tuple[int, float]]) -> float:
    """The value at half the total weight (pairs: value, weight > 0); the mean of the two middle values at an exact tie."""
    pairs = sorted(pairs)
    cumulative = list(accumulate(weight for _, weight in pairs))
    half = cumulative[-1] / 2
    i = bisect_right(cumulative, half)
    if i and cumulative[i - 1] == half:
        return (pairs[i - 1][0] + pairs[i][0]) / 2
    return pairs[i][0]
