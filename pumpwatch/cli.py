"""The `pumpwatch` command: thin subcommands over the library; heavy imports happen inside each command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

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
@click.argument("event_dir", type=click.Path(path_type=Path))
def analyze_command(config: Config, event_dir: Path) -> None:
    """Write analysis.json, summary.md and chart.png into an event folder, and print the summary."""
    click.echo(analyze_folder(config, event_dir))


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
    """Offline demo: simulated exchanges and Upbit, a KRW listing, its event folder, analysis and chart."""
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
    click.echo(result.summary)
    click.echo(f"\nevent folder: {result.event_dir}")
    click.echo(f"chart:        {result.event_dir / 'chart.png'}")


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
