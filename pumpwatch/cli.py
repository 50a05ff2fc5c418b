"""The `pumpwatch` command: thin subcommands over the library; heavy imports happen inside each command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from extractor.cli import OneLineUsage, UserError, config_option, extract_command
from recorder import __version__
from recorder.config import DEFAULT_CONFIG, Config

if TYPE_CHECKING:
    from recorder.markets import MarketSpec


@click.group(cls=OneLineUsage, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help=f"YAML config file [default: {DEFAULT_CONFIG}]")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(__version__, prog_name="pumpwatch")
def cli(config_path: Path | None, log_level: str) -> None:
    """PumpWatch: record every trade continuously, detect Upbit KRW listings, extract and analyse the window."""
    from recorder.logs import setup_logging

    setup_logging(log_level)


@cli.group("config")
def config_group() -> None:
    """Validate and show the configuration."""


@config_group.command("check")
@config_option
def config_check(config: Config) -> None:
    """Validate the config and print the effective configuration (defaults filled in)."""
    click.echo(config.to_yaml(), nl=False)


@cli.group("listings")
def listings_group() -> None:
    """Upbit listing titles."""


@listings_group.command("parse")
@config_option(required=False)
def listings_parse(_config: Config | None) -> None:
    """Read titles from stdin, one per line; print one JSON object per line, in order (a stable format)."""
    import json

    from recorder.upbit.titles import parse_title

    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    for line in sys.stdin:
        title = line.rstrip("\r\n")
        click.echo(json.dumps(parse_title(title).as_dict(), ensure_ascii=False))


def _markets(config: Config, markets: str | None) -> list[MarketSpec]:
    """The markets `--markets` names; all enabled ones when it is left out (an empty value is a mistake, not "all")."""
    from recorder.markets import BY_KEY

    if markets is None:
        return config.enabled_markets()
    keys = [part.strip() for part in markets.split(",") if part.strip()]
    if not keys:
        raise UserError(f"--markets {markets!r}: names no market; give e.g. binance.spot,okx.futures, "
                        "or leave the option out for every enabled market")
    unknown = [key for key in keys if key not in BY_KEY]
    if unknown:
        raise UserError(f"--markets: unknown market {unknown[0]!r}; known: {', '.join(BY_KEY)}")
    return [BY_KEY[key] for key in keys]


def _serve(config: Config, markets: str | None, watch: bool) -> None:
    import asyncio

    from pumpwatch.lock import DataDirBusy
    from pumpwatch.service import Service
    from recorder.logs import setup_logging
    from recorder.memory import tune_allocator
    from recorder.store import StoreError

    chosen = _markets(config, markets)
    setup_logging(log_dir=Path(config.service.log_dir))
    tune_allocator()
    try:
        asyncio.run(Service(config, chosen, watch=watch).run())
    except (StoreError, DataDirBusy) as exc:
        raise UserError(str(exc)) from exc


def analyze_folder(config: Config, event_dir: Path) -> str:
    """Analyse an event folder and return its summary table; a folder that cannot be read or written is one UserError line."""
    from analysis.event import EventFolderError
    from analysis.report import analyze_event, summary_table

    if not event_dir.is_dir():
        raise UserError(f"{event_dir}: {'not a folder' if event_dir.exists() else 'not found'} (expected an event folder)")
    try:
        analysis = analyze_event(event_dir, config.analysis.pump_threshold, config.analysis.min_trades)
    except EventFolderError as exc:  # its message names the file and the problem
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"{event_dir}: cannot write the analysis there ({exc.strerror or exc})") from exc
    return summary_table(analysis)


cli.add_command(extract_command(analyze_folder))


@cli.command("analyze")
@config_option
@click.option("--all", "every", is_flag=True, help="re-analyse every event folder under the events directory (current thresholds)")
@click.argument("event_dir", required=False, type=click.Path(path_type=Path))
def analyze_command(config: Config, event_dir: Path | None, every: bool) -> None:
    """Write analysis.json, summary.md and chart.png into an event folder, and print the summary."""
    if every or event_dir is None:
        _analyze_all(config, event_dir, every)
        return
    click.echo(analyze_folder(config, event_dir))


def _analyze_all(config: Config, event_dir: Path | None, every: bool) -> None:
    """`analyze --all`: every folder again, a progress line each on stderr, broken folders skipped and named."""
    from analysis.catalog import reanalyse_all

    if event_dir is not None:
        raise UserError(f"analyze: give EVENT_DIR or --all, not both (EVENT_DIR {event_dir})")
    if not every:
        raise UserError("analyze: missing EVENT_DIR (or --all for every event folder)")

    def progress(done: int, total: int, folder: Path, problem: str | None) -> None:
        click.echo(f"[{done}/{total}] {folder.name}: " + (f"skipped ({problem})" if problem else "analysed"), err=True)

    analysed, skipped = reanalyse_all(config.events_path, config.analysis.pump_threshold, config.analysis.min_trades, progress)
    click.echo(f"{len(analysed)} event folders analysed in {config.events_path} (pump_threshold {config.analysis.pump_threshold:g}, "
               f"min_trades {config.analysis.min_trades})")
    if skipped:
        click.echo(f"{len(skipped)} skipped: " + "; ".join(f"{folder.name} ({problem})" for folder, problem in skipped))


@cli.command("events")
@config_option
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line instead of a table")
def events_command(config: Config, as_json: bool) -> None:
    """List every event folder, newest first: coin, announcement, first venue and its lead, peak, trades, verdicts, status."""
    import json

    from analysis.catalog import scan_events

    entries = scan_events(config.events_path)
    if as_json:
        for entry in entries:
            click.echo(json.dumps(entry.as_json(), ensure_ascii=False))
        return
    if not entries:
        click.echo(f"no event folders in {config.events_path}")
        return
    click.echo(events_table([entry.as_json() for entry in entries]))


def events_table(rows: list[dict[str, Any]]) -> str:
    """`pumpwatch events` as aligned columns; a failed folder's status names its problem."""

    def cell(row: dict[str, Any]) -> list[str]:
        lead, peak, trades = row["lead_ms"], row["peak_gain"], row["trades"]
        return [
            row["announced_at_kst"] or "?", row["coin"] or "?", row["first_venue"] or "-",
            "-" if lead is None else f"{lead:,.0f}", "-" if peak is None else f"{peak * 100:+.1f}",
            "-" if trades is None else f"{trades:,}",
            ", ".join(f"{verdict} {count}" for verdict, count in row["verdicts"].items()) or "-",
            row["status"] + (f": {row['problem']}" if row["problem"] else ""), row["folder"],
        ]

    header = ["announced", "coin", "first venue", "lead ms", "peak %", "trades", "verdicts", "status", "folder"]
    return aligned([header, *(cell(row) for row in rows)], right={3, 4, 5})


