"""Trades as a JSON array of objects, built column by column in Arrow: no Python object per value.

An event folder's raw files hold every trade of the window (100k and more for a busy listing); building a dict per
trade and encoding it cost more than the rest of the extraction together. The text is the one `msgspec.json.encode`
gives for the same records (keys in column order, no spaces, timestamps as ISO 8601 UTC strings with nanoseconds),
except that floats are written in Arrow's shortest round-trip form (`1e-05` may read `0.00001`): the same number to
any JSON reader. A table this cannot write exactly (a control character in a string, a float that is not finite)
goes through msgspec instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recorder.clock import S

_CONTROL = r"[\x00-\x1f]"
_DENSE_SECONDS = 1_000_000
"""a window spanning fewer seconds formats every second in it rather than sorting out the distinct ones"""


def _iso(column: pa.Array) -> pa.Array:
    """`2026-11-30T14:00:00.123456789Z`; each second is formatted once (a window holds few of them)."""
    seconds, fraction = np.divmod(column.cast(pa.int64()).to_numpy(), S)
    first, last = int(seconds.min()), int(seconds.max())
    if last - first < _DENSE_SECONDS:
        distinct, index = np.arange(first, last + 1), seconds - first
    else:
        distinct, index = np.unique(seconds, return_inverse=True)
    prefixes = pa.array([datetime.fromtimestamp(int(s), UTC).strftime("%Y-%m-%dT%H:%M:%S.") for s in distinct], pa.string())
    nanoseconds = pc.utf8_slice_codeunits(pa.array(fraction + S).cast(pa.string()), 1)  # 1xxxxxxxxx: zero-padded to 9
    return pc.binary_join_element_wise(prefixes.take(pa.array(index)), nanoseconds, "Z", "")


def _string(column: pa.Array) -> pa.Array | None:
    """A quoted JSON string per value, or None when a value holds a control character (msgspec escapes those).

    Escaped once per distinct value: most columns of a market's trades hold one value."""
    encoded = column.dictionary_encode()
    distinct = encoded.dictionary
    if pc.any(pc.match_substring_regex(distinct, _CONTROL)).as_py():
        return None
    escaped = pc.replace_substring(pc.replace_substring(distinct, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "").take(encoded.indices)


def _number(column: pa.Array) -> pa.Array | None:
    """A JSON number per value; integral floats keep a `.0` so readers still see floats; None for a non-finite value."""
    if pa.types.is_floating(column.type):
        if not pc.all(pc.is_finite(column)).as_py():
            return None
        text = column.cast(pa.string())
        return pc.if_else(pc.match_substring_regex(text, r"^-?\d+$"), pc.binary_join_element_wise(text, ".0", ""), text)
    return column.cast(pa.string())


def _fragments(table: pa.Table) -> list | None:
    """The text of every record as pieces to join: literal keys around each column's values (None: not exactly writable)."""
    pieces: list = []
    for position, name in enumerate(table.column_names):
        column = table.column(name).combine_chunks()
        if column.null_count:
            return None
        if pa.types.is_timestamp(column.type):
            values = pc.binary_join_element_wise('"', _iso(column), '"', "")
        elif pa.types.is_string(column.type):
            values = _string(column)
        else:
            values = _number(column)
        if values is None:
            return None
        pieces += [("{" if position == 0 else ",") + msgspec.json.encode(name).decode() + ":", values]
    return [*pieces, "},"]


def record_texts(table: pa.Table) -> pa.Array | None:
    """Each row's JSON object followed by a comma, to be selected from and written by `write_record_texts`; None when the
    table cannot be written exactly this way (or is empty)."""
    fragments = _fragments(table) if table.num_rows else None
    return None if fragments is None else pc.binary_join_element_wise(*fragments, "")


def write_record_texts(path: Path, texts: pa.Array | pa.ChunkedArray) -> None:
    """A JSON array of the objects in `texts` (from `record_texts`): their bytes as they are, the last comma dropped."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not len(texts):
        path.write_bytes(b"[]")
        return
    _, offsets, data = texts.buffers()
    first, end = np.frombuffer(offsets, np.int32, len(texts) + 1, texts.offset * 4)[[0, -1]]
    with open(path, "wb") as handle:
        handle.write(b"[")
        handle.write(data.slice(int(first), int(end - first) - 1))
        handle.write(b"]")


def write_json_records(path: Path, table: pa.Table) -> None:
    """`table` as a JSON array of objects (see the module's doc)."""
    texts = record_texts(table)
    if texts is None:
        path.write_bytes(_via_msgspec(table))
    else:
        write_record_texts(path, texts)


def _via_msgspec(table: pa.Table) -> bytes:
    """The slow, general way: a dict per trade, timestamps as the same ISO strings."""
    columns = [(_iso(column) if pa.types.is_timestamp(column.type) and len(column) else column).to_pylist()
               for column in (table.column(name).combine_chunks() for name in table.column_names)]
    return msgspec.json.encode([dict(zip(table.column_names, values, strict=True)) for values in zip(*columns, strict=True)])
