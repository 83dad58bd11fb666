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
``K``, ``M``, ``G``, ``T``, ``P`` (sizes and offsets, at most 2**63 - 1) or
a unit ``ns``, ``us``, ``ms``, ``s`` (durations, default ns).  A write or
store without a TAG uses its line number.  :func:`format_trace` writes every field, so
``parse_trace(format_trace(ops)) == ops``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable

from pvnsim.errors import UsageError
from pvnsim.fs.workload import Op

__all__ = [
    "MAXOFFSET",
    "MAXTAG",
    "format_trace",
    "load_trace",
    "parse_duration",
    "parse_size",
    "parse_trace",
    "save_trace",
]

#: The largest file offset (illumos ``MAXOFFSET_T``, 2**63 - 1): sizes, and
#: offset plus length, stay at or below it.
MAXOFFSET = (1 << 63) - 1
#: The largest tag: the data pattern stores it in 64 bits.
MAXTAG = (1 << 64) - 1

_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE = re.compile(r"(?:0x([0-9a-f_]+)|([0-9][0-9_]*))([kmgtp]?)(?:i?b)?", re.ASCII)
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION = re.compile(
    r"(?:0x([0-9a-f_]+)|([0-9][0-9_]*)|([0-9][0-9_]*\.[0-9_]*(?:e[+-]?[0-9]+)?|"
    r"\.[0-9]+(?:e[+-]?[0-9]+)?|[0-9][0-9_]*e[+-]?[0-9]+))\s*(ns|us|µs|ms|s)?"
)

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
_LEGEND = "F file name, O offset, L length, T tag, D duration, P pages, A read|write|any"


def _number(text: str) -> int:
    """A non-negative number with an optional binary suffix, of any size."""
    t = text.strip().lower()
    m = _SIZE.fullmatch(t)
    try:
        if m is None:
            raise ValueError(t)
        hexa, dec, suffix = m.groups()
        return (int(hexa, 16) if hexa is not None else int(dec, 10)) * _SUFFIX[suffix]
    except ValueError:
        if t.startswith("-") and _SIZE.fullmatch(t[1:]):
            raise UsageError(f"{text!r}: sizes must not be negative") from None
        raise UsageError(f"{text!r} is not a size (examples: 4096, 0x1000, 64K, 1G)") from None


def parse_size(text: str) -> int:
    """A size or offset in bytes: ``4096``, ``0x1000``, ``64K``, ``1G``, ``2GiB``.

    The suffixes K, M, G, T, P are binary (``1K`` is 1024) and may be
    followed by ``B`` or ``iB``; case does not matter.

    >>> parse_size("64K")
    65536

    Raises:
        UsageError: not a size, negative, or above :data:`MAXOFFSET`.
    """
    value = _number(text)
    if value > MAXOFFSET:
        raise UsageError(f"{text!r} is too large: sizes and offsets stop at 2**63 - 1 bytes")
    return value


def parse_duration(text: str, *, unit: str = "ns") -> int:
    """A duration in whole nanoseconds: ``500``, ``20us``, ``1.5ms``, ``2s``.

    Args:
        text: a non-negative number (decimal, ``0x`` hexadecimal, or with a
            fraction or exponent) and an optional unit ``ns``, ``us``, ``ms``
            or ``s``.
        unit: the unit of a number written without one.

    >>> parse_duration("1.5ms")
    1500000
    >>> parse_duration("30", unit="s")
    30000000000

    Raises:
        UsageError: not a finite, non-negative duration.
    """
    m = _DURATION.fullmatch(text.strip().lower())
    try:
        if m is None:
            raise ValueError(text)
        hexa, whole, real, given = m.groups()
        scale = _UNITS[given or unit]
        if hexa is not None or whole is not None:
            # Integers stay exact at any size.
            return (int(hexa, 16) if hexa is not None else int(whole, 10)) * scale
        value = float(real) * scale
        if not math.isfinite(value):
            raise ValueError(text)
        return int(value)
    except ValueError:
        if text.strip().startswith("-") and _DURATION.fullmatch(text.strip()[1:].lower()):
            raise UsageError(f"{text!r}: durations must not be negative") from None
        raise UsageError(f"{text!r} is not a duration (examples: 500, 20us, 1.5ms, 2s)") from None


def _check_range(kind: str, fields: dict[str, object]) -> None:
    off = fields.get("off", 0)
    length = fields.get("length", 0)
    tag = fields.get("tag", 0)
    assert isinstance(off, int) and isinstance(length, int) and isinstance(tag, int)
    if kind not in ("sleep", "pressure") and off + length > MAXOFFSET:
        raise UsageError(
            f"{kind}: offset {off} + length {length} passes the largest file offset, 2**63 - 1"
        )
    if tag > MAXTAG:
        raise UsageError(f"{kind}: the tag {tag} does not fit in 64 bits")


def _parse_line(words: list[str], lineno: int) -> Op:
    kind = words[0]
    if kind not in _SYNTAX:
        raise UsageError(f"unknown operation {kind!r}; known: {', '.join(_SYNTAX)}")
    required, optional = _SYNTAX[kind]
    args = words[1:]
    if not len(required) <= len(args) <= len(required) + len(optional):
        usage = " ".join([kind, *required, *(f"[{o}]" for o in optional)])
        given = f"{len(args)} argument{'s' if len(args) != 1 else ''}"
        raise UsageError(f"{kind} takes {usage} ({_LEGEND}), not {given}")
    fields: dict[str, object] = {"tag": lineno if kind in ("write", "store") else 0}
    for code, text in zip(required + optional, args, strict=False):
        if code == "F":
            fields["file"] = text
        elif code == "O":
            fields["off"] = parse_size(text)
        elif code in "LP":
            fields["length"] = parse_size(text)
        elif code == "D":
            fields["length"] = parse_duration(text)
        elif code == "T":
            fields["tag"] = 0 if text == "permanent" else _number(text)
        elif code == "A":
            if text not in ("read", "write", "any"):
                raise UsageError(f"fail: kind must be read, write or any, not {text!r}")
            fields["arg"] = text
    if kind == "fail" and len(args) < 4:
        fields["tag"] = 1  # one failure unless TIMES says otherwise
    _check_range(kind, fields)
    return Op(kind, **fields)  # type: ignore[arg-type]


def parse_trace(text: str, *, source: str = "trace") -> list[Op]:
    """Parse a trace; errors name the line.

    Lines are separated by newlines (a carriage return before one is
    ignored as white space), so line numbers agree with an editor's.

    Raises:
        UsageError: ``source line N: what is wrong``.
    """
    ops = []
    for lineno, line in enumerate(text.split("\n"), 1):
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


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise UsageError(
            f"{source} line {lineno}: not UTF-8 text (byte {data[e.start]:#04x} at column "
            f"{column}); a trace file is plain text"
        ) from None


def load_trace(path: str | os.PathLike[str]) -> list[Op]:
    """Read and parse a trace file (UTF-8 text).

    Raises:
        UsageError: the file cannot be read, is not UTF-8 text, or does not
            parse; the message names the file and line.
    """
    source = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read trace file {source!r}: {e.strerror}") from None
    return parse_trace(_decode(data, source), source=source)


def save_trace(path: str | os.PathLike[str], ops: Iterable[Op]) -> None:
    """Write ``ops`` as a trace file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# pvnsim trace\n")
        f.write(format_trace(ops))
