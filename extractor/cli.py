"""`extract --symbol TIA --at <ts>`: the command that `pumpwatch extract` also is.

It owns what every PumpWatch command shares with it (a user error's one line and exit status 2,
the `--config` option), so that the `pumpwatch` command imports this module and never the reverse.
`extract_command` is built by the application (`pumpwatch/cli.py`, also the `extract` console
script), which supplies the analysis for `--analyze`: the extractor imports no analysis.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from recorder.clock import S
from recorder.config import DEFAULT_CONFIG, Config, ConfigError, format_duration, load_config, parse_duration

if TYPE_CHECKING:
    from extractor.extract import EventRequest

TICKER = re.compile(r"^[A-Z0-9]{1,15}$")


class UserError(click.ClickException):
    """A user error: one clear line on stderr, exit status 2, nothing started."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        """One line whatever the message holds (a library's message may span several)."""
        click.echo(f"pumpwatch: {' '.join(self.format_message().split())}", file=file, err=file is None)


@contextlib.contextmanager
def usage_in_one_line() -> Iterator[None]:
    """Turn a click usage error into a UserError: click prints usage, a hint and the error on three lines."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:  # `pumpwatch` alone: the help is the answer
        raise
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else ""
        where = path.partition(" ")[2]
        hint = f" (try '{path} --help')" if path else ""
        raise UserError(f"{where + ': ' if where else ''}{exc.format_message()}{hint}") from exc


class OneLineUsageCommand(click.Command):
    """A command run on its own (the standalone `extract`): a usage error is one line, exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with usage_in_one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with usage_in_one_line():
            return super().invoke(ctx)


class OneLineUsage(OneLineUsageCommand, click.Group):
    """The root group: a usage error anywhere below it (a bad option value, a missing argument) is one line, exit 2."""


def config_option(command: Callable | None = None, *, required: bool = True) -> Callable:
    """`--config PATH` on every subcommand (also accepted before the subcommand).

    With `required=False` (commands that work without one, like `listings parse`), a config is
    loaded and validated only when named; otherwise the command gets None.
    """

    def decorate(command: Callable) -> Callable:
        @click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                      help=f"YAML config file [default: {DEFAULT_CONFIG if required else 'none'}]")
        @click.pass_context
        @functools.wraps(command)
        def wrapper(ctx: click.Context, config_path: Path | None, **kwargs):
            path = config_path or ctx.find_root().params.get("config_path") or (DEFAULT_CONFIG if required else None)
            config = None
            if path is not None:
                try:
                    config = load_config(path)
                except ConfigError as exc:
                    raise UserError(str(exc)) from exc
            return ctx.invoke(command, config, **kwargs)

        return wrapper

    return decorate(command) if command is not None else decorate


def _duration(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """`--before 20s` → 20.0; a bad one is a one-line UserError, not click's usage block."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UserError(f"--{param.name}: {exc}") from None


COUNTDOWN_LINE_EVERY_S = 10.0
"""how often the countdown writes a line when stderr is not a terminal (a log file or a pipe keeps every line)"""


def wait_for(deadline_ns: int, label: str) -> None:
    """Sleep until `deadline_ns`, showing a countdown on stderr (the window is not complete yet).

    On a terminal one line is rewritten in place every second; elsewhere `\\r` rewrites would pile up
    into one garbled line, so a plain line is written every `COUNTDOWN_LINE_EVERY_S`.
    """
    terminal = sys.stderr.isatty()
    while (remaining := (deadline_ns - time.time_ns()) / S) > 0:
        if terminal:
            click.echo(f"\r{label}: waiting {remaining:5.1f}s for the window to close ", err=True, nl=False)
        else:
            click.echo(f"{label}: waiting {remaining:.0f}s for the window to close", err=True)
        time.sleep(min(1.0 if terminal else COUNTDOWN_LINE_EVERY_S, remaining))
    if terminal:
        click.echo("", err=True)


def _check_writable_folder(path: Path, where: str) -> None:
    """Refuse, before any wait or read, a folder that cannot be: an existing file, or below one, or in a folder we may not write."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{where}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{where}: cannot create or write folders in {existing} (permission denied)")


