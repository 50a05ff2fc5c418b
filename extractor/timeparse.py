"""Parse `--at`: ISO 8601 with an offset, a naive time in a given zone (KST by default), or epoch s/ms.

A trailing `KST` (as in folder names and summaries: `20261120T140000KST`, `2026-11-20 14:00:00 KST`)
names the zone outright.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recorder.clock import KST, S

_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")
_KST_SUFFIX = re.compile(r"\s*KST$", re.IGNORECASE)


class TimeParseError(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeParseError(f"unknown time zone {name!r} (expected an IANA name like Asia/Seoul or UTC)") from None


def parse_at(text: str, tz: tzinfo = KST) -> int:
    """The instant `text` names, as integer ns since the epoch (UTC).

    Epoch values: up to 10 integer digits are seconds, 13 are milliseconds. A naive ISO time is
    taken in `tz` (Upbit announces in KST), or in KST when it ends in `KST`.
    """
    value = text.strip()
    said_kst = bool(_KST_SUFFIX.search(value))
    if said_kst:
        value, tz = _KST_SUFFIX.sub("", value), KST
    if _EPOCH.match(value):
        integer = value.split(".")[0]
        if len(integer) <= 10:
            return round(float(value) * 1_000_000) * 1000
        if len(integer) == 13:
            return round(float(value) * 1000) * 1000
        raise TimeParseError(f"{text!r}: epoch values must be seconds (10 digits) or milliseconds (13 digits)")
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise TimeParseError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-20T14:00:00+09:00, or naive = KST) or epoch seconds/milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    elif said_kst and moment.utcoffset() != KST.utcoffset(None):
        raise TimeParseError(f"{text!r} says KST but carries the offset {moment.strftime('%z')} (KST is +0900)")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * S + delta.microseconds * 1000


def iso_kst(ns: int) -> str:
    seconds, rest = divmod(ns, S)
    return datetime.fromtimestamp(seconds, tz=KST).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}+09:00"


def folder_stamp(ns: int) -> str:
    """`20261120T140000KST`: the event folder's time, in Upbit's zone."""
    return datetime.fromtimestamp(ns // S, tz=KST).strftime("%Y%m%dT%H%M%S") + "KST"
