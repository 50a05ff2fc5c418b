"""The embedded store's trades as files: a hot tier of Arrow IPC streams, sealed into hour-partitioned Parquet.

Layout (hive-style, so DuckDB, polars, pandas and pyarrow read the sealed folder as a dataset):

    <sealed>/date=2026-11-30/hour=14/part-<min_ts>-<max_ts>-<rows>-<id>.parquet
    <hot>/date=2026-11-30/hour=14/<host>-<pid>-<id>.arrows

- Hot: each writer (one `TradeFiles` object) owns its stream files, one per hour it writes to, and
  holds an flock on each while it is open; a batch is appended and fsynced, so `kill -9` loses at
  most the batch being written and readers in other processes see it at once. A file is closed
  after `ROTATE_NS` and never reopened; a crash leaves it unlocked with at most a torn last message,
  which every reader stops before (pyarrow raises on a short message; nothing partial is returned).
- Sealing takes every hot file no live writer holds, drops duplicates (the first-written row of a
  key wins) and rows already sealed, and writes Parquet parts sorted by (base, ts) into the hour's
  folder (temp name, fsync, rename), then deletes the hot files. Rows written `LATE_NS` or more after
  their trade time (a repair's backfill) go to a part of their own, so the parts of live rows span
  about a minute each: a seal, a window or a count opens only the parts its rows overlap. One seal
  lock per store keeps two sealers apart; writers never take it.
- A part's name carries its time span and row count, so a window opens only the parts it overlaps
  and counting reads no file. Parts never hold a key twice, within or across parts.
- Retention deletes whole hour folders.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from recorder.clock import S
from recorder.trade_row import DEDUP_KEY, TIMESTAMP, TRADE_COLUMNS, TRADE_SCHEMA

HOUR_NS = 3600 * S
WRITTEN = "written_ns"
"""hot tier only: when the batch was written (wall clock, comparable across processes), so the first write of a key wins"""
HOT_SCHEMA = TRADE_SCHEMA.append(pa.field(WRITTEN, pa.int64(), nullable=False))
ROTATE_NS = 60 * S
"""a hot file is closed this long after it was opened, so sealing (every minute in the service) keeps the hot tier small"""
MAX_OPEN_FILES = 8
"""hot files one writer keeps open at once (a backfill or a migration touching many hours closes the least recent)"""
LATE_NS = 120 * S
"""a hot row written at least this long after its trade time is sealed apart from the live rows (see the module's doc)"""
FEW_COINS = 256
"""looking up at most this many coins in a part reads only their row groups (a part is sorted by coin)"""
ROW_GROUP_ROWS = 65_536
"""small enough that one coin's window is one or two row groups of a part, large enough to compress well"""
WINDOW_ORDER = [(name, "ascending") for name in DEDUP_KEY]
SEAL_ORDER = [("base", "ascending"), ("ts", "ascending")]
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 9, "row_group_size": ROW_GROUP_ROWS, "write_statistics": True,
                   "sorting_columns": [pq.SortingColumn(TRADE_COLUMNS.index("base")), pq.SortingColumn(TRADE_COLUMNS.index("ts"))]}


def partition_name(hour: int) -> str:
    """`date=YYYY-MM-DD/hour=HH` of an hour counted from the epoch (UTC)."""
    start = datetime.fromtimestamp(hour * 3600, tz=UTC)
    return f"date={start:%Y-%m-%d}/hour={start:%H}"


