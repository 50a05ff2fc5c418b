"""`analyze_event` end to end on synthetic event folders: analysis.json, summary.md, chart.png."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from analysis import analyze_event, summary_table
from analysis.event import EventFolderError
from tests.analysis.synthetic import ANNOUNCED, EventBuilder, T, listing
from tests.conftest import REPO

TOP_LEVEL = {
    "format", "coin", "folder", "announced_at", "announced_at_kst", "window", "quote", "parameters", "units",
    "first_pump", "ranking", "unranked", "markets", "taker_orders", "trades", "files", "analysed_at",
}  # fmt: skip


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_listing_event_writes_analysis_summary_and_chart(builder: EventBuilder) -> None:
    folder = listing(builder).write()
    result = analyze_event(folder)

    on_disk = json.loads((folder / "analysis.json").read_text(encoding="utf-8"))
    assert set(on_disk) == TOP_LEVEL
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["coin"] == "TIA"
    assert on_disk["announced_at"] == "2026-11-20T05:00:00.000000000Z"
    assert on_disk["announced_at_kst"] == "2026-11-20T14:00:00.000000+09:00"  # ISO 8601, as metadata.json writes it
    assert on_disk["parameters"]["pump_threshold"] == 0.03 and on_disk["parameters"]["min_trades"] == 3
    assert on_disk["files"] == {"analysis": "analysis.json", "summary": "summary.md", "chart": "chart.png"}
    assert len(on_disk["markets"]) == 12
    futures = next(m for m in on_disk["markets"] if m["key"] == "binance.futures")
    assert futures["first_pump_trade_at"] == "2026-11-20T05:00:00.800000000Z"
    assert futures["reference"] == {
        "price": 10.0, "method": "vwap", "window_ms": 20_000, "trades_in_window": 20, "last_trade_before_ms": -1000.0,
    }  # fmt: skip
    assert len(futures["bars"]) == 40
    assert on_disk["taker_orders"]["largest"][0]["exchange"] == "binance"

    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# TIA: Upbit KRW listing announced 2026-11-20T14:00:00.000000+09:00")
    assert "**First pump: binance futures** at +800 ms (bar +0 s), peak +25.0 % at +3,200 ms." in summary
    assert "| 1 | binance futures | complete | 0 | +800 | +25.0 % | +3,200 |" in summary
    assert "| 2 | binance spot | complete | 2,000 | +2,100 |" in summary
    assert "| · | gate spot | complete | no pump |" in summary
    assert "| · | bybit spot | complete | no trades |" in summary
    assert "| – | okx spot | **gap** | 0 | +200 |" in summary
    assert "okx spot: gap" in summary and "-8,000…-3,000 ms" in summary
    assert summary_table(on_disk) in summary

    assert png_size(folder / "chart.png") == (1400, 900)
    assert sorted(p.name for p in folder.iterdir()) == ["analysis.json", "chart.png", "metadata.json", "summary.md", "trades.parquet"]


def test_summary_table_starts_with_the_first_pump_and_has_one_row_per_market(builder: EventBuilder) -> None:
    table = summary_table(analyze_event(listing(builder).write(), chart=False))
    lines = table.splitlines()
    assert lines[0].startswith("**First pump: binance futures**")
    assert lines[2].startswith("| # | venue | verdict | reaction ms | first pump trade ms | peak % | time to peak ms |")
    assert len([line for line in lines if line.startswith("| ")]) == 1 + 12


def test_parameters_change_the_answer(builder: EventBuilder) -> None:
    folder = listing(builder).write()
    strict = analyze_event(folder, pump_threshold=0.2, min_trades=1, chart=False)
    assert strict["first_pump"]["exchange"] == "binance" and strict["first_pump"]["first_pump_trade_ms"] == 3200.0
    loose = analyze_event(folder, pump_threshold=0.03, min_trades=1, chart=False)
    kucoin = next(r for r in loose["ranking"] if (r["exchange"], r["market"]) == ("kucoin", "spot"))
    assert kucoin["first_pump_trade_ms"] == 400.0  # the stray print counts once one trade is enough
    with pytest.raises(ValueError, match="pump_threshold"):
        analyze_event(folder, pump_threshold=0)
    with pytest.raises(ValueError, match="min_trades"):
        analyze_event(folder, min_trades=0)


def test_empty_reference_window_uses_the_last_trade_before(builder: EventBuilder) -> None:
    builder.before_s = 60  # extracted with a longer pre-window: the 20 s reference window is empty
    builder.trade("bybit", "futures", -45_000, 8.0)
    builder.trade("bybit", "futures", -41_000, 9.0)
    for offset in (1_200, 1_300, 1_400):
        builder.trade("bybit", "futures", offset, 9.5)
    analysis = analyze_event(builder.write())
    bybit = next(m for m in analysis["markets"] if m["key"] == "bybit.futures")
    assert bybit["reference"]["method"] == "last_trade_before"
    assert bybit["reference"]["price"] == 9.0 and bybit["reference"]["last_trade_before_ms"] == -41_000.0
    assert (bybit["reaction_ms"], bybit["first_pump_trade_ms"]) == (1000, 1200.0)
    assert len(bybit["bars"]) == 80
    assert analysis["first_pump"]["exchange"] == "bybit"
    assert (
        "Reference is the last trade before the announcement" in (Path(builder.root) / "TIA_20261120T140000KST" / "summary.md").read_text()
    )


def test_a_long_window_with_few_trades_stays_small(builder: EventBuilder) -> None:
    """`--before 400d` once made analysis build a row per second of the window per market (8.8 GB); now rows follow trades."""
    builder.before_s = 400 * 86_400
    builder.after_s = 6 * 3600
    listing(builder)
    builder.trade("gate", "futures", -200 * 86_400_000, 10.0)
    builder.trade("gate", "futures", 5 * 3600_000, 10.0)
    analysis = analyze_event(builder.write())
    bars = sum(len(m["bars"]) for m in analysis["markets"])
    assert 0 < bars <= analysis["trades"]
    assert analysis["first_pump"]["exchange"] == "binance" and analysis["first_pump"]["first_pump_trade_ms"] == 800.0


def test_an_event_without_trades_still_gets_all_three_files(builder: EventBuilder) -> None:
    folder = builder.write()
    analysis = analyze_event(folder)
    assert analysis["first_pump"] is None and analysis["trades"] == 0
    assert "**No pump**" in (folder / "summary.md").read_text()
    width, height = png_size(folder / "chart.png")
    assert width > 600 and height > 400


def test_rerunning_replaces_the_files_and_leaves_no_temporaries(builder: EventBuilder) -> None:
    folder = listing(builder).write()
    analyze_event(folder, chart=False)
    analyze_event(folder, pump_threshold=0.5)
    assert json.loads((folder / "analysis.json").read_text())["parameters"]["pump_threshold"] == 0.5
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_not_an_event_folder(tmp_path: Path) -> None:
    with pytest.raises(EventFolderError, match=r"metadata\.json"):
        analyze_event(tmp_path)


def test_reads_a_folder_written_by_the_extractor(tmp_path: Path) -> None:
    """The contract with the other side: `extractor.event_folder.write_event` output analyses as is."""
    event_folder = pytest.importorskip("extractor.event_folder")
    from recorder.trade_row import TRADE_SCHEMA

    ms = 1_000_000
    rows = [(T - 5000 * ms, 10.0), (T + 700 * ms, 10.4), (T + 710 * ms, 10.5), (T + 720 * ms, 10.6)]
    table = pa.Table.from_pydict(
        {
            "ts": [t for t, _ in rows], "received_ts": [t + ms for t, _ in rows], "exchange": ["gate"] * 4, "market": ["futures"] * 4,
            "symbol": ["TIA-USDT-PERP"] * 4, "base": ["TIA"] * 4, "quote": ["USDT"] * 4, "side": ["buy"] * 4,
            "price": [p for _, p in rows], "amount": [2.0] * 4, "notional": [2 * p for _, p in rows], "trade_id": ["1", "2", "3", "4"],
        },
        schema=TRADE_SCHEMA,
    )  # fmt: skip
    metadata = {
        "coin": "TIA",
        "announced_at": ANNOUNCED,
        "window": {"before_s": 20, "after_s": 20},
        "markets": [{"exchange": "gate", "market": "futures", "trades": 4, "coverage": {"verdict": "backfilled", "gaps": []}}],
    }
    folder = event_folder.write_event(tmp_path, "TIA_test", table, metadata)
    analysis = analyze_event(folder)
    assert analysis["first_pump"]["exchange"] == "gate" and analysis["first_pump"]["first_pump_trade_ms"] == 700.0
    timeparse = pytest.importorskip("extractor.timeparse")
    assert analysis["announced_at_kst"] == timeparse.iso_kst(T)  # one time format in every file of the folder


def test_importing_the_package_does_not_import_pandas_or_matplotlib() -> None:
    code = "import sys, analysis; assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


@pytest.mark.parametrize("window", [(0, 0), (0, 20), (20, 0), (0.001, 0), (20, 20), (3600, 7200)])
def test_analysis_never_warns(builder: EventBuilder, window: tuple[float, float]) -> None:
    """A warning (matplotlib's singular limits on a zero-length window, pandas, numpy) would reach the user with a source path."""
    import warnings

    builder.before_s, builder.after_s = window
    if window == (20, 20):
        listing(builder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        analysis = analyze_event(builder.write())
    assert [str(w.message) for w in caught] == []
    assert analysis["files"]["chart"] == "chart.png" and "chart_error" not in analysis


def test_a_chart_failure_is_recorded_and_logged_in_one_line(builder: EventBuilder, monkeypatch, caplog) -> None:
    import analysis.chart

    def fail(*_args, **_kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(analysis.chart, "render_chart", fail)
    result = analyze_event(listing(builder).write())
    assert result["chart_error"] == "RuntimeError: no fonts" and result["files"]["chart"] is None
    assert [(r.levelname, r.exc_info is None) for r in caplog.records if r.levelno >= 20] == [("WARNING", True)]
