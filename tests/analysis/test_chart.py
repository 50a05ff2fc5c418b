"""The chart, judged by what it is built of (matplotlib artists), never by pixels."""

from __future__ import annotations

import itertools

from matplotlib.text import Text

from analysis.chart import LABEL_GAP_PT, build_chart
from analysis.event import load_event
from analysis.report import build_analysis
from recorder.markets import MARKETS
from tests.analysis.synthetic import EventBuilder, listing


def chart(builder: EventBuilder):
    event = load_event(builder.write())
    return build_chart(event, build_analysis(event))


def axes(fig, label: str):
    return next((ax for ax in fig.axes if ax.get_label() == label), None)


def gids(artists, prefix: str) -> set[str]:
    return {a.get_gid().removeprefix(prefix) for a in artists if (a.get_gid() or "").startswith(prefix)}


def test_every_plotted_line_is_named_at_its_right_end(builder: EventBuilder) -> None:
    fig = chart(listing(builder))
    price = axes(fig, "price")
    traded = {"binance.futures", "binance.spot", "kucoin.spot", "gate.spot", "okx.spot"}
    assert gids(price.lines, "line:") == traded
    labels = {t.get_gid().removeprefix("label:"): t for t in price.texts if (t.get_gid() or "").startswith("label:")}
    assert set(labels) == traded
    assert labels["binance.futures"].get_text() == "binance futures"
    assert labels["okx.spot"].get_text() == "okx spot (not ranked)"
    assert all(t.xy[0] == 1 for t in labels.values())  # at the right edge of the panel


def test_labels_of_lines_that_end_together_are_nudged_apart(builder: EventBuilder) -> None:
    for i, spec in enumerate(MARKETS):  # twelve venues all ending within 0.1 % of each other
        builder.flat_before(spec.exchange, spec.market, 10.0)
        builder.trade(spec.exchange, spec.market, 5_000, 11.0 + i * 0.001)
    fig = chart(builder)
    renderer = fig.canvas.get_renderer()
    price = axes(fig, "price")
    labels = [t for t in price.texts if (t.get_gid() or "").startswith("label:")]
    for label in labels:
        label.update_positions(renderer)
    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text alone, not the leader line with it
    assert len(boxes) == 12
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    centres = sorted((b.y0 + b.y1) / 2 for b in boxes)
    assert min(hi - lo for lo, hi in itertools.pairwise(centres)) >= LABEL_GAP_PT * fig.dpi / 72 - 0.5


def test_coverage_gaps_are_shaded_on_every_panel_in_the_markets_colour(builder: EventBuilder) -> None:
    listing(builder)
    builder.verdict("gate", "futures", "gap", gaps=[(2_000, 9_000), (12_000, 15_000)])
    fig = chart(builder)
    for label in ("price", "notional"):
        spans = [p for p in axes(fig, label).patches if (p.get_gid() or "").startswith("gap:")]
        assert sorted(p.get_gid() for p in spans) == ["gap:gate.futures", "gap:gate.futures", "gap:okx.spot"]
    assert {t.get_text() for t in axes(fig, "price").texts} >= {"okx spot: gap", "gate futures: gap"}


def test_the_legend_explains_the_styles_not_the_venues(builder: EventBuilder) -> None:
    fig = chart(listing(builder))
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "futures notional (hatched)" in entries and "futures (perpetual)" in entries
    assert "shaded: coverage gap (market named at its top)" in entries
    assert not any("binance" in entry for entry in entries)


def test_the_default_window_is_drawn_whole_without_an_overview(builder: EventBuilder) -> None:
    fig = chart(listing(builder))
    assert axes(fig, "overview") is None
    assert axes(fig, "price").get_xlim() == (-20.0, 20.0)


def test_a_long_window_zooms_to_the_reaction_and_shows_the_whole_in_an_overview(builder: EventBuilder) -> None:
    builder.before_s, builder.after_s = 3 * 3600, 3 * 3600
    listing(builder)
    for second in range(-3 * 3600, 3 * 3600, 60):
        builder.trade("bybit", "futures", second * 1000, 10.0, amount=5)
    fig = chart(builder)
    overview = axes(fig, "overview")
    assert overview is not None and overview.get_xlim() == (-3 * 3600.0, 3 * 3600.0)
    assert gids(overview.patches, "") >= {"zoom"}
    assert axes(fig, "price").get_xlim() == (-20.0, 60.0) and axes(fig, "notional").get_xlim() == (-20.0, 60.0)
    # notional bars only for the seconds in view: bounded by the zoom, not by six hours of trading
    assert len([p for p in axes(fig, "notional").patches if not p.get_gid()]) <= 80 * 12
