"""pvnsim's pytest plugin: a ``pvn_kernel`` fixture and three Hypothesis profiles.

Installed with pvnsim (entry point ``pytest11``: ``pvnsim``), so every pytest
session in an environment with pvnsim loads it.  It stays in its lane: every
name it adds carries the ``pvn``/``pvnsim`` prefix, it never replaces a
profile somebody else registered, and it loads a profile only when asked to.

Profiles:

===============  ============================================================
``pvnsim-dev``   50 examples, no deadline (quick, for the edit-test loop)
``pvnsim-ci``    100 examples, no deadline, derandomized (same examples every
                 run), the too_slow health check off
``pvnsim-deep``  2,000 examples, no deadline (a nightly or pre-release run)
===============  ============================================================

Which profile is loaded (see :func:`profile_to_load`): pytest's
``--hypothesis-profile`` is Hypothesis's own business; otherwise a
``HYPOTHESIS_PROFILE`` environment variable naming a ``pvnsim-`` profile;
otherwise, when that variable is unset, the ``pvnsim_hypothesis_profile``
ini option of the project.  Anything else leaves Hypothesis's current
profile alone.  Without Hypothesis installed the plugin only provides the
fixture.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pvnsim.kernel import Kernel

__all__ = ["PREFIX", "PROFILES", "profile_to_load", "pvn_kernel", "register_profiles"]

#: The prefix of every profile this plugin registers or loads by itself.
PREFIX = "pvnsim-"

#: The settings of each profile.
PROFILES: dict[str, dict[str, Any]] = {
    "pvnsim-dev": {"max_examples": 50, "deadline": None},
    "pvnsim-ci": {"max_examples": 100, "deadline": None, "derandomize": True},
    "pvnsim-deep": {"max_examples": 2000, "deadline": None},
}

_INI = "pvnsim_hypothesis_profile"


def register_profiles() -> bool:
    """Register the ``pvnsim-*`` profiles that nobody has registered yet.

    A profile of the same name registered before (by the user's conftest,
    say) is kept as it is.

    Returns:
        False when Hypothesis is not installed, else True.
    """
    try:
        from hypothesis import HealthCheck, settings
        from hypothesis.errors import InvalidArgument
    except ImportError:  # pragma: no cover - Hypothesis is in the test extra
        return False
    for name, options in PROFILES.items():
        try:
            settings.get_profile(name)
        except InvalidArgument:
            extra: dict[str, Any] = {}
            if name == "pvnsim-ci":
                extra["suppress_health_check"] = [HealthCheck.too_slow]
            settings.register_profile(name, **options, **extra)
    return True


def profile_to_load(env: str | None, ini: str) -> str | None:
    """The profile the plugin loads, or None to leave Hypothesis's choice alone.

    Args:
        env: the ``HYPOTHESIS_PROFILE`` environment variable (None: unset).
        ini: the project's ``pvnsim_hypothesis_profile`` ini option ("" unset).

    >>> profile_to_load("pvnsim-ci", "pvnsim-dev")
    'pvnsim-ci'
    >>> profile_to_load("ci", "pvnsim-dev") is None   # the user's own profile
    True
    >>> profile_to_load(None, "pvnsim-dev")
    'pvnsim-dev'
    """
    if env:
        return env if env.startswith(PREFIX) else None
    return ini or None


_HAVE_HYPOTHESIS = register_profiles()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _INI,
        "Hypothesis profile for pvnsim to load when neither --hypothesis-profile nor "
        "HYPOTHESIS_PROFILE names one (pvnsim registers pvnsim-dev, pvnsim-ci, pvnsim-deep)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _HAVE_HYPOTHESIS or config.getoption("hypothesis_profile", None):
        return  # Hypothesis's own plugin loads a profile given on the command line
    name = profile_to_load(os.environ.get("HYPOTHESIS_PROFILE"), str(config.getini(_INI)))
    if name:
        from hypothesis import settings

        settings.load_profile(name)


@pytest.fixture
def pvn_kernel() -> Kernel:
    """A 1024-page kernel with 4 KiB pages and illumos default thresholds."""
    return Kernel(total_pages=1024)
