"""Every event folder under an events directory, read tolerantly into one line each.

The research commands (`events`, `report`, `analyze --all`) walk folders written by any PumpWatch
version, and some are broken (a crash mid-analysis, a hand-edited file, an older layout). A folder
is never a reason to stop: it is listed with a status that names what is wrong with it.
Statuses: `analysed` (analysis.json readable), `extracted` (metadata and trades, no analysis yet),
`failed` (the problem says why).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.event import kst_label, parse_time_ns

ANALYSED, EXTRACTED, FAILED = "analysed", "extracted", "failed"


@dataclass(frozen=True)
class EventEntry:
    """One event folder as the research commands see it."""

    path: Path
    status: str
    problem: str | None = None
    coin: str | None = None
    announced_ns: int | None = None
    verdicts: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, Any] | None = field(default=None, repr=False)
    analysis: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def first_venue(self) -> str | None:
        first = (self.analysis or {}).get("first_pump")
        return f"{first['exchange']}.{first['market']}" if isinstance(first, dict) and "exchange" in first else None

    @property
    def lead_ms(self) -> float | None:
        """How far the first venue's first pump trade came before the second venue's (ms)."""
        ranking = (self.analysis or {}).get("ranking") or []
        reacted = [row for row in ranking if isinstance(row, dict) and row.get("behind_first_ms") is not None]
        return reacted[1]["behind_first_ms"] if len(reacted) > 1 else None

    @property
    def peak_gain(self) -> float | None:
        """The largest peak gain among ranked (fully recorded) venues."""
        gains = [row.get("peak_gain") for row in (self.analysis or {}).get("ranking") or [] if isinstance(row, dict)]
        gains = [g for g in gains if isinstance(g, int | float)]
        return max(gains) if gains else None

    @property
    def trades(self) -> int | None:
        if isinstance((self.analysis or {}).get("trades"), int):
            return self.analysis["trades"]
        counts = [m.get("trades") for m in _markets(self.metadata)]
        return sum(c for c in counts if isinstance(c, int)) if counts else None

    def as_json(self) -> dict[str, Any]:
        """The `events --json` line: stable keys, null where unknown."""
        return {
            "folder": self.path.name,
            "path": str(self.path),
            "coin": self.coin,
            "announced_at_kst": kst_label(self.announced_ns) if self.announced_ns is not None else None,
            "first_venue": self.first_venue,
            "lead_ms": self.lead_ms,
            "peak_gain": self.peak_gain,
            "trades": self.trades,
            "verdicts": self.verdicts,
            "status": self.status,
            "problem": self.problem,
        }


def _markets(metadata: dict[str, Any] | None) -> list[dict[str, Any]]:
    markets = (metadata or {}).get("markets")
    return [m for m in markets if isinstance(m, dict)] if isinstance(markets, list) else []


def _read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(object, None) or (None, what is wrong with the file)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path.name} missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} unreadable ({type(exc).__name__})"
    if not isinstance(value, dict):
        return None, f"{path.name} is not a JSON object"
    return value, None


def _announced(*sources: dict[str, Any] | None) -> int | None:
    for source in sources:
        value = (source or {}).get("announced_at")
        if value is not None:
            try:
                return parse_time_ns(value)
            except (ValueError, TypeError):
                continue
    return None


def _analysis_layout_problem(analysis: dict[str, Any]) -> str | None:
    """What keeps an analysis.json out of the cross-event study, or None."""
    markets = analysis.get("markets")
    if not isinstance(markets, list):
        return "has no markets"
    if not all(isinstance(m, dict) and m.get("exchange") and m.get("market") for m in markets):
        return "has a market without exchange and market"
    if _announced(analysis) is None:
        return "has no readable announced_at"
    return None


def read_entry(folder: Path) -> EventEntry:
    """One folder's entry; never raises for what is inside the folder."""
    metadata, meta_problem = _read_json(folder / "metadata.json")
    analysis, analysis_problem = _read_json(folder / "analysis.json")
    coin = next((str(s["coin"]) for s in (analysis, metadata) if s and s.get("coin")), None) or folder.name.split("_", 1)[0]
    verdicts = Counter(
        str((m.get("coverage") or {}).get("verdict") or "unknown") if isinstance(m.get("coverage"), dict) else "unknown"
        for m in _markets(metadata)
    )
    announced = _announced(metadata, analysis)
    common = {"path": folder, "coin": coin, "announced_ns": announced, "verdicts": dict(sorted(verdicts.items())),
              "metadata": metadata}
    if meta_problem is not None:
        return EventEntry(status=FAILED, problem=meta_problem, **common)
    if announced is None:
        return EventEntry(status=FAILED, problem="metadata.json has no readable announced_at", **common)
    if not (folder / "trades.parquet").is_file():
        return EventEntry(status=FAILED, problem="trades.parquet missing", **common)
    if analysis_problem is None:
        layout = _analysis_layout_problem(analysis)
        if layout is None:
            return EventEntry(status=ANALYSED, analysis=analysis, **common)
        return EventEntry(status=FAILED, problem=f"analysis.json {layout} (an older or unfinished analysis)", **common)
    if analysis_problem == "analysis.json missing":
        return EventEntry(status=EXTRACTED, **common)
    return EventEntry(status=FAILED, problem=analysis_problem, **common)


def event_folders(events_dir: Path) -> list[Path]:
    """Sub-folders of `events_dir`, hidden ones (temporary, being written) left out."""
    if not events_dir.is_dir():
        return []
    return sorted(p for p in events_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_events(events_dir: Path) -> list[EventEntry]:
    """Every event folder's entry, newest announcement first (folders without a readable time last, by name)."""
    entries = [read_entry(folder) for folder in event_folders(Path(events_dir))]
    return sorted(entries, key=lambda e: (e.announced_ns is None, -(e.announced_ns or 0), e.path.name))


def reanalyse_all(events_dir: Path, pump_threshold: float, min_trades: int,
                  progress: Callable[[int, int, Path, str | None], None]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Analyse every event folder again with these thresholds; a folder that cannot be read is skipped and named, never fatal.

    `progress(done, total, folder, problem)` is called after each folder. Returns (analysed, skipped with the reason).
    """
    from analysis.event import EventFolderError
    from analysis.report import analyze_event

    folders = event_folders(Path(events_dir))
    analysed: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for done, folder in enumerate(folders, start=1):
        entry = read_entry(folder)
        problem = entry.problem if entry.status == FAILED and not entry.problem.startswith("analysis.json") else None
        if problem is None:
            try:
                analyze_event(folder, pump_threshold, min_trades)
            except (EventFolderError, OSError, ValueError) as exc:  # pyarrow's ArrowInvalid (a corrupt Parquet file) is a ValueError
                problem = str(exc).replace(f"{folder}/", "").splitlines()[0] if str(exc) else type(exc).__name__
        if problem is None:
            analysed.append(folder)
        else:
            skipped.append((folder, problem))
        progress(done, len(folders), folder, problem)
    return analysed, skipped
