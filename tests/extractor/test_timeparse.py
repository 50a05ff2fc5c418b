"""`--at` accepts ISO with offset, naive KST, epoch seconds and milliseconds; anything else is an error."""

from __future__ import annotations

import pytest

from extractor.timeparse import TimeParseError, folder_stamp, parse_at, zone
from recorder.clock import S, iso_utc

EXPECTED = 1_795_000_000 * S  # 2026-11-18T11:06:40Z = 20:06:40 KST


@pytest.mark.parametrize("text", ["2026-11-18T20:06:40+09:00", "2026-11-18T11:06:40Z", "2026-11-18T20:06:40",
                                  "2026-11-18 20:06:40", "1795000000", "1795000000000", "1795000000.0"])
def test_accepted_forms(text):
    assert parse_at(text) == EXPECTED


@pytest.mark.parametrize("text", ["2026-11-18 20:06:40 KST", "2026-11-18T20:06:40KST", "2026-11-18T20:06:40 kst",
                                  "20261118T200640KST", "2026-11-18T20:06:40+09:00 KST"])
def test_a_trailing_kst_is_the_zone_folder_names_and_summaries_use(text):
    assert parse_at(text) == EXPECTED
    assert parse_at(text, zone("UTC")) == EXPECTED  # KST said explicitly beats --tz


def test_kst_with_another_offset_is_a_contradiction():
    with pytest.raises(TimeParseError, match="KST"):
        parse_at("2026-11-18T20:06:40+00:00 KST")


def test_naive_time_in_another_zone():
    assert parse_at("2026-11-18T11:06:40", zone("UTC")) == EXPECTED


def test_fractions_are_kept():
    assert parse_at("2026-11-18T11:06:40.123456Z") == EXPECTED + 123_456_000
    assert parse_at("1795000000123") == EXPECTED + 123_000_000


@pytest.mark.parametrize("bad", ["", "KST", "tomorrow", "2026-11-18T20:06:40 UTC", "2026-13-01T00:00:00", "17950000001234567", "12:00"])
def test_bad_values(bad):
    with pytest.raises(TimeParseError):
        parse_at(bad)


def test_unknown_zone():
    with pytest.raises(TimeParseError):
        zone("Mars/Olympus")


def test_formats():
    assert iso_utc(EXPECTED + 5) == "2026-11-18T11:06:40.000000005Z"
    assert folder_stamp(EXPECTED) == "20261118T200640KST"
