"""The shared backoff: capped, jittered, reset by a healthy session (feeds) or a success (Upbit polls)."""

from __future__ import annotations

import pytest

from recorder.backoff import Backoff


def test_backoff_is_capped_and_resets_after_a_healthy_session():
    backoff = Backoff(base=1.0, cap=30.0, healthy_after=30.0)
    assert backoff.delay() == 0.0
    backoff.failed()
    assert backoff.delay() == 0.0                      # the first retry is immediate
    backoff.failed()
    assert 0.8 <= backoff.delay() <= 1.2
    for _ in range(198):
        backoff.failed()
        assert backoff.delay() <= 30.0
    assert backoff.delay() >= 30.0 * 0.8
    backoff.session_ended(5.0)
    assert backoff.failures == 201
    backoff.session_ended(60.0)
    assert backoff.failures == 0 and backoff.delay() == 0.0


def test_without_immediate_retry_base_is_the_wait_after_a_success():
    backoff = Backoff(base=2.0, cap=60.0, jitter=(0.9, 1.0), immediate_retry=False, rand=lambda: 0.5)
    assert backoff.delay() == pytest.approx(1.9)
    backoff.failed()
    assert backoff.delay() == pytest.approx(3.8)
    backoff.succeeded()
    assert backoff.failures == 0 and backoff.delay() == pytest.approx(1.9)
