"""Argument checks run by every port before it changes anything.

Each check raises :class:`~pvnsim.errors.UsageError` with a message naming the
routine, the argument and the problem.  Preconditions that the C states as
``ASSERT`` at a routine's entry are checked here too, so a bad call leaves the
simulated state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pvnsim.errors import UsageError
from pvnsim.flags import ALL_BUF_FLAGS, P_FREE, PAGE_IO_INUSE, BufFlag, SegRw, flag_names
from pvnsim.vm.cint import U_OFFSET_T, in_range
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG, Page
from pvnsim.vm.vnode import Vnode

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = [
    "check_aligned",
    "check_callable",
    "check_ctype",
    "check_flags",
    "check_int",
    "check_page",
    "check_plist",
    "check_rw",
    "check_vnode",
]


def check_vnode(routine: str, vp: Any) -> Kernel:
    """``vp`` must be a Vnode; returns its kernel."""
    if not isinstance(vp, Vnode):
        raise UsageError(f"{routine}: vp must be a Vnode, not {type(vp).__name__}")
    return vp.kernel


def check_int(routine: str, name: str, value: Any, *, minimum: int | None = 0) -> int:
    """``value`` must be an int (not bool) at least ``minimum``."""
    if type(value) is int and (minimum is None or value >= minimum):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{routine}: {name} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{routine}: {name} must be >= {minimum}, not {value}")
    return int(value)


def check_ctype(routine: str, name: str, value: Any, ctype: str) -> int:
    """``value`` must be an int (not bool) that a C variable of ``ctype`` can hold."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{routine}: {name} must be an int, not {type(value).__name__}")
    number = int(value)
    if not in_range(ctype, number):
        raise UsageError(f"{routine}: {name}={number} does not fit a {ctype}")
    return number


def check_aligned(routine: str, k: Kernel, name: str, value: Any) -> int:
    """``value`` must be a page-aligned u_offset_t."""
    if type(value) is int and 0 <= value <= U_OFFSET_T and not value & k.pageoffset:
        return value
    checked = check_ctype(routine, name, value, "u_offset_t")
    if checked & k.pageoffset:
        raise UsageError(
            f"{routine}: {name}={checked:#x} is not aligned to PAGESIZE ({k.pagesize:#x})"
        )
    return checked


def check_flags(routine: str, flags: Any, allowed: int) -> int:
    """``flags`` must be an int using only ``allowed`` buffer-flag bits."""
    if type(flags) is int and flags >= 0 and not flags & ~allowed:
        return flags
    value = check_int(routine, "flags", flags)
    if value & ~ALL_BUF_FLAGS:
        raise UsageError(f"{routine}: unknown flag bits {value & ~ALL_BUF_FLAGS:#x}")
    if value & ~allowed:
        bad = flag_names(value & ~allowed, BufFlag)
        raise UsageError(f"{routine}: flags {bad} are not accepted by this routine")
    return value


def check_rw(routine: str, rw: Any) -> SegRw:
    """``rw`` must be an ``enum seg_rw`` value."""
    try:
        return SegRw(rw)
    except (ValueError, TypeError):
        raise UsageError(
            f"{routine}: rw={rw!r} is not a seg_rw value (S_OTHER..S_READ_NOCOW)"
        ) from None


def check_callable(routine: str, name: str, fn: Any) -> None:
    """``fn`` must be callable."""
    if not callable(fn):
        raise UsageError(f"{routine}: {name} must be callable, not {type(fn).__name__}")


