"""Fixtures for the analysis tests: a builder of synthetic event folders in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.synthetic import EventBuilder


@pytest.fixture
def builder(tmp_path: Path) -> EventBuilder:
    return EventBuilder(tmp_path)
