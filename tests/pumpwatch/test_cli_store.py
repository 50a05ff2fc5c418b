"""`pumpwatch store migrate|compact|stats` and `pumpwatch sql` on an embedded store."""

from __future__ import annotations

import sqlite3

import pyarrow.parquet as pq
from click.testing import CliRunner

from pumpwatch.cli import cli
from recorder.store.embedded import EmbeddedStore
from recorder.store.schema import migrations
from recorder.trade_row import TRADE_COLUMNS
from tests.recorder.store.test_store_contract import T0, S, trade


def _config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    return config


def test_compact_seals_the_open_hour_and_stats_and_sql_see_every_trade_once(tmp_path):
    config = _config(tmp_path)
    store = EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite")
    store.write_trades([trade("AAA", T0 + i * S, str(i)) for i in range(3)])
    store.close()
    result = CliRunner().invoke(cli, ["store", "compact", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "sealed 3 trades" in result.output
    EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite").write_trades([trade("AAA", T0, "0"), trade("BBB", T0, "9")])  # hot
    stats = CliRunner().invoke(cli, ["store", "stats", "--config", str(config)])
    assert stats.exit_code == 0, stats.output
    assert "4 (3 sealed, 1 hot)" in stats.output and "bytes per trade" in stats.output
    query = "SELECT base, count(*) AS n FROM trades GROUP BY base ORDER BY base"
    table = CliRunner().invoke(cli, ["sql", "--config", str(config), query])
    assert table.exit_code == 0, table.output
    assert table.output.split() == ["base", "n", "AAA", "3", "BBB", "1"]
    csv = CliRunner().invoke(cli, ["sql", "--config", str(config), "--format", "csv", query])
    assert csv.output.splitlines() == ["base,n", "AAA,3", "BBB,1"]
    out = tmp_path / "q.parquet"
    parquet = CliRunner().invoke(cli, ["sql", "--config", str(config), "--format", "parquet", "--out", str(out), query])
    assert parquet.exit_code == 0 and pq.read_table(out).to_pydict() == {"base": ["AAA", "BBB"], "n": [3, 1]}
    bad = CliRunner().invoke(cli, ["sql", "--config", str(config), "SELEC nonsense"])
    assert bad.exit_code == 2 and "sql:" in bad.output


def test_sql_joins_trades_with_the_small_tables(tmp_path):
    config = _config(tmp_path)
    store = EmbeddedStore(tmp_path / "data" / "pumpwatch.sqlite")
    store.write_trades([trade("AAA", T0, "1")])
    store.write_gaps([])
    conn = sqlite3.connect(store.path)
    conn.execute("INSERT INTO notices VALUES (?, 7, 't', 0, 0, 1, 'AAA', 'u')", (T0,))
    conn.commit()
    store.close()
    result = CliRunner().invoke(cli, ["sql", "--config", str(config), "--format", "csv",
                                      "SELECT n.notice_id, count(*) AS n FROM notices n JOIN trades t ON t.base = n.krw_symbols "
                                      "GROUP BY n.notice_id"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["notice_id,n", "7,1"]


def test_migrate_converts_an_old_store_with_progress(tmp_path):
    config = _config(tmp_path)
    path = tmp_path / "data" / "pumpwatch.sqlite"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    [(_, _, init)] = [m for m in migrations("embedded") if m[0] == 1]
    conn.executescript(f"BEGIN;\n{init}\nPRAGMA user_version=1;\nCOMMIT;")
    conn.executemany(f"INSERT INTO trades ({','.join(TRADE_COLUMNS)}) VALUES ({','.join('?' * 12)})",
                     [trade("AAA", T0 + i, str(i)) for i in range(10)])
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["store", "migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "converted 10 of 10 trades (100%)" in result.output and "10 trades in" in result.output
