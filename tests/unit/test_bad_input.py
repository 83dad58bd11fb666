"""Bad arguments to each public port raise UsageError and change nothing.

vm_pvn.py promises (module docstring, "DEVIATION: arguments are checked
before anything changes") that a call the C would ASSERT on, or that would
corrupt memory in C, raises :class:`~pvnsim.errors.UsageError` before any
simulated state changes.  Each case below builds a valid call, spoils one
argument, and checks the error and that ``k.snapshot()`` (and that of a second
kernel used for cross-kernel cases) is unchanged.  A control test checks that
every unspoiled call is accepted, so each rejection is due to the one bad
argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import (
    Kernel,
    SegMap,
    UsageError,
    VnodeOps,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_getpages,
    pvn_init,
    pvn_io_done,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
    pvn_vpzero,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.flags import (
    B_ERROR,
    B_FORCE,
    B_FREE,
    B_INVAL,
    B_READ,
    B_WRITE,
    P_MOD,
    P_REF,
    SE_SHARED,
    VCHR,
    SegRw,
)
from pvnsim.vm import page_lookup, page_trylock
from pvnsim.vm.kmem import kmem_cache_alloc
from pvnsim.vm.page import page_add  # unchecked: the tests build bad rings with it

U64 = 1 << 64
UNKNOWN = 0x40000000  # not a b_flags bit of sys/buf.h


def roomy_kernel() -> Kernel:
    return Kernel(
        total_pages=4096,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
    )


class Env:
    """Two kernels, a few vnodes, and helpers to build pages and lists."""

    def __init__(self) -> None:
        self.k = roomy_kernel()
        self.k2 = roomy_kernel()
        self.calls: list[tuple[Any, ...]] = []
        ops = VnodeOps(getpage=self.getpage, putpage=self.putpage)
        self.vp = self.k.vnode("v1", ops=ops)
        self.vp2 = self.k.vnode("v2", ops=ops)
        self.chr = self.k.vnode("c1", v_type=VCHR, ops=ops)
        self.bare = self.k.vnode("b1")
        self.no_getpage = self.k.vnode("g1", ops=VnodeOps(putpage=self.putpage))
        self.no_putpage = self.k.vnode("p1", ops=VnodeOps(getpage=self.getpage))
        self.w = self.k2.vnode("w1", ops=ops)
        self.seg = SegMap(self.k, "s1")

    # callbacks: none of them may run for a rejected call
    def getpage(self, vp: Any, off: int, length: int, protp: Any, pl: Any, *rest: Any) -> int:
        self.calls.append(("getpage", off))
        if pl is not None:
            pl[0] = page_lookup(vp, off, SE_SHARED)
            pl[1] = None
        return 0

    def putpage(self, vp: Any, off: int, length: int, flags: int, cr: Any) -> int:
        self.calls.append(("putpage", off))
        return 0

    def putapage(self, vp: Any, pp: Any, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        self.calls.append(("putapage", pp.name))
        pvn_write_done(pp, B_WRITE | flags)
        return 0

    def page_check(self, pp: Any) -> int:
        self.calls.append(("page_check", pp.name))
        return 1

    def page(self, off: int, vp: Any = None, **state: Any) -> Any:
        return make_page(vp if vp is not None else self.vp, off, **state)

    def ring(self, *pages: Any) -> Any:
        head = None
        for pp in pages:
            head = page_add(head, pp).p_next
        return head

    def marker(self) -> Any:
        m = kmem_cache_alloc(self.k.marker_cache, 0)
        m.p_vnode = self.vp
        m.p_offset = U64 - 1
        return m


Args = dict[str, Any]
Spoil = Callable[[Env, Args], None]


def case(name: str, spoil: Spoil, *, consistent: bool = True) -> Any:
    """A bad-argument case; ``consistent=False`` when the setup itself leaves
    a state the validators reject (an allocated marker, a locked free page, a
    page on an I/O list without its locks)."""
    return pytest.param(spoil, consistent, id=name)


def assert_rejected(
    routine: Callable[..., Any], base: Callable[[Env], Args], spoil: Spoil, consistent: bool
) -> None:
    e = Env()
    args = base(e)
    spoil(e, args)
    before = (e.k.snapshot(), e.k2.snapshot())
    with pytest.raises(UsageError):
        routine(*args.values())
    after = (e.k.snapshot(), e.k2.snapshot())
    assert before == after, before[0].diff(after[0]) + before[1].diff(after[1])
    assert e.calls == []
    if consistent:
        check_kernel(e.k)
        check_kernel(e.k2)


def S(**kw: Any) -> Spoil:
    """Replace arguments by plain values."""

    def spoil(e: Env, a: Args) -> None:
        a.update(kw)

    return spoil


# ---------------------------------------------------------------------------
# base (valid) calls


def base_read_kluster(e: Env) -> Args:
    return {
        "vp": e.vp,
        "off": 8192,
        "seg": e.seg,
        "addr": 0x10000,
        "vp_off": 0,
        "vp_len": 16384,
        "isra": 0,
    }


def base_write_kluster(e: Env) -> Args:
    e.page(0, nrm=P_MOD | P_REF, lock="S")
    pp = e.page(4096, nrm=P_MOD | P_REF, lock="S", io="me")
    return {"vp": e.vp, "pp": pp, "vp_off": 0, "vp_len": 16384, "flags": 0}


def base_getdirty(e: Env) -> Args:
    return {"pp": e.page(4096, nrm=P_MOD | P_REF, lock="S"), "flags": 0}


def base_io_done(e: Env) -> Args:
    return {"plist": e.ring(e.page(0, lock="S", io="me"), e.page(4096, lock="S", io="me"))}


def base_read_done(e: Env) -> Args:
    return {
        "plist": e.ring(
            e.page(0, nrm=P_REF, lock="X", io="me"), e.page(4096, nrm=P_REF, lock="X", io="me")
        ),
        "flags": 0,
    }


def base_write_done(e: Env) -> Args:
    return {
        "plist": e.ring(e.page(0, lock="S", io="me"), e.page(4096, lock="S", io="me")),
        "flags": B_WRITE,
    }


def base_vplist_dirty(e: Env) -> Args:
    e.page(0, nrm=P_MOD | P_REF)
    e.page(4096, nrm=P_MOD | P_REF)
    return {"vp": e.vp, "off": 0, "putapage": e.putapage, "flags": 0, "cred": None}


def base_vplist_setdirty(e: Env) -> Args:
    e.page(0, nrm=P_REF)
    return {"vp": e.vp, "page_check": e.page_check}


def base_vpzero(e: Env) -> Args:
    e.page(4096, nrm=P_REF)
    return {"vp": e.vp, "vplen": 6000, "zbytes": 0}


def base_getpages(e: Env) -> Args:
    e.page(4096)
    e.page(8192)
    return {
        "getpage": e.getpage,
        "vp": e.vp,
        "off": 4096,
        "len": 8192,
        "protp": None,
        "pl": [None] * 3,
        "plsz": 8192,
        "seg": None,
        "addr": 0,
        "rw": SegRw.S_READ,
        "cred": None,
    }


def base_plist_init(e: Env) -> Args:
    plist = e.ring(
        e.page(4096, nrm=P_REF, lock="X", io="me"), e.page(8192, nrm=P_REF, lock="X", io="me")
    )
    return {
        "pp": plist,
        "pl": [None] * 3,
        "plsz": 8192,
        "off": 4096,
        "io_len": 8192,
        "rw": SegRw.S_READ,
    }


def base_init(e: Env) -> Args:
    return {"k": e.k}


BASES = [
    (pvn_read_kluster, base_read_kluster),
    (pvn_write_kluster, base_write_kluster),
    (pvn_getdirty, base_getdirty),
    (pvn_io_done, base_io_done),
    (pvn_read_done, base_read_done),
    (pvn_write_done, base_write_done),
    (pvn_vplist_dirty, base_vplist_dirty),
    (pvn_vplist_setdirty, base_vplist_setdirty),
    (pvn_vpzero, base_vpzero),
    (pvn_getpages, base_getpages),
    (pvn_plist_init, base_plist_init),
    (pvn_init, base_init),
]


@pytest.mark.parametrize(("routine", "base"), BASES, ids=[r.__name__ for r, _ in BASES])
def test_unspoiled_calls_are_accepted(
    routine: Callable[..., Any], base: Callable[[Env], Args]
) -> None:
    """Every base call used below is valid: it runs without UsageError and leaves a consistent kernel.

    Why: so that each rejection below is caused by the single argument the
    case spoils (the base calls follow the C preconditions: vm_pvn.c L107,
    L249, L583-585, L393, L755, L1050, L1110, L1157-1211).
    """
    e = Env()
    args = base(e)
    routine(*args.values())
    check_kernel(e.k)


# ---------------------------------------------------------------------------
# pvn_read_kluster


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("misaligned_off", S(off=100)),
        case("negative_off", S(off=-4096)),
        case("vp_len_zero", S(vp_len=0)),
        case("vp_len_negative", S(vp_len=-4096)),
        case("negative_vp_off", S(vp_off=-4096)),
        case("off_below_window", S(off=0, vp_off=4096, vp_len=8192)),
        case("off_at_window_end", S(off=16384)),
        case("off_beyond_window", S(off=65536)),
        case("negative_addr", S(addr=-1)),
        case("isra_none", S(isra=None)),
        case("isra_a_string", S(isra="1")),
        case("isra_a_float", S(isra=1.0)),
        case("isra_beyond_int", S(isra=1 << 31)),
        case("seg_of_other_kernel", lambda e, a: a.update(seg=SegMap(e.k2, "s9"))),
        case("seg_not_a_seg", S(seg="s1")),
        case("vnode_of_other_kernel_than_seg", lambda e, a: a.update(vp=e.w)),
        case("vp_not_a_vnode", S(vp=None)),
    ],
)
def test_read_kluster_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_read_kluster rejects a bad offset, window or segment before creating any page.

    Why: ASSERT(off >= vp_off && off < vp_off + vp_len) (vm_pvn.c L107)
    also requires vp_len > 0; offsets are page aligned u_offset_t; the
    segment must be one of the vnode's kernel (SEGOP_KLUSTER L142-184).
    """
    assert_rejected(pvn_read_kluster, base_read_kluster, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_write_kluster


def _set_pp(**state: Any) -> Spoil:
    def spoil(e: Env, a: Args) -> None:
        st = dict(state)
        vp = st.pop("vp", None)
        a["pp"] = e.page(8192, vp=vp(e) if vp else None, **st)

    return spoil


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("unknown_flag_bits", S(flags=UNKNOWN)),
        case("flag_b_read", S(flags=B_READ)),
        case("flag_b_error", S(flags=B_ERROR)),
        case("negative_flags", S(flags=-1)),
        case("negative_vp_off", S(vp_off=-4096)),
        case("page_of_other_vnode", _set_pp(vp=lambda e: e.vp2, nrm=P_MOD, lock="S", io="me")),
        case("page_of_other_kernel", _set_pp(vp=lambda e: e.w, nrm=P_MOD, lock="S", io="me")),
        case("marker_page", lambda e, a: a.update(pp=e.marker()), consistent=False),
        # An i/o lock without the page lock is a state illumos never
        # reaches (check_kernel reports it), so it is not checked before.
        case("page_not_locked", _set_pp(nrm=P_MOD, io="me"), consistent=False),
        case("page_not_io_locked", _set_pp(nrm=P_MOD, lock="S")),
        case("b_inval_needs_excl", S(flags=B_INVAL)),
        case("cached_page", _set_pp(cached=True)),
        case(
            "page_already_on_a_list",
            lambda e, a: e.ring(a["pp"], e.page(12288, nrm=P_MOD, lock="S", io="me")),
        ),
        case("pp_not_a_page", S(pp=None)),
        case("vp_not_a_vnode", S(vp="v1")),
    ],
)
def test_write_kluster_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_write_kluster rejects bad flags and a page that is not the caller's locked, i/o-locked page of vp.

    Why: pp must have passed pvn_getdirty (locked, SE_EXCL for B_INVAL
    without B_FREE, io-locked, alone: vm_pvn.c L225-231, L262-279 page_add
    onto it), belong to vp (L249 reads its offset in vp), and flags are the
    ones of L567-570 ({B_ASYNC,B_INVAL,B_FREE,B_DONTNEED,B_DELWRI,B_TRUNC,
    B_FORCE}).
    """
    assert_rejected(pvn_write_kluster, base_write_kluster, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_getdirty


def _locked_free_page(e: Env, a: Args) -> None:
    pp = e.page(8192, cached=True)
    assert page_trylock(pp, SE_SHARED)
    a["pp"] = pp


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("unknown_flag_bits", S(flags=UNKNOWN)),
        case("flag_b_read", S(flags=B_READ)),
        case("flag_b_error", S(flags=B_ERROR)),
        case("marker_page", lambda e, a: a.update(pp=e.marker()), consistent=False),
        case("page_not_locked", _set_pp(nrm=P_MOD)),
        case("shared_page_with_b_inval", S(flags=B_INVAL)),
        case("shared_page_with_b_free", S(flags=B_FREE)),
        case("excl_page_without_inval_or_free", _set_pp(nrm=P_MOD, lock="X")),
        case("free_page", _locked_free_page, consistent=False),
        case("pp_not_a_page", S(pp=None)),
    ],
)
def test_getdirty_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_getdirty rejects bad flags, a page in the wrong lock mode, a free page, a marker.

    Why: ASSERT((flags & (B_INVAL|B_FREE)) ? PAGE_EXCL(pp) : PAGE_SHARED(pp))
    and ASSERT(PP_ISFREE(pp) == 0) (vm_pvn.c L583-585); flags from L567-570.
    """
    assert_rejected(pvn_getdirty, base_getdirty, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_io_done, pvn_read_done, pvn_write_done


def _bad_second(**state: Any) -> Spoil:
    """Replace the list by [good page, bad page]: the good head must not be touched either."""

    def spoil(e: Env, a: Args) -> None:
        lock = "X" if a["plist"].p_selock < 0 else "S"
        st = dict(state)
        vp = st.pop("vp", None)
        good = e.page(16384, nrm=P_REF, lock=lock, io="me")
        bad = e.page(20480, vp=vp(e) if vp else None, nrm=P_REF, **st)
        a["plist"] = e.ring(good, bad)

    return spoil


def _marker_in_list(e: Env, a: Args) -> None:
    lock = "X" if a["plist"].p_selock < 0 else "S"
    a["plist"] = e.ring(e.page(16384, nrm=P_REF, lock=lock, io="me"), e.marker())


LIST_CASES = [
    case("not_a_page", S(plist=5)),
    case("second_page_not_locked", _bad_second(io="me"), consistent=False),
    case("second_page_not_io_locked", _bad_second(lock="S"), consistent=False),
    case("second_page_of_other_kernel", _bad_second(vp=lambda e: e.w, lock="S", io="me")),
    case("marker_in_list", _marker_in_list, consistent=False),
    case("marker_as_list", lambda e, a: a.update(plist=e.marker()), consistent=False),
]


def _shared_second(flags: int) -> Spoil:
    """A list whose first page is SE_EXCL and second SE_SHARED, with ``flags``:
    the port would destroy the first before page_destroy's ASSERT(PAGE_EXCL)
    stopped it at the second."""

    def spoil(e: Env, a: Args) -> None:
        a["plist"] = e.ring(
            e.page(0x10000, nrm=P_REF, lock="X", io="me"),
            e.page(0x11000, nrm=P_REF, lock="S", io="me"),
        )
        a["flags"] = flags

    return spoil


@pytest.mark.parametrize(("spoil", "consistent"), LIST_CASES)
def test_io_done_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_io_done rejects a list holding a page that is not locked and i/o-locked, a foreign page or a marker.

    Why: every page is page_sub'ed, page_io_unlock'ed and page_unlock'ed
    (vm_pvn.c L309-314): page_sub ASSERTs EXCL or (SHARED and io-locked) and
    page_unlock panics on an unlocked page (semantics.md §4.1-4.2).
    """
    assert_rejected(pvn_io_done, base_io_done, spoil, consistent)


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("unknown_flag_bits", S(flags=UNKNOWN)),
        case("b_error_with_a_shared_page", _shared_second(B_ERROR)),
        *LIST_CASES,
    ],
)
def test_read_done_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_read_done rejects unknown flag bits and the same bad lists as pvn_io_done.

    Why: each page is page_sub'ed and io-unlocked, then destroyed or
    released (vm_pvn.c L327-337), which needs it locked and io-locked
    (semantics.md §4.1, §4.5); flags are b_flags bits (sys/buf.h).
    """
    assert_rejected(pvn_read_done, base_read_done, spoil, consistent)


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("flag_b_read", S(flags=B_READ)),
        case("flag_b_read_with_b_write", S(flags=B_READ | B_WRITE)),
        case("unknown_flag_bits", S(flags=UNKNOWN | B_WRITE)),
        case("b_inval_with_a_shared_page", _shared_second(B_WRITE | B_INVAL)),
        case(
            "b_error_b_inval_b_force_with_a_shared_page",
            _shared_second(B_ERROR | B_WRITE | B_INVAL | B_FORCE),
        ),
        *LIST_CASES,
    ],
)
def test_write_done_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_write_done rejects B_READ, unknown flag bits and lists of pages not locked and i/o-locked.

    Why: ASSERT((flags & B_READ) == 0) (vm_pvn.c L378) and
    ASSERT(PAGE_LOCKED(pp) && page_iolock_assert(pp)) for each page (L393).
    """
    assert_rejected(pvn_write_done, base_write_done, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty, pvn_vplist_setdirty


def _vchr(with_pages: bool) -> Spoil:
    def spoil(e: Env, a: Args) -> None:
        if with_pages:
            e.page(0, vp=e.chr, nrm=P_MOD | P_REF)
        a["vp"] = e.chr

    return spoil


def _no_marker_cache(e: Env, a: Args) -> None:
    e.k.marker_cache = None


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("vchr_vnode_with_pages", _vchr(True)),
        case("vchr_vnode_without_pages", _vchr(False)),
        case("negative_off", S(off=-4096)),
        case("unknown_flag_bits", S(flags=UNKNOWN)),
        case("flag_b_read", S(flags=B_READ)),
        case("flag_b_error", S(flags=B_ERROR)),
        case("putapage_none", S(putapage=None)),
        case("putapage_not_callable", S(putapage="ufs_putapage")),
        case("vp_not_a_vnode", S(vp=None)),
        case("pvn_init_not_run", _no_marker_cache),
    ],
)
def test_vplist_dirty_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_vplist_dirty rejects a VCHR vnode, an offset no u_offset_t holds, bad flags and a non-callable putapage.

    Why: ASSERT(vp->v_type != VCHR) comes first (vm_pvn.c L755, before the
    v_pages test of L757); flags are {B_ASYNC, B_INVAL, B_FREE, B_DONTNEED,
    B_TRUNC} and fs extras (L715); putapage is called at L964; the markers
    come from marker_cache created by pvn_init (L788-791, L702).
    """
    assert_rejected(pvn_vplist_dirty, base_vplist_dirty, spoil, consistent)


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("page_check_none", S(page_check=None)),
        case("page_check_not_callable", S(page_check=1)),
        case("vp_not_a_vnode", S(vp=None)),
        case("vp_a_name", S(vp="v1")),
    ],
)
def test_vplist_setdirty_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_vplist_setdirty rejects a non-callable page_check and a non-vnode.

    Why: page_check(pp) is called for each page under vphm (vm_pvn.c
    L1016); vp->v_pages is dereferenced (L1005).
    """
    assert_rejected(pvn_vplist_setdirty, base_vplist_setdirty, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_vpzero


def _vnode_with_page(attr: str) -> Spoil:
    def spoil(e: Env, a: Args) -> None:
        vp = getattr(e, attr)
        e.page(4096, vp=vp, nrm=P_REF)
        a["vp"] = vp

    return spoil


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("vchr_vnode_with_pages", _vchr(True)),
        case("vchr_vnode_without_pages", _vchr(False)),
        case("negative_vplen", S(vplen=-1)),
        case("negative_zbytes", S(zbytes=-1)),
        case("vnode_without_getpage", _vnode_with_page("no_getpage")),
        case("vnode_without_putpage", _vnode_with_page("no_putpage")),
        case("vnode_without_ops", _vnode_with_page("bare")),
        case("vp_not_a_vnode", S(vp=None)),
    ],
)
def test_vpzero_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_vpzero rejects a VCHR vnode, negative sizes and a vnode it cannot fault in or push.

    Why: ASSERT(vp->v_type != VCHR) precedes the v_pages test (vm_pvn.c
    L1050-1052); vplen is a u_offset_t and zbytes a size_t; the segmap window
    calls VOP_GETPAGE and VOP_PUTPAGE (L1078-1082, semantics.md §4.8).
    """
    assert_rejected(pvn_vpzero, base_vpzero, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_getpages, pvn_plist_init


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("getpage_none", S(getpage=None)),
        case("getpage_not_callable", S(getpage=0)),
        case("len_zero", S(len=0)),
        case("range_reaches_the_last_page", S(off=(1 << 64) - 8192, len=8192, plsz=8192)),
        case("len_negative", S(len=-4096)),
        case("plsz_smaller_than_len", S(plsz=4096)),
        case("plsz_negative", S(plsz=-1)),
        case("pl_too_short", S(pl=[None, None])),
        case("pl_not_a_list", S(pl=(None, None, None))),
        case("negative_addr", S(addr=-4096)),
        case("rw_not_a_seg_rw", S(rw=99)),
        case("vp_not_a_vnode", S(vp=None)),
    ],
)
def test_getpages_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_getpages rejects a bad getpage, offset, length, page array or rw before calling getpage.

    Why: ASSERT(pl == NULL || plsz >= len) (vm_pvn.c L1110); the loop of
    L1126 needs len > 0 to call getpage at all and page-aligned offsets;
    getpage fills pl one slot at a time (L1135-1148); rw is an enum seg_rw.
    """
    assert_rejected(pvn_getpages, base_getpages, spoil, consistent)


def _ring_of(**state: Any) -> Spoil:
    def spoil(e: Env, a: Args) -> None:
        st = dict(state)
        vp = st.pop("vp", None)
        head = e.page(16384, nrm=P_REF, lock="X", io="me")
        other = e.page(20480, vp=vp(e) if vp else None, nrm=P_REF, **st)
        a.update(pp=e.ring(head, other), off=16384)

    return spoil


def _plist_with_marker(e: Env, a: Args) -> None:
    a.update(pp=e.ring(e.page(16384, nrm=P_REF, lock="X", io="me"), e.marker()), off=16384)


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("pl_not_a_list", S(pl=(None, None, None))),
        case("pl_too_short", S(pl=[None, None])),
        case("pl_too_short_for_plsz_0", S(plsz=0, pl=[None])),
        case("off_beyond_u_offset_t", S(off=1 << 64)),
        case("negative_plsz", S(plsz=-1)),
        case("negative_io_len", S(io_len=-1)),
        case("rw_not_a_seg_rw", S(rw=99)),
        case("pages_shared_not_excl", _ring_of(lock="S", io="me")),
        case("page_not_io_locked", _ring_of(lock="X"), consistent=False),
        case("page_not_locked", _ring_of(io="me"), consistent=False),
        case("page_of_other_kernel", _ring_of(vp=lambda e: e.w, lock="X", io="me")),
        case("marker_in_list", _plist_with_marker, consistent=False),
        case("pp_not_a_page", S(pp="v1@0x1000")),
        case("empty_list_and_empty_pl", S(pp=None, pl=[])),
    ],
)
def test_plist_init_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_plist_init rejects a page array too short for what it will write and a list not from a read kluster.

    Why: every page is taken off the list and i/o-unlocked (vm_pvn.c
    L1168-1209: page_sub, page_io_unlock), so each is locked and i/o-locked;
    the ones stored in pl are downgraded (L1196, page_downgrade ASSERTs
    EXCL); the do-while of L1190-1199 writes at least pl[0] and a NULL after
    the last page it stores (so plsz 0 still needs two slots).
    """
    assert_rejected(pvn_plist_init, base_plist_init, spoil, consistent)


# ---------------------------------------------------------------------------
# pvn_init


@pytest.mark.parametrize(
    ("spoil", "consistent"),
    [
        case("none", S(k=None)),
        case("a_vnode", lambda e, a: a.update(k=e.vp)),
        case("a_name", S(k="kernel")),
    ],
)
def test_pvn_init_bad_input(spoil: Spoil, consistent: bool) -> None:
    """pvn_init rejects anything but a Kernel.

    Why: pvnsim's pvn_init takes the kernel whose globals it sets (the C
    sets pvn_vmodsort_supported and marker_cache, vm_pvn.c L697-705).
    """
    assert_rejected(pvn_init, base_init, spoil, consistent)
