"""Read a listing's window from the store and write its event folder: the CLI and the service share this."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from extractor.coverage import verdict
from extractor.event_folder import folder_name, write_event
from extractor.timeparse import iso_kst
from recorder import __version__
from recorder.clock import MS, S, iso_utc
from recorder.config import Config
from recorder.markets import MARKETS
from recorder.store.base import Store

PRIOR_LOOKBACK_NS = 600 * S
"""how far before the window to look for a market's last trade (the reference price when the window has none)"""
STORE_CATCH_UP_S = 30.0
"""how long extraction waits for the store to make accepted writes readable (QuestDB applies its WAL asynchronously)"""
LOG = logging.getLogger(__name__)


class NothingRecorded(Exception):
    """No recorded market carried an instrument of the coin during the window: most likely a mistyped or unknown coin."""


@dataclass(frozen=True)
class EventRequest:
    coin: str
    announced_ns: int
    before_s: float
    after_s: float
    detected_ns: int | None = None
    notice_id: int | None = None
    title: str | None = None
    url: str | None = None

    @property
    def start_ns(self) -> int:
        return self.announced_ns - round(self.before_s * S)

    @property
    def end_ns(self) -> int:
        return self.announced_ns + round(self.after_s * S)


Factors = dict[tuple[str, str, str], dict]


def universe_factors(universe) -> Factors:
    """Conversion factors per (exchange, market, symbol) of a universe."""
    return {
        (i.exchange, i.market, i.symbol): {"price_factor": i.price_factor, "amount_factor": i.amount_factor, "multiplier": i.multiplier}
        for instruments in universe.markets.values()
        for i in instruments
    }


def _factors(config: Config) -> Factors:
    """Factors from the generated universe file, when there is one (the service passes its own instead)."""
    path = Path(config.recorder.symbols_file)
    if not path.exists():
        return {}
    from recorder.universe import UniverseFileError, read_symbols_yaml

    try:
        return universe_factors(read_symbols_yaml(path))
    except (UniverseFileError, OSError):
        return {}


def market_summaries(store: Store, request: EventRequest, trades: pa.Table, heartbeat_s: float, factors: dict) -> list[dict]:
    heartbeat_ns = round(heartbeat_s * S)
    margin = 3 * heartbeat_ns
    prior = store.read_window(request.coin, request.start_ns - PRIOR_LOOKBACK_NS, request.start_ns)
    out = []
    for spec in MARKETS:
        mask = pc.and_(pc.equal(trades.column("exchange"), spec.exchange), pc.equal(trades.column("market"), spec.market))
        part = trades.filter(mask)
        rows = store.read_coverage(spec.exchange, spec.market, request.start_ns - margin, request.end_ns + margin)
        gaps = store.read_gaps(request.start_ns, request.end_ns, spec.exchange, spec.market)
        judged = verdict(request.coin, request.start_ns, request.end_ns, rows, gaps, heartbeat_ns, iso_utc)
        traded = sorted(set(part.column("symbol").to_pylist()))
        instruments = sorted(set(judged.instruments) | set(traded))
        ts = part.column("ts").cast(pa.int64())
        if judged.verdict in ("not_connected", "not_listed") and part.num_rows:
            judged.verdict = "gap"
            judged.gaps.append({"kind": "coverage_missing", "status": "open",
                                "note": "trades are stored but the coverage rows for this window are missing"})
        before = prior.filter(pc.and_(pc.equal(prior.column("exchange"), spec.exchange), pc.equal(prior.column("market"), spec.market)))
        last_before = None
        if before.num_rows:
            last_before = {"ts": iso_utc(before.column("ts").cast(pa.int64())[-1].as_py()), "price": before.column("price")[-1].as_py()}
        out.append({
            "exchange": spec.exchange,
            "market": spec.market,
            "instruments": instruments,
            "trades": part.num_rows,
            "first_trade": iso_utc(pc.min(ts).as_py()) if part.num_rows else None,
            "last_trade": iso_utc(pc.max(ts).as_py()) if part.num_rows else None,
            "notional": float(pc.sum(part.column("notional")).as_py() or 0.0),
            "factors": {s: factors[(spec.exchange, spec.market, s)] for s in instruments if (spec.exchange, spec.market, s) in factors},
            "last_trade_before_window": last_before,
            "coverage": {"verdict": judged.verdict, "gaps": judged.gaps, "recorded_by": judged.processes},
        })
    return out


def extract_event(store: Store, config: Config, request: EventRequest, out_dir: Path | None = None, *, force: bool = False,
                  factors: Factors | None = None, allow_empty: bool = True) -> Path:
    """Write the event folder for `request` and return its path (`factors`: the caller's universe, else the file's).

    When no recorded market carried an instrument of the coin in the window, `allow_empty=False`
    (the CLI) raises NothingRecorded before anything is written; the default (the service, whose
    triggers are Upbit's own coins) writes the event anyway, its verdicts being the record of what
    was not recorded, and logs a warning.
    """
    caught_up = store.wait_visible(STORE_CATCH_UP_S)
    if not caught_up:
        LOG.warning("%s: the store had not applied every accepted write after %.0f s; the event may miss trades "
                    "(metadata.json: store_caught_up false)", request.coin, STORE_CATCH_UP_S)
    trades = store.read_window(request.coin, request.start_ns, request.end_ns)
    factors = factors if factors is not None else _factors(config)
    markets = market_summaries(store, request, trades, config.recorder.coverage_heartbeat, factors)
    if not any(m["instruments"] for m in markets):
        span = f"between {iso_kst(request.start_ns)} and {iso_kst(request.end_ns)}"
        if any(m["coverage"]["verdict"] != "not_connected" for m in markets):
            message = f"no recorded market carried an instrument of {request.coin} {span} (check the ticker)"
        else:
            message = f"no market was being recorded {span} (was the recorder running?)"
        if not allow_empty:
            raise NothingRecorded(message)
        LOG.warning("%s: %s; its event folder has no trades", request.coin, message)
    now = time.time_ns()
    metadata = {
        "coin": request.coin,
        "announced_at": iso_utc(request.announced_ns),
        "announced_at_kst": iso_kst(request.announced_ns),
        "detected_at": iso_utc(request.detected_ns) if request.detected_ns else None,
        "detection_latency_ms": (request.detected_ns - request.announced_ns) // MS if request.detected_ns else None,
        "notice_id": request.notice_id,
        "title": request.title,
        "url": request.url,
        "window": {
            "start": iso_utc(request.start_ns),
            "end": iso_utc(request.end_ns),
            "before_s": request.before_s,
            "after_s": request.after_s,
            "bounds": "[start, end): start inclusive, end exclusive",
        },
        "trades": trades.num_rows,
        "store": store.kind,
        "store_caught_up": caught_up,
        "software": {"name": "pumpwatch", "version": __version__},
        "extracted_at": iso_utc(now),
        "extracted_by": socket.gethostname(),
        "request": asdict(request),
        "markets": markets,
    }
    return write_event(out_dir or config.events_path, folder_name(request.coin, request.announced_ns), trades, metadata, force=force)
