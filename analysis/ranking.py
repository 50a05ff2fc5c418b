"""Across markets: which venue pumped first, and the venues in order of reaction.

Only markets whose coverage verdict is `complete` or `backfilled` are ranked: for them "no reaction"
means the market did not move. A market with a `gap`, `not_connected`, `not_listed` or `unknown`
verdict is listed separately with that verdict, so a disconnect never masquerades as a slow venue
(nor a lucky partial recording as a fast one).
"""

from __future__ import annotations

from typing import Any

from analysis.event import RANKABLE_VERDICTS


def _reaction_key(entry: dict[str, Any]) -> tuple[int, float, float]:
    """Earliest reacting bar first, within one bar the earlier first pump trade; markets that did not
    react after them: the ones that traded first, higher peak first, silent ones last."""
    if entry.get("reaction_ms") is None:
        traded = bool((entry.get("after") or {}).get("trades"))
        peak = entry.get("peak_gain")
        return (1 if traded else 2, -peak if peak is not None else float("inf"), 0.0)
    first_trade = entry.get("first_pump_trade_ms")
    return (0, float(entry["reaction_ms"]), float("inf") if first_trade is None else float(first_trade))


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    after = entry.get("after") or {}
    return {
        "exchange": entry["exchange"],
        "market": entry["market"],
        "verdict": entry.get("verdict"),
        "reaction_ms": entry.get("reaction_ms"),
        "first_pump_trade_ms": entry.get("first_pump_trade_ms"),
        "peak_gain": entry.get("peak_gain"),
        "time_to_peak_ms": entry.get("time_to_peak_ms"),
        "notional_after": after.get("notional", 0.0),
        "trades_after": after.get("trades", 0),
        "imbalance_after": after.get("imbalance"),
    }


def rank_markets(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """`first_pump`, `ranking` (rankable markets by reaction, None last) and `unranked` (other verdicts).

    In `ranking`, markets that reacted carry `rank` 1, 2, ...; the others follow with `rank` None.

    Each entry needs `exchange`, `market`, `verdict` and the metrics of `metrics.market_metrics`.
    Ties keep the input order (the extractor's market order), so the result is deterministic.
    """
    rankable = [e for e in entries if e.get("verdict") in RANKABLE_VERDICTS]
    ordered = sorted(rankable, key=_reaction_key)
    # Only a reaction earns a rank number: "did not pump" has no place in a race.
    ranking = []
    for position, entry in enumerate(ordered, start=1):
        ranking.append({"rank": position if entry.get("reaction_ms") is not None else None, **_row(entry)})

    first = ranking[0] if ranking and ranking[0]["reaction_ms"] is not None else None
    if first is not None:
        lead = first["first_pump_trade_ms"]
        for row in ranking:
            reacted = row["first_pump_trade_ms"] is not None and lead is not None
            row["behind_first_ms"] = round(row["first_pump_trade_ms"] - lead, 3) if reacted else None
    else:
        for row in ranking:
            row["behind_first_ms"] = None

    unranked = []
    for entry in entries:
        if entry.get("verdict") in RANKABLE_VERDICTS:
            continue
        unranked.append({**_row(entry), "gaps": list(entry.get("gaps") or []), "reason": unranked_reason(entry.get("verdict"))})

    first_pump = None
    if first is not None:
        keys = ("exchange", "market", "reaction_ms", "first_pump_trade_ms", "peak_gain", "time_to_peak_ms")
        first_pump = {key: first[key] for key in keys}
        # The same bar on several venues is a tie at second resolution; say so rather than hide it.
        first_pump["same_bar"] = [f"{r['exchange']}.{r['market']}" for r in ranking[1:] if r["reaction_ms"] == first["reaction_ms"]]
    return {"first_pump": first_pump, "ranking": ranking, "unranked": unranked}


def unranked_reason(verdict: str | None) -> str:
    """One line a reader understands without knowing the coverage model."""
    return {
        "gap": "recording had a gap inside the window: timings are not comparable",
        "not_connected": "no recorder was connected to this market during the window",
        "not_listed": "the coin was not among this market's recorded instruments",
    }.get(verdict or "", "coverage unknown: the event folder does not say whether this market was recorded")
