"""The simulated HAT: translations with hardware ref/mod bits.

Derived from the behaviour of illumos usr/src/uts/i86pc/vm/hat_i86.c and
usr/src/uts/common/vm/hat.h (CDDL-1.0), as summarised in semantics.md 4.6.

Theory of operation
-------------------
Each page keeps software attribute bits in ``p_nrm`` (P_REF, P_MOD, P_RO):
the only thing ``hat_page_getattr`` and ``hat_ismod`` read.  Each translation
(:class:`HatMapping`) has its own hardware ref/mod bits, set when the
simulation touches the page through it.  ``hat_pagesync`` and
``hat_pageunload`` fold hardware bits into the software bits through
``hat_page_setattr``, which is where the VMODSORT shuffle lives: a page of a
VMODSORT vnode that becomes modified moves to the tail of ``v_pages`` (taking
the vnode's page-list mutex), unless the request carried P_NSH.

Clearing P_MOD of a VMODSORT page write-protects its translations, so the next
write through them takes a (simulated) protection fault that calls
``hat_setmod`` and moves the page to the tail again.

Another CPU may touch a mapped page at any moment, which a scheduler can
only show where it is asked: ``hat_pagesync`` and ``hat_pageunload`` are
CPU-only switch points (kinds ``"hat_pagesync"``, ``"hat_pageunload"``),
where only a simulated other CPU may run, never another kernel thread.

The functions :func:`hat_map`, :func:`hat_touch` and :func:`hat_unmap` are ours:
they stand for a fault handler loading a translation, a CPU accessing the
page, and a segment unloading a translation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import KernelAssertionError, UsageError
from pvnsim.flags import (
    HAT_SYNC_STOPON_MOD,
    HAT_SYNC_STOPON_REF,
    HAT_SYNC_STOPON_SHARED,
    HAT_SYNC_ZERORM,
    HAT_VMODSORT,
    P_FREE,
    P_MOD,
    P_NSH,
    P_REF,
    P_RO,
    VMODSORT,
    HatFeature,
    HatSync,
    HatUnload,
)
from pvnsim.vm import _trace
from pvnsim.vm.mutex import _mutex_enter, _mutex_exit
from pvnsim.vm.vnode import IS_VMODSORT

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page

__all__ = [
    "HatMapping",
    "hat_clrrefmod",
    "hat_ismod",
    "hat_map",
    "hat_page_clrattr",
    "hat_page_getattr",
    "hat_page_is_mapped",
    "hat_page_setattr",
    "hat_pagesync",
    "hat_pageunload",
    "hat_setmod",
    "hat_setmod_only",
    "hat_supported",
    "hat_touch",
    "hat_unmap",
]

_RM = P_REF | P_MOD
# Masks computed once (CPython 3.11 does not specialize int bit operations).
_RM_RO = _RM | P_RO
_NOT_RM = ~_RM
_NOT_NSH = ~P_NSH


class HatMapping:
    """One translation of a page: hardware ref/mod bits and write permission."""

    __slots__ = ("hw", "owner", "writable")

    def __init__(self, owner: str, writable: bool = True, hw: int = 0) -> None:
        self.owner = owner
        self.writable = writable
        self.hw = hw

    def __repr__(self) -> str:
        bits = ("r" if self.hw & P_REF else "") + ("m" if self.hw & P_MOD else "")
        return f"<HatMapping {self.owner} {bits or '-'}{'' if self.writable else ' ro'}>"


# -- software attributes --------------------------------------------------


def _hat_page_setattr(pp: Page, flag: int) -> None:
    nosh = flag & P_NSH
    if nosh:
        flag &= _NOT_NSH
    if pp.p_nrm & flag == flag:
        return
    vp = pp.p_vnode
    if (
        flag & P_MOD
        and not nosh
        and vp is not None
        and vp.v_flag & VMODSORT
        and vp.kernel.pvn_vmodsort_supported
    ):
        vphm = vp.v_vphm
        # The move to the tail (page_vpsub, then page_vpadd after the last
        # page) is spelled out: every write of a clean page comes here.
        # Uncontended and unhooked, nothing runs while the list mutex would
        # be held, so taking and dropping it is left out (it would change
        # nothing anyone sees).
        fast = not vp.kernel.hooked and vphm.owner is None
        if not fast:
            _mutex_enter(vphm)
        pp.p_nrm |= flag
        nxt = pp.p_vpnext
        if nxt is not pp:
            prv = pp.p_vpprev
            if vp.v_pages is pp:
                vp.v_pages = nxt
            prv.p_vpnext = nxt
            nxt.p_vpprev = prv
            # pp had a neighbour, so the list is not empty.
            head: Page = vp.v_pages  # type: ignore[assignment]
            tail = head.p_vpprev
            pp.p_vpnext = head
            pp.p_vpprev = tail
            tail.p_vpnext = pp
            head.p_vpprev = pp
        if not fast:
            _mutex_exit(vphm)
        return
    pp.p_nrm |= flag


def _hat_page_clrattr(pp: Page, flag: int) -> None:
    pp.p_nrm &= ~flag
    vp = pp.p_vnode
    if (
        flag & P_MOD
        and vp is not None
        and pp.p_mapping
        and vp.v_flag & VMODSORT
        and vp.kernel.pvn_vmodsort_supported
    ):
        for m in pp.p_mapping:
            if m.writable:
                bits = m.hw
                m.hw = 0
                m.writable = False
                if bits:
                    _hat_page_setattr(pp, bits)


def _hat_page_getattr(pp: Page, flag: int) -> int:
    return pp.p_nrm & flag


def hat_page_setattr(pp: Page, flag: int) -> None:
    """Set software attribute bits; a newly modified VMODSORT page moves to the tail."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "hat_page_setattr", "pA", _hat_page_setattr, pp, flag)
        return
    _hat_page_setattr(pp, flag)


