"""The watcher against the fake Upbit: new listing, edit, BTC-only, backoff, restart catch-up, a store that makes it wait."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

import aiohttp
import pytest

from pumpwatch.watcher import ListingWatcher
from recorder.clock import KST, S
from recorder.config import Config
from recorder.store.embedded import EmbeddedStore
from simulator.upbit import FakeUpbit
from tests.conftest import eventually_async


def _config(base: str) -> Config:
    return Config.model_validate({"upbit": {"announcements_base": base, "api_base": base, "poll_interval": "50ms",
                                            "poll_jitter": "0ms", "max_backoff": "200ms"}})


async def _with_fake(body):
    fake = FakeUpbit()
    await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            return await body(fake, session)
    finally:
        await fake.stop()


def _now() -> datetime:
    return datetime.now(KST).replace(microsecond=0)


def test_new_listing_triggers_once_with_first_listed_at(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, fired.append)
        await watcher.catch_up(session)
        announced = _now() - timedelta(seconds=3)
        notice = fake.publish("셀레스티아(TIA)(KRW, BTC, USDT 마켓), 아이오넷(IO)(BTC, USDT 마켓) 신규 거래지원 안내", at=announced)
        await watcher.poll_once(session)
        fake.edit(notice, " (거래지원 개시 시점 변경 안내)", at=announced + timedelta(minutes=5))
        await watcher.poll_once(session)
        return notice, announced

    notice, announced = asyncio.run(_with_fake(body))
    assert [(t.coin, t.notice_id) for t in fired] == [("TIA", notice)]
    assert fired[0].announced_ns == int(announced.timestamp()) * S
    assert fired[0].latency_ms >= 3000
    [row] = store.read_triggers()
    assert (row.symbol, row.status, row.notice_id) == ("TIA", "scheduled", notice)
    assert notice in store.seen_notice_ids()


def test_btc_only_listing_and_non_listings_do_not_trigger(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, fired.append)
        await watcher.catch_up(session)
        fake.publish("플록(FLOCK), 포르타(FORT) 신규 거래지원 안내 (BTC, USDT 마켓)")
        fake.publish("USDT 마켓 거래 수수료 무료 이벤트")
        fake.publish("위믹스(WEMIX) 거래지원 종료 안내")
        await watcher.poll_once(session)
        return len(store.seen_notice_ids())

    assert asyncio.run(_with_fake(body)) == 3
    assert fired == [] and store.read_triggers() == []


def test_rate_limit_backs_off_with_one_log_line_per_state_change(tmp_path, caplog):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, fired.append)
        fake.fail_next(3, 429)
        fake.publish("바빌론(BABY) KRW 마켓 디지털 자산 추가", at=_now())
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        for _ in range(400):
            if fired:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await task
        return watcher

    with caplog.at_level(logging.INFO, logger="pumpwatch.watcher"):
        watcher = asyncio.run(_with_fake(body))
    assert [t.coin for t in fired] == ["BABY"]
    changes = [r.getMessage() for r in caplog.records if "poll state" in r.getMessage()]
    assert changes == ["upbit: poll state ok -> rate_limited (consecutive failures: 1): HTTP 429",
                       "upbit: poll state rate_limited -> ok (consecutive failures: 0)"]
    assert watcher.backoff.state == "ok"


@pytest.mark.parametrize("failure", [403, 500, "garbage"])
def test_failures_are_survived(tmp_path, failure):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, fired.append)
        fake.fail_next(2, failure)
        fake.publish("커브(CRV) KRW, USDT 마켓 디지털 자산 추가", at=_now())
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        for _ in range(400):
            if fired:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await task

    asyncio.run(_with_fake(body))
    assert [t.coin for t in fired] == ["CRV"]


def test_restart_catches_up_a_listing_announced_while_down_and_never_retriggers(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    first, second, third = [], [], []

    async def body(fake, session):
        config = _config(fake.base_url)
        fake.publish("비트코인(BTC) KRW 마켓 디지털 자산 추가", at=_now() - timedelta(days=3))  # beyond the lookback
        watcher = ListingWatcher(config, store, first.append)
        await watcher.catch_up(session)
        fake.publish("커브(CRV) KRW, USDT 마켓 디지털 자산 추가", at=_now() - timedelta(seconds=30))  # while down
        for i in range(30):
            fake.publish(f"기타 공지 {i}")
        restarted = ListingWatcher(config, store, second.append)
        await restarted.catch_up(session)
        again = ListingWatcher(config, store, third.append)
        await again.catch_up(session)
        await again.poll_once(session)

    asyncio.run(_with_fake(body))
    assert first == []
    assert [t.coin for t in second] == ["CRV"]
    assert third == []


class _HeldStore(EmbeddedStore):
    """Trigger writes wait until released, as they do while the recorder's writer holds the database under load."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.release = threading.Event()

    def write_triggers(self, rows) -> None:
        self.release.wait(30)
        super().write_triggers(rows)


