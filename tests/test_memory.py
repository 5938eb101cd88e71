"""The allocator setting the command line and its workers make."""

from __future__ import annotations

import platform

import numpy as np

from skinmetrics.memory import reuse_freed_memory


def test_reuse_freed_memory_is_set_with_glibc():
    """glibc takes the setting; elsewhere nothing is changed and False says so. Large arrays
    are still made and freed as before."""
    assert reuse_freed_memory() is (platform.libc_ver()[0] == "glibc")
    for _ in range(3):
        plane = np.ones((3000, 4000), np.float32)
        assert float(plane.sum(dtype=np.float64)) == 12e6
