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


def _universe(universe: dict | None) -> list[str]:
    if universe is None:
        return []
    if universe.get("filtered"):
        line = (f"universe: {universe.get('instruments', 0)} instruments, filtered by {universe.get('upbit_krw', 0)} Upbit KRW coins "
                f"(fetched {universe.get('upbit_krw_fetched_at') or 'at an unknown time'})")
    else:
        line = (f"universe: UNFILTERED, no Upbit KRW list fetched yet: every instrument is recorded, KRW-listed coins too "
                f"({universe.get('instruments', 0)})")
    degraded = universe.get("degraded") or []
    return [line + (f"; retrying {', '.join(degraded)}" if degraded else "")]


def _upbit(upbit: dict) -> list[str]:
    """The watcher: polling or not, since when it fails and why, when it tries again."""
    state = upbit.get("state", "?")
    if state == "stopped":
        return ["upbit: not watched (recorder only)"]
    lines = [f"upbit: {state}  polls: {upbit.get('polls', 0)} ({upbit.get('failures_total', 0)} failed, "
             f"{upbit.get('consecutive_failures', 0)} in a row)  last success: {upbit.get('last_success_at') or 'never'}"]
    if upbit.get("last_error"):
        next_poll = upbit.get("next_poll_in_s")
        lines.append(f"  last error: {upbit.get('last_error_at')} {upbit['last_error']}"
                     + (f"  next poll in {next_poll:.1f}s" if next_poll is not None else ""))
    return lines


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
        *_universe(snapshot.get("universe")),
        *_upbit(upbit),
    ]
    lines += [f"  notice {n['id']}: {n['title']}" + (f"  -> KRW {','.join(n['krw_symbols'])}" if n.get("krw_symbols") else "")
              for n in upbit.get("recent_notices", [])[:5]]
    lines.append(f"events extracted: {snapshot.get('events_extracted', 0)}")
    lines += [f"  {event['folder']}" for event in snapshot.get("events", [])[:5]]
    return "\n".join(lines)
