"""Sealing in a child process, so the recording process never holds a seal's peak.

A seal reads a minute of hot files (the live ones too, for first-write order), deduplicates, sorts and compresses
them: in the 30-minute soak with sealing on a thread of the service, RSS jumped by 250–500 MiB every minute and what the
allocators kept of those peaks raised the floor from 300 to 520 MiB. A child gives everything back when it exits, and
its CPU is off the ingest loop's GIL. It costs an interpreter start a minute (about 0.5 s of one core).

`python -m recorder.store.sealer SEALED HOT LOCK` seals what no live writer holds and prints the rows it sealed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from recorder.store.base import StoreError
from recorder.store.columnar import TradeFiles

SEAL_TIMEOUT_S = 600.0
"""a seal takes seconds; one this slow is stuck (a hung disk) and is stopped, its hot files left for the next"""


def seal_in_child(files: TradeFiles, timeout_s: float = SEAL_TIMEOUT_S) -> int:
    """Run one seal of `files`' store in a child process; rows sealed, or StoreError naming what went wrong."""
    # -P: the working directory is not put on the path, so a folder named `recorder` there cannot stand in for this package
    command = [sys.executable, "-P", "-m", "recorder.store.sealer", str(files.sealed), str(files.hot), str(files.lock_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise StoreError(f"sealing {files.hot} took over {timeout_s:.0f} s and was stopped; its files stay hot") from None
    lines = done.stdout.split()
    if done.returncode != 0 or not lines or not lines[-1].isdigit():
        problem = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise StoreError(f"sealing {files.hot} failed: {problem}")
    return int(lines[-1])


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m recorder.store.sealer SEALED_DIR HOT_DIR LOCK_FILE", file=sys.stderr)
        return 2
    sealed, hot, lock = (Path(arg) for arg in argv)
    print(TradeFiles(sealed, hot, lock).seal(time.time_ns()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
