"""`--profile`: sample the ingest path with py-spy (when installed) and sum the samples by stage.

py-spy attaches to the running worker (offline replay) or recorder (live sockets) process and
records raw collapsed stacks of the main thread and the store-writer thread; each sample is
attributed to the innermost stage it is in (a cryptofeed parser frame inside our feed hook counts
as cryptofeed parsing, a `recorder/normalize.py` frame as the normalizer, …).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("sqlite insert+commit (store-writer thread)", ("recorder/store/embedded.py",)),
    ("spool (writer thread)", ("recorder/spool.py",)),
    ("writer hand-off (StoreWriter.add)", ("StoreWriter.add",)),
    ("normalizer (Normalizer.normalize)", ("recorder/normalize.py",)),
    ("recorder per-trade callback (TradePath.on_trade)", ("recorder/trade_path.py",)),
    ("cryptofeed json.loads", ("cryptofeed/_json.py",)),
    ("cryptofeed trade parsing + Trade objects", ("cryptofeed/exchanges/", "cryptofeed/exchange.py", "cryptofeed/feed.py",
                                                  "cryptofeed/types")),
    ("recorder feed hooks (rejection/pong checks)", ("recorder/feeds/", "recorder/exchanges/")),
    ("websockets frames + permessage-deflate", ("websockets/",)),
    ("TLS + asyncio transport", ("asyncio/sslproto.py", "ssl.py", "asyncio/selector_events.py")),
    ("cryptofeed connection loop", ("cryptofeed/connection",)),
    ("bench replay loop", ("bench/ingest.py",)),
    ("asyncio event loop", ("asyncio/",)),
]


def py_spy() -> str | None:
    found = shutil.which("py-spy") or (str(Path(sys.prefix) / "bin" / "py-spy") if (Path(sys.prefix) / "bin" / "py-spy").exists() else None)
    return found


def record(pid: int, out: Path, duration: float | None = None, rate: int = 200) -> subprocess.Popen:
    """Start py-spy on `pid` (raw collapsed stacks, thread names kept); wait on the returned process."""
    command = [py_spy() or "py-spy", "record", "--pid", str(pid), "--threads", "--rate", str(rate), "--format", "raw",
               "--output", str(out), "--nonblocking"]
    if duration:
        command += ["--duration", str(int(duration))]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, keys in STAGES:
            if any(key in frame for key in keys):
                return name
    return "other"


def summarize(path: Path, keep=None, top: int = 12) -> dict:
    """Samples per thread and stage, and the top leaf functions; `keep(frames)` filters samples (e.g. replay only)."""
    stages: Counter[tuple[str, str]] = Counter()
    leaves: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        parts = stack.split(";")
        thread = next((p.split(":", 1)[-1].strip() for p in parts if p.startswith("thread")), "?")
        frames = [p for p in parts if not p.startswith(("thread", "process"))]
        if thread not in ("MainThread", "store-writer") or (keep is not None and not keep(thread, frames)):
            continue
        total += n
        threads[thread] += n
        stages[(thread, stage_of(frames))] += n
        if frames:
            leaves[frames[-1]] += n
    return {
        "samples": total,
        "threads": {t: round(100 * n / total, 1) for t, n in threads.most_common()} if total else {},
        "stages_pct": [{"thread": t, "stage": s, "pct": round(100 * n / total, 1)} for (t, s), n in stages.most_common()] if total else [],
        "top_leaves_pct": [{"function": f, "pct": round(100 * n / total, 1)} for f, n in leaves.most_common(top)] if total else [],
    }


def format_summary(title: str, summary: dict) -> str:
    lines = [f"{title}: {summary['samples']} samples; threads: " + ", ".join(f"{t} {p}%" for t, p in summary["threads"].items())]
    for row in summary["stages_pct"]:
        if row["pct"] >= 0.5:
            lines.append(f"  {row['pct']:5.1f}%  {row['thread']:13s} {row['stage']}")
    lines.append("  top functions (self):")
    for row in summary["top_leaves_pct"]:
        lines.append(f"  {row['pct']:5.1f}%  {row['function']}")
    return "\n".join(lines)
