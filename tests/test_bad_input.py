"""No user input produces a traceback: every command answers a mistake with one line on stderr and exit status 2.

The commands are found by walking the click trees of `pumpwatch` and the standalone `extract`, so a
new command is covered by the config rows at once, and fails `test_every_command_has_a_row` until
its own bad inputs are added to `ROWS`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from extractor.cli import extract_command
from pumpwatch.cli import analyze_folder, cli
from recorder.store.embedded import EmbeddedStore

ROOTS: dict[str, click.Command] = {"pumpwatch": cli, "extract": extract_command(analyze_folder)}


def leaves(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    """Every runnable command under `command`, by its command line (`pumpwatch symbols refresh`)."""
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from leaves(sub, f"{path} {name}")
    else:
        yield path, command


COMMANDS = dict(item for name, root in ROOTS.items() for item in leaves(root, name))


@dataclass(frozen=True)
class Bad:
    why: str
    args: tuple[str, ...]
    stdin: str | None = None
    names: str | None = None
    """a file the line must name (the config file of a config row)"""


VALID = {
    "pumpwatch extract": ("--symbol", "TIA", "--at", "1700000000"),
    "extract": ("--symbol", "TIA", "--at", "1700000000"),
    "pumpwatch analyze": ("{event}",),
    "pumpwatch listings parse": (),
    "pumpwatch sql": ("SELECT 1",),
}
"""arguments that are fine, so that a config row fails on the config and nothing else"""

CONFIG_ROWS = (
    Bad("config file missing", ("--config", "{missing}"), names="{missing}"),
    Bad("config is a directory", ("--config", "{dir}"), names="{dir}"),
    Bad("config not UTF-8", ("--config", "{latin1}"), names="{latin1}"),
    Bad("config empty", ("--config", "{empty}"), names="{empty}"),
    Bad("config comment-only", ("--config", "{comments}"), names="{comments}"),
    Bad("config invalid YAML", ("--config", "{bad_yaml}"), names="{bad_yaml}"),
    Bad("config unknown key", ("--config", "{unknown_key}"), names="{unknown_key}"),
    Bad("config bad duration", ("--config", "{bad_duration}"), names="{bad_duration}"),
)

_EXTRACT = (
    Bad("unknown option", ("--config", "{good}", "--bogus")),
    Bad("--symbol missing", ("--config", "{good}", "--at", "1700000000")),
    Bad("--symbol not a ticker", ("--config", "{good}", "--symbol", "../etc", "--at", "1700000000")),
    Bad("--at not a time", ("--config", "{good}", "--symbol", "TIA", "--at", "soon")),
    Bad("--before without a unit", ("--config", "{good}", "--symbol", "TIA", "--at", "1700000000", "--before", "20")),
    Bad("--tz unknown", ("--config", "{good}", "--symbol", "TIA", "--at", "2026-11-20T14:00:00", "--tz", "Nowhere/City")),
    Bad("--notice-id not a number", ("--config", "{good}", "--symbol", "TIA", "--at", "1700000000", "--notice-id", "abc")),
    Bad("no store yet", ("--config", "{no_store}", "--symbol", "TIA", "--at", "1700000000")),
    Bad("--out names a file", ("--config", "{good}", "--symbol", "TIA", "--at", "1700000000", "--out", "{file}")),
    Bad("unknown coin", ("--config", "{good}", "--symbol", "NOSUCHCOIN", "--at", "1700000000")),
    Bad("window too long", ("--config", "{good}", "--symbol", "TIA", "--at", "1700000000", "--before", "400d")),
    Bad("--at far ahead", ("--config", "{good}", "--symbol", "TIA", "--at", "2099-01-01T00:00:00Z")),
)

_MARKETS = (
    Bad("--markets empty", ("--config", "{good}", "--markets", "")),
    Bad("--markets only commas", ("--config", "{good}", "--markets", " , ")),
    Bad("--markets unknown", ("--config", "{good}", "--markets", "binance.spot,kraken.spot")),
)
"""the commands that take --markets (unfixed, an empty value started them on every market)"""

ROWS: dict[str, tuple[Bad, ...]] = {
    "pumpwatch": (
        Bad("unknown command", ("nosuch",)),
        Bad("--log-level unknown", ("--log-level", "LOUD", "config", "check")),
        Bad("root --config not UTF-8", ("--config", "{latin1}", "config", "check"), names="{latin1}"),
        Bad("root --config empty", ("--config", "{empty}", "status"), names="{empty}"),
    ),
    "pumpwatch config check": (Bad("unknown option", ("--config", "{good}", "--bogus")),),
    "pumpwatch listings parse": (Bad("an argument it does not take", ("--config", "{good}", "titles.txt"), stdin="x\n"),),
    "pumpwatch extract": _EXTRACT,
    "extract": _EXTRACT,
    "pumpwatch analyze": (
        Bad("EVENT_DIR missing", ("--config", "{good}", "{missing}")),
        Bad("EVENT_DIR is a file", ("--config", "{good}", "{file}")),
        Bad("EVENT_DIR not an event folder", ("--config", "{good}", "{dir}")),
        Bad("EVENT_DIR without an argument", ("--config", "{good}")),
        Bad("EVENT_DIR and --all", ("--config", "{good}", "--all", "{event}")),
        Bad("--all with a value", ("--config", "{good}", "--all=yes")),
        Bad("trades.parquet not Parquet", ("--config", "{good}", "{bad_parquet_event}")),
    ),
    "pumpwatch events": (
        Bad("unknown option", ("--config", "{good}", "--bogus")),
        Bad("an argument it does not take", ("--config", "{good}", "{dir}")),
    ),
    "pumpwatch report": (
        Bad("--since not a duration", ("--config", "{good}", "--since", "soon")),
        Bad("--since without a unit", ("--config", "{good}", "--since", "90")),
        Bad("--out names a file", ("--config", "{good}", "--out", "{file}")),
        Bad("--min-markets below 2", ("--config", "{good}", "--min-markets", "1")),
        Bad("--min-markets not a number", ("--config", "{good}", "--min-markets", "many")),
    ),
    "pumpwatch coverage": (
        *_MARKETS,
        Bad("--since not a duration", ("--config", "{good}", "--since", "yesterday")),
        Bad("no store yet", ("--config", "{no_store}")),
    ),
    "pumpwatch symbols refresh": _MARKETS,
    "pumpwatch run": _MARKETS,
    "pumpwatch record": _MARKETS,
    "pumpwatch status": (
        Bad("--url not a URL", ("--config", "{good}", "--url", "notaurl")),
        Bad("--url with a bad port", ("--config", "{good}", "--url", "http://127.0.0.1:notaport/status")),
        Bad("--url not http", ("--config", "{good}", "--url", "ftp://127.0.0.1/status")),
    ),
    "pumpwatch store compact": (Bad("no store yet", ("--config", "{no_store}")),),
    "pumpwatch store stats": (Bad("no store yet", ("--config", "{no_store}")),),
    "pumpwatch store migrate": (Bad("no store yet", ("--config", "{no_store}")),),
    "pumpwatch sql": (
        Bad("not SQL", ("--config", "{good}", "SELEC nonsense")),
        Bad("unknown table", ("--config", "{good}", "SELECT * FROM nosuch")),
        Bad("parquet without --out", ("--config", "{good}", "--format", "parquet", "SELECT 1")),
        Bad("--out names a folder", ("--config", "{good}", "--format", "csv", "--out", "{dir}", "SELECT 1")),
        Bad("QUERY missing", ("--config", "{good}")),
        Bad("no store yet", ("--config", "{no_store}", "SELECT 1")),
    ),
    "pumpwatch demo": (
        Bad("--dir names a file", ("--dir", "{file}")),
        Bad("--dir under a file", ("--dir", "{file}/demo")),
        Bad("--store unknown", ("--store", "mongodb")),
    ),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The files the rows name, in one folder; `{good}` is a valid config whose store exists."""
    root = tmp_path_factory.mktemp("bad-input")
    data = root / "data"
    data.mkdir()
    EmbeddedStore(data / "pumpwatch.sqlite").close()

    def config(name: str, text: str | bytes) -> str:
        path = root / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return str(path)

    common = (f"data_dir: {data}\nrecorder:\n  symbols_file: {root / 'symbols.yaml'}\n"
              f"service:\n  log_dir: {root / 'logs'}\n  status_port: 1\n")
    event = root / "event"
    event.mkdir()
    (event / "metadata.json").write_text(json.dumps({"announced_at": "2026-11-20T05:00:00Z", "coin": "TIA", "markets": {}}))
    (event / "trades.parquet").write_text("")
    bad_parquet = root / "bad-parquet-event"
    bad_parquet.mkdir()
    (bad_parquet / "metadata.json").write_text((event / "metadata.json").read_text())
    (bad_parquet / "trades.parquet").write_bytes(b"this is not parquet")
    (root / "a-file.txt").write_text("not a folder\n")
    (root / "empty-dir").mkdir()
    return {
        "good": config("good.yaml", common),
        "no_store": config("no-store.yaml", common.replace(str(data), str(root / "nothing-here"))),
        "latin1": config("latin1.yaml", "data_dir: donnée\n".encode("latin-1")),
        "empty": config("empty.yaml", ""),
        "comments": config("comments.yaml", "# data_dir: data\n# store:\n#   kind: embedded\n"),
        "bad_yaml": config("bad-yaml.yaml", "store:\n  kind: [embedded\n"),
        "unknown_key": config("unknown-key.yaml", common + "bogus: 1\n"),
        "bad_duration": config("bad-duration.yaml", common + "upbit:\n  poll_interval: often\n"),
        "missing": str(root / "missing"),
        "dir": str(root / "empty-dir"),
        "file": str(root / "a-file.txt"),
        "event": str(event),
        "bad_parquet_event": str(bad_parquet),
    }