def hat_page_clrattr(pp: Page, flag: int) -> None:
    """Clear software attribute bits (write-protecting a VMODSORT page on P_MOD)."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "hat_page_clrattr", "pA", _hat_page_clrattr, pp, flag)
        return
    _hat_page_clrattr(pp, flag)


def hat_page_getattr(pp: Page, flag: int) -> int:
    """The software attribute bits of ``pp`` among ``flag``."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "hat_page_getattr", "pA>A", _hat_page_getattr, pp, flag)
    return pp.p_nrm & flag


def hat_ismod(pp: Page) -> int:
    """hat.h hat_ismod: ``hat_page_getattr(pp, P_MOD)``."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "hat_ismod", "p>A", _hat_page_getattr, pp, P_MOD)
    return pp.p_nrm & P_MOD


def hat_setmod(pp: Page) -> None:
    """hat.h hat_setmod: set P_MOD (moving a VMODSORT page to the tail)."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "hat_setmod", "pA", _hat_page_setattr, pp, P_MOD)
        return
    _hat_page_setattr(pp, P_MOD)


def hat_setmod_only(pp: Page) -> None:
    """hat.h hat_setmod_only: set P_MOD without moving the page."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "hat_setmod_only", "p", _hat_setmod_only, pp)
        return
    _hat_page_setattr(pp, P_MOD | P_NSH)


def _hat_setmod_only(pp: Page) -> None:
    _hat_page_setattr(pp, P_MOD | P_NSH)


def _hat_clrrefmod(pp: Page) -> None:
    # Only a mapped page needs _hat_page_clrattr's VMODSORT handling.
    if pp.p_mapping:
        _hat_page_clrattr(pp, _RM)
    else:
        pp.p_nrm &= _NOT_RM


def _hat_ismod(pp: Page) -> int:
    return pp.p_nrm & P_MOD


def hat_clrrefmod(pp: Page) -> None:
    """hat.h hat_clrrefmod: clear P_REF and P_MOD."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "hat_clrrefmod", "p", _hat_clrrefmod, pp)
        return
    _hat_page_clrattr(pp, _RM)


# -- translations ---------------------------------------------------------


def _hat_pagesync(pp: Page, flags: int) -> int:
    mappings = pp.p_mapping
    if not mappings:
        # No translation holds hardware bits: every path below returns this.
        return pp.p_nrm & _RM_RO
    if pp.p_nrm & P_RO and flags & HAT_SYNC_STOPON_MOD:
        return pp.p_nrm & _RM_RO
    if not flags & HAT_SYNC_ZERORM:
        if (
            (flags & HAT_SYNC_STOPON_REF and pp.p_nrm & P_REF)
            or (flags & HAT_SYNC_STOPON_MOD and pp.p_nrm & P_MOD)
            or (flags & HAT_SYNC_STOPON_SHARED and len(mappings) > pp.kernel.po_share)
        ):
            return pp.p_nrm & _RM_RO
    for m in mappings:
        bits = m.hw
        if bits:
            if flags & HAT_SYNC_ZERORM:
                m.hw = 0
            _hat_page_setattr(pp, bits)
            if (flags & HAT_SYNC_STOPON_MOD and pp.p_nrm & P_MOD) or (
                flags & HAT_SYNC_STOPON_REF and pp.p_nrm & P_REF
            ):
                break
    return pp.p_nrm & _RM_RO


def hat_pagesync(pp: Page, flags: HatSync | int) -> int:
    """Fold hardware ref/mod bits into ``p_nrm`` (clearing them with ZERORM)."""
    k = pp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("hat_pagesync", pp)
    if k.hooked and k.tracing:
        return _trace.traced(k, "hat_pagesync", "pH>A", _hat_pagesync, pp, flags)
    return _hat_pagesync(pp, flags)