def test_a_live_trigger_is_handed_over_before_the_store_write_that_may_wait(tmp_path):
    store = _HeldStore(tmp_path / "s.sqlite")
    fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, fired.append)
        await watcher.catch_up(session)
        notice = fake.publish("셀레스티아(TIA) KRW 마켓 디지털 자산 추가", at=_now())
        poll = asyncio.create_task(watcher.poll_once(session))
        try:
            await eventually_async(lambda: fired, timeout=10, what="the trigger while its store write waits")
            fired_while_held, stored_while_held = list(fired), store.read_triggers()
        finally:
            store.release.set()
            await poll
        return notice, fired_while_held, stored_while_held

    notice, fired_while_held, stored_while_held = asyncio.run(_with_fake(body))
    assert [(t.coin, t.notice_id) for t in fired_while_held] == [("TIA", notice)]
    assert stored_while_held == [] and fired == fired_while_held
    assert [(row.symbol, row.status) for row in store.read_triggers()] == [("TIA", "scheduled")]


def test_a_trigger_due_at_once_is_handed_over_only_once_stored(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    stored_when_fired = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, lambda t: stored_when_fired.append(store.read_triggers()))
        await watcher.catch_up(session)
        fake.publish("셀레스티아(TIA) KRW 마켓 디지털 자산 추가", at=_now() - timedelta(seconds=40))  # window and settle are over
        await watcher.poll_once(session)

    asyncio.run(_with_fake(body))
    assert [[(row.symbol, row.status) for row in rows] for rows in stored_when_fired] == [[("TIA", "scheduled")]]


def test_a_trigger_is_handed_over_with_the_start_of_the_poll_that_found_it(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    ticks = iter(range(1_000, 100_000, 1_000))
    seen = []

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, lambda t: seen.append(watcher.poll_started_ns),
                                 clock=lambda: next(ticks) * S)
        await watcher.catch_up(session)
        caught_up_at = watcher.poll_started_ns
        fake.publish("바빌론(BABY) KRW 마켓 디지털 자산 추가", at=_now())
        await watcher.poll_once(session)
        return caught_up_at, watcher.poll_started_ns

    caught_up_at, polled_at = asyncio.run(_with_fake(body))
    assert caught_up_at == 1_000 * S and polled_at > caught_up_at
    assert seen == [polled_at]


def test_the_watcher_status_shows_its_failures_last_success_and_next_poll(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, lambda trigger: None)
        fake.fail_next(3, 500)
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        try:
            failing = await eventually_async(lambda: (s := watcher.status())["failures_total"] >= 2 and s, what="two failed polls")
            ok = await eventually_async(lambda: (s := watcher.status())["state"] == "ok" and s, what="a poll that succeeds")
        finally:
            stop.set()
            await task
        return failing, ok

    failing, ok = asyncio.run(_with_fake(body))
    assert failing["state"] == "server_error" and failing["polls"] >= 2 and failing["last_success_at"] is None
    assert failing["last_error"] == "HTTP 500" and failing["last_error_at"].endswith("Z")
    assert failing["next_poll_at"].endswith("Z") and 0 <= failing["next_poll_in_s"] <= 0.2
    assert ok["failures_total"] == 3 and ok["consecutive_failures"] == 0 and ok["last_success_at"].endswith("Z")
    assert ok["last_error"] == "HTTP 500", "the last error stays visible after the recovery, with its time"


def test_the_detection_line_gives_the_announcement_in_utc(tmp_path, caplog):
    store = EmbeddedStore(tmp_path / "s.sqlite")

    async def body(fake, session):
        watcher = ListingWatcher(_config(fake.base_url), store, lambda trigger: None)
        await watcher.catch_up(session)
        fake.publish("커브(CRV) KRW, USDT 마켓 디지털 자산 추가", at=datetime(2030, 1, 2, 9, 0, 5, tzinfo=KST))
        await watcher.poll_once(session)

    with caplog.at_level(logging.WARNING, logger="pumpwatch.watcher"):
        asyncio.run(_with_fake(body))
    [line] = [r.getMessage() for r in caplog.records if "KRW listing detected" in r.getMessage()]
    assert "announced 2030-01-02T00:00:05Z" in line, line
