"""The event chart: price change in % against seconds from the announcement, notional bars underneath.

Rendered headless with Agg through matplotlib's object API (a `Figure` with its own canvas, no
pyplot): no global backend switch, no display, and safe in the worker thread the service analyses
in. matplotlib is imported inside the functions so importing the package stays cheap.

What a reader needs without a legend hunt: each line carries its venue's name at its right end
(nudged apart where lines end close together), each market's coverage gaps are shaded in its
colour, and the legend explains the styles (dashed line and hatched bars = futures). A window
longer than the default 40 s is shown zoomed to the reaction, with the whole window in a small
overview panel above; everything drawn stays proportional to the trades, never to the window.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.event import NS_PER_S, Event, kst_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 14, 9, 100
"""1400 × 900 px: readable on a laptop screen and in a chat preview."""

LINESTYLES = {"spot": "-", "futures": "--"}
"""Market type → line style (colour is the exchange); any other market type is dotted."""

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")

DEFAULT_WINDOW_S = 40.0
"""A window up to this long is drawn whole; a longer one zoomed to `ZOOM_S`, with an overview panel."""
ZOOM_S = (-20.0, 60.0)
"""the reaction: from the reference window's start to a minute after the announcement"""
LABEL_FONT_PT = 9
LABEL_GAP_PT = 11.0
"""the least vertical distance between two line-end labels"""
GAP_ALPHA = 0.13