def aligned(cells: list[list[str]], right: set[int]) -> str:
    """Rows of text cells as columns two spaces apart; the columns in `right` (numbers) right-aligned."""
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(text.rjust(w) if i in right else text.ljust(w) for i, (text, w) in enumerate(zip(line, widths, strict=True))).rstrip()
        for line in cells
    )


@cli.command("report")
@config_option
@click.option("--since", default=None, help="only events announced this recently, e.g. 90d, 24h [all]")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, help="output folder [<data_dir>/report]")
@click.option("--min-markets", type=click.IntRange(min=2), default=None,
              help="fewest complete/backfilled markets an event needs to count in the lead statistics [3]")
def report_command(config: Config, since: str | None, out_dir: Path | None, min_markets: int | None) -> None:
    """Cross-event study of every analysed event: report.parquet, report.md, report.png."""
    import time

    from analysis.catalog import ANALYSED, scan_events
    from analysis.study import MIN_COUNTED_MARKETS, write_report
    from recorder.clock import S
    from recorder.config import parse_duration

    try:
        since_s = parse_duration(since) if since is not None else None
    except ValueError as exc:
        raise UserError(f"--since {since!r}: {exc}") from exc
    out_dir = out_dir or config.data_path / "report"
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: is a file, not a folder")
    cutoff = time.time_ns() - round(since_s * S) if since_s is not None else None
    entries = [e for e in scan_events(config.events_path) if cutoff is None or (e.announced_ns or 0) >= cutoff]
    analysed = [e for e in entries if e.status == ANALYSED]
    if not analysed:
        click.echo(f"pumpwatch: report: no analysed event in {config.events_path}" + (f" in the last {since}" if since else ""),
                   err=True)
        sys.exit(1)
    try:
        result = write_report([e.analysis for e in analysed], out_dir, min_counted=min_markets or MIN_COUNTED_MARKETS, since=since)
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write the report: {exc.strerror or exc}") from exc
    click.echo(result["markdown"].split("\n\nHow each number", 1)[0])
    skipped = len(entries) - len(analysed)
    if skipped:
        click.echo(f"\n{skipped} folders not analysed, left out (see `pumpwatch events`)")
    click.echo("\n" + "\n".join(str(path) for path in result["files"]))


