"""`pumpwatch analyze` on folders that are not what they should be: one line on stderr, status 2, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pumpwatch.cli import cli
from tests.analysis.synthetic import EventBuilder, listing
from tests.conftest import REPO
from tests.pumpwatch.cli_output import one_line_error


@pytest.fixture
def builder(tmp_path: Path) -> EventBuilder:
    return EventBuilder(tmp_path)


def analyze(folder: Path):
    return CliRunner().invoke(cli, ["analyze", "--config", str(REPO / "config" / "pumpwatch.yaml"), str(folder)])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def scramble(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 7)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def remove(path: Path) -> None:
    path.unlink()


def reshape(**changes) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))

    return change


BROKEN: dict[str, tuple[str, Callable[[Path], None]]] = {
    "truncated parquet": ("trades.parquet", truncate),
    "random parquet": ("trades.parquet", scramble),
    "empty parquet": ("trades.parquet", empty),
    "missing parquet": ("trades.parquet", remove),
    "truncated metadata": ("metadata.json", truncate),
    "random metadata": ("metadata.json", scramble),
    "empty metadata": ("metadata.json", empty),
    "missing metadata": ("metadata.json", remove),
    "metadata a list": ("metadata.json", lambda p: p.write_text("[1, 2]")),
    "markets not a list": ("metadata.json", reshape(markets=5)),
    "window ends before it starts": ("metadata.json", reshape(window={"start": "2026-11-20T05:00:10Z", "end": "2026-11-20T05:00:00Z"})),
    "announced_at a list": ("metadata.json", reshape(announced_at=[2026])),
    "announced_at nonsense": ("metadata.json", reshape(announced_at="noon")),
    "analysis.json cannot be written": ("analysis.json", lambda p: p.mkdir()),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_event_folder_is_one_line_and_status_2(builder: EventBuilder, case: str) -> None:
    folder = listing(builder).write()
    name, breaks = BROKEN[case]
    breaks(folder / name)
    line = one_line_error(analyze(folder))
    assert str(folder) in line, line


def test_a_folder_that_is_not_there_or_not_a_folder(tmp_path: Path) -> None:
    assert "not found" in one_line_error(analyze(tmp_path / "nope"))
    (tmp_path / "file").write_text("x")
    assert "not a folder" in one_line_error(analyze(tmp_path / "file"))


def test_a_sound_folder_still_prints_the_summary(builder: EventBuilder) -> None:
    result = analyze(listing(builder).write())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("**First pump: binance futures**")
