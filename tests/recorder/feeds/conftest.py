"""cryptofeed's symbol table is process-global: each feeds test restores it."""

from __future__ import annotations

import copy

import pytest
from cryptofeed.symbols import Symbols


@pytest.fixture(autouse=True)
def _isolated_symbols():
    saved = copy.copy(Symbols.data)
    yield
    Symbols.data = saved
