"""The cross-event study: across every analysed listing, which venue leads, by how many ms, how often, how far.

Pure functions over the events' `analysis.json` dicts (no store, no config): `study_frame` makes one
row per event × market, `venue_stats` the per-venue statistics, `report_markdown` and `render_report_chart`
their two presentations, and `write_report` the three files.

Honest coverage, in two rules:
- a market counts only when its verdict is `complete` or `backfilled` (`COUNTED_VERDICTS`): a market with
  a gap or no connection is in `report.parquet` but in no statistic, so a disconnect never reads as a slow
  venue;
- lead statistics (who was first, how far behind the first, top 3) need a race: an event with fewer than
  `MIN_COUNTED_MARKETS` counted markets is excluded from them (its markets still count in the per-market
  statistics: reaction after the announcement, peak, notional).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.event import RANKABLE_VERDICTS, kst_label, parse_time_ns
from analysis.report import write_atomic

COUNTED_VERDICTS = RANKABLE_VERDICTS
MIN_COUNTED_MARKETS = 3
"""below this many counted markets an event is no race: a venue "leading" two others says little"""
FIRST_SECONDS = 5
"""notional is summed over the bars [0 s, FIRST_SECONDS s) after the announcement"""
REPORT_PARQUET, REPORT_MD, REPORT_PNG = "report.parquet", "report.md", "report.png"

COLUMNS = {
    "event": "string", "coin": "string", "announced_ns": "int64", "venue": "string", "exchange": "string", "market": "string",
    "verdict": "string", "counted": "bool", "counted_markets": "int64", "lead_eligible": "bool", "reaction_ms": "float64",
    "reaction_bar_ms": "float64", "behind_first_ms": "float64", "rank": "Int64", "first": "bool", "peak_gain": "float64",
    "time_to_peak_ms": "float64", "notional_first_5s": "float64", "trades_after": "int64", "pump_threshold": "float64",
    "min_trades": "int64",
}  # fmt: skip
"""report.parquet: one row per event × market (times in ms from the announcement; gains as fractions)"""


def event_rows(analysis: dict[str, Any], min_counted: int = MIN_COUNTED_MARKETS) -> list[dict[str, Any]]:
    """One event's markets as study rows; `rank`, `first` and `behind_first_ms` come from the event's own ranking."""
    ranking = {f"{r['exchange']}.{r['market']}": r for r in analysis.get("ranking") or []}
    first = analysis.get("first_pump") or {}
    first_key = f"{first['exchange']}.{first['market']}" if first else None
    markets = analysis.get("markets") or []
    counted_markets = sum(1 for m in markets if m.get("verdict") in COUNTED_VERDICTS)
    parameters = analysis.get("parameters") or {}
    rows = []
    for market in markets:
        key = f"{market['exchange']}.{market['market']}"
        counted = market.get("verdict") in COUNTED_VERDICTS
        ranked = ranking.get(key, {}) if counted else {}
        rows.append(
            {
                "event": analysis.get("folder") or "",
                "coin": analysis.get("coin") or "",
                "announced_ns": parse_time_ns(analysis["announced_at"]),
                "venue": key,
                "exchange": market["exchange"],
                "market": market["market"],
                "verdict": market.get("verdict") or "unknown",
                "counted": counted,
                "counted_markets": counted_markets,
                "lead_eligible": counted and counted_markets >= min_counted,
                "reaction_ms": market.get("first_pump_trade_ms"),
                "reaction_bar_ms": market.get("reaction_ms"),
                "behind_first_ms": ranked.get("behind_first_ms"),
                "rank": ranked.get("rank"),
                "first": counted and key == first_key,
                "peak_gain": market.get("peak_gain"),
                "time_to_peak_ms": market.get("time_to_peak_ms"),
                "notional_first_5s": sum(b.get("notional") or 0.0 for b in market.get("bars") or []
                                         if isinstance(b, dict) and isinstance(b.get("second"), int) and 0 <= b["second"] < FIRST_SECONDS),
                "trades_after": (market.get("after") or {}).get("trades", 0),
                "pump_threshold": parameters.get("pump_threshold"),
                "min_trades": parameters.get("min_trades"),
            }
        )
    return rows


def study_frame(analyses: list[dict[str, Any]], min_counted: int = MIN_COUNTED_MARKETS) -> pd.DataFrame:
    """Every event's rows in one frame, events in announcement order."""
    rows = [row for analysis in analyses for row in event_rows(analysis, min_counted)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({name: kind for name, kind in COLUMNS.items() if kind != "Int64"}).astype({"rank": "Int64"})
    return frame.sort_values(["announced_ns", "event"], kind="stable").reset_index(drop=True)


def _spread(values: pd.Series) -> dict[str, Any]:
    """Median, quartiles and how many values they stand on (None when there are none)."""
    values = values.dropna().astype(float)
    if values.empty:
        return {"median": None, "q1": None, "q3": None, "n": 0}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "n": len(values)}


