"""pvnsim.testing's public names resolve, and only pvnsim.testing needs Hypothesis."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pvnsim.testing


def test_every_listed_name_resolves() -> None:
    """Each name of pvnsim.testing.__all__ imports, and __all__ lists each once."""
    assert len(pvnsim.testing.__all__) == len(set(pvnsim.testing.__all__))
    missing = [name for name in pvnsim.testing.__all__ if not hasattr(pvnsim.testing, name)]
    assert missing == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name pvnsim.testing does not export raises AttributeError naming it."""
    with pytest.raises(AttributeError, match="no attribute 'check_everything'"):
        pvnsim.testing.check_everything  # noqa: B018


def test_importing_pvnsim_does_not_import_hypothesis() -> None:
    """``import pvnsim`` and ``import pvnsim.testing`` leave Hypothesis unimported."""
    code = (
        "import sys, pvnsim, pvnsim.testing\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
