"""Sealing runs in a child process: it takes what no live writer holds, and a failure is one line, never a traceback."""

from __future__ import annotations

import time

import pytest

from recorder.store.base import StoreError
from recorder.store.columnar import ROTATE_NS
from recorder.store.embedded import EmbeddedStore
from tests.recorder.store.test_store_contract import T0, S, trade


def test_the_child_seals_this_writers_rotated_files_and_another_writers_closed_ones(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.write_trades([trade("AAA", T0, "1"), trade("BBB", T0 + S, "2")])
    other = EmbeddedStore(tmp_path / "s.sqlite")
    other.write_trades([trade("AAA", T0, "1"), trade("CCC", T0, "3")])  # one duplicate of a key written first above
    other.close()
    assert store.seal(time.time_ns() + 2 * ROTATE_NS) == 3  # far enough on for this writer's own open file to be rotated
    assert not list(store.hot_dir.glob("date=*/hour=*/*.arrows"))
    assert sum(part.rows for part in store.sealed_parts()) == 3 and store.count_trades() == 3


def test_a_seal_that_fails_in_the_child_is_a_store_error_of_one_line(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.write_trades([trade("AAA", T0, "1")])
    store.files.lock_path.mkdir(parents=True)  # the seal lock cannot be opened
    with pytest.raises(StoreError) as raised:
        store.seal(time.time_ns() + 2 * ROTATE_NS)
    assert "sealing" in str(raised.value) and "\n" not in str(raised.value) and "Is a directory" in str(raised.value)
    assert store.count_trades() == 1  # nothing lost: the rows stay hot


def test_a_part_left_half_written_by_a_killed_sealer_is_removed_by_the_next_seal(tmp_path):
    store = EmbeddedStore(tmp_path / "s.sqlite")
    store.write_trades([trade("AAA", T0, "1")])
    store.compact()
    folder = store.sealed_parts()[0].path.parent
    stale = folder / ".part-1-2-3-deadbeef.parquet.tmp"
    stale.write_bytes(b"PAR1 cut short")
    store.write_trades([trade("BBB", T0, "2")])
    assert store.seal(time.time_ns() + 2 * ROTATE_NS) == 1
    assert not stale.exists() and store.count_trades() == 2
