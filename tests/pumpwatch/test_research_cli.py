"""The research commands over an events directory: `events`, `report`, `analyze --all`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pumpwatch.cli import cli
from tests.analysis.test_catalog import mixed_events


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