@cli.command("coverage")
@config_option
@click.option("--since", default="24h", show_default=True, help="the period: this long until now, e.g. 24h, 7d")
@click.option("--markets", default=None, help="comma-separated markets [all enabled]")
def coverage_command(config: Config, since: str, markets: str | None) -> None:
    """Per market: connected time, connections, gaps by kind and what became of them, the longest outage."""
    import time

    from recorder.clock import S
    from recorder.config import parse_duration
    from recorder.coverage_report import coverage_report
    from recorder.store import StoreError, open_store

    try:
        since_s = parse_duration(since)
    except ValueError as exc:
        raise UserError(f"--since {since!r}: {exc}") from exc
    chosen = _markets(config, markets)
    end = time.time_ns()
    start = end - round(since_s * S)
    try:
        store = open_store(config, create=False)
    except (FileNotFoundError, StoreError) as exc:
        raise UserError(str(exc)) from exc
    try:
        rows = coverage_report(store, chosen, start, end, round(config.recorder.coverage_heartbeat * S))
    except StoreError as exc:
        raise UserError(str(exc)) from exc
    finally:
        store.close()
    click.echo(coverage_table(rows, since))


def _span(ns: int) -> str:
    """A length for a person: `45.2 s`, `12.5 min`, `3.1 h`."""
    seconds = ns / 1e9
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def coverage_table(rows: list[Any], since: str) -> str:
    """`pumpwatch coverage` as aligned columns, one market a line."""
    from recorder.clock import iso_utc

    if not rows:
        return "no markets"
    header = ["market", "connected", "connections", "gaps (kind: count by outcome)", "longest outage"]
    cells = [header]
    for row in rows:
        gaps = "; ".join(f"{kind} " + ", ".join(f"{n} {status}" for status, n in counts.items()) for kind, counts in row.gaps.items())
        outage = row.longest_outage
        cells.append([
            row.key, f"{row.connected_share * 100:.2f} %", str(row.connections), gaps or "none",
            f"{_span(outage[1] - outage[0])} from {iso_utc(outage[0], 's')}" if outage else "none",
        ])
    title = f"coverage over the last {since}: {iso_utc(rows[0].start, 's')} to {iso_utc(rows[0].end, 's')}"
    return title + "\n" + aligned(cells, right={1, 2})


@cli.group("symbols")
def symbols_group() -> None:
    """The symbol universe (config/symbols.yaml)."""


@symbols_group.command("refresh")
@config_option
@click.option("--markets", default=None, help="comma-separated markets [all enabled]")
def symbols_refresh(config: Config, markets: str | None) -> None:
    """Fetch Upbit's KRW list and every market's instruments; write the universe file."""
    import asyncio

    from recorder.record import fetch_universe
    from recorder.tls import client_ssl_context
    from recorder.universe import fetched_when

    chosen = _markets(config, markets)
    universe, upbit_ok = asyncio.run(fetch_universe(config, chosen, client_ssl_context(config.tls_ca_file)))
    for key, state in sorted(universe.status.items()):
        note = ""
        if state.source == "previous":
            note = f"  (previous list, fetched {fetched_when(state.fetched_at)}; FAILED: {state.error})"
        elif not state.ok:
            note = f"  (FAILED: {state.error})"
        click.echo(f"{key:16} {state.kept:6d} instruments{note}")
    if upbit_ok:
        click.echo(f"{'upbit KRW list':16} {len(universe.upbit_krw):6d} coins (not recorded)")
    elif universe.filtered:
        click.echo(f"{'upbit KRW list':16} {len(universe.upbit_krw):6d} coins "
                   f"(last known, fetched {fetched_when(universe.upbit_krw_at)}; FAILED: {universe.upbit_error})")
    else:
        click.echo(f"{'upbit KRW list':16}  none: every instrument is recorded, UNFILTERED (FAILED: {universe.upbit_error})")
    path = config.recorder.symbols_file
    failed = sorted(key for key, state in universe.status.items() if not state.ok) + ([] if upbit_ok else ["upbit"])
    if not universe.written:
        kept = "kept as it was" if Path(path).exists() else "not written (there was none)"
        click.echo(f"pumpwatch: every fetch failed ({', '.join(failed)}): {path} {kept}", err=True)
        sys.exit(1)
    click.echo(f"{universe.total} instruments written to {path}")
    if failed:
        click.echo(f"pumpwatch: fetch failed for {', '.join(failed)}: their previous lists were written where there were any",
                   err=True)
        sys.exit(1)


