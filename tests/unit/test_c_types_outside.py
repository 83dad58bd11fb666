"""C integer semantics and contracts found at the edges by an outside check.

Each expected value is worked out from the C: vm_pvn.c, vm_page.c's
page_create_va, seg_map.c's segmap_getmapflt, and the C types of the
vm_pvn.c globals (pgcnt_t pages_before_pager, int write_free, ...).
"""

from __future__ import annotations

from typing import Any

import pytest

import pvnsim.vm as vm
from pvnsim import (
    Kernel,
    UsageError,
    VnodeOps,
    check_kernel,
    make_page,
    pvn_getpages,
    pvn_io_done,
    pvn_vpzero,
    pvn_write_done,
    snapshot,
)
from pvnsim.flags import B_WRITE, PG_EXCL, S_READ, SE_SHARED

TOP = 1 << 64
PAGE = 4096


def roomy(total: int = 64, **tunables: Any) -> Kernel:
    return Kernel(
        total_pages=total,
        **{
            "lotsfree": 0,
            "desfree": 0,
            "minfree": 0,
            "throttlefree": 0,
            "pageout_reserve": 0,
            "pages_before_pager": 0,
            **tunables,
        },
    )


@pytest.mark.parametrize(
    ("name", "value", "ctype"),
    [
        ("pages_before_pager", TOP, "pgcnt_t"),
        ("pages_before_pager", -1, "pgcnt_t"),
        ("lotsfree", TOP, "pgcnt_t"),
        ("write_free", 1 << 31, "int"),
        ("pvn_nofodklust", -(1 << 31) - 1, "int"),
        ("pvn_write_noklust", 1 << 32, "int"),
        ("pvn_vmodsort_disable", -1, "uint_t"),
        ("hat_vmodsort", 1 << 40, "int"),
    ],
)
def test_a_global_its_c_type_cannot_hold_is_refused(name: str, value: int, ctype: str) -> None:
    """The Kernel's globals are C variables: a value outside the type is a
    usage error naming the global and the type (a domain check)."""
    with pytest.raises(UsageError, match=rf"{name}.*{ctype}|{name} must not be negative"):
        roomy(**{name: value})


def test_write_done_pager_threshold_is_a_wrapping_pgcnt_t_sum() -> None:
    """L383 adds lotsfree and pages_before_pager as pgcnt_t: 32 + (2^64 - 1)
    wraps to 31, and freemem (well above) is not below it, so a clean,
    unmapped page is not turned into a B_FREE write: pvn_write_done asks
    hat_page_is_mapped (L442), which a B_FREE write skips, and then frees the
    unreferenced page all the same (dfree 1)."""
    k = roomy(lotsfree=32, pages_before_pager=TOP - 1)
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="S", io="me")
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    names = [e.name for e in t if e.depth == 1]
    assert "hat_page_is_mapped" in names
    assert k.vm.dfree == 1 and k.vm.pgrec == 0
    check_kernel(k)


def test_page_create_va_offsets_wrap_past_the_top() -> None:
    """page_create_va steps its u_offset_t by PAGESIZE: two pages from
    2^64 - 4K are that page and the page at offset 0 (never 2^64)."""
    k = roomy()
    vp = k.vnode("f")
    plist = vm.page_create_va(vp, TOP - PAGE, 2 * PAGE, PG_EXCL, None, 0)
    assert plist is not None
    assert [pp.p_offset for pp in vm.ring(plist)] == [TOP - PAGE, 0]
    pvn_io_done(plist)
    check_kernel(k)


def test_page_hashin_refuses_a_page_that_has_an_identity() -> None:
    """page_do_hashin overwrites the identity: a hashed page would stay in
    its old hash chain too, so the boundary refuses it and nothing changes."""
    k = roomy()
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="X")
    before = snapshot(k)
    with pytest.raises(UsageError, match=r"page_hashin: page f@0x0 already has an identity"):
        vm.page_hashin(pp, vp, PAGE)
    assert snapshot(k) == before


@pytest.mark.parametrize("lock", [None, "S"])
def test_page_hashout_refuses_a_page_not_held_exclusively(lock: str | None) -> None:
    """Only the exclusive holder may take a page's identity away (a page left
    without identity, unlocked and not free would be lost)."""
    k = roomy()
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock=lock)
    before = snapshot(k)
    with pytest.raises(UsageError, match=r"page_hashout: page f@0x0 must be held SE_EXCL"):
        vm.page_hashout(pp)
    assert snapshot(k) == before


def _lookup_getpage(calls: list[int]) -> Any:
    def getpage(vp, off, length, protp, pl, plsz, seg, addr, rw, cred):  # type: ignore[no-untyped-def]
        calls.append(off)
        return 0

    return getpage


def test_getpages_accepts_an_unaligned_range_whose_loop_ends() -> None:
    """With off = 2^64 - 4K - 0x100 and len 0x101, the one step o + 4K =
    2^64 - 0x100 stays below 2^64 and is >= eoff: the C makes one call and
    stops, so the call is accepted.  One byte more of length (len 0x1101)
    needs a second step whose o + 4K passes 2^64 - 1: refused."""
    k = roomy()
    vp = k.vnode("f")
    calls: list[int] = []
    off = TOP - PAGE - 0x100
    assert (
        pvn_getpages(_lookup_getpage(calls), vp, off, 0x101, None, None, 0, None, 0, S_READ, None)
        == 0
    )
    assert calls == [off]
    before = snapshot(k)
    with pytest.raises(UsageError, match="last page step passes 2\\^64 - 1"):
        pvn_getpages(_lookup_getpage(calls), vp, off, 0x1101, None, None, 0, None, 0, S_READ, None)
    assert snapshot(k) == before and calls == [off]


def test_vpzero_with_a_zbytes_that_wraps_maps_one_window_without_panic() -> None:
    """zbytes = 2^64 - 2K at vplen 0x1000: L1076's sum wraps to 2K (no
    pvn_vptrunc panic) and segmap's test off + len > baseoff + MAXBSIZE
    compares 0x800 with 0x2000 (no "segmap_getmap bad len"): the window of
    block 0 is mapped (getpage of its pages from 0x1000 on), zeroed from
    0x1000 and pushed with an async putpage of the whole window."""
    k = roomy()
    got: list[int] = []
    pushed: list[tuple[int, int]] = []

    def getpage(vp, off, length, protp, pl, plsz, seg, addr, rw, cred):  # type: ignore[no-untyped-def]
        got.append(off)
        pl[0] = vm.page_lookup(vp, off, SE_SHARED)
        pl[1] = None
        return 0

    def putpage(vp: Any, off: int, length: int, flags: int, cr: Any) -> int:
        pushed.append((off, length))
        return 0

    vp = k.vnode("f", ops=VnodeOps(getpage=getpage, putpage=putpage))
    make_page(vp, 0x1000)
    pvn_vpzero(vp, 0x1000, TOP - 0x800)
    assert got == [0x1000]
    assert pushed == [(0, 8192)]
    check_kernel(k)


def test_segmap_getmapflt_panics_with_the_illumos_message_when_the_sum_wraps_over() -> None:
    """off = 2^64 - 0x1fff, len = 2^64 - 1: off + len wraps to 2^64 - 0x2000,
    baseoff + MAXBSIZE wraps to 0: seg_map.c panics "segmap_getmap bad len"."""
    from pvnsim import KernelPanic

    k = roomy()
    vp = k.vnode("f")
    with pytest.raises(KernelPanic, match=r"^segmap_getmap bad len$"):
        vm.segmap_getmapflt(k.segkmap, vp, TOP - 0x1FFF, TOP - 1, 0, S_READ)
