"""A sweep SPEC: a TOML file naming the points to run.

Theory of operation
-------------------
A SPEC has a ``kind`` (``"fs"`` or ``"explore"``, see
:mod:`pvnsim.sweep.params`), replicate ``seeds`` (a count or a list of
ints), and its points:

``[defaults]``
    parameters every point gets (scalars);
``[grid]``
    a list value is an axis, a scalar is fixed; the points are the product
    of the axes, in file order, the last axis varying fastest;
``[[points]]``
    one table per point (scalars), after the grid's points;
``[plot]``
    what ``pvnsim sweep --plot`` draws: ``x`` (a parameter), ``y`` (a
    metric) and optionally ``by`` (the parameters that split the lines).

Each point is run once per seed.  A task's identity is a hash of the kind,
the point's full parameters (defaults filled in, sizes as ints) and its
seed: the first 12 hex digits are the row ``id``, and the next 8 give the
``run_seed`` the run uses, so a row is reproduced alone from the same SPEC
(``pvnsim sweep SPEC --only ID``).

Every problem is a :class:`SpecError` that names the file and the line.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from pvnsim.errors import UsageError
from pvnsim.sweep.params import KINDS, PARAMS, coerce, defaults
from pvnsim.sweep.scenarios import get_scenario

__all__ = ["PlotSpec", "Spec", "SpecError", "Task", "load_spec", "parse_spec"]

_TOP = ("kind", "name", "seeds", "defaults", "grid", "points", "plot")


class SpecError(UsageError):
    """A SPEC that cannot be run; the message starts with ``FILE:LINE:``
    (``FILE:`` alone when the file itself cannot be read).

    Attributes:
        path: the SPEC's file name (``<spec>`` for a string).
        line: the line the problem is on (1-based); 0 when the problem is
            not on a line (the file cannot be read).
        problem: the message without the location.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@attrs.frozen
class Task:
    """One run of a sweep: a point and a seed.

    Attributes:
        id: 12 hex digits, stable for the same kind, parameters and seed.
        kind: ``"fs"`` or ``"explore"``.
        params: the point's parameters, in column order.
        seed: the replicate seed named by the SPEC.
        run_seed: the seed the run uses, derived from all of the above.
    """

    id: str
    kind: str
    params: tuple[tuple[str, Any], ...]
    seed: int
    run_seed: int

    @property
    def values(self) -> dict[str, Any]:
        """The parameters as a dict."""
        return dict(self.params)


