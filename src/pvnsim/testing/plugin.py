"""pvnsim's pytest plugin: a ``kernel`` fixture and the Hypothesis profiles dev, ci, deep.

Installed with pvnsim (entry point ``pytest11``: ``pvnsim``), so any test
suite gets it.  Profiles:

======  ============================================================
dev     50 examples, no deadline (quick, for the edit-test loop)
ci      100 examples, no deadline, derandomized (same examples every
        run), the too_slow health check off
deep    2,000 examples, no deadline (a nightly or pre-release run)
======  ============================================================

The profile loaded is, first found: pytest's ``--hypothesis-profile``
option, the ``HYPOTHESIS_PROFILE`` environment variable, the
``pvnsim_hypothesis_profile`` ini option; otherwise Hypothesis's own
default stays.  Without Hypothesis installed the plugin only provides the
fixture.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pvnsim.kernel import Kernel

__all__ = ["PROFILES", "kernel", "register_profiles"]

#: The settings of each profile.
PROFILES: dict[str, dict[str, Any]] = {
    "dev": {"max_examples": 50, "deadline": None},
    "ci": {"max_examples": 100, "deadline": None, "derandomize": True},
    "deep": {"max_examples": 2000, "deadline": None},
}

_INI = "pvnsim_hypothesis_profile"


def register_profiles() -> bool:
    """Register the dev, ci and deep profiles with Hypothesis; False without Hypothesis."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - Hypothesis is in the test extra
        return False
    for name, options in PROFILES.items():
        extra: dict[str, Any] = {}
        if name == "ci":
            extra["suppress_health_check"] = [HealthCheck.too_slow]
        settings.register_profile(name, **options, **extra)
    return True


_HAVE_HYPOTHESIS = register_profiles()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _INI,
        "Hypothesis profile to load when neither --hypothesis-profile nor "
        "HYPOTHESIS_PROFILE names one (pvnsim registers dev, ci and deep)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _HAVE_HYPOTHESIS or config.getoption("hypothesis_profile", None):
        return  # Hypothesis's own plugin loads a profile given on the command line
    name = os.environ.get("HYPOTHESIS_PROFILE") or str(config.getini(_INI))
    if name:
        from hypothesis import settings

        settings.load_profile(name)


@pytest.fixture
def kernel() -> Kernel:
    """A 1024-page kernel with 4 KiB pages and illumos default thresholds."""
    return Kernel(total_pages=1024)
