"""Analyse one event folder and write `analysis.json`, `summary.md` and `chart.png` into it.

`build_analysis` is pure (an `Event` in, a JSON-ready dict out); `analyze_event` adds the I/O.
Every file is written to a temporary name and renamed into place, and `analysis.json` is written
last, so its presence means the analysis finished (a chart failure is recorded in it, not fatal).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from analysis.event import Event, iso_kst, iso_utc, load_event, offset_ms, parse_time_ns
from analysis.metrics import DEFAULT_MIN_TRADES, DEFAULT_PUMP_THRESHOLD, DEFAULT_REFERENCE_WINDOW_S, market_metrics
from analysis.ranking import rank_markets
from analysis.taker_orders import taker_order_summary

log = logging.getLogger(__name__)

FORMAT = "pumpwatch.analysis/1"
ANALYSIS_FILE, SUMMARY_FILE, CHART_FILE = "analysis.json", "summary.md", "chart.png"

UNITS = {
    "offsets": "milliseconds from the announcement (exchange trade time); negative = before",
    "gains": "fractions of the reference price (0.03 = +3 %)",
    "notional": "quote currency (price × amount)",
    "prices": "quote currency per one coin",
    "times": "ISO 8601 UTC with nanoseconds",
}


def build_analysis(
    event: Event,
    pump_threshold: float = DEFAULT_PUMP_THRESHOLD,
    min_trades: int = DEFAULT_MIN_TRADES,
    *,
    reference_window_s: float = DEFAULT_REFERENCE_WINDOW_S,
) -> dict[str, Any]:
    """All metrics of one event as a JSON-serialisable dict (see the README for the keys)."""
    if not pump_threshold > 0:
        raise ValueError(f"pump_threshold must be > 0 (a fraction: 0.03 = +3 %), got {pump_threshold!r}")
    if int(min_trades) != min_trades or min_trades < 1:
        raise ValueError(f"min_trades must be a whole number >= 1, got {min_trades!r}")
    if not reference_window_s > 0:
        raise ValueError(f"reference_window_s must be > 0, got {reference_window_s!r}")
    min_trades = int(min_trades)

    markets = []
    for info in event.markets:
        trades = event.market_trades(info)
        metrics = market_metrics(
            trades,
            event.announced_ns,
            window=(event.start_ns, event.end_ns),
            pump_threshold=pump_threshold,
            min_trades=min_trades,
            reference_window_s=reference_window_s,
            last_before=info.last_before,
        )
        markets.append(
            {
                "exchange": info.exchange,
                "market": info.market,
                "key": info.key,
                "verdict": info.verdict,
                "rankable": info.rankable,
                "gaps": [_gap_offsets(gap, event.announced_ns) for gap in info.gaps],
                "instruments": list(info.instruments),
                "symbols_traded": sorted(trades["symbol"].unique().tolist()),
                "trades": len(trades),
                "trades_reported": info.trades_reported,
                **metrics,
            }
        )

    ranked = rank_markets(markets)
    quotes = sorted(set(event.trades["quote"].unique().tolist()) - {""})
    return {
        "format": FORMAT,
        "coin": event.coin,
        "folder": event.folder,
        "announced_at": iso_utc(event.announced_ns),
        "announced_at_kst": iso_kst(event.announced_ns),
        "window": {
            "start": iso_utc(event.start_ns),
            "end": iso_utc(event.end_ns),
            "before_s": event.before_s,
            "after_s": event.after_s,
        },
        "quote": quotes[0] if len(quotes) == 1 else None,
        "parameters": {
            "pump_threshold": pump_threshold,
            "min_trades": min_trades,
            "reference_window_s": reference_window_s,
            "bar_s": 1,
            "reference": f"VWAP over the {reference_window_s:g} s before the announcement; the last trade before it if that is empty",
            "reaction": "start of the first 1 s bar at/after the announcement whose high is >= reference × (1 + pump_threshold) "
            "and that has >= min_trades trades; falls never count",
            "ranked_verdicts": ["complete", "backfilled"],
        },
        "units": UNITS,
        "first_pump": ranked["first_pump"],
        "ranking": ranked["ranking"],
        "unranked": ranked["unranked"],
        "markets": markets,
        "taker_orders": taker_order_summary(event.trades, event.announced_ns),
        "trades": len(event.trades),
    }


def _gap_offsets(gap: dict[str, Any], announced_ns: int) -> dict[str, Any]:
    """The extractor's gap, plus its bounds as offsets from the announcement when they parse."""
    out = dict(gap)
    for key in ("start", "end"):
        try:
            out[f"{key}_ms"] = offset_ms(parse_time_ns(gap[key]), announced_ns) if gap.get(key) else None
        except (ValueError, TypeError):
            out[f"{key}_ms"] = None
    return out


