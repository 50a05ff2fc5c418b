"""`pumpwatch status`: the status snapshot as a terminal table."""

from __future__ import annotations


def _age(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.0f}m"


def render(snapshot: dict) -> str:
    rows = [("market", "connected", "conns", "symbols", "trades/s", "last trade", "trades", "rejected")]
    for key, market in sorted(snapshot.get("markets", {}).items()):
        rows.append((key, "yes" if market.get("connected") else "NO", str(market.get("connections", 0)),
                     f"{market.get('symbols', 0)}/{market.get('listed', 0)}", f"{market.get('trades_per_s', 0):.1f}",
                     _age(market.get("last_trade_age_s")), str(market.get("trades_total", 0)), str(market.get("rejected_total", 0))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    writer = snapshot.get("writer", {})
    upbit = snapshot.get("upbit", {})
    lines += [
        "",
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
