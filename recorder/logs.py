"""Logging: one line per event to stderr, and for the service also to a rotated file under `logs/`.

Times are ISO 8601 UTC with `Z` (`2026-11-30T07:37:29.908Z`), like every time a line quotes, so
lines from machines in different zones, Upbit's +09:00 and the exchanges' epochs read alike.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from recorder.clock import MS, S, iso_utc

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class UTCFormatter(logging.Formatter):
    """The line's time in ISO 8601 UTC with milliseconds and `Z`, whatever the machine's zone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_utc(int(record.created) * S + int(record.msecs) * MS, "ms")


def setup_logging(level: str = "INFO", log_dir: Path | None = None) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not any(getattr(h, "_pumpwatch", False) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(UTCFormatter(FORMAT))
        stream._pumpwatch = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_dir / "pumpwatch.log", maxBytes=50 * 1024**2, backupCount=10)
        handler.setFormatter(UTCFormatter(FORMAT))
        root.addHandler(handler)
    for noisy in ("asyncio", "aiohttp.access", "websockets", "apscheduler", "urllib3", "cryptofeed"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class ChangeLog:
    """Logs a subject's state only when it changes, and once when it recovers: a retry loop repeats no line.

    `change(subject, state, …)` logs when `state` differs from the subject's last one; `recovered(subject, …)`
    logs only if a change was logged before, and forgets it. The state is what identifies a condition (a market's
    `failed`, Upbit's `unfiltered`), never a message holding times or counts that change on each try.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._states: dict[str, object] = {}

    def change(self, subject: str, state: object, message: str, *args: object, level: int = logging.ERROR) -> None:
        if self._states.get(subject, _NONE) != state:
            self._states[subject] = state
            self.logger.log(level, message, *args)

    def recovered(self, subject: str, message: str, *args: object) -> None:
        if self._states.pop(subject, _NONE) is not _NONE:
            self.logger.info(message, *args)


_NONE = object()
