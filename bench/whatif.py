"""`python -m bench.whatif`: the evidence behind the library changes proposed in bench/README.md.

Not part of `make bench`. Each measurement calls the library's own code on inputs that vary what a
proposal would change; nothing in the library is modified, and no copy of library code is kept here.

- feed hook: the per-message reply check (each exchange module's `read_reply`, the msgspec parse the
  feed hook runs on every frame under 4 KiB) on each of the replay's trade frames.

Its `sqlite` measurement (SQLite insert capacity with and without the (base, ts) index) went with the
SQLite trades table: the columnar store's insert capacity by store size is benchmark 7 (`bench/store.py`).

Earlier versions also compared a prototype `Normalizer` fast path and faster extraction steps; those
prototypes were copies of library code and were removed (their figures in bench/README.md are marked).
"""

from __future__ import annotations

import argparse
import json
import math
import time

from bench.common import RESULTS, SEED, SYNTHETIC, quiet_logging, universe_sync
from bench.frames import generate


def _best(fn, repeats: int = 5) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# --- feed hook -------------------------------------------------------------------------------------


def feed_hook() -> dict:
    from recorder.exchanges import EXCHANGES

    frames = generate(universe_sync(SYNTHETIC, seed=SEED), 30_000, symbols=SYNTHETIC, seed=SEED)
    out = {}
    for name, exchange in EXCHANGES.items():
        key = f"{name}.spot"
        msgs = [text for k, _, text in frames.items if k == key]

        def parse(msgs=msgs, read=exchange.read_reply):
            return [read(m) for m in msgs]

        assert not any(reply is not None and (reply.rejected or reply.pong) for reply in parse()), f"{key}: a trade frame read as a reply"
        out[key] = {"parse_us": round(_best(parse) / len(msgs) * 1e6, 3)}
    return out


MEASUREMENTS = ("feed_hook",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__)
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(MEASUREMENTS)
    unknown = [name for name in names if name not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement {unknown}; known: {', '.join(MEASUREMENTS)}")
    quiet_logging()
    results = {}
    for name in names:
        results[name] = feed_hook()
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "whatif.json"
    try:
        merged = json.loads(path.read_text())
    except (OSError, ValueError):
        merged = {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
