"""Shared test helpers: the repository root, ../shared, polling for a condition instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

T = TypeVar("T")


def eventually(probe: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll until `probe()` returns a truthy value or raise with the last value: no fixed sleeps in tests."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(interval)


@pytest.fixture
def shared_dir() -> Path:
    return SHARED