@cli.command("run")
@config_option
@click.option("--markets", default=None, help="comma-separated markets, e.g. binance.spot,okx.futures [all enabled]")
def run_command(config: Config, markets: str | None) -> None:
    """The always-on service: recorder, symbol refresh, Upbit watcher, extraction, analysis, status endpoint."""
    _serve(config, markets, watch=True)


@cli.command("record")
@config_option
@click.option("--markets", default=None, help="comma-separated markets, e.g. binance.spot,okx.futures [all enabled]")
def record_command(config: Config, markets: str | None) -> None:
    """Record trades only (no Upbit watcher): several recorder processes can share the markets of one store."""
    _serve(config, markets, watch=False)


@cli.command("status")
@config_option
@click.option("--url", default=None, help="status endpoint [http://<service.status_host>:<service.status_port>/status]")
def status_command(config: Config, url: str | None) -> None:
    """Show the running service's status as a table."""
    import json
    import urllib.parse
    import urllib.request

    from pumpwatch.status_table import render

    url = url or f"http://{config.service.status_host}:{config.service.status_port}/status"
    try:
        parts = urllib.parse.urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number
        usable = False
    if not usable:
        raise UserError(f"--url {url!r}: expected http://HOST:PORT/status")
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            snapshot = json.load(response)
    except OSError as exc:
        click.echo(f"pumpwatch: no service answering at {url}: {getattr(exc, 'reason', exc)}", err=True)
        sys.exit(1)
    except ValueError as exc:
        click.echo(f"pumpwatch: {url} did not answer with a status (JSON): {exc}", err=True)
        sys.exit(1)
    if not isinstance(snapshot, dict):
        click.echo(f"pumpwatch: {url} did not answer with a status (a JSON object)", err=True)
        sys.exit(1)
    click.echo(render(snapshot))


@cli.command("demo")
@config_option(required=False)
@click.option("--dir", "workdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="keep the demo's store and event folder here [a new temporary folder]")
@click.option("--store", "store_kind", type=click.Choice(["embedded", "questdb"]), default="embedded", show_default=True,
              help="questdb: record into the server of --config (or the default addresses), in tables prefixed pwdemo_")
def demo_command(config: Config | None, workdir: Path | None, store_kind: str) -> None:
    """Offline demo: simulated exchanges and Upbit, three KRW listings, their event folders, and the cross-event report."""
    import asyncio
    import tempfile

    from pumpwatch.demo import DemoError, run_demo
    from pumpwatch.lock import DataDirBusy
    from recorder.config import StoreConfig
    from recorder.store import StoreError

    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="pumpwatch-demo-"))
    else:
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--dir {workdir}: cannot create the folder: {exc.strerror}") from exc
    # the only parts of a config the demo uses: analysis thresholds, and the QuestDB addresses with --store questdb
    analysis = config.analysis.model_dump() if config is not None else None
    store = None
    if store_kind == "questdb":
        store = {**(config.store if config is not None else StoreConfig()).model_dump(), "kind": "questdb"}
    try:
        result = asyncio.run(run_demo(workdir, analysis=analysis, store=store, progress=lambda line: click.echo(line, err=True)))
    except (StoreError, DataDirBusy) as exc:
        raise UserError(str(exc)) from exc
    except DemoError as exc:
        click.echo(f"pumpwatch: demo: {exc}", err=True)
        sys.exit(1)
    for event in result.events:
        click.echo(f"## {event.coin}: {event.event_dir}\n\n{event.summary}\n\nchart: {event.event_dir / 'chart.png'}\n")
    click.echo(result.report)
    click.echo(f"\nreport: {result.report_dir / 'report.md'}\nchart:  {result.report_dir / 'report.png'}")


