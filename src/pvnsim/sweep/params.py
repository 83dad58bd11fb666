"""The parameters a sweep point may set, with their types and defaults.

Two kinds of sweep:

``fs``
    one :class:`~pvnsim.fs.Machine` run per point: the workload
    parameters of :func:`~pvnsim.fs.build_workload` (``workload``, ``files``,
    ``file_size``, ``io_size``, ``ops``) and every
    :class:`~pvnsim.fs.SimConfig` field except ``seed``, which comes from the
    point.
``explore``
    one :func:`~pvnsim.concurrency.explore` campaign per point:
    ``scenario``, ``strategy`` (``pct``, ``random``, ``exhaustive``),
    ``budget`` (most runs), ``depth`` (PCT), ``preemption_bound``
    (exhaustive), ``switch_probability`` (random walk) and ``max_steps``.

Sizes (``memory``, ``file_size``, ...) take an int or a string such as
``"64K"`` or ``"16M"``; they are stored as ints, so ``"8M"`` and ``8388608``
are the same point.
"""

from __future__ import annotations

import types
from typing import Any

import attrs

from pvnsim.errors import UsageError
from pvnsim.fs.sim import SimConfig
from pvnsim.fs.tracefile import parse_size
from pvnsim.fs.workload import WORKLOADS

__all__ = ["KINDS", "PARAMS", "Param", "coerce"]

#: What a parameter's value may be.
_TYPE_NAMES = {
    "int": "an integer",
    "size": "a size (an integer or a string such as '64K')",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
}


@attrs.frozen
class Param:
    """One parameter of a sweep point.

    Attributes:
        name: its name in the SPEC and in the results.
        type: ``"int"``, ``"size"``, ``"float"``, ``"bool"`` or ``"str"``.
        default: the value a point gets when the SPEC does not set it
            (``None``: the column is left out unless the SPEC sets it).
        minimum: the smallest value accepted (numbers).
        choices: the values accepted (strings).
    """

    name: str
    type: str
    default: Any = None
    minimum: float | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """What the parameter accepts, for messages."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return _TYPE_NAMES[self.type]


def coerce(param: Param, value: object) -> object:
    """``value`` as ``param`` stores it.

    Raises:
        UsageError: the value has the wrong type or is out of range.
    """
    t = param.type
    out: object
    if t == "size" and isinstance(value, str):
        out = parse_size(value)
    elif t in ("int", "size"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{param.name} must be {param.describe()}, not {value!r}")
        out = value
    elif t == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{param.name} must be {param.describe()}, not {value!r}")
        out = float(value)
    elif t == "bool":
        if not isinstance(value, bool):
            raise UsageError(f"{param.name} must be {param.describe()}, not {value!r}")
        out = value
    else:
        if not isinstance(value, str):
            raise UsageError(f"{param.name} must be {param.describe()}, not {value!r}")
        if param.choices and value not in param.choices:
            raise UsageError(f"{param.name} must be {param.describe()}, not {value!r}")
        out = value
    if param.minimum is not None and isinstance(out, int | float) and out < param.minimum:
        raise UsageError(f"{param.name} must be at least {param.minimum:g}, not {value!r}")
    return out


_SIZES = {"memory", "pagesize", "bsize", "smallfile"}


def _simconfig_params() -> dict[str, Param]:
    fields = attrs.fields(attrs.resolve_types(SimConfig))
    out: dict[str, Param] = {}
    for f in fields:
        if f.name == "seed":
            continue
        ftype = f.type
        if isinstance(ftype, types.UnionType):  # "int | None": a threshold left to illumos
            ftype = int
        name = {bool: "bool", float: "float", int: "int"}[ftype]  # type: ignore[index]
        if f.name in _SIZES:
            name = "size"
        minimum = 0 if name in ("int", "size", "float") else None
        out[f.name] = Param(f.name, name, minimum=minimum)
    # A sweep keeps no disk request log unless asked (it only costs memory).
    out["keep_log"] = Param("keep_log", "bool", default=False)
    return out


_FS_WORKLOAD = {
    "workload": Param("workload", "str", "seq", choices=tuple(WORKLOADS)),
    "files": Param("files", "int", 1, minimum=1),
    "file_size": Param("file_size", "size", 16 << 20, minimum=1),
    "io_size": Param("io_size", "size", 64 << 10, minimum=1),
    "ops": Param("ops", "int", 1000, minimum=0),
}

#: Names of the exploration strategies a SPEC may choose.
STRATEGIES = ("pct", "random", "exhaustive")

_EXPLORE = {
    "scenario": Param("scenario", "str", "two-fsyncs"),
    "strategy": Param("strategy", "str", "pct", choices=STRATEGIES),
    "budget": Param("budget", "int", 100, minimum=1),
    "depth": Param("depth", "int", 3, minimum=1),
    "preemption_bound": Param("preemption_bound", "int", 2, minimum=0),
    "switch_probability": Param("switch_probability", "float", minimum=0),
    "max_steps": Param("max_steps", "int", minimum=1),
}

#: The kinds of sweep and the parameters of each (workload ones first).
PARAMS: dict[str, dict[str, Param]] = {
    "fs": {**_FS_WORKLOAD, **_simconfig_params()},
    "explore": _EXPLORE,
}

KINDS = tuple(PARAMS)


def defaults(kind: str) -> dict[str, object]:
    """The parameters every point of ``kind`` has, with their defaults."""
    return {p.name: p.default for p in PARAMS[kind].values() if p.default is not None}
