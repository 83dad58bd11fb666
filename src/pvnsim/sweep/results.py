"""Tidy results: one row per task, in CSV and JSON lines side by side.

The JSON lines file (``BASE.jsonl``) is the record; the CSV file
(``BASE.csv``) is written alongside for spreadsheets and data frames.  Both
are appended to, and flushed, as each row arrives, so an interrupted sweep
keeps every row that finished.  When a sweep starts on existing results it
reads the JSON lines (ignoring a torn last line), rewrites both files from
them, and skips the tasks whose rows are there.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from pvnsim.sweep.spec import Spec, Task
from pvnsim.sweep.tasks import metric_columns

__all__ = ["ResultsFiles", "columns", "make_row", "replay_command"]

#: The last columns of every row.
_TAIL = ("error", "schedule", "replay")


def columns(spec: Spec) -> list[str]:
    """The columns of ``spec``'s results, in order."""
    return [
        "id",
        "kind",
        *spec.columns,
        "seed",
        "run_seed",
        "status",
        "wall_s",
        *metric_columns(spec.kind),
        *_TAIL,
    ]


def replay_command(spec: Spec, task: Task) -> str:
    """The command that runs ``task`` again, alone."""
    return f"pvnsim sweep {shlex.quote(spec.path)} --only {task.id}"


def make_row(spec: Spec, task: Task, outcome: dict[str, Any]) -> dict[str, Any]:
    """A results row: the task's parameters, then its outcome, in column order."""
    data: dict[str, Any] = {
        "id": task.id,
        "kind": task.kind,
        **task.values,
        "seed": task.seed,
        "run_seed": task.run_seed,
        **outcome,
        "replay": replay_command(spec, task),
    }
    return {name: data.get(name) for name in columns(spec)}


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class ResultsFiles:
    """The pair of files ``BASE.csv`` and ``BASE.jsonl`` of one sweep.

    Args:
        base: the common path without suffix.
        header: the CSV columns.
    """

    def __init__(self, base: str | Path, header: Sequence[str]) -> None:
        self.base = Path(base)
        self.csv_path = self.base.with_name(self.base.name + ".csv")
        self.jsonl_path = self.base.with_name(self.base.name + ".jsonl")
        self.header = list(header)
        self._csv: IO[str] | None = None
        self._jsonl: IO[str] | None = None
        self._writer: Any = None

    def load(self) -> list[dict[str, Any]]:
        """The rows already in ``BASE.jsonl`` (none if it does not exist)."""
        if not self.jsonl_path.exists():
            return []
        rows = []
        for line in self.jsonl_path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill; its task runs again
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                rows.append(row)
        return rows

    def open(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rewrite both files with ``rows`` and keep them open for :meth:`append`."""
        self.base.parent.mkdir(parents=True, exist_ok=True)
        self._jsonl = self.jsonl_path.open("w", encoding="utf-8")
        self._csv = self.csv_path.open("w", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._csv, self.header, extrasaction="ignore")
        self._writer.writeheader()
        for row in rows:
            self._write(row)
        self._flush()

    def append(self, row: dict[str, Any]) -> None:
        """Add one row to both files and flush them."""
        self._write(row)
        self._flush()

    def _write(self, row: dict[str, Any]) -> None:
        assert self._jsonl is not None
        self._jsonl.write(json.dumps(row) + "\n")
        self._writer.writerow({k: _csv_value(row.get(k)) for k in self.header})

    def _flush(self) -> None:
        assert self._jsonl is not None and self._csv is not None
        self._jsonl.flush()
        self._csv.flush()

    def close(self) -> None:
        """Close both files."""
        for f in (self._jsonl, self._csv):
            if f is not None:
                f.close()
        self._jsonl = self._csv = None
