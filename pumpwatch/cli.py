"""The `pumpwatch` command: thin subcommands over the library; heavy imports happen inside each command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from extractor.cli import UserError, config_option, extract_command
from recorder import __version__
from recorder.config import DEFAULT_CONFIG, Config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(extract_command)


def _markets(config: Config, markets: str | None):
    from recorder.markets import BY_KEY

    if not markets:
        return config.enabled_markets()
    chosen = []
    for key in (part.strip() for part in markets.split(",") if part.strip()):
        if key not in BY_KEY:
            raise UserError(f"--markets: unknown market {key!r}; known: {', '.join(BY_KEY)}")
        chosen.append(BY_KEY[key])
    return chosen


def _serve(config: Config, markets: str | None, watch: bool) -> None:
    import asyncio

    from pumpwatch.service import Service
    from recorder.logs import setup_logging
    from recorder.memory import tune_allocator
    from recorder.store import StoreError

    setup_logging(log_dir=Path(config.service.log_dir))
    tune_allocator()
    try:
        asyncio.run(Service(config, _markets(config, markets), watch=watch).run())
    except StoreError as exc:
        raise UserError(str(exc)) from exc


@cli.command("analyze")
@config_option
@click.argument("event_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def analyze_command(config: Config, event_dir: Path) -> None:
    """Write analysis.json, summary.md and chart.png into an event folder, and print the summary."""
    from analysis.event import EventFolderError
    from analysis.report import analyze_event, summary_table

    try:
        analysis = analyze_event(event_dir, config.analysis.pump_threshold, config.analysis.min_trades)
    except EventFolderError as exc:
        raise UserError(f"{event_dir}: {exc}") from exc
    click.echo(summary_table(analysis))


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

    universe, upbit_ok = asyncio.run(fetch_universe(config, _markets(config, markets), client_ssl_context(config.tls_ca_file)))
    for key, count in sorted(universe.counts().items()):
        state = universe.status.get(key)
        click.echo(f"{key:16} {count:6d} instruments" + (f"  ({state.source}: {state.error})" if state and state.error else ""))
    click.echo(f"{universe.total} instruments written to {config.recorder.symbols_file}")
    failed = [key for key, state in universe.status.items() if not state.ok] + ([] if upbit_ok else ["upbit"])
    if failed:
        click.echo(f"pumpwatch: fetch failed for {', '.join(sorted(failed))} (previous lists kept where there were any)", err=True)
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
    import urllib.request

    from pumpwatch.status_table import render

    url = url or f"http://{config.service.status_host}:{config.service.status_port}/status"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            snapshot = json.load(response)
    except OSError as exc:
        click.echo(f"pumpwatch: no service answering at {url}: {exc}", err=True)
        sys.exit(1)
    click.echo(render(snapshot))


@cli.command("demo")
@config_option(required=False)
@click.option("--dir", "workdir", type=click.Path(path_type=Path), default=None,
              help="keep the demo's store and event folder here [a new temporary folder]")
@click.option("--store", "store_kind", type=click.Choice(["embedded", "questdb"]), default="embedded", show_default=True,
              help="questdb: record into the server of --config (or the default addresses), in tables prefixed pwdemo_")
def demo_command(config: Config | None, workdir: Path | None, store_kind: str) -> None:
    """Offline demo: simulated exchanges and Upbit, a KRW listing, its event folder, analysis and chart."""
    import asyncio
    import tempfile

    from pumpwatch.demo import run_demo
    from recorder.config import StoreConfig
    from recorder.store import StoreError

    workdir = workdir or Path(tempfile.mkdtemp(prefix="pumpwatch-demo-"))
    # the only parts of a config the demo uses: analysis thresholds, and the QuestDB addresses with --store questdb
    analysis = config.analysis.model_dump() if config is not None else None
    store = None
    if store_kind == "questdb":
        store = {**(config.store if config is not None else StoreConfig()).model_dump(), "kind": "questdb"}
    try:
        result = asyncio.run(run_demo(workdir, analysis=analysis, store=store, progress=lambda line: click.echo(line, err=True)))
    except StoreError as exc:
        raise UserError(str(exc)) from exc
    click.echo(result.summary)
    click.echo(f"\nevent folder: {result.event_dir}")
    click.echo(f"chart:        {result.event_dir / 'chart.png'}")


def _embedded_store(config: Config, **kwargs):
    """The config's embedded store (these commands work on its files); a QuestDB config is a user error."""
    if config.store.kind != "embedded":
        raise UserError(f"this command works on the embedded store; the config names store.kind={config.store.kind}")
    from recorder.store.embedded import EmbeddedStore

    return EmbeddedStore(config.data_path / config.store.embedded_file, retention_s=config.store.retention, **kwargs)


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
    store = _embedded_store(config, create=False)
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

    store = _embedded_store(config, create=False)
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
    store = _embedded_store(config, create=False)
    try:
        con = connect(store)
        try:
            relation = con.sql(query)
        except duckdb.Error as exc:
            raise UserError(f"sql: {exc}") from exc
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
    finally:
        store.close()


def main() -> None:
    cli(prog_name="pumpwatch")