def task_identity(kind: str, params: dict[str, Any], seed: int) -> tuple[str, int]:
    """The row id and run seed of a point (see the module docstring).

    >>> task_identity("fs", {"memory": 8 << 20}, 0) == task_identity("fs", {"memory": 8 << 20}, 0)
    True
    """
    text = json.dumps([kind, sorted(params.items()), seed], separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return digest[:12], int(digest[12:20], 16)


@attrs.frozen
class PlotSpec:
    """What ``pvnsim sweep --plot`` draws (see :func:`pvnsim.viz.plots.plot_sweep`)."""

    x: str | None = None
    y: str | None = None
    by: tuple[str, ...] | None = None


@attrs.frozen
class Spec:
    """A parsed SPEC.

    Attributes:
        path: the file it came from (``<spec>`` for a string).
        kind: ``"fs"`` or ``"explore"``.
        name: a title for reports and plots.
        tasks: every task, in SPEC order.
        columns: the parameter columns of the results, in order.
        axes: the parameters that vary between points.
        plot: the SPEC's ``[plot]`` table.
    """

    path: str
    kind: str
    name: str
    tasks: tuple[Task, ...]
    columns: tuple[str, ...]
    axes: tuple[str, ...]
    plot: PlotSpec


class _Lines:
    """Where each table header and key of a TOML text is, for messages.

    tomllib keeps no positions, so the text is scanned once: headers
    (``[grid]``, ``[[points]]``, counted) and ``key =`` lines at the start
    of a line.  A place not found falls back to its table, then to line 1.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.where: dict[tuple[Any, ...], int] = {}
        table: tuple[Any, ...] = ()
        arrays: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            m = self._HEADER.match(line)
            if m is not None:
                name = m.group(2).strip("\"'")
                if m.group(1) == "[[":
                    arrays[name] = arrays.get(name, -1) + 1
                    table = (name, arrays[name])
                else:
                    table = (name,)
                self.where.setdefault(table, number)
                continue
            m = self._KEY.match(line)
            if m is not None:
                self.where.setdefault((*table, m.group(1).strip("\"'")), number)

    def line(self, *place: Any) -> int:
        """The line of ``place`` (a table path, then a key), or of its table."""
        while place:
            if place in self.where:
                return self.where[place]
            place = place[:-1]
        return 1


class _Parser:
    def __init__(self, text: str, path: str, directory: str | None = None) -> None:
        self.path = path
        self.directory = directory
        try:
            self.doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"line (\d+)", str(e))
            raise SpecError(path, int(m.group(1)) if m else 1, f"not valid TOML: {e}") from None
        self.lines = _Lines(text)

    def fail(self, problem: str, *place: Any) -> SpecError:
        return SpecError(self.path, self.lines.line(*place), problem)

    def table(self, key: str) -> dict[str, Any]:
        value = self.doc.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(f"{key} must be a table ([{key}])", key)
        return value

    def value(self, kind: str, value: object, *place: Any) -> object:
        name = place[-1]
        known = PARAMS[kind]
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.fail(
                f"unknown parameter {name!r} for {kind} sweeps{hint} (known: {', '.join(known)})",
                *place,
            )
        try:
            out = coerce(known[name], value)
            if name == "scenario":
                get_scenario(str(out), beside=self.directory)
        except UsageError as e:
            raise self.fail(str(e), *place) from None
        return out

    def scalars(self, kind: str, table: dict[str, Any], *where: Any) -> dict[str, Any]:
        out = {}
        for key, value in table.items():
            if isinstance(value, list | dict):
                raise self.fail(
                    f"{key} must be a single value here, not a list or table", *where, key
                )
            out[key] = self.value(kind, value, *where, key)
        return out

    def kind(self) -> str:
        for key in self.doc:
            if key not in _TOP:
                raise self.fail(f"unknown key {key!r} (a SPEC has: {', '.join(_TOP)})", key)
        kind = self.doc.get("kind", "fs")
        if kind not in KINDS:
            raise self.fail(
                f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}", "kind"
            )
        return str(kind)

    def seeds(self) -> list[int]:
        seeds = self.doc.get("seeds", [0])
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise self.fail(f"seeds must be at least 1, not {seeds}", "seeds")
            return list(range(seeds))
        if not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds
        ):
            raise self.fail(f"seeds must be a count or a list of integers, not {seeds!r}", "seeds")
        if not seeds:
            raise self.fail("seeds is empty: the sweep would run nothing", "seeds")
        if len(set(seeds)) != len(seeds):
            raise self.fail(f"seeds repeats a seed: {seeds}", "seeds")
        return seeds

    def grid(self, kind: str) -> list[tuple[dict[str, Any], int]]:
        if "grid" not in self.doc:
            return []
        grid = self.table("grid")
        if not grid:
            raise self.fail("[grid] is empty: give each axis a list of values", "grid")
        fixed: dict[str, Any] = {}
        axes: list[tuple[str, list[Any]]] = []
        for key, value in grid.items():
            if isinstance(value, dict):
                raise self.fail(
                    f"{key} must be a value or a list of values, not a table", "grid", key
                )
            if not isinstance(value, list):
                fixed[key] = self.value(kind, value, "grid", key)
                continue
            if not value:
                raise self.fail(f"{key} = [] is empty: the grid has no points", "grid", key)
            axes.append((key, [self.value(kind, v, "grid", key) for v in value]))
        line = self.lines.line("grid")
        names = [name for name, _ in axes]
        return [
            ({**fixed, **dict(zip(names, combo, strict=True))}, line)
            for combo in itertools.product(*(values for _, values in axes))
        ]

    def points(self, kind: str) -> list[tuple[dict[str, Any], int]]:
        points = self.doc.get("points", [])
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise self.fail("points must be an array of tables ([[points]])", "points")
        return [
            (self.scalars(kind, p, "points", i), self.lines.line("points", i))
            for i, p in enumerate(points)
        ]

    def plot(self, columns: list[str]) -> PlotSpec:
        table = self.table("plot")
        for key in table:
            if key not in ("x", "y", "by"):
                raise self.fail(f"unknown key {key!r} in [plot] (known: x, y, by)", "plot", key)
        x, y, by = table.get("x"), table.get("y"), table.get("by")
        if x is not None and x not in columns:
            raise self.fail(f"plot x {x!r} is not a parameter of this sweep", "plot", "x")
        if y is not None and not isinstance(y, str):
            raise self.fail(f"plot y must be a metric name, not {y!r}", "plot", "y")
        if by is not None and (
            not isinstance(by, list) or not all(isinstance(b, str) and b in columns for b in by)
        ):
            raise self.fail(
                f"plot by must be a list of parameters of this sweep, not {by!r}", "plot", "by"
            )
        return PlotSpec(x, y, tuple(by) if by is not None else None)


def _tasks(kind: str, points: list[dict[str, Any]], seeds: list[int]) -> Iterator[Task]:
    for params in points:
        for seed in seeds:
            tid, run_seed = task_identity(kind, params, seed)
            yield Task(tid, kind, tuple(params.items()), seed, run_seed)


def parse_spec(text: str, path: str = "<spec>", *, directory: str | None = None) -> Spec:
    """Parse a SPEC from its TOML text.

    Args:
        text: the TOML.
        path: the name used in messages and replay commands.
        directory: where a scenario's module that is not on ``sys.path`` is
            looked for (:func:`load_spec`: the SPEC's directory); when found
            there, the directory is added to ``sys.path``.

    Returns:
        The :class:`Spec`, with every task.

    Raises:
        SpecError: invalid TOML, an unknown key or parameter, a value of the
            wrong type or range, an empty grid, a repeated point, or a
            scenario that cannot be found; the message names the line.
    """
    p = _Parser(text, path, directory)
    kind = p.kind()
    seeds = p.seeds()
    name = p.doc.get("name", Path(path).stem)
    if not isinstance(name, str):
        raise p.fail(f"name must be a string, not {name!r}", "name")
    base = {**defaults(kind), **p.scalars(kind, p.table("defaults"), "defaults")}
    found = p.grid(kind) + p.points(kind)
    if not found:
        raise p.fail("the SPEC names no points: add a [grid] table or [[points]] tables")
    order = list(PARAMS[kind])
    columns = sorted({k for params, _ in found for k in params} | set(base), key=order.index)
    full: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for params, line in found:
        merged = {**base, **params}
        point = {k: merged[k] for k in columns if k in merged}
        key = json.dumps(sorted(point.items()))
        if key in seen:
            raise SpecError(path, line, f"a point repeats the point of line {seen[key]}: {point}")
        seen[key] = line
        full.append(point)
    axes = tuple(c for c in columns if len({json.dumps(pt.get(c)) for pt in full}) > 1)
    plot = p.plot(columns)
    return Spec(path, kind, name, tuple(_tasks(kind, full, seeds)), tuple(columns), axes, plot)


def load_spec(path: str | Path) -> Spec:
    """Read and parse the SPEC file at ``path`` (see :func:`parse_spec`).

    A scenario's module (``"module:name"``) not on ``sys.path`` is looked
    for beside the SPEC.

    Raises:
        SpecError: the file cannot be read or is not a valid SPEC.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(str(path), 0, f"cannot read the SPEC: {e.strerror or e}") from None
    return parse_spec(text, str(path), directory=str(Path(path).parent))
