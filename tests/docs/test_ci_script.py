"""The CI script runs the README's two commands, and a failure of either fails CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block is not None, "README.md opens with a ```sh block of two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands() -> None:
    """One installs and runs the demonstration, one runs the tests."""
    install, tests = _readme_commands()
    assert "pip install" in install and "python -m pvnsim" in install
    assert "pytest" in tests


def test_ci_runs_each_readme_command_and_stops_when_it_fails() -> None:
    """Each README command stands in .ci/run as written, followed by ``|| exit 1``:
    under ``set -e`` bash does not stop when the first command of an ``&&``
    list fails, so without it a failing test run would let CI pass."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in _readme_commands():
        assert f"{command} || exit 1" in lines, command
