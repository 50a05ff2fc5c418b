"""Allocator settings for a long run: applied where the C library is glibc, a no-op elsewhere."""

import platform

import pyarrow as pa

from recorder.memory import tune_allocator


def test_glibc_takes_the_settings_and_arrow_allocates_through_it_other_libcs_are_left_alone():
    before = pa.default_memory_pool().backend_name
    glibc = platform.libc_ver()[0] == "glibc"
    assert tune_allocator() is glibc
    assert pa.default_memory_pool().backend_name == ("system" if glibc else before)
    table = pa.table({"x": list(range(100_000))})
    assert pa.total_allocated_bytes() >= table.nbytes
