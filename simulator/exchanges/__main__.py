"""`python -m simulator.exchanges --symbols 50 --rate 2`: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from recorder.markets import BY_KEY
from simulator.exchanges.simulator import ExchangeSimulator

TRUTH_LIMIT = 100_000
"""per market: a long demo run keeps only the latest records."""


async def serve(markets: list[str] | None, symbols: int, rate: float, seed: int) -> None:
    async with ExchangeSimulator(markets, symbols, rate, seed, truth_limit=TRUTH_LIMIT) as sim:
        for key in sim.markets:
            ws, rest = sim.endpoint(key)
            print(f"{key:16} {ws:28} {rest}")
        print(f"CA certificate: {sim.ca_file}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator.exchanges", description=__doc__)
    parser.add_argument("--symbols", type=int, default=20, help="synthetic coins per market (plus 4 fixed ones)")
    parser.add_argument("--rate", type=float, default=1.0, help="trades per second per symbol")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markets", help=f"comma-separated subset of: {', '.join(BY_KEY)}")
    args = parser.parse_args()
    markets = args.markets.split(",") if args.markets else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(markets, args.symbols, args.rate, args.seed))


if __name__ == "__main__":
    main()
