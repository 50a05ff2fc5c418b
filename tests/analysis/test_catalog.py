"""`scan_events`: every folder under the events directory listed, good, half-done, old or broken, newest first."""

from __future__ import annotations

import json
from pathlib import Path

from analysis import analyze_event
from analysis.catalog import ANALYSED, EXTRACTED, FAILED, scan_events
from analysis.event import NS_PER_S, parse_time_ns
from tests.analysis.synthetic import EventBuilder, T, listing, pump


def mixed_events(root: Path) -> dict[str, Path]:
    """An analysed listing, an extracted-only event, an older layout and four broken folders."""
    analysed = listing(EventBuilder(root)).write()
    analyze_event(analysed, chart=False)
    later = EventBuilder(root, coin="ZRO", announced_ns=T + 86_400 * NS_PER_S)
    pump(later, "okx", "futures", 300)
    extracted = later.write("ZRO_20261121T140000KST")

    old = EventBuilder(root, coin="OLD", announced_ns=parse_time_ns("2026-11-01T00:00:00Z"))
    pump(old, "binance", "spot", 500)
    older = old.write("OLD_20261101T090000KST")  # then its metadata in an older layout: markets by exchange, no window
    (older / "metadata.json").write_text(json.dumps({"coin": "OLD", "announced_at": "2026-11-01T00:00:00Z", "markets": {"binance": {}}}))

    no_meta = root / "NOMETA_20261105T090000KST"
    no_meta.mkdir()
    bad_json = root / "BADJSON_20261106T090000KST"
    bad_json.mkdir()
    (bad_json / "metadata.json").write_text("{not json")
    bad_analysis = root / "BADANALYSIS_20261107T090000KST"
    bad_analysis.mkdir()
    (bad_analysis / "metadata.json").write_text(json.dumps({"coin": "BADANALYSIS", "announced_at": "2026-11-07T00:00:00Z"}))
    (bad_analysis / "trades.parquet").write_bytes(b"")
    (bad_analysis / "analysis.json").write_text("[1, 2")
    no_trades = root / "NOTRADES_20261108T090000KST"
    no_trades.mkdir()
    (no_trades / "metadata.json").write_text(json.dumps({"coin": "NOTRADES", "announced_at": "2026-11-08T00:00:00Z"}))
    (root / ".TIA_20261120T140000KST.abc.tmp").mkdir()  # being written: not an event yet
    return {"analysed": analysed, "extracted": extracted, "older": older}


def test_every_folder_is_listed_newest_first_with_a_status_naming_what_is_wrong(tmp_path: Path) -> None:
    mixed_events(tmp_path)
    entries = scan_events(tmp_path)
    assert [(e.path.name, e.status, e.problem) for e in entries] == [
        ("ZRO_20261121T140000KST", EXTRACTED, None),
        ("TIA_20261120T140000KST", ANALYSED, None),
        ("NOTRADES_20261108T090000KST", FAILED, "trades.parquet missing"),
        ("BADANALYSIS_20261107T090000KST", FAILED, "analysis.json unreadable (JSONDecodeError)"),
        ("OLD_20261101T090000KST", EXTRACTED, None),
        ("BADJSON_20261106T090000KST", FAILED, "metadata.json unreadable (JSONDecodeError)"),
        ("NOMETA_20261105T090000KST", FAILED, "metadata.json missing"),
    ]


def test_an_analysed_event_says_who_led_by_how_much_and_how_far_it_went(tmp_path: Path) -> None:
    entry = next(e for e in scan_events(mixed_events(tmp_path)["analysed"].parent) if e.status == ANALYSED)
    line = entry.as_json()
    assert line["coin"] == "TIA" and line["announced_at_kst"] == "2026-11-20 14:00:00 KST"
    assert line["first_venue"] == "binance.futures"
    assert line["lead_ms"] == 1300.0  # binance spot's first pump trade at +2,100 ms, binance futures' at +800 ms
    assert line["peak_gain"] == 0.25
    assert line["verdicts"] == {"complete": 11, "gap": 1}
    assert line["trades"] == entry.analysis["trades"]


def test_an_event_without_analysis_has_no_race_but_its_trades_and_verdicts(tmp_path: Path) -> None:
    extracted = next(e for e in scan_events(mixed_events(tmp_path)["extracted"].parent) if e.coin == "ZRO")
    assert (extracted.first_venue, extracted.lead_ms, extracted.peak_gain) == (None, None, None)
    assert extracted.trades == 24 and extracted.verdicts == {"complete": 12}


def test_an_empty_or_missing_events_directory_lists_nothing(tmp_path: Path) -> None:
    assert scan_events(tmp_path / "nothing") == []
    assert scan_events(tmp_path) == []


def test_an_analysis_the_study_cannot_read_is_a_failed_entry_naming_why(tmp_path: Path) -> None:
    folder = listing(EventBuilder(tmp_path)).write()
    (folder / "analysis.json").write_text(json.dumps({"announced_at": "2026-11-20T05:00:00Z", "markets": [{"exchange": "okx"}]}))
    (entry,) = scan_events(tmp_path)
    assert (entry.status, entry.problem) == (
        FAILED, "analysis.json has a market without exchange and market (an older or unfinished analysis)")
