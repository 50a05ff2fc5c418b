"""Allocator settings for a long run: applied where the C library is glibc, a no-op elsewhere."""

import platform

from recorder.memory import tune_allocator


def test_glibc_takes_the_settings_and_other_libcs_are_left_alone():
    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")

