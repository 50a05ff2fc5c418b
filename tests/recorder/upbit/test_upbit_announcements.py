"""Announcement and market-list client against FakeUpbit on an ephemeral port, plus the pure parts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.upbit.announcements import (
    ANNOUNCEMENTS_PATH,
    KST,
    AnnouncementFormatError,
    AnnouncementHTTPError,
    Backoff,
    MarketListError,
    StateChange,
    UpbitHTTPError,
    classify_error,
    fetch_market_all,
    fetch_page,
    parse_market_all,
    parse_page,
)
from simulator.upbit import FakeUpbit

T0 = datetime(2026, 8, 21, 11, 22, 40, tzinfo=KST)


def with_fake[T](test: Callable[[FakeUpbit, aiohttp.ClientSession], Awaitable[T]]) -> T:
    """Run `test` against a started FakeUpbit and a client session, then tear both down."""

    async def run() -> T:
        fake = FakeUpbit()
        await fake.start()
        try:
            async with aiohttp.ClientSession() as session:
                return await test(fake, session)
        finally:
            await fake.stop()

    return asyncio.run(run())


def envelope(notices: list[Any], **data: Any) -> dict[str, Any]:
    return {"success": True, "data": {"total_pages": 1, "total_count": len(notices), "notices": notices, **data}}


def raw_notice(**fields: Any) -> dict[str, Any]:
    notice = {
        "id": 7,
        "title": "커브(CRV) KRW, USDT 마켓 디지털 자산 추가",
        "category": "거래",
        "listed_at": "2026-08-21T11:22:40+09:00",
        "first_listed_at": "2026-08-21T11:22:40+09:00",
    }
    return {**notice, **fields}


def test_fetch_page_sorted_and_paged() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        ids = [fake.publish(f"공지 {i}", at=T0 + timedelta(minutes=i)) for i in range(3)]
        first = await fetch_page(session, fake.base_url, page=1, per_page=2)
        second = await fetch_page(session, fake.base_url, page=2, per_page=2)
        assert [n.id for n in first.notices] == [ids[2], ids[1]]
        assert [n.id for n in second.notices] == [ids[0]]
        assert (first.total_pages, first.skipped) == (2, 0)
        notice = second.notices[0]
        assert notice.title == "공지 0"
        assert notice.category == "거래"
        assert notice.listed_at == notice.first_listed_at == T0
        assert notice.uuid
        assert notice.url == f"https://upbit.com/service_center/notice?id={notice.id}"

    with_fake(test)


def test_edited_notice_jumps_to_top_and_keeps_first_listed_at() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        old = fake.publish("렌조(REZ) 신규 거래지원 안내 (USDT 마켓)", at=T0, id=6400)
        fake.publish("다른 공지", at=T0 + timedelta(hours=1), id=6401)
        fake.edit(old, "(거래지원 개시 시점 변경 안내)", at=T0 + timedelta(hours=4))
        top = (await fetch_page(session, fake.base_url, page=1)).notices[0]
        assert top.id == old
        assert top.title == "렌조(REZ) 신규 거래지원 안내 (USDT 마켓) (거래지원 개시 시점 변경 안내)"
        assert top.first_listed_at == T0
        assert top.listed_at == T0 + timedelta(hours=4)

    with_fake(test)


@pytest.mark.parametrize("status", [429, 403, 500])
def test_error_status_raises_then_recovers(status: int) -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        fake.fail_next(1, status)
        with pytest.raises(AnnouncementHTTPError) as caught:
            await fetch_page(session, fake.base_url, page=1)
        assert caught.value.status == status
        assert (await fetch_page(session, fake.base_url, page=1)).notices == ()
        assert fake.requests == 2

    with_fake(test)


def test_garbage_raises_format_error() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        fake.fail_next(1, "garbage")
        with pytest.raises(AnnouncementFormatError, match="not JSON"):
            await fetch_page(session, fake.base_url, page=1)

    with_fake(test)


def test_malformed_notices_are_skipped_and_counted() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        fake.publish("커브(CRV) KRW, USDT 마켓 디지털 자산 추가", at=T0)
        fake.publish_raw({"title": "no id", "listed_at": "2026-08-21T11:22:40+09:00"})
        fake.publish_raw(raw_notice(id=8, listed_at="yesterday"))
        fake.publish_raw("not an object")
        page = await fetch_page(session, fake.base_url, page=1)
        assert page.skipped == 3
        assert [n.title for n in page.notices] == ["커브(CRV) KRW, USDT 마켓 디지털 자산 추가"]

    with_fake(test)


@pytest.mark.parametrize("query", ["", "?os=web&page=1&per_page=20", "?os=web&page=x&per_page=20&category=trade"])
def test_bad_query_answers_400(query: str) -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> int:
        async with session.get(fake.base_url + ANNOUNCEMENTS_PATH + query) as response:
            return response.status

    assert with_fake(test) == 400


def test_fetch_market_all() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> None:
        assert await fetch_market_all(session, fake.base_url) == {"BTC", "ETH", "XRP"}
        fake.set_krw_markets(["BTC", "0G"])
        assert await fetch_market_all(session, fake.base_url) == {"BTC", "0G"}
        fake.fail_next(1, 503)
        with pytest.raises(UpbitHTTPError):
            await fetch_market_all(session, fake.base_url)

    with_fake(test)


def test_connection_refused_is_a_network_error() -> None:
    async def test() -> str | None:
        fake = FakeUpbit()
        await fake.start()
        base = fake.base_url
        await fake.stop()
        async with aiohttp.ClientSession() as session:
            try:
                await fetch_page(session, base, page=1)
            except aiohttp.ClientError as exc:
                return classify_error(exc)
        return None

    assert asyncio.run(test()) == "network_error"


def test_backoff_states_against_fake() -> None:
    async def test(fake: FakeUpbit, session: aiohttp.ClientSession) -> list[StateChange]:
        backoff = Backoff(interval=1.0, rand=lambda: 0.5)
        fake.fail_next(2, 429)
        fake.fail_next(1, "garbage")
        changes = []
        for _ in range(4):
            try:
                await fetch_page(session, fake.base_url, page=1)
                change = backoff.record("ok")
            except (AnnouncementHTTPError, AnnouncementFormatError) as exc:
                state = classify_error(exc)
                assert state is not None
                change = backoff.record(state)
            if change:
                changes.append(change)
        return changes

    assert with_fake(test) == [
        StateChange("ok", "rate_limited", 1),
        StateChange("rate_limited", "bad_response", 3),
        StateChange("bad_response", "ok", 0),
    ]


def test_backoff_delays() -> None:
    draws = iter([0.5, 0.5, 0.5, 0.0, 0.999999, 0.5])
    backoff = Backoff(interval=2.0, max_interval=60.0, jitter=0.1, rand=lambda: next(draws))
    assert backoff.next_delay() == pytest.approx(1.9)  # jitter only shortens: the interval is an upper bound
    assert backoff.record("ok") is None
    assert backoff.record("timeout") == StateChange("ok", "timeout", 1)
    assert backoff.next_delay() == pytest.approx(3.8)
    assert backoff.record("timeout") is None
    assert backoff.next_delay() == pytest.approx(7.6)
    assert backoff.next_delay() == 8.0  # no jitter drawn
    for _ in range(100):
        backoff.record("server_error")
    assert backoff.next_delay() == pytest.approx(54.0, rel=1e-5)  # capped, then shortened by up to 10 %
    assert backoff.record("ok") == StateChange("server_error", "ok", 0)
    assert backoff.next_delay() == pytest.approx(1.9)


def test_backoff_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        Backoff(interval=0)
    with pytest.raises(ValueError):
        Backoff(interval=10, max_interval=5)


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (AnnouncementHTTPError(429), "rate_limited"),
        (AnnouncementHTTPError(403), "forbidden"),
        (AnnouncementHTTPError(502), "server_error"),
        (AnnouncementHTTPError(404), "bad_response"),
        (AnnouncementFormatError("x"), "bad_response"),
        (TimeoutError(), "timeout"),
        (aiohttp.ServerTimeoutError(), "timeout"),
        (aiohttp.ClientPayloadError(), "network_error"),
        (KeyError("bug"), None),
    ],
)
def test_classify_error(error: BaseException, state: str | None) -> None:
    assert classify_error(error) == state


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"\xff\xfe\xfd", "not JSON"),
        ("[" * 100_000, "not JSON"),
        (b"[]", "success"),
        ({"success": False, "data": None}, "success"),
        ({"success": "true", "data": {"notices": []}}, "success"),
        ({"success": True}, "missing data"),
        ({"success": True, "data": {"total_pages": 1}}, "missing data.notices"),
        ({"success": True, "data": {"notices": {}}}, "missing data.notices"),
    ],
)
def test_bad_envelope(payload: object, reason: str) -> None:
    with pytest.raises(AnnouncementFormatError, match=reason):
        parse_page(payload)


def test_notice_fields_tolerated_and_checked() -> None:
    payload = envelope(
        [
            raw_notice(id=1, first_listed_at=None, need_new_badge=True, something_new={"x": 1}),
            raw_notice(id=2, listed_at="2026-08-21T11:22:40", first_listed_at="2026-08-21T11:22:40"),
            raw_notice(id=True),
            raw_notice(id="3"),
            raw_notice(id=4, title=None),
            raw_notice(id=5, uuid=5),
            raw_notice(id=6, first_listed_at="2026-13-01T00:00:00+09:00"),
        ],
        total_pages="many",
    )
    page = parse_page(json.dumps(payload).encode())
    assert [n.id for n in page.notices] == [1, 2]
    assert page.notices[0].first_listed_at == page.notices[0].listed_at  # missing: falls back
    assert page.notices[1].listed_at == T0  # no offset: Upbit's KST
    assert page.notices[0].uuid is None
    assert (page.skipped, page.total_pages) == (5, 1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=4),
    max_leaves=20,
)
NOTICE = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers() | st.text(max_size=5) | st.none(),
        "title": st.text(max_size=30) | st.integers(),
        "category": st.text(max_size=5) | st.none() | st.integers(),
        "uuid": st.text(max_size=5) | st.none() | st.booleans(),
        "listed_at": st.datetimes(timezones=st.just(KST)).map(datetime.isoformat) | st.text(max_size=25),
        "first_listed_at": st.datetimes().map(datetime.isoformat) | st.text(max_size=25) | st.none(),
    },
)


@settings(deadline=None)
@given(st.lists(NOTICE | JSON, max_size=8))
def test_any_notice_list_parses_or_skips(notices: list[Any]) -> None:
    page = parse_page(envelope(notices))
    assert len(page.notices) + page.skipped == len(notices)
    for notice in page.notices:
        assert notice.listed_at.tzinfo is not None and notice.first_listed_at.tzinfo is not None


@settings(deadline=None)
@given(JSON | st.binary(max_size=50))
def test_any_payload_parses_or_raises_format_error(payload: object) -> None:
    with contextlib.suppress(AnnouncementFormatError):
        parse_page(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",
        b"[]",
        b"nope",
        [{"market": "BTC-ETH"}],
        [{"market": "KRW-BTC"}, {"name": "x"}],
        [{"market": 1}],
        ["KRW-BTC"],
    ],
)
def test_bad_market_list(payload: object) -> None:
    with pytest.raises(MarketListError):
        parse_market_all(payload)
