"""pvnsim's pytest plugin registers the profiles and provides the kernel fixture, here and elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import HealthCheck, settings

from pvnsim import Kernel


def test_profiles_are_registered() -> None:
    """dev, ci and deep carry the settings docs/testing.md gives them."""
    dev, ci, deep = (settings.get_profile(name) for name in ("dev", "ci", "deep"))
    assert (dev.max_examples, dev.deadline) == (50, None)
    assert (ci.max_examples, ci.deadline, ci.derandomize) == (100, None, True)
    assert HealthCheck.too_slow in ci.suppress_health_check
    assert (deep.max_examples, deep.deadline) == (2000, None)


def test_the_loaded_profile_follows_the_environment() -> None:
    """HYPOTHESIS_PROFILE names the profile; without it, pyproject's pvnsim_hypothesis_profile (dev)."""
    assert settings.get_current_profile_name() == os.environ.get("HYPOTHESIS_PROFILE", "dev")


def test_kernel_fixture_is_a_fresh_1024_page_kernel(kernel: Kernel) -> None:
    """The fixture is 1024 pages of 4 KiB with illumos thresholds and nothing in it.

    lotsfree = max(1024/64, 512 KiB / 4 KiB) = 128, desfree 64, minfree 32.
    """
    assert (kernel.total_pages, kernel.pagesize, kernel.freemem) == (1024, 4096, 1024)
    assert (kernel.lotsfree, kernel.desfree, kernel.minfree) == (128, 64, 32)
    assert kernel.vnodes == []


def test_another_project_gets_the_fixture_and_profiles(tmp_path) -> None:
    """In a project with no conftest, the plugin still serves ``kernel`` and loads HYPOTHESIS_PROFILE."""
    (tmp_path / "test_theirs.py").write_text(
        "from hypothesis import settings\n"
        "def test_theirs(kernel):\n"
        "    assert kernel.total_pages == 1024\n"
        "    assert settings.get_current_profile_name() == 'deep'\n",
        encoding="utf-8",
    )
    env = {**os.environ, "HYPOTHESIS_PROFILE": "deep"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
