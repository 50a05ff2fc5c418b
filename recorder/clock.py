"""Time units and formats, defined once for every in-house package that may import `recorder`.

Times are integer nanoseconds since the epoch (UTC) everywhere. `analysis/` keeps its own copies
of these few lines on purpose: it imports nothing in-house.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

S = 1_000_000_000
"""nanoseconds per second"""
MS = 1_000_000
"""nanoseconds per millisecond"""
KST = timezone(timedelta(hours=9), "KST")
"""Upbit's zone; Korea has no daylight saving time, so a fixed offset needs no tz database."""


def iso_utc(ns: int) -> str:
    """ns → ISO 8601 UTC with nanoseconds kept (`2026-11-20T05:00:00.123456789Z`)."""
    seconds, rest = divmod(ns, S)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"
