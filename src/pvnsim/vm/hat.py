"""The simulated HAT: translations with hardware ref/mod bits.

Derived from the behaviour of illumos usr/src/uts/i86pc/vm/hat_i86.c and
usr/src/uts/common/vm/hat.h (CDDL-1.0); docs/primitives.md states the contract.

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
from pvnsim.hooks import implements
from pvnsim.vm.mutex import mutex_enter, mutex_exit
from pvnsim.vm.page import page_name, page_vpadd, page_vpsub
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


@implements
def hat_page_setattr(pp: Page, flag: int) -> None:
    """Set software attribute bits; a newly modified VMODSORT page moves to the tail.

    With P_NSH the page stays where it is (hat_setmod_only).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_page_setattr":
        return k.hooks.around("hat_page_setattr", pp, flag)  # type: ignore[no-any-return]
    nosh = flag & P_NSH
    if nosh:
        flag &= _NOT_NSH
    if pp.p_nrm & flag == flag:
        return None
    vp = pp.p_vnode
    if (
        flag & P_MOD
        and not nosh
        and vp is not None
        and vp.v_flag & VMODSORT
        and k.pvn_vmodsort_supported
    ):
        # A page that becomes modified moves to the tail of its vnode's list,
        # under the list mutex, so dirty pages gather at the tail.
        vphm = vp.v_vphm
        mutex_enter(vphm)
        pp.p_nrm |= flag
        if pp.p_vpnext is not pp:
            page_vpsub(vp, pp)
            page_vpadd(vp.v_pages.p_vpprev, pp)  # type: ignore[union-attr]
        mutex_exit(vphm)
        return None
    pp.p_nrm |= flag
    return None


@implements
def hat_page_clrattr(pp: Page, flag: int) -> None:
    """Clear software attribute bits (write-protecting a VMODSORT page on P_MOD)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_page_clrattr":
        return k.hooks.around("hat_page_clrattr", pp, flag)  # type: ignore[no-any-return]
    pp.p_nrm &= ~flag
    vp = pp.p_vnode
    if (
        flag & P_MOD
        and vp is not None
        and pp.p_mapping
        and vp.v_flag & VMODSORT
        and k.pvn_vmodsort_supported
    ):
        for m in pp.p_mapping:
            if m.writable:
                bits = m.hw
                m.hw = 0
                m.writable = False
                if bits:
                    hat_page_setattr(pp, bits)
    return None


@implements
def hat_page_getattr(pp: Page, flag: int) -> int:
    """The software attribute bits of ``pp`` among ``flag``."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_page_getattr":
        return k.hooks.around("hat_page_getattr", pp, flag)  # type: ignore[no-any-return]
    return pp.p_nrm & flag


@implements
def hat_ismod(pp: Page) -> int:
    """hat.h hat_ismod: the page's P_MOD bit."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_ismod":
        return k.hooks.around("hat_ismod", pp)  # type: ignore[no-any-return]
    return pp.p_nrm & P_MOD


@implements
def hat_setmod(pp: Page) -> None:
    """hat.h hat_setmod: set P_MOD (moving a VMODSORT page to the tail)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_setmod":
        return k.hooks.around("hat_setmod", pp)  # type: ignore[no-any-return]
    hat_page_setattr(pp, P_MOD)
    return None


@implements
def hat_setmod_only(pp: Page) -> None:
    """hat.h hat_setmod_only: set P_MOD without moving the page."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_setmod_only":
        return k.hooks.around("hat_setmod_only", pp)  # type: ignore[no-any-return]
    hat_page_setattr(pp, P_MOD | P_NSH)
    return None


@implements
def hat_clrrefmod(pp: Page) -> None:
    """hat.h hat_clrrefmod: clear P_REF and P_MOD."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_clrrefmod":
        return k.hooks.around("hat_clrrefmod", pp)  # type: ignore[no-any-return]
    if pp.p_mapping:
        hat_page_clrattr(pp, _RM)
    else:
        pp.p_nrm &= _NOT_RM  # hat_page_clrattr of an unmapped page, written out
    return None


# -- translations ---------------------------------------------------------


