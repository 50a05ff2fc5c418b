"""Time units and formats, defined once for every in-house package that may import `recorder`.

Times are integer nanoseconds since the epoch (UTC) everywhere. `analysis/` keeps its own copies
of these few lines on purpose: it imports nothing in-house.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

S = 1_000_000_000
"""nanoseconds per second"""
MS = 1_000_000
"""nanoseconds per millisecond"""
KST = timezone(timedelta(hours=9), "KST")
"""Upbit's zone; Korea has no daylight saving time, so a fixed offset needs no tz database."""


_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def iso_utc(ns: int, unit: Literal["s", "ms", "us", "ns"] = "ns") -> str:
    """ns → ISO 8601 UTC, cut to `unit` (by default nanoseconds kept: `2026-11-20T05:00:00.123456789Z`)."""
    seconds, rest = divmod(ns, S)
    fraction = f".{rest:09d}"[: _DIGITS[unit] + 1] if _DIGITS[unit] else ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def iso_z(moment: datetime) -> str:
    """An aware datetime → ISO 8601 UTC with `Z` (`2026-11-20T05:00:00Z`), the one format of times in logs and files."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware time")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