def venue_stats(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per venue, over counted markets only; lead figures over races (lead-eligible events where some venue pumped).

    Ordered by share of races led, then by median reaction.
    """
    counted = frame[frame["counted"]]
    raced_events = set(frame.loc[frame["first"] & frame["lead_eligible"], "event"])
    stats = []
    for venue, rows in counted.groupby("venue", sort=True):
        races = rows[rows["lead_eligible"] & rows["event"].isin(raced_events)]
        led = int(races["first"].sum())
        top3 = int((races["rank"].fillna(np.iinfo(np.int64).max) <= 3).sum())
        stats.append(
            {
                "venue": venue,
                "events": len(rows),
                "races": len(races),
                "led": led,
                "led_share": led / len(races) if len(races) else None,
                "top3": top3,
                "top3_share": top3 / len(races) if len(races) else None,
                "reaction_ms": _spread(rows["reaction_ms"]),
                "behind_first_ms": _spread(races["behind_first_ms"]),
                "peak_gain": _spread(rows["peak_gain"]),
                "time_to_peak_ms": _spread(rows.loc[rows["peak_gain"].notna(), "time_to_peak_ms"]),
                "notional_first_5s": _spread(rows["notional_first_5s"]),
            }
        )
    inf = float("inf")
    return sorted(stats, key=lambda s: (-(s["led_share"] or 0.0), s["reaction_ms"]["median"] if s["reaction_ms"]["n"] else inf, s["venue"]))


def event_overview(frame: pd.DataFrame, min_counted: int = MIN_COUNTED_MARKETS) -> list[dict[str, Any]]:
    """One line per event: its first venue, counted markets, and whether it took part in the lead statistics."""
    out = []
    for event, rows in frame.groupby("event", sort=False):
        first = rows[rows["first"]]
        counted = int(rows["counted_markets"].iloc[0])
        out.append(
            {
                "event": event,
                "coin": rows["coin"].iloc[0],
                "announced_ns": int(rows["announced_ns"].iloc[0]),
                "counted_markets": counted,
                "markets": len(rows),
                "first": first["venue"].iloc[0] if len(first) else None,
                "in_lead_stats": counted >= min_counted and len(first) > 0,
                "excluded": f"{counted} counted markets (< {min_counted})" if counted < min_counted else None,
            }
        )
    return out


# ---------------------------------------------------------------- presentation


def thresholds_line(frame: pd.DataFrame) -> str:
    """Which pump thresholds the events were analysed with: a mix makes reactions incomparable, so it is said."""
    pairs = frame.drop_duplicates("event")[["pump_threshold", "min_trades"]].drop_duplicates()
    described = ", ".join(f"pump_threshold {p:g} / min_trades {m}" for p, m in pairs.itertuples(index=False))
    if len(pairs) > 1:
        return f"Thresholds MIXED ({described}): run `pumpwatch analyze --all` to analyse every event alike."
    return f"Thresholds: {described} (every event)." if described else ""


def _ms(spread: dict[str, Any]) -> str:
    if not spread["n"]:
        return "—"
    return f"{spread['median']:,.0f} ({spread['q1']:,.0f}–{spread['q3']:,.0f}) n={spread['n']}"


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "—"


def report_markdown(frame: pd.DataFrame, stats: list[dict[str, Any]], *, min_counted: int = MIN_COUNTED_MARKETS,
                    since: str | None = None) -> str:
    """`report.md`: the per-venue table, how each number is made, and the events behind it."""
    events = event_overview(frame, min_counted)
    races = sum(1 for e in events if e["in_lead_stats"])
    excluded = [e for e in events if e["excluded"]]
    period = f" (announced in the last {since})" if since else ""
    lines = [
        "# Which venue moves first on an Upbit KRW listing",
        "",
        f"{len(events)} analysed events{period}; {races} races in the lead statistics; "
        f"{len(excluded)} excluded from them for fewer than {min_counted} fully recorded markets.",
        "",
        thresholds_line(frame),
        "",
        "| venue | events | led | top 3 | reaction ms median (IQR) | behind first ms median (IQR) | peak % median | "
        f"time to peak ms median | notional first {FIRST_SECONDS} s median |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in stats:
        peak = s["peak_gain"]
        lines.append(
            f"| {s['venue']} | {s['events']} | {_share(s['led'], s['races'])} | {_share(s['top3'], s['races'])} | "
            f"{_ms(s['reaction_ms'])} | {_ms(s['behind_first_ms'])} | "
            + (f"{peak['median'] * 100:+.1f} n={peak['n']}" if peak["n"] else "—")
            + f" | {_ms(s['time_to_peak_ms'])} | {_ms(s['notional_first_5s'])} |"
        )
    lines += [
        "",
        "How each number is made:",
        "- **events**: events in which the venue's coverage verdict was `complete` or `backfilled`; a market with any "
        "other verdict (a gap, no connection, coin not listed) is in report.parquet but in no statistic.",
        f"- **led**, **top 3**: among the races the venue took part in (events with at least {min_counted} counted markets "
        "and a pump), how often its first pump trade came first / within the first three reacting venues.",
        "- **reaction ms**: the first trade at or above the pump threshold inside the venue's first reacting 1 s bar, "
        "in ms after the announcement (exchange time); median and inter-quartile range over the events where it pumped.",
        "- **behind first ms**: the same trade's distance to the race's first venue (0 when it was first), races only.",
        "- **peak %**, **time to peak**: the highest trade after the announcement against the pre-announcement reference "
        "(VWAP of the 20 s before), and when it printed.",
        f"- **notional first {FIRST_SECONDS} s**: quote-currency volume of the bars [0 s, {FIRST_SECONDS} s), zero included.",
        "- `n=` is the number of events each figure stands on.",
        "",
        "Events:",
        "",
        "| announced | coin | first venue | counted markets | in lead statistics |",
        "|---|---|---|--:|---|",
    ]
    for e in reversed(events):
        lines.append(f"| {kst_label(e['announced_ns'])} | {e['coin']} | {e['first'] or '—'} | {e['counted_markets']}/{e['markets']} | "
                     + ("yes" if e["in_lead_stats"] else f"no: {e['excluded'] or 'no pump'}") + " |")
    return "\n".join(lines) + "\n"


def render_report_chart(frame: pd.DataFrame, stats: list[dict[str, Any]], path: Path) -> Any:
    """Per-venue reaction times (box + every event as a dot, log ms) beside the share of races each venue led.

    Returns the figure (tests read its artists); the PNG is written atomically. A reaction at 0 ms is drawn at 1 ms:
    a log axis has no zero.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator

    venues = [s["venue"] for s in stats]
    fig = Figure(figsize=(13, 1.6 + 0.55 * max(len(venues), 3)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    react_ax, led_ax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    counted = frame[frame["counted"]]
    rows = range(len(venues))[::-1]  # the leader on top
    rng = np.random.default_rng(0)  # fixed jitter: the same data draws the same picture
    labels: list[str] = []
    for y, venue in zip(rows, venues, strict=True):
        values = counted.loc[(counted["venue"] == venue), "reaction_ms"].dropna().clip(lower=1.0).to_numpy()
        if len(values):
            react_ax.boxplot([values], positions=[y], orientation="horizontal", widths=0.5, showfliers=False,
                             medianprops={"color": "#d62728"}, boxprops={"color": "#555555"})
            react_ax.scatter(values, y + rng.uniform(-0.15, 0.15, len(values)), s=18, color="#1f77b4", alpha=0.7, zorder=3,
                             label=venue)
        events = int((counted["venue"] == venue).sum())
        labels.append(f"{venue}\n" + (f"pumped in {len(values)} of {events}" if len(values) else f"no pump in {events}"))
    react_ax.set_xscale("log")
    react_ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    react_ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
    react_ax.set_yticks(list(rows), labels)
    react_ax.set_ylim(-0.7, len(venues) - 0.3)
    react_ax.set_xlabel("first pump trade, ms after the announcement (log)")
    react_ax.set_title("Reaction per venue (complete/backfilled markets; box: quartiles, red: median)")
    react_ax.grid(axis="x", which="both", alpha=0.3)

    shares = [(s["led_share"] or 0.0) * 100 for s in stats]
    bars = led_ax.barh(list(rows), shares, color="#2ca02c", height=0.5)
    for bar, s in zip(bars, stats, strict=True):
        led_ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{s['led']}/{s['races']}", va="center", fontsize=9)
    led_ax.set_xlim(0, 115)
    led_ax.set_xlabel("% of races led")
    led_ax.set_title("Led the race")
    led_ax.tick_params(axis="y", labelleft=False)
    led_ax.grid(axis="x", alpha=0.3)

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return fig


def write_report(analyses: list[dict[str, Any]], out_dir: Path, *, min_counted: int = MIN_COUNTED_MARKETS,
                 since: str | None = None) -> dict[str, Any]:
    """Write report.parquet, report.md and report.png into `out_dir`; return the frame, the stats and the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = study_frame(analyses, min_counted)
    stats = venue_stats(frame)
    parquet = out_dir / REPORT_PARQUET
    tmp = parquet.with_name(f".{parquet.name}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, parquet)
    markdown = report_markdown(frame, stats, min_counted=min_counted, since=since)
    write_atomic(out_dir / REPORT_MD, markdown)
    figure = render_report_chart(frame, stats, out_dir / REPORT_PNG)
    return {"frame": frame, "stats": stats, "markdown": markdown, "figure": figure,
            "files": [parquet, out_dir / REPORT_MD, out_dir / REPORT_PNG]}