@implements
def hat_pagesync(pp: Page, flags: HatSync | int) -> int:
    """Fold hardware ref/mod bits into ``p_nrm`` (clearing them with ZERORM)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_pagesync":
        return k.hooks.around("hat_pagesync", pp, flags)  # type: ignore[no-any-return]
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
            or (flags & HAT_SYNC_STOPON_SHARED and len(mappings) > k.po_share)
        ):
            return pp.p_nrm & _RM_RO
    for m in mappings:
        bits = m.hw
        if bits:
            if flags & HAT_SYNC_ZERORM:
                m.hw = 0
            hat_page_setattr(pp, bits)
            if (flags & HAT_SYNC_STOPON_MOD and pp.p_nrm & P_MOD) or (
                flags & HAT_SYNC_STOPON_REF and pp.p_nrm & P_REF
            ):
                break
    return pp.p_nrm & _RM_RO


@implements
def hat_pageunload(pp: Page, forceflag: HatUnload | int) -> int:
    """Remove every translation of ``pp``, folding their bits into ``p_nrm``."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_pageunload":
        return k.hooks.around("hat_pageunload", pp, forceflag)  # type: ignore[no-any-return]
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"hat_pageunload: page {page_name(pp)} is not held exclusively")
    mappings = pp.p_mapping
    if mappings:
        pp.p_mapping = None
        for m in mappings:
            if m.hw:
                hat_page_setattr(pp, m.hw)
    return 0


@implements
def hat_page_is_mapped(pp: Page) -> int:
    """The number of translations of ``pp`` (0: unmapped)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_page_is_mapped":
        return k.hooks.around("hat_page_is_mapped", pp)  # type: ignore[no-any-return]
    m = pp.p_mapping
    return len(m) if m else 0


@implements
def hat_supported(k: Kernel, feature: HatFeature | int, arg: object = None) -> int:
    """Whether the HAT has ``feature``.

    DEVIATION: takes the kernel as first argument (the C HAT is global).
    """
    if k.hooks is not None and k.hooks.entering != "hat_supported":
        return k.hooks.around("hat_supported", k, feature, arg)  # type: ignore[no-any-return]
    if feature == HAT_VMODSORT:
        return 1 if k.hat_vmodsort else 0
    return 0


# -- our own: faults, accesses, unloads -------------------------------------


@implements
def hat_map(pp: Page, owner: str = "as", writable: bool = True) -> HatMapping:
    """Load a translation of ``pp`` (what a fault handler does).

    A translation of a clean page of a VMODSORT vnode is loaded read-only,
    as segvn does, so the first write takes a protection fault.  The page
    must have an identity, must not be free (a fault reclaims it first), and
    must not be exclusively locked by another thread (a fault would wait for
    that lock).

    Raises:
        UsageError: the page cannot be mapped (see above).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_map":
        return k.hooks.around("hat_map", pp, owner, writable)  # type: ignore[no-any-return]
    if pp.p_vnode is None:
        raise UsageError(f"cannot map {pp.name}: the page has no identity")
    if pp.p_state & P_FREE:
        raise UsageError(f"cannot map {pp.name}: it is free (reclaim it with page_lookup first)")
    if pp.p_selock < 0 and pp.p_sowner != k.curthread:
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


@implements
def hat_touch(pp: Page, write: bool = False, mapping: HatMapping | None = None) -> None:
    """A CPU accesses ``pp`` through a translation: a read sets the hardware
    ref bit, a write sets ref and mod.

    A write through a write-protected translation takes a protection fault:
    the translation becomes writable and ``hat_setmod`` runs (moving a
    VMODSORT page to the tail of its vnode's list).

    Raises:
        UsageError: the page has no such translation.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_touch":
        return k.hooks.around("hat_touch", pp, write, mapping)  # type: ignore[no-any-return]
    mappings = pp.p_mapping
    if not mappings:
        raise UsageError(f"cannot touch {pp.name}: it has no translation")
    m = mapping if mapping is not None else mappings[0]
    if m not in mappings:
        raise UsageError(f"{m!r} is not a translation of {pp.name}")
    if write:
        if not m.writable:
            m.writable = True
            hat_setmod(pp)
        m.hw |= _RM
    else:
        m.hw |= P_REF
    return None


@implements
def hat_unmap(pp: Page, mapping: HatMapping | None = None) -> None:
    """Unload one translation (the first when none is named), keeping its bits.

    Raises:
        UsageError: the page has no such translation.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "hat_unmap":
        return k.hooks.around("hat_unmap", pp, mapping)  # type: ignore[no-any-return]
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
        hat_page_setattr(pp, m.hw)
    return None
