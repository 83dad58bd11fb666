"""The public boundary of the primitives: each one's argument contract, as data.

Inside the library a port calls ``page_lookup`` of :mod:`pvnsim.vm.vm_page`
directly, as the C calls it.  A user's call goes through the function of the
same name exported by :mod:`pvnsim.vm`, which first checks the arguments
against the primitive's row of :data:`CONTRACTS` and refuses a bad call
with a :class:`~pvnsim.errors.UsageError` before anything changes: a value
the C type of the argument cannot hold (an offset that is not a page-aligned
u_offset_t, an ``se`` that is not SE_SHARED or SE_EXCL, a flag bit the C
headers do not define), an object of the wrong kind, or one that belongs to
another kernel.  What a primitive itself asserts about the *state* (a
page_unlock of an unlocked page panics) stays the primitive's business.

Argument kinds (one letter per parameter, in order):

====  ================================================================
kind  accepts
====  ================================================================
p     a :class:`~pvnsim.vm.page.Page` (not a marker)
P     a Page or None (a list head)
M     any Page, markers included (the vnode-list routines move markers)
N     any Page, markers included, or None
v     a :class:`~pvnsim.vm.vnode.Vnode`;  V: a Vnode or None
l     a Vnode or a Page (``&vp->v_pages`` or ``&pp->p_vpnext``)
o     a page-aligned u_offset_t
n     a size_t;  i: an int;  a: an address (caddr_t)
e     an se_t (SE_SHARED, SE_EXCL);  c: a reclaim_t;  w: SE_EXCL_WANTED or 0
r     an enum seg_rw (S_OTHER, S_READ, ...)
G     page_create_va flags (PG_*);  B: buffer flags (B_*)
A     attribute bits (P_REF, P_MOD, P_RO, P_NSH);  H: HAT_SYNC_* flags
u     a HAT_*_PGUNLOAD;  f: a hat feature;  K: the kernel
m     a KMutex or None;  X: a KMutex;  C: a KCondvar;  k: a KmemCache
s     a Seg;  S: a Seg or None;  h: a HatMapping or None;  x: anything
====  ================================================================
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pvnsim.errors import InternalError, UsageError
from pvnsim.flags import (
    ALL_BUF_FLAGS,
    P_MOD,
    PAGE_IO_INUSE,
    SE_EXCL_WANTED,
    HatAttr,
    HatFeature,
    HatSync,
    HatUnload,
    PageCreateFlag,
    Reclaim,
    Se,
    SegRw,
)
from pvnsim.vm.cint import in_range
from pvnsim.vm.hat import HatMapping
from pvnsim.vm.kmem import KmemCache
from pvnsim.vm.mutex import KCondvar, KMutex
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG, Page
from pvnsim.vm.page_lock import PS_EWANTED
from pvnsim.vm.seg import Seg
from pvnsim.vm.vnode import IS_SWAPVP, Vnode

__all__ = ["CONTRACTS", "check_primitive", "exported"]

P = ParamSpec("P")
R = TypeVar("R")

#: Each exported primitive's argument kinds, one letter per parameter.
CONTRACTS: dict[str, str] = {
    "page_add": "Pp",
    "page_sub": "Pp",
    "page_vpadd": "lM",
    "page_vpsub": "lM",
    "page_list_add": "pi",
    "page_list_sub": "p",
    "page_hashin": "pvo",
    "page_hashout": "p",
    "page_lock": "pemcw",
    "page_lock_clr_exclwanted": "p",
    "page_trylock": "pe",
    "page_unlock": "p",
    "page_tryupgrade": "p",
    "page_downgrade": "p",
    "page_io_lock": "p",
    "page_io_trylock": "p",
    "page_io_unlock": "p",
    "page_io_wait": "p",
    "page_io_locked": "p",
    "page_create_va": "vonGSa",
    "page_exists": "vo",
    "page_lookup": "voe",
    "page_lookup_nowait": "voe",
    "page_reclaim": "pm",
    "page_free": "pi",
    "page_destroy": "pi",
    "page_destroy_free": "p",
    "page_release": "pi",
    "VN_DISPOSE": "pBix",
    "fs_dispose": "VpBix",
    "hat_page_setattr": "pA",
    "hat_page_clrattr": "pA",
    "hat_page_getattr": "pA",
    "hat_ismod": "p",
    "hat_setmod": "p",
    "hat_setmod_only": "p",
    "hat_clrrefmod": "p",
    "hat_pagesync": "pH",
    "hat_pageunload": "pu",
    "hat_page_is_mapped": "p",
    "hat_supported": "Kfx",
    "hat_map": "pxx",
    "hat_touch": "pxh",
    "hat_unmap": "ph",
    "mutex_enter": "X",
    "mutex_exit": "X",
    "cv_wait": "CX",
    "cv_broadcast": "C",
    "kmem_cache_alloc": "ki",
    "kmem_cache_free": "kM",
    "SEGOP_KLUSTER": "sai",
    "segmap_getmapflt": "svnnir",
    "segmap_release": "saB",
    "kzero": "ans",
    # The macros and helpers: read-only, but a wrong kind of argument is
    # refused with a UsageError like everywhere else.
    "PAGE_EXCL": "M",
    "PAGE_SHARED": "M",
    "PAGE_LOCKED": "M",
    "PP_ISFREE": "M",
    "page_iolock_assert": "M",
    "IS_VMODSORT": "v",
    "IS_SWAPVP": "v",
    "IS_SWAPFSVP": "v",
    "page_vnode_mutex": "v",
    "page_name": "N",
    "ring": "Nx",
    "marker_constructor": "Mxi",
}

_FLAG_SETS: dict[str, tuple[int, str]] = {
    "G": (sum(int(m) for m in PageCreateFlag), "page_create_va flags (PG_*)"),
    "B": (ALL_BUF_FLAGS, "buffer flags (B_*)"),
    "A": (sum(int(m) for m in HatAttr), "attribute bits (P_REF, P_MOD, P_RO, P_NSH)"),
    "H": (sum(int(m) for m in HatSync), "HAT_SYNC_* flags"),
}
_ENUMS: dict[str, tuple[frozenset[int], str]] = {
    "e": (frozenset(int(m) for m in Se), "an se_t (SE_SHARED or SE_EXCL)"),
    "c": (frozenset(int(m) for m in Reclaim), "a reclaim_t (P_RECLAIM or P_NO_RECLAIM)"),
    "u": (frozenset(int(m) for m in HatUnload), "a HAT_*_PGUNLOAD value"),
    "f": (frozenset(int(m) for m in HatFeature), "a hat feature (HAT_VMODSORT, ...)"),
    "w": (frozenset((0, SE_EXCL_WANTED)), "0 or SE_EXCL_WANTED"),
    "r": (frozenset(int(m) for m in SegRw), "an enum seg_rw (S_OTHER, S_READ, ...)"),
}
_OBJECTS: dict[str, tuple[type | tuple[type, ...], bool, str]] = {
    # kind: (types, None allowed, description)
    "v": (Vnode, False, "a Vnode"),
    "V": (Vnode, True, "a Vnode or None"),
    "l": ((Vnode, Page), False, "a Vnode or a Page"),
    "M": (Page, False, "a Page"),
    "N": (Page, True, "a Page or None"),
    "m": (KMutex, True, "a KMutex or None"),
    "X": (KMutex, False, "a KMutex"),
    "C": (KCondvar, False, "a KCondvar"),
    "k": (KmemCache, False, "a KmemCache"),
    "s": (Seg, False, "a Seg"),
    "S": (Seg, True, "a Seg or None"),
    "h": (HatMapping, True, "a HatMapping or None"),
}


def _int(routine: str, name: str, value: Any, ctype: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{routine}: {name} must be an int, not {type(value).__name__}")
    if not in_range(ctype, int(value)):
        raise UsageError(f"{routine}: {name}={value} does not fit a {ctype}")
    return int(value)


def _check_one(routine: str, name: str, kind: str, value: Any, kernels: list[Any]) -> None:
    if kind == "x":
        return
    if kind in ("p", "P"):
        if value is None and kind == "P":
            return
        if not isinstance(value, Page):
            raise UsageError(f"{routine}: {name} must be a Page, not {type(value).__name__}")
        if value.p_hash is PVN_VPLIST_HASH_TAG:
            raise UsageError(f"{routine}: {name} is a marker page, not a real page")
        kernels.append(value.kernel)
        return
    if kind == "o":
        off = _int(routine, name, value, "u_offset_t")
        if kernels and off & kernels[0].pageoffset:
            raise UsageError(f"{routine}: {name}={off:#x} is not page aligned")
        return
    if kind in ("n", "a", "i"):
        _int(routine, name, value, {"n": "size_t", "a": "caddr_t", "i": "int"}[kind])
        return
    if kind == "K":
        from pvnsim.kernel import Kernel

        if not isinstance(value, Kernel):
            raise UsageError(f"{routine}: {name} must be a Kernel, not {type(value).__name__}")
        kernels.append(value)
        return
    flags = _FLAG_SETS.get(kind)
    if flags is not None:
        bits = _int(routine, name, value, "uint_t" if kind != "B" else "int")
        allowed, what = flags
        if bits & ~allowed:
            raise UsageError(f"{routine}: {name} has bits {bits & ~allowed:#x} that are not {what}")
        return
    enum = _ENUMS.get(kind)
    if enum is not None:
        values, what = enum
        if isinstance(value, bool) or not isinstance(value, int) or int(value) not in values:
            raise UsageError(f"{routine}: {name}={value!r} is not {what}")
        return
    types, none_ok, what = _OBJECTS[kind]
    if value is None and none_ok:
        return
    if not isinstance(value, types):
        raise UsageError(f"{routine}: {name} must be {what}, not {type(value).__name__}")
    owner = getattr(value, "kernel", None)
    if owner is not None:
        kernels.append(owner)


def _order(kinds: str) -> tuple[int, ...]:
    # Pages, vnodes and other objects first: the kernel they belong to says
    # what an aligned offset is.
    return tuple(sorted(range(len(kinds)), key=lambda i: kinds[i] in "onaiGBAHecufwrx"))


_ORDERS: dict[str, tuple[int, ...]] = {name: _order(kinds) for name, kinds in CONTRACTS.items()}


def check_primitive(routine: str, names: tuple[str, ...], args: tuple[Any, ...]) -> None:
    """Check ``args`` (bound to the parameters ``names``) against the routine's contract.

    Raises:
        UsageError: naming the routine, the argument and what is wrong.
    """
    kinds = CONTRACTS[routine]
    kernels: list[Any] = []
    for i in _ORDERS[routine]:
        _check_one(routine, names[i], kinds[i], args[i], kernels)
    if any(k is not kernels[0] for k in kernels[1:]):
        raise UsageError(f"{routine}: the arguments belong to different kernels")


def _check_hashin(pp: Page, vp: Vnode, off: int) -> None:
    # page_do_hashin overwrites p_vnode and p_offset: a page that still has an
    # identity would stay in its old hash chain and v_pages as well.
    if pp.p_vnode is not None:
        raise UsageError(
            f"page_hashin: page {pp.name} already has an identity (page_hashout it first)"
        )


def _check_hashout(pp: Page) -> None:
    # Its precondition: only the exclusive holder may take a page's identity
    # away (a page left without identity, unlocked and not free is lost).
    if pp.p_vnode is not None and pp.p_selock >= 0:
        raise UsageError(f"page_hashout: page {pp.name} must be held SE_EXCL")


def _check_release(pp: Page, checkmod: int) -> None:
    # page_release frees an unmapped page it can hold exclusively (fs_dispose:
    # page_free), and page_free ASSERTs that the i/o lock is not held; the
    # upgrade of a shared hold would happen first.  Refused only when the
    # call would get that far, since an i/o-locked page it does not free is
    # just unlocked.
    vp = pp.p_vnode
    if (
        pp.p_iolock_state & PAGE_IO_INUSE
        and vp is not None
        and vp.v_op.dispose is None
        and not pp.p_mapping
        and not IS_SWAPVP(vp)
        and (pp.p_selock < 0 or (pp.p_selock == 1 and not pp.p_state & PS_EWANTED))
        and pp.p_lckcnt == 0
        and pp.p_cowcnt == 0
        and not (checkmod and pp.p_nrm & P_MOD)
    ):
        raise UsageError(
            f"page_release: page {pp.name} is i/o locked, and page_release would free it "
            "(page_free asserts the i/o lock is not held): page_io_unlock it first"
        )


#: Checks of a primitive's state preconditions, beyond its arguments' kinds:
#: only where breaking them would corrupt the model.
_STATE_CHECKS: dict[str, Callable[..., None]] = {
    "page_hashin": _check_hashin,
    "page_hashout": _check_hashout,
    "page_release": _check_release,
}


def exported(fn: Callable[P, R]) -> Callable[P, R]:
    """The public version of primitive ``fn``: its contract checked, then ``fn`` called."""
    routine = fn.__name__
    signature = inspect.signature(fn)
    names = tuple(signature.parameters)
    if len(names) != len(CONTRACTS[routine]):
        raise InternalError(f"{routine}: its contract does not match its parameters")
    count = len(names)
    state = _STATE_CHECKS.get(routine)

    @functools.wraps(fn)
    def boundary(*args: P.args, **kwargs: P.kwargs) -> R:
        values: tuple[Any, ...] = args
        if kwargs or len(args) != count:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as e:
                raise UsageError(f"{routine}: {e}") from None
            bound.apply_defaults()
            values = tuple(bound.arguments.values())
        check_primitive(routine, names, values)
        if state is not None:
            state(*values)
        return fn(*args, **kwargs)

    return boundary