def _embedded_store(config: Config, **kwargs):
    """The config's existing embedded store (these commands work on its files); a QuestDB config or no store is a user error."""
    if config.store.kind != "embedded":
        raise UserError(f"this command works on the embedded store; the config names store.kind={config.store.kind}")
    from recorder.store.embedded import EmbeddedStore

    try:
        return EmbeddedStore(config.data_path / config.store.embedded_file, retention_s=config.store.retention, create=False,
                             **kwargs)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc


@cli.group("store")
def store_group() -> None:
    """The embedded store's trade files: convert an old store, seal, show figures."""


@store_group.command("migrate")
@config_option
def store_migrate(config: Config) -> None:
    """Convert the trades of an older SQLite store into Parquet parts (opening the store does it too), with progress."""

    def progress(done: int, total: int) -> None:
        click.echo(f"\rconverted {done:,} of {total:,} trades ({done / total:.0%})", err=True, nl=done == total)

    store = _embedded_store(config, progress=progress)
    try:
        click.echo(f"{store.count_trades():,} trades in {store.sealed_dir} and {store.hot_dir}")
    finally:
        store.close()


@store_group.command("compact")
@config_option
def store_compact(config: Config) -> None:
    """Seal everything recorded so far into Parquet, the open hour included (files a running recorder holds open stay hot)."""
    store = _embedded_store(config)
    try:
        sealed = store.compact()
        left = store.hot_figures()
    finally:
        store.close()
    click.echo(f"sealed {sealed:,} trades; {left.rows:,} trades remain hot in {left.files} files held open by running recorders")


@store_group.command("stats")
@config_option
def store_stats(config: Config) -> None:
    """Rows, bytes per trade, partitions, oldest and newest trade, hot tier size."""
    from recorder.clock import iso_utc

    store = _embedded_store(config)
    try:
        parts = store.sealed_parts()
        hot = store.hot_figures()
        unsealed = store.unsealed_trades().column("ts").cast("int64").to_pylist()
    finally:
        store.close()
    sealed_rows = sum(part.rows for part in parts)
    sealed_bytes = sum(part.path.stat().st_size for part in parts)
    times = [t for part in parts for t in (part.min_ts, part.max_ts)] + unsealed
    lines = [
        ("trades", f"{sealed_rows + hot.rows:,} ({sealed_rows:,} sealed, {hot.rows:,} hot)"),
        ("sealed", f"{sealed_bytes:,} bytes in {len(parts)} parts of {len({p.path.parent for p in parts})} hour partitions"),
        ("bytes per trade", f"{sealed_bytes / sealed_rows:.1f} (sealed)" if sealed_rows else "-"),
        ("oldest trade", iso_utc(min(times)) if times else "-"),
        ("newest trade", iso_utc(max(times)) if times else "-"),
        ("hot tier", f"{hot.files} files, {hot.bytes:,} bytes"),
        ("folders", f"{store.sealed_dir}  {store.hot_dir}"),
    ]
    for name, value in lines:
        click.echo(f"{name:16} {value}")


@cli.command("sql")
@config_option
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "parquet"]), default="table", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="write here instead of stdout (parquet needs it)")
def sql_command(config: Config, query: str, fmt: str, out: Path | None) -> None:
    """Run DuckDB SQL over `trades` (sealed parts and hot tier, each trade once), coverage, gaps, notices, triggers."""
    import duckdb

    from recorder.store.query import connect

    if fmt == "parquet" and out is None:
        raise UserError("--format parquet needs --out FILE")
    store = _embedded_store(config)
    try:
        relation = connect(store).sql(query)
        if relation is None:
            return
        if fmt == "parquet":
            relation.write_parquet(str(out))
        elif fmt == "csv" and out is not None:
            relation.write_csv(str(out))
        else:
            frame = relation.df()
            text = frame.to_csv(index=False) if fmt == "csv" else frame.to_string(index=False) + "\n"
            if out is not None:
                out.write_text(text, encoding="utf-8")
            else:
                click.echo(text, nl=False)
    except duckdb.Error as exc:
        raise UserError(f"sql: {' '.join(str(exc).split())}") from exc
    except OSError as exc:
        raise UserError(f"sql: cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        store.close()


def main() -> None:
    cli(prog_name="pumpwatch")


def extract_main() -> None:
    """The `extract` console script: `pumpwatch extract` on its own."""
    from recorder.logs import setup_logging

    setup_logging("INFO")
    extract_command(analyze_folder).main(args=sys.argv[1:], prog_name="extract")
