"""Event folders: written into a temporary folder and renamed into place, never destroying an earlier one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extractor.json_records import record_texts, write_json_records, write_record_texts
from extractor.timeparse import folder_stamp
from recorder.markets import MARKETS
from recorder.trade_row import TRADE_SCHEMA


def folder_name(coin: str, announced_ns: int) -> str:
    return f"{coin}_{folder_stamp(announced_ns)}"


def next_version(out_dir: Path, name: str) -> Path:
    """`name`, or `name.v2`, `name.v3`… : the first that does not exist yet."""
    target = out_dir / name
    version = 2
    while target.exists():
        target = out_dir / f"{name}.v{version}"
        version += 1
    return target


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _write_raw(raw: Path, trades: pa.Table) -> None:
    """`raw/<exchange>/<market>.json` for every market: the records are built once for the window, then selected."""
    texts = record_texts(trades)
    for spec in MARKETS:
        mask = pc.and_(pc.equal(trades.column("exchange"), spec.exchange), pc.equal(trades.column("market"), spec.market))
        (raw / spec.exchange).mkdir(parents=True, exist_ok=True)
        path = raw / spec.exchange / f"{spec.market}.json"
        if texts is None:
            write_json_records(path, trades.filter(mask))
        else:
            write_record_texts(path, texts.filter(mask))


def write_event(out_dir: Path, name: str, trades: pa.Table, metadata: dict, *, force: bool = False) -> Path:
    """Write `trades.parquet`, `raw/<exchange>/<market>.json` and `metadata.json`; return the folder.

    Without `force` an existing folder is kept and a new version written beside it; with `force`
    the old folder is replaced only once the new one is complete.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    trades = trades.cast(TRADE_SCHEMA)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir))
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="event-parquet") as pool:  # Arrow lets go of the GIL: both cores work
            parquet = pool.submit(pq.write_table, trades, tmp / "trades.parquet", compression="zstd")
            _write_raw(tmp / "raw", trades)
            parquet.result()
        final = out_dir / name if force else next_version(out_dir, name)
        metadata = {**metadata, "folder": final.name}
        write_json(tmp / "metadata.json", metadata)
        os.chmod(tmp, 0o755)
        if force and final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.rename(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
