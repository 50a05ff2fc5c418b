"""Logging: one line per event to stdout, and for the service also to a rotated file under `logs/`."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", log_dir: Path | None = None) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not any(getattr(h, "_pumpwatch", False) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(FORMAT))
        stream._pumpwatch = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_dir / "pumpwatch.log", maxBytes=50 * 1024**2, backupCount=10)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    for noisy in ("asyncio", "aiohttp.access", "websockets", "apscheduler", "urllib3", "cryptofeed"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
