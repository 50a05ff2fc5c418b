"""One process per data directory: `run` and `record` hold an exclusive lock on `<data_dir>/pumpwatch.lock`.

Two processes on one data directory would share its store, its spool (each replaying the other's
batches) and, for `run`, the watcher's notices. The lock is `flock`, so the kernel releases it
when the holder dies, even by `kill -9`: a stale lock file never blocks a restart. The file holds
the holder's pid, for the refusal to name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "pumpwatch.lock"


class DataDirBusy(Exception):
    """Another process holds the data directory; the message names it and what to do."""


class DataDirLock:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirBusy naming the holder's pid."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise DataDirBusy(f"{self.directory} is in use by pumpwatch process {holder or '(pid not written yet)'} "
                              f"(lock {self.path}); stop it, or give this one another data_dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let go (the file stays: removing it would race with a process about to lock it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