def check_page(
    routine: str,
    pp: Any,
    k: Kernel | None = None,
    *,
    vp: Any = None,
    locked: str | None = None,
    io_locked: bool | None = None,
    free: bool | None = False,
) -> Page:
    """``pp`` must be a real page (not a marker) with an identity.

    Args:
        k: the kernel it must belong to.
        vp: the vnode it must belong to.
        locked: ``"excl"``, ``"shared"`` or ``"any"``: required lock state.
        io_locked: required i/o lock state, if not None.
        free: required free state, if not None.
    """
    # Fast path: the common, valid case in one expression.
    if (
        type(pp) is Page
        and pp.p_hash is None
        and pp.p_vnode is not None
        and (k is None or pp.kernel is k)
        and (vp is None or pp.p_vnode is vp)
        and (free is None or bool(pp.p_state & P_FREE) == free)
        and (
            locked is None
            or (locked == "excl" and pp.p_selock < 0)
            or (locked == "shared" and pp.p_selock > 0)
            or (locked == "any" and pp.p_selock != 0)
        )
        and (io_locked is None or bool(pp.p_iolock_state & PAGE_IO_INUSE) == io_locked)
    ):
        return pp
    if not isinstance(pp, Page):
        raise UsageError(f"{routine}: expected a Page, not {type(pp).__name__}")
    if pp.p_hash is PVN_VPLIST_HASH_TAG:
        raise UsageError(f"{routine}: {pp.name} is a marker page, not a real page")
    if k is not None and pp.kernel is not k:
        raise UsageError(f"{routine}: page {pp.name} belongs to another kernel")
    if pp.p_vnode is None:
        raise UsageError(f"{routine}: page {pp.name} has no identity (no vnode)")
    if vp is not None and pp.p_vnode is not vp:
        raise UsageError(
            f"{routine}: page {pp.name} belongs to vnode {pp.p_vnode.v_name}, not {vp.v_name}"
        )
    if free is not None and bool(pp.p_state & P_FREE) != free:
        state = "free" if free else "not free"
        raise UsageError(f"{routine}: page {pp.name} must be {state}")
    if locked == "excl" and pp.p_selock >= 0:
        raise UsageError(f"{routine}: page {pp.name} must be locked SE_EXCL")
    if locked == "shared" and pp.p_selock <= 0:
        raise UsageError(f"{routine}: page {pp.name} must be locked SE_SHARED")
    if locked == "any" and pp.p_selock == 0:
        raise UsageError(f"{routine}: page {pp.name} must be locked")
    if io_locked is not None and bool(pp.p_iolock_state & PAGE_IO_INUSE) != io_locked:
        state = "held" if io_locked else "free"
        raise UsageError(f"{routine}: the i/o lock of page {pp.name} must be {state}")
    return pp


def check_plist(
    routine: str,
    plist: Any,
    *,
    locked: str = "any",
    same_vnode: bool = False,
    check: Callable[[Page], None] | None = None,
) -> Kernel | None:
    """``plist`` must be None or a well-formed p_next ring of locked, i/o-locked pages."""
    if plist is None:
        return None
    if not isinstance(plist, Page):
        raise UsageError(f"{routine}: plist must be a Page or None, not {type(plist).__name__}")
    k = plist.kernel
    # A well-formed ring visits each of the kernel's pages at most once, so
    # more steps than pages means it never comes back to its head.
    steps = len(k.pages)
    if locked == "any" and not same_vnode and check is None:
        # The defaults (pvn_io_done, pvn_read_done, pvn_write_done: once per
        # kluster), with each page's whole test in one expression, its bit
        # tests behind comparisons for the usual values (CPython 3.11
        # specializes int comparisons, not bit operations).  At the first
        # page that fails it, the loop below runs from the head and names
        # the problem.
        pp = plist
        n = steps
        while (
            type(pp) is Page
            and pp.p_hash is None
            and pp.p_vnode is not None
            and pp.kernel is k
            and (pp.p_state == 0 or not pp.p_state & P_FREE)
            and (pp.p_iolock_state == PAGE_IO_INUSE or pp.p_iolock_state & PAGE_IO_INUSE)
            and pp.p_selock != 0
            and pp.p_next.p_prev is pp
        ):
            pp = pp.p_next
            if pp is plist:
                return k
            n -= 1
            if n <= 0:
                break
    pp = plist
    while True:
        # The common, valid page in one test; check_page names any problem.
        if not (
            type(pp) is Page
            and pp.p_hash is None
            and pp.p_vnode is not None
            and pp.kernel is k
            and not pp.p_state & P_FREE
            and pp.p_iolock_state & PAGE_IO_INUSE
            and (
                pp.p_selock != 0
                if locked == "any"
                else (pp.p_selock < 0 if locked == "excl" else pp.p_selock > 0)
            )
        ):
            check_page(routine, pp, k, locked=locked, io_locked=True)
        if same_vnode and pp.p_vnode is not plist.p_vnode:
            raise UsageError(f"{routine}: page {pp.name} is of another vnode than {plist.name}")
        if check is not None:
            check(pp)
        if pp.p_next.p_prev is not pp:
            raise UsageError(f"{routine}: the page list is broken at {pp.name}")
        pp = pp.p_next
        if pp is plist:
            return k
        steps -= 1
        if steps <= 0:
            raise UsageError(f"{routine}: the page list does not return to its head {plist.name}")
