"""The C integer types vm_pvn.c computes with, as they behave on amd64 (LP64).

Python's ints never overflow; C's wrap.  A port writes each C expression so
that it yields what the C type would hold:

* the unsigned 64-bit types (``u_offset_t``, ``size_t``, ``pgcnt_t``,
  ``uintptr_t`` and the addresses ``caddr_t``) as a mask: ``x & U_OFFSET_T``
  is ``x`` converted to ``u_offset_t`` (taken modulo 2^64);
* the signed ones as a function: ``ssize_t(x)``, ``spgcnt_t(x)`` (64 bits)
  and ``int_t(x)`` (32 bits) take ``x`` modulo 2^n into the type's range,
  the two's complement conversion every illumos compiler performs.

Masks for the unsigned types because they sit in the loops run once per
page (an ``&`` costs far less than a call); the signed conversions happen a
few times per call.

>>> (0xFFFF_FFFF_FFFF_F000 + 0x2000) & U_OFFSET_T
4096
>>> ssize_t(U_OFFSET_T), int_t(1 << 31)
(-1, -2147483648)
"""

from __future__ import annotations

__all__ = [
    "CADDR_T",
    "PGCNT_T",
    "SIZE_T",
    "UINT_T",
    "U_OFFSET_T",
    "in_range",
    "int_t",
    "spgcnt_t",
    "ssize_t",
]

_B64 = 1 << 64
_B63 = 1 << 63
_B32 = 1 << 32
_B31 = 1 << 31

#: ``x & U_OFFSET_T``: ``x`` as a u_offset_t (unsigned long long, 64 bits).
U_OFFSET_T = _B64 - 1
#: ``x & SIZE_T``: ``x`` as a size_t (unsigned long).
SIZE_T = _B64 - 1
#: ``x & PGCNT_T``: ``x`` as a pgcnt_t (unsigned long; also uintptr_t).
PGCNT_T = _B64 - 1
#: ``x & CADDR_T``: ``x`` as an address (caddr_t, a 64-bit pointer).
CADDR_T = _B64 - 1
#: ``x & UINT_T``: ``x`` as a uint_t (32 bits).
UINT_T = _B32 - 1


def ssize_t(x: int) -> int:
    """``x`` converted to ssize_t (signed long, 64 bits)."""
    x &= _B64 - 1
    return x - _B64 if x >= _B63 else x


def spgcnt_t(x: int) -> int:
    """``x`` converted to spgcnt_t (signed long, 64 bits)."""
    x &= _B64 - 1
    return x - _B64 if x >= _B63 else x


def int_t(x: int) -> int:
    """``x`` converted to int (32 bits)."""
    x &= _B32 - 1
    return x - _B32 if x >= _B31 else x


#: The values each C type can hold, for the checks at the public boundary.
_RANGES: dict[str, tuple[int, int]] = {
    "u_offset_t": (0, U_OFFSET_T),
    "size_t": (0, SIZE_T),
    "caddr_t": (0, CADDR_T),
    "pgcnt_t": (0, PGCNT_T),
    "ssize_t": (-_B63, _B63 - 1),
    "int": (-_B31, _B31 - 1),
    "uint_t": (0, UINT_T),
}


def in_range(ctype: str, x: int) -> bool:
    """Whether a C variable of type ``ctype`` can hold ``x``."""
    low, high = _RANGES[ctype]
    return low <= x <= high