def partitions(root: Path) -> dict[int, Path]:
    """Every hour folder under `root`, by hour since the epoch."""
    found: dict[int, Path] = {}
    if not root.is_dir():
        return found
    for day in root.glob("date=*"):
        for hour in day.glob("hour=*"):
            try:
                start = datetime.strptime(f"{day.name[5:]} {hour.name[5:]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
            except ValueError:
                continue
            found[int(start.timestamp()) // 3600] = hour
    return found


class Part(NamedTuple):
    """A sealed Parquet file, its facts read from its name."""

    path: Path
    min_ts: int
    max_ts: int
    rows: int


def parts_in(folder: Path) -> list[Part]:
    found = []
    for path in folder.glob("part-*.parquet"):
        fields = path.stem.split("-")
        found.append(Part(path, int(fields[1]), int(fields[2]), int(fields[3])))
    return sorted(found)


def read_hot_file(path: Path) -> pa.Table:
    """Every complete batch of a hot file. A torn tail (a write cut by a crash, or one still under way) ends the read."""
    with pa.memory_map(str(path)) as source:  # FileNotFoundError: sealed or dropped meanwhile; the caller lists again
        batches = []
        try:
            reader = ipc.open_stream(source)
            while True:
                batches.append(reader.read_next_batch())
        except (StopIteration, OSError, pa.ArrowInvalid):  # the end, or a short message: the torn tail, never returned
            pass
        return pa.Table.from_batches(batches, schema=HOT_SCHEMA)


def first_written(table: pa.Table) -> pa.Table:
    """One row per dedup key: the first written (smallest `written_ns`, then position); the others keep their order.

    Duplicates share `ts`, so only rows whose `ts` occurs more than once are grouped on the whole key (few of them)."""
    if table.num_rows < 2:
        return table
    table = table.combine_chunks()
    _, inverse, counts = np.unique(table.column("ts").cast(pa.int64()).to_numpy(), return_inverse=True, return_counts=True)
    shared = np.flatnonzero(counts[inverse] > 1)
    if not len(shared):
        return table
    candidates = table.select([*DEDUP_KEY, WRITTEN]).take(shared).append_column("_row", pa.array(shared))
    candidates = candidates.take(pc.sort_indices(candidates, [(WRITTEN, "ascending"), ("_row", "ascending")]))
    candidates = candidates.append_column("_i", pa.array(np.arange(candidates.num_rows)))
    first = candidates.group_by(list(DEDUP_KEY), use_threads=False).aggregate([("_i", "min")]).column("_i_min").to_numpy()
    keep = np.ones(table.num_rows, dtype=bool)
    keep[shared] = False
    keep[candidates.column("_row").to_numpy()[first]] = True
    return table.filter(pa.array(keep))


def without_keys(table: pa.Table, keys: pa.Table) -> pa.Table:
    """`table`'s rows whose dedup key is not among `keys` (already sealed); order is not kept."""
    if not table.num_rows or not keys.num_rows:
        return table
    return table.join(keys.select(list(DEDUP_KEY)), keys=list(DEDUP_KEY), join_type="left anti", use_threads=False)


def _span(table: pa.Table) -> tuple[int, int]:
    """Smallest and largest `ts` of a non-empty table, in ns."""
    span = pc.min_max(table.column("ts"))
    return span["min"].value, span["max"].value


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _HotFile:
    """One open stream file of this writer: created under a temp name, locked, then renamed, so a sealer never takes it."""

    def __init__(self, folder: Path, hour: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}.arrows"
        temp = folder / f".{name}.tmp"
        self.file = open(temp, "xb")  # noqa: SIM115 - kept open across calls, closed in close()
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        self.writer = ipc.new_stream(self.file, HOT_SCHEMA)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.path = folder / name
        os.rename(temp, self.path)
        _fsync_dir(folder)
        self.hour = hour
        self.opened_ns = time.time_ns()
        self.used = time.monotonic()

    def append(self, table: pa.Table) -> None:
        self.writer.write_table(table)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.used = time.monotonic()

    def close(self) -> None:
        try:
            self.writer.close()
            self.file.flush()
            os.fsync(self.file.fileno())
        finally:
            self.file.close()  # releases the flock: the file may be sealed from now on


@dataclass
class HotFigures:
    """What the hot tier holds now (`pumpwatch store stats`)."""

    files: int = 0
    bytes: int = 0
    rows: int = 0


class TradeFiles:
    """Hot tier and sealed parts of one store; thread-safe within a process, lock-free between writers."""

    def __init__(self, sealed: Path, hot: Path, lock_path: Path) -> None:
        self.sealed = sealed
        self.hot = hot
        self.lock_path = lock_path
        self._lock = threading.Lock()
        self._open: dict[int, _HotFile] = {}

    # --- writing -------------------------------------------------------------------------------------
    def append(self, table: pa.Table) -> None:
        """Append a batch (trade schema) to this writer's hot files, split by hour; durable when it returns."""
        if not table.num_rows:
            return
        table = table.append_column(HOT_SCHEMA.field(WRITTEN), pa.array(np.full(table.num_rows, time.time_ns(), dtype=np.int64)))
        hours = pc.divide(table.column("ts").cast(pa.int64()), HOUR_NS)
        span = pc.min_max(hours)
        if span["min"] == span["max"]:
            pieces = [(span["min"].as_py(), table)]
        else:
            pieces = [(hour, table.filter(pc.equal(hours, hour))) for hour in pc.unique(hours).to_pylist()]
        with self._lock:
            self._rotate(time.time_ns() - ROTATE_NS)
            for hour, piece in pieces:
                hot = self._open.get(hour)
                if hot is None:
                    if len(self._open) >= MAX_OPEN_FILES:
                        self._open.pop(min(self._open, key=lambda h: self._open[h].used)).close()
                    hot = self._open[hour] = _HotFile(self.hot / partition_name(hour), hour)
                hot.append(piece)

    def _rotate(self, opened_before_ns: int | None) -> None:
        """Close this writer's files opened before the bound (all with None), so sealing can take them (under `_lock`)."""
        for hour in [h for h, f in self._open.items() if opened_before_ns is None or f.opened_ns < opened_before_ns]:
            self._open.pop(hour).close()

    def close(self) -> None:
        self.rotate(0, everything=True)

    # --- reading -------------------------------------------------------------------------------------
    def _consistent(self, read: Callable[[], pa.Table]) -> pa.Table:
        """Hot files are listed before parts, so a file sealed meanwhile is either read or already in a listed part; a file
        that vanished before it was read (sealed or dropped) means listing again."""
        for _ in range(20):
            try:
                return read()
            except FileNotFoundError:
                continue
        return read()

    def _hot_files(self, lo_hour: int, hi_hour: int) -> list[Path]:
        return [path for hour, folder in sorted(partitions(self.hot).items()) if lo_hour <= hour <= hi_hour
                for path in sorted(folder.glob("*.arrows"))]

    def _parts(self, lo_ns: int, hi_ns: int) -> list[Part]:
        """Parts holding any time in [lo, hi]."""
        return [part for hour, folder in sorted(partitions(self.sealed).items()) if lo_ns // HOUR_NS <= hour <= hi_ns // HOUR_NS
                for part in parts_in(folder) if part.max_ts >= lo_ns and part.min_ts <= hi_ns]

    def _not_sealed(self, rows: pa.Table) -> pa.Table:
        """`rows` (hot rows) without those whose key a part holds; order is not kept.

        Part by part, so memory holds one part's keys at a time, and only where the part's span meets the rows'. A part is
        sorted by coin, so looking up the few coins of late rows reads only their row groups."""
        if not rows.num_rows:
            return rows
        lo, hi = _span(rows)
        for part in self._parts(lo, hi):
            ts = rows.column("ts")
            inside = rows.filter(pc.and_(pc.greater_equal(ts, pa.scalar(part.min_ts, TIMESTAMP)),
                                         pc.less_equal(ts, pa.scalar(part.max_ts, TIMESTAMP))))
            if not inside.num_rows:
                continue
            first, last = _span(inside)
            flt = (pc.field("ts") >= pa.scalar(first, TIMESTAMP)) & (pc.field("ts") <= pa.scalar(last, TIMESTAMP))
            coins = pc.unique(inside.column("base"))
            if len(coins) <= FEW_COINS:
                flt &= pc.field("base").isin(coins)
            keys = pq.read_table(part.path, columns=list(DEDUP_KEY), filters=flt)
            rows = without_keys(rows, keys)
            if not rows.num_rows:
                break
        return rows

    def read_window(self, base: str, start_ns: int, end_ns: int) -> pa.Table:
        """Sealed rows plus hot rows not sealed yet, each key once (first written), sorted by the dedup key."""
        if end_ns <= start_ns:
            return TRADE_SCHEMA.empty_table()

        def read() -> pa.Table:
            hot_files = self._hot_files(start_ns // HOUR_NS, (end_ns - 1) // HOUR_NS)
            flt = (pc.field("base") == base) & (pc.field("ts") >= pa.scalar(start_ns, TIMESTAMP)) & (
                pc.field("ts") < pa.scalar(end_ns, TIMESTAMP))
            sealed = [pq.read_table(part.path, filters=flt, schema=TRADE_SCHEMA) for part in self._parts(start_ns, end_ns - 1)]
            hot = [table.filter(flt) for table in map(read_hot_file, hot_files)]
            return self._merge(sealed, hot)

        return self._consistent(read).combine_chunks().sort_by(WINDOW_ORDER)

    @staticmethod
    def _merge(sealed: list[pa.Table], hot: list[pa.Table]) -> pa.Table:
        """Sealed rows (already unique) plus the first-written hot row of every key not sealed."""
        tables = [table.select(list(TRADE_COLUMNS)).cast(TRADE_SCHEMA) for table in sealed if table.num_rows]
        hot_rows = first_written(pa.concat_tables(hot)) if any(table.num_rows for table in hot) else None
        if hot_rows is not None:
            unsealed = without_keys(hot_rows, pa.concat_tables(tables)) if tables else hot_rows
            tables.append(unsealed.select(list(TRADE_COLUMNS)).cast(TRADE_SCHEMA))
        return pa.concat_tables(tables) if tables else TRADE_SCHEMA.empty_table()

    def unsealed(self) -> pa.Table:
        """Every hot row not sealed yet, each key once (for `count`, `stats` and SQL over both tiers)."""

        def read() -> pa.Table:
            tables = []
            for _, folder in sorted(partitions(self.hot).items()):
                hot = [read_hot_file(path) for path in sorted(folder.glob("*.arrows"))]
                if any(table.num_rows for table in hot):
                    rows = first_written(pa.concat_tables(hot))
                    tables.append(self._not_sealed(rows).select(list(TRADE_COLUMNS)).cast(TRADE_SCHEMA))
            return pa.concat_tables(tables) if tables else TRADE_SCHEMA.empty_table()

        return self._consistent(read)

    def count(self) -> int:
        """Unsealed rows first, then parts: a file sealed in between is never missed, at worst counted twice (exact while no
        seal runs at the same moment)."""
        hot = self.unsealed().num_rows
        return hot + sum(part.rows for part in self.sealed_parts())

    def sealed_parts(self) -> list[Part]:
        return [part for _, folder in sorted(partitions(self.sealed).items()) for part in parts_in(folder)]

    def hot_figures(self) -> HotFigures:
        figures = HotFigures()
        for folder in partitions(self.hot).values():
            for path in folder.glob("*.arrows"):
                with suppress(FileNotFoundError):  # sealed meanwhile
                    figures.bytes += path.stat().st_size
                    figures.files += 1
        figures.rows = self.unsealed().num_rows
        return figures

    # --- sealing and retention -----------------------------------------------------------------------
    @contextmanager
    def _seal_lock(self, wait: bool) -> Iterator[bool]:
        """The store's one seal lock (sealing, retention, migration); writers never take it."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True

    def rotate(self, now_ns: int, *, everything: bool = False) -> None:
        """Close this writer's files opened before now − ROTATE_NS (all with `everything`), so a sealer (here or in another
        process) can take them: a writer that receives nothing never reaches the rotation in `append`."""
        with self._lock:
            self._rotate(None if everything else now_ns - ROTATE_NS)

    def seal(self, now_ns: int, *, everything: bool = False, wait: bool = False) -> int:
        """Seal every hot file no live writer holds (this writer's own are rotated first); returns rows sealed. Another
        process sealing already: returns 0 at once unless `wait`."""
        self.rotate(now_ns, everything=everything)
        sealed = 0
        with self._seal_lock(wait) as locked:
            if not locked:
                return 0
            for stale in self.sealed.glob("date=*/hour=*/.part-*.tmp"):  # a sealer killed mid-write; only sealers (locked) write them
                stale.unlink(missing_ok=True)
            for hour, folder in sorted(partitions(self.hot).items()):
                sealed += self._seal_partition(hour, folder)
        return sealed

    def _seal_partition(self, hour: int, folder: Path) -> int:
        """Seal the partition's files no live writer holds. Rows of live files are read too, only to decide the first write
        of a key: a key a live file wrote earlier is left to that file (sealed with it later), so the first write wins even
        when a later duplicate's file is closed first. Rows appended after this read are later than every closed file's."""
        taken, live = [], []
        try:
            for path in sorted(folder.glob("*.arrows")):
                handle = open(path, "rb")  # noqa: SIM115 - held (locked) until the file is deleted
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a live writer's open file
                    handle.close()
                    live.append(path)
                    continue
                taken.append((path, handle))
            if not taken:
                return 0
            tables = []
            for path, take in [(path, True) for path, _ in taken] + [(path, False) for path in live]:
                table = read_hot_file(path)
                tables.append(table.append_column("_take", pa.array(np.full(table.num_rows, take))))
            rows = first_written(pa.concat_tables(tables))
            rows = self._not_sealed(rows.filter(rows.column("_take")).drop_columns(["_take"]))
            late = pc.greater_equal(pc.subtract(rows.column(WRITTEN), rows.column("ts").cast(pa.int64())), LATE_NS)
            for piece in (rows.filter(pc.invert(late)), rows.filter(late)):
                if piece.num_rows:
                    write_part(self.sealed / partition_name(hour), piece.select(list(TRADE_COLUMNS)).cast(TRADE_SCHEMA))
            for path, _ in taken:
                path.unlink()
            _fsync_dir(folder)
            return rows.num_rows
        finally:
            for _, handle in taken:
                handle.close()

    def drop_before(self, cutoff_ns: int) -> int:
        """Delete every hour folder (sealed and hot) that ends at or before the cutoff; returns the rows they held."""
        first_kept = cutoff_ns // HOUR_NS
        with self._lock:
            for hour in [h for h in self._open if h < first_kept]:
                self._open.pop(hour).close()
        dropped = 0
        with self._seal_lock(wait=True):
            for hour, folder in partitions(self.sealed).items():
                if hour < first_kept:
                    dropped += sum(part.rows for part in parts_in(folder))
                    shutil.rmtree(folder)
            for hour, folder in partitions(self.hot).items():
                if hour < first_kept:
                    hot = [read_hot_file(path) for path in folder.glob("*.arrows")]
                    dropped += first_written(pa.concat_tables(hot)).num_rows if hot else 0
                    shutil.rmtree(folder)
            for root in (self.sealed, self.hot):
                for day in root.glob("date=*") if root.is_dir() else []:
                    if not any(day.iterdir()):
                        day.rmdir()
        return dropped


def write_part(folder: Path, rows: pa.Table) -> Part:
    """Write rows (unique keys, trade schema) as one sorted zstd Parquet part; atomic: temp name, fsync, rename."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows.sort_by(SEAL_ORDER)
    lo, hi = _span(rows)
    path = folder / f"part-{lo}-{hi}-{rows.num_rows}-{uuid.uuid4().hex[:12]}.parquet"
    temp = folder / f".{path.name}.tmp"
    pq.write_table(rows, temp, **PARQUET_OPTIONS)
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.rename(temp, path)
    _fsync_dir(folder)
    return Part(path, lo, hi, rows.num_rows)
