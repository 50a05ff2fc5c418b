"""A bounded on-disk spool of batches the store could not take yet, replayed oldest first.

Each file is named after its sink and written in the sink's format (trades Arrow IPC, other rows
JSON: `recorder.sinks`); each file is written to a temporary name and renamed,
so a crash never leaves a half batch to replay. A replayed file is deleted only after the store
accepted it; the store's dedup key makes a replay after a crash harmless.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from recorder.sinks import BY_NAME, Sink

LOG = logging.getLogger(__name__)


class SpoolFull(Exception):
    """The spool reached its byte limit; the caller must say so loudly (this is data at risk)."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 10 * 1024**3) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):
            stale.unlink()
        existing = self.files()
        self._next = int(existing[-1].name.split(".")[0]) + 1 if existing else 0
        self._bytes = sum(path.stat().st_size for path in existing)
        self._count = len(existing)
        self._lock = threading.Lock()
        """the writer and the spiller thread both put; the counters stay exact"""

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.suffix in (".arrow", ".json"))

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        """Files waiting, counted in memory: the writer asks before every batch, so no directory listing here."""
        return self._count

    def put(self, sink: Sink, rows: list) -> Path:
        if self._bytes >= self.max_bytes:
            raise SpoolFull(f"spool {self.directory} holds {self._bytes} bytes (limit {self.max_bytes})")
        with self._lock:
            path = self.directory / f"{self._next:012d}.{sink.name}.{sink.suffix}"
            self._next += 1
        tmp = path.with_name(path.name + ".tmp")
        sink.dump(rows, tmp)
        os.replace(tmp, path)
        with self._lock:
            self._bytes += path.stat().st_size
            self._count += 1
        return path

    def read(self, path: Path) -> tuple[Sink, list]:
        """The file's sink and rows; a KeyError for a file of no known sink (the writer sets it aside)."""
        sink = BY_NAME[path.name.split(".")[1]]
        return sink, sink.load(path)

    def set_aside(self, path: Path) -> None:
        """Keep an unreadable file for a human (`.bad`), out of the replay."""
        size = path.stat().st_size
        path.rename(path.with_name(path.name + ".bad"))
        with self._lock:
            self._bytes -= size
            self._count -= 1

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        with self._lock:
            self._bytes -= size
            self._count -= 1