@pytest.fixture
def own_log_handlers() -> Iterator[None]:
    """Each invocation installs its own log handler on the runner's stderr (and takes it away after), so log lines count."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    for handler in before:
        if getattr(handler, "_pumpwatch", False):
            root.removeHandler(handler)
    yield
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def _cases() -> Iterator:
    for path, command in COMMANDS.items():
        words = path.split()
        rows = list(ROWS.get(path, ()))
        if "config_path" in {param.name for param in command.params}:
            rows += [Bad(row.why, (*row.args, *VALID.get(path, ())), names=row.names) for row in CONFIG_ROWS]
        for row in rows:
            yield pytest.param(words[0], (*words[1:], *row.args), row.stdin, row.names, id=f"{path}: {row.why}")
    for row in ROWS["pumpwatch"]:
        yield pytest.param("pumpwatch", row.args, row.stdin, row.names, id=f"pumpwatch: {row.why}")


def test_every_command_has_a_row():
    """A new command needs its own bad inputs here (the config rows alone are not enough thought)."""
    assert sorted(set(COMMANDS) - set(ROWS)) == []
    assert sorted(set(ROWS) - set(COMMANDS) - set(ROOTS)) == [], "rows for a command that no longer exists"


@pytest.mark.parametrize(("root", "args", "stdin", "names"), list(_cases()))
def test_bad_input_is_one_line_and_status_2(files, own_log_handlers, root, args, stdin, names):
    argv = [arg.format(**files) for arg in args]
    result = CliRunner().invoke(ROOTS[root], argv, input=stdin, prog_name=root)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}: a traceback for the user\n{result.output}")
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pumpwatch: "), result.stderr
    if names is not None:
        assert names.format(**files) in lines[0], "the line names the file"
