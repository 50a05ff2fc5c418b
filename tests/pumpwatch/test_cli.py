"""The `pumpwatch` command line: subcommands listed, stable `listings parse` output, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pumpwatch.cli import cli


def test_help_lists_the_subcommands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("config", "listings", "extract"):
        assert name in result.output


def test_listings_parse_prints_one_json_object_per_line_in_order():
    titles = "커브(CRV) KRW, USDT 마켓 디지털 자산 추가\n플록(FLOCK), 포르타(FORT) 신규 거래지원 안내 (BTC, USDT 마켓)\n\n"
    result = CliRunner().invoke(cli, ["listings", "parse"], input=titles)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["title"] for line in lines] == ["커브(CRV) KRW, USDT 마켓 디지털 자산 추가",
                                                "플록(FLOCK), 포르타(FORT) 신규 거래지원 안내 (BTC, USDT 마켓)", ""]
    assert lines[0] == {"title": lines[0]["title"], "listing": True,
                        "coins": [{"symbol": "CRV", "markets": ["KRW", "USDT"], "krw": True}], "krw_symbols": ["CRV"]}
    assert lines[1]["krw_symbols"] == [] and lines[2]["listing"] is False


def test_extract_rejects_bad_arguments_with_status_2(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path}\n")
    for args in (["--symbol", "../etc", "--at", "2026-11-20T14:00:00"], ["--symbol", "TIA", "--at", "soon"],
                 ["--symbol", "TIA", "--at", "2026-11-20T14:00:00", "--before", "20"],
                 ["--symbol", "TIA", "--at", "2026-11-20T14:00:00", "--tz", "Nowhere/City"]):
        result = CliRunner().invoke(cli, ["extract", "--config", str(config), *args])
        assert result.exit_code == 2, (args, result.output)


def test_extract_without_a_store_says_so(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'empty'}\n")
    result = CliRunner().invoke(cli, ["extract", "--config", str(config), "--symbol", "TIA", "--at", "1700000000"])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_extract_is_also_a_console_script_of_its_own(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "extract"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("Usage: extract [OPTIONS]")
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path}\n")
    bad = subprocess.run([str(script), "--config", str(config), "--symbol", "TIA", "--at", "never"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "--at" in bad.stderr


def test_every_command_takes_config():
    import click

    def leaves(group: click.Group, prefix: str = ""):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from leaves(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    missing = [name for name, command in leaves(cli) if "config_path" not in {p.name for p in command.params}]
    assert missing == []


def test_listings_parse_validates_a_config_only_when_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bogus: 1\n")
    assert CliRunner().invoke(cli, ["listings", "parse", "--config", str(bad)], input="x\n").exit_code == 2
    assert CliRunner().invoke(cli, ["listings", "parse"], input="x\n").exit_code == 0


def test_an_unreachable_questdb_is_one_line_and_status_2_for_run_record_extract_and_demo(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path}\nservice:\n  log_dir: {tmp_path / 'logs'}\nstore:\n  kind: questdb\n  questdb:\n"
                      "    ilp: 'http::addr=127.0.0.1:1;'\n    pg: 'postgresql://admin:quest@127.0.0.1:1/qdb'\n")
    for args in (["run"], ["record"], ["extract", "--symbol", "TIA", "--at", "2026-11-20T14:00:00"], ["demo", "--store", "questdb"]):
        result = CliRunner().invoke(cli, [*args, "--config", str(config)])
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip().splitlines()[-1] == (
            "pumpwatch: cannot connect to QuestDB PGWire at 127.0.0.1:1: Connection refused"), (args, result.output)


def _offline_config(tmp_path) -> Path:
    """Two markets and Upbit on a closed port: `symbols refresh` without internet."""
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path}\nrecorder:\n  symbols_file: {tmp_path / 'symbols.yaml'}\n"
                      "upbit:\n  api_base: http://127.0.0.1:1\nexchanges:\n"
                      "  binance:\n    spot:\n      rest_base: http://127.0.0.1:1\n"
                      "  okx:\n    futures:\n      rest_base: http://127.0.0.1:1\n")
    return config


def test_symbols_refresh_offline_says_what_failed_and_that_no_file_was_written(tmp_path):
    result = CliRunner().invoke(cli, ["symbols", "refresh", "--config", str(_offline_config(tmp_path)),
                                      "--markets", "binance.spot,okx.futures"])
    assert result.exit_code == 1, result.output
    assert "instruments written" not in result.output
    assert not (tmp_path / "symbols.yaml").exists()
    assert "cannot connect to 127.0.0.1:1: Connection refused" in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"pumpwatch: every fetch failed (binance.spot, okx.futures, upbit): {tmp_path / 'symbols.yaml'} not written (there was none)")


def test_symbols_refresh_offline_keeps_the_previous_file_as_it_was(tmp_path):
    from datetime import UTC, datetime

    from recorder.instruments.model import Instrument
    from recorder.universe import Universe, write_symbols_yaml

    previous = Universe(datetime(2026, 11, 1, tzinfo=UTC), markets={"binance.spot": [
        Instrument("binance", "spot", "TIA-USDT", "TIAUSDT", "TIA", "USDT")]}, upbit_krw=frozenset({"BTC"}))
    write_symbols_yaml(tmp_path / "symbols.yaml", previous, previous.generated_at)
    before = (tmp_path / "symbols.yaml").read_text()
    result = CliRunner().invoke(cli, ["symbols", "refresh", "--config", str(_offline_config(tmp_path)),
                                      "--markets", "binance.spot,okx.futures"])
    assert result.exit_code == 1, result.output
    assert (tmp_path / "symbols.yaml").read_text() == before
    assert "binance.spot" in result.stdout and "1 instruments  (previous list" in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"pumpwatch: every fetch failed (binance.spot, okx.futures, upbit): {tmp_path / 'symbols.yaml'} kept as it was")


def test_a_demo_that_times_out_says_so_in_one_line_without_a_traceback(tmp_path, monkeypatch):
    import pumpwatch.demo

    async def times_out(*args, **kwargs):
        raise pumpwatch.demo.DemoError("the service did not produce an event within 63 s")

    monkeypatch.setattr(pumpwatch.demo, "run_demo", times_out)
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit)), result.exception
    assert result.stderr == "pumpwatch: demo: the service did not produce an event within 63 s\n"
