"""Shared fixtures.

The ``pvn_kernel`` fixture and the Hypothesis profiles (pvnsim-dev, pvnsim-ci,
pvnsim-deep) come from pvnsim's pytest plugin (pvnsim.testing.plugin);
pyproject.toml makes pvnsim-dev the default and CI sets
HYPOTHESIS_PROFILE=pvnsim-ci.
"""

from __future__ import annotations

import pytest

from pvnsim import Kernel, check_kernel


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
