"""Shared fixtures and Hypothesis profiles (dev, ci, deep)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from pvnsim import Kernel, check_kernel

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("deep", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def kernel() -> Kernel:
    """A 1024-page kernel with 4 KiB pages and illumos default thresholds."""
    return Kernel(total_pages=1024)


@pytest.fixture
def roomy() -> Kernel:
    """A kernel with plenty of free memory: write_free never triggers.

    lotsfree=0 and pages_before_pager=0 keep pvn_write_done from turning
    writes into frees; minfree=0 keeps pvn_read_kluster from shrinking.
    """
    return Kernel(
        total_pages=4096,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
    )


def validated(k: Kernel) -> Kernel:
    """Run every validator and return the kernel (for one-line use in tests)."""
    check_kernel(k)
    return k
