"""Benchmark 2: ingest through real sockets — simulator process → TLS websockets → Recorder → embedded store.

The simulator (12 markets, 5,700 recorded symbols, `rate` trades/s per symbol offered) and the
recorder run as two processes on the same 2 cores. After every symbol is subscribed the simulator
resumes trading; after a warm-up, the trades delivered to the recorder's per-trade callback are
counted over a measurement window. Then trading pauses, the recorder drains and stops, and the
store's row count is compared with the trades the simulator actually wrote to its sockets.

Baseline: the same simulator and the same Recorder/feeds with a callback that only counts.
Both processes' CPU use is read from /proc over the same window, so the report says whether the
simulator or the recorder was the limit, and what one trade costs the recorder in CPU.
"""

from __future__ import annotations

from bench.common import median, summary
from bench.live import LiveSession

MODES = ("baseline", "pipeline")


def one(mode: str, rate: float, warmup: float, measure: float) -> dict:
    with LiveSession(mode, rate) as session:
        subscribe_s = session.wait_subscribed()
        connections = session.poll(wait=0.5) or {}
        session.resume()
        session.watch_for(warmup)
        sim_a = session.counts()
        a = session.samples[-1]
        session.watch_for(measure)
        sim_b = session.counts()
        b = session.samples[-1]
        window = [s for s in session.samples if a.at <= s.at <= b.at]
        session.pause()
        session.settle()
        sent_total = session.sent()
        final = session.stop_recorder()
    wall = b.at - a.at
    delivered = (b.trades - a.trades) / wall
    sent = (sum(sim_b["sent"].values()) - sum(sim_a["sent"].values())) / (sim_b["at"] - sim_a["at"])
    rec_cores = (b.recorder_cpu_s - a.recorder_cpu_s) / wall
    sim_cores = (b.sim_cpu_s - a.sim_cpu_s) / wall
    out = {
        "mode": mode, "subscribe_s": round(subscribe_s, 1), "connections": connections.get("connections"),
        "delivered_per_s": delivered, "sim_sent_per_s": sent, "recorder_cores": rec_cores, "sim_cores": sim_cores,
        "recorder_cpu_us_per_trade": rec_cores / delivered * 1e6 if delivered else None,
        "max_writer_backlog_batches": max((s.backlog for s in window), default=0),
        "sent_total": sent_total, "callback_total": final["trades"], "rss_mib": round(b.rss_kib / 1024, 1),
    }
    if mode == "pipeline":
        out.update(stored=final["stored"], lost=sent_total - final["stored"], rejected=final["rejected"],
                   rows_lost=final["rows_lost"], spooled=final["batches_spooled"], message_errors=final["message_errors"])
    else:
        out.update(lost=sent_total - final["trades"])
    return out


def run(quick: bool = False, repeats: int | None = None, rate: float = 20.0, log=print) -> dict:
    repeats = repeats or (2 if quick else 5)
    warmup, measure = (2.0, 5.0) if quick else (3.0, 10.0)
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for i in range(repeats):
        for mode in MODES:
            result = one(mode, rate, warmup, measure)
            runs[mode].append(result)
            log(f"[sockets] run {i + 1}/{repeats} {mode}: {result['delivered_per_s']:,.0f} trades/s delivered "
                f"(sim sent {result['sim_sent_per_s']:,.0f}/s), recorder {result['recorder_cores']:.2f} cores, "
                f"sim {result['sim_cores']:.2f} cores, lost {result['lost']}")
    base, pipe = runs["baseline"], runs["pipeline"]
    ratios = [p["delivered_per_s"] / b["delivered_per_s"] for p, b in zip(pipe, base, strict=True)]
    cpu_b = median(r["recorder_cpu_us_per_trade"] for r in base)
    cpu_p = median(r["recorder_cpu_us_per_trade"] for r in pipe)
    sim_cores = median(r["sim_cores"] for r in base + pipe)
    limit = ("simulator (its single process is CPU-bound at ~1 core)" if sim_cores > 0.85
             else "recorder" if median(r["recorder_cores"] for r in pipe) > 0.85 else "neither saturated")
    return {
        "symbols": 12 * 475, "offered_rate_per_symbol": rate, "offered_total_per_s": rate * 12 * 475,
        "warmup_s": warmup, "measure_s": measure, "repeats": repeats,
        "baseline_trades_per_s": summary([r["delivered_per_s"] for r in base], 0),
        "pipeline_trades_per_s": summary([r["delivered_per_s"] for r in pipe], 0),
        "ratio": summary(ratios, 3),
        "sim_sent_per_s": summary([r["sim_sent_per_s"] for r in base + pipe], 0),
        "sim_cores": round(sim_cores, 2),
        "recorder_cores_baseline": round(median(r["recorder_cores"] for r in base), 2),
        "recorder_cores_pipeline": round(median(r["recorder_cores"] for r in pipe), 2),
        "recorder_cpu_us_per_trade_baseline": round(cpu_b, 1),
        "recorder_cpu_us_per_trade_pipeline": round(cpu_p, 1),
        "cpu_cost_ratio": round(cpu_b / cpu_p, 3),
        "recorder_capacity_one_core_est_per_s": round(1e6 / cpu_p),
        "max_writer_backlog_batches": max(r["max_writer_backlog_batches"] for r in pipe),
        "limited_by": limit,
        "lost_total": sum(r["lost"] for r in pipe),
        "rejected_total": sum(r["rejected"] for r in pipe),
        "zero_loss": all(r["lost"] == 0 and r["rows_lost"] == 0 for r in pipe),
        "subscribe_s": summary([r["subscribe_s"] for r in base + pipe], 1),
        "targets": {"ratio_ge_0.8": median(ratios) >= 0.8, "zero_loss": all(r["lost"] == 0 and r["rows_lost"] == 0 for r in pipe)},
    }


def profile_live(out_dir, rate: float = 20.0, seconds: float = 10.0, log=print) -> dict | None:
    """py-spy on the recorder process while it ingests from the simulator (pipeline mode)."""
    from pathlib import Path

    from bench import profile

    if profile.py_spy() is None:
        log("[profile] py-spy not installed: skipping the live profile")
        return None
    raw = Path(out_dir) / "profile-live-recorder.txt"
    with LiveSession("pipeline", rate) as session:
        session.wait_subscribed()
        session.resume()
        session.watch_for(3.0)
        spy = profile.record(session.rec.pid, raw, duration=seconds)
        session.watch_for(seconds + 1.5)
        spy.wait(timeout=seconds + 30)
        session.pause()
        session.settle()
        session.stop_recorder()
    return profile.summarize(raw)
