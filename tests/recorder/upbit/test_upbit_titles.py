"""Listing-title parser: every real title of the shared fixture, plus hostile input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.upbit.titles import MAX_SCAN_CHARS, TICKER_RE, ParsedTitle, parse_title

FIXTURE = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "upbit_titles.tsv"


def _rows() -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _split(cell: str) -> tuple[str, ...]:
    return tuple(s for s in cell.split(",") if s)


ROWS = _rows()
TITLES = [row["title"] for row in ROWS]
LISTING_TITLES = [row["title"] for row in ROWS if row["expected_markets"]]


def _check_invariants(parsed: ParsedTitle) -> None:
    for coin in parsed.coins:
        assert TICKER_RE.fullmatch(coin.symbol), coin
        assert all(TICKER_RE.fullmatch(m) for m in coin.markets), coin
        assert coin.krw == ("KRW" in coin.markets)
        assert parsed.listing or not coin.markets
    assert len({c.symbol for c in parsed.coins}) == len(parsed.coins)
    assert set(parsed.krw_symbols) <= {c.symbol for c in parsed.coins}
    json.dumps(parsed.as_dict())


def test_fixture_has_every_row() -> None:
    assert len(ROWS) == 66


@pytest.mark.parametrize("row", ROWS, ids=[f"{i:02d}" for i in range(len(ROWS))])
def test_fixture_title(row: dict[str, str]) -> None:
    parsed = parse_title(row["title"])
    symbols, markets = _split(row["expected_symbols"]), _split(row["expected_markets"])

    assert parsed.title == row["title"]
    assert parsed.listing is bool(markets)
    assert tuple(c.symbol for c in parsed.coins) == symbols
    assert all(c.markets == markets for c in parsed.coins)
    assert parsed.krw_symbols == (symbols if row["should_trigger"] == "yes" else ())
    _check_invariants(parsed)


def test_per_coin_market_lists() -> None:
    parsed = parse_title("셀레스티아(TIA)(KRW, BTC, USDT 마켓), 아이오넷(IO)(BTC, USDT 마켓) 신규 거래지원 안내")
    assert parsed.as_dict() == {
        "title": parsed.title,
        "listing": True,
        "coins": [
            {"symbol": "TIA", "markets": ["KRW", "BTC", "USDT"], "krw": True},
            {"symbol": "IO", "markets": ["BTC", "USDT"], "krw": False},
        ],
        "krw_symbols": ["TIA"],
    }


@pytest.mark.parametrize(
    ("title", "symbols"),
    [
        ("제로지(0G) 신규 거래지원 안내 (KRW, USDT 마켓)", ("0G",)),
        ("에이(A), 지(G), 소닉(S) KRW 마켓 디지털 자산 추가", ("A", "G", "S")),
        ("KRW 마켓 디지털 자산 추가 (1000SATS)", ("1000SATS",)),
        ("테스트(TIA) 신규 거래지원 안내 (KRW 마켓)(2)", ("TIA",)),  # a number in parentheses is no coin
        ("（ＴＩＡ） ＫＲＷ 마켓 디지털 자산 추가", ("TIA",)),  # full-width forms
    ],
)
def test_unusual_tickers(title: str, symbols: tuple[str, ...]) -> None:
    assert parse_title(title).krw_symbols == symbols


@pytest.mark.parametrize(
    "title",
    [
        "테스트(tia) KRW 마켓 디지털 자산 추가",  # lower case is no ticker
        "테스트(ABCDEFGHIJKLMNOP) KRW 마켓 디지털 자산 추가",  # 16 characters
        "KRW 마켓 거래 수수료 이벤트 (TIA)",  # event mentioning a coin and KRW market
        "테스트(TIA) KRW 마켓 거래지원 종료 안내",
    ],
)
def test_not_a_krw_listing(title: str) -> None:
    parsed = parse_title(title)
    assert parsed.krw_symbols == ()
    _check_invariants(parsed)


@pytest.mark.parametrize("title", LISTING_TITLES)
def test_update_tail_and_prefix_do_not_change_the_coins(title: str) -> None:
    expected = parse_title(title)
    for variant in (
        f"{title} (거래지원 개시 시점 변경 안내)",
        f"{title} (헤미(HEMI) 거래지원 취소 안내)",
        f"[거래] {title}",
    ):
        assert parse_title(variant).coins == expected.coins, variant


HOSTILE = [
    "",
    " ",
    "(" * 5000,
    ")" * 5000,
    "A" * 1_000_000,
    "(A, " * 100_000 + "KRW 마켓",
    "KRW, " * 100_000 + "마켓",
    "<script>alert('(TIA)')</script><b>KRW 마켓</b>",
    "../../etc/passwd (KRW 마켓) (../)",
    "🚀🚀 도지(DOGE) KRW 마켓 🚀 디지털 자산 추가 🌕",
    "\x00\x1b[31m(TIA)\x1b[0m KRW\r\n마켓\t\u200b\ufeff",
    "\ud800 lone surrogate (BTC) KRW 마켓",
    "ﷺ" * 3000,  # expands under NFKC
]


@pytest.mark.parametrize("title", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_titles(title: str) -> None:
    _check_invariants(parse_title(title))


def test_only_the_scan_cap_is_read() -> None:
    assert parse_title("x" * MAX_SCAN_CHARS + " 커브(CRV) KRW 마켓").coins == ()


JUNK = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["(", ")", "(((", ",", " 마켓", "KRW", "<br/>", "&amp;", "../", "\x00", "\r\n", "🚀", "\u202e", "..."]),
    st.text(alphabet="()[],/ KRWBTCUSD0G마켓", max_size=40),
)


@settings(deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(title: str) -> None:
    _check_invariants(parse_title(title))


@settings(deadline=None)
@given(st.sampled_from(TITLES), st.lists(st.tuples(st.integers(min_value=0), JUNK), max_size=5))
def test_junk_mixed_into_real_titles(title: str, insertions: list[tuple[int, str]]) -> None:
    for position, junk in insertions:
        cut = position % (len(title) + 1)
        title = title[:cut] + junk + title[cut:]
    _check_invariants(parse_title(title))
