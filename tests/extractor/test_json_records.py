"""The raw JSON files of an event folder: built column-wise, read back as the records msgspec would give."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pyarrow as pa
import pytest

from extractor.json_records import write_json_records
from recorder.trade_row import TRADE_SCHEMA, rows_to_table
from tests.recorder.store.test_store_contract import T0, S, trade


def _records_msgspec_would_write(table: pa.Table) -> list[dict]:
    """The reference: a dict per trade, timestamps as ISO 8601 UTC with nanoseconds."""
    out = []
    for row in table.to_pylist():
        for name in ("ts", "received_ts"):
            ns = row[name].value
            row[name] = row[name].strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns % S:09d}Z"
        out.append(row)
    return json.loads(msgspec.json.encode(out))


def _many_trades(n: int = 5_000) -> pa.Table:
    rng = np.random.default_rng(7)
    prices = rng.random(n) * np.logspace(-9, 12, n)
    amounts = np.round(rng.random(n) * 1000)  # integral floats: must still read as floats
    rows = [trade("TIA", T0 + int(rng.integers(0, 40 * S)), str(i), price=float(prices[i]))._replace(amount=float(amounts[i]))
            for i in range(n)]
    return rows_to_table(rows)


def test_the_file_reads_back_as_the_records_of_the_table_with_every_float_a_float(tmp_path):
    table = _many_trades()
    write_json_records(tmp_path / "t.json", table)
    written = json.loads((tmp_path / "t.json").read_bytes())
    assert written == _records_msgspec_would_write(table)
    assert all(type(record[name]) is float for record in written for name in ("price", "amount", "notional"))
    assert list(written[0]) == list(TRADE_SCHEMA.names)


def test_timestamps_keep_their_nanoseconds_and_leading_zeros(tmp_path):
    table = rows_to_table([trade("TIA", T0 + 5, "a"), trade("TIA", T0 + 999_999_999, "b")])
    write_json_records(tmp_path / "t.json", table)
    stamps = [record["ts"] for record in json.loads((tmp_path / "t.json").read_bytes())]
    assert [stamp[-11:] for stamp in stamps] == [".000000005Z", ".999999999Z"]


@pytest.mark.parametrize("trade_id", ['quote"inside', "back\\slash", "ünïcode/slash", "control\x01char", "tab\there"])
def test_strings_are_escaped_exactly_as_json_requires(tmp_path, trade_id):
    table = rows_to_table([trade("TIA", T0, trade_id), trade("TIA", T0 + S, "plain")])
    write_json_records(tmp_path / "t.json", table)
    assert json.loads((tmp_path / "t.json").read_bytes()) == _records_msgspec_would_write(table)


def test_an_empty_table_is_an_empty_array(tmp_path):
    write_json_records(tmp_path / "t.json", TRADE_SCHEMA.empty_table())
    assert (tmp_path / "t.json").read_bytes() == b"[]"


def test_pandas_reads_the_same_values(tmp_path):
    pd = pytest.importorskip("pandas")
    table = _many_trades(200)
    write_json_records(tmp_path / "t.json", table)
    frame = pd.read_json(tmp_path / "t.json", dtype=False, precise_float=True)  # its default parser rounds the last digit
    assert frame["price"].tolist() == table.column("price").to_pylist()
    assert frame["trade_id"].tolist() == table.column("trade_id").to_pylist()