def analyze_event(
    event_dir: Path,
    pump_threshold: float = DEFAULT_PUMP_THRESHOLD,
    min_trades: int = DEFAULT_MIN_TRADES,
    *,
    reference_window_s: float = DEFAULT_REFERENCE_WINDOW_S,
    chart: bool = True,
) -> dict[str, Any]:
    """Analyse `event_dir`, write `analysis.json`, `summary.md` and `chart.png` there, return the analysis."""
    event_dir = Path(event_dir)
    event = load_event(event_dir)
    analysis = build_analysis(event, pump_threshold, min_trades, reference_window_s=reference_window_s)
    files: dict[str, str | None] = {"analysis": ANALYSIS_FILE, "summary": SUMMARY_FILE, "chart": None}
    if chart:
        from analysis.chart import render_chart

        try:
            render_chart(event, analysis, event_dir / CHART_FILE)
            files["chart"] = CHART_FILE
        except Exception as exc:  # the numbers matter more than the picture: keep them
            analysis["chart_error"] = f"{type(exc).__name__}: {exc}"
            log.warning("chart for %s failed: %s (the analysis is written without it)", event_dir, analysis["chart_error"])
            log.debug("chart failure", exc_info=True)
    analysis["files"] = files
    analysis["analysed_at"] = iso_utc(time.time_ns())
    write_atomic(event_dir / SUMMARY_FILE, summary_markdown(analysis))
    write_atomic(event_dir / ANALYSIS_FILE, json.dumps(analysis, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return analysis


def write_atomic(path: Path, text: str) -> None:
    """Write beside the target and rename over it: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- summary


def _ms(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+,.0f}" if signed else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} %"


def _venue(row: dict[str, Any]) -> str:
    return f"{row['exchange']} {row['market']}"


def first_pump_line(analysis: dict[str, Any]) -> str:
    """One sentence: who pumped first, when, how far."""
    first = analysis.get("first_pump")
    threshold = analysis["parameters"]["pump_threshold"] * 100
    if not first:
        return f"**No pump**: no fully recorded venue rose {threshold:+g} % or more in a 1 s bar."
    line = (
        f"**First pump: {_venue(first)}** at {_ms(first['first_pump_trade_ms'], True)} ms "
        f"(bar {first['reaction_ms'] // 1000:+d} s), peak {_pct(first['peak_gain'])} at {_ms(first['time_to_peak_ms'], True)} ms"
    )
    if first.get("same_bar"):
        line += f"; same second: {', '.join(k.replace('.', ' ') for k in first['same_bar'])}"
    return line + "."


def summary_table(analysis: dict[str, Any]) -> str:
    """The first-pump line and one markdown row per market.

    Order: venues that pumped (rank 1, 2, ...), rankable venues that did not (`·`), then markets whose
    coverage forbids ranking (`–`, verdict in bold).
    """
    quote = analysis.get("quote") or "quote"
    by_key = {m["key"]: m for m in analysis["markets"]}
    lines = [
        first_pump_line(analysis),
        "",
        f"| # | venue | verdict | reaction ms | first pump trade ms | peak % | time to peak ms | notional after ({quote}) | trades after |",
        "|--:|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    rows = [(str(r["rank"] or "·"), r) for r in analysis["ranking"]] + [("–", r) for r in analysis["unranked"]]
    for rank, row in rows:
        market = by_key[f"{row['exchange']}.{row['market']}"]
        verdict = row["verdict"] if market["rankable"] else f"**{row['verdict']}**"
        reaction = _ms(row["reaction_ms"]) if row["reaction_ms"] is not None else ("no pump" if row["trades_after"] else "no trades")
        lines.append(
            f"| {rank} | {_venue(row)} | {verdict} | {reaction} | {_ms(row['first_pump_trade_ms'], True)} | "
            f"{_pct(row['peak_gain'])} | {_ms(row['time_to_peak_ms'], True)} | {row['notional_after']:,.0f} | {row['trades_after']:,} |"
        )
    return "\n".join(lines)


def summary_markdown(analysis: dict[str, Any]) -> str:
    """`summary.md`: a title, the table, and the few notes needed to trust it."""
    params = analysis["parameters"]
    lines = [f"# {analysis['coin']}: Upbit KRW listing announced {analysis['announced_at_kst']}", "", summary_table(analysis), ""]
    lines.append(
        f"Pump: a 1 s bar whose high is at least {params['pump_threshold'] * 100:+g} % over the reference "
        f"(VWAP of the {params['reference_window_s']:g} s before the announcement) with at least {params['min_trades']} trades. "
        "Reaction ms is that bar's start; first pump trade ms is the first trade at/above the threshold inside it."
    )
    if analysis["unranked"]:
        lines += ["", "Not ranked (coverage), so silence there is not slowness:"]
        for row in analysis["unranked"]:
            spans = [
                f"{_ms(g.get('start_ms'), True)}…{_ms(g.get('end_ms'), True)} ms" for g in row["gaps"] if g.get("start_ms") is not None
            ]
            lines.append(f"- {_venue(row)}: {row['verdict']}: {row['reason']}" + (f" (gaps {', '.join(spans)})" if spans else ""))
    fallbacks = [m for m in analysis["markets"] if m["reference"]["method"] == "last_trade_before"]
    if fallbacks:
        lines += [
            "",
            "Reference is the last trade before the announcement (no trade in the reference window): "
            + ", ".join(f"{m['exchange']} {m['market']} ({_ms(m['reference']['last_trade_before_ms'], True)} ms)" for m in fallbacks),
        ]
    if analysis.get("chart_error"):
        lines += ["", f"Chart failed: {analysis['chart_error']}"]
    return "\n".join(lines) + "\n"
