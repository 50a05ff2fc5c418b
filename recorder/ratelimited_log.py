"""A logger wrapper that lets one line per reason through per interval: a flood of bad trades or frames stays readable."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter


class RateLimitedLog:
    """One log line per reason per interval, with the count of what was suppressed in between."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, reason: str, message: str, *args: object) -> None:
        self.log(logging.WARNING, reason, message, *args)

    def error(self, reason: str, message: str, *args: object) -> None:
        self.log(logging.ERROR, reason, message, *args)

    def log(self, level: int, reason: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -math.inf) < self.interval_s:
            self._suppressed[reason] += 1
            return
        self._last[reason] = now
        extra = self._suppressed.pop(reason, 0)
        suffix = f" ({extra} more like this suppressed)" if extra else ""
        self.logger.log(level, message + suffix, *args)
