"""`make soak` (`python -m bench.soak --duration 30m`): the service as users run it, for a long time, with trouble.

The simulator (12 markets, 475 recorded symbols each: 5,700) trades steadily in one process; the
real service (`python -m pumpwatch run`, embedded store) records it in another. During the run:

- a reconnect storm every `--storm-every`: every market's sockets closed, upgrades refused for 3 s;
- a store outage of `--outage` at 20 % and again at 70 % of the run: another process holds SQLite's
  write lock (`BEGIN EXCLUSIVE`), as a backup tool would, so coverage and gap writes fail and trades
  spool behind them (the writer keeps order through the spool while it is not empty). The first falls
  in the warm-up, the second in the measured part, so RSS growth after warm-up says whether troubles
  already seen once keep costing memory;
- a universe change every `--churn-every`: Upbit lists ten more coins in KRW (they leave the
  universe at the next refresh and are unsubscribed live) and the previous ten return (subscribed
  again). The service refreshes its universe every 60 s.

Every 5 s it samples the service's own figures from /status (RSS, open files, threads, asyncio
tasks on the ingest loop, spool), the SQLite WAL size, and how long /status took. At the end the
simulator pauses, the service drains and stops with SIGTERM, and stored trades are counted
against the trades the simulator sent. Writes `bench/results/soak-<time>.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench.common import KRW_COINS, RESULTS, SEED, SYMBOLS_PER_MARKET, SYNTHETIC, machine_info, median
from bench.live import SimulatorEndpoints, simulator_main
from recorder.config import parse_duration
from simulator.wiring import merge, simulator_overrides

CHURN_COINS = 10
STORM_REFUSE_S = 3.0
REFRESH = "60s"
SAMPLE_S = 5.0
OUTAGE_AT = (0.2, 0.7)
"""store outages, as shares of the run: one inside the warm-up, one after it"""


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.duration = parse_duration(args.duration)
        self.dir = Path(tempfile.mkdtemp(prefix="pumpwatch-soak-"))
        self.samples: list[dict] = []
        self.events: list[dict] = []
        self.churned: list[str] = []

    # --- the two processes -------------------------------------------------------------------
    def start(self) -> None:
        ctx = mp.get_context("spawn")
        self.sim_pipe, child = ctx.Pipe()
        self.sim = ctx.Process(target=simulator_main, args=(child, SYNTHETIC, self.args.rate, SEED), name="soak-sim")
        self.sim.start()
        if not self.sim_pipe.poll(120):
            raise RuntimeError("the simulator did not start")
        info = self.sim_pipe.recv()
        self.port = _free_port()
        raw = {"data_dir": str(self.dir / "data"), "recorder": {"symbols_file": str(self.dir / "symbols.yaml"),
                                                                 "refresh_interval": REFRESH, "listed_tail": "0s"},
               "service": {"log_dir": str(self.dir / "logs"), "status_port": self.port}}
        raw = merge(raw, simulator_overrides(SimulatorEndpoints(info["endpoints"], info["ca_file"]), info["upbit"]))
        config = self.dir / "soak.yaml"
        config.write_text(yaml.safe_dump(raw))
        self.service = subprocess.Popen([sys.executable, "-m", "pumpwatch", "run", "--config", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.store = self.dir / "data" / "pumpwatch.sqlite"

    def sim_call(self, command: str, arg=None):
        self.sim_pipe.send((command, arg))
        return self.sim_pipe.recv()

    def status(self, timeout: float = 10.0) -> tuple[dict | None, float]:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=timeout) as response:
                return json.load(response), time.monotonic() - started
        except OSError:
            return None, time.monotonic() - started

    def wait_subscribed(self, timeout: float = 300.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            snapshot, _ = self.status()
            markets = (snapshot or {}).get("markets", {})
            if len(markets) == 12 and all(m["listed"] and m["symbols"] >= m["listed"] for m in markets.values()):
                return time.monotonic() - started
            time.sleep(1.0)
        raise RuntimeError(f"the service did not subscribe every symbol in {timeout:.0f} s")

    # --- trouble -----------------------------------------------------------------------------
    def storm(self) -> None:
        self.sim_call("disconnect", STORM_REFUSE_S)
        self.events.append({"at_s": self.elapsed(), "event": "reconnect storm"})

    def churn(self, round_: int) -> None:
        """Ten synthetic coins go to Upbit KRW (and leave the universe); the previous ten come back."""
        first = 100 + (round_ % 20) * CHURN_COINS
        self.churned = [f"C{n:04d}" for n in range(first, first + CHURN_COINS)]
        self.sim_call("krw", [*KRW_COINS, *self.churned])
        self.events.append({"at_s": self.elapsed(), "event": "universe change", "krw_added": self.churned})

    def outage(self, seconds: float) -> threading.Thread:
        def hold() -> None:
            conn = sqlite3.connect(self.store, timeout=60, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            conn.close()

        self.events.append({"at_s": self.elapsed(), "event": f"store outage {seconds:.0f} s (BEGIN EXCLUSIVE)"})
        thread = threading.Thread(target=hold, name="soak-outage")
        thread.start()
        return thread

    # --- the run -----------------------------------------------------------------------------
    def warmup_s(self) -> float:
        """Up to a minute after the second reconnect storm: one of each trouble (storm, universe change, store
        outage) has passed by then, so the pools Python and glibc keep have their working size."""
        return min(2 * parse_duration(self.args.storm_every) + 60.0, self.duration / 2)

    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def sample(self) -> None:
        snapshot, took = self.status()
        wal = self.store.with_name(self.store.name + "-wal")
        row = {"at_s": self.elapsed(), "status_s": round(took, 3), "answered": snapshot is not None,
               "wal_bytes": wal.stat().st_size if wal.exists() else 0}
        if snapshot is not None:
            process, writer = snapshot.get("process", {}), snapshot.get("writer", {})
            row.update(rss_mib=round(process.get("rss_bytes", 0) / 2**20, 1), arrow_mib=round(process.get("arrow_bytes", 0) / 2**20, 1),
                       open_fds=process.get("open_fds"),
                       threads=process.get("threads"), tasks=process.get("ingest_loop_tasks"),
                       spool_bytes=writer.get("spool_bytes"), rows_written=writer.get("rows_written"),
                       queued_rows=writer.get("queued_rows"),
                       store_ok=writer.get("store_ok"), rows_lost=writer.get("rows_lost"),
                       trades=sum(m["trades_total"] for m in snapshot["markets"].values()),
                       symbols=sum(m["symbols"] for m in snapshot["markets"].values()))
        self.samples.append(row)

    def run(self) -> dict:
        self.start()
        try:
            subscribe_s = self.wait_subscribed()
            self.t0 = time.monotonic()
            self.sim_call("resume")
            storm_every, churn_every = parse_duration(self.args.storm_every), parse_duration(self.args.churn_every)
            outages_at, outage_s = [OUTAGE_AT[0] * self.duration, OUTAGE_AT[1] * self.duration], parse_duration(self.args.outage)
            next_storm, next_churn, rounds, outages = storm_every, churn_every, 0, []
            while (now := time.monotonic() - self.t0) < self.duration:
                if now >= next_storm:
                    self.storm()
                    next_storm += storm_every
                if now >= next_churn:
                    self.churn(rounds)
                    rounds += 1
                    next_churn += churn_every
                if outages_at and now >= outages_at[0]:
                    outages_at.pop(0)
                    outages.append(self.outage(outage_s))
                self.sample()
                time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - self.t0 - now)))
            for outage in outages:
                outage.join()
            return self.finish(subscribe_s)
        finally:
            self.close()

    def finish(self, subscribe_s: float) -> dict:
        self.sim_call("pause")
        subscribed = self.churn_applied(timeout=parse_duration(REFRESH) + 60)
        drained = self.drain()
        counts = self.sim_call("counts")
        self.service.send_signal(signal.SIGTERM)
        exit_code = self.service.wait(timeout=180)
        from recorder.store.embedded import EmbeddedStore
        from recorder.store.query import connect

        store = EmbeddedStore(self.store, create=False)
        try:
            [(stored, duplicates)] = connect(store).sql(
                "SELECT count(*), count(*) - count(DISTINCT exchange || market || symbol || trade_id) FROM trades").fetchall()
        finally:
            store.close()
        return self.report(subscribe_s, subscribed, drained, counts, exit_code, stored, duplicates)

    def churn_applied(self, timeout: float) -> dict[str, list[str]]:
        """The simulator's subscribed bases per market once the last universe change is applied (or at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            subscribed = self.sim_call("subscribed")
            if time.monotonic() > deadline or not any(set(bases) & set(self.churned) for bases in subscribed.values()):
                return subscribed
            time.sleep(2.0)

    def drain(self, timeout: float = 300.0) -> bool:
        """After the pause: wait until the service has written everything it received and its spool is empty."""
        deadline, last, steady_since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            snapshot, _ = self.status()
            if snapshot is not None:  # coverage heartbeats keep rows_written moving: trades and the queues decide
                writer = snapshot["writer"]
                state = (sum(m["trades_total"] for m in snapshot["markets"].values()), writer["spool_files"], writer["queued_rows"])
                if state != last:
                    last, steady_since = state, time.monotonic()
                elif not state[1] and not state[2] and time.monotonic() - steady_since >= 5.0:
                    return True
            time.sleep(1.0)
        return False

    def report(self, subscribe_s, subscribed, drained, counts, exit_code, stored, duplicates) -> dict:
        answered = [s for s in self.samples if s["answered"]]
        warm = [s for s in answered if s["at_s"] >= self.warmup_s()]
        head, tail = warm[:6], warm[-6:]

        def flat(name: str) -> dict:
            start, end = median(s[name] for s in head), median(s[name] for s in tail)
            return {"after_warmup": start, "end": end, "max": max(s[name] for s in answered),
                    "growth_pct": round((end - start) / start * 100, 2) if start else None}

        leftover = {key: sorted(set(bases) & set(self.churned)) for key, bases in subscribed.items()}
        sent = sum(counts["sent"].values())
        result = {
            "machine": machine_info(),
            "duration_s": self.duration, "warmup_s": self.warmup_s(), "offered_rate_per_symbol": self.args.rate,
            "symbols": 12 * SYMBOLS_PER_MARKET,
            "subscribe_s": round(subscribe_s, 1),
            "trades_per_s": round(answered[-1]["trades"] / answered[-1]["at_s"]) if answered else None,
            "events": self.events,
            "rss_mib": flat("rss_mib"), "open_fds": flat("open_fds"), "threads": flat("threads"), "ingest_loop_tasks": flat("tasks"),
            "wal_bytes_max": max(s["wal_bytes"] for s in self.samples), "spool_bytes_max": max(s["spool_bytes"] or 0 for s in answered),
            "status_s": {"median": median(s["status_s"] for s in self.samples), "max": max(s["status_s"] for s in self.samples),
                         "unanswered": len(self.samples) - len(answered)},
            "store_outage_seen": any(s.get("store_ok") is False for s in answered),
            "drained": drained, "exit_code": exit_code,
            "sent": sent, "generated": sum(counts["generated"].values()), "stored": stored, "duplicates": duplicates,
            "lost": max(0, sent - stored), "rows_lost": answered[-1]["rows_lost"] if answered else None,
            "churned_still_subscribed": {k: v for k, v in leftover.items() if v},
            "samples": self.samples,
        }
        rss = result["rss_mib"]["growth_pct"]
        result["targets"] = {
            "zero_loss": stored >= sent and duplicates == 0 and result["rows_lost"] == 0,
            "rss_growth_lt_5pct": rss is not None and rss < 5.0,
            "fds_flat": result["open_fds"]["end"] <= result["open_fds"]["after_warmup"] + 5,
            "threads_flat": result["threads"]["end"] <= result["threads"]["after_warmup"],
            "tasks_flat": result["ingest_loop_tasks"]["end"] <= result["ingest_loop_tasks"]["after_warmup"] + 5,
            "unsubscribed_live": not result["churned_still_subscribed"],
            "clean_exit": exit_code == 0,
        }
        return result

    def close(self) -> None:
        if getattr(self, "service", None) is not None and self.service.poll() is None:
            self.service.kill()
            self.service.wait(10)
        with contextlib.suppress(Exception):
            self.sim_pipe.send(("stop", None))
            self.sim_pipe.poll(30)
        if getattr(self, "sim", None) is not None:
            self.sim.join(30)
            if self.sim.is_alive():
                self.sim.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="30m", help="how long the simulator trades [30m]")
    parser.add_argument("--rate", type=float, default=1.0, help="trades per second per symbol [1.0: about 5,700/s]")
    parser.add_argument("--storm-every", default="5m", help="reconnect storm interval [5m]")
    parser.add_argument("--churn-every", default="4m", help="universe change interval [4m]")
    parser.add_argument("--outage", default="45s", help="the store outage [45s]")
    args = parser.parse_args()
    for name in ("duration", "storm_every", "churn_every", "outage"):
        try:
            parse_duration(getattr(args, name))
        except ValueError as exc:
            parser.error(f"--{name.replace('_', '-')}: {exc}")
    result = Soak(args).run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k not in ("samples", "machine", "events")}
    print(json.dumps(summary, indent=2))
    print(f"written: {out}")
    sys.exit(0 if all(result["targets"].values()) else 1)


if __name__ == "__main__":
    main()
