"""`extract` (= `pumpwatch extract`) as a user meets it: what it prints, what it refuses in one line with status 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pumpwatch.cli import cli
from recorder.clock import S
from recorder.store.base import CoverageRow
from recorder.store.embedded import EmbeddedStore
from recorder.trade_row import TradeRow
from tests.pumpwatch.cli_output import one_line_error

T = 1_795_000_000 * S  # 2026-11-18T20:06:40 KST, long past
AT = "2026-11-18T20:06:40+09:00"


def _session(exchange: str, market: str, symbols: list[str]) -> list[CoverageRow]:
    start, end = T - 600 * S, T + 600 * S
    conn = f"{exchange}.{market}"
    rows = [CoverageRow(start, exchange, market, conn, "host:1", "up", ",".join(symbols))]
    rows += [CoverageRow(t, exchange, market, conn, "host:1", "alive", "") for t in range(start + 5 * S, end, 5 * S)]
    return [*rows, CoverageRow(end, exchange, market, conn, "host:1", "down", "")]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config and its embedded store: binance spot carried TIA (3 trades in the window), okx futures carried BTC only."""
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nrecorder:\n  symbols_file: {tmp_path / 'none.yaml'}\n")
    store = EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite")
    store.write_coverage(_session("binance", "spot", ["TIA-USDT", "BTC-USDT"]) + _session("okx", "futures", ["BTC-USDT-PERP"]))
    store.write_trades([TradeRow(T + i * S, T + i * S, "binance", "spot", "TIA-USDT", "TIA", "USDT", "buy", 5.0, 2.0, 10.0, str(i))
                        for i in (-5, 1, 2)])
    store.close()
    return config, tmp_path / "events"


def run(config: Path, *args: str):
    return CliRunner().invoke(cli, ["extract", "--config", str(config), *args])


def test_an_unknown_coin_is_one_line_naming_it_and_no_folder(setup):
    config, out = setup
    line = one_line_error(run(config, "--symbol", "NOPE", "--at", AT, "--out", str(out)))
    assert "NOPE" in line and "--allow-empty" in line
    assert not out.exists()


def test_allow_empty_writes_the_empty_event_as_before(setup):
    config, out = setup
    result = run(config, "--symbol", "NOPE", "--at", AT, "--out", str(out), "--allow-empty")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["NOPE_20261118T200640KST"]


def test_a_window_longer_than_max_window_is_refused_in_one_line(setup):
    config, out = setup
    line = one_line_error(run(config, "--symbol", "TIA", "--at", AT, "--before", "400d", "--out", str(out)))
    assert "400d" in line and "extraction.max_window" in line and "6h" in line
    assert not out.exists()


def test_max_window_is_configurable(setup):
    config, out = setup
    config.write_text(config.read_text() + "extraction:\n  max_window: 2h\n")
    assert "2h" in one_line_error(run(config, "--symbol", "TIA", "--at", AT, "--before", "3h"))
    result = run(config, "--symbol", "TIA", "--at", AT, "--before", "1h", "--out", str(out))
    assert result.exit_code == 0, result.output


def test_an_announcement_far_in_the_future_is_refused_instead_of_a_countdown(setup):
    config, _ = setup
    line = one_line_error(run(config, "--symbol", "TIA", "--at", "2030-01-01"))
    assert "--at" in line and "extraction.max_ahead" in line and "1h" in line
    config.write_text(config.read_text() + "extraction:\n  max_ahead: 2000d\n")
    assert "--no-wait" in one_line_error(run(config, "--symbol", "TIA", "--at", "2030-01-01", "--no-wait"))


def test_an_empty_window_is_refused_in_one_line(setup):
    config, out = setup
    line = one_line_error(run(config, "--symbol", "TIA", "--at", AT, "--before", "0s", "--after", "0s", "--out", str(out)))
    assert "empty" in line
    assert not out.exists()


@pytest.mark.parametrize("where", ["a file", "below a file", "in /proc"])
def test_an_out_that_cannot_hold_folders_is_one_line_before_anything_is_read(setup, where):
    config, out = setup
    blocker = out.parent / "file.txt"
    blocker.write_text("not a folder")
    target = {"a file": blocker, "below a file": blocker / "events", "in /proc": Path("/proc/pumpwatch-events")}[where]
    line = one_line_error(run(config, "--symbol", "TIA", "--at", AT, "--out", str(target)))
    assert "--out" in line and str(target) in line
    assert blocker.read_text() == "not a folder"


def test_extract_prints_a_line_per_market_then_the_folder(setup):
    config, out = setup
    result = run(config, "--symbol", "TIA", "--at", AT, "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 13 and lines[-1] == str(out / "TIA_20261118T200640KST")
    by_market = {line.split()[0]: line.split()[1:] for line in lines[:-1]}
    assert by_market["binance.spot"] == ["3", "trades", "complete"]
    assert by_market["okx.futures"] == ["0", "trades", "not_listed"]
    assert by_market["gate.spot"] == ["0", "trades", "not_connected"]


def test_extract_analyze_runs_the_analysis_and_prints_its_summary(setup):
    config, out = setup
    result = run(config, "--symbol", "TIA", "--at", AT, "--out", str(out), "--analyze")
    assert result.exit_code == 0, result.output
    folder = out / "TIA_20261118T200640KST"
    assert str(folder) in result.stdout.splitlines()
    assert "**No pump**" in result.stdout and "| # | venue | verdict |" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["analysis.json", "chart.png", "metadata.json", "raw", "summary.md",
                                                       "trades.parquet"]


@pytest.mark.parametrize("terminal", [False, True])
def test_the_countdown_is_plain_lines_unless_stderr_is_a_terminal(monkeypatch, capsys, terminal):
    """Waiting 25 s: on a terminal one line rewritten in place every second; in a log or a pipe a line every 10 s."""
    import sys

    from extractor import cli as extractor_cli

    now = [0.0]
    monkeypatch.setattr(extractor_cli.time, "time_ns", lambda: round(now[0] * S))
    monkeypatch.setattr(extractor_cli.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    extractor_cli.wait_for(25 * S, "TIA")
    err = capsys.readouterr().err
    if terminal:
        assert err.count("\r") == 25 and err.endswith("\n")
    else:
        assert "\r" not in err
        assert err.splitlines() == [f"TIA: waiting {left}s for the window to close" for left in (25, 15, 5)]


@pytest.mark.parametrize(("args", "says"), [
    (["--symbol", "../etc", "--at", AT], "--symbol"),
    (["--symbol", "TIA", "--at", "soon"], "--at"),
    (["--symbol", "TIA", "--at", AT, "--before", "20"], "--before"),
    (["--symbol", "TIA", "--at", AT, "--after", "-1s"], "--after"),
    (["--symbol", "TIA", "--at", AT, "--tz", "Nowhere/City"], "Nowhere/City"),
])  # fmt: skip
def test_each_bad_argument_is_one_line_naming_it(setup, args, says):
    config, _ = setup
    assert says in one_line_error(run(config, *args))
