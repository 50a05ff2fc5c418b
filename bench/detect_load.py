"""Benchmark 6: detection (publish → trigger) and /status under ingest load, in the real service.

The simulator process (12 markets, 5,700 symbols), the fake Upbit (a process of its own, as the
real one is remote: on the simulator's saturated loop its answers took up to 0.8 s) and a service
process (the real `Service`, as `pumpwatch run`: ingest loop, control loop with the Upbit watcher
and the scheduler, status thread, writer thread, embedded store) run side by side; the service records each trigger
instead of scheduling its extraction (benchmark 3 measures extraction). In one run and one service
process, two phases:

- idle: every symbol subscribed, the simulator paused (no trades);
- loaded: the simulator offering `rate` trades/s per symbol (after a 5 s ramp); the default 20 is more
  than its one process can send (~30k trades/s in all on 2 cores), i.e. the most this machine carries.

In each phase `notices` listing notices are published at a random moment of the poll cycle
(uniform over one interval + jitter after the previous trigger). Latency = publish (simulator
process) → the watcher's trigger callback (service process; one machine clock), split into the
wait for the next poll and the processing of the poll that found the notice (its start → trigger).
The promise: latency ≤ poll interval + 100 ms. Meanwhile the parent GETs /status every 0.5 s
(5 s timeout) and records how long each answer took, the ingest loop's stall and the markets'
receive lag that the answer reports.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request

from bench.common import summary
from bench.live import LiveSession, random_titles
from recorder.clock import MS

RAMP_S = 5.0


class _StatusProbe:
    """GET /status every `interval` s on a thread of the parent; each answer's time, or the failure, per phase."""

    def __init__(self, port: int, interval: float = 0.5, timeout: float = 5.0) -> None:
        self.url = f"http://127.0.0.1:{port}/status"
        self.interval = interval
        self.timeout = timeout
        self.phase = "idle"
        self.answers: dict[str, list[dict]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-probe", daemon=True)

    def __enter__(self) -> _StatusProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(self.timeout + 5)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            phase, start = self.phase, time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                    status = json.load(response)
            except OSError as exc:
                self.answers.setdefault(phase, []).append({"ms": (time.monotonic() - start) * 1000, "error": str(exc)})
                continue
            lags = [m["receive_lag_median_s"] for m in status["markets"].values() if m["receive_lag_median_s"] is not None]
            maxima = [m["receive_lag_max_s"] for m in status["markets"].values() if m["receive_lag_max_s"] is not None]
            self.answers.setdefault(phase, []).append({
                "ms": (time.monotonic() - start) * 1000, "stalled_s": status["service"]["ingest_loop_stalled_s"],
                "lag_median_s": max(lags, default=None), "lag_max_s": max(maxima, default=None),
            })

    def report(self, phase: str) -> dict:
        answers = self.answers.get(phase, [])
        ok = [a for a in answers if "error" not in a]
        return {
            "requests": len(answers), "failed": len(answers) - len(ok),
            "answer_ms": summary([a["ms"] for a in ok], 1),
            "ingest_loop_stalled_s_max": max((a["stalled_s"] for a in ok), default=None),
            "receive_lag_median_s_worst_market_max": max((a["lag_median_s"] for a in ok if a["lag_median_s"] is not None),
                                                         default=None),
            "receive_lag_max_s_max": max((a["lag_max_s"] for a in ok if a["lag_max_s"] is not None), default=None),
        }


def _phase(session: LiveSession, titles, n: int, interval: float, jitter: float, rng: random.Random, log) -> dict:
    rows = []
    for i in range(n):
        session.watch_for(rng.uniform(0, interval + jitter), interval=0.25)
        notice_id, published = session.publish(next(titles))
        deadline = time.monotonic() + 10 * (interval + jitter) + 10
        found = None
        while found is None and time.monotonic() < deadline:
            session.poll(wait=0.25)
            found = next((t for t in session.triggers if t[1] == notice_id), None)
        if found is None:
            raise RuntimeError(f"notice {notice_id} was not detected within {10 * (interval + jitter) + 10:.0f}s")
        detected, _, _, poll = found
        rows.append({"latency_ms": (detected - published) / MS, "wait_ms": max(0, poll - published) / MS,
                     "processing_ms": (detected - poll) / MS})
        if (i + 1) % 5 == 0:
            log(f"[detect_load]   {i + 1}/{n} notices")
    excess = [r["latency_ms"] - interval * 1000 for r in rows]
    return {
        "notices": n,
        "latency_ms": summary([r["latency_ms"] for r in rows], 1),
        "latency_minus_interval_ms": summary(excess, 1),
        "wait_for_poll_ms": summary([r["wait_ms"] for r in rows], 1),
        "processing_ms": summary([r["processing_ms"] for r in rows], 1),
        "within_interval_plus_100ms": max(excess) < 100,
    }


def _trades_per_s(session: LiveSession, since: float) -> float:
    loaded = [s for s in session.samples if s.at >= since]
    if len(loaded) < 2 or loaded[-1].at == loaded[0].at:
        return 0.0
    return (loaded[-1].trades - loaded[0].trades) / (loaded[-1].at - loaded[0].at)


def run(quick: bool = False, notices: int | None = None, rate: float = 20.0, log=print) -> dict:
    from recorder.config import Config

    n = notices or (5 if quick else 20)
    upbit = Config().upbit
    interval, jitter = upbit.poll_interval, upbit.poll_jitter
    rng = random.Random(3)
    titles = iter(random_titles(2 * n, seed=17))
    with LiveSession("service", rate, upbit_apart=True) as session:
        subscribe_s = session.wait_subscribed()
        if session.status_port is None:
            raise RuntimeError("the service reported no status port")
        with _StatusProbe(session.status_port) as probe:
            log(f"[detect_load] service subscribed in {subscribe_s:.1f}s; {n} notices idle ...")
            idle = _phase(session, titles, n, interval, jitter, rng, log)
            probe.phase = "ramp"
            load_start = session.resume()
            session.watch_for(RAMP_S)
            probe.phase = "loaded"
            measured_from = time.monotonic()
            log(f"[detect_load] {n} notices while ingesting ({rate:g} trades/s per symbol offered) ...")
            loaded = _phase(session, titles, n, interval, jitter, rng, log)
            trades_per_s = _trades_per_s(session, measured_from)
            backlog = max((s.backlog for s in session.samples if s.at >= load_start), default=0)
            probe.phase = "drain"
        session.pause()
        session.settle()
        sent_total = session.sent()
        final = session.stop_recorder()
    idle["status"], loaded["status"] = probe.report("idle"), probe.report("loaded")
    return {
        "poll_interval_s": interval, "poll_jitter_s": jitter, "offered_rate_per_symbol": rate,
        "trades_per_s_loaded": round(trades_per_s), "max_writer_backlog_batches": backlog,
        "stored": final["stored"], "sent": sent_total, "lost": sent_total - final["stored"],
        "idle": idle, "loaded": loaded,
        "targets": {
            "loaded_latency_within_interval_plus_100ms": loaded["within_interval_plus_100ms"],
            "idle_latency_within_interval_plus_100ms": idle["within_interval_plus_100ms"],
            "status_answered_within_1s_loaded": (loaded["status"]["failed"] == 0 and loaded["status"]["requests"] > 0
                                                 and loaded["status"]["answer_ms"]["max"] < 1000),
            "zero_loss": sent_total == final["stored"],
        },
    }
