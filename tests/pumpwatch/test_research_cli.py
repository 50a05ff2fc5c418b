"""The research commands over an events directory: `events`, `report`, `analyze --all`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from analysis import analyze_event
from analysis.event import NS_PER_S
from pumpwatch.cli import cli
from recorder.store.base import CoverageRow, GapRow
from recorder.store.embedded import EmbeddedStore
from tests.analysis.synthetic import EventBuilder, pump
from tests.analysis.test_catalog import mixed_events
from tests.analysis.test_study import four_events


def config_for(tmp_path: Path, events: Path) -> str:
    path = tmp_path / "pumpwatch.yaml"
    path.write_text(f"data_dir: {tmp_path / 'data'}\nextraction:\n  events_dir: {events}\n")
    return str(path)


def test_events_prints_a_row_per_folder_newest_first_with_the_problem_of_broken_ones(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    mixed_events(events)
    result = CliRunner().invoke(cli, ["events", "--config", config_for(tmp_path, events)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["announced", "coin", "first", "venue", "lead", "ms", "peak", "%", "trades", "verdicts", "status",
                                "folder"]
    assert [line.split()[-1] for line in lines[1:]] == [
        "ZRO_20261121T140000KST", "TIA_20261120T140000KST", "NOTRADES_20261108T090000KST", "BADANALYSIS_20261107T090000KST",
        "OLD_20261101T090000KST", "BADJSON_20261106T090000KST", "NOMETA_20261105T090000KST",
    ]  # fmt: skip
    tia = lines[2]
    for text in ("2026-11-20 14:00:00 KST", "binance.futures", "1,300", "+25.0", "complete 11, gap 1", "analysed"):
        assert text in tia
    assert "failed: metadata.json missing" in lines[-1]


def test_events_json_is_one_object_per_line(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    mixed_events(events)
    result = CliRunner().invoke(cli, ["events", "--json", "--config", config_for(tmp_path, events)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 7
    assert rows[1]["first_venue"] == "binance.futures" and rows[1]["lead_ms"] == 1300.0 and rows[1]["status"] == "analysed"
    assert rows[-1]["status"] == "failed" and rows[-1]["problem"] == "metadata.json missing"


def test_events_in_an_empty_directory_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["events", "--config", config_for(tmp_path, tmp_path / "none")])
    assert result.exit_code == 0 and result.output == f"no event folders in {tmp_path / 'none'}\n"


def test_report_writes_the_study_and_prints_the_venue_table(tmp_path: Path) -> None:
    events = tmp_path / "events"
    four_events(events)
    (events / "BROKEN_20261101T090000KST").mkdir()
    out = tmp_path / "study"
    result = CliRunner().invoke(cli, ["report", "--config", config_for(tmp_path, events), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 analysed events; 3 races in the lead statistics" in result.output
    assert "| binance.futures | 4 | 2/3 (67%) |" in result.output
    assert "1 folders not analysed, left out (see `pumpwatch events`)" in result.output
    assert result.output.rstrip().splitlines()[-3:] == [str(out / name) for name in ("report.parquet", "report.md", "report.png")]


def test_report_since_counts_only_recent_events(tmp_path: Path) -> None:
    events = tmp_path / "events"
    four_events(events)
    recent = EventBuilder(events, coin="NEW", announced_ns=time.time_ns() - 3600 * NS_PER_S)
    pump(recent, "kucoin", "spot", 70)
    pump(recent, "okx", "spot", 90)
    analyze_event(recent.write("NEW_recent"), chart=False)
    result = CliRunner().invoke(cli, ["report", "--config", config_for(tmp_path, events), "--since", "24h"])
    assert result.exit_code == 0, result.output
    assert "1 analysed events (announced in the last 24h); 1 races" in result.output
    assert "| kucoin.spot | 1 | 1/1 (100%) |" in result.output
    assert (tmp_path / "data" / "report" / "report.png").is_file()


def test_report_without_an_analysed_event_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--config", config_for(tmp_path, tmp_path / "none")])
    assert result.exit_code == 1 and result.stderr == f"pumpwatch: report: no analysed event in {tmp_path / 'none'}\n"


def test_coverage_prints_each_market_over_the_period(tmp_path: Path) -> None:
    config = config_for(tmp_path, tmp_path / "events")
    (tmp_path / "data").mkdir()
    store = EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite")
    now = time.time_ns()
    store.write_coverage([
        CoverageRow(now - 2 * 3600 * NS_PER_S, "binance", "spot", "a", "host:1", "up", "TIA-USDT"),
        CoverageRow(now - 3600 * NS_PER_S, "binance", "spot", "a", "host:1", "down", ""),
    ])  # fmt: skip
    store.write_gaps([GapRow(now - 5400 * NS_PER_S, now - 5300 * NS_PER_S, "binance", "spot", "TIA-USDT", "id_jump", "1", "9",
                             "backfilled", 9)])
    store.close()
    result = CliRunner().invoke(cli, ["coverage", "--config", config, "--markets", "binance.spot,okx.futures"])
    assert result.exit_code == 0, result.output
    title, header, binance, okx = result.output.splitlines()
    assert title.startswith("coverage over the last 24h: ")
    assert header.split() == ["market", "connected", "connections", "gaps", "(kind:", "count", "by", "outcome)", "longest", "outage"]
    assert binance.split()[:6] == ["binance.spot", "4.17", "%", "1", "id_jump", "1"]
    assert "backfilled" in binance and "22.0 h from" in binance
    assert okx.split()[:5] == ["okx.futures", "0.00", "%", "0", "none"] and "24.0 h from" in okx


def test_analyze_all_reanalyses_every_folder_with_the_current_thresholds_and_names_the_broken_ones(tmp_path: Path) -> None:
    events = tmp_path / "events"
    events.mkdir()
    folders = mixed_events(events)
    config = tmp_path / "strict.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nextraction:\n  events_dir: {events}\nanalysis:\n  pump_threshold: 0.2\n")
    result = CliRunner().invoke(cli, ["analyze", "--all", "--config", str(config)])
    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()
    assert len(progress) == 7 and progress[0].startswith("[1/7] ") and progress[-1].startswith("[7/7] ")
    assert "[2/7] BADJSON_20261106T090000KST: skipped (metadata.json unreadable (JSONDecodeError))" in result.stderr
    assert ("[5/7] OLD_20261101T090000KST: skipped (metadata.json: markets is dict, expected a list)" in result.stderr), \
        "a layout analysis cannot read is named, not crashed on"
    assert result.stdout.splitlines()[0] == f"2 event folders analysed in {events} (pump_threshold 0.2, min_trades 3)"
    assert result.stdout.splitlines()[1] == (
        "5 skipped: BADANALYSIS_20261107T090000KST (trades.parquet: not a readable trades file (Could not open Parquet input "
        "source 'trades.parquet': Parquet file size is 0 bytes)); BADJSON_20261106T090000KST (metadata.json unreadable "
        "(JSONDecodeError)); NOMETA_20261105T090000KST (metadata.json missing); NOTRADES_20261108T090000KST (trades.parquet "
        "missing); OLD_20261101T090000KST (metadata.json: markets is dict, expected a list)")
    for name in ("analysed", "extracted"):
        analysis = json.loads((folders[name] / "analysis.json").read_text(encoding="utf-8"))
        assert analysis["parameters"]["pump_threshold"] == 0.2
    # at +20 % the listing's binance futures move (one trade at +25 %, too few in its bar) is no pump any more
    assert json.loads((folders["analysed"] / "analysis.json").read_text(encoding="utf-8"))["first_pump"] is None


def test_report_into_a_folder_it_cannot_create_is_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events"
    four_events(events)
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "report"
    result = CliRunner().invoke(cli, ["report", "--config", config_for(tmp_path, events), "--out", str(out)])
    assert result.exit_code == 2 and result.stderr == f"pumpwatch: --out {out}: cannot write the report: Not a directory\n"
