"""What a market's feeds tell the rest of the recorder: connection up/down events and the subscription report.

Connection lifecycle: `on_connection(ConnectionEvent)` with state `up` after the feed's
`subscribe(conn)` returned (hook: `feed_class._RecorderFeedMixin.subscribe`) and `down` when that
session closes (hook: `supervised_ws.SupervisedWS.connect`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ConnectionState = Literal["up", "down"]
TradeCallback = Callable[[Any, float], Awaitable[None]]
ConnectionCallback = Callable[["ConnectionEvent"], Any]


@dataclass(frozen=True)
class ConnectionEvent:
    """A websocket connection of one market came up (subscribed) or went down."""

    exchange: str
    market: str
    conn_id: str
    state: ConnectionState
    symbols: tuple[str, ...]
    """normalized symbols subscribed on this connection."""
    ts_ns: int


@dataclass(frozen=True)
class SubscriptionReport:
    """For logging: how many symbols are listed, subscribed, on how many connections and feeds."""

    market: str
    listed: int
    subscribed: int
    connections: int
    feeds: int
    not_subscribed: dict[str, str] = field(default_factory=dict)
    """symbol → why it cannot be subscribed (never dropped silently)."""

    def __str__(self) -> str:
        text = (f"{self.market}: {self.subscribed}/{self.listed} symbols subscribed on {self.connections} connections "
                f"in {self.feeds} feed instances")
        if self.not_subscribed:
            sample = ", ".join(f"{s} ({r})" for s, r in list(self.not_subscribed.items())[:10])
            text += f"; NOT subscribed: {len(self.not_subscribed)}: {sample}"
        return text
