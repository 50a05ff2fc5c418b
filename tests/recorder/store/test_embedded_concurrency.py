"""The embedded store serves readers in other processes while the recorder writes."""

from __future__ import annotations

import subprocess
import sys
import threading

from recorder.store.embedded import EmbeddedStore
from tests.recorder.store.test_store_contract import T0, S, trade

READER = """
import sys
from recorder.store.embedded import EmbeddedStore
store = EmbeddedStore(sys.argv[1], create=False)
seen = []
for _ in range(30):
    seen.append(store.count_trades())
assert seen == sorted(seen), "a reader saw the count go backwards"
print(seen[-1])
"""


def test_other_process_reads_while_writer_writes(tmp_path):
    path = tmp_path / "s.sqlite"
    store = EmbeddedStore(path)
    store.write_trades([trade("AAA", T0, "seed")])
    stop = threading.Event()
    written = [1]

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 1000:  # bounded: each count reads the whole hot tier
            store.write_trades([trade("AAA", T0 + (i * 100 + j) * 1000, f"{i}-{j}") for j in range(100)])
            written[0] += 100
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True, text=True, timeout=120)
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert 1 <= int(result.stdout) <= written[0]
    assert store.read_window("AAA", T0, T0 + 3600 * S).num_rows == written[0]