def _hat_pageunload(pp: Page, forceflag: int) -> int:
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"hat_pageunload: page {pp.name} is not held exclusively")
    mappings = pp.p_mapping
    if mappings:
        pp.p_mapping = None
        for m in mappings:
            if m.hw:
                _hat_page_setattr(pp, m.hw)
    return 0


def hat_pageunload(pp: Page, forceflag: HatUnload | int) -> int:
    """Remove every translation of ``pp``, folding their bits into ``p_nrm``."""
    k = pp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("hat_pageunload", pp)
    if k.hooked and k.tracing:
        return _trace.traced(k, "hat_pageunload", "pe>i", _hat_pageunload, pp, HatUnload(forceflag))
    return _hat_pageunload(pp, forceflag)


def _hat_page_is_mapped(pp: Page) -> int:
    m = pp.p_mapping
    return len(m) if m else 0


def hat_page_is_mapped(pp: Page) -> int:
    """The number of translations of ``pp`` (0: unmapped)."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "hat_page_is_mapped", "p>i", _hat_page_is_mapped, pp)
    m = pp.p_mapping
    return len(m) if m else 0


def _hat_supported(k: Kernel, feature: int) -> int:
    if feature == HAT_VMODSORT:
        return 1 if k.hat_vmodsort else 0
    return 0


def hat_supported(k: Kernel, feature: HatFeature | int, arg: object = None) -> int:
    """Whether the HAT has ``feature``.

    DEVIATION: takes the kernel as first argument (the C HAT is global).
    """
    if k.hooked and k.tracing:
        return _trace.traced(
            k, "hat_supported", "e>i", lambda f: _hat_supported(k, f), HatFeature(feature)
        )
    return _hat_supported(k, feature)


# -- our own: faults, accesses, unloads -------------------------------------


def hat_map(pp: Page, *, owner: str = "as", writable: bool = True) -> HatMapping:
    """Load a translation of ``pp`` (what a fault handler does).

    A translation of a clean page of a VMODSORT vnode is loaded read-only,
    as segvn does, so the first write takes a protection fault.  The page must have an identity, must not be free (a fault reclaims it
    first), and must not be exclusively locked by another thread (a fault
    would wait for that lock).
    """
    if pp.p_vnode is None:
        raise UsageError(f"cannot map {pp.name}: the page has no identity")
    if pp.p_state & P_FREE:
        raise UsageError(f"cannot map {pp.name}: it is free (reclaim it with page_lookup first)")
    if pp.p_selock < 0 and pp.p_sowner != pp.kernel.curthread:
        raise UsageError(
            f"cannot map {pp.name}: it is exclusively locked by {pp.p_sowner}; a fault would wait"
        )
    # A VMODSORT page is mapped writable only once it is modified, so the
    # first store to a clean page faults and runs hat_setmod (segvn does this).
    vp = pp.p_vnode
    if writable and IS_VMODSORT(vp) and not pp.p_nrm & P_MOD:
        writable = False
    m = HatMapping(owner, writable)
    if pp.p_mapping is None:
        pp.p_mapping = [m]
    else:
        pp.p_mapping.append(m)
    return m


def hat_touch(pp: Page, *, write: bool = False, mapping: HatMapping | None = None) -> None:
    """A CPU accesses ``pp`` through a translation: a read sets the hardware
    ref bit, a write sets ref and mod.

    A write through a write-protected translation takes a protection fault:
    the translation becomes writable and ``hat_setmod`` runs (moving a
    VMODSORT page to the tail of its vnode's list).
    """
    mappings = pp.p_mapping
    if not mappings:
        raise UsageError(f"cannot touch {pp.name}: it has no translation")
    m = mapping if mapping is not None else mappings[0]
    if m not in mappings:
        raise UsageError(f"{m!r} is not a translation of {pp.name}")
    if write:
        if not m.writable:
            m.writable = True
            _hat_page_setattr(pp, P_MOD)
        m.hw |= _RM
    else:
        m.hw |= P_REF


def hat_unmap(pp: Page, mapping: HatMapping | None = None) -> None:
    """Unload one translation (the first when none is named), keeping its bits."""
    mappings = pp.p_mapping
    if not mappings:
        raise UsageError(f"cannot unmap {pp.name}: it has no translation")
    m = mapping if mapping is not None else mappings[0]
    if m not in mappings:
        raise UsageError(f"{m!r} is not a translation of {pp.name}")
    mappings.remove(m)
    if not mappings:
        pp.p_mapping = None
    if m.hw:
        _hat_page_setattr(pp, m.hw)
