"""pvnsim's pytest plugin: prefixed profiles, the pvn_kernel fixture, and user projects left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pvnsim import Kernel
from pvnsim.testing.plugin import PROFILES, profile_to_load, register_profiles


def test_profiles_are_registered_under_the_prefix() -> None:
    """pvnsim-dev, pvnsim-ci and pvnsim-deep carry the settings docs/testing.md gives them."""
    dev, ci, deep = (settings.get_profile(name) for name in PROFILES)
    assert list(PROFILES) == ["pvnsim-dev", "pvnsim-ci", "pvnsim-deep"]
    assert (dev.max_examples, dev.deadline) == (50, None)
    assert (ci.max_examples, ci.deadline, ci.derandomize) == (100, None, True)
    assert HealthCheck.too_slow in ci.suppress_health_check
    assert (deep.max_examples, deep.deadline) == (2000, None)


def test_hypothesis_own_ci_profile_is_untouched() -> None:
    """The plugin does not register a profile named ``ci``: Hypothesis's own stays.

    Hypothesis's built-in ``ci`` profile prints the reproduction blob and has no
    example database; the profile pvnsim used to register there had neither.
    """
    ci = settings.get_profile("ci")
    assert ci.print_blob is True
    assert ci.database is None


def test_a_profile_registered_before_is_kept() -> None:
    """register_profiles() leaves a ``pvnsim-ci`` somebody else registered as it was."""
    ours = settings.get_profile("pvnsim-ci")
    try:
        settings.register_profile("pvnsim-ci", max_examples=3)
        assert register_profiles() is True
        assert settings.get_profile("pvnsim-ci").max_examples == 3
    finally:
        settings.register_profile("pvnsim-ci", ours)


@pytest.mark.parametrize(
    ("env", "ini", "expected"),
    [
        ("pvnsim-ci", "pvnsim-dev", "pvnsim-ci"),  # the variable names one of ours
        ("pvnsim-deep", "", "pvnsim-deep"),  # also in a project that did not opt in
        ("ci", "pvnsim-dev", None),  # the user's own profile: theirs to load
        ("ci", "", None),
        (None, "pvnsim-dev", "pvnsim-dev"),  # the project's ini option
        ("", "pvnsim-dev", "pvnsim-dev"),  # an empty variable counts as unset
        (None, "", None),  # nothing asked: Hypothesis's choice stays
    ],
)
def test_which_profile_is_loaded(env: str | None, ini: str, expected: str | None) -> None:
    """The plugin loads a pvnsim- profile named by HYPOTHESIS_PROFILE, else the ini option."""
    assert profile_to_load(env, ini) == expected


def test_this_session_loaded_the_profile_ci_or_pyproject_names() -> None:
    """Here: HYPOTHESIS_PROFILE=pvnsim-ci under .ci/run, else pyproject's pvnsim-dev."""
    env = os.environ.get("HYPOTHESIS_PROFILE")
    if env and env.startswith("pvnsim-"):
        assert settings.get_current_profile_name() == env
    elif not env:
        assert settings.get_current_profile_name() == "pvnsim-dev"
    else:
        assert settings.get_current_profile_name() != "pvnsim-dev"


def test_pvn_kernel_fixture_is_a_fresh_1024_page_kernel(pvn_kernel: Kernel) -> None:
    """The fixture is 1024 pages of 4 KiB with illumos thresholds and nothing in it.

    lotsfree = max(1024/64, 512 KiB / 4 KiB) = 128, desfree 64, minfree 32.
    """
    k = pvn_kernel
    assert (k.total_pages, k.pagesize, k.freemem) == (1024, 4096, 1024)
    assert (k.lotsfree, k.desfree, k.minfree) == (128, 64, 32)
    assert k.vnodes == []


def _run_pytest(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A user's CI environment would make Hypothesis load its own "ci" profile at
    # import; leave it out so the profile seen is only what conftest and plugin do.
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(project)],
        cwd=project,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_user_project_keeps_its_ci_profile_and_kernel_fixture(tmp_path: Path) -> None:
    """A project with its own ``ci`` profile and ``kernel`` fixture gets both, untouched.

    Its conftest registers ``ci`` (7 examples) and loads whatever its
    HYPOTHESIS_PROFILE says; pvnsim adds only prefixed names next to them.
    """
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            import os
            import pytest
            from hypothesis import settings

            settings.register_profile("ci", max_examples=7)
            settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

            @pytest.fixture
            def kernel():
                return "their kernel"
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "test_theirs.py").write_text(
        textwrap.dedent(
            """
            from hypothesis import settings
            from pvnsim import Kernel

            def test_their_profile_is_loaded():
                assert settings.get_current_profile_name() == "ci"
                assert settings.default.max_examples == 7

            def test_their_kernel_fixture(kernel):
                assert kernel == "their kernel"

            def test_pvnsim_adds_only_prefixed_names(pvn_kernel):
                assert isinstance(pvn_kernel, Kernel)
                assert settings.get_profile("pvnsim-ci").max_examples == 100
            """
        ),
        encoding="utf-8",
    )
    run = _run_pytest(tmp_path, {"HYPOTHESIS_PROFILE": "ci"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


def test_a_project_without_them_gets_no_kernel_fixture_and_no_profile(tmp_path: Path) -> None:
    """Without a conftest, ``kernel`` is not a fixture and HYPOTHESIS_PROFILE=ci is not loaded
    by pvnsim; HYPOTHESIS_PROFILE=pvnsim-deep is."""
    (tmp_path / "test_bare.py").write_text(
        textwrap.dedent(
            """
            import os
            from hypothesis import settings

            def test_profile():
                want = os.environ["WANT_PROFILE"]
                assert settings.get_current_profile_name() == want

            def test_kernel(kernel):
                pass
            """
        ),
        encoding="utf-8",
    )
    run = _run_pytest(tmp_path, {"HYPOTHESIS_PROFILE": "ci", "WANT_PROFILE": "default"})
    assert "fixture 'kernel' not found" in run.stdout, run.stdout + run.stderr
    assert "1 passed, 1 error" in run.stdout, run.stdout
    run = _run_pytest(
        tmp_path, {"HYPOTHESIS_PROFILE": "pvnsim-deep", "WANT_PROFILE": "pvnsim-deep"}
    )
    assert "1 passed, 1 error" in run.stdout, run.stdout + run.stderr
