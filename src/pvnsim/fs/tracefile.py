"""The trace file format: workloads as text, one operation per line.

Format (documented in docs/fs.md)::

    # comment; blank lines are ignored
    create NAME [SIZE [TAG]]
    write NAME OFF LEN [TAG]
    read NAME OFF LEN
    fsync NAME
    sync
    truncate NAME SIZE
    invalidate NAME
    free NAME OFF LEN
    load NAME OFF [LEN]
    store NAME OFF [LEN [TAG]]
    munmap NAME
    sleep DURATION
    pressure PAGES
    fail read|write|any NAME OFF [TIMES|permanent]

Numbers are decimal or ``0x`` hexadecimal, with an optional binary suffix
``K``, ``M``, ``G`` (sizes and offsets) or a unit ``ns``, ``us``, ``ms``,
``s`` (durations, default ns).  A write or store without a TAG uses its line
number.  :func:`format_trace` writes every field, so
``parse_trace(format_trace(ops)) == ops``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pvnsim.errors import UsageError
from pvnsim.fs.workload import Op

__all__ = ["format_trace", "load_trace", "parse_size", "parse_trace", "save_trace"]

_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

# name -> (required fields, optional fields); fields: F file, O off, L length,
# T tag, A arg (fault kind), D duration (into length), P pages (into length).
_SYNTAX: dict[str, tuple[str, str]] = {
    "create": ("F", "LT"),
    "write": ("FOL", "T"),
    "read": ("FOL", ""),
    "fsync": ("F", ""),
    "sync": ("", ""),
    "truncate": ("FL", ""),
    "invalidate": ("F", ""),
    "free": ("FOL", ""),
    "load": ("FO", "L"),
    "store": ("FO", "LT"),
    "munmap": ("F", ""),
    "sleep": ("D", ""),
    "pressure": ("P", ""),
    "fail": ("AFO", "T"),
}


def parse_size(text: str) -> int:
    """A non-negative size: ``4096``, ``0x1000``, ``64K``, ``1G``.

    >>> parse_size("64K")
    65536

    Raises:
        UsageError: not a size.
    """
    t = text.strip().lower()
    mult = 1
    if t and t[-1] in _SUFFIX:
        mult = _SUFFIX[t[-1]]
        t = t[:-1]
        if t.endswith("i"):
            t = t[:-1]
    try:
        value = int(t, 0)
    except ValueError:
        raise UsageError(f"{text!r} is not a size (examples: 4096, 0x1000, 64K, 1G)") from None
    if value < 0:
        raise UsageError(f"{text!r}: sizes must not be negative")
    return value * mult


def _duration(text: str) -> int:
    t = text.strip().lower()
    scale = 1
    for unit in ("ns", "us", "ms", "s"):
        if t.endswith(unit):
            t, scale = t[: -len(unit)], _UNITS[unit]
            break
    try:
        value = float(t) if scale > 1 else float(int(t, 0))
    except ValueError:
        value = -1.0
    if value < 0:
        raise UsageError(f"{text!r} is not a duration (examples: 500, 20us, 1.5ms, 2s)")
    return int(value * scale)


def _parse_line(words: list[str], lineno: int) -> Op:
    kind = words[0]
    if kind not in _SYNTAX:
        raise UsageError(f"unknown operation {kind!r}; known: {', '.join(_SYNTAX)}")
    required, optional = _SYNTAX[kind]
    args = words[1:]
    if not len(required) <= len(args) <= len(required) + len(optional):
        usage = " ".join([kind, *required, *(f"[{o}]" for o in optional)])
        raise UsageError(f"{kind} takes {usage} (F file, O offset, L length, T tag, ...)")
    fields: dict[str, object] = {"tag": lineno if kind in ("write", "store") else 0}
    for code, text in zip(required + optional, args, strict=False):
        if code == "F":
            fields["file"] = text
        elif code == "O":
            fields["off"] = parse_size(text)
        elif code in "LP":
            fields["length"] = parse_size(text)
        elif code == "D":
            fields["length"] = _duration(text)
        elif code == "T":
            fields["tag"] = 0 if text == "permanent" else parse_size(text)
        elif code == "A":
            if text not in ("read", "write", "any"):
                raise UsageError(f"fail: kind must be read, write or any, not {text!r}")
            fields["arg"] = text
    if kind == "fail" and len(args) < 4:
        fields["tag"] = 1  # one failure unless TIMES says otherwise
    return Op(kind, **fields)  # type: ignore[arg-type]


def parse_trace(text: str, *, source: str = "trace") -> list[Op]:
    """Parse a trace; errors name the line.

    Raises:
        UsageError: ``source line N: what is wrong``.
    """
    ops = []
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            ops.append(_parse_line(words, lineno))
        except UsageError as e:
            raise UsageError(f"{source} line {lineno}: {e}") from None
    return ops


def _format_op(op: Op) -> str:
    kind = op.kind
    required, optional = _SYNTAX[kind]
    words = [kind]
    for code in required + optional:
        if code == "F":
            words.append(op.file)
        elif code == "O":
            words.append(str(op.off))
        elif code in "LPD":
            words.append(str(op.length))
        elif code == "T":
            words.append("permanent" if kind == "fail" and op.tag == 0 else str(op.tag))
        elif code == "A":
            words.append(op.arg or "write")
    return " ".join(words)


def format_trace(ops: Iterable[Op]) -> str:
    """The trace text of ``ops`` (every field written out)."""
    return "".join(_format_op(op) + "\n" for op in ops)


def load_trace(path: str | os.PathLike[str]) -> list[Op]:
    """Read and parse a trace file.

    Raises:
        UsageError: the file cannot be read or does not parse.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read trace file {os.fspath(path)!r}: {e.strerror}") from None
    return parse_trace(text, source=os.fspath(path))


def save_trace(path: str | os.PathLike[str], ops: Iterable[Op]) -> None:
    """Write ``ops`` as a trace file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# pvnsim trace\n")
        f.write(format_trace(ops))