def _roughly(seconds: float) -> str:
    """`1,127 days`, `5.2 hours`, `12 minutes`: a span read at a glance (exact durations would be 97372800s)."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def _request(config: Config, symbol: str, at: str, tz: str, before: float | None, after: float | None,
             notice_id: int | None, title: str | None) -> EventRequest:
    """The window the arguments name, or the one-line error that says which argument is wrong and why."""
    from extractor.extract import EventRequest
    from extractor.timeparse import TimeParseError, parse_at, zone

    coin = symbol.strip().upper()
    if not TICKER.match(coin):
        raise UserError(f"--symbol {symbol!r}: expected a coin ticker of 1-15 letters or digits, like TIA or 0G")
    try:
        announced = parse_at(at, zone(tz))
    except TimeParseError as exc:
        raise UserError(f"--at: {exc}") from exc
    limits = config.extraction
    request = EventRequest(coin, announced, limits.before if before is None else before, limits.after if after is None else after,
                           notice_id=notice_id, title=title)
    if request.before_s + request.after_s <= 0:
        raise UserError("--before/--after: the window is empty (0s before and after the announcement); give it a length, "
                        "e.g. --before 20s --after 20s")
    if request.before_s + request.after_s > limits.max_window:
        raise UserError(f"--before/--after: a window of {format_duration(request.before_s)} + {format_duration(request.after_s)} is "
                        f"longer than extraction.max_window ({format_duration(limits.max_window)}); shorten it, or raise "
                        "extraction.max_window in the config")
    ahead = (announced - time.time_ns()) / S
    if ahead > limits.max_ahead:
        raise UserError(f"--at {at!r} is {_roughly(ahead)} ahead, further than extraction.max_ahead ({format_duration(limits.max_ahead)}); "
                        "check the date, or raise extraction.max_ahead in the config")
    return request


def _write_event(config: Config, request: EventRequest, out: Path | None, *, force: bool, wait: bool, allow_empty: bool) -> Path:
    """Wait for the window if it is still open, then write its event folder; every failure is one UserError line."""
    from extractor.extract import NothingRecorded, extract_event
    from recorder.store import StoreError, open_store

    target = out or config.events_path
    where = f"--out {target}" if out else f"events folder {target}"
    _check_writable_folder(target, where)
    ready_at = request.end_ns + round(config.extraction.settle * S)
    if ready_at > time.time_ns():
        if not wait:
            raise UserError("the window has not closed yet (drop --no-wait to wait for it)")
        wait_for(ready_at, request.coin)
    try:
        store = open_store(config, create=False)
    except (FileNotFoundError, StoreError) as exc:
        raise UserError(str(exc)) from exc
    try:
        return extract_event(store, config, request, out, force=force, allow_empty=allow_empty)
    except StoreError as exc:
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"{where}: cannot write the event folder there ({exc.strerror or exc})") from exc
    except NothingRecorded as exc:
        raise UserError(f"{request.coin}: {exc}; nothing written (--allow-empty writes the empty event)") from exc
    finally:
        store.close()


def market_lines(folder: Path) -> list[str]:
    """One line per market of a new event folder (market, trades, verdict), from the metadata.json just written."""
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    lines = []
    for market in metadata["markets"]:
        coverage = market["coverage"]
        count = len(coverage["gaps"])
        holes = f" ({count} gap{'s' if count > 1 else ''})" if count else ""
        key = f"{market['exchange']}.{market['market']}"
        lines.append(f"{key:<16} {market['trades']:>9,} trades  {coverage['verdict']}{holes}")
    return lines


Analyzer = Callable[[Config, Path], str]
"""The application's `pumpwatch analyze`: an event folder in, the summary to print out (extractor imports no analysis)."""


def extract_command(analyze_folder: Analyzer) -> click.Command:
    """The `extract` command; `--analyze` hands the new folder to `analyze_folder`, which the application supplies."""

    @click.command("extract", cls=OneLineUsageCommand)
    @config_option
    @click.option("--symbol", required=True, help="coin ticker, e.g. TIA (matches every market and quote)")
    @click.option("--at", "at", required=True, help="announcement time: ISO 8601, naive = --tz, ending in KST, or epoch s/ms")
    @click.option("--tz", default="Asia/Seoul", show_default=True, help="zone for a naive --at")
    @click.option("--before", callback=_duration, default=None, help="window before the announcement [config: 20s]")
    @click.option("--after", callback=_duration, default=None, help="window after the announcement [config: 20s]")
    @click.option("--out", type=click.Path(path_type=Path), default=None, help="events folder [data/events]")
    @click.option("--title", default=None, help="notice title to record in metadata.json")
    @click.option("--notice-id", type=int, default=None, help="Upbit notice id to record in metadata.json")
    @click.option("--force", is_flag=True, help="replace an existing event folder instead of adding a version")
    @click.option("--wait/--no-wait", default=True, show_default=True, help="wait for an unfinished window")
    @click.option("--allow-empty", is_flag=True, help="write the event even when no recorded market carried the coin")
    @click.option("--analyze", is_flag=True, help="then analyse the event folder and print its summary (as pumpwatch analyze)")
    def extract(config: Config, symbol: str, at: str, tz: str, before: float | None, after: float | None, out: Path | None,
                title: str | None, notice_id: int | None, force: bool, wait: bool, allow_empty: bool, analyze: bool) -> None:
        """Write the event folder of one listing window (also installed as `extract`)."""
        request = _request(config, symbol, at, tz, before, after, notice_id, title)
        folder = _write_event(config, request, out, force=force, wait=wait, allow_empty=allow_empty)
        click.echo("\n".join([*market_lines(folder), str(folder)]))
        if analyze:
            click.echo("\n" + analyze_folder(config, folder))

    return extract
