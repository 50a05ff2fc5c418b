"""The event chart: price change in % against seconds from the announcement, notional bars underneath.

Rendered headless with Agg through matplotlib's object API (a `Figure` with its own canvas, no
pyplot): no global backend switch, no display, and safe in the worker thread the service analyses
in. matplotlib is imported inside the function so importing the package stays cheap.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from analysis.event import NS_PER_S, Event, kst_label

WIDTH_IN, HEIGHT_IN, DPI = 14, 9, 100
"""1400 × 900 px: readable on a laptop screen and in a chat preview."""

LINESTYLES = {"spot": "-", "futures": "--"}
"""Market type → line style (colour is the exchange); any other market type is dotted."""


def render_chart(event: Event, analysis: dict[str, Any], path: Path) -> Path:
    """Write the chart PNG atomically to `path` and return it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    price_ax, money_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})

    palette = [
        "#1f77b4",
        "#d62728",
        "#2ca02c",
        "#ff7f0e",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#17becf",
        "#7f7f7f",
        "#bcbd22",
    ]
    exchanges = list(dict.fromkeys(m["exchange"] for m in analysis["markets"]))
    colour = {name: palette[i % len(palette)] for i, name in enumerate(exchanges)}
    threshold = analysis["parameters"]["pump_threshold"]
    first = analysis.get("first_pump") or {}
    quote = analysis.get("quote") or "quote"

    plotted = 0
    silent: list[str] = []
    bottoms: dict[int, float] = {}
    for info, market in zip(event.markets, analysis["markets"], strict=True):
        name = f"{market['exchange']} {market['market']}"
        style = LINESTYLES.get(market["market"], ":")
        ranked = market["rankable"]
        trades = event.market_trades(info)
        reference = market["reference"]["price"]
        if trades.empty or not reference:
            silent.append(f"{name} ({'no trades' if trades.empty else 'no trade before T'})")
        else:
            seconds = (trades["ts_ns"].to_numpy(dtype=np.int64) - event.announced_ns) / NS_PER_S
            change = (trades["price"].to_numpy(dtype=float) / reference - 1.0) * 100.0
            label = _label(name, market)
            price_ax.plot(
                seconds,
                change,
                linestyle=style,
                drawstyle="steps-post",
                linewidth=1.6 if ranked else 1.0,
                alpha=1.0 if ranked else 0.55,
                color=colour[market["exchange"]],
                label=label,
            )
            if market.get("first_pump_trade_ms") is not None:
                pump_price = market["first_pump_trade_price"]
                is_first = (market["exchange"], market["market"]) == (first.get("exchange"), first.get("market"))
                price_ax.plot(
                    [market["first_pump_trade_ms"] / 1000],
                    [(pump_price / reference - 1) * 100],
                    marker="*" if is_first else "o",
                    markersize=16 if is_first else 7,
                    color=colour[market["exchange"]],
                    markeredgecolor="black",
                    linestyle="none",
                )
            plotted += 1
        bars = [b for b in market["bars"] if b["notional"] > 0]
        if bars:
            xs = [b["second"] for b in bars]
            heights = [b["notional"] for b in bars]
            base = [bottoms.get(x, 0.0) for x in xs]
            money_ax.bar(
                xs,
                heights,
                bottom=base,
                width=1.0,
                align="edge",
                color=colour[market["exchange"]],
                alpha=0.85 if style == "-" else 0.5,
                hatch=None if style == "-" else "//",
                edgecolor="white",
                linewidth=0.4,
            )
            for x, h in zip(xs, heights, strict=True):
                bottoms[x] = bottoms.get(x, 0.0) + h

    for ax in (price_ax, money_ax):
        ax.axvline(0.0, color="black", linewidth=1.4)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(*_span(-event.before_s, event.after_s))
    price_ax.axhline(0.0, color="grey", linewidth=0.8)
    price_ax.axhline(threshold * 100, color="grey", linewidth=0.8, linestyle=(0, (4, 4)))
    price_ax.annotate("announcement", xy=(0, 0), xycoords=("data", "axes fraction"), xytext=(4, 4), textcoords="offset points", fontsize=10)
    price_ax.annotate(
        f"pump threshold +{threshold * 100:g} %",
        xy=(1, threshold * 100),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 3),
        textcoords="offset points",
        ha="right",
        fontsize=9,
        color="dimgrey",
    )
    price_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+g} %"))
    price_ax.set_ylabel("price change vs reference")
    not_plotted = "not plotted: " + ", ".join(silent) if silent else None
    if plotted:
        # Below the plots, never over the data; the bar colours underneath are the same as the lines.
        fig.legend(loc="outside lower center", ncol=min(plotted, 3), fontsize=9, frameon=False, title=not_plotted, title_fontsize=8)
    else:
        message = "no market traded on both sides of the announcement" + (f"\n\n{textwrap.fill(not_plotted, 110)}" if not_plotted else "")
        price_ax.text(
            0.5,
            0.5,
            message,
            transform=price_ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            color="dimgrey",
            bbox={"facecolor": "white", "edgecolor": "none"},
        )
    money_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    money_ax.set_ylabel(f"notional per second ({quote})")
    money_ax.set_xlabel("seconds from the announcement (exchange trade time)")

    headline = f"{analysis['coin']}: Upbit KRW listing announced {kst_label(event.announced_ns)}"
    if first:
        headline += f"  ·  first pump {first['exchange']} {first['market']} at +{first['first_pump_trade_ms']:,.0f} ms"
    fig.suptitle(headline, fontsize=14, fontweight="bold")

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _span(low: float, high: float) -> tuple[float, float]:
    """Axis limits around [low, high]: a zero-length window (an old folder) still gets a second of axis, not a singular one."""
    return (low, high) if high - low >= 1.0 else ((low + high) / 2 - 0.5, (low + high) / 2 + 0.5)


def _label(name: str, market: dict[str, Any]) -> str:
    parts = [name]
    if not market["rankable"]:
        parts.append(f"[{market['verdict']}]")
    if market.get("peak_gain") is not None:
        parts.append(f"peak {market['peak_gain'] * 100:+.1f} %")
    if market.get("first_pump_trade_ms") is not None:
        parts.append(f"pump +{market['first_pump_trade_ms']:,.0f} ms")
    return "  ".join(parts)


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
