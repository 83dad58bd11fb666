"""Helpers of the sweep tests."""

from __future__ import annotations

import pathlib
import textwrap
from typing import Any

#: docs/examples: the worked SPECs and the lost_update scenario.
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples"


def write_spec(tmp_path: pathlib.Path, text: str, name: str = "spec.toml") -> pathlib.Path:
    """Write a SPEC (dedented) into ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: pathlib.Path, needle: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``needle``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path}")


def without_wall_time(rows: Any) -> list[dict[str, Any]]:
    """Rows minus the only column that may differ between two runs: wall time."""
    return [{k: v for k, v in row.items() if k != "wall_s"} for row in rows]


#: A small fs sweep with one point the kit refuses (64K holds 16 pages, under 64).
SMALL_FS = """
    name = "small"
    seeds = 2
    [defaults]
    workload = "randread"
    file_size = "1M"
    io_size = "16K"
    ops = 40
    [grid]
    memory = ["64K", "1M", "4M"]
    maxcontig = [1, 4]
"""
