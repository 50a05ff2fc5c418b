"""`python -m bench [--quick] [--only NAME[,NAME]]`: run the benchmarks, print a table, write bench/results/latest.json.

Names: ingest, sockets, extract, memory, detect, detect_load, store. See bench/README.md for what each measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from datetime import UTC, datetime

from bench.common import RESULTS, machine_info, quiet_logging

NAMES = ("ingest", "sockets", "extract", "memory", "detect", "detect_load", "store")


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 10:
        return f"{value:.2f}{unit}"
    return f"{value:,.0f}{unit}"


def _verdict(ok) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def table(results: dict) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []
    ing = results.get("ingest")
    if ing and "1proc" in ing:
        for layout, label, target, ok in (
            ("1proc", "1 ingest offline, 1 process", "ratio ≥ 0.70", ing["targets"]["1proc_ratio_ge_0.7"]),
            ("2proc", "1 ingest offline, 2 processes→1 file", "≥ 100,000/s", ing["targets"]["2proc_ge_100k_per_s"]),
            ("split", "1 ingest offline, parse|write split*", "≥ 100,000/s", ing["targets"]["split_prototype_ge_100k_per_s"]),
        ):
            r = ing[layout]
            rows.append((label, _fmt(r["pipeline_trades_per_s"]["median"], "/s"), _fmt(r["baseline_trades_per_s"]["median"], "/s"),
                         _fmt(r["ratio"]["median"]), target, _verdict(ok)))
            if "ratio_to_nostore" in r:
                rows.append(("1   same against the pipeline with a no-op store", _fmt(r["pipeline_trades_per_s"]["median"], "/s"),
                             _fmt(r["nostore_trades_per_s"]["median"], "/s"), _fmt(r["ratio_to_nostore"]["median"]),
                             "(the store's share)", "-"))
        rows.append(("1 ingest offline, loss (stored vs sent)", f"{ing['1proc']['lost_total'] + ing['2proc']['lost_total']} lost", "",
                     "", "0", _verdict(ing["targets"]["zero_loss"])))
    soc = results.get("sockets")
    if soc and "ratio" in soc:
        rows.append(("2 ingest via sockets (sim+recorder)", _fmt(soc["pipeline_trades_per_s"]["median"], "/s"),
                     _fmt(soc["baseline_trades_per_s"]["median"], "/s"), _fmt(soc["ratio"]["median"]), "ratio ≥ 0.80",
                     _verdict(soc["targets"]["ratio_ge_0.8"])))
        rows.append(("2   recorder CPU per trade", f"{soc['recorder_cpu_us_per_trade_pipeline']} µs",
                     f"{soc['recorder_cpu_us_per_trade_baseline']} µs", _fmt(soc["cpu_cost_ratio"]), "(info)", "-"))
        rows.append(("2   loss (stored vs sent)", f"{soc['lost_total']} lost", "", "", "0", _verdict(soc["targets"]["zero_loss"])))
    ext = results.get("extract")
    if ext and "extract_ms" in ext:
        rows.append((f"3 extract 100k-trade window, {ext['store']['trades'] / 1e6:.1f}M store",
                     f"{ext['extract_ms']['median']:,.0f} ms", f"{ext['read_window_ms']['median']:,.0f} ms (query)",
                     _fmt(ext["ratio_to_read_window"]), "< 300 ms", _verdict(ext["targets"]["extract_lt_300ms"])))
    mem = results.get("memory")
    if mem and "rss_idle_mib" in mem:
        rows.append(("4 recorder RSS idle / peak under load", f"{mem['rss_idle_mib']:.0f} / {mem['rss_peak_mib']:.0f} MiB", "", "",
                     "< 400 MiB", _verdict(mem["targets"]["rss_lt_400mib"])))
        span = f"{mem['duration_s'] / 60:.0f} min" if mem["duration_s"] >= 120 else f"{mem['duration_s']:.0f} s"
        rows.append((f"4 RSS growth over {span} of load", f"{mem['growth_pct']:+.1f} %",
                     f"{mem['slope_mib_per_min']:+.2f} MiB/min", "", "< 5 % (30 min)", _verdict(mem["targets"]["growth_lt_5pct"])))
    det = results.get("detect")
    if det and "latency_ms" in det:
        rows.append((f"5 detection, poll {det['poll_interval_s']:g}s ±{det['poll_jitter_s']:g}s: latency−interval",
                     f"med {det['latency_minus_interval_ms']['median']:,.0f} / max {det['latency_minus_interval_ms']['max']:,.0f} ms",
                     "", "", "max < 100 ms", _verdict(det["targets"]["max_latency_minus_interval_lt_100ms"])))
        rows.append(("5   worst case by design (longest wait + processing)", f"{det['worst_case_minus_interval_ms']:+,.0f} ms", "", "",
                     "< 100 ms", _verdict(det["targets"]["worst_case_by_design_lt_100ms"])))
        rows.append(("5   of which processing (poll→trigger)",
                     f"med {det['processing_ms']['median']:,.0f} / max {det['processing_ms']['max']:,.0f} ms", "", "", "< 100 ms",
                     _verdict(det["targets"]["processing_max_lt_100ms"])))
    dl = results.get("detect_load")
    if dl and "loaded" in dl:
        for phase, label in (("idle", "idle"), ("loaded", f"ingesting {dl['trades_per_s_loaded']:,}/s")):
            p = dl[phase]
            latency = p["latency_ms"]
            rows.append((f"6 service, {label}: publish→trigger", f"med {latency['median']:,.0f} / max {latency['max']:,.0f} ms",
                         "", "", f"≤ {dl['poll_interval_s']:g} s + 100 ms", _verdict(p["within_interval_plus_100ms"])))
            rows.append((f"6   {phase}: processing (poll→trigger)",
                         f"med {p['processing_ms']['median']:,.1f} / max {p['processing_ms']['max']:,.1f} ms", "", "", "(info)", "-"))
            st = p["status"]
            rows.append((f"6   {phase}: /status answer", f"med {st['answer_ms']['median']:,.0f} / max {st['answer_ms']['max']:,.0f} ms, "
                         f"{st['failed']} of {st['requests']} failed", "", "", "< 1 s" if phase == "loaded" else "(info)",
                         _verdict(dl["targets"]["status_answered_within_1s_loaded"]) if phase == "loaded" else "-"))
        rows.append(("6   loss while loaded (stored vs sent)", f"{dl['lost']} lost", "", "", "0", _verdict(dl["targets"]["zero_loss"])))
    rows += store_rows(results.get("store"))
    header = ("benchmark", "measured (median)", "baseline", "ratio", "target", "result")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if ing:
        lines.append("* prototype composed in bench/ingest.py (not the library's layout): see bench/README.md")
    return "\n".join(lines)


def store_rows(st: dict | None) -> list[tuple[str, str, str, str, str, str]]:
    """Benchmark 7's rows: the embedded store's files."""
    if not st or "targets" not in st:
        return []
    ok = st["targets"]
    rate = st["write_trades_rows_per_s"]
    return [
        (f"7 sealed size, simulator trades, {st['symbols']:,} symbols", f"{st['bytes_per_trade_sealed_one_hour']} B/trade", "", "",
         "≤ 40", _verdict(ok["bytes_per_trade_le_40"])),
        (f"7 write_trades 0 → {st['store_trades'] / 1e6:.1f}M rows: last quarter / first", _fmt(rate["median"], "/s"),
         f"{rate['min']:,.0f}–{rate['max']:,.0f}/s", _fmt(st["insert_rate_last_quarter_over_first"]), "flat (≥ 0.8)",
         _verdict(ok["insert_flat_within_20pct"])),
        (f"7 read_window 100k trades, {st['store_trades'] / 1e6:.1f}M store, hot", f"{st['window_hot_ms']['median']:,.0f} ms", "", "",
         "< 300 ms", _verdict(ok["window_hot_lt_300ms"])),
        ("7 same, sealed", f"{st['window_sealed_ms']['median']:,.0f} ms", "", "", "< 300 ms", _verdict(ok["window_sealed_lt_300ms"])),
        ("7 extract_event of that window, hot", f"{st['extract_event_hot_ms']['median']:,.0f} ms", "", "", "< 300 ms",
         _verdict(ok["extract_hot_lt_300ms"])),
        ("7 same, sealed", f"{st['extract_event_sealed_ms']['median']:,.0f} ms", "", "", "< 300 ms",
         _verdict(ok["extract_sealed_lt_300ms"])),
        ("7 retention: drop the oldest day", f"{st['retention_s'] * 1000:,.0f} ms ({st['retention_dropped_rows']:,} rows)", "", "",
         "< 1 s", _verdict(ok["retention_lt_1s"])),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller inputs, shorter runs (~4 min)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(NAMES)}")
    parser.add_argument("--repeats", type=int, help="repeats per measurement (default 5; --quick 2-3)")
    parser.add_argument("--memory-duration", type=float, help="seconds of load in the memory run (default 180; --quick 45; "
                                                               "the issue's soak is 1800)")
    parser.add_argument("--memory-rate", type=float, default=3.0, help="trades/s per symbol in the memory run (default 3)")
    parser.add_argument("--socket-rate", type=float, default=20.0, help="offered trades/s per symbol in the socket run (default 20)")
    parser.add_argument("--poll-interval", type=float, help="seconds: override upbit.poll_interval for the detection run (default: config)")
    parser.add_argument("--poll-jitter", type=float, help="seconds: override upbit.poll_jitter for the detection run (default: config)")
    parser.add_argument("--load-rate", type=float, default=20.0, help="trades/s per symbol offered while detection is measured under "
                                                                       "load (default 20: as much as the simulator can send)")
    parser.add_argument("--profile", action="store_true", help="also sample the ingest path with py-spy (offline and live)")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",")] if args.only else list(NAMES)
    unknown = [n for n in only if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {unknown}; known: {', '.join(NAMES)}")
    quiet_logging()
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS.parent.parent / args.output if not args.output.startswith("/") else args.output
    previous = {}
    try:
        with open(output) as fh:
            previous = json.load(fh)
    except (OSError, ValueError):
        pass
    results: dict = {"machine": machine_info(), "quick": args.quick, "argv": sys.argv[1:],
                     "benchmarks": {k: v for k, v in previous.get("benchmarks", {}).items() if k not in only}}

    def log(message: str) -> None:
        print(message, flush=True)

    def save() -> None:
        with open(output, "w") as fh:
            json.dump(results, fh, indent=2, default=str)

    started = time.monotonic()
    for name in only:
        t0 = time.monotonic()
        try:
            if name == "ingest":
                hook = None
                if args.profile:
                    from bench import profile

                    def hook(run_profiled):
                        if profile.py_spy() is None:
                            log("[profile] py-spy not installed: skipping the offline profile")
                            return
                        raw = RESULTS / "profile-offline-pipeline.txt"
                        spies = []
                        run_profiled(lambda pids: spies.extend(profile.record(pid, raw) for pid in pids) or time.sleep(1.0))
                        for spy in spies:
                            spy.wait(timeout=60)
                        # the main thread only inside `bench.ingest.replay`, not while it builds feeds and frames
                        summary = profile.summarize(raw, keep=lambda thread, frames: thread != "MainThread"
                                                    or any(f.startswith("replay (bench/ingest.py") for f in frames))
                        results.setdefault("profiles", {})["offline_pipeline_1proc"] = summary
                        log(profile.format_summary("[profile] offline replay, 1 process, pipeline", summary))

                from bench import ingest

                out = ingest.run(quick=args.quick, repeats=args.repeats, log=log, profile_hook=hook)
            elif name == "sockets":
                from bench import sockets

                out = sockets.run(quick=args.quick, repeats=args.repeats, rate=args.socket_rate, log=log)
                if args.profile:
                    from bench import profile

                    summary = sockets.profile_live(RESULTS, rate=args.socket_rate, log=log)
                    if summary:
                        results.setdefault("profiles", {})["live_recorder_pipeline"] = summary
                        log(profile.format_summary("[profile] live recorder (sockets), pipeline", summary))
            elif name == "extract":
                from bench import extract

                out = extract.run(quick=args.quick, repeats=args.repeats, log=log)
            elif name == "memory":
                from bench import memory

                duration = args.memory_duration or (45.0 if args.quick else 180.0)
                out = memory.run(duration_s=duration, rate=args.memory_rate, log=log)
            elif name == "store":
                from bench import store

                out = store.run(quick=args.quick, repeats=args.repeats, log=log)
            elif name == "detect":
                from bench import detect

                out = detect.run(quick=args.quick, poll_interval=args.poll_interval, poll_jitter=args.poll_jitter, log=log)
            else:
                from bench import detect_load

                out = detect_load.run(quick=args.quick, rate=args.load_rate, log=log)
        except Exception as exc:
            traceback.print_exc()
            out = {"error": f"{type(exc).__name__}: {exc}"}
        out["seconds"] = round(time.monotonic() - t0, 1)
        out["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        results["benchmarks"][name] = out
        save()
        log(f"[{name}] done in {out['seconds']:.0f}s")
    results["total_seconds"] = round(time.monotonic() - started, 1)
    save()
    print()
    print(f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, Python {results['machine']['python']}, "
          f"SQLite {results['machine']['sqlite']}, {results['machine']['date']}")
    print(table(results["benchmarks"]))
    print(f"\nresults: {output}  (total {results['total_seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