@dataclass(frozen=True)
class Series:
    """One market's line: seconds from the announcement and % change from its reference, sorted by time."""

    key: str
    name: str
    colour: str
    style: str
    ranked: bool
    seconds: np.ndarray
    change: np.ndarray

    def visible(self, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """The points inside [low, high] as a step line from edge to edge: the price in force at `low`
        (the last trade before it) starts the line and the price in force at `high` ends it."""
        first = max(int(np.searchsorted(self.seconds, low, side="right")) - 1, 0)
        last = int(np.searchsorted(self.seconds, high, side="right"))
        xs, ys = self.seconds[first:last], self.change[first:last]
        if not len(xs):
            return xs, ys
        return np.concatenate([np.maximum(xs, low), [high]]), np.concatenate([ys, ys[-1:]])


def render_chart(event: Event, analysis: dict[str, Any], path: Path) -> Path:
    """Write the chart PNG atomically to `path` and return it."""
    fig = build_chart(event, analysis)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def build_chart(event: Event, analysis: dict[str, Any]) -> Figure:
    """The chart as a matplotlib Figure (axes `price`, `notional`, and `overview` for a long window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    window = _span(-event.before_s, event.after_s)
    zoomed = event.before_s + event.after_s > DEFAULT_WINDOW_S
    view = _span(max(window[0], ZOOM_S[0]), min(window[1], ZOOM_S[1])) if zoomed else window
    if zoomed:
        overview_ax, price_ax, money_ax = fig.subplots(3, 1, gridspec_kw={"height_ratios": [1, 3, 1.2]})
        money_ax.sharex(price_ax)
    else:
        overview_ax = None
        price_ax, money_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    price_ax.set_label("price")
    money_ax.set_label("notional")

    exchanges = list(dict.fromkeys(m["exchange"] for m in analysis["markets"]))
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(exchanges)}
    series, silent = _series(event, analysis, colour)
    first = analysis.get("first_pump") or {}

    for line in series:
        xs, ys = line.visible(*view)
        if len(xs):
            price_ax.plot(xs, ys, linestyle=line.style, drawstyle="steps-post", linewidth=1.6 if line.ranked else 1.0,
                          alpha=1.0 if line.ranked else 0.55, color=line.colour, gid=f"line:{line.key}")
    _pump_markers(price_ax, analysis, colour, first, view)
    _money_bars(money_ax, analysis, colour, view)
    gaps = _gap_spans([price_ax, money_ax, *([overview_ax] if overview_ax is not None else [])], analysis, colour, view)

    threshold = analysis["parameters"]["pump_threshold"]
    for ax in (price_ax, money_ax):
        ax.axvline(0.0, color="black", linewidth=1.4)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(*view)
    price_ax.axhline(0.0, color="grey", linewidth=0.8)
    price_ax.axhline(threshold * 100, color="grey", linewidth=0.8, linestyle=(0, (4, 4)))
    price_ax.annotate("announcement", xy=(0, 0), xycoords=("data", "axes fraction"), xytext=(4, 4), textcoords="offset points", fontsize=10)
    price_ax.annotate(f"pump threshold +{threshold * 100:g} %", xy=(0, threshold * 100), xycoords=("axes fraction", "data"),
                      xytext=(4, 3), textcoords="offset points", fontsize=9, color="dimgrey")
    _percent_axis(price_ax, "price change vs reference")
    money_ax.set_ylabel(f"notional per second ({analysis.get('quote') or 'quote'})")
    money_ax.set_xlabel("seconds from the announcement (exchange trade time)")
    money_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    if overview_ax is not None:
        _overview(overview_ax, series, window, view)

    not_plotted = "not plotted: " + ", ".join(silent) if silent else None
    if series:
        _legend(fig, bool(gaps), not_plotted)
        _end_labels(fig, price_ax, series, view)
    else:
        message = "no market traded on both sides of the announcement" + (f"\n\n{textwrap.fill(not_plotted, 110)}" if not_plotted else "")
        price_ax.text(0.5, 0.5, message, transform=price_ax.transAxes, ha="center", va="center", fontsize=11, color="dimgrey",
                      bbox={"facecolor": "white", "edgecolor": "none"})

    headline = f"{analysis['coin']}: Upbit KRW listing announced {kst_label(event.announced_ns)}"
    if first:
        headline += f"  ·  first pump {first['exchange']} {first['market']} at +{first['first_pump_trade_ms']:,.0f} ms"
    fig.suptitle(headline, fontsize=14, fontweight="bold")
    return fig


def _series(event: Event, analysis: dict[str, Any], colour: dict[str, str]) -> tuple[list[Series], list[str]]:
    """A line per market that traded and has a reference; the others, named with the reason, for a note."""
    series, silent = [], []
    for info, market in zip(event.markets, analysis["markets"], strict=True):
        name = f"{market['exchange']} {market['market']}"
        trades = event.market_trades(info)
        reference = market["reference"]["price"]
        if trades.empty or not reference:
            silent.append(f"{name} ({'no trades' if trades.empty else 'no trade before T'})")
            continue
        seconds = (trades["ts_ns"].to_numpy(dtype=np.int64) - event.announced_ns) / NS_PER_S
        change = (trades["price"].to_numpy(dtype=float) / reference - 1.0) * 100.0
        series.append(Series(market["key"], name, colour[market["exchange"]], LINESTYLES.get(market["market"], ":"),
                             market["rankable"], seconds, change))
    return series, silent


def _pump_markers(ax: Axes, analysis: dict[str, Any], colour: dict[str, str], first: dict[str, Any], view: tuple[float, float]) -> None:
    """The first trade over the threshold of every market that reacted; a star for the first of all."""
    for market in analysis["markets"]:
        at_ms, reference = market.get("first_pump_trade_ms"), market["reference"]["price"]
        if at_ms is None or not reference or not view[0] <= at_ms / 1000 <= view[1]:
            continue
        is_first = (market["exchange"], market["market"]) == (first.get("exchange"), first.get("market"))
        ax.plot([at_ms / 1000], [(market["first_pump_trade_price"] / reference - 1) * 100], marker="*" if is_first else "o",
                markersize=16 if is_first else 7, color=colour[market["exchange"]], markeredgecolor="black", linestyle="none")


def _money_bars(ax: Axes, analysis: dict[str, Any], colour: dict[str, str], view: tuple[float, float]) -> None:
    """Notional per second stacked across markets, only for the seconds in view (a bar count bounded by the view)."""
    bottoms: dict[int, float] = {}
    for market in analysis["markets"]:
        bars = [b for b in market["bars"] if b["notional"] > 0 and view[0] - 1 < b["second"] < view[1]]
        if not bars:
            continue
        xs = [b["second"] for b in bars]
        heights = [b["notional"] for b in bars]
        spot = LINESTYLES.get(market["market"]) == "-"
        ax.bar(xs, heights, bottom=[bottoms.get(x, 0.0) for x in xs], width=1.0, align="edge", color=colour[market["exchange"]],
               alpha=0.85 if spot else 0.5, hatch=None if spot else "//", edgecolor="white", linewidth=0.4)
        for x, h in zip(xs, heights, strict=True):
            bottoms[x] = bottoms.get(x, 0.0) + h


def _gap_spans(axes: list[Axes], analysis: dict[str, Any], colour: dict[str, str], view: tuple[float, float]) -> list[str]:
    """Shade every market's coverage gaps in its colour on each panel; name them on the price panel. Returns the markets shaded."""
    shaded = []
    for market in analysis["markets"]:
        spans = [(g["start_ms"] / 1000, g["end_ms"] / 1000) for g in market.get("gaps") or []
                 if g.get("start_ms") is not None and g.get("end_ms") is not None]
        if not spans:
            continue
        shaded.append(market["key"])
        for low, high in spans:
            for ax in axes:
                ax.axvspan(low, high, color=colour[market["exchange"]], alpha=GAP_ALPHA, linewidth=0, gid=f"gap:{market['key']}")
            if low < view[1] and high > view[0]:
                axes[0].annotate(f"{market['exchange']} {market['market']}: {market['verdict']}", xy=(max(low, view[0]), 1),
                                 xycoords=("data", "axes fraction"), xytext=(3, -4 - 11 * (len(shaded) - 1)), textcoords="offset points",
                                 va="top", fontsize=8, color=colour[market["exchange"]])
    return shaded


def _overview(ax: Axes, series: list[Series], window: tuple[float, float], view: tuple[float, float]) -> None:
    """The whole window, thin lines only, with the zoomed part of the panels below framed."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.set_label("overview")
    for line in series:
        xs, ys = line.visible(*window)
        if len(xs):
            ax.plot(xs, ys, linestyle=line.style, drawstyle="steps-post", linewidth=0.8, color=line.colour)
    ax.axvline(0.0, color="black", linewidth=1.0)
    ax.axvspan(*view, facecolor=(0, 0, 0, 0.07), edgecolor=(0, 0, 0, 0.8), linewidth=1.0, gid="zoom")
    ax.set_xlim(*window)
    ax.grid(True, alpha=0.3)
    _percent_axis(ax, "")
    unit, size = _time_unit(window[1] - window[0])
    units = (window[1] - window[0]) / size
    step = next(s for s in (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000, np.inf) if units / s <= 10)
    ax.xaxis.set_major_locator(MultipleLocator(step * size))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / size:+g} {unit}" if v else "0"))
    ax.set_title(f"the whole window ({_duration_text(-window[0])} before, {_duration_text(window[1])} after); "
                 f"below: {view[0]:+g} s to {view[1]:+g} s", fontsize=9, loc="left")


def _legend(fig: Figure, gaps: bool, note: str | None) -> None:
    """What the styles mean (each line is named at its end, so no per-market entries)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color="dimgrey", linestyle="-", linewidth=1.6, label="spot"),
        Line2D([], [], color="dimgrey", linestyle="--", linewidth=1.6, label="futures (perpetual)"),
        Patch(facecolor="dimgrey", alpha=0.85, edgecolor="white", label="spot notional"),
        Patch(facecolor="dimgrey", alpha=0.5, hatch="//", edgecolor="white", label="futures notional (hatched)"),
        Line2D([], [], color="dimgrey", marker="*", markersize=12, markeredgecolor="black", linestyle="none", label="first pump"),
        Line2D([], [], color="dimgrey", marker="o", markersize=7, markeredgecolor="black", linestyle="none",
               label="first trade over the threshold"),
        Line2D([], [], color="dimgrey", linestyle="-", linewidth=1.0, alpha=0.55, label="thin, pale: not ranked (coverage)"),
    ]
    if gaps:
        handles.append(Patch(facecolor="dimgrey", alpha=GAP_ALPHA * 2, label="shaded: coverage gap (market named at its top)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9, frameon=False, title=note, title_fontsize=8)


def _end_labels(fig: Figure, ax: Axes, series: list[Series], view: tuple[float, float]) -> None:
    """The venue's name at the right end of its line, nudged apart so that no two overlap.

    Positions are worked out in points on the laid-out axes, so the layout is drawn once first.
    """
    ends = [(float(ys[-1]), line) for line in series if len(ys := line.visible(*view)[1])]
    if not ends:
        return
    fig.draw_without_rendering()
    low, high = ax.get_ylim()
    height_pt = ax.get_window_extent().height * 72 / fig.dpi
    targets = [(y - low) / (high - low) * height_pt for y, _ in ends]
    placed = _spread(targets, LABEL_GAP_PT, height_pt)
    for (y, line), target, at in zip(ends, targets, placed, strict=True):
        suffix = "" if line.ranked else " (not ranked)"
        ax.annotate(line.name + suffix, xy=(1, y), xycoords=("axes fraction", "data"), xytext=(8, at - target), textcoords="offset points",
                    va="center", fontsize=LABEL_FONT_PT, color=line.colour, annotation_clip=False, gid=f"label:{line.key}",
                    arrowprops={"arrowstyle": "-", "color": line.colour, "linewidth": 0.6, "shrinkA": 0, "shrinkB": 0})


def _spread(targets: list[float], gap: float, height: float) -> list[float]:
    """Positions as near `targets` as possible, at least `gap` apart, kept within [0, height] while they fit."""
    order = sorted(range(len(targets)), key=lambda i: targets[i])
    placed = [0.0] * len(targets)
    floor = -np.inf
    for i in order:
        floor = placed[i] = max(targets[i], floor + gap)
    ceiling = max(height, len(targets) * gap)
    for i in reversed(order):
        ceiling = placed[i] = min(placed[i], ceiling)
        ceiling -= gap
    return placed


def _percent_axis(ax: Axes, label: str) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+g} %"))
    ax.set_ylabel(label)


def _span(low: float, high: float) -> tuple[float, float]:
    """Axis limits around [low, high]: a zero-length window (an old folder) still gets a second of axis, not a singular one."""
    return (low, high) if high - low >= 1.0 else ((low + high) / 2 - 0.5, (low + high) / 2 + 0.5)


def _time_unit(seconds: float, count: float = 3) -> tuple[str, float]:
    """The largest unit (and its size in s) of which `seconds` holds at least `count`: a 6 h axis ticks in h, 90 s reads 1.5 min."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= count * size:
            return unit, size
    return "s", 1.0


def _duration_text(seconds: float) -> str:
    unit, size = _time_unit(seconds, count=1)
    return f"{seconds / size:g} {unit}"


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
