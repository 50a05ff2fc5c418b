"""`pumpwatch status`: the status snapshot as a terminal table."""

from __future__ import annotations


def _age(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.0f}m"


def _lag(median: float | None, highest: float | None) -> str:
    """Receive lag over the last minute as `median/max` in ms (seconds from 10 s on)."""
    if median is None or highest is None:
        return "-"
    if highest < 10:
        return f"{median * 1000:.0f}/{highest * 1000:.0f}ms"
    return f"{median:.1f}/{highest:.1f}s"


def render(snapshot: dict) -> str:
    rows = [("market", "connected", "conns", "symbols", "trades/s", "last trade", "recv lag med/max", "trades", "rejected")]
    for key, market in sorted(snapshot.get("markets", {}).items()):
        rows.append((key, "yes" if market.get("connected") else "NO", str(market.get("connections", 0)),
                     f"{market.get('symbols', 0)}/{market.get('listed', 0)}", f"{market.get('trades_per_s', 0):.1f}",
                     _age(market.get("last_trade_age_s")), _lag(market.get("receive_lag_median_s"), market.get("receive_lag_max_s")),
                     str(market.get("trades_total", 0)), str(market.get("rejected_total", 0))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    writer = snapshot.get("writer", {})
    upbit = snapshot.get("upbit", {})
    stalled = snapshot.get("service", {}).get("ingest_loop_stalled_s")
    lines += [
        "",
        "ingest loop stalled: " + ("?" if stalled is None else f"{stalled:.2f}s"),
        f"store: {snapshot.get('service', {}).get('store', '?')}  rows written: {writer.get('rows_written', 0)}  "
        f"write lag: {writer.get('write_lag_s', 0):.3f}s  spool: {writer.get('spool_files', 0)} files "
        f"({writer.get('spool_bytes', 0)} bytes)  lost: {writer.get('rows_lost', 0)}",
        f"upbit: {upbit.get('state', '?')}  polls: {upbit.get('polls', 0)}",
    ]
    lines += [f"  notice {n['id']}: {n['title']}" + (f"  -> KRW {','.join(n['krw_symbols'])}" if n.get("krw_symbols") else "")
              for n in upbit.get("recent_notices", [])[:5]]
    lines.append(f"events extracted: {snapshot.get('events_extracted', 0)}")
    lines += [f"  {event['folder']}" for event in snapshot.get("events", [])[:5]]
    return "\n".join(lines)
